#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Inside `Descriptor` a method of the same name would hide a libc function (`close`, `send`), so
// the methods call the file-scope `system…` wrappers below, where nothing hides it.

// MARK: - Errors

/// A failed socket syscall: its name and `errno`.
public struct SocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The syscall that failed, e.g. `"bind"`.
    public var call: String
    /// `errno` right after the failure.
    public var code: Int32

    /// Captures `errno` for `call`.
    static func last(_ call: String) -> SocketError { SocketError(call: call, code: errno) }

    public var description: String { "\(call): \(String(cString: strerror(code))) (\(code))" }

    /// The disk, the quota or the file-size limit is reached (ENOSPC, EDQUOT, EFBIG).
    var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT || code == EFBIG }
}

// MARK: - Descriptor

/// A socket file descriptor. A plain value: whoever created it closes it.
struct Descriptor: Sendable, Hashable {
    let raw: Int32

    func setNonBlocking() throws(SocketError) {
        let flags = fcntl(raw, F_GETFL, 0)
        guard flags >= 0, fcntl(raw, F_SETFL, flags | O_NONBLOCK) == 0 else { throw .last("fcntl(O_NONBLOCK)") }
    }

    func setCloseOnExec() {
        _ = fcntl(raw, F_SETFD, FD_CLOEXEC)
    }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) throws(SocketError) {
        var v = value
        guard setsockopt(raw, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw .last("setsockopt")
        }
    }

    func close() {
        _ = systemClose(raw)
    }

    /// Half-closes: sends FIN, keeps reading possible.
    func shutdownWrite() {
        #if canImport(Glibc)
        _ = Glibc.shutdown(raw, Int32(SHUT_WR))
        #elseif canImport(Musl)
        _ = Musl.shutdown(raw, Int32(SHUT_WR))
        #else
        _ = Darwin.shutdown(raw, SHUT_WR)
        #endif
    }

    /// `recv(2)` into `buffer`: bytes received, 0 at end of stream, or -1 on an error
    /// (EAGAIN on a non-blocking socket included; `errno` is kept).
    func receive(_ buffer: UnsafeMutableRawBufferPointer, flags: Int32 = 0) -> Int {
        systemReceive(raw, buffer.baseAddress, buffer.count, flags)
    }

    /// Sends as much as the kernel takes; never raises SIGPIPE. Returns bytes sent, 0 on
    /// EAGAIN, or -1 on a real error (EPIPE, ECONNRESET, …; `errno` is kept).
    func send(_ p: UnsafeRawBufferPointer) -> Int {
        guard let base = p.baseAddress, p.count > 0 else { return 0 }
        return retryingSend { systemSend(raw, base, p.count, Int32(MSG_NOSIGNAL)) }
    }

    /// `sendmsg` of up to two buffers in one syscall (head + body).
    func send(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        if b.isEmpty { return send(a) }
        if a.isEmpty { return send(b) }
        var iov = (iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress), iov_len: a.count),
                   iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count))
        return withUnsafeMutablePointer(to: &iov) { iovp -> Int in
            var msg = msghdr()
            msg.msg_iov = UnsafeMutableRawPointer(iovp).assumingMemoryBound(to: iovec.self)
            msg.msg_iovlen = 2
            return retryingSend { sendmsg(raw, &msg, Int32(MSG_NOSIGNAL)) }
        }
    }
}

/// Runs a send-like call again while it is interrupted: its result, 0 on EAGAIN, or -1 on a
/// real error (`errno` is kept).
@inline(__always) private func retryingSend(_ call: () -> Int) -> Int {
    while true {
        let n = call()
        if n >= 0 { return n }
        switch errno {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return 0
        default: return -1
        }
    }
}

/// After a failed call: whether `errno` says it was interrupted (EINTR).
var lastCallWasInterrupted: Bool { errno == EINTR }
/// After a failed call on a non-blocking descriptor: whether `errno` says it would block.
var lastCallWouldBlock: Bool { errno == EAGAIN || errno == EWOULDBLOCK }

/// `unlink(2)`: removes the file at `path` if there is one (cleanup; a failure is ignored).
func removeFile(_ path: String) { _ = unlink(path) }

/// `close(2)` for any descriptor this module owns (sockets, spill and response files).
@inline(__always) func systemClose(_ fd: Int32) -> Int32 {
    close(fd)
}

@inline(__always) private func systemSend(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int, _ flags: Int32) -> Int {
    send(fd, p, n, flags)
}

@inline(__always) private func systemReceive(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int, _ flags: Int32) -> Int {
    recv(fd, p, n, flags)
}

#if !os(Linux)
let MSG_NOSIGNAL: Int32 = 0
#endif

// MARK: - Listener

enum Listener {
    /// Creates a non-blocking listening socket bound to `host:port` (IPv4 or IPv6 literal,
    /// or a name resolved with getaddrinfo). `SO_REUSEADDR` is set before `bind` so a restart
    /// does not fail while old connections sit in TIME_WAIT.
    static func make(host: String, port: Int, backlog: Int32) throws(SocketError) -> (Descriptor, Int) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let info = result else {
            throw SocketError(call: "getaddrinfo(\(host))", code: rc == EAI_SYSTEM ? errno : EINVAL)
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw .last("socket") }
        let d = Descriptor(raw: fd)
        do throws(SocketError) {
            d.setCloseOnExec()
            try d.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { throw SocketError.last("bind") }
            guard listen(fd, backlog) == 0 else { throw SocketError.last("listen") }
            try d.setNonBlocking()
            return (d, try boundPort(d))
        } catch {
            d.close()
            throw error
        }
    }

    static func boundPort(_ d: Descriptor) throws(SocketError) -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(d.raw, $0, &len) }
        }
        guard rc == 0 else { throw .last("getsockname") }
        return portAndAddress(&storage).port
    }

    /// Port and printable address of a socket address.
    static func portAndAddress(_ storage: inout sockaddr_storage) -> (port: Int, address: String) {
        withUnsafeMutablePointer(to: &storage) { sp in
            let raw = UnsafeMutableRawPointer(sp)
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            if Int32(sp.pointee.ss_family) == AF_INET6 {
                let a = raw.assumingMemoryBound(to: sockaddr_in6.self)
                _ = inet_ntop(AF_INET6, &a.pointee.sin6_addr, &text, socklen_t(text.count))
                return (Int(UInt16(bigEndian: a.pointee.sin6_port)), cString(text))
            } else {
                let a = raw.assumingMemoryBound(to: sockaddr_in.self)
                _ = inet_ntop(AF_INET, &a.pointee.sin_addr, &text, socklen_t(text.count))
                return (Int(UInt16(bigEndian: a.pointee.sin_port)), cString(text))
            }
        }
    }

    enum AcceptResult {
        case accepted(Descriptor, peer: String)
        case wouldBlock
        case failed(SocketError)
    }

    /// Accepts one pending connection.
    static func accept(_ listener: Descriptor) -> AcceptResult {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { systemAccept(listener.raw, $0, &len) }
            }
            if fd >= 0 {
                let address = portAndAddress(&storage)
                let host = address.address.contains(":") ? "[\(address.address)]" : address.address
                return .accepted(Descriptor(raw: fd), peer: "\(host):\(address.port)")
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(.last("accept"))
            }
        }
    }
}

@inline(__always) private func systemAccept(_ fd: Int32, _ a: UnsafeMutablePointer<sockaddr>, _ l: UnsafeMutablePointer<socklen_t>) -> Int32 {
    accept(fd, a, l)
}

/// A NUL-terminated C buffer as a String.
func cString(_ text: [CChar]) -> String {
    String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
