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

// MARK: - Raw socket client

struct TestClientError: Error, CustomStringConvertible {
    var description: String
}

struct TestResponse {
    var status: Int
    var headers: [String: String]   // lower-cased names
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking POSIX-socket HTTP client with a receive timeout, so a broken server fails the
/// test instead of hanging it.
final class TestClient {
    let fd: Int32
    private var pending: [UInt8] = []

    /// - Parameter source: An IPv4 address to connect from (e.g. `127.0.0.2`); default: the kernel picks.
    init(port: Int, host: String = "127.0.0.1", timeout: Int = 5, source: String? = nil) throws {
        // A numeric host (IPv4 or IPv6 literal) through getaddrinfo: one path for both families.
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let ai = list else {
            throw TestClientError(description: "bad address \(host)")
        }
        defer { freeaddrinfo(list) }
        fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
        guard fd >= 0 else { throw TestClientError(description: "socket failed") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let rc = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                Glibc.close(fd)
                throw TestClientError(description: "bind to \(source) failed: errno \(errno)")
            }
        }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            let e = errno
            Glibc.close(fd)
            throw TestClientError(description: "connect failed: errno \(e)")
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestClientError(description: "send failed: errno \(errno)")
            }
            off += n
        }
    }

    struct ReceiveError: Error { var code: Int32 }

    /// One `recv`, retried on EINTR: the bytes, empty at end of stream. Throws on timeout or error.
    private func receive() throws(ReceiveError) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return Array(buf[0..<n]) }
            if errno != EINTR { throw ReceiveError(code: errno) }
        }
    }

    /// Reads more bytes into `pending`; false on EOF. Throws on timeout or error.
    @discardableResult
    private func fill() throws -> Bool {
        let bytes = try receive()
        pending += bytes
        return !bytes.isEmpty
    }

    func readResponse(isHEAD: Bool = false) throws -> TestResponse {
        while true {
            if let end = headEnd() {
                let headText = String(decoding: pending[..<end], as: UTF8.self)
                var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: true)
                guard !lines.isEmpty else { throw TestClientError(description: "empty head") }
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                    throw TestClientError(description: "bad status line \(headText)")
                }
                var headers: [String: String] = [:]
                for line in lines {
                    guard let c = line.firstIndex(of: ":") else { continue }
                    headers[line[..<c].lowercased()] = String(line[line.index(after: c)...].drop { $0 == " " })
                }
                let length = (isHEAD || status < 200) ? 0 : Int(headers["content-length"] ?? "0") ?? 0
                while pending.count < end + 4 + length {
                    guard try fill() else { throw TestClientError(description: "EOF in body") }
                }
                let body = Array(pending[(end + 4)..<(end + 4 + length)])
                pending.removeFirst(end + 4 + length)
                return TestResponse(status: status, headers: headers, body: body)
            }
            guard try fill() else { throw TestClientError(description: "EOF before response") }
        }
    }

    private func headEnd() -> Int? {
        guard pending.count >= 4 else { return nil }
        for i in 0...(pending.count - 4)
        where pending[i] == 13 && pending[i + 1] == 10 && pending[i + 2] == 13 && pending[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// True if the server closes the connection (EOF or reset) within the receive timeout.
    func waitForClose() -> Bool {
        while true {
            do {
                if try receive().isEmpty { return true }
            } catch {
                return error.code == ECONNRESET
            }
        }
    }

    /// Closes with an RST (SO_LINGER 0), like a client that crashes.
    func abort() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    func readSome(_ count: Int) throws {
        while pending.count < count { guard try fill() else { return } }
    }

    func get(_ path: String, headers: String = "") throws -> TestResponse {
        try send("GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n")
        return try readResponse()
    }
}

// MARK: - Server fixture

/// Records log entries so tests can check the access log.
final class CapturedLog: Sendable {
    let entries = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    func logger() -> Logger {
        var l = Logger(label: "test") { _ in CapturingHandler(log: self) }
        l.logLevel = .info
        return l
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            log.entries.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
        }
    }
}

func testConfiguration(_ tweak: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
    var c = HTTPServerConfiguration(port: 0, headerTimeout: .seconds(1), idleTimeout: .seconds(5),
                                    bodyTimeout: .seconds(1), workerCount: 4, serverName: "test-server")
    tweak(&c)
    return c
}

/// Starts a server on port 0, runs `body`, and always shuts it down.
func withServer(_ configuration: HTTPServerConfiguration = testConfiguration(),
                log: CapturedLog = CapturedLog(),
                handler: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse,
                _ body: (HTTPServer) throws -> Void) throws {
    let server = HTTPServer(configuration: configuration, handler: ClosureHandler(handler), logger: log.logger())
    try server.start()
    defer { server.shutdown(timeout: .seconds(2)) }
    try body(server)
}

func text(_ s: String, status: HTTPStatus = .ok) -> HTTPResponse {
    HTTPResponse(status: status, contentType: "text/plain", body: Data(s.utf8))
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Double = 3, _ condition: () -> Bool) -> Bool {
    let end = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
    while DispatchTime.now().uptimeNanoseconds < end {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/httpkit-test-XXXXXX".utf8CString)
    _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return cString(template)
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func directoryEntries(_ dir: String) -> [String] {
    guard let d = opendir(dir) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}
