#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
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
            redactedQueryParameters: LightlyApplication.secretParameters, tls: tls)
        configuration.useLightlyResponses()
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
    api.jobLeaseSeconds = s.jobLease

    return try LightlyApplication(
        database: context.database, dataDirectory: context.dataDirectory.path,
        settings: api, logger: context.logger)
}
