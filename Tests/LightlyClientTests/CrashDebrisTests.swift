import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TestSupport
import Testing

/// `kill -9` a real server in the middle of uploads, start it again on the same data folder:
/// the spooled bodies and blob files without a database row are gone, everything else stays.
@Suite struct CrashDebrisTests {
    /// The port of a started server (its URL is `http://127.0.0.1:PORT`).
    static func port(of server: ServerProcess) throws -> Int {
        guard let port = Int(server.url.split(separator: ":").last ?? "") else { throw LiveServerError("no port in \(server.url)") }
        return port
    }

    /// A blocking HTTP exchange on a fresh connection: status and body.
    static func request(_ port: Int, _ method: String, _ target: String, body: [UInt8] = []) throws -> (Int, String) {
        let c = try TestClient(port: port, timeout: 10)
        try c.send(Array("\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body)
        let r = try c.readResponse()
        return (r.status, r.text)
    }

    static func files(_ dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        return e.compactMap { $0 as? String }.filter { name in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDir) && !isDir.boolValue
        }.sorted()
    }

    static func jsonString(_ text: String, key: String) -> String? {
        guard let r = text.range(of: "\"\(key)\":\"") ?? text.range(of: "\"\(key)\": \"") else { return nil }
        return String(text[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test func killDuringUploadsThenRestartLeavesNoDebris() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("lightly-crash-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let server = ServerProcess(dataDir: data)
        try server.start(extraArguments: ["--log-level", "error"])
        defer { server.kill9() }
        var port = try Self.port(of: server)
        let token = server.token
        #expect(token.hasPrefix("lt_"))

        // One finished upload: a blob with its row, which must survive.
        let (s1, ds) = try Self.request(port, "POST", "/v1/datasets?token=\(token)", body: Array(#"{"name":"crash"}"#.utf8))
        #expect(s1 == 201)
        let dsID = try #require(Self.jsonString(ds, key: "id"))
        let (s2, sample) = try Self.request(port, "POST", "/v1/datasets/\(dsID)/samples?token=\(token)",
                                            body: Array(#"{"fileName":"a.png","metaData":{"sizeInBytes":5}}"#.utf8))
        #expect(s2 == 201)
        let sampleID = try #require(Self.jsonString(sample, key: "id"))
        let (_, urlJSON) = try Self.request(port, "GET", "/v1/datasets/\(dsID)/samples/\(sampleID)/writeurl?isThumbnail=False&token=\(token)")
        let url = urlJSON.trimmingCharacters(in: CharacterSet(charactersIn: "\"\n "))
        let putTarget = try #require(url.range(of: "/signed/").map { String(url[$0.lowerBound...]) })
        let (s3, _) = try Self.request(port, "PUT", putTarget, body: [UInt8](repeating: 1, count: 10_000))
        #expect(s3 == 200)
        #expect(Self.files(data + "/blobs").count == 1)

        // Four uploads in flight, each 64 MB announced and 12 MB sent (spooled above 8 MB).
        var uploads: [TestClient] = []
        defer { withExtendedLifetime(uploads) {} }   // open until the end of the test
        for _ in 0..<4 {
            let c = try TestClient(port: port, timeout: 10)
            uploads.append(c)
            try c.send("PUT \(putTarget) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 67108864\r\n\r\n")
            try c.send([UInt8](repeating: 2, count: 12 << 20))
        }
        let deadline = Date().addingTimeInterval(10)
        while Self.files(data + "/tmp").filter({ $0.hasPrefix("httpkit-body-") }).count < 4 && Date() < deadline { usleep(20_000) }
        let spooled = Self.files(data + "/tmp")
        #expect(spooled.filter { $0.hasPrefix("httpkit-body-") }.count == 4)

        let process = try #require(server.process)
        server.kill9()
        #expect(process.terminationReason == .uncaughtSignal)

        // What else a crash can leave: a blob file renamed into place whose row never
        // committed, and a blob being written. A file the server did not make stays.
        let orphanID = "0123456789abcdef01234567"
        try FileManager.default.createDirectory(atPath: data + "/blobs/67", withIntermediateDirectories: true)
        try Data([3]).write(to: URL(fileURLWithPath: data + "/blobs/67/" + orphanID))
        try Data([4]).write(to: URL(fileURLWithPath: data + "/tmp/upload-99-1-1"))
        try Data([5]).write(to: URL(fileURLWithPath: data + "/tmp/operator-notes.txt"))
        let before = (tmp: Self.files(data + "/tmp").count, blobs: Self.files(data + "/blobs").count)

        try server.start(extraArguments: ["--log-level", "error"])
        port = try Self.port(of: server)
        let after = (tmp: Self.files(data + "/tmp"), blobs: Self.files(data + "/blobs"))
        print("crash debris: before restart tmp \(before.tmp) files, blobs \(before.blobs); after: tmp \(after.tmp), blobs \(after.blobs.count)")
        #expect(after.tmp == ["operator-notes.txt"])
        #expect(after.blobs.count == 1)
        #expect(!after.blobs.contains { $0.hasSuffix(orphanID) })
        // The surviving blob is the finished upload, still served.
        let (s4, readJSON) = try Self.request(port, "GET", "/v1/datasets/\(dsID)/samples/\(sampleID)/readurl?type=full&token=\(token)")
        #expect(s4 == 200)
        let readURL = readJSON.trimmingCharacters(in: CharacterSet(charactersIn: "\"\n "))
        let getTarget = try #require(readURL.range(of: "/signed/").map { String(readURL[$0.lowerBound...]) })
        let (s5, image) = try Self.request(port, "GET", getTarget)
        #expect(s5 == 200)
        #expect(image.utf8.count == 10_000)
        server.stop()
    }
}
