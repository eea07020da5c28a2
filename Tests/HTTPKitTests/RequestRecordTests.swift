#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import Testing
@testable import HTTPKit

/// `HTTPHandler.requestCompleted`: one record per request, with what the access log shows and
/// the handler's annotations, none of which reach the client.
@Suite struct RequestRecordTests {
    final class Recorder: HTTPHandler {
        let records = Mutex<[HTTPRequestRecord]>([])
        func handle(_ request: HTTPRequest) throws -> HTTPResponse {
            var r = text(request.rawPath == "/big" ? String(repeating: "x", count: 1000) : "ok",
                         status: request.rawPath == "/missing" ? .notFound : .ok)
            r.annotations["route"] = "pattern:" + request.rawPath
            return r
        }
        func requestCompleted(_ record: HTTPRequestRecord) { records.withLock { $0.append(record) } }
    }

    @Test func everyRequestIsReportedOnceWithSecretsHidden() throws {
        let handler = Recorder()
        let server = HTTPServer(configuration: testConfiguration(), handler: handler, logger: CapturedLog().logger())
        try server.start()
        defer { server.shutdown(timeout: .seconds(2)) }
        let c = try TestClient(port: server.port)
        let ok = try c.get("/a?token=abc&keep=1")
        #expect(ok.status == 200)
        #expect(!ok.headers.keys.contains { $0.contains("route") } && !ok.text.contains("pattern"))
        _ = try c.get("/missing")
        _ = try c.get("/big")
        #expect(eventually { handler.records.withLock { $0.count } == 3 })
        let records = handler.records.withLock { $0 }
        try #require(records.count == 3)
        #expect(records[0].target == "/a?token=REDACTED&keep=1")
        #expect(records[0].method == .GET && records[0].status == 200 && records[0].bytes == 2)
        #expect(records[0].annotations == ["route": "pattern:/a"])
        #expect(records[1].status == 404 && records[1].annotations["route"] == "pattern:/missing")
        #expect(records[2].bytes == 1000)
        #expect(records.allSatisfy { $0.durationNanoseconds < 10_000_000_000 })
    }
}
