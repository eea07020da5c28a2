import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `GET /metrics`: off by default, loopback-only (or the admin token), and counters that move.
@Suite struct MetricsTests {
    /// The samples of a Prometheus text exposition, keyed by `name{labels}` as printed.
    static func parse(_ text: String) throws -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let cut = try #require(line.lastIndex(of: " "), "no value in \(line)")
            let value = line[line.index(after: cut)...]
            out[String(line[..<cut])] = value == "+Inf" ? .infinity : try #require(Double(value), "bad value in \(line)")
        }
        return out
    }

    static func settings(metrics: Bool = true, adminToken: String? = nil) -> APISettings {
        var s = APISettings()
        s.metrics = metrics
        s.adminToken = adminToken
        return s
    }

    /// `GET /metrics` in-process from `remote`.
    static func scrape(_ t: TestApp, from remote: String = "127.0.0.1:40000", bearer: String? = nil) throws -> TestResponse {
        var h: HTTPHeaders = ["Host": "h"]
        if let bearer { h[HTTPHeaderName("Authorization")] = "Bearer \(bearer)" }
        return TestResponse(response: try t.app.handler.handle(
            HTTPRequest(method: .GET, target: "/metrics", headers: h, remoteAddress: remote)))
    }

    @Test func offUnlessTurnedOn() throws {
        let t = try TestApp.make()
        let r = try Self.scrape(t)
        let unknown = try t.call(.GET, "/no/such/path")
        #expect(r.status == 404 && r.json["code"] == unknown.json["code"])
    }

    @Test func loopbackOnlyWithoutAnAdminToken() throws {
        let t = try TestApp.make(settings: Self.settings())
        for remote in ["127.0.0.1:5000", "127.3.4.5:1", "[::1]:80", "[::ffff:127.0.0.1]:9"] {
            #expect(try Self.scrape(t, from: remote).status == 200, "\(remote)")
        }
        for remote in ["10.0.0.2:5000", "192.168.1.7:80", "[fe80::1]:80", "[2001:db8::1]:1", "", "1270.0.0.1:1"] {
            let r = try Self.scrape(t, from: remote)
            #expect(r.status == 403, "\(remote)")
            #expect(!r.text.contains("lightly_"))
        }
    }

    @Test func theAdminTokenOpensItFromAnywhereAndIsThenRequired() throws {
        let t = try TestApp.make(settings: Self.settings(adminToken: testAdminToken))
        #expect(try Self.scrape(t, from: "127.0.0.1:1").status == 401)
        #expect(try Self.scrape(t, from: "10.0.0.2:1", bearer: "not-the-admin-token").status == 401)
        let ok = try Self.scrape(t, from: "10.0.0.2:1", bearer: testAdminToken)
        #expect(ok.status == 200)
        #expect(ok.response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
    }

    @Test func requestCountersAndLatencyMoveThroughTheRealServer() async throws {
        let t = try TestApp.make(settings: Self.settings())
        let server = try liveServer(t)
        defer { server.shutdown(timeout: .seconds(2)) }
        t.app.metrics.countConnections { server.openConnections }
        let base = "http://127.0.0.1:\(server.port)"
        func get(_ target: String) async throws -> (Int, String) {
            let (data, resp) = try await URLSession.shared.data(from: try #require(URL(string: base + target)))
            return ((resp as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
        }
        /// Scrapes until `check` holds (a request is counted once its response is sent).
        func metrics(until check: ([String: Double]) -> Bool) async throws -> [String: Double] {
            var m: [String: Double] = [:]
            for _ in 0..<100 {
                let (status, text) = try await get("/metrics")
                #expect(status == 200)
                m = try Self.parse(text)
                if check(m) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            return m
        }
        let health = #"lightly_http_requests_total{route="/health",method="GET",status="200"}"#
        let unmatched = #"lightly_http_requests_total{route="unmatched",method="GET",status="404"}"#
        _ = try await get("/health")
        _ = try await get("/health")
        _ = try await get("/nothing/here")
        let first = try await metrics { $0[health] == 2 && $0[unmatched] == 1 }
        #expect(first[health] == 2)
        #expect(first[unmatched] == 1)
        _ = try await get("/health")
        let second = try await metrics { $0[health] == 3 }
        #expect(second[health] == 3)
        #expect((second[#"lightly_http_requests_total{route="/metrics",method="GET",status="200"}"#] ?? 0) >= 1)

        // The latency histogram of /health: cumulative buckets ending at the count.
        let buckets = Metrics.latencyBuckets.map { second[#"lightly_http_request_duration_seconds_bucket{route="/health",le="\#(Metrics.number($0))"}"#] ?? -1 }
        #expect(buckets == buckets.sorted() && !buckets.contains(-1))
        #expect(second[#"lightly_http_request_duration_seconds_bucket{route="/health",le="+Inf"}"#] == 3)
        #expect(second[#"lightly_http_request_duration_seconds_count{route="/health"}"#] == 3)
        #expect((second[#"lightly_http_request_duration_seconds_sum{route="/health"}"#] ?? -1) >= 0)
        // Our own scrape holds a connection; the database exists.
        #expect((second["lightly_http_open_connections"] ?? 0) >= 1)
        #expect((second["lightly_database_bytes"] ?? 0) > 0)
        #expect(second["lightly_blob_bytes"] == 0)
    }

    @Test func jobsDurationsAndBlobBytes() throws {
        let n = 12, d = 3
        let t = try TestApp.make(settings: Self.settings())
        t.app.start()
        defer { t.app.stop() }
        let token = try t.makeUser("alice")
        let ds = try #require(try t.call(.POST, "/v1/datasets", token: token, json: #"{"name": "ds"}"#).json["id"]?.stringValue)
        for i in 0..<n {
            try t.call(.POST, "/v1/datasets/\(ds)/samples", token: token, json: #"{"fileName": "\#(JobsFixture.name(i))", "metaData": {}}"#)
        }
        try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: token, json: #"{"imgType": "meta"}"#)
        let pts = testPoints(n: n, d: d)
        let csv = embeddingCSV((0..<n).map { (JobsFixture.name($0), Array(pts[($0 * d)..<($0 * d + d)])) })
        let w = try t.call(.GET, "/v1/datasets/\(ds)/embeddings/writeCSVUrl?name=emb", token: token).decode(WriteCSVUrlData.self)
        #expect(try t.call(.PUT, JobsHTTPFixture.target(of: w.signedWriteUrl), body: .bytes(Data(csv.utf8))).status == 200)

        let before = try Self.parse(try Self.scrape(t).text)
        #expect(before["lightly_blob_bytes"] == Double(csv.utf8.count))
        #expect(before[#"lightly_jobs{type="SAMPLING",state="FINISHED"}"#] == nil)

        let job = try t.call(.POST, "/v1/datasets/\(ds)/embeddings/\(w.embeddingId)/sampling", token: token,
                             json: #"{"newTagName": "pick", "method": "CORESET", "config": {"stoppingCondition": {"nSamples": 4}}}"#)
        let jobId = try #require(job.json["jobId"]?.stringValue, "\(job.text)")
        var after: [String: Double] = [:]
        for _ in 0..<1000 {
            after = try Self.parse(try Self.scrape(t).text)
            // The job counts come from the store before the histograms are rendered: a job that
            // ends in between shows in the histogram only, until the next scrape.
            if after[#"lightly_job_duration_seconds_count{type="SAMPLING",state="FINISHED"}"#] == 1,
               after[#"lightly_jobs{type="SAMPLING",state="FINISHED"}"#] == 1 { break }
            usleep(5_000)
        }
        #expect(try t.call(.GET, "/v1/jobs/\(jobId)", token: token).json["status"]?.stringValue == "FINISHED")
        #expect(after[#"lightly_jobs{type="SAMPLING",state="FINISHED"}"#] == 1)
        #expect(after[#"lightly_job_duration_seconds_count{type="SAMPLING",state="FINISHED"}"#] == 1)
        #expect(after[#"lightly_job_duration_seconds_bucket{type="SAMPLING",state="FINISHED",le="+Inf"}"#] == 1)
    }

    @Test func labelValuesAreEscaped() {
        #expect(Metrics.escape(#"a"b\c"# + "\n") == #"a\"b\\c\n"#)
        let m = Metrics()
        m.recordRequest(route: nil, method: "BREW", status: 999, seconds: 0.002)
        let text = m.render(jobs: [], databaseBytes: 1, blobBytes: 2)
        #expect(text.contains(#"lightly_http_requests_total{route="unmatched",method="OTHER",status="0"} 1"#))
    }
}
