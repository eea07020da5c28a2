#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import Synchronization
import Testing
@testable import HTTPKit

private func elapsedMs(since start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

@Suite struct HTTPServerTests {
    // MARK: - Basics

    @Test func keepAliveServesTwoRequestsOnOneConnection() throws {
        try withServer(handler: { r in text("hello \(r.pathSegments.joined(separator: ","))") }) { server in
            let c = try TestClient(port: server.port)
            let a = try c.get("/a/b")
            let b = try c.get("/c")
            #expect(a.status == 200)
            #expect(a.text == "hello a,b")
            #expect(a.headers["content-length"] == "9")
            #expect(a.headers["server"] == "test-server")
            #expect(a.headers["date"]?.hasSuffix("GMT") == true)
            #expect(a.headers["connection"] == nil)
            #expect(b.text == "hello c")
            #expect(server.connectionCount == 1)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        try withServer(handler: { r in
            if r.rawPath == "/slow" { usleep(150_000) }
            return text(r.rawPath)
        }) { server in
            let c = try TestClient(port: server.port)
            try c.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n"
                + "POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /last HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try c.readResponse().text == "/slow")
            #expect(try c.readResponse().text == "/fast")
            #expect(try c.readResponse().text == "/post")
            #expect(try c.readResponse().text == "/last")
        }
    }

    @Test func requestBodiesArrive() throws {
        try withServer(handler: { r in
            guard case .bytes(let d) = r.body else { return text("no body") }
            return text("\(r.method) \(String(decoding: d, as: UTF8.self))")
        }) { server in
            let c = try TestClient(port: server.port)
            try c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            #expect(try c.readResponse().text == "POST hello")
            try c.send("PUT /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n")
            #expect(try c.readResponse().text == "PUT abcde")
        }
    }

    @Test func expectContinueGets100BeforeTheBody() throws {
        try withServer(handler: { r in text("got \(r.body.count)") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            let interim = try c.readResponse()
            #expect(interim.status == 100)
            try c.send("abcd")
            #expect(try c.readResponse().text == "got 4")
        }
    }

    @Test func headHasLengthButNoBody() throws {
        try withServer(handler: { _ in text("twelve bytes") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
            let r = try c.readResponse(isHEAD: true)
            #expect(r.status == 200)
            #expect(r.headers["content-length"] == "12")
            // The connection is still in sync: the next response parses.
            #expect(try c.get("/").text == "twelve bytes")
        }
    }

    @Test func http10ClosesUnlessKeepAlive() throws {
        try withServer(handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("GET / HTTP/1.0\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.headers["connection"] == "close")
            #expect(c.waitForClose())

            let k = try TestClient(port: server.port)
            try k.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try k.readResponse().headers["connection"] == "keep-alive")
            try k.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try k.readResponse().status == 200)
        }
    }

    @Test func connectionCloseIsHonoured() throws {
        try withServer(handler: { r in
            r.rawPath == "/bye" ? HTTPResponse(headers: [.connection: "close"], body: .bytes(Data("bye".utf8))) : text("ok")
        }) { server in
            let c = try TestClient(port: server.port)
            let r = try c.get("/", headers: "Connection: close\r\n")
            #expect(r.headers["connection"] == "close")
            #expect(c.waitForClose())
            // The handler can close too.
            let d = try TestClient(port: server.port)
            let bye = try d.get("/bye")
            #expect(bye.text == "bye")
            #expect(bye.headers["connection"] == "close")
            #expect(d.waitForClose())
        }
    }

    @Test func malformedRequestGets400AndClose() throws {
        try withServer(handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 400)
            #expect(r.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(r.headers["connection"] == "close")
            #expect(r.text.hasPrefix("BAD_REQUEST: "))
            #expect(c.waitForClose())

            let v = try TestClient(port: server.port)
            try v.send("GET / HTTP/3.0\r\nHost: t\r\n\r\n")
            #expect(try v.readResponse().status == 505)
        }
    }

    @Test func handlerErrorBecomesGeneric500() throws {
        struct Secret: Error {}
        let log = CapturedLog()
        try withServer(log: log, handler: { _ in throw Secret() }) { server in
            let c = try TestClient(port: server.port)
            let r = try c.get("/boom")
            #expect(r.status == 500)
            #expect(r.text == "INTERNAL_ERROR: internal server error\n")
            #expect(!r.text.contains("Secret"))
            // Still usable afterwards.
            #expect(try c.get("/boom").status == 500)
        }
        #expect(log.entries.withLock { $0.contains { $0.level == .error && "\($0.metadata["error"] ?? "")".contains("Secret") } })
    }

    @Test func accessLogRedactsSecrets() throws {
        let log = CapturedLog()
        try withServer(log: log, handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            _ = try c.get("/v1/x?token=abc&sig=def&keep=1")
        }
        let line = try #require(log.entries.withLock { $0.first { $0.message == "request" } })
        #expect(line.level == .info)
        #expect("\(line.metadata["http.target"] ?? "")" == "/v1/x?token=REDACTED&sig=REDACTED&keep=1")
        #expect("\(line.metadata["http.method"] ?? "")" == "GET")
        #expect("\(line.metadata["http.status"] ?? "")" == "200")
        #expect("\(line.metadata["http.bytes"] ?? "")" == "2")
        #expect(line.metadata["http.ms"] != nil)
    }

    @Test func bindsAllIPv4Interfaces() throws {
        try withServer(testConfiguration { $0.host = "0.0.0.0" }, handler: { r in text(r.remoteAddress) }) { server in
            let c = try TestClient(port: server.port)
            #expect(try c.get("/").text.hasPrefix("127.0.0.1:"))
        }
    }

    @Test func bindsIPv6Loopback() throws {
        let config = testConfiguration { $0.host = "::1" }
        let server = HTTPServer(configuration: config, handler: ClosureHandler { _ in text("v6") }, logger: CapturedLog().logger())
        do {
            try server.start()
        } catch {
            return  // no IPv6 on this host
        }
        defer { server.shutdown(timeout: .seconds(1)) }
        let c = try TestClient(port: server.port, host: "::1")
        #expect(try c.get("/").text == "v6")
    }

    @Test func startTwiceThrowsAndShutdownIsIdempotent() throws {
        let server = HTTPServer(configuration: testConfiguration(), handler: ClosureHandler { _ in text("ok") },
                                logger: CapturedLog().logger())
        try server.start()
        #expect(server.port > 0)
        #expect(throws: SocketError.self) { try server.start() }
        server.shutdown(timeout: .seconds(1))
        server.shutdown(timeout: .seconds(1))
        let never = HTTPServer(configuration: testConfiguration(), handler: ClosureHandler { _ in text("ok") },
                               logger: CapturedLog().logger())
        never.shutdown(timeout: .seconds(1))
        #expect(throws: SocketError.self) { try never.start() }
    }

    // MARK: - Limits

    @Test func contentLengthOverLimitGets413WithoutReadingTheBody() throws {
        let config = testConfiguration { $0.maxBodyBytes = 1 << 20 }
        try withServer(config, handler: { _ in text("should not run") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000000\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 413)
            #expect(r.text.contains("PAYLOAD_TOO_LARGE"))
            #expect(r.headers["connection"] == "close")
        }
    }

    @Test func chunkedBodyPastLimitGets413() throws {
        let config = testConfiguration { $0.maxBodyBytes = 1000 }
        try withServer(config, handler: { _ in text("should not run") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("PUT /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "x", count: 1024) + "\r\n")
            #expect(try c.readResponse().status == 413)
            #expect(c.waitForClose())
        }
    }

    @Test func oversizedHeadersGet431() throws {
        let config = testConfiguration { $0.maxHeaderBytes = 4096 }
        try withServer(config, handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "a", count: 8000) + "\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 431)
            #expect(r.text.contains("HEADERS_TOO_LARGE"))
            #expect(c.waitForClose())
        }
    }

    /// The server's own answers (400, 413, 431, 503, 500) carry the application's error body
    /// and server name, not HTTPKit's defaults.
    @Test func ownRejectionsUseTheInjectedErrorBody() throws {
        let config = testConfiguration {
            $0.maxConnections = 1
            $0.maxHeaderBytes = 4096
            $0.maxBodyBytes = 1000
            $0.serverName = "app/1"
            $0.errorBody = { status, code, message in ("application/x-app", Array("app \(status.code) \(code) \(message)".utf8)) }
        }
        try withServer(config, handler: { r in
            if r.target == "/boom" { throw TestClientError(description: "boom") }
            return text("ok")
        }) { server in
            func expectInjected(_ r: TestResponse, _ status: Int, _ code: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(r.status == status, sourceLocation: sourceLocation)
                #expect(r.headers["content-type"] == "application/x-app", sourceLocation: sourceLocation)
                #expect(r.headers["server"] == "app/1", sourceLocation: sourceLocation)
                #expect(r.text.hasPrefix("app \(status) \(code) "), "\(r.text)", sourceLocation: sourceLocation)
            }
            let rejections = [
                ("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "BAD_REQUEST"),
                ("NOT A REQUEST\r\n\r\n", 400, "MALFORMED_REQUEST"),
                ("PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n", 413, "PAYLOAD_TOO_LARGE"),
                ("GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "a", count: 5000) + "\r\n\r\n", 431, "HEADERS_TOO_LARGE"),
            ]
            for (request, status, code) in rejections {
                let c = try TestClient(port: server.port)
                try c.send(request)
                expectInjected(try c.readResponse(), status, code)
                #expect(c.waitForClose())
                #expect(eventually { server.connectionCount == 0 })
            }
            let a = try TestClient(port: server.port)
            expectInjected(try a.get("/boom"), 500, "INTERNAL_ERROR")
            // a holds the only slot: the next connection gets the 503.
            let b = try TestClient(port: server.port)
            expectInjected(try b.readResponse(), 503, "SERVICE_UNAVAILABLE")
        }
    }

    // MARK: - Timeouts and slow clients

    @Test func slowlorisGets408WhileOthersAreServed() throws {
        try withServer(handler: { _ in text("ok") }) { server in
            let slow = try TestClient(port: server.port)
            let start = DispatchTime.now().uptimeNanoseconds
            // Trickle the head one byte every 100 ms: each byte is "progress", but the header
            // deadline counts from the first byte.
            let partial = Array("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8)
            var maxLatency = 0.0
            let fast = try TestClient(port: server.port)
            for (i, b) in partial.enumerated() {
                guard (try? slow.send([b])) != nil else { break }
                if i % 3 == 0 {
                    let t = DispatchTime.now().uptimeNanoseconds
                    #expect(try fast.get("/").status == 200)
                    maxLatency = max(maxLatency, elapsedMs(since: t))
                }
                usleep(100_000)
                if elapsedMs(since: start) > 1600 { break }
            }
            let r = try slow.readResponse()
            #expect(r.status == 408)
            #expect(r.text.contains("REQUEST_TIMEOUT"))
            let waited = elapsedMs(since: start)
            #expect(waited >= 900 && waited < 4000)
            #expect(slow.waitForClose())
            // Generous bound: the machine is shared; a starved server would take seconds.
            #expect(maxLatency < 500)
        }
    }

    @Test func idleKeepAliveConnectionIsClosed() throws {
        let config = testConfiguration { $0.idleTimeout = .milliseconds(300) }
        try withServer(config, handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            #expect(try c.get("/").status == 200)
            let t = DispatchTime.now().uptimeNanoseconds
            #expect(c.waitForClose())
            #expect(elapsedMs(since: t) < 2000)
            #expect(eventually { server.connectionCount == 0 })
        }
    }

    @Test func stalledBodyIsCutOff() throws {
        try withServer(handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly-some")
            let t = DispatchTime.now().uptimeNanoseconds
            #expect(c.waitForClose())
            #expect(elapsedMs(since: t) < 3000)
        }
    }

    // MARK: - Hang-ups

    @Test(arguments: [false, true])
    func clientHangingUpMidResponseDoesNotHurtTheServer(useFile: Bool) throws {
        let dir = makeTemporaryDirectory()
        let path = dir + "/big.bin"
        let size = 32 << 20
        if useFile {
            let fd = open(path, O_CREAT | O_WRONLY, 0o600)
            _ = ftruncate(fd, off_t(size))
            close(fd)
        }
        let big = Data(count: size)
        try withServer(handler: { r in
            if r.rawPath == "/small" { return text("fine") }
            return HTTPResponse(headers: [.contentType: "application/octet-stream"],
                                body: useFile ? .file(path: path, count: size) : .bytes(big))
        }) { server in
            for _ in 0..<3 {
                let c = try TestClient(port: server.port)
                try c.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
                try c.readSome(1000)
                c.abort()
            }
            let d = try TestClient(port: server.port)
            try d.send("GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            try d.readSome(1000)
            d.abort()
            let ok = try TestClient(port: server.port)
            #expect(try ok.get("/small").text == "fine")
            #expect(eventually { server.connectionCount == 1 })
        }
        unlink(path)
        rmdir(dir)
    }

    @Test func largeFileResponseStreamsCompletely() throws {
        let dir = makeTemporaryDirectory()
        let path = dir + "/f.bin"
        var bytes = [UInt8](repeating: 0, count: 3 << 20)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let total = bytes.count
        try withServer(handler: { _ in HTTPResponse(body: .file(path: path, offset: 100, count: total - 200)) }) { server in
            let c = try TestClient(port: server.port)
            let r = try c.get("/f")
            #expect(r.body.count == bytes.count - 200)
            #expect(r.body == Array(bytes[100..<(bytes.count - 100)]))
        }
        unlink(path)
        rmdir(dir)
    }

    // MARK: - Many connections

    @Test func manyIdleKeepAliveConnectionsDoNotStarveNewClients() throws {
        try withServer(handler: { _ in text("ok") }) { server in
            var idle: [TestClient] = []
            for _ in 0..<200 {
                let c = try TestClient(port: server.port)
                #expect(try c.get("/").status == 200)
                idle.append(c)
            }
            #expect(server.connectionCount == 200)
            for _ in 0..<5 {
                let t = DispatchTime.now().uptimeNanoseconds
                let fresh = try TestClient(port: server.port)
                #expect(try fresh.get("/").status == 200)
                #expect(elapsedMs(since: t) < 500)
            }
            // The idle ones still work too.
            #expect(try idle[0].get("/").status == 200)
            #expect(try idle[199].get("/").status == 200)
        }
    }

    @Test func connectionsAboveTheCapGet503() throws {
        let config = testConfiguration { $0.maxConnections = 2 }
        try withServer(config, handler: { _ in text("ok") }) { server in
            let a = try TestClient(port: server.port)
            let b = try TestClient(port: server.port)
            #expect(try a.get("/").status == 200)
            #expect(try b.get("/").status == 200)
            let c = try TestClient(port: server.port)
            try? c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 503)
            #expect(r.text.contains("SERVICE_UNAVAILABLE"))
            #expect(c.waitForClose())
            // Freeing a slot admits the next client.
            _ = try a.get("/", headers: "Connection: close\r\n")
            #expect(a.waitForClose())
            #expect(eventually { server.connectionCount == 1 })
            let d = try TestClient(port: server.port)
            #expect(try d.get("/").status == 200)
        }
    }

    // MARK: - Uploads

    @Test func largeUploadArrivesAsFileAndIsRemovedAfterwards() throws {
        let dir = makeTemporaryDirectory()
        let config = testConfiguration { $0.temporaryDirectory = dir; $0.bodyFileThreshold = 1 << 20 }
        let seen = Mutex<(path: String, count: Int, exists: Bool, sum: UInt64)?>(nil)
        let size = 20 << 20
        try withServer(config, handler: { r in
            guard case .file(let path, let count) = r.body else { return text("not a file", status: .badRequest) }
            var sum: UInt64 = 0
            let fd = open(path, O_RDONLY)
            var buf = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                for b in buf[0..<n] { sum &+= UInt64(b) }
            }
            close(fd)
            seen.withLock { $0 = (path, count, fileExists(path), sum) }
            return text("stored")
        }) { server in
            var payload = [UInt8](repeating: 0, count: size)
            var expected: UInt64 = 0
            for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i % 251); expected &+= UInt64(payload[i]) }
            let c = try TestClient(port: server.port, timeout: 20)
            try c.send("PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(size)\r\n\r\n")
            try c.send(payload)
            #expect(try c.readResponse().text == "stored")
            let s = try #require(seen.withLock { $0 })
            #expect(s.count == size)
            #expect(s.exists)
            #expect(s.sum == expected)
            #expect(s.path.hasPrefix(dir + "/"))
            #expect(!fileExists(s.path))

            // A chunked body spills once it grows past the threshold.
            try c.send("PUT /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = [UInt8](repeating: 7, count: 1 << 19)
            for _ in 0..<4 { try c.send(Array("80000\r\n".utf8) + chunk + Array("\r\n".utf8)) }
            try c.send("0\r\n\r\n")
            #expect(try c.readResponse().text == "stored")
            #expect(seen.withLock { $0?.count } == 4 << 19)
            #expect(directoryEntries(dir).isEmpty)
        }
        rmdir(dir)
    }

    @Test func handlerMayKeepTheUploadByMovingIt() throws {
        let dir = makeTemporaryDirectory()
        let kept = dir + "/kept.bin"
        let config = testConfiguration { $0.temporaryDirectory = dir; $0.bodyFileThreshold = 1024 }
        try withServer(config, handler: { r in
            guard case .file(let path, _) = r.body, rename(path, kept) == 0 else { return text("no", status: .badRequest) }
            return text("kept")
        }) { server in
            let c = try TestClient(port: server.port)
            try c.send("PUT /u HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n" + String(repeating: "k", count: 4096))
            #expect(try c.readResponse().text == "kept")
            #expect(directoryEntries(dir) == ["kept.bin"])
        }
        unlink(kept)
        rmdir(dir)
    }

    @Test func abandonedUploadLeavesNoTemporaryFile() throws {
        let dir = makeTemporaryDirectory()
        let config = testConfiguration { $0.temporaryDirectory = dir; $0.bodyFileThreshold = 1024 }
        try withServer(config, handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 5000))
            #expect(eventually { !directoryEntries(dir).isEmpty })
            c.abort()
            #expect(eventually { directoryEntries(dir).isEmpty && server.connectionCount == 0 })
        }
        rmdir(dir)
    }

    // MARK: - Shutdown

    @Test func gracefulShutdownFinishesInFlightRequest() throws {
        let entered = DispatchSemaphore(value: 0)
        let server = HTTPServer(configuration: testConfiguration(), handler: ClosureHandler { _ in
            entered.signal()
            usleep(400_000)
            return text("finished")
        }, logger: CapturedLog().logger())
        try server.start()
        let port = server.port
        let idle = try TestClient(port: port)
        #expect(try idle.get("/warmup").status == 200)
        _ = entered.wait(timeout: .now() + 1)

        let c = try TestClient(port: port)
        try c.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(entered.wait(timeout: .now() + 2) == .success)
        let t = DispatchTime.now().uptimeNanoseconds
        server.shutdown(timeout: .seconds(5))
        let took = elapsedMs(since: t)
        #expect(took >= 250 && took < 3000)
        let r = try c.readResponse()
        #expect(r.text == "finished")
        #expect(r.headers["connection"] == "close")
        #expect(idle.waitForClose())
        #expect(server.connectionCount == 0)
        #expect(throws: (any Error).self) { try TestClient(port: port) }
    }
}
