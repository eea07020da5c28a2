import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Logging
import Testing

/// `t`'s application behind the real HTTPKit server on 127.0.0.1, port 0, configured as `serve`
/// does (Lightly error bodies, secrets redacted in logs and records). Shut it down after use.
func liveServer(_ t: TestApp) throws -> HTTPServer {
    var log = Logger(label: "live"); log.logLevel = .critical
    var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0, workerCount: 2)
    config.useLightlyResponses()
    config.redactedQueryParameters = LightlyApplication.secretParameters
    let server = HTTPServer(configuration: config, handler: t.app.handler, logger: log)
    try server.start()
    return server
}

/// The request journal behind `GET /_admin/requests`: the ring itself, and what the real HTTP
/// server records into it (route pattern, redacted path, status, bytes, request id).
@Suite struct RequestJournalTests {
    static func entry(_ n: Int) -> JournalEntry {
        JournalEntry(time: Int64(n), method: "GET", route: nil, path: "/\(n)", status: 200, milliseconds: 0, requestId: nil, bytes: 0)
    }

    @Test func ringKeepsTheNewestFirstAndDropsTheOldest() {
        let j = RequestJournal(capacity: 3)
        #expect(j.latest(10).isEmpty)
        j.append(Self.entry(1))
        j.append(Self.entry(2))
        #expect(j.latest(10).map(\.path) == ["/2", "/1"])
        for n in 3...7 { j.append(Self.entry(n)) }
        #expect(j.latest(10).map(\.path) == ["/7", "/6", "/5"])
        #expect(j.latest(2).map(\.path) == ["/7", "/6"])
        #expect(j.latest(0).isEmpty)
        j.removeAll()
        #expect(j.latest(10).isEmpty)
        j.append(Self.entry(8))
        #expect(j.latest(10).map(\.path) == ["/8"])
        #expect(RequestJournal(capacity: 0).capacity == 1)
    }

    /// Waits (bounded) until the journal holds `count` entries: a request is recorded just after
    /// its last byte is sent, so the client can see the answer a moment before.
    static func waitFor(_ j: RequestJournal, count: Int, newest route: String? = nil) async throws -> [JournalEntry] {
        for _ in 0..<200 {
            let e = j.latest(1000)
            if e.count >= count && (route == nil || e.first?.route == route) { return e }
            try await Task.sleep(for: .milliseconds(10))
        }
        return j.latest(1000)
    }

    @Test func theServerRecordsEveryRequestWithItsRouteAndNoSecrets() async throws {
        var settings = APISettings()
        settings.requestJournalSize = 4
        let t = try TestApp.make(settings: settings)
        let server = try liveServer(t)
        defer { server.shutdown(timeout: .seconds(2)) }
        let base = "http://127.0.0.1:\(server.port)"
        let token = try t.makeUser("alice")

        func get(_ target: String, method: String = "GET") async throws -> (Int, Data, String?) {
            var r = URLRequest(url: try #require(URL(string: base + target)))
            r.httpMethod = method
            let (data, resp) = try await URLSession.shared.data(for: r)
            let http = resp as? HTTPURLResponse
            return (http?.statusCode ?? 0, data, http?.value(forHTTPHeaderField: "X-Request-Id"))
        }
        let startedMs = Int64(Date().timeIntervalSince1970 * 1000)
        let (s1, b1, id1) = try await get("/health")
        let (s2, _, _) = try await get("/v1/datasets?token=\(token)")
        let (s3, _, _) = try await get("/v1/datasets/0123456789abcdef01234567?token=lt_notavalidtoken")
        let (s4, _, _) = try await get("/no/such/route")
        let (s5, _, _) = try await get("/_admin/requests")   // the admin API is not journalled
        let statuses: [Int] = [s1, s2, s3, s4, s5]
        #expect(statuses == [200, 200, 401, 404, 404])

        let entries = try await Self.waitFor(t.app.journal, count: 4)
        #expect(entries.count == 4)
        #expect(entries.map(\.status) == [404, 401, 200, 200])            // newest first
        #expect(entries.map(\.route) == [nil, "/v1/datasets/:datasetId", "/v1/datasets", "/health"])
        #expect(entries.map(\.method) == ["GET", "GET", "GET", "GET"])
        let health = entries[3]
        #expect(health.path == "/health")
        #expect(health.requestId == id1)
        #expect(health.bytes == b1.count)
        #expect(health.milliseconds >= 0 && health.milliseconds < 10_000)
        // The real clock, between the test's own readings before the first request and now
        // (bounded by them, not by a fixed window: a loaded machine can stall the test for minutes).
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(health.time >= startedMs - 1_000 && health.time <= nowMs + 1_000, "\(startedMs) \(health.time) \(nowMs)")
        #expect(entries.map(\.time) == entries.map(\.time).sorted(by: >))
        // No token reaches the journal, by name or by shape.
        for e in entries { #expect(!e.path.contains(token) && !e.path.contains("lt_")) }
        #expect(entries[2].path == "/v1/datasets?token=REDACTED")

        // A full ring drops the oldest.
        _ = try await get("/ping")
        // The ring is full already: wait for the /ping entry itself (it is recorded after the answer).
        let after = try await Self.waitFor(t.app.journal, count: 4, newest: "/ping")
        #expect(after.first?.route == "/ping")
        #expect(after.count == 4)
        #expect(!after.contains { $0.route == "/health" })
    }

    @Test func adminRouteAnswersNewestFirstBehindTheAdminToken() async throws {
        var settings = APISettings()
        settings.adminToken = testAdminToken
        settings.requestJournalSize = 50
        let t = try TestApp.make(settings: settings)
        let server = try liveServer(t)
        defer { server.shutdown(timeout: .seconds(2)) }
        let base = "http://127.0.0.1:\(server.port)"

        func get(_ target: String, bearer: String? = nil) async throws -> (Int, Data) {
            var r = URLRequest(url: try #require(URL(string: base + target)))
            if let bearer { r.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
            let (data, resp) = try await URLSession.shared.data(for: r)
            return ((resp as? HTTPURLResponse)?.statusCode ?? 0, data)
        }
        for _ in 0..<3 { _ = try await get("/health") }
        _ = try await get("/ping")
        _ = try await Self.waitFor(t.app.journal, count: 4)

        #expect(try await get("/_admin/requests").0 == 401)
        #expect(try await get("/_admin/requests", bearer: "wrong-admin-token").0 == 401)
        let (s1, all) = try await get("/_admin/requests", bearer: testAdminToken)
        #expect(s1 == 200)
        let entries = try JSONDecoder().decode([JournalEntry].self, from: all)
        #expect(entries.map(\.route) == ["/ping", "/health", "/health", "/health"])   // no /_admin calls
        let (_, two) = try await get("/_admin/requests?limit=2", bearer: testAdminToken)
        #expect(try JSONDecoder().decode([JournalEntry].self, from: two).map(\.route) == ["/ping", "/health"])
        let (_, capped) = try await get("/_admin/requests?limit=1000000", bearer: testAdminToken)
        #expect(try JSONDecoder().decode([JournalEntry].self, from: capped).count == 4)
        for bad in ["0", "-1", "abc", "1.5"] {
            let (status, body) = try await get("/_admin/requests?limit=\(bad)", bearer: testAdminToken)
            #expect(status == 400, "limit=\(bad)")
            #expect(String(decoding: body, as: UTF8.self).contains("MALFORMED_REQUEST"))
        }
        // The wire keys are the documented ones.
        let first = try #require(try JSONSerialization.jsonObject(with: all) as? [[String: Any]]).first ?? [:]
        #expect(Set(first.keys) == ["time", "method", "route", "path", "status", "milliseconds", "requestId", "bytes"])
    }

    @Test func adminRouteIsAnUnknownPathWhileTheAdminAPIIsOff() throws {
        let t = try TestApp.make()
        let off = try t.call(.GET, "/_admin/requests", headers: ["Host": "h", "Authorization": "Bearer \(testAdminToken)"])
        let unknown = try t.call(.GET, "/no/such/path", headers: ["Host": "h"])
        #expect(off.status == 404 && unknown.status == 404)
        #expect(off.json["code"] == unknown.json["code"])
    }
}
