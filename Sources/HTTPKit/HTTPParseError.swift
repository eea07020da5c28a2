// MARK: - Parse errors

/// Why the HTTP layer rejected a request before any handler saw it.
///
/// Each error knows the status and the JSON error `code` the server answers with. The
/// server always closes the connection after answering one of these, because the framing of
/// whatever follows on the wire can no longer be trusted (RFC 9112 §6.3, §11.2).
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The category of the failure.
    public enum Kind: String, Sendable, Equatable {
        /// The request line is not `method SP request-target SP HTTP-version` (RFC 9112 §3).
        case malformedRequestLine
        /// A header field line is not `field-name ":" OWS field-value OWS` (RFC 9112 §5).
        case invalidHeader
        /// The request line and headers exceed the configured limit (RFC 6585 §5).
        case headersTooLarge
        /// `Content-Length` together with `Transfer-Encoding` (RFC 9112 §6.1).
        case conflictingFraming
        /// `Content-Length` is not a decimal number, or several differ (RFC 9112 §6.3).
        case invalidContentLength
        /// A transfer coding other than exactly `chunked` (RFC 9112 §6.1).
        case unsupportedTransferEncoding
        /// A chunk size line or the CRLF after chunk data is invalid (RFC 9112 §7.1).
        case invalidChunk
        /// The body is larger than the configured limit.
        case contentTooLarge
        /// An HTTP major version other than 1 (RFC 9110 §2.5).
        case versionNotSupported
        /// HTTP/1.1 request without exactly one `Host` header (RFC 9112 §3.2).
        case missingHost
    }

    /// The category of the failure.
    public var kind: Kind
    /// A short human-readable detail. Safe to send to the client: it never contains request data.
    public var message: String

    /// Creates an error of `kind` with a client-safe `message`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The status the server answers with.
    public var status: HTTPStatus {
        switch kind {
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .contentTooLarge: .contentTooLarge
        case .versionNotSupported: .httpVersionNotSupported
        default: .badRequest
        }
    }

    /// The `code` field of the JSON error body.
    public var code: String {
        switch kind {
        case .malformedRequestLine: HTTPErrorCode.malformedRequest
        case .headersTooLarge: HTTPErrorCode.headersTooLarge
        case .contentTooLarge: HTTPErrorCode.payloadTooLarge
        case .versionNotSupported: HTTPErrorCode.httpVersionNotSupported
        default: HTTPErrorCode.badRequest
        }
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// The `code` values of JSON error bodies produced by the HTTP layer itself.
public enum HTTPErrorCode {
    /// 400: bad header syntax or framing (Content-Length/Transfer-Encoding, chunks, Host).
    public static let badRequest = "BAD_REQUEST"
    /// 400: the request line cannot be parsed.
    public static let malformedRequest = "MALFORMED_REQUEST"
    /// 431: request line plus headers over ``HTTPServerConfiguration/maxHeaderBytes``.
    public static let headersTooLarge = "HEADERS_TOO_LARGE"
    /// 413: body over ``HTTPServerConfiguration/maxBodyBytes``.
    public static let payloadTooLarge = "PAYLOAD_TOO_LARGE"
    /// 408: headers or body not received in time.
    public static let requestTimeout = "REQUEST_TIMEOUT"
    /// 505: an HTTP major version other than 1.
    public static let httpVersionNotSupported = "HTTP_VERSION_NOT_SUPPORTED"
    /// 400: a plain HTTP request arrived on a TLS port.
    public static let plainHTTPToTLSPort = "PLAIN_HTTP_TO_TLS_PORT"
    /// 503: over ``HTTPServerConfiguration/maxConnections``.
    public static let serviceUnavailable = "SERVICE_UNAVAILABLE"
    /// 500: the handler threw, or the server could not store a body or open a response file.
    public static let internalError = "INTERNAL_ERROR"
    /// 507: a spilled request body did not fit on the disk (`ENOSPC`, `EDQUOT`, `EFBIG`).
    public static let insufficientStorage = "INSUFFICIENT_STORAGE"
}
