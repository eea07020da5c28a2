import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Logging
import Testing

/// The same app behind the real HTTPKit server on port 0 (Hummingbird's `.live` mode): query
/// decoding, keep-alive, bodies spooled to a temp file and moved into the blob store, streamed
/// downloads.
@Suite struct LiveServerTests {
    final class Live: Sendable {
        let t: TestApp
        let server: HTTPServer
        let base: String
        init() throws {
            t = try TestApp.make()
            var log = Logger(label: "live"); log.logLevel = .critical
            // Spool bodies above 1 KiB to the data folder's tmp/ (same file system → rename).
            var config = HTTPServerConfiguration(host: "127.0.0.1", port: 0, bodyFileThreshold: 1024,
                                                 temporaryDirectory: t.app.blobs.tmpDirectory, workerCount: 4)
            config.useLightlyResponses()
            server = HTTPServer(configuration: config, handler: t.app.handler, logger: log)
            try server.start()
            base = "http://127.0.0.1:\(server.port)"
        }
        deinit { server.shutdown(timeout: .seconds(2)) }

        func request(_ method: String, _ pathOrURL: String, body: Data? = nil) async throws -> (Int, Data) {
            let url = URL(string: pathOrURL.hasPrefix("http") ? pathOrURL : base + pathOrURL)!
            var r = URLRequest(url: url)
            r.httpMethod = method
            r.httpBody = body
            let (data, resp) = try await URLSession.shared.data(for: r)
            return ((resp as? HTTPURLResponse)?.statusCode ?? 0, data)
        }
    }

    @Test func uploadAndDownloadThroughTheServer() async throws {
        let live = try Live()
        let tok = try live.t.makeUser("alice")
        let (s0, v) = try await live.request("GET", "/v1/versions/pip/minimum")
        #expect(s0 == 200)
        #expect(String(decoding: v, as: UTF8.self) == "\"1.0.0\"")

        let (s1, created) = try await live.request("POST", "/v1/datasets/?token=\(tok)", body: Data(#"{"name":"live set"}"#.utf8))
        #expect(s1 == 201)
        let ds = try WireJSON.decode(CreateEntityResponse.self, from: Array(created)).id
        let (s2, list) = try await live.request("GET", "/v1/datasets?shared=False&token=\(tok)")
        #expect(s2 == 200)
        #expect(try WireJSON.decode([DatasetData].self, from: Array(list)).map(\.name) == ["live set"])

        let (s3, sample) = try await live.request("POST", "/v1/datasets/\(ds)/samples?token=\(tok)",
                                                  body: Data(#"{"fileName":"a b/c+d.png","metaData":{"sizeInBytes":5000}}"#.utf8))
        #expect(s3 == 201)
        let sid = try WireJSON.decode(CreateEntityResponse.self, from: Array(sample)).id
        let (_, filtered) = try await live.request("GET", "/v1/datasets/\(ds)/samples?fileName=a+b%2Fc%2Bd.png&token=\(tok)")
        #expect(try WireJSON.decode([SampleData].self, from: Array(filtered)).map(\.id) == [sid])

        let (_, urlData) = try await live.request("GET", "/v1/datasets/\(ds)/samples/\(sid)/writeurl?isThumbnail=False&token=\(tok)")
        let putURL = try WireJSON.decode(String.self, from: Array(urlData))
        #expect(putURL.hasPrefix(live.base + "/signed/sample/"))
        let image = Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 * 7) })   // > threshold: spooled to a file
        let (s4, putBody) = try await live.request("PUT", putURL, body: image)
        #expect(s4 == 200)
        #expect(putBody.isEmpty)

        let (_, readData) = try await live.request("GET", "/v1/datasets/\(ds)/samples/\(sid)/readurl?type=full&token=\(tok)")
        let getURL = try WireJSON.decode(String.self, from: Array(readData))
        let (s5, got) = try await live.request("GET", getURL)
        #expect(s5 == 200)
        #expect(got == image)

        let (s6, denied) = try await live.request("GET", "/v1/datasets/\(ds)")
        #expect(s6 == 401)
        #expect(try WireJSON.decode(ApiErrorResponse.self, from: Array(denied)).code == .unauthorized)
        let tmpLeft = try FileManager.default.contentsOfDirectory(atPath: live.t.app.blobs.tmpDirectory)
        #expect(tmpLeft.isEmpty)
    }
}
