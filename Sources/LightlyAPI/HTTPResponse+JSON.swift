#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyWire

extension HTTPResponse {
    /// A JSON body encoded with ``WireJSON`` (ordered keys, omitted nils).
    public static func json<T: Encodable>(_ value: T, status: HTTPStatus = .ok) throws -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: Data(try WireJSON.encode(value)))
    }

    /// A JSON string literal body, e.g. `"1.0.0"` or a URL (docs/protocol.md §1 "String" responses).
    public static func jsonString(_ s: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json",
                     body: Data(JSONValue.string(s).serializedBytes()))
    }

    /// An empty JSON object `{}` (answers whose body the client ignores).
    public static func emptyObject(status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: Data("{}".utf8))
    }

    /// The error body `{"code": ..., "message": ...}` (docs/protocol.md §4).
    public static func error(_ e: APIError, requestID: String? = nil) -> HTTPResponse {
        let body = (try? WireJSON.encode(ApiErrorResponse(code: e.code, message: e.message)))
            ?? Array(#"{"code":"INTERNAL_ERROR","message":"error"}"#.utf8)
        var r = HTTPResponse(status: e.status, contentType: "application/json", body: Data(body))
        for (k, v) in e.headers { r.headers[HTTPHeaderName(k)] = v }
        return r
    }
}
