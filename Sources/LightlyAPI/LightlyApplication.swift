#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
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
    public let database: any SQLDatabase
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
    /// The last requests, for `GET /_admin/requests` (`Observability/RequestJournal.swift`).
    public let journal: RequestJournal
    /// Counters for `GET /metrics` (`Observability/Metrics.swift`).
    public let metrics = Metrics()

    /// Query parameters that carry secrets (the API token, a signed URL's signature); logs hide them.
    public static let secretParameters: Set<String> = ["token", "sig"]

    /// State of the admin API (`Admin/`): the lock that serializes reset and seed.
    let admin = AdminState()

    private let debris = DebrisSweeper()
    private let routerStorage = Mutex(Router())
    private let requestCounter = Atomic<UInt64>(0)
    private let requestPrefix: String

    /// - Parameters:
    ///   - database: migrated database.
    ///   - dataDirectory: holds `blobs/` and `tmp/` (created if missing); a `signing.key` of an
    ///     older version is imported into the store.
    /// - Throws: if the directories or the signing key cannot be created.
    public init(database: any SQLDatabase, dataDirectory: String, settings: APISettings, logger: Logger) throws {
        var settings = settings
        // PostgreSQL is the store several servers share.
        if database.dialect == .postgres { settings.sharedStore = true }
        self.database = database
        self.settings = settings
        self.logger = logger
        self.dataDirectory = dataDirectory
        let dir = DataDirectory(path: dataDirectory)
        try dir.prepare()
        self.blobs = try BlobStore(dataDirectory: dir.path)
        // Shared through the store, so every server on one database accepts the others' URLs.
        self.signer = URLSigner(secret: try SigningKeyStore.key(database, importing: dir.signingKeyPath))
        self.tokens = TokenStore(database: database)
        self.mappings = MappingCache(checksStore: settings.sharedStore)

        self.jobs = JobSystem(database: database, blobs: blobs, settings: settings, logger: logger)
        self.journal = RequestJournal(capacity: settings.requestJournalSize)
        self.requestPrefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let router = makeRouter()
        routerStorage.withLock { $0 = router }
        countJobs(in: metrics)
        jobs.runner.injectFaults { [admin] type in admin.faults.jobAction(for: type) }
    }

    /// The handler to give the HTTP server (or to call directly in tests).
    public var handler: any HTTPHandler { AppHandler(app: self) }

    /// Starts background work (the job runner) after removing files a crash left behind
    /// (`BlobStore.sweep`: the server's temporary files and blob files without a database
    /// row), and sweeps again every `settings.debrisSweepInterval` seconds.
    ///
    /// At start, if no other server holds the data folder (`serve.lock`), every such file goes,
    /// however young: nothing can be in flight. Otherwise, and in the periodic sweeps, only
    /// files untouched for `settings.debrisMinimumAge` seconds. The folder stays locked
    /// (shared) until ``stop()``.
    ///
    /// On a shared store (PostgreSQL) the lock is not trusted to see servers on other hosts
    /// (a network file system may keep `flock` local): only old files go, even at start.
    public func start() {
        let alone = debris.lockFolder(dataDirectory + "/serve.lock") && !settings.sharedStore
        sweepDebris(minimumAge: alone ? 0 : settings.debrisMinimumAge)
        if settings.debrisSweepInterval > 0 {
            debris.schedule(every: settings.debrisSweepInterval) { [self] in sweepDebris(minimumAge: settings.debrisMinimumAge) }
        }
        jobs.start(alone: alone)
    }

    /// Stops background work (waits for a sweep in progress to give up).
    public func stop() {
        debris.stop()
        jobs.stop()
    }

    /// One sweep for leftover files. - Returns: the number removed.
    @discardableResult
    func sweepDebris(minimumAge: Double) -> Int {
        do {
            let removed = try blobs.sweep(minimumAge: minimumAge) { id in
                if debris.isStopping { throw CancellationError() }
                return try database.read { conn in try BlobRecords.exists(id: id, conn) }
            }
            if removed > 0 { logger.info("removed orphaned files", metadata: ["count": "\(removed)"]) }
            return removed
        } catch is CancellationError {
            return 0
        } catch {
            logger.warning("orphan sweep failed", metadata: ["error": "\(error)"])
            return 0
        }
    }

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
        registerCollaborationRoutes(&r)
        registerWebUIRoutes(&r)
        registerMetricsRoutes(&r)
        registerAdminRoutes(&r)
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
        var pattern: String?
        do {
            response = try route(request, requestID: requestID, logger: log, pattern: &pattern)
        } catch {
            response = errorResponse(for: error, request: request, requestID: requestID, logger: log)
        }
        response.headers[HTTPHeaderName("X-Request-Id")] = requestID
        Self.annotate(&response, route: pattern, requestID: requestID)
        return response
    }

    private func route(_ request: HTTPRequest, requestID: String, logger: Logger, pattern: inout String?) throws -> HTTPResponse {
        if let injected = admin.faults.response(for: request) {   // PUT /_admin/faults
            if case .found(let route, _) = router.match(request.method, request.pathSegments) { pattern = route.pattern.text }
            return injected
        }
        let (route, params) = try resolve(request)
        pattern = route.pattern.text
        let user = try authenticate(request, route: route)
        let ctx = RequestContext(request: request, params: Parameters(params), user: user,
                                 requestID: requestID, logger: logger, app: self)
        return try route.handler(ctx)
    }

    /// The route for a request. - Throws: 404 for an unknown path, 405 (with `Allow`) for a
    /// known path with another method.
    private func resolve(_ request: HTTPRequest) throws -> (Router.Route, [String: String]) {
        // Admin API off: its paths are unknown paths (no 405, no 401: nothing tells it exists).
        let match: Router.Match = settings.adminToken == nil && request.pathSegments.first == Self.adminPrefix
            ? .notFound : router.match(request.method, request.pathSegments)
        switch match {
        case .notFound:
            throw APIError.notFound(.notFound, "no route for \(request.method) \(request.rawPath)")
        case .methodNotAllowed(let allowed):
            throw APIError(status: .methodNotAllowed, code: .methodNotAllowed,
                           message: "\(request.method) is not allowed on \(request.rawPath)",
                           headers: ["Allow": allowed.map(\.rawValue).joined(separator: ", ")])
        case .found(let route, let params):
            return (route, params)
        }
    }

    /// The user of a `.token` route (nil for other routes): the token comes from `?token=`
    /// (what the `lightly` client sends) or from `Authorization: Bearer <token>` (what the web
    /// page sends; headers never reach the access log). - Throws: 401 without a valid token.
    private func authenticate(_ request: HTTPRequest, route: Router.Route) throws -> User? {
        if route.auth == .admin {
            try authenticateAdmin(request)
            return nil
        }
        guard route.auth == .token else { return nil }
        guard let token = request.query("token") ?? Self.bearerToken(request), !token.isEmpty,
              let u = try tokens.authenticate(token) else { throw APIError.unauthorized }
        return u
    }

    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, blanks
    /// after it skipped), if any. Used for user tokens and the admin token alike.
    static func bearerToken(_ request: HTTPRequest) -> String? {
        guard let value = request.headers[HTTPHeaderName("Authorization")] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1].drop(while: { $0 == " " || $0 == "\t" }))
    }

    /// Decides from the head of a request with a body, before the body is read: the route
    /// must exist and allow the method, a `.token` route needs a valid token, and a signed URL
    /// a valid signature for this method that has not expired. Anything else is answered at
    /// once (with the same error `handle` would give) and the body is never stored.
    public func inspectHead(_ request: HTTPRequest) -> HTTPHeadDecision {
        var pattern: String?
        do {
            let (route, params) = try resolve(request)
            pattern = route.pattern.text
            _ = try authenticate(request, route: route)
            if route.pattern.text == Self.signedPattern {
                _ = try verifySigned(request, params: Parameters(params), method: request.method)
            }
            return .proceed
        } catch {
            let n = requestCounter.add(1, ordering: .relaxed).newValue
            let requestID = "\(requestPrefix)-\(String(n, radix: 36))"
            var log = logger
            log[metadataKey: "request.id"] = .string(requestID)
            var response = errorResponse(for: error, request: request, requestID: requestID, logger: log)
            response.headers[HTTPHeaderName("X-Request-Id")] = requestID
            Self.annotate(&response, route: pattern, requestID: requestID)
            return .reject(response)
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
        case let e as StorageError where e.isBusy:
            logger.warning("database busy", metadata: ["error": "\(e)"])
            apiError = .databaseBusy
        case _ where APIError.isDiskFull(error):
            logger.error("storage full", metadata: [
                "error": "\(String(reflecting: error))",
                "http.method": "\(request.method)", "http.path": "\(request.rawPath)",
            ])
            apiError = .insufficientStorage
        case is DecodingError, is JSONSyntaxError:
            apiError = .malformed("invalid request body: \(WireJSON.describe(error))")
        default:
            logger.error("request failed", metadata: [
                "error": "\(redactQuery(target: String(reflecting: error), names: []))",
                "http.method": "\(request.method)",
                "http.path": "\(redactQuery(target: request.rawPath, names: Self.secretParameters))",
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
    func inspectHead(_ request: HTTPRequest) -> HTTPHeadDecision { app.inspectHead(request) }
    func requestCompleted(_ record: HTTPRequestRecord) { app.requestCompleted(record) }
}

/// The data folder's lock and the timer of the periodic leftover-file sweep.
final class DebrisSweeper: Sendable {
    /// A timer source carried in the locked state (Dispatch sources are thread-safe).
    private final class TimerBox: @unchecked Sendable {
        let timer: DispatchSourceTimer
        init(_ timer: DispatchSourceTimer) { self.timer = timer }
    }
    private struct State {
        var lockFD: Int32 = -1
        var timer: TimerBox?
    }
    private let state = Mutex(State())
    private let stopping = Atomic<Bool>(false)
    private let queue = DispatchQueue(label: "lightly.debris-sweep", qos: .utility)

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Opens (creating) `path` and locks it shared for as long as the application runs.
    /// - Returns: whether no other process held it at that moment (an exclusive lock was
    ///   granted first, then turned shared).
    func lockFolder(_ path: String) -> Bool {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        let alone = flock(fd, LOCK_EX | LOCK_NB) == 0
        // Blocks only while another server does its start-up sweep.
        _ = flock(fd, LOCK_SH)
        state.withLock { s in
            if s.lockFD >= 0 { close(s.lockFD) }
            s.lockFD = fd
        }
        return alone
    }

    /// Runs `work` every `seconds` on a utility queue.
    func schedule(every seconds: Double, _ work: @escaping @Sendable () -> Void) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let ns = Int(min(seconds, 86_400 * 365) * 1e9)
        timer.schedule(deadline: .now() + .nanoseconds(ns), repeating: .nanoseconds(ns), leeway: .seconds(1))
        timer.setEventHandler(handler: work)
        let box = TimerBox(timer)
        state.withLock { $0.timer?.timer.cancel(); $0.timer = box }
        timer.resume()
    }

    /// Cancels the timer, waits for a running sweep to give up, releases the folder lock.
    func stop() {
        stopping.store(true, ordering: .relaxed)
        state.withLock { $0.timer?.timer.cancel(); $0.timer = nil }
        queue.sync {}
        state.withLock { s in
            if s.lockFD >= 0 { close(s.lockFD); s.lockFD = -1 }
        }
    }
}
