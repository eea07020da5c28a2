import ArgumentParser

/// `lightly-server healthcheck`: a tiny HTTP probe for Docker's HEALTHCHECK (the runtime image has
/// no curl). Exit 0 when the URL answers 200, 1 otherwise.
struct Healthcheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 if the server answers 200 at --url (for container health checks).")

    @Option(help: "http:// URL to GET.") var url = "http://127.0.0.1:8421/health"
    @Option(help: "Seconds before giving up.") var timeout: Double = 5

    func run() throws {
        let target = try HealthURL(url)
        do {
            let status = try Self.get(target, timeout: timeout)
            guard status == 200 else { throw CLIError("\(url) answered \(status)") }
        } catch let e as ProbeSocketError {
            throw CLIError("\(url): \(e)")
        }
    }

    /// GETs the URL over a plain socket. - Returns: the status code.
    static func get(_ target: HealthURL, timeout: Double) throws -> Int {
        let conn = try ProbeSockets.connect(host: target.host, port: target.port, timeout: timeout)
        defer { conn.close() }
        let hostHeader = target.host.contains(":") ? "[\(target.host)]:\(target.port)" : "\(target.host):\(target.port)"
        try conn.sendAll(Array("GET \(target.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: lightly-server-healthcheck\r\nConnection: close\r\n\r\n".utf8))
        var response = [UInt8]()
        while response.count < 65_536, !response.contains(10) {
            let chunk = try conn.receive()
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

/// The parts of an `http://host[:port]/path` URL (no TLS: the probe runs inside the container).
struct HealthURL: Equatable {
    var host: String
    var port: Int
    var path: String

    init(_ text: String) throws {
        guard text.hasPrefix("http://") else { throw ValidationError("--url must start with http://") }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 80
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        } else {
            host = String(authority)
            port = 80
        }
        guard !host.isEmpty, (1...65_535).contains(port) else { throw ValidationError("invalid --url \(text)") }
    }
}
