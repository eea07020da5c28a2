#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import HTTPKit
import LightlyStorage
import Synchronization

/// Counters and histograms for `GET /metrics` (Prometheus text format 0.0.4). Label values are
/// bounded: route patterns come from the router (`unmatched` otherwise), methods from a fixed
/// set (`OTHER` otherwise), statuses are three digits, job types and states are enums.
public final class Metrics: Sendable {
    /// Upper bounds of the request latency buckets, seconds.
    static let latencyBuckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    /// Upper bounds of the job duration buckets, seconds.
    static let jobBuckets: [Double] = [0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    struct Histogram {
        var buckets: [Int]
        var sum = 0.0
        var count = 0
        init(_ bounds: [Double]) { buckets = Array(repeating: 0, count: bounds.count) }
        mutating func observe(_ value: Double, bounds: [Double]) {
            if let i = bounds.firstIndex(where: { value <= $0 }) { buckets[i] += 1 }
            sum += value
            count += 1
        }
    }
    struct RequestKey: Hashable, Comparable {
        var route: String, method: String, status: Int
        static func < (a: Self, b: Self) -> Bool { (a.route, a.method, a.status) < (b.route, b.method, b.status) }
    }
    struct JobKey: Hashable, Comparable {
        var type: String, state: String
        static func < (a: Self, b: Self) -> Bool { (a.type, a.state) < (b.type, b.state) }
    }
    private struct State {
        var requests: [RequestKey: Int] = [:]
        var latency: [String: Histogram] = [:]
        var jobDurations: [JobKey: Histogram] = [:]
    }
    private let state = Mutex(State())
    private let connections = Mutex<(@Sendable () -> Int)?>(nil)

    public init() {}

    /// Where the number of open HTTP connections comes from (the HTTP server, set by `serve`).
    public func countConnections(with source: @escaping @Sendable () -> Int) {
        connections.withLock { $0 = source }
    }

    /// Counts one answered request.
    func recordRequest(route: String?, method: String, status: Int, seconds: Double) {
        let key = RequestKey(route: route ?? "unmatched", method: Self.knownMethods.contains(method) ? method : "OTHER",
                             status: (100...599).contains(status) ? status : 0)
        state.withLock { s in
            s.requests[key, default: 0] += 1
            s.latency[key.route, default: Histogram(Self.latencyBuckets)].observe(seconds, bounds: Self.latencyBuckets)
        }
    }

    /// Counts one job that ran to an end (`state` FINISHED or FAILED) after `seconds` of running.
    public func recordJob(type: String, state jobState: String, seconds: Double) {
        state.withLock { s in
            s.jobDurations[JobKey(type: type, state: jobState), default: Histogram(Self.jobBuckets)]
                .observe(seconds, bounds: Self.jobBuckets)
        }
    }

    /// The exposition text. `jobs`, `databaseBytes` and `blobBytes` are read by the caller from
    /// the store at scrape time.
    func render(jobs: [(type: String, state: String, count: Int)], databaseBytes: Int, blobBytes: Int) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func line(_ name: String, _ labels: [(String, String)], _ value: String) {
            out += name
            if !labels.isEmpty {
                out += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            out += " \(value)\n"
        }
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func histogram(_ name: String, _ labels: [(String, String)], _ h: Histogram, _ bounds: [Double]) {
            var cumulative = 0
            for (i, le) in bounds.enumerated() {
                cumulative += h.buckets[i]
                line(name + "_bucket", labels + [("le", Self.number(le))], String(cumulative))
            }
            line(name + "_bucket", labels + [("le", "+Inf")], String(h.count))
            line(name + "_sum", labels, Self.number(h.sum))
            line(name + "_count", labels, String(h.count))
        }

        header("lightly_http_requests_total", "counter", "HTTP requests answered, by route pattern, method and status.")
        for k in s.requests.keys.sorted() {
            line("lightly_http_requests_total", [("route", k.route), ("method", k.method), ("status", String(k.status))],
                 String(s.requests[k] ?? 0))
        }
        header("lightly_http_request_duration_seconds", "histogram",
               "From the complete request head to the last byte of the response, by route pattern.")
        for route in s.latency.keys.sorted() {
            if let h = s.latency[route] { histogram("lightly_http_request_duration_seconds", [("route", route)], h, Self.latencyBuckets) }
        }
        header("lightly_http_open_connections", "gauge", "HTTP connections open now.")
        line("lightly_http_open_connections", [], String(connections.withLock { $0 }?() ?? 0))
        header("lightly_jobs", "gauge", "Jobs in the store, by type and state.")
        for j in jobs { line("lightly_jobs", [("type", j.type), ("state", j.state)], String(j.count)) }
        header("lightly_job_duration_seconds", "histogram",
               "Running time of jobs that ended since the server started, by type and final state.")
        for k in s.jobDurations.keys.sorted() {
            if let h = s.jobDurations[k] {
                histogram("lightly_job_duration_seconds", [("type", k.type), ("state", k.state)], h, Self.jobBuckets)
            }
        }
        header("lightly_database_bytes", "gauge", "Size of the SQLite database files (with its write-ahead log).")
        line("lightly_database_bytes", [], String(databaseBytes))
        header("lightly_blob_bytes", "gauge", "Bytes of stored images, thumbnails and embedding CSVs.")
        line("lightly_blob_bytes", [], String(blobBytes))
        return out
    }

    /// A label value with `\`, `"` and newlines escaped.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A sample value or bound: integers without a fraction, otherwise Swift's shortest form.
    static func number(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}

extension LightlyApplication {
    /// `GET /metrics`, served only with `settings.metrics` (an unknown path otherwise).
    ///
    /// Who may read it: without an admin token, clients on the loopback interface only (a
    /// Prometheus or agent on the same host or in the same network namespace); with an admin
    /// token, any client that sends it as `Authorization: Bearer`. The numbers carry no ids or
    /// secrets, but they tell an outsider how the server is used, so the default is closed.
    func registerMetricsRoutes(_ r: inout Router) {
        r.get("/metrics", auth: .none) { ctx in
            let app = ctx.app
            guard app.settings.metrics else {
                throw APIError.notFound(.notFound, "no route for \(ctx.request.method) \(ctx.request.rawPath)")
            }
            if app.settings.adminToken != nil {
                try app.authenticateAdmin(ctx.request)
            } else if !Self.isLoopback(ctx.request.remoteAddress) {
                throw APIError.forbidden("metrics are served to loopback clients only (or with the admin token)")
            }
            let (jobs, blobBytes) = try app.database.read { conn in
                (try MetricsStore.jobCounts(conn), try MetricsStore.blobBytes(conn))
            }
            let text = app.metrics.render(jobs: jobs, databaseBytes: Int(app.database.sizeInBytes() ?? 0),
                                          blobBytes: blobBytes)
            return HTTPResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Data(text.utf8))
        }
    }

    /// Feeds the durations of finished and failed jobs into `metrics`.
    func countJobs(in metrics: Metrics) {
        jobs.runner.onJobEnded { job, state, seconds in
            metrics.recordJob(type: job.type.rawValue, state: state.rawValue, seconds: seconds)
        }
    }

    /// Whether `address` (`host:port`, as HTTPKit reports the peer) is on the loopback interface.
    static func isLoopback(_ address: String) -> Bool {
        var host = address
        if host.hasPrefix("[") { host = String(host.dropFirst().prefix { $0 != "]" }) }
        else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon { host = String(host[..<colon]) }
        if host.hasPrefix("::ffff:") { host = String(host.dropFirst(7)) }
        return host.hasPrefix("127.") || host == "::1"
    }

    /// Bytes of the database file and its `-wal` and `-shm` companions.
    static func databaseBytes(_ path: String) -> Int {
        [path, path + "-wal", path + "-shm"].reduce(0) { total, p in
            var st = stat()
            return stat(p, &st) == 0 ? total + Int(st.st_size) : total
        }
    }
}
