import Foundation
#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import Dispatch
import Testing
@testable import HTTPKit

// MARK: - Certificates made by the openssl command line

/// Whether the `openssl` command line is installed (it makes the test CA and certificates).
let opensslAvailable = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"].contains { (path: String) in access(path, X_OK) == 0 }

/// A throwaway CA and server certificates for 127.0.0.1 / localhost, in a temporary folder.
struct TestPKI {
    let dir: String
    var caFile: String { dir + "/ca.pem" }

    init() throws {
        dir = makeTemporaryDirectory()
        try Self.openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", dir + "/ca.key"])
        try Self.openssl(["req", "-x509", "-new", "-key", dir + "/ca.key", "-subj", "/CN=httpkit test CA",
                          "-days", "2", "-out", caFile])
    }

    /// Issues a server certificate whose CN is `name`; returns (chain file, key file). The chain
    /// file holds the leaf and the CA, as a real chain with an intermediate would.
    func issue(_ name: String) throws -> (cert: String, key: String) {
        let key = "\(dir)/\(name).key", csr = "\(dir)/\(name).csr", crt = "\(dir)/\(name).crt"
        let ext = "\(dir)/\(name).ext"
        try Self.openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
        try Self.openssl(["req", "-new", "-key", key, "-subj", "/CN=\(name)", "-out", csr])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
            .write(toFile: ext, atomically: true, encoding: .utf8)
        try Self.openssl(["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", dir + "/ca.key", "-CAcreateserial",
                          "-days", "2", "-extfile", ext, "-out", crt])
        let chain = "\(dir)/\(name)-chain.pem"
        let text = try String(contentsOfFile: crt, encoding: .utf8) + String(contentsOfFile: caFile, encoding: .utf8)
        try text.write(toFile: chain, atomically: true, encoding: .utf8)
        return (chain, key)
    }

    func remove() { _ = try? FileManager.default.removeItem(atPath: dir) }

    static func openssl(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TestClientError(description: "openssl \(arguments.joined(separator: " ")) failed")
        }
    }
}

// MARK: - A blocking TLS test client

/// HTTP over TLS on a blocking socket with a receive timeout (from ``TestClient``), verifying
/// the server against the test CA and the name 127.0.0.1.
final class TLSTestClient: ResponseReading {
    let socket: TestClient
    private let ctx: OpaquePointer
    private let ssl: OpaquePointer
    var pending: [UInt8] = []

    init(port: Int, caFile: String, version: Int32? = nil, alpn: [String] = ["http/1.1"], timeout: Int = 5,
         source: String? = nil) throws {
        socket = try TestClient(port: port, timeout: timeout, source: source)
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TestClientError(description: "SSL_CTX_new") }
        self.ctx = ctx
        if let version {
            // Let the client offer old versions, so a refusal is the server's.
            if version < TLS1_2_VERSION { SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") }
            _ = copenssl_ctx_set_proto_range(ctx, version, version)
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else { throw TestClientError(description: "CA file") }
        guard let ssl = SSL_new(ctx) else { throw TestClientError(description: "SSL_new") }
        self.ssl = ssl
        SSL_set_fd(ssl, socket.fd)
        _ = SSL_set1_host(ssl, "127.0.0.1")
        if !alpn.isEmpty {
            var wire: [UInt8] = []
            for p in alpn { wire.append(UInt8(p.utf8.count)); wire += Array(p.utf8) }
            _ = SSL_set_alpn_protos(ssl, wire, UInt32(wire.count))
        }
        ERR_clear_error()
        guard SSL_connect(ssl) == 1 else {
            throw TestClientError(description: "handshake failed: \(openSSLErrors().joined(separator: "; "))")
        }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(ctx)
    }

    var protocolVersion: Int32 { SSL_version(ssl) }

    var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The common name of the certificate the server presented.
    var peerCommonName: String? {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        var text = [CChar](repeating: 0, count: 256)
        guard X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, &text, Int32(text.count)) > 0 else { return nil }
        return cString(text)
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + off, Int32(bytes.count - off)) }
            guard n > 0 else { throw TestClientError(description: "SSL_write failed") }
            off += Int(n)
        }
    }

    @discardableResult
    func fill() throws -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        if n > 0 { pending += buf[0..<Int(n)]; return true }
        if SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN { return false }
        throw TestClientError(description: "SSL_read failed (errno \(errno))")
    }

    func get(_ path: String) throws -> TestResponse {
        try send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return try readResponse()
    }
}

// MARK: - Tests

@Suite(.enabled(if: opensslAvailable, "needs the openssl command line to make test certificates"))
struct TLSTests {
    /// A TLS server on 127.0.0.1 with a fresh CA and a certificate named `server-1`.
    private func withTLSServer(handshakeTimeout: Duration = .seconds(5),
                               tweak: (inout HTTPServerConfiguration) -> Void = { _ in },
                               handler: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse = { r in text("hello \(r.rawPath)") },
                               _ body: (HTTPServer, TestPKI) throws -> Void) throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let (cert, key) = try pki.issue("server-1")
        let config = testConfiguration {
            $0.tls = TLSConfiguration(certificateChainFile: cert, privateKeyFile: key, handshakeTimeout: handshakeTimeout)
            tweak(&$0)
        }
        try withServer(config, handler: handler) { server in try body(server, pki) }
    }

    @Test(arguments: [TLS1_2_VERSION, TLS1_3_VERSION])
    func handshakeAndKeepAliveRequests(version: Int32) throws {
        try withTLSServer(handler: { r in text("hello \(r.rawPath)\(r.isSecure ? "" : " (not secure?)")") }) { server, pki in
            let c = try TLSTestClient(port: server.port, caFile: pki.caFile, version: version)
            #expect(c.protocolVersion == version)
            #expect(c.negotiatedProtocol == "http/1.1")
            #expect(c.peerCommonName == "server-1")
            let a = try c.get("/a")
            let b = try c.get("/b")
            #expect(a.status == 200 && a.text == "hello /a")
            #expect(b.text == "hello /b")
            #expect(server.connectionCount == 1)
        }
    }

    @Test func tls11IsRefused() throws {
        try withTLSServer { server, pki in
            #expect(throws: TestClientError.self) {
                _ = try TLSTestClient(port: server.port, caFile: pki.caFile, version: TLS1_1_VERSION)
            }
        }
    }

    @Test func alpnPicksHTTP11AndRefusesOnlyH2() throws {
        try withTLSServer { server, pki in
            let c = try TLSTestClient(port: server.port, caFile: pki.caFile, alpn: ["h2", "http/1.1"])
            #expect(c.negotiatedProtocol == "http/1.1")
            let none = try TLSTestClient(port: server.port, caFile: pki.caFile, alpn: [])
            #expect(none.negotiatedProtocol == nil)
            #expect(try none.get("/x").status == 200)
            #expect(throws: TestClientError.self) {
                _ = try TLSTestClient(port: server.port, caFile: pki.caFile, alpn: ["h2"])
            }
        }
    }

    @Test func plainHTTPOnTheTLSPortGets400AndClose() throws {
        try withTLSServer { server, _ in
            let c = try TestClient(port: server.port, timeout: 3)
            let start = DispatchTime.now().uptimeNanoseconds
            let r = try c.get("/health")
            #expect(r.status == 400)
            #expect(r.text.contains(HTTPErrorCode.plainHTTPToTLSPort))
            #expect(r.headers["connection"] == "close")
            #expect(c.waitForClose())
            #expect(DispatchTime.now().uptimeNanoseconds - start < 3_000_000_000)
        }
    }

    @Test func garbageOnTheTLSPortIsClosed() throws {
        try withTLSServer { server, _ in
            let c = try TestClient(port: server.port, timeout: 3)
            try c.send("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n")
            let start = DispatchTime.now().uptimeNanoseconds
            #expect(c.waitForClose())
            #expect(DispatchTime.now().uptimeNanoseconds - start < 2_000_000_000)
        }
    }

    @Test func stalledHandshakeIsClosedAtTheDeadline() throws {
        try withTLSServer(handshakeTimeout: .milliseconds(400)) { server, pki in
            let silent = try TestClient(port: server.port, timeout: 5)
            // Half a ClientHello record header, then nothing.
            let partial = try TestClient(port: server.port, timeout: 5)
            try partial.send([0x16, 0x03, 0x01])
            let start = DispatchTime.now().uptimeNanoseconds
            #expect(silent.waitForClose())
            #expect(partial.waitForClose())
            let ms = (DispatchTime.now().uptimeNanoseconds - start) / 1_000_000
            #expect(ms >= 250 && ms < 2500, "closed after \(ms) ms")
            // Stalled handshakes cost nothing to others.
            #expect(try TLSTestClient(port: server.port, caFile: pki.caFile).get("/ok").status == 200)
        }
    }

    @Test func reloadServesTheNewCertificateToNewConnectionsOnly() throws {
        try withTLSServer { server, pki in
            let old = try TLSTestClient(port: server.port, caFile: pki.caFile)
            #expect(try old.get("/1").status == 200)
            // Renew in place: same file names, new contents.
            let (cert2, key2) = try pki.issue("server-2")
            let tls = try #require(server.configuration.tls)
            for (from, to) in [(cert2, tls.certificateChainFile), (key2, tls.privateKeyFile)] {
                try String(contentsOfFile: from, encoding: .utf8).write(toFile: to, atomically: true, encoding: .utf8)
            }
            try server.reloadTLS()
            let new = try TLSTestClient(port: server.port, caFile: pki.caFile)
            #expect(new.peerCommonName == "server-2")
            #expect(try new.get("/2").status == 200)
            #expect(old.peerCommonName == "server-1")
            #expect(try old.get("/3").text == "hello /3")

            // A broken key file: the reload fails and the server keeps the last good certificate.
            try "not a key".write(toFile: tls.privateKeyFile, atomically: true, encoding: .utf8)
            #expect(throws: TLSError.self) { try server.reloadTLS() }
            #expect(try TLSTestClient(port: server.port, caFile: pki.caFile).peerCommonName == "server-2")
        }
    }

    @Test func clientVanishingMidDownloadCostsOnlyItsConnection() throws {
        let size = 8 << 20
        let dir = makeTemporaryDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/big.bin"
        try Data(count: size).write(to: URL(fileURLWithPath: file))
        try withTLSServer(handler: { r in
            r.rawPath == "/big" ? HTTPResponse(status: .ok, body: .file(path: file, count: size)) : text("still here")
        }) { server, pki in
            for _ in 0..<3 {
                let c = try TLSTestClient(port: server.port, caFile: pki.caFile)
                try c.send("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                c.socket.abort()   // RST while the server is writing
            }
            #expect(eventually { server.connectionCount == 0 })
            #expect(try TLSTestClient(port: server.port, caFile: pki.caFile).get("/").text == "still here")
        }
    }

    @Test func startFailsClearlyWithAMissingCertificate() throws {
        let config = testConfiguration {
            $0.tls = TLSConfiguration(certificateChainFile: "/nonexistent/cert.pem", privateKeyFile: "/nonexistent/key.pem")
        }
        let server = HTTPServer(configuration: config, handler: ClosureHandler { _ in text("") }, logger: CapturedLog().logger())
        defer { server.shutdown(timeout: .seconds(1)) }
        #expect { try server.start() } throws: { error in
            (error as? TLSError)?.description.contains("/nonexistent/cert.pem") == true
        }
    }

    @Test func largeUploadAndStreamedFileDownload() throws {
        let size = 6 << 20
        let dir = makeTemporaryDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        var payload = [UInt8](repeating: 0, count: size)
        for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        let file = dir + "/download.bin"
        try Data(payload).write(to: URL(fileURLWithPath: file))
        let expected = checksum(payload)
        try withTLSServer(tweak: { $0.bodyFileThreshold = 1 << 20; $0.temporaryDirectory = dir }, handler: { r in
            switch r.body {
            case .file(let path, let count):
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                return text("\(count) \(checksum(Array(data)))")
            case .bytes(let d):
                return text("\(d.count) memory")
            case .empty:
                return HTTPResponse(status: .ok, headers: [.contentType: "application/octet-stream"],
                                    body: .file(path: file, count: size))
            }
        }) { server, pki in
            let c = try TLSTestClient(port: server.port, caFile: pki.caFile, timeout: 20)
            try c.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(size)\r\n\r\n")
            try c.send(payload)
            let up = try c.readResponse()
            #expect(up.text == "\(size) \(expected)")
            try c.send("GET /download HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            var received: [UInt8] = []
            received.reserveCapacity(size)
            let down = try c.readResponse { received += $0 }
            #expect(down.status == 200)
            #expect(received.count == size)
            #expect(checksum(received) == expected)
        }
    }

    // MARK: - TLS with the slow-client limits and the head check

    @Test func tricklingBodyOverTLSGets408WithinTheRateWindowWhileOthersAreServed() throws {
        try withTLSServer(tweak: {
            // Timeouts long enough that only the rate check can fire within the test.
            $0.headerTimeout = .seconds(20)
            $0.bodyTimeout = .seconds(20)
            $0.minTransferRate = 1000
            $0.transferRateWindow = .milliseconds(500)
        }, handler: { r in text("got \(r.body.count)\(r.isSecure ? "" : " (not secure?)")") }) { server, pki in
            // TLS 1.2: no session tickets arrive after the handshake, so "readable" below means
            // the server answered.
            let slow = try TLSTestClient(port: server.port, caFile: pki.caFile, version: TLS1_2_VERSION)
            try slow.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
            let start = DispatchTime.now().uptimeNanoseconds
            var sent = 0
            // One byte every 100 ms (one TLS record each): far below 1000 bytes/s.
            while elapsedMs(since: start) < 3000, (try? slow.send("x")) != nil {
                sent += 1
                if sent == 2 {
                    // Meanwhile a normal client is served at full speed.
                    let fast = try TLSTestClient(port: server.port, caFile: pki.caFile)
                    try fast.send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 6000\r\n\r\n"
                                  + String(repeating: "y", count: 6000))
                    #expect(try fast.readResponse().text == "got 6000")
                }
                usleep(100_000)
                var pending = pollfd(fd: slow.socket.fd, events: Int16(POLLIN), revents: 0)
                if poll(&pending, 1, 0) > 0 { break }
            }
            let r = try slow.readResponse()
            #expect(r.status == 408)
            #expect(r.text.contains("too slowly"))
            let waited = elapsedMs(since: start)
            #expect(waited >= 400 && waited < 2500, "dropped after \(waited) ms")
            #expect(slow.socket.waitForClose())
            #expect(eventually { server.connectionCount == 0 })
        }
    }

    @Test func handshakeKeepsItsOwnDeadlineAndGivesWayAtTheCap() throws {
        try withTLSServer(handshakeTimeout: .milliseconds(1500), tweak: {
            $0.minTransferRate = 1000
            $0.transferRateWindow = .milliseconds(200)
            $0.maxConnections = 4
            $0.maxConnectionsPerAddress = 0
        }) { server, pki in
            // Four would-be TLS clients from one address fill the cap and never send a byte.
            let start = DispatchTime.now().uptimeNanoseconds
            let stalled = try (0..<4).map { _ in try TestClient(port: server.port, timeout: 5, source: "127.0.0.2") }
            #expect(eventually { server.connectionCount == 4 })
            func closedCount() -> Int {
                stalled.filter { c in
                    var p = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
                    return poll(&p, 1, 0) > 0
                }.count
            }
            // Several rate windows pass: the handshake is not subject to the rate check.
            usleep(700_000)
            #expect(closedCount() == 0)
            // A client from another address takes the place of one of them, mid-handshake.
            let normal = try TLSTestClient(port: server.port, caFile: pki.caFile, source: "127.0.0.1")
            #expect(try normal.get("/").status == 200)
            #expect(eventually { closedCount() == 1 })
            // The others close at the handshake deadline.
            #expect(eventually(timeout: 4) { closedCount() == 4 })
            let ms = elapsedMs(since: start)
            #expect(ms >= 1300 && ms < 4000, "closed after \(ms) ms")
            #expect(try normal.get("/again").text == "hello /again")
        }
    }

    @Test func rejectedHeadOverTLSIsAnsweredEncryptedAndNothingIsSpooled() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let (cert, key) = try pki.issue("server-1")
        let dir = makeTemporaryDirectory()
        defer { _ = try? FileManager.default.removeItem(atPath: dir) }
        let config = testConfiguration {
            $0.tls = TLSConfiguration(certificateChainFile: cert, privateKeyFile: key)
            $0.temporaryDirectory = dir
            $0.bodyFileThreshold = 1024
        }
        let handler = ClosureHandler(inspectHead: { r in
            r.isSecure && r.query("token") == "good" ? .proceed : .reject(text("no token", status: .unauthorized))
        }, { r in text("got \(r.body.count)") })
        let server = HTTPServer(configuration: config, handler: handler, logger: CapturedLog().logger())
        try server.start()
        defer { server.shutdown(timeout: .seconds(2)) }
        // 300 MB announced, some sent right away: answered from the head, nothing stored.
        let c = try TLSTestClient(port: server.port, caFile: pki.caFile)
        try c.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 300000000\r\n\r\n"
                   + String(repeating: "x", count: 100_000))
        let r = try c.readResponse()
        #expect(r.status == 401)
        #expect(r.text == "no token")
        #expect(r.headers["connection"] == "close")
        #expect(directoryEntries(dir).isEmpty)
        // An accepted head goes on to read the (spooled) body through TLS.
        let d = try TLSTestClient(port: server.port, caFile: pki.caFile)
        try d.send("POST /upload?token=good HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n\r\n"
                   + String(repeating: "y", count: 5000))
        #expect(try d.readResponse().text == "got 5000")
        #expect(eventually { directoryEntries(dir).isEmpty })
    }
}

private func elapsedMs(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

/// FNV-1a, enough to tell two byte strings apart in a test.
private func checksum(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h
}
