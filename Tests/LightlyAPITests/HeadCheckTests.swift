#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyStorage
import PostgresTestSupport
import LightlyWire
import Logging
import Synchronization
import TestSupport
import Testing

/// Records every log entry (message and metadata) of the server and the application.
final class LogRecorder: Sendable {
    let lines = Mutex<[String]>([])

    func logger(_ label: String) -> Logger {
        var l = Logger(label: label) { _ in Handler(recorder: self) }
        l.logLevel = .trace
        return l
    }

    var all: [String] { lines.withLock { $0 } }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let text = "\(event.level) \(event.message) " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            recorder.lines.withLock { $0.append(text) }
        }
    }
}

/// The app behind the real HTTPKit server: requests are authenticated from their head, before
/// their body is read, and no log line carries a token.
@Suite struct HeadCheckTests {
    final class Fixture: Sendable {
        let t: TestApp
        let server: HTTPServer
        let log = LogRecorder()
        init() throws {
            // The application logs into the same recorder (errors, rejections at debug level).
            let dir = FileManager.default.temporaryDirectory
                .appendingPathComponent("lightly-head-test-\(UInt64.random(in: 0...UInt64.max))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let store = try TestStore.make(sqlitePath: dir + "/db.sqlite")
            let app = try LightlyApplication(database: store.database, dataDirectory: dir + "/data", settings: APISettings(),
                                             logger: log.logger("app"))
            t = TestApp(app: app, directory: dir, store: store)
            var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0, bodyFileThreshold: 1024,
                                                 temporaryDirectory: t.app.blobs.tmpDirectory, workerCount: 4,
                                                 redactedQueryParameters: LightlyApplication.secretParameters)
            config.useLightlyResponses()
            server = HTTPServer(configuration: config, handler: t.app.handler, logger: log.logger("http"))
            try server.start()
        }
        deinit { server.shutdown(timeout: .seconds(2)) }

        var tmpEntries: [String] { (try? FileManager.default.contentsOfDirectory(atPath: t.app.blobs.tmpDirectory)) ?? [] }

        /// Sends a head announcing `length` bytes (none sent) and reads the answer.
        func announce(_ method: String, _ target: String, length: Int = 300_000_000, extra: String = "") throws
            -> (status: Int, headers: [String: String], body: [UInt8], closed: Bool) {
            let c = try TestClient(port: server.port)
            try c.send("\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(length)\r\n\(extra)\r\n")
            let r = try c.readResponse()
            return (r.status, r.headers, r.body, c.waitForClose())
        }
    }

    @Test func unauthenticatedUploadIsRefusedBeforeItsBody() throws {
        let f = try Fixture()
        for target in ["/v1/datasets", "/v1/datasets?token=lt_wrong", "/v1/datasets?token=" + "lt_" + String(repeating: "0", count: 64)] {
            let r = try f.announce("POST", target)
            #expect(r.status == 401, "\(target)")
            #expect(r.headers["connection"] == "close")
            #expect(try WireJSON.decode(ApiErrorResponse.self, from: r.body).code == .unauthorized)
            #expect(r.headers["x-request-id"] != nil)
            #expect(r.closed)
        }
        // Unknown routes and wrong methods are refused from the head too.
        #expect(try f.announce("POST", "/v1/nothing-here").status == 404)
        #expect(try f.announce("PATCH", "/v1/datasets").status == 405)
        #expect(f.tmpEntries.isEmpty)
    }

    @Test func expect100ContinueOnlyForAnAuthenticatedHead() throws {
        let f = try Fixture()
        let tok = try f.t.makeUser("alice")
        let denied = try f.announce("POST", "/v1/datasets", length: 20, extra: "Expect: 100-continue\r\n")
        #expect(denied.status == 401)

        let c = try TestClient(port: f.server.port)
        let body = #"{"name":"via head check"}"#
        try c.send("POST /v1/datasets?token=\(tok) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n")
        #expect(try c.readResponse().status == 100)
        try c.send(body)
        #expect(try c.readResponse().status == 201)
    }

    @Test func signedUploadWithBadSignatureOrMethodIsRefusedBeforeItsBody() throws {
        let f = try Fixture()
        let tok = try f.t.makeUser("alice")
        let ds = try f.t.makeDataset("a", token: tok)
        let s = try f.t.makeSample("a.png", dataset: ds, token: tok)
        let put = targetOf(try f.t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=False", token: tok).decode(String.self))
        let target = SignedTarget(kind: "sample", datasetId: ds, objectId: s, variant: "full")
        let get = f.t.app.signer.url(base: "", method: .GET, target: target, ttl: 3600)

        let flipped = put.hasSuffix("0") ? String(put.dropLast()) + "1" : String(put.dropLast()) + "0"
        #expect(try f.announce("PUT", flipped).status == 403)          // wrong signature
        #expect(try f.announce("PUT", get).status == 403)              // signed for GET, used to PUT
        #expect(try f.announce("POST", put).status == 405)             // no POST on signed URLs
        let expired = f.t.app.signer.url(base: "", method: .PUT, target: target, ttl: 1, now: 1000)
        #expect(try f.announce("PUT", expired).status == 403)
        #expect(f.tmpEntries.isEmpty)

        // The right URL and method: 100 Continue, then the upload is stored.
        let c = try TestClient(port: f.server.port)
        let image = [UInt8](repeating: 7, count: 5000)
        try c.send("PUT \(put) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(image.count)\r\nExpect: 100-continue\r\n\r\n")
        #expect(try c.readResponse().status == 100)
        try c.send(image)
        #expect(try c.readResponse().status == 200)
    }

    @Test func noLogLineCarriesAToken() throws {
        let f = try Fixture()
        let tok = try f.t.makeUser("alice")
        let ds = try f.t.makeDataset("a", token: tok)
        let hex = String(tok.dropFirst(3))
        let targets = [
            "/v1/datasets/\(ds)?TOKEN=\(tok)",
            "/v1/datasets/\(ds)?Token=\(tok)",
            "/v1/datasets/\(ds)?token%00=\(tok)",
            "/v1/datasets/\(ds)?token[]=\(tok)",
            "/v1/datasets/\(ds)??token=\(tok)",
            "/v1/datasets/\(ds)?%74oken=\(tok)",
            "/v1/datasets/\(tok)",
            "/v1/\(tok)/datasets",
            "/v1/datasets/\(ds)#token=\(tok)",
            "/v1/datasets/\(ds)?x=1#\(tok)",
            "/v1/datasets/\(ds)?token=\(tok)",
        ]
        for target in targets {
            let c = try TestClient(port: f.server.port)
            try c.send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            _ = try c.readResponse()
            // The same targets refused from the head of an upload.
            let d = try TestClient(port: f.server.port)
            try d.send("POST \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n")
            _ = try d.readResponse()
        }
        f.server.shutdown(timeout: .seconds(2))
        let lines = f.log.all
        let access = lines.filter { $0.hasPrefix("info request ") }
        #expect(access.count == targets.count * 2)
        #expect(access.allSatisfy { $0.contains("REDACTED") })
        for line in lines {
            #expect(!line.contains(hex), "token in log line: \(line)")
            #expect(!line.contains(String(hex.prefix(20))), "token in log line: \(line)")
        }
    }
}
