#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that tunes an ``HTTPServer``. Every field has a production default.
///
/// ```swift
/// var config = HTTPServerConfiguration(port: 8080)
/// config.host = "0.0.0.0"
/// config.headerTimeout = .seconds(5)
/// ```
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind: an IPv4 or IPv6 literal (`"127.0.0.1"`, `"0.0.0.0"`, `"::1"`, `"::"`)
    /// or a host name. Default `"127.0.0.1"`.
    public var host: String
    /// TCP port; `0` picks a free one (read it back from ``HTTPServer/port``). Default 8080.
    public var port: Int
    /// Limit for the request line plus headers; over it the server answers 431 and closes.
    /// Default 64 KiB.
    public var maxHeaderBytes: Int
    /// Limit for a request body. A larger `Content-Length` gets 413 before the body is read;
    /// a chunked body growing past it gets 413 and the connection closes. Default 4 GiB.
    public var maxBodyBytes: Int
    /// Bodies larger than this are streamed to a temporary file and handed to the handler as
    /// ``HTTPRequestBody/file(path:count:)``. Default 8 MiB.
    public var bodyFileThreshold: Int
    /// Directory for spilled request bodies. Default `$TMPDIR` or `/tmp`.
    public var temporaryDirectory: String
    /// Time from the first byte of a request until its headers must be complete; otherwise
    /// 408 and close. Counted from the first byte, so clients trickling bytes (slowloris) are
    /// cut off too. Default 10 s.
    public var headerTimeout: Duration
    /// How long a keep-alive connection may sit idle between requests. Default 60 s.
    public var idleTimeout: Duration
    /// How long a request body, or a response being written, may make no progress before the
    /// connection is closed. Default 30 s.
    public var bodyTimeout: Duration
    /// Open connections at most. At the cap, a newcomer from an address that holds fewer
    /// connections than the busiest address takes the place of one of that address's
    /// connections that is idle or still receiving its request (that one gets 503 and is
    /// closed); otherwise the newcomer gets 503. So one address filling the cap cannot lock
    /// out the others. Default 1024.
    public var maxConnections: Int
    /// Open connections one client address (IP, without port) may hold; more get 503 at once.
    /// `0` means no limit (use it behind a reverse proxy, where every client shares the
    /// proxy's address). Default 256.
    public var maxConnectionsPerAddress: Int
    /// Bytes per second a client must at least send while a request (head or body) is
    /// arriving, and receive while a response is being written, averaged over
    /// ``transferRateWindow``. A request slower than that gets 408 and the connection is
    /// closed; a response reader that slow is disconnected. Stops clients that trickle a byte
    /// now and then from holding a connection forever. `0` turns the check off. Default 1024.
    public var minTransferRate: Int
    /// The span over which ``minTransferRate`` is measured: a transfer is checked at the end
    /// of every such window. Default 10 s.
    public var transferRateWindow: Duration
    /// Threads that run handlers. Default `max(4, 2 × cores)`.
    public var workerCount: Int
    /// Query parameters whose values the access log replaces with `REDACTED`.
    /// Default `["token", "sig"]`.
    public var redactedQueryParameters: Set<String>
    /// Where access-log lines go. `nil` (the default): one `info` message `request` per request
    /// to the server's logger, with the fields as metadata. Set: the line is formatted straight
    /// into bytes (the same text swift-log's `StreamLogHandler` would print for that message)
    /// and written in batches by the ``AccessLogWriter``, whatever the logger's level; the
    /// server flushes it when ``HTTPServer/shutdown(timeout:)`` finishes.
    public var accessLog: AccessLogWriter?
    /// The `Server` response header; empty for none. Default `"HTTPKit"`.
    public var serverName: String
    /// The body of the answers the server gives on its own, without the handler: 400 and 505
    /// for requests it cannot parse, 413, 431, 408, 503 over ``maxConnections``, and 500 when
    /// the handler throws or a response file cannot be opened. Default ``plainTextErrorBody``.
    public var errorBody: ErrorBody = HTTPServerConfiguration.plainTextErrorBody
    /// `listen(2)` backlog. Default 1024.
    public var backlog: Int
    /// Serve HTTPS: certificate, key and handshake deadline. `nil` (the default) serves plain
    /// HTTP. See ``HTTPServer/reloadTLS()`` for replacing the certificate while running.
    public var tls: TLSConfiguration?

    /// Creates a configuration; every parameter has the documented default.
    public init(host: String = "127.0.0.1",
                port: Int = 8080,
                maxHeaderBytes: Int = 64 * 1024,
                maxBodyBytes: Int = 4 << 30,
                bodyFileThreshold: Int = 8 << 20,
                temporaryDirectory: String = HTTPServerConfiguration.defaultTemporaryDirectory,
                headerTimeout: Duration = .seconds(10),
                idleTimeout: Duration = .seconds(60),
                bodyTimeout: Duration = .seconds(30),
                maxConnections: Int = 1024,
                maxConnectionsPerAddress: Int = 256,
                minTransferRate: Int = 1024,
                transferRateWindow: Duration = .seconds(10),
                workerCount: Int = HTTPServerConfiguration.defaultWorkerCount,
                redactedQueryParameters: Set<String> = ["token", "sig"],
                serverName: String = "HTTPKit",
                backlog: Int = 1024,
                tls: TLSConfiguration? = nil) {
        self.host = host
        self.port = port
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.bodyFileThreshold = bodyFileThreshold
        self.temporaryDirectory = temporaryDirectory
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.minTransferRate = minTransferRate
        self.transferRateWindow = transferRateWindow
        self.workerCount = workerCount
        self.redactedQueryParameters = redactedQueryParameters
        self.serverName = serverName
        self.backlog = backlog
        self.tls = tls
    }

    /// Makes the body of an error answer from its status, a machine-readable code (one of
    /// ``HTTPErrorCode``) and a message that is safe to show the client.
    public typealias ErrorBody = @Sendable (_ status: HTTPStatus, _ code: String, _ message: String)
        -> (contentType: String, body: [UInt8])

    /// `text/plain`: the code, a colon and the message, e.g. `PAYLOAD_TOO_LARGE: request body
    /// exceeds 1024 bytes`.
    public static let plainTextErrorBody: ErrorBody = { _, code, message in
        ("text/plain; charset=utf-8", Array("\(code): \(message)\n".utf8))
    }

    /// `$TMPDIR` if set and non-empty, else `/tmp`.
    public static var defaultTemporaryDirectory: String {
        if let p = getenv("TMPDIR"), p.pointee != 0 { return String(cString: p) }
        return "/tmp"
    }

    /// `max(4, 2 × online cores)`.
    public static var defaultWorkerCount: Int {
        max(4, 2 * max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: UInt64 {
        let (s, a) = components
        guard s >= 0 else { return 0 }
        let ns = s.multipliedReportingOverflow(by: 1_000_000_000)
        if ns.overflow { return UInt64.max / 2 }
        return UInt64(ns.partialValue) + UInt64(a / 1_000_000_000)
    }
}
