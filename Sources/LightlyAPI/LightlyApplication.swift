#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyStorage
import LightlyWire
import Logging
import Synchronization

/// The Lightly v1 API as an `HTTPHandler`: routes, auth, ownership, blobs, signed URLs.
///
/// ```swift
/// let db = try Database(path: "data/lightly.sqlite"); try db.migrate()
/// let app = try LightlyApplication(database: db, dataDirectory: "data",
///                                  settings: APISettings(), logger: logger)
/// app.start()                       // job runner
/// let server = HTTPServer(handler: app.handler, ...)
/// ...
/// app.stop()
/// ```
public final class LightlyApplication: Sendable {
    public let database: Database
    public let settings: APISettings
    public let logger: Logger
    public let dataDirectory: String
    public let blobs: BlobStore
    public let signer: URLSigner
    public let tokens: TokenStore
    /// Per-dataset cache of the mapping order (docs/protocol.md §5).
    public let mappings: MappingCache
    /// The job runner (owned by the jobs module).
    public let jobs: JobSystem

    private let routerStorage = Mutex(Router())
    private let requestCounter = Atomic<UInt64>(0)
    private let requestPrefix: String

    /// - Parameters:
    ///   - database: migrated database.
    ///   - dataDirectory: holds `blobs/`, `tmp/` and `signing.key` (created if missing).
    /// - Throws: if the directories or the signing key cannot be created.
    public init(database: Database, dataDirectory: String, settings: APISettings, logger: Logger) throws {
        self.database = database
        self.settings = settings
        self.logger = logger
        self.dataDirectory = dataDirectory
        let dir = DataDirectory(path: dataDirectory)
        try dir.prepare()
        self.blobs = try BlobStore(dataDirectory: dir.path)
        self.signer = URLSigner(secret: try dir.signingKey())
        self.tokens = TokenStore(database: database)
        self.mappings = MappingCache()
        self.jobs = JobSystem(database: database, blobs: blobs, settings: settings, logger: logger)
        self.requestPrefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let router = makeRouter()
        routerStorage.withLock { $0 = router }
    }

    /// The handler to give the HTTP server (or to call directly in tests).
    public var handler: any HTTPHandler { AppHandler(app: self) }

    /// Starts background work (the job runner) after removing files a crash left behind
    /// (`BlobStore.sweep`: stale `tmp/` files and blob files without a database row).
    public func start() {
        do {
            let removed = try blobs.sweep { id in
                try database.read { conn in try conn.queryOne("SELECT 1 FROM blobs WHERE id = ?", id) != nil }
            }
            if removed > 0 { logger.info("removed orphaned files", metadata: ["count": "\(removed)"]) }
        } catch {
            logger.warning("orphan sweep failed", metadata: ["error": "\(error)"])
        }
        jobs.start()
    }

    /// Stops background work.
    public func stop() { jobs.stop() }

    /// Every `(method, pattern)` the router serves, in registration order. The signed-URL
    /// routes appear as `/signed/:kind/:datasetId/:objectId/:variant`.
    public var routeTable: [(method: String, pattern: String)] { routerStorage.withLock { $0.table } }

    var router: Router { routerStorage.withLock { $0 } }

    /// Builds the router: the only place where route modules are registered.
    private func makeRouter() -> Router {
        var r = Router()
        registerSystemRoutes(&r)
        registerDatasetRoutes(&r)
        registerSampleRoutes(&r)
        registerTagRoutes(&r)
        registerExportRoutes(&r)
        registerSignedRoutes(&r)
        registerJobRoutes(&r)
        return r
    }

    // MARK: - Request handling

    /// Routes one request. Never throws: every error becomes its JSON error body here.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let n = requestCounter.add(1, ordering: .relaxed).newValue
        let requestID = "\(requestPrefix)-\(String(n, radix: 36))"
        var log = logger
        log[metadataKey: "request.id"] = .string(requestID)
        var response: HTTPResponse
        do {
            response = try route(request, requestID: requestID, logger: log)
        } catch {
            response = errorResponse(for: error, request: request, requestID: requestID, logger: log)
        }
        response.headers[HTTPHeaderName("X-Request-Id")] = requestID
        return response
    }

    private func route(_ request: HTTPRequest, requestID: String, logger: Logger) throws -> HTTPResponse {
        switch router.match(request.method, request.pathSegments) {
        case .notFound:
            throw APIError.notFound(.notFound, "no route for \(request.method) \(request.rawPath)")
        case .methodNotAllowed(let allowed):
            throw APIError(status: .methodNotAllowed, code: .methodNotAllowed,
                           message: "\(request.method) is not allowed on \(request.rawPath)",
                           headers: ["Allow": allowed.map(\.rawValue).joined(separator: ", ")])
        case .found(let route, let params):
            var user: User?
            if route.auth == .token {
                guard let token = request.query("token"), !token.isEmpty,
                      let u = try tokens.authenticate(token) else { throw APIError.unauthorized }
                user = u
            }
            let ctx = RequestContext(request: request, params: Parameters(params), user: user,
                                     requestID: requestID, logger: logger, app: self)
            return try route.handler(ctx)
        }
    }

    // MARK: - Error mapping (the only place errors become responses)

    func errorResponse(for error: any Error, request: HTTPRequest, requestID: String, logger: Logger) -> HTTPResponse {
        let apiError: APIError
        switch error {
        case let e as APIError:
            apiError = e
        case let e as StorageError where e.isUniqueViolation:
            apiError = .conflict(.badRequest, "the request conflicts with an existing entity")
        case let e as StorageError where e.isForeignKeyViolation:
            apiError = .notFound(.notFound, "a referenced entity does not exist (any more)")
        case is DecodingError, is JSONSyntaxError:
            apiError = .malformed("invalid request body: \(WireJSON.describe(error))")
        default:
            logger.error("request failed", metadata: [
                "error": "\(String(reflecting: error))",
                "http.method": "\(request.method)", "http.path": "\(request.rawPath)",
            ])
            apiError = APIError(status: .internalServerError, code: .internalError,
                                message: "internal server error (request id \(requestID))")
        }
        if apiError.status.code >= 500 {
            // already logged above
        } else {
            logger.debug("request rejected", metadata: ["status": "\(apiError.status.code)", "code": "\(apiError.code)"])
        }
        return .error(apiError, requestID: requestID)
    }
}

/// `HTTPHandler` adapter (a struct, so the server holds a plain Sendable value).
struct AppHandler: HTTPHandler {
    let app: LightlyApplication
    func handle(_ request: HTTPRequest) throws -> HTTPResponse { app.handle(request) }
}
