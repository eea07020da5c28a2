#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyStorage
import LightlyWire
import Logging

/// Everything a handler gets for one request: the request, path parameters, the
/// authenticated user, a logger carrying `request.id`, and the application (database,
/// blob store, signer, settings).
public struct RequestContext: Sendable {
    public let request: HTTPRequest
    public let params: Parameters
    /// Set on `.token` routes (the router authenticates before calling the handler).
    public let user: User?
    public let requestID: String
    public let logger: Logger
    public let app: LightlyApplication

    public init(request: HTTPRequest, params: Parameters, user: User?, requestID: String,
                logger: Logger, app: LightlyApplication) {
        self.request = request; self.params = params; self.user = user
        self.requestID = requestID; self.logger = logger; self.app = app
    }

    /// The authenticated user. - Throws: 401 when the route had no token.
    public func requireUser() throws -> User {
        guard let user else { throw APIError.unauthorized }
        return user
    }

    // MARK: - The dataset of the path

    /// Runs `body` in a read transaction with the dataset named by the path parameter
    /// `datasetId`, visible to the authenticated user (owned or shared with them).
    ///
    /// ```swift
    /// let tags = try ctx.readDataset { conn, dataset in try TagStore.list(datasetId: dataset.id, conn) }
    /// ```
    /// - Throws: 401 without a user; 404 `DATASET_UNKNOWN` when the user cannot see the dataset
    ///   (``LightlyApplication/requireDataset(_:for:conn:)``); whatever `body` throws.
    public func readDataset<T>(_ body: (Connection, DatasetRow) throws -> T) throws -> T {
        let user = try requireUser()
        let id = try params.require("datasetId")
        return try app.database.read { conn in try body(conn, try app.requireDataset(id, for: user, conn: conn)) }
    }

    /// The same in a write transaction (for handlers that change the dataset).
    public func writeDataset<T>(_ body: (Connection, DatasetRow) throws -> T) throws -> T {
        let user = try requireUser()
        let id = try params.require("datasetId")
        return try app.database.write { conn in try body(conn, try app.requireDataset(id, for: user, conn: conn)) }
    }

    /// ``readDataset(_:)`` for what only the owner may see: 403 `FORBIDDEN` when the dataset is
    /// only shared with the user (``LightlyApplication/requireOwnedDataset(_:for:conn:)``).
    public func readOwnedDataset<T>(_ body: (Connection, DatasetRow) throws -> T) throws -> T {
        let user = try requireUser()
        let id = try params.require("datasetId")
        return try app.database.read { conn in try body(conn, try app.requireOwnedDataset(id, for: user, conn: conn)) }
    }

    /// ``writeDataset(_:)`` for what only the owner may do (rename, delete, share).
    public func writeOwnedDataset<T>(_ body: (Connection, DatasetRow) throws -> T) throws -> T {
        let user = try requireUser()
        let id = try params.require("datasetId")
        return try app.database.write { conn in try body(conn, try app.requireOwnedDataset(id, for: user, conn: conn)) }
    }

    // MARK: - Query

    /// First value of a query parameter, form-decoded (`+` is a space).
    public func query(_ name: String) -> String? { request.query(name) }

    /// A required query parameter. - Throws: 400 `MALFORMED_REQUEST` naming it.
    public func requireQuery(_ name: String) throws -> String {
        guard let v = request.query(name) else { throw APIError.malformed("missing query parameter \(name)") }
        return v
    }

    /// A boolean query parameter: `True`/`False` (Python, docs/protocol.md §1), `true`/`false`, `1`/`0`.
    /// - Throws: 400 for any other spelling.
    public func queryBool(_ name: String, default def: Bool) throws -> Bool {
        guard let v = request.query(name) else { return def }
        switch v {
        case "True", "true", "1", "TRUE": return true
        case "False", "false", "0", "FALSE": return false
        default: throw APIError.malformed("query parameter \(name) must be True or False, got \"\(v)\"")
        }
    }

    // MARK: - Body

    /// The raw body bytes, read from memory or from the temporary file.
    /// - Throws: 413 if larger than `limit`.
    public func bodyBytes(limit: Int) throws -> [UInt8] {
        switch request.body {
        case .empty: return []
        case .bytes(let d):
            guard d.count <= limit else { throw APIError.tooLarge("request body exceeds \(limit) bytes") }
            return Array(d)
        case .file(let path, let count):
            guard count <= limit else { throw APIError.tooLarge("request body exceeds \(limit) bytes") }
            return try FileIO.readAll(path: path)
        }
    }

    /// Decodes the JSON body (limit `settings.maxJSONBodyBytes`).
    /// - Throws: 400 `MALFORMED_REQUEST` with a message naming the bad field, 413 if too large.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let bytes = try bodyBytes(limit: app.settings.maxJSONBodyBytes)
        guard !bytes.isEmpty else { throw APIError.malformed("a JSON request body is required") }
        return try WireJSON.decode(type, from: bytes)
    }

    // MARK: - URLs

    /// Base for absolute URLs: `settings.publicURL`, else `http://` (`https://` over TLS) + the `Host` header.
    public var baseURL: String {
        if let p = app.settings.publicURL { return p }
        let host = request.headers[.host].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        let scheme = request.isSecure || request.headers[.xForwardedProto] == "https" ? "https" : "http"
        return "\(scheme)://\(host)"
    }
}
