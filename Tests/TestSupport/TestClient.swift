// Test support shared by the test targets (test targets cannot import each other): a blocking
// loopback HTTP/1.1 client and a process runner. Not part of any product.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Raw socket client

public struct TestClientError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

public struct TestResponse {
    public var status: Int
    public var headers: [String: String]   // lower-cased names
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A test client that reads HTTP/1.1 responses from a buffer it refills (a plain socket or TLS).
public protocol ResponseReading: AnyObject {
    /// Received bytes not consumed yet.
    var pending: [UInt8] { get set }
    /// Reads more bytes into `pending`; false on EOF. Throws on timeout or error.
    @discardableResult func fill() throws -> Bool
}

extension ResponseReading {
    /// Reads one Content-Length-framed response (no body after HEAD or a 1xx status). The body
    /// is handed to `sink` in pieces when given (for large downloads), else returned.
    public func readResponse(isHEAD: Bool = false, sink: (([UInt8]) -> Void)? = nil) throws -> TestResponse {
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
                var left = (isHEAD || status < 200) ? 0 : Int(headers["content-length"] ?? "0") ?? 0
                pending.removeFirst(end + 4)
                var body: [UInt8] = []
                while left > 0 {
                    if pending.isEmpty { guard try fill() else { throw TestClientError(description: "EOF in body") } }
                    let take = min(left, pending.count)
                    if let sink { sink(Array(pending[..<take])) } else { body += pending[..<take] }
                    pending.removeFirst(take)
                    left -= take
                }
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
}

/// A blocking POSIX-socket HTTP client with a receive timeout, so a broken server fails the
/// test instead of hanging it.
public final class TestClient: ResponseReading {
    public let fd: Int32
    public var pending: [UInt8] = []

    /// - Parameter source: An IPv4 address to connect from (e.g. `127.0.0.2`); default: the kernel picks.
    public init(port: Int, host: String = "127.0.0.1", timeout: Int = 5, source: String? = nil) throws {
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

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
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

    public struct ReceiveError: Error { public var code: Int32 }

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
    public func fill() throws -> Bool {
        let bytes = try receive()
        pending += bytes
        return !bytes.isEmpty
    }

    /// True if the server closes the connection (EOF or reset) within the receive timeout.
    public func waitForClose() -> Bool {
        while true {
            do {
                if try receive().isEmpty { return true }
            } catch {
                return error.code == ECONNRESET
            }
        }
    }

    /// Closes with an RST (SO_LINGER 0), like a client that crashes.
    public func abort() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    public func readSome(_ count: Int) throws {
        while pending.count < count { guard try fill() else { return } }
    }

    public func get(_ path: String, headers: String = "") throws -> TestResponse {
        try send("GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n")
        return try readResponse()
    }
}
