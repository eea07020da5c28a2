import ArgumentParser
import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// `lightly-server healthcheck`: a tiny HTTP(S) probe for Docker's HEALTHCHECK (the runtime image
/// has no curl). Exit 0 when the URL answers 200, 1 otherwise. An https:// URL is verified against
/// `--ca-file` (else the system's trusted CAs) and the URL's host or `--server-name`.
struct Healthcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 if the server answers 200 at --url (for container health checks).")

    @Option(help: "http:// or https:// URL to GET.") var url = "http://127.0.0.1:8421/health"
    @Option(help: "Seconds before giving up.") var timeout: Double = 5
    @Option(name: .customLong("ca-file"), help: "PEM file of CA certificates to trust for https:// (default: the system's).")
    var caFile: String?
    @Option(name: .customLong("server-name"),
            help: "Name the server certificate must carry, when it differs from the URL's host (e.g. probing 127.0.0.1).")
    var serverName: String?

    func run() throws {
        let target = try HealthURL(url)
        do {
            let tls = target.isTLS ? try HealthTLS(caFile: caFile, serverName: serverName ?? target.host) : nil
            let status = try Self.get(target, timeout: timeout, tls: tls)
            guard status == 200 else { throw CLIError("\(url) answered \(status)") }
        } catch let e as ProbeSocketError {
            throw CLIError("\(url): \(e)")
        }
    }

    /// GETs the URL over a plain socket. - Returns: the status code.
    static func get(_ target: HealthURL, timeout: Double, tls: HealthTLS? = nil) throws -> Int {
        let conn = try ProbeSockets.connect(host: target.host, port: target.port, timeout: timeout)
        defer { conn.close() }
        let session = try tls?.connect(conn)
        let hostHeader = target.host.contains(":") ? "[\(target.host)]:\(target.port)" : "\(target.host):\(target.port)"
        let request = Array("GET \(target.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: lightly-server-healthcheck\r\nConnection: close\r\n\r\n".utf8)
        if let session { try session.sendAll(request) } else { try conn.sendAll(request) }
        var response = [UInt8]()
        while response.count < 65_536, !response.contains(10) {
            let chunk = try session?.receive() ?? conn.receive()
            if chunk.isEmpty { break }
            response += chunk
        }
        // Status line, RFC 9112 §4: HTTP-version SP status-code SP [reason-phrase]
        let line = String(decoding: response.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else {
            throw CLIError("not an HTTP response: \(line.prefix(80))")
        }
        return code
    }
}

/// The parts of an `http(s)://host[:port]/path` URL.
struct HealthURL: Equatable {
    var host: String
    var port: Int
    var path: String
    var isTLS = false

    init(_ text: String) throws {
        isTLS = text.hasPrefix("https://")
        guard text.hasPrefix("http://") || isTLS else { throw ValidationError("--url must start with http:// or https://") }
        let rest = text.dropFirst(isTLS ? "https://".count : "http://".count)
        let defaultPort = isTLS ? 443 : 80
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : defaultPort
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, (1...65_535).contains(port) else { throw ValidationError("invalid --url \(text)") }
    }
}

/// The healthcheck's TLS client settings: which CAs to trust and which name to verify.
final class HealthTLS {
    private let ctx: OpaquePointer
    private let serverName: String

    init(caFile: String?, serverName: String) throws {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw CLIError("TLS setup failed") }
        self.ctx = ctx
        self.serverName = serverName
        _ = copenssl_ctx_set_proto_range(ctx, TLS1_2_VERSION, TLS1_3_VERSION)
        copenssl_ctx_set_client_options(ctx)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        let loaded = caFile.map { SSL_CTX_load_verify_locations(ctx, $0, nil) } ?? SSL_CTX_set_default_verify_paths(ctx)
        guard loaded == 1 else { throw CLIError("cannot load CA certificates \(caFile ?? "(system)"): \(Self.errors())") }
    }

    deinit { SSL_CTX_free(ctx) }

    /// Handshakes over the connected (blocking, time-limited) socket and verifies the server.
    func connect(_ socket: ProbeSocket) throws -> HealthTLSSession {
        guard let ssl = SSL_new(ctx) else { throw CLIError("TLS setup failed") }
        let session = HealthTLSSession(ssl: ssl)
        SSL_set_fd(ssl, socket.raw)
        // An IP address is checked against the certificate's IP entries, a name against its DNS names.
        if serverName.contains(where: { $0.isLetter }) && !serverName.contains(":") {
            _ = copenssl_set_sni(ssl, serverName)
        }
        _ = SSL_set1_host(ssl, serverName)
        ERR_clear_error()
        guard SSL_connect(ssl) == 1 else {
            let verify = SSL_get_verify_result(ssl)
            let reason = verify != X509_V_OK ? String(cString: X509_verify_cert_error_string(verify)) : Self.errors()
            throw CLIError("TLS handshake failed: \(reason)")
        }
        return session
    }

    static func errors() -> String {
        var out: [String] = []
        while case let e = ERR_get_error(), e != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &text, text.count)
            out.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return out.isEmpty ? "connection closed" : out.joined(separator: "; ")
    }
}

/// One verified TLS connection of the healthcheck.
final class HealthTLSSession {
    private let ssl: OpaquePointer
    init(ssl: OpaquePointer) { self.ssl = ssl }
    deinit { SSL_free(ssl) }

    func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buf -> Int32 in
                guard let base = buf.baseAddress else { return 0 }
                return SSL_write(ssl, base + offset, Int32(buf.count - offset))
            }
            guard n > 0 else { throw CLIError("TLS write failed: \(HealthTLS.errors())") }
            offset += Int(n)
        }
    }

    /// Up to 16 KiB; empty at the end of the stream.
    func receive() throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 16_384)
        let n = buf.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        if n > 0 { return Array(buf[..<Int(n)]) }
        if SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN { return [] }
        throw CLIError("TLS read failed: \(HealthTLS.errors())")
    }
}
