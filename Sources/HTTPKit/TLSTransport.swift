#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import COpenSSL

/// The outcome of one read from a transport.
enum TransportRead {
    /// This many bytes were stored.
    case bytes(Int)
    /// Nothing available now; the socket's read source fires when there is.
    case wouldBlock
    /// The peer finished sending (FIN, or TLS close_notify).
    case endOfStream
    /// A socket or TLS error: the connection is unusable.
    case failed
}

/// How a connection moves bytes: straight through the socket, or through a TLS session on it.
/// Both are driven by the connection's Dispatch sources; neither ever blocks.
enum ConnectionTransport {
    case plain(Descriptor)
    case tls(Descriptor, TLSSession)

    var isTLS: Bool {
        if case .tls = self { return true }
        return false
    }

    var descriptor: Descriptor {
        switch self {
        case .plain(let d), .tls(let d, _): d
        }
    }

    /// Reads what is available into `buffer`.
    func receive(_ buffer: UnsafeMutableRawBufferPointer) -> TransportRead {
        switch self {
        case .plain(let d):
            guard let base = buffer.baseAddress else { return .failed }
            while true {
                let n = recv(d.raw, base, buffer.count, 0)
                if n > 0 { return .bytes(n) }
                if n == 0 { return .endOfStream }
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock : .failed
            }
        case .tls(_, let session):
            return session.read(buffer)
        }
    }

    /// Sends from `a` then `b`; the same contract as ``Descriptor/send(_:_:)``: bytes taken,
    /// 0 when the socket is full (wait for writable and call again with the same bytes), -1 on
    /// error.
    func send(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        switch self {
        case .plain(let d): d.send(a, b)
        case .tls(_, let session): session.write(a, b)
        }
    }

    /// Sends from `bytes`; see ``send(_:_:)``.
    func send(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch self {
        case .plain(let d): d.send(bytes)
        case .tls(_, let session): session.write(bytes)
        }
    }

    /// Plaintext the TLS layer decrypted but the connection has not read yet. The socket's
    /// read source cannot see it, so a reader that stopped early must come back for it.
    var hasBufferedInput: Bool {
        switch self {
        case .plain: false
        case .tls(_, let session): session.hasBufferedInput
        }
    }

    /// Ends the sending side: TLS close_notify (best effort), then FIN.
    func shutdownWrite() {
        if case .tls(_, let session) = self { session.sendCloseNotify() }
        descriptor.shutdownWrite()
    }

    /// Frees the TLS session and closes the socket.
    func close() {
        if case .tls(_, let session) = self { session.free() }
        descriptor.close()
    }
}

/// One server-side TLS session over a non-blocking socket. Confined to its connection's queue.
final class TLSSession {
    enum HandshakeStep {
        case done
        case wantRead
        case wantWrite
        /// The client spoke plain HTTP to the TLS port; nothing was sent to it yet.
        case plainHTTP
        case failed(String)
    }

    private var ssl: OpaquePointer?
    /// After a fatal TLS error OpenSSL must not be asked to send close_notify.
    private var isBroken = false

    init(ssl: OpaquePointer) { self.ssl = ssl }

    deinit { free() }

    func free() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
    }

    /// The ALPN protocol agreed on, if any.
    var negotiatedProtocol: String? {
        guard let ssl else { return nil }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// Advances the handshake as far as the socket allows.
    func handshake() -> HandshakeStep {
        guard let ssl else { return .failed("session freed") }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 { return .done }
        let error = SSL_get_error(ssl, rc)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            isBroken = true
            let first = ERR_peek_error()
            if ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_HTTP_REQUEST {
                ERR_clear_error()
                return .plainHTTP
            }
            let reasons = openSSLErrors()
            if error == SSL_ERROR_SYSCALL && reasons.isEmpty {
                return .failed(errno == 0 ? "connection closed during handshake" : String(cString: strerror(errno)))
            }
            return .failed(reasons.isEmpty ? "SSL error \(error)" : reasons.joined(separator: "; "))
        }
    }

    fileprivate func read(_ buffer: UnsafeMutableRawBufferPointer) -> TransportRead {
        guard let ssl, let base = buffer.baseAddress else { return .failed }
        ERR_clear_error()
        let n = SSL_read(ssl, base, Int32(clamping: buffer.count))
        if n > 0 { return .bytes(Int(n)) }
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ:
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            // Only a TLS 1.3 key update can make a read write, and its reply is flushed by the
            // next write; meanwhile the socket's read source keeps the connection going.
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .endOfStream
        default:
            isBroken = true
            ERR_clear_error()
            return .failed
        }
    }

    /// Largest head + body copied together into one TLS record instead of two.
    private static let coalesceLimit = 16 * 1024

    fileprivate func write(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        if b.isEmpty { return write(a) }
        if a.isEmpty { return write(b) }
        // A small response in one record: one syscall, like the plain path's sendmsg. The
        // choice depends only on the sizes, so a retry after "socket full" repeats it exactly,
        // as OpenSSL requires.
        if a.count + b.count <= Self.coalesceLimit {
            return withUnsafeTemporaryAllocation(byteCount: a.count + b.count, alignment: 16) { joined in
                joined.copyMemory(from: a)
                UnsafeMutableRawBufferPointer(rebasing: joined[a.count...]).copyMemory(from: b)
                return write(UnsafeRawBufferPointer(joined))
            }
        }
        let first = write(a)
        guard first == a.count else { return first }
        let second = write(b)
        return second < 0 ? -1 : first + second
    }

    fileprivate func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let ssl else { return -1 }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        ERR_clear_error()
        let n = SSL_write(ssl, base, Int32(clamping: bytes.count))
        if n > 0 { return Int(n) }
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_WRITE:
            return 0
        default:
            // WANT_READ cannot happen without renegotiation, which is disabled.
            isBroken = true
            ERR_clear_error()
            return -1
        }
    }

    fileprivate var hasBufferedInput: Bool {
        guard let ssl else { return false }
        return SSL_pending(ssl) > 0
    }

    /// Sends close_notify if the session is healthy; never waits for the peer's.
    fileprivate func sendCloseNotify() {
        guard let ssl, !isBroken, SSL_is_init_finished(ssl) == 1 else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }
}
