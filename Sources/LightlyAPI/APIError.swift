import HTTPKit
import LightlyStorage
import LightlyWire

/// An error that knows its HTTP status and wire code. The error mapping in
/// `LightlyApplication+Errors.swift` (the only place that turns errors into responses)
/// renders it as `{"code": code, "message": message}`.
public struct APIError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: HTTPStatus
    public var code: ApiErrorCode
    public var message: String
    /// Extra response headers (e.g. `Allow` on a 405).
    public var headers: [String: String]

    public init(status: HTTPStatus, code: ApiErrorCode, message: String, headers: [String: String] = [:]) {
        self.status = status; self.code = code; self.message = message; self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    // MARK: - Factories

    /// 400 `BAD_REQUEST`: a request that is well-formed JSON but semantically invalid.
    public static func badRequest(_ message: String, code: ApiErrorCode = .badRequest) -> APIError {
        APIError(status: .badRequest, code: code, message: message)
    }
    /// 400 `MALFORMED_REQUEST`: unparsable body, missing/mistyped field, bad query value.
    public static func malformed(_ message: String) -> APIError {
        APIError(status: .badRequest, code: .malformedRequest, message: message)
    }
    /// 401 `UNAUTHORIZED`: missing or unknown `token`.
    public static let unauthorized = APIError(status: .unauthorized, code: .unauthorized,
                                              message: "missing or invalid token (pass ?token=...)")
    /// 403 `FORBIDDEN`.
    public static func forbidden(_ message: String) -> APIError {
        APIError(status: .forbidden, code: .forbidden, message: message)
    }
    /// 404 with a specific code (`DATASET_UNKNOWN`, `TAG_UNKNOWN`, …).
    public static func notFound(_ code: ApiErrorCode, _ message: String) -> APIError {
        APIError(status: .notFound, code: code, message: message)
    }
    /// 409 with a specific code (`DATASET_NAME_EXISTS`, `TAG_NAME_EXISTS`, …).
    public static func conflict(_ code: ApiErrorCode, _ message: String) -> APIError {
        APIError(status: .conflict, code: code, message: message)
    }
    /// 413: the body is larger than the configured limit.
    public static func tooLarge(_ message: String) -> APIError {
        APIError(status: .contentTooLarge, code: .payloadTooLarge, message: message)
    }

    /// 507 `INSUFFICIENT_STORAGE`: the disk or the quota is full. Every write rolls back or
    /// removes its partial files, so the request changed nothing; it can be retried once space
    /// is freed. Reads keep working.
    public static let insufficientStorage = APIError(
        status: .insufficientStorage, code: .insufficientStorage,
        message: "the server's storage is full; nothing was changed. Retry after space is freed")

    /// 503 `SERVICE_UNAVAILABLE`: the database server (PostgreSQL) does not answer.
    public static let databaseUnavailable = APIError(
        status: .serviceUnavailable, code: .serviceUnavailable,
        message: "the database does not answer; retry later", headers: ["Retry-After": "5"])

    /// 503 `SERVICE_UNAVAILABLE`: the database stayed locked past the busy timeout; retry.
    public static let databaseBusy = APIError(
        status: .serviceUnavailable, code: .serviceUnavailable,
        message: "the database is busy; retry the request", headers: ["Retry-After": "1"])

    /// True when `error` says the disk or the quota is full: `StorageError.isDiskFull`
    /// (`SQLITE_FULL`, or `ENOSPC`/`EDQUOT`/`EFBIG` behind an I/O error) or a file operation
    /// (`FileIOError`) that failed with one of `StorageError.diskFullErrnos`.
    public static func isDiskFull(_ error: any Error) -> Bool {
        switch error {
        case let e as StorageError: return e.isDiskFull
        case let e as FileIOError: return StorageError.diskFullErrnos.contains(e.code)
        default: return false
        }
    }

    public static func datasetUnknown(_ id: String) -> APIError {
        .notFound(.datasetUnknown, "dataset \(id) not found")
    }
    public static func sampleUnknown(_ id: String, dataset: String) -> APIError {
        .notFound(.sampleUnknown, "sample \(id) not found in dataset \(dataset)")
    }
    public static func tagUnknown(_ id: String, dataset: String) -> APIError {
        .notFound(.tagUnknown, "tag \(id) not found in dataset \(dataset)")
    }
}
