#if canImport(Glibc)
import Glibc
#endif

// Minimal blocking BSD-socket helpers for the stand-in server and the `healthcheck` probe.
// Every libc call is module-qualified so a method name never hides it (as in FlyingFox).

/// A failed socket call: the syscall and `errno`.
struct ProbeSocketError: Error, CustomStringConvertible {
    let call: String
    let code: Int32
    static func last(_ call: String) -> ProbeSocketError { ProbeSocketError(call: call, code: errno) }
    static func gai(_ call: String, _ rc: Int32) -> ProbeSocketError { ProbeSocketError(call: "\(call): \(String(cString: gai_strerror(rc)))", code: rc) }
    var description: String { code > 0 ? "\(call): \(String(cString: strerror(code))) (\(code))" : call }
}

/// An owned file descriptor.
struct ProbeSocket: Sendable {
    let raw: Int32

    func close() { _ = Glibc.close(raw) }

    /// Sends all of `bytes`, looping on short writes and EINTR. `MSG_NOSIGNAL`: a peer that went
    /// away gives EPIPE instead of killing the process.
    func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buf -> Int in
                guard let base = buf.baseAddress else { return 0 }
                return Glibc.send(raw, base + offset, buf.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 { if errno == EINTR { continue }; throw ProbeSocketError.last("send") }
            offset += n
        }
    }

    /// Receives up to `max` bytes; empty at end of stream.
    func receive(max: Int = 16_384) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: max) { buf, count in
            while true {
                let n = Glibc.recv(raw, buf.baseAddress, max, 0)
                if n < 0 { if errno == EINTR { continue }; count = 0; throw ProbeSocketError.last("recv") }
                count = n
                return
            }
        }
    }

    /// Sets SO_RCVTIMEO and SO_SNDTIMEO (on Linux the send timeout also bounds `connect`).
    func setTimeouts(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        _ = Glibc.setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = Glibc.setsockopt(raw, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}

enum ProbeSockets {
    /// Resolves `host`:`port` with getaddrinfo and calls `body` for each address until one works.
    static func withAddresses<T>(host: String, port: Int, passive: Bool,
                                 _ body: (UnsafeMutablePointer<addrinfo>) throws -> T) throws -> T {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE | AI_NUMERICSERV : AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = Glibc.getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let list else { throw ProbeSocketError.gai("getaddrinfo \(host)", rc) }
        defer { Glibc.freeaddrinfo(list) }
        var lastError: Error = ProbeSocketError(call: "no address for \(host)", code: 0)
        var node: UnsafeMutablePointer<addrinfo>? = list
        while let ai = node {
            do { return try body(ai) } catch { lastError = error }
            node = ai.pointee.ai_next
        }
        throw lastError
    }

    /// A listening socket on host:port (SO_REUSEADDR set before bind).
    static func listen(host: String, port: Int, backlog: Int32 = 128) throws -> ProbeSocket {
        try withAddresses(host: host, port: port, passive: true) { ai in
            let fd = Glibc.socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            guard fd >= 0 else { throw ProbeSocketError.last("socket") }
            var one: Int32 = 1
            _ = Glibc.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard Glibc.bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
                let e = ProbeSocketError.last("bind \(host):\(port)")
                _ = Glibc.close(fd)
                throw e
            }
            guard Glibc.listen(fd, backlog) == 0 else {
                let e = ProbeSocketError.last("listen")
                _ = Glibc.close(fd)
                throw e
            }
            return ProbeSocket(raw: fd)
        }
    }

    /// The local port a socket is bound to (for `--port 0`).
    static func localPort(_ d: ProbeSocket) throws -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.getsockname(d.raw, $0, &len) }
        }
        guard rc == 0 else { throw ProbeSocketError.last("getsockname") }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            throw ProbeSocketError(call: "getsockname: unexpected address family", code: 0)
        }
    }

    /// A connected socket to host:port, with `timeout` on connect, send and receive.
    static func connect(host: String, port: Int, timeout: Double) throws -> ProbeSocket {
        try withAddresses(host: host, port: port, passive: false) { ai in
            let fd = Glibc.socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
            guard fd >= 0 else { throw ProbeSocketError.last("socket") }
            let d = ProbeSocket(raw: fd)
            d.setTimeouts(timeout)
            guard Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
                let e = ProbeSocketError.last("connect \(host):\(port)")
                d.close()
                throw e
            }
            return d
        }
    }
}
