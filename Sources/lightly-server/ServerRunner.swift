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
}

/// The HTTP-layer settings, cut out of `ServerSettings` (maps onto HTTPServer.Configuration).
struct HTTPServerOptions: Sendable, Equatable {
    var host: String
    var port: Int
    var maxBodyBytes: Int
    var headerTimeout: Double
    var idleTimeout: Double
    var maxConnections: Int
    var bodyFileThreshold: Int
    /// Where large request bodies are spooled (`<data>/tmp`).
    var temporaryDirectory: String

    init(settings: ServerSettings, temporaryDirectory: String) {
        host = settings.host
        port = settings.port
        maxBodyBytes = settings.maxBodyBytes
        headerTimeout = settings.headerTimeout
        idleTimeout = settings.idleTimeout
        maxConnections = settings.maxConnections
        bodyFileThreshold = settings.bodyFileThreshold
        self.temporaryDirectory = temporaryDirectory
    }
}

typealias HTTPServerFactory = @Sendable (HTTPServerOptions, any HTTPHandler, Logger) throws -> any HTTPServing

/// Starts and stops the HTTP server for `serve`.
final class ServerRunner: Sendable {
    /// The real server: HTTPKit over POSIX sockets and Dispatch.
    static let defaultFactory: HTTPServerFactory = { o, handler, logger in
        var configuration = HTTPServerConfiguration(
            host: o.host, port: o.port, maxBodyBytes: o.maxBodyBytes,
            bodyFileThreshold: o.bodyFileThreshold, temporaryDirectory: o.temporaryDirectory,
            headerTimeout: .milliseconds(Int(o.headerTimeout * 1000)),
            idleTimeout: .milliseconds(Int(o.idleTimeout * 1000)),
            maxConnections: o.maxConnections)
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
}

// MARK: - The seam to LightlyAPI

/// Everything the API needs, built once by `serve`.
struct ServerContext: Sendable {
    var settings: ServerSettings
    var dataDirectory: DataDirectory
    var database: Database
    var tokens: TokenStore
    var signingKey: [UInt8]
    var logger: Logger
}

/// The API application `serve` runs: routes, auth, signed URLs and the job runner.
func makeApplication(context: ServerContext) throws -> LightlyApplication {
    let s = context.settings
    return try LightlyApplication(
        database: context.database, dataDirectory: context.dataDirectory.path,
        settings: APISettings(publicURL: s.publicURL, signedURLTTL: s.signedURLTTL, jobPollWait: s.jobPollWait,
                              maxDatasetSamples: s.maxDatasetSamples, minimumClientVersion: s.minimumClientVersion,
                              maxCSVBytes: s.maxBodyBytes),
        logger: context.logger)
}
