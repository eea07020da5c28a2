#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyStorage
import Logging
import ServerConfig

// MARK: - The seam to HTTPKit.HTTPServer
//
// LEAD: HTTPKit.HTTPServer is written in parallel and does not exist on this branch. `serve` talks
// to it only through `HTTPServing` + `HTTPServerFactory`, whose shapes match the http branch's
// `HTTPServer` (init(configuration:handler:logger:), start(), port, shutdown(timeout: Duration)).
// To connect it:
//   1. extension HTTPServer: HTTPServing {}
//   2. ServerRunner.defaultFactory = { o, handler, logger in
//          HTTPServer(configuration: HTTPServerConfiguration(
//              host: o.host, port: o.port, maxBodyBytes: o.maxBodyBytes,
//              bodyFileThreshold: o.bodyFileThreshold, temporaryDirectory: o.temporaryDirectory,
//              headerTimeout: .seconds(o.headerTimeout), idleTimeout: .seconds(o.idleTimeout),
//              maxConnections: o.maxConnections),
//              handler: handler, logger: logger) }
//   3. delete StandInHTTPServer.swift (ProbeSocket.swift stays: `healthcheck` uses it).

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
    /// LEAD: swap for `{ o, h, l in HTTPServer(configuration: …, handler: h, logger: l) }`.
    static let defaultFactory: HTTPServerFactory = { options, handler, logger in
        StandInHTTPServer(options: options, handler: handler, logger: logger)
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

/// The request handler `serve` runs.
///
/// LEAD: replace the body with the API (api branch), roughly:
/// ```swift
/// let app = try LightlyApplication(database: context.database, dataDirectory: context.dataDirectory.path,
///     settings: APISettings(publicURL: s.publicURL, signedURLTTL: s.signedURLTTL, jobPollWait: s.jobPollWait,
///                           maxDatasetSamples: s.maxDatasetSamples, minimumClientVersion: s.minimumClientVersion),
///     logger: context.logger)
/// app.start()            // job runner; call app.stop() in ServeSession after runner.shutdown
/// return app.handler
/// ```
/// Until then it answers `GET /health` with 200 `{"status":"ok"}` and everything else with a 404
/// in the API's error shape (`{"code": …, "message": …}`, STYLE §2.4).
func makeHandler(context: ServerContext) -> any HTTPHandler {
    ClosureHandler { request in
        if request.pathSegments == ["health"] && (request.method == .GET || request.method == .HEAD) {
            return HTTPResponse(status: .ok, contentType: "application/json", body: Data(#"{"status":"ok"}"#.utf8))
        }
        return HTTPResponse(status: .notFound, contentType: "application/json",
                            body: Data(#"{"code":"NOT_FOUND","message":"no route for this path"}"#.utf8))
    }
}
