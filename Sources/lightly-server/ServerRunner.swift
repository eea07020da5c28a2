#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import HTTPKit
import LightlyAPI
import LightlyStorage
import Logging
import ServerConfig

// MARK: - The HTTP server

extension HTTPServer: HTTPServing {}

/// What `serve` needs from an HTTP server.
protocol HTTPServing: AnyObject, Sendable {
    /// Binds and starts accepting; returns once the socket is listening.
    func start() throws
    /// The bound port (the real one when configured with port 0). Valid after `start()`.
    var port: Int { get }
    /// Stops accepting, lets in-flight requests finish for up to `timeout`, then closes.
    func shutdown(timeout: Duration)
    /// Reads the TLS certificate and key files again, for new connections.
    func reloadTLS() throws
    /// The connections open right now.
    var openConnections: Int { get }
}

/// The HTTP-layer settings, cut out of `ServerSettings` (maps onto HTTPServer.Configuration).
struct HTTPServerOptions: Sendable, Equatable {
    var host: String
    var port: Int
    var maxBodyBytes: Int
    var headerTimeout: Double
    var idleTimeout: Double
    var maxConnections: Int
    var maxConnectionsPerAddress: Int
    var minTransferRate: Int
    var transferRateWindow: Double
    var bodyFileThreshold: Int
    /// Threads that run handlers (`ServerSettings.resolvedWorkers`).
    var workers: Int
    /// Write the access log (the log level is `info` or lower): one line per request to stderr,
    /// batched by HTTPKit's `AccessLogWriter`.
    var accessLog: Bool
    /// Where large request bodies are spooled (`<data>/tmp`).
    var temporaryDirectory: String
    /// PEM chain and key for HTTPS; `nil` for plain HTTP.
    var tlsCert: String?
    var tlsKey: String?

    init(settings: ServerSettings, temporaryDirectory: String) {
        host = settings.host
        port = settings.port
        maxBodyBytes = settings.maxBodyBytes
        headerTimeout = settings.headerTimeout
        idleTimeout = settings.idleTimeout
        maxConnections = settings.maxConnections
        maxConnectionsPerAddress = settings.maxConnectionsPerAddress
        minTransferRate = settings.minTransferRate
        transferRateWindow = settings.transferRateWindow
        bodyFileThreshold = settings.bodyFileThreshold
        workers = settings.resolvedWorkers
        accessLog = (Logger.Level(rawValue: settings.logLevel) ?? .info) <= .info
        self.temporaryDirectory = temporaryDirectory
        tlsCert = settings.tlsCert
        tlsKey = settings.tlsKey
    }
}

typealias HTTPServerFactory = @Sendable (HTTPServerOptions, any HTTPHandler, Logger) throws -> any HTTPServing

/// Starts and stops the HTTP server for `serve`.
final class ServerRunner: Sendable {
    /// The real server: HTTPKit over POSIX sockets and Dispatch.
    static let defaultFactory: HTTPServerFactory = { o, handler, logger in
        let headerTimeout = Duration.milliseconds(Int(o.headerTimeout * 1000))
        // The handshake gets the same deadline as a request head.
        let tls = o.tlsCert.flatMap { cert in
            o.tlsKey.map { TLSConfiguration(certificateChainFile: cert, privateKeyFile: $0, handshakeTimeout: headerTimeout) }
        }
        var configuration = HTTPServerConfiguration(
            host: o.host, port: o.port, maxBodyBytes: o.maxBodyBytes,
            bodyFileThreshold: o.bodyFileThreshold, temporaryDirectory: o.temporaryDirectory,
            headerTimeout: headerTimeout,
            idleTimeout: .milliseconds(Int(o.idleTimeout * 1000)),
            maxConnections: o.maxConnections, maxConnectionsPerAddress: o.maxConnectionsPerAddress,
            minTransferRate: o.minTransferRate,
            transferRateWindow: .milliseconds(Int(o.transferRateWindow * 1000)),
            workerCount: o.workers,
            redactedQueryParameters: LightlyApplication.secretParameters, tls: tls)
        configuration.useLightlyResponses()
        if o.accessLog {
            // Batched: formatting and writing a line per request through swift-log's stderr
            // handler (a write(2) each) cost about 8 % of a small request. The server flushes
            // it when its shutdown ends, so SIGTERM loses no line.
            configuration.accessLog = AccessLogWriter(fileDescriptor: STDERR_FILENO, label: logger.label)
        }
        return HTTPServer(configuration: configuration, handler: handler, logger: logger)
    }

    let server: any HTTPServing

    init(options: HTTPServerOptions, handler: any HTTPHandler, logger: Logger,
         factory: HTTPServerFactory = ServerRunner.defaultFactory) throws {
        server = try factory(options, handler, logger)
    }

    /// Starts listening. - Returns: the bound port.
    func start() throws -> Int {
        try server.start()
        return server.port
    }

    func shutdown(timeout: Duration) { server.shutdown(timeout: timeout) }

    func reloadTLS() throws { try server.reloadTLS() }

    /// The connections open right now.
    var openConnections: Int { server.openConnections }
}

// MARK: - The seam to LightlyAPI

/// Everything the API needs, built once by `serve`.
struct ServerContext: Sendable {
    var settings: ServerSettings
    var dataDirectory: DataDirectory
    var database: any SQLDatabase
    var tokens: TokenStore
    var signingKey: [UInt8]
    var logger: Logger
}

/// The API application `serve` runs: routes, auth, signed URLs and the job runner.
func makeApplication(context: ServerContext) throws -> LightlyApplication {
    let s = context.settings
    var api = APISettings(publicURL: s.publicURL, signedURLTTL: s.signedURLTTL, jobPollWait: s.jobPollWait,
                          maxDatasetSamples: s.maxDatasetSamples, minimumClientVersion: s.minimumClientVersion,
                          maxCSVBytes: s.maxBodyBytes)
    api.adminToken = s.adminToken
    api.metrics = s.metrics
    api.memoryBudget = s.memoryBudget ?? ServerSettings.defaultMemoryBudget(
        physicalBytes: physicalMemoryBytes(), containerLimitBytes: containerMemoryLimitBytes())
    context.logger.info("memory budget for embedding matrices", metadata: [
        "memory_budget": "\(api.memoryBudget)", "source": "\(s.memoryBudget == nil ? "auto" : "setting")"])
    api.jobLeaseSeconds = s.jobLease
    return try LightlyApplication(
        database: context.database, dataDirectory: context.dataDirectory.path,
        settings: api, logger: context.logger)
}

/// The machine's physical memory in bytes (`sysconf`).
func physicalMemoryBytes() -> Int {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
    return pages > 0 && size > 0 ? pages * size : 4 << 30
}

/// The cgroup v2 (or v1) memory limit of this process's container, nil when none is set.
func containerMemoryLimitBytes() -> Int? {
    for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
        guard let f = fopen(path, "r") else { continue }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 64)
        guard fgets(&buf, 64, f) != nil else { continue }
        let text = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let n = Int(text.filter { $0.isNumber }), n > 0, n < 1 << 60 { return n }
    }
    return nil
}
