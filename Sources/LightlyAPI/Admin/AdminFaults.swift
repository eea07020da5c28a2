#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import HTTPKit
import LightlyCore
import LightlyWire
import Synchronization

// `PUT/GET/DELETE /_admin/faults` (docs/admin.md): make requests and jobs fail or slow down on
// purpose. Request rules are applied before routing (`LightlyApplication.route`), job rules by
// the job runner (`JobRunner.injectFaults`). Admin routes are never faulted.

/// One rule of `PUT /_admin/faults`.
public struct FaultRule: Sendable, Equatable {
    /// A request rule's path pattern, split into segments.
    enum Segment: Sendable, Equatable {
        /// `{name}` or `:name`: any one segment.
        case any
        /// `**`: any number of segments (also none).
        case anyDepth
        /// A segment glob: `*` matches any run of characters, `?` one character.
        case glob(String)
    }

    // Request rules.
    public var method: String?
    public var path: String?
    var segments: [Segment] = []
    public var status: Int?
    public var body: JSONValue?
    // Job rules.
    public var job: String?
    public var fail: String?
    // Both.
    public var delayMs: Int
    public var probability: Double
    /// How often the rule still fires; nil = always.
    public var times: Int?

    /// The rule as `GET /_admin/faults` lists it.
    var json: JSONValue {
        var m: [(String, JSONValue)] = []
        if let job {
            m.append(("job", .string(job)))
            if let fail { m.append(("fail", .string(fail))) }
        } else {
            if let method { m.append(("method", .string(method))) }
            m.append(("path", .string(path ?? "")))
            if let status { m.append(("status", .integer(Int64(status)))) }
            if let body { m.append(("body", body)) }
        }
        m.append(("delayMs", .integer(Int64(delayMs))))
        m.append(("probability", .double(probability)))
        m.append(("times", times.map { .integer(Int64($0)) } ?? .null))
        return jsonObject(m)
    }

    /// Whether a request rule's method and path match.
    func matches(method m: HTTPMethod, path: [String]) -> Bool {
        guard job == nil else { return false }
        if let method, method != m.rawValue { return false }
        return Self.match(segments[...], path[...])
    }

    static func match(_ pattern: ArraySlice<Segment>, _ path: ArraySlice<String>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        switch first {
        case .anyDepth:
            for skip in 0 ... path.count where match(pattern.dropFirst(), path.dropFirst(skip)) { return true }
            return false
        case .any:
            return !path.isEmpty && match(pattern.dropFirst(), path.dropFirst())
        case .glob(let g):
            guard let p = path.first, globMatch(Array(g.unicodeScalars)[...], Array(p.unicodeScalars)[...]) else { return false }
            return match(pattern.dropFirst(), path.dropFirst())
        }
    }

    static func globMatch(_ g: ArraySlice<Unicode.Scalar>, _ s: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let c = g.first else { return s.isEmpty }
        switch c {
        case "*":
            for skip in 0 ... s.count where globMatch(g.dropFirst(), s.dropFirst(skip)) { return true }
            return false
        case "?": return !s.isEmpty && globMatch(g.dropFirst(), s.dropFirst())
        default: return s.first == c && globMatch(g.dropFirst(), s.dropFirst())
        }
    }

    /// Splits a path pattern: `/v1/datasets/{datasetId}/tags`, `/signed/csv/**`, `/v1/*/tags`.
    static func segments(of path: String) -> [Segment] {
        path.split(separator: "/").map { s in
            if s == "**" { return .anyDepth }
            if (s.hasPrefix("{") && s.hasSuffix("}")) || s.hasPrefix(":") { return .any }
            return .glob(String(s))
        }
    }
}

/// What a job rule does to a job about to run.
public struct JobFaultAction: Sendable, Equatable {
    /// Milliseconds to wait (the job is RUNNING meanwhile) before running or failing it.
    public var delayMs: Int
    /// Fail the job with this message instead of running it.
    public var fail: String?
}

/// The fault rules and their seeded random source (SplitMix64: the same sequence on every
/// platform and run).
final class FaultInjector: Sendable {
    private struct State {
        var rules: [FaultRule] = []
        var seed: UInt64 = FaultInjector.defaultSeed
        var rng = SplitMix64(seed: FaultInjector.defaultSeed)
    }
    private let state = Mutex(State())
    /// Set while any rule exists, so a request without faults costs one atomic load.
    private let active = Atomic<Bool>(false)

    static let defaultSeed: UInt64 = 0x5EED
    static let maxRules = 100
    static let maxDelayMs = 60_000

    /// Replaces every rule and restarts the random source at `seed`.
    func replace(_ rules: [FaultRule], seed: UInt64) {
        state.withLock { s in
            s.rules = rules
            s.seed = seed
            s.rng = SplitMix64(seed: seed)
        }
        active.store(!rules.isEmpty, ordering: .relaxed)
    }

    /// `{"seed": …, "rules": [...]}` with the remaining `times`.
    func list() -> JSONValue {
        state.withLock { s in
            jsonObject([("seed", .integer(Int64(bitPattern: s.seed))), ("rules", .array(s.rules.map(\.json)))])
        }
    }

    /// The first rule that matches and fires (its probability drawn, its `times` counted down,
    /// removed at 0), or nil.
    private func fire(where matches: (FaultRule) -> Bool) -> FaultRule? {
        guard active.load(ordering: .relaxed) else { return nil }
        return state.withLock { s -> FaultRule? in
            for i in s.rules.indices where matches(s.rules[i]) {
                if s.rules[i].probability < 1 {
                    let draw = Double(s.rng.next() >> 11) / Double(1 << 53)
                    guard draw < s.rules[i].probability else { continue }
                }
                let rule = s.rules[i]
                if let t = rule.times {
                    if t <= 1 { s.rules.remove(at: i) } else { s.rules[i].times = t - 1 }
                }
                active.store(!s.rules.isEmpty, ordering: .relaxed)
                return rule
            }
            return nil
        }
    }

    /// For a request about to be routed: the injected response (after the rule's delay), or
    /// nil to route it normally (also after a delay-only rule's delay).
    func response(for request: HTTPRequest) -> HTTPResponse? {
        let path = request.pathSegments
        guard path.first != LightlyApplication.adminPrefix,
              let rule = fire(where: { $0.matches(method: request.method, path: path) }) else { return nil }
        if rule.delayMs > 0 { usleep(UInt32(rule.delayMs) * 1000) }
        guard let status = rule.status else { return nil }
        let body: JSONValue = rule.body ?? (status >= 400
            ? jsonObject([("code", .string("INJECTED_FAULT")), ("message", .string("fault injected by the admin API"))])
            : .object([:]))
        var r = HTTPResponse(status: HTTPStatus(code: status, reasonPhrase: Self.reason(status)), contentType: "application/json",
                             body: Data(body.serializedBytes()))
        r.headers[HTTPHeaderName("X-Lightly-Fault")] = "injected"
        return r
    }

    /// For a job about to run: what to do to it, or nil.
    func jobAction(for type: JobResultType) -> JobFaultAction? {
        fire(where: { $0.job == type.rawValue }).map { JobFaultAction(delayMs: $0.delayMs, fail: $0.fail) }
    }

    static func reason(_ code: Int) -> String {
        switch code {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 409: "Conflict"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: code < 400 ? "OK" : code < 500 ? "Client Error" : "Server Error"
        }
    }
}

extension LightlyApplication {
    /// `PUT`, `GET`, `DELETE /_admin/faults`.
    func registerAdminFaultRoutes(_ r: inout Router) {
        r.admin(.PUT, "/_admin/faults") { ctx in
            let (rules, seed) = try Self.parseFaults(try ctx.adminDocument("faults document"))
            ctx.app.admin.faults.replace(rules, seed: seed)
            ctx.logger.notice("admin faults set", metadata: ["rules": "\(rules.count)"])
            return .json(ctx.app.admin.faults.list())
        }
        r.admin(.GET, "/_admin/faults") { ctx in
            .json(ctx.app.admin.faults.list())
        }
        r.admin(.DELETE, "/_admin/faults") { ctx in
            ctx.app.admin.faults.replace([], seed: FaultInjector.defaultSeed)
            return .json(ctx.app.admin.faults.list())
        }
    }

    /// Reads `{"seed": n, "rules": [...]}` (a bare array of rules is accepted too).
    /// - Throws: 400 naming the location of the first problem.
    static func parseFaults(_ root: JSONValue) throws -> ([FaultRule], UInt64) {
        var r = SeedReader(root, path: "", label: "faults document")
        var seed = FaultInjector.defaultSeed
        if case .array = root {
            r = SeedReader(jsonObject([("rules", root)]), path: "", label: "faults document")
        }
        try r.onlyKeys(["seed", "rules"])
        if let s = r["seed"] { seed = UInt64(try s.count()) }
        let items = try r["rules"]?.array() ?? []
        guard items.count <= FaultInjector.maxRules else { throw r.fail("at most \(FaultInjector.maxRules) rules") }
        let rules = try items.map { item -> FaultRule in
            try item.onlyKeys(["method", "path", "status", "body", "delayMs", "probability", "times", "job", "fail"])
            let delay = try item["delayMs"]?.count() ?? 0
            guard delay <= FaultInjector.maxDelayMs else { throw item["delayMs"]!.fail("at most \(FaultInjector.maxDelayMs)") }
            var probability = 1.0
            if let p = item["probability"] {
                guard let v = p.value.doubleValue, v >= 0, v <= 1 else { throw p.fail("expected a number from 0 to 1") }
                probability = v
            }
            var times: Int?
            if let t = item["times"], !t.value.isNull {
                times = try t.count()
                guard times ?? 0 >= 1 else { throw t.fail("expected an integer ≥ 1 (or null for always)") }
            }
            if let job = item["job"] {
                for k in ["method", "path", "status", "body"] where item[k] != nil {
                    throw item.fail("a job rule has job, fail, delayMs, probability and times; \(k) is for request rules")
                }
                let type = try job.string(maxLength: 64)
                let known = [JobResultType.sampling, .embeddings2D].map(\.rawValue)
                guard known.contains(type) else { throw job.fail("unknown job type \(type) (known: \(known.joined(separator: ", ")))") }
                let fail = try item["fail"]?.string(maxLength: 4096)
                guard fail != nil || delay > 0 else { throw item.fail("a job rule needs fail or delayMs") }
                return FaultRule(job: type, fail: fail, delayMs: delay, probability: probability, times: times)
            }
            guard item["fail"] == nil else { throw item.fail("fail is for job rules (with job)") }
            let pathReader = try item.require("path")
            let path = try pathReader.string(maxLength: 1024)
            guard path.hasPrefix("/") else { throw pathReader.fail("a path pattern starts with /") }
            var method: String?
            if let m = item["method"] {
                let v = try m.string(maxLength: 16).uppercased()
                guard ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].contains(v) else { throw m.fail("unknown method \(v)") }
                method = v
            }
            var status: Int?
            if let s = item["status"] {
                let v = try s.count()
                guard (200...599).contains(v) else { throw s.fail("expected a status from 200 to 599") }
                status = v
            }
            guard status != nil || delay > 0 else { throw item.fail("a request rule needs status or delayMs") }
            if item["body"] != nil, status == nil { throw item.fail("body needs a status") }
            return FaultRule(method: method, path: path, segments: FaultRule.segments(of: path), status: status,
                             body: item["body"]?.value, job: nil, fail: nil, delayMs: delay, probability: probability, times: times)
        }
        return (rules, seed)
    }
}
