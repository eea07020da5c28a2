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

// The admin API (docs/admin.md): conveniences for test suites that run client code against
// this server, off unless `settings.adminToken` is set.
//
// Adding an admin route from another file:
//
// ```swift
// extension LightlyApplication {
//     func registerAdminFooRoutes(_ r: inout Router) {
//         r.admin(.GET, "/_admin/foo") { ctx in        // auth .admin: Bearer token checked
//             return try .json(...)
//         }
//     }
// }
// ```
// and call it from `registerAdminRoutes(_:)` below (one line). Also list the route in
// docs/COVERAGE.md, docs/openapi.yaml and docs/admin.md.
//
// The gate (in `LightlyApplication.resolve` and `authenticate`): with the admin API off, every
// `/_admin/...` path answers exactly like an unknown path (404 `NOT_FOUND`, whatever the method);
// with it on, `Authorization: Bearer <adminToken>` is required (401 otherwise, compared in
// constant time). User tokens (`?token=`) are never admin tokens, and the admin token is never
// a user token.

extension RequestContext {
    /// The JSON body of an admin request, parsed (body limit `maxJSONBodyBytes`).
    /// - Throws: 413 when too large, 400 `MALFORMED_REQUEST` ("`label`: not valid JSON: …").
    func adminDocument(_ label: String) throws -> JSONValue {
        let bytes = try bodyBytes(limit: app.settings.maxJSONBodyBytes)
        do { return try JSONValue.parse(bytes) } catch {
            throw APIError.malformed("\(label): not valid JSON: \(WireJSON.describe(error))")
        }
    }
}

extension HTTPResponse {
    /// A JSON body written from a ``JSONValue`` (members in their order).
    static func json(_ value: JSONValue, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: Data(value.serializedBytes()))
    }
}

extension Router {
    /// Registers an admin-API route (`auth: .admin`). `pattern` must start with `/_admin/`.
    public mutating func admin(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping RouteHandler) {
        precondition(pattern.hasPrefix("/\(LightlyApplication.adminPrefix)/"), "admin routes live under /_admin/")
        add(method, pattern, auth: .admin, handler)
    }
}

/// The admin API's mutable state.
final class AdminState: Sendable {
    /// Serializes reset and seed: each is one transaction, but pausing the job runner and
    /// removing blob files around it are not.
    let exclusive = Mutex<Void>(())
    /// The rules of `PUT /_admin/faults`.
    let faults = FaultInjector()
}

extension LightlyApplication {
    /// The first path segment of every admin route.
    public static let adminPrefix = "_admin"

    /// Registers every admin route (served only when `settings.adminToken` is set).
    func registerAdminRoutes(_ r: inout Router) {
        registerAdminResetRoutes(&r)
        registerRequestJournalRoutes(&r)
        registerAdminSeedRoutes(&r)
        registerAdminFaultRoutes(&r)
    }

    /// Checks `Authorization: Bearer <settings.adminToken>`.
    /// - Throws: 404 `NOT_FOUND` when the admin API is off (normally caught earlier, in
    ///   `resolve`), 401 `UNAUTHORIZED` for a missing or wrong token.
    func authenticateAdmin(_ request: HTTPRequest) throws {
        guard let expected = settings.adminToken else {
            throw APIError.notFound(.notFound, "no route for \(request.method) \(request.rawPath)")
        }
        let unauthorized = APIError(status: .unauthorized, code: .unauthorized,
                                    message: "the admin API needs the header Authorization: Bearer <admin token>",
                                    headers: ["WWW-Authenticate": "Bearer"])
        guard let given = Self.bearerToken(request) else { throw unauthorized }
        // Digests have equal length, so the comparison takes the same time whatever is sent.
        guard Crypto.constantTimeEquals(Crypto.sha256(Array(given.utf8)), Crypto.sha256(Array(expected.utf8))) else {
            throw unauthorized
        }
    }

    /// `POST /_admin/reset[?users=true]`.
    func registerAdminResetRoutes(_ r: inout Router) {
        r.admin(.POST, "/_admin/reset") { ctx in
            let users = try ctx.queryBool("users", default: false)
            let removed = try ctx.app.resetState(users: users, logger: ctx.logger)
            return try .json(removed)
        }
    }

    /// Removes every dataset (with its samples, tags, embeddings, scores, shares, uploads and
    /// blob files) and every job, and clears the in-memory caches; with `users`, also every
    /// user and token. Running jobs are cancelled first and write nothing afterwards.
    /// - Returns: what was removed.
    func resetState(users: Bool, logger: Logger) throws -> AdminStore.ResetCounts {
        try admin.exclusive.withLock { _ in
            try withJobsPaused(logger: logger) {
                let counts = try database.write { conn in try AdminStore.reset(users: users, conn) }
                clearCaches()
                for id in counts.blobIds { blobs.remove(id) }
                logger.notice("admin reset", metadata: ["datasets": "\(counts.datasets)", "jobs": "\(counts.jobs)",
                                                        "blobs": "\(counts.blobs)", "users": "\(counts.users)"])
                return counts
            }
        }
    }

    /// Runs `body` with the job runner paused and its running jobs cancelled. If `body`
    /// throws, the cancelled jobs (still RUNNING in the database) go back to WAITING.
    func withJobsPaused<T>(logger: Logger, _ body: () throws -> T) throws -> T {
        let idle = jobs.runner.pause(timeout: 30)
        defer { jobs.runner.resume() }
        if !idle { logger.warning("admin: a cancelled job is still running; it will write nothing") }
        do {
            return try body()
        } catch {
            if idle { _ = try? database.write { conn in try JobStore.requeueInterrupted(conn) } }
            throw error
        }
    }

    /// Forgets everything cached per dataset or embedding.
    func clearCaches() {
        mappings.removeAll()
        jobs.cache.removeAll()
    }
}
