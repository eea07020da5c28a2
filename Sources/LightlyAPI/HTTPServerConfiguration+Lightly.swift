import HTTPKit
import LightlyWire

extension HTTPServerConfiguration {
    /// The `Server` header lightly-server sends.
    public static let lightlyServerName = "lightly-server"

    /// The API's error body, `{"code": ..., "message": ...}`, for the answers the HTTP layer
    /// gives on its own (a request it cannot parse, limits, timeouts, too many connections, a
    /// failing handler): a client sees one error format whether a route or the HTTP layer answered.
    public static let lightlyErrorBody: ErrorBody = { status, code, message in
        let response = HTTPResponse.error(APIError(status: status, code: ApiErrorCode(rawValue: code), message: message))
        guard case .bytes(let body) = response.body else { return ("application/json", []) }
        return (response.headers[.contentType] ?? "application/json", Array(body))
    }

    /// Makes the HTTP layer answer as lightly-server: its `Server` name and the API's error body.
    public mutating func useLightlyResponses() {
        serverName = Self.lightlyServerName
        errorBody = Self.lightlyErrorBody
    }
}
