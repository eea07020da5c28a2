import COpenSSL

/// TLS for an ``HTTPServer``: the certificate chain and private key (PEM files) and how long a
/// client has to complete the handshake. Only TLS 1.2 and 1.3 are offered; ALPN selects
/// `http/1.1`.
///
/// ```swift
/// var config = HTTPServerConfiguration(port: 8443)
/// config.tls = TLSConfiguration(certificateChainFile: "server.pem", privateKeyFile: "server.key")
/// ```
public struct TLSConfiguration: Sendable, Equatable {
    /// PEM file with the server certificate first, then any intermediate certificates.
    public var certificateChainFile: String
    /// PEM file with the private key of the first certificate (unencrypted).
    public var privateKeyFile: String
    /// Time from accepting a connection until its handshake must be complete; then it is
    /// closed. Default 10 s.
    public var handshakeTimeout: Duration

    /// Creates a TLS configuration.
    public init(certificateChainFile: String, privateKeyFile: String, handshakeTimeout: Duration = .seconds(10)) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.handshakeTimeout = handshakeTimeout
    }
}

/// A certificate or key that could not be loaded, or another TLS setup failure, with
/// OpenSSL's reasons.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    /// What was being done, e.g. `"load certificate chain server.pem"`.
    public var operation: String
    /// OpenSSL's error strings, oldest first.
    public var reasons: [String]

    public var description: String {
        reasons.isEmpty ? operation : "\(operation): \(reasons.joined(separator: "; "))"
    }

    /// Captures and clears this thread's OpenSSL error queue.
    static func drain(_ operation: String) -> TLSError {
        TLSError(operation: operation, reasons: openSSLErrors())
    }
}

/// Empties this thread's OpenSSL error queue into readable strings.
func openSSLErrors() -> [String] {
    var out: [String] = []
    while true {
        let e = ERR_get_error()
        if e == 0 { break }
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(e, &text, text.count)
        out.append(cString(text))
    }
    return out
}

/// One server `SSL_CTX`: certificate, key and protocol policy. Immutable once made, so
/// connections on any thread create sessions from it. A reload makes a new one; sessions keep
/// the context they were created from alive (OpenSSL counts references).
final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer

    /// TLS 1.2 suites: forward-secret AEAD only (TLS 1.3 suites are all of that kind).
    static let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// Loads the chain and key and checks that they belong together.
    init(_ c: TLSConfiguration) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw .drain("SSL_CTX_new") }
        self.ctx = ctx
        guard copenssl_ctx_set_proto_range(ctx, TLS1_2_VERSION, TLS1_3_VERSION) == 1 else {
            throw .drain("restrict protocol versions to TLS 1.2-1.3")
        }
        copenssl_ctx_set_server_options(ctx)
        // Partial writes: SSL_write returns after each record, so progress is visible to the
        // connection's deadline. Moving buffer: a retried write may come from a copy.
        // Release buffers: an idle keep-alive connection does not hold 2 × 17 KiB.
        copenssl_ctx_set_mode(ctx, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                                       | SSL_MODE_RELEASE_BUFFERS))
        guard SSL_CTX_set_cipher_list(ctx, Self.tls12Ciphers) == 1 else { throw .drain("set TLS 1.2 ciphers") }
        copenssl_ctx_select_alpn_http11(ctx)
        guard SSL_CTX_use_certificate_chain_file(ctx, c.certificateChainFile) == 1 else {
            throw .drain("load certificate chain \(c.certificateChainFile)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, c.privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw .drain("load private key \(c.privateKeyFile)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw .drain("private key \(c.privateKeyFile) does not match certificate \(c.certificateChainFile)")
        }
    }

    deinit { SSL_CTX_free(ctx) }

    /// A server session on the connected socket `fd`; `nil` when OpenSSL is out of memory.
    func makeSession(fd: Descriptor) -> TLSSession? {
        guard let ssl = SSL_new(ctx) else { return nil }
        guard SSL_set_fd(ssl, fd.raw) == 1 else { SSL_free(ssl); return nil }
        SSL_set_accept_state(ssl)
        return TLSSession(ssl: ssl)
    }
}
