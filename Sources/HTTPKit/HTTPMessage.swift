#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The request/response model shared by the server, the router and every handler.
// This file is the contract between HTTPKit and the layers above it: add to it, but keep
// the names and meanings of what is here.

// MARK: - Method

public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let GET = HTTPMethod(rawValue: "GET")
    public static let HEAD = HTTPMethod(rawValue: "HEAD")
    public static let POST = HTTPMethod(rawValue: "POST")
    public static let PUT = HTTPMethod(rawValue: "PUT")
    public static let DELETE = HTTPMethod(rawValue: "DELETE")
    public static let PATCH = HTTPMethod(rawValue: "PATCH")
    public static let OPTIONS = HTTPMethod(rawValue: "OPTIONS")
}

// MARK: - Status

public struct HTTPStatus: Hashable, Sendable, CustomStringConvertible {
    public var code: Int
    public var reasonPhrase: String
    public init(code: Int, reasonPhrase: String) { self.code = code; self.reasonPhrase = reasonPhrase }
    public var description: String { "\(code) \(reasonPhrase)" }

    public static let ok = HTTPStatus(code: 200, reasonPhrase: "OK")
    public static let created = HTTPStatus(code: 201, reasonPhrase: "Created")
    public static let accepted = HTTPStatus(code: 202, reasonPhrase: "Accepted")
    public static let noContent = HTTPStatus(code: 204, reasonPhrase: "No Content")
    public static let badRequest = HTTPStatus(code: 400, reasonPhrase: "Bad Request")
    public static let unauthorized = HTTPStatus(code: 401, reasonPhrase: "Unauthorized")
    public static let forbidden = HTTPStatus(code: 403, reasonPhrase: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reasonPhrase: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reasonPhrase: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, reasonPhrase: "Request Timeout")
    public static let conflict = HTTPStatus(code: 409, reasonPhrase: "Conflict")
    public static let lengthRequired = HTTPStatus(code: 411, reasonPhrase: "Length Required")
    public static let contentTooLarge = HTTPStatus(code: 413, reasonPhrase: "Content Too Large")
    public static let uriTooLong = HTTPStatus(code: 414, reasonPhrase: "URI Too Long")
    public static let unprocessableContent = HTTPStatus(code: 422, reasonPhrase: "Unprocessable Content")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, reasonPhrase: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reasonPhrase: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reasonPhrase: "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(code: 503, reasonPhrase: "Service Unavailable")
    public static let httpVersionNotSupported = HTTPStatus(code: 505, reasonPhrase: "HTTP Version Not Supported")
    public static let insufficientStorage = HTTPStatus(code: 507, reasonPhrase: "Insufficient Storage")
}

// MARK: - Headers

/// A header name whose equality and hash ignore ASCII case (RFC 9110 §5.1).
public struct HTTPHeaderName: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    // Header names are tokens (ASCII), so compare bytes without allocating; anything else
    // falls back to `lowercased()`, which is what equality has always meant here.
    public static func == (a: Self, b: Self) -> Bool {
        let x = a.rawValue.utf8, y = b.rawValue.utf8
        guard x.count == y.count else {
            return !(isASCII(x) && isASCII(y)) && a.rawValue.lowercased() == b.rawValue.lowercased()
        }
        var sawNonASCII = false
        for (c, d) in zip(x, y) {
            if c >= 0x80 || d >= 0x80 { sawNonASCII = true; break }
            if lowerASCII(c) != lowerASCII(d) { return false }
        }
        return sawNonASCII ? a.rawValue.lowercased() == b.rawValue.lowercased() : true
    }
    public func hash(into hasher: inout Hasher) {
        let u = rawValue.utf8
        if Self.isASCII(u) {
            for c in u { hasher.combine(Self.lowerASCII(c)) }
        } else {
            for c in rawValue.lowercased().utf8 { hasher.combine(c) }
        }
        hasher.combine(0xFF as UInt8)  // terminator, as String hashing does
    }
    private static func lowerASCII(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
    private static func isASCII(_ u: String.UTF8View) -> Bool { u.allSatisfy { $0 < 0x80 } }

    public static let contentLength: Self = "Content-Length"
    public static let contentType: Self = "Content-Type"
    public static let transferEncoding: Self = "Transfer-Encoding"
    public static let connection: Self = "Connection"
    public static let host: Self = "Host"
    public static let location: Self = "Location"
    public static let expect: Self = "Expect"
    public static let allow: Self = "Allow"
    public static let date: Self = "Date"
    public static let server: Self = "Server"
    public static let xForwardedProto: Self = "X-Forwarded-Proto"
}

/// Ordered header fields; lookups ignore case.
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: HTTPHeaderName, value: String)] = []
    public init() {}
    public init(dictionaryLiteral elements: (HTTPHeaderName, String)...) {
        for (n, v) in elements { fields.append((n, v)) }
    }
    public subscript(name: HTTPHeaderName) -> String? {
        get { fields.first { $0.name == name }?.value }
        set {
            fields.removeAll { $0.name == name }
            if let newValue { fields.append((name, newValue)) }
        }
    }
    public func values(_ name: HTTPHeaderName) -> [String] { fields.filter { $0.name == name }.map(\.value) }
    public mutating func add(_ name: HTTPHeaderName, _ value: String) { fields.append((name, value)) }
    public func makeIterator() -> IndexingIterator<[(name: HTTPHeaderName, value: String)]> { fields.makeIterator() }
}

// MARK: - Request

/// A request body. Bodies above the server's threshold arrive as a temporary file that the
/// server deletes after the handler returns; a handler that wants to keep it must move it
/// (rename) before returning.
public enum HTTPRequestBody: Sendable {
    case empty
    case bytes(Data)
    case file(path: String, count: Int)

    public var count: Int {
        switch self {
        case .empty: 0
        case .bytes(let d): d.count
        case .file(_, let n): n
        }
    }
}

public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request target exactly as received, e.g. `/v1/datasets?token=abc`.
    public var target: String
    /// The path part of the target, still percent-encoded, e.g. `/v1/datasets/ab%2Fc`.
    public var rawPath: String
    /// Path segments: split on `/`, empty segments dropped (so `//` collapses and a trailing
    /// slash does not matter), each segment percent-decoded.
    public var pathSegments: [String]
    /// Query items in order, form-decoded (`+` is a space, then percent-decoding).
    public var queryItems: [(name: String, value: String)]
    public var headers: HTTPHeaders
    public var body: HTTPRequestBody
    /// "HTTP/1.1" or "HTTP/1.0".
    public var version: String
    public var remoteAddress: String
    /// Whether the request arrived over TLS (the server's own; a proxy in front is not seen).
    public var isSecure: Bool

    public init(method: HTTPMethod, target: String, headers: HTTPHeaders = HTTPHeaders(),
                body: HTTPRequestBody = .empty, version: String = "HTTP/1.1", remoteAddress: String = "",
                isSecure: Bool = false) {
        self.isSecure = isSecure
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.version = version
        self.remoteAddress = remoteAddress
        let (path, query) = HTTPRequest.split(target: target)
        self.rawPath = path
        self.pathSegments = path.split(separator: "/", omittingEmptySubsequences: true)
            .map { HTTPRequest.percentDecode(Substring($0), plusIsSpace: false) }
        self.queryItems = HTTPRequest.parseQuery(query)
    }

    /// The first value of a query parameter.
    public func query(_ name: String) -> String? { queryItems.first { $0.name == name }?.value }

    static func split(target: String) -> (path: String, query: Substring) {
        if let q = target.firstIndex(of: "?") {
            return (String(target[..<q]), target[target.index(after: q)...])
        }
        return (target, "")
    }

    static func parseQuery(_ query: Substring) -> [(name: String, value: String)] {
        guard !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return (percentDecode(pair[..<eq], plusIsSpace: true),
                        percentDecode(pair[pair.index(after: eq)...], plusIsSpace: true))
            }
            return (percentDecode(pair, plusIsSpace: true), "")
        }
    }

    /// Percent-decoding that never fails: a malformed escape is kept literally.
    public static func percentDecode(_ s: Substring, plusIsSpace: Bool) -> String {
        // Fast path: nothing to decode (the common case for path segments).
        if !s.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) {
            return String(s)
        }
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2,
               let h = hexValue(it[it.startIndex]), let l = hexValue(it[it.startIndex + 1]) {
                out.append(h << 4 | l)
                it = it.dropFirst(2)
            } else if plusIsSpace && c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

// MARK: - Response

public enum HTTPResponseBody: Sendable {
    case bytes(Data)
    /// Streamed from disk in chunks; never loaded whole into memory.
    case file(path: String, offset: Int = 0, count: Int)

    public var count: Int {
        switch self {
        case .bytes(let d): d.count
        case .file(_, _, let n): n
        }
    }
}

public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody
    /// Facts about the request the handler wants to see again in
    /// ``HTTPHandler/requestCompleted(_:)`` (e.g. which route answered). Never sent.
    public var annotations: [String: String] = [:]

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: HTTPResponseBody = .bytes(Data())) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: HTTPStatus = .ok, contentType: String, body: Data) {
        self.init(status: status, headers: [.contentType: contentType], body: .bytes(body))
    }
}

// MARK: - Handler

/// A handler's verdict on a request head, before any of the body is read.
public enum HTTPHeadDecision: Sendable {
    /// Read the body (sending `100 Continue` if the client asked for it), then call
    /// ``HTTPHandler/handle(_:)``.
    case proceed
    /// Answer with this response now and close the connection (`Connection: close`). The
    /// body is never read into memory or onto disk.
    case reject(HTTPResponse)
}

/// What the server calls for every complete request. Handlers are synchronous and run on the
/// server's bounded worker pool, never on a connection's read path. An error thrown here
/// becomes a generic 500; layers above map their own errors to responses before that.
public protocol HTTPHandler: Sendable {
    /// Answers a complete request.
    func handle(_ request: HTTPRequest) throws -> HTTPResponse

    /// Looks at a request that announces a body as soon as its head has arrived, before a
    /// byte of the body is read or stored and before `100 Continue` is sent; e.g. to refuse an
    /// unauthenticated upload at once. Runs on the worker pool; `request.body` is `.empty`.
    /// Requests without a body go straight to ``handle(_:)``. The default proceeds.
    func inspectHead(_ request: HTTPRequest) -> HTTPHeadDecision

    /// Called once per request that had a complete head, at the moment the access-log line is
    /// written (after the last byte of the response is sent, or when the client went away).
    /// Runs on the connection's queue: keep it short. The default does nothing.
    func requestCompleted(_ record: HTTPRequestRecord)
}

extension HTTPHandler {
    /// Proceeds: the body is read and ``handle(_:)`` decides.
    public func inspectHead(_ request: HTTPRequest) -> HTTPHeadDecision { .proceed }
    /// Does nothing.
    public func requestCompleted(_ record: HTTPRequestRecord) {}
}

/// One finished request, as the access log sees it.
public struct HTTPRequestRecord: Sendable {
    /// The request method.
    public var method: HTTPMethod
    /// The request target with secrets hidden (``redactQuery(target:names:)`` with the
    /// configuration's `redactedQueryParameters`).
    public var target: String
    /// The status sent.
    public var status: Int
    /// Body bytes of the response (0 for HEAD/204/304); `nil` when the client went away before
    /// the response was complete.
    public var bytes: Int?
    /// From the complete request head to the end of the response.
    public var durationNanoseconds: UInt64
    /// The handler's ``HTTPResponse/annotations``; empty for answers the server made itself
    /// (a malformed request, a timeout).
    public var annotations: [String: String]

    public init(method: HTTPMethod, target: String, status: Int, bytes: Int?, durationNanoseconds: UInt64,
                annotations: [String: String] = [:]) {
        self.method = method
        self.target = target
        self.status = status
        self.bytes = bytes
        self.durationNanoseconds = durationNanoseconds
        self.annotations = annotations
    }
}

/// A handler made of closures.
public struct ClosureHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) throws -> HTTPResponse
    let head: @Sendable (HTTPRequest) -> HTTPHeadDecision

    /// - Parameters:
    ///   - inspectHead: Decides on a request head before its body is read (see
    ///     ``HTTPHandler/inspectHead(_:)``). Default: always proceed.
    ///   - body: Answers complete requests.
    public init(inspectHead: @escaping @Sendable (HTTPRequest) -> HTTPHeadDecision = { _ in .proceed },
                _ body: @escaping @Sendable (HTTPRequest) throws -> HTTPResponse) {
        self.body = body
        self.head = inspectHead
    }
    public func handle(_ request: HTTPRequest) throws -> HTTPResponse { try body(request) }
    public func inspectHead(_ request: HTTPRequest) -> HTTPHeadDecision { head(request) }
}
