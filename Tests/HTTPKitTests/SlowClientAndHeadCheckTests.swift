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

private func msSince(_ start: UInt64) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

/// Slow clients (transfer rate, per-address limit, the cap's eviction) and the head check
/// (`HTTPHandler.inspectHead`).
@Suite struct SlowClientTests {
    /// Timeouts long enough that only the rate check can fire within a test.
    private func rateConfiguration(_ tweak: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
        testConfiguration {
            $0.headerTimeout = .seconds(20)
            $0.bodyTimeout = .seconds(20)
            $0.minTransferRate = 1000
            $0.transferRateWindow = .milliseconds(500)
            tweak(&$0)
        }
    }

    @Test func tricklingBodyGets408AfterOneRateWindow() throws {
        try withServer(rateConfiguration(), handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            let start = DispatchTime.now().uptimeNanoseconds
            // One byte every 100 ms: never 20 s without progress, far below 1000 bytes/s.
            var sent = 0
            while msSince(start) < 3000, (try? c.send("x")) != nil {
                sent += 1
                usleep(100_000)
                var pending = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
                if poll(&pending, 1, 0) > 0 { break }
            }
            let r = try c.readResponse()
            #expect(r.status == 408)
            #expect(r.text.contains("too slowly"))
            #expect(c.waitForClose())
            let waited = msSince(start)
            #expect(waited >= 400 && waited < 2500, "dropped after \(waited) ms")
            #expect(eventually { server.connectionCount == 0 })
        }
    }

    @Test func tricklingHeadGets408AfterOneRateWindow() throws {
        try withServer(rateConfiguration(), handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            let start = DispatchTime.now().uptimeNanoseconds
            for b in "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8 {
                guard msSince(start) < 1500, (try? c.send([b])) != nil else { break }
                usleep(50_000)
            }
            let r = try c.readResponse()
            #expect(r.status == 408)
            #expect(msSince(start) < 2500)
        }
    }

    @Test func fastBodiesPassTheRateCheck() throws {
        try withServer(rateConfiguration(), handler: { r in text("got \(r.body.count)") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6000\r\n\r\n")
            // 6000 bytes over ~1.2 s: 5000 bytes/s, above the 1000 bytes/s minimum in every window.
            for _ in 0..<12 {
                try c.send([UInt8](repeating: 65, count: 500))
                usleep(100_000)
            }
            #expect(try c.readResponse().text == "got 6000")
        }
    }

    @Test func rateCheckOffWhenZero() throws {
        let config = rateConfiguration { $0.minTransferRate = 0 }
        try withServer(config, handler: { _ in text("ok") }) { server in
            let c = try TestClient(port: server.port)
            try c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\na")
            usleep(1_200_000)
            try c.send("bc")
            #expect(try c.readResponse().status == 200)
        }
    }

    @Test func perAddressLimitAnswers503AndOtherAddressesAreServed() throws {
        let config = testConfiguration { $0.maxConnectionsPerAddress = 3 }
        try withServer(config, handler: { _ in text("ok") }) { server in
            var held: [TestClient] = []
            for _ in 0..<3 {
                let c = try TestClient(port: server.port, source: "127.0.0.2")
                #expect(try c.get("/").status == 200)
                held.append(c)
            }
            let fourth = try TestClient(port: server.port, source: "127.0.0.2")
            try? fourth.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let r = try fourth.readResponse()
            #expect(r.status == 503)
            #expect(r.text.contains("from your address"))
            let other = try TestClient(port: server.port, source: "127.0.0.1")
            #expect(try other.get("/").status == 200)
            #expect(held.count == 3)
        }
    }

    @Test func atTheCapAnotherAddressTakesTheBusiestAddressesPlace() throws {
        let config = testConfiguration {
            $0.maxConnections = 10
            $0.maxConnectionsPerAddress = 0
            $0.headerTimeout = .seconds(20)
            $0.minTransferRate = 0
        }
        try withServer(config, handler: { _ in text("ok") }) { server in
            // Ten connections from one address, each in the middle of a request head.
            var attackers: [TestClient] = []
            for _ in 0..<10 {
                let c = try TestClient(port: server.port, source: "127.0.0.2")
                try c.send("GET / HTTP/1.1\r\nHost: t\r\n")
                attackers.append(c)
            }
            #expect(eventually { server.connectionCount == 10 })
            // Another of the same address is refused: it is the busiest one.
            let more = try TestClient(port: server.port, source: "127.0.0.2")
            try? more.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try more.readResponse().status == 503)
            // Clients from another address are served at once; for each one that stays
            // connected, one attacker gives way.
            var normals: [TestClient] = []
            for _ in 0..<3 {
                let t = DispatchTime.now().uptimeNanoseconds
                let normal = try TestClient(port: server.port, source: "127.0.0.1")
                #expect(try normal.get("/").status == 200)
                #expect(msSince(t) < 1000)
                normals.append(normal)
            }
            func evicted() -> Int {
                attackers.filter { a in
                    var p = pollfd(fd: a.fd, events: Int16(POLLIN), revents: 0)
                    return poll(&p, 1, 0) > 0
                }.count
            }
            #expect(eventually { evicted() == 3 })
            #expect(evicted() == 3)
            #expect(try normals[0].get("/").status == 200)
        }
    }

    // MARK: - Head check

    @Test func rejectedHeadIsAnsweredBeforeTheBodyAndNothingIsSpooled() throws {
        let dir = makeTemporaryDirectory()
        let config = testConfiguration { $0.temporaryDirectory = dir; $0.bodyFileThreshold = 1024 }
        let handled = Atomic<Int>(0)
        let handler = ClosureHandler(inspectHead: { r in
            r.query("token") == "good" ? .proceed : .reject(text("no token", status: .unauthorized))
        }, { r in
            handled.add(1, ordering: .relaxed)
            return text("got \(r.body.count)")
        })
        let server = HTTPServer(configuration: config, handler: handler, logger: CapturedLog().logger())
        try server.start()
        defer { server.shutdown(timeout: .seconds(2)) }
        // 300 MB announced, not one byte of it sent: the answer comes from the head alone.
        let c = try TestClient(port: server.port)
        try c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 300000000\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 401)
        #expect(r.headers["connection"] == "close")
        #expect(c.waitForClose())
        // Also when the client sends body bytes right away: they are discarded, not stored.
        let d = try TestClient(port: server.port)
        try d.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 300000000\r\n\r\n" + String(repeating: "x", count: 200_000))
        #expect(try d.readResponse().status == 401)
        #expect(directoryEntries(dir).isEmpty)
        #expect(handled.load(ordering: .relaxed) == 0)
        // An accepted head goes on to read the body.
        let e = try TestClient(port: server.port)
        try e.send("POST /upload?token=good HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "y", count: 5000))
        #expect(try e.readResponse().text == "got 5000")
        #expect(eventually { directoryEntries(dir).isEmpty })
    }

    @Test func expect100ContinueIsSentOnlyAfterTheHeadCheck() throws {
        let gate = DispatchSemaphore(value: 0)
        let handler = ClosureHandler(inspectHead: { r in
            gate.wait()
            return r.query("token") == "good" ? .proceed : .reject(text("no", status: .unauthorized))
        }, { r in text("got \(r.body.count)") })
        let server = HTTPServer(configuration: testConfiguration(), handler: handler, logger: CapturedLog().logger())
        try server.start()
        defer { server.shutdown(timeout: .seconds(2)) }

        let c = try TestClient(port: server.port, timeout: 1)
        try c.send("PUT /x?token=good HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        // While the check has not decided, nothing (no 100) may arrive.
        var p = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&p, 1, 300) == 0)
        gate.signal()
        #expect(try c.readResponse().status == 100)
        try c.send("abcd")
        #expect(try c.readResponse().text == "got 4")

        // A refused head gets the refusal instead of 100.
        let d = try TestClient(port: server.port)
        try d.send("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        gate.signal()
        let r = try d.readResponse()
        #expect(r.status == 401)
        #expect(d.waitForClose())
    }

    @Test func bodylessRequestsSkipTheHeadCheck() throws {
        let inspected = Atomic<Int>(0)
        let handler = ClosureHandler(inspectHead: { _ in
            inspected.add(1, ordering: .relaxed)
            return .reject(text("no", status: .unauthorized))
        }, { _ in text("ok") })
        let server = HTTPServer(configuration: testConfiguration(), handler: handler, logger: CapturedLog().logger())
        try server.start()
        defer { server.shutdown(timeout: .seconds(2)) }
        let c = try TestClient(port: server.port)
        #expect(try c.get("/").status == 200)
        #expect(inspected.load(ordering: .relaxed) == 0)
    }

    @Test func rejectedHeadIsInTheAccessLogRedacted() throws {
        let log = CapturedLog()
        let handler = ClosureHandler(inspectHead: { _ in .reject(text("no", status: .unauthorized)) }, { _ in text("ok") })
        let server = HTTPServer(configuration: testConfiguration(), handler: handler, logger: log.logger())
        try server.start()
        let c = try TestClient(port: server.port)
        try c.send("POST /v1/x?TOKEN=secret1 HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
        #expect(try c.readResponse().status == 401)
        server.shutdown(timeout: .seconds(2))
        let line = try #require(log.entries.withLock { $0.first { $0.message == "request" } })
        #expect("\(line.metadata["http.target"] ?? "")" == "/v1/x?TOKEN=REDACTED")
        #expect("\(line.metadata["http.status"] ?? "")" == "401")
    }
}

@Suite struct RedactionVariantTests {
    static let token = "lt_" + String(repeating: "0123456789abcdef", count: 4)
    static let names: Set<String> = ["token", "sig"]

    @Test(arguments: [
        "/v1/datasets/abc?TOKEN=\(token)",
        "/v1/datasets/abc?Token=\(token)",
        "/v1/datasets/abc?token%00=\(token)",
        "/v1/datasets/abc?token[]=\(token)",
        "/v1/datasets/abc?x=1??token=\(token)",
        "/v1/datasets/abc?%74oken=\(token)",
        "/v1/datasets/\(token)",
        "/v1/datasets/abc#token=\(token)",
        "/v1/datasets/abc?a=1&b=\(token)",
        "/v1/datasets/abc?a=%6C%74_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "/v1/datasets/abc;token=\(token)",
    ])
    func noTokenSurvives(target: String) {
        let out = redactQuery(target: target, names: Self.names)
        #expect(!out.contains("0123456789abcdef"), "\(out)")
        #expect(!out.lowercased().contains("lt_"), "\(out)")
        #expect(!out.contains("%6C%74_"), "\(out)")
        #expect(out.contains("REDACTED"))
    }

    @Test func shortSecretsByNameAndSignatures() {
        #expect(redactQuery(target: "/v1/x?TOKEN=short&keep=1", names: Self.names) == "/v1/x?TOKEN=REDACTED&keep=1")
        #expect(redactQuery(target: "/v1/x?token[]=a&token=b", names: Self.names) == "/v1/x?token[]=REDACTED&token=REDACTED")
        let sig = String(repeating: "ab", count: 32)
        #expect(redactQuery(target: "/signed/s/1/2/full?expires=9&SIG=\(sig)", names: Self.names)
                == "/signed/s/1/2/full?expires=9&SIG=REDACTED")
        #expect(redactQuery(target: "/x/\(sig)/y", names: []) == "/x/REDACTED/y")
    }

    @Test func ordinaryTargetsAreUntouched() {
        for t in ["/v1/datasets/0123456789abcdef01234567/samples?shared=False&tokens=2",
                  "/v1/datasets?a=b", "/", "/health", "/v1/x?ltX=1&lt=2"] {
            #expect(redactQuery(target: t, names: Self.names) == t)
        }
    }
}
