import HTTPKit

/// Whether a route requires `?token=` (docs/protocol.md §2).
public enum RouteAuth: Sendable {
    /// `?token=` must name a known user; `ctx.user` is set.
    case token
    /// No token (versions, `/health`, `/ping`, signed URLs).
    case none
    /// The admin API (`/_admin/...`): `Authorization: Bearer <settings.adminToken>`; the user
    /// tokens do not count. Register these with `Router.admin` (Admin/AdminRoutes.swift).
    case admin
}

/// A route handler: synchronous, runs on the server's worker pool. Throw `APIError` (or any
/// error: the one error mapping turns it into a JSON error body).
public typealias RouteHandler = @Sendable (RequestContext) throws -> HTTPResponse

/// A route pattern such as `/v1/datasets/:datasetId/tags/:tagId`: literal segments and
/// `:name` parameters, matched against `HTTPRequest.pathSegments` (already percent-decoded,
/// `//` and trailing `/` collapsed).
public struct RoutePattern: Hashable, Sendable, CustomStringConvertible {
    public enum Segment: Hashable, Sendable {
        case literal(String)
        case parameter(String)
    }
    public let segments: [Segment]
    public let text: String

    public init(_ text: String) {
        self.text = text
        segments = text.split(separator: "/").map { s in
            s.hasPrefix(":") ? .parameter(String(s.dropFirst())) : .literal(String(s))
        }
    }

    public var description: String { text }

    /// Binds parameters, or nil when the path does not match.
    func match(_ path: [String]) -> [String: String]? {
        guard path.count == segments.count else { return nil }
        var params: [String: String] = [:]
        for (seg, value) in zip(segments, path) {
            switch seg {
            case .literal(let l): if l != value { return nil }
            case .parameter(let name): params[name] = value
            }
        }
        return params
    }

    /// Literal segments beat parameters, compared left to right: `/tags/initial` wins over
    /// `/tags/:tagId`.
    func isMoreSpecific(than other: RoutePattern) -> Bool {
        for (a, b) in zip(segments, other.segments) {
            switch (a, b) {
            case (.literal, .parameter): return true
            case (.parameter, .literal): return false
            default: continue
            }
        }
        return false
    }
}

/// Method-aware router. An unknown path answers 404 `NOT_FOUND`; a known path with another
/// method answers 405 with `Allow`. Routes are registered once at start-up in
/// `LightlyApplication.makeRouter()`; route modules add themselves there.
///
/// ```swift
/// router.get("/v1/datasets/:datasetId/tags") { ctx in
///     let user = try ctx.requireUser()
///     let id = try ctx.params.require("datasetId")
///     ...
///     return try .json(tags)
/// }
/// ```
public struct Router: Sendable {
    public struct Route: Sendable {
        public let method: HTTPMethod
        public let pattern: RoutePattern
        public let auth: RouteAuth
        let handler: RouteHandler
    }

    public enum Match {
        case found(Route, [String: String])
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    public private(set) var routes: [Route] = []
    /// Routes grouped by segment count, for a cheap first cut.
    private var bySegmentCount: [Int: [Int]] = [:]
    /// Handlers of signed-URL kinds (`/signed/<kind>/...`), see `registerSignedHandler`.
    public private(set) var signedHandlers: [String: SignedKindHandler] = [:]

    public init() {}

    /// Adds a route. Registering the same method and pattern twice is a programmer error.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, auth: RouteAuth = .token,
                             _ handler: @escaping RouteHandler) {
        let p = RoutePattern(pattern)
        precondition(!routes.contains { $0.method == method && $0.pattern == p },
                     "route \(method) \(pattern) registered twice")
        bySegmentCount[p.segments.count, default: []].append(routes.count)
        routes.append(Route(method: method, pattern: p, auth: auth, handler: handler))
    }

    public mutating func get(_ pattern: String, auth: RouteAuth = .token, _ h: @escaping RouteHandler) { add(.GET, pattern, auth: auth, h) }
    public mutating func post(_ pattern: String, auth: RouteAuth = .token, _ h: @escaping RouteHandler) { add(.POST, pattern, auth: auth, h) }
    public mutating func put(_ pattern: String, auth: RouteAuth = .token, _ h: @escaping RouteHandler) { add(.PUT, pattern, auth: auth, h) }
    public mutating func delete(_ pattern: String, auth: RouteAuth = .token, _ h: @escaping RouteHandler) { add(.DELETE, pattern, auth: auth, h) }

    /// Registers the PUT (upload) and GET (download) handlers for one signed-URL kind, e.g.
    /// `"csv"`. Requests to `/signed/<kind>/<datasetId>/<objectId>/<variant>` reach them
    /// after the signature and expiry were verified. Either may be nil (→ 405).
    public mutating func registerSignedHandler(kind: String, put: SignedHandler?, get: SignedHandler?) {
        precondition(signedHandlers[kind] == nil, "signed kind \(kind) registered twice")
        signedHandlers[kind] = SignedKindHandler(put: put, get: get)
    }

    /// Finds the handler for a method and path.
    public func match(_ method: HTTPMethod, _ path: [String]) -> Match {
        var best: (Route, [String: String])?
        var allowed: [HTTPMethod] = []
        for i in bySegmentCount[path.count] ?? [] {
            let r = routes[i]
            guard let params = r.pattern.match(path) else { continue }
            if r.method == method || (method == .HEAD && r.method == .GET) {
                if let b = best, !r.pattern.isMoreSpecific(than: b.0.pattern) { continue }
                best = (r, params)
            } else if !allowed.contains(r.method) {
                allowed.append(r.method)
            }
        }
        if let best { return .found(best.0, best.1) }
        if !allowed.isEmpty { return .methodNotAllowed(allowed: allowed) }
        return .notFound
    }

    /// `(method, pattern)` of every route, in registration order, plus the signed-URL routes.
    public var table: [(method: String, pattern: String)] {
        routes.map { ($0.method.rawValue, $0.pattern.text) }
    }
}

/// Path parameters of a matched route.
public struct Parameters: Sendable {
    let values: [String: String]
    public init(_ values: [String: String]) { self.values = values }
    public subscript(name: String) -> String? { values[name] }

    /// The value of a parameter the pattern declares.
    /// - Throws: 400 `MALFORMED_REQUEST` if absent or empty (never happens for a declared one).
    public func require(_ name: String) throws -> String {
        guard let v = values[name], !v.isEmpty else { throw APIError.malformed("missing path parameter \(name)") }
        return v
    }
}
