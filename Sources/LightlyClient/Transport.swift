import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An error from the Lightly API or from talking to it.
public enum LightlyClientError: Error, CustomStringConvertible, Sendable {
    /// The server answered with a non-2xx status. `code` and `message` come from the API's
    /// error body (`{"code": …, "message": …}`) when it has one.
    case api(status: Int, code: String?, message: String, method: String, path: String)
    /// The server could not be reached (connection refused, timeout, DNS, …).
    case transport(String)
    /// The answer was not what the protocol says.
    case invalidResponse(String)
    /// A local precondition failed before any request was sent.
    case invalidArgument(String)
    /// A sampling job reported FAILED.
    case jobFailed(jobId: String, error: String)
    /// Waiting for a job took longer than the given timeout.
    case timeout(String)

    public var description: String {
        switch self {
        case let .api(status, code, message, method, path):
            "\(method) \(path) failed with HTTP \(status)\(code.map { " \($0)" } ?? ""): \(message)"
        case let .transport(m): "cannot reach the server: \(m)"
        case let .invalidResponse(m): "unexpected answer from the server: \(m)"
        case let .invalidArgument(m): m
        case let .jobFailed(id, e): "sampling job \(id) failed: \(e)"
        case let .timeout(m): m
        }
    }

    /// The HTTP status for `.api` errors.
    public var status: Int? { if case let .api(s, _, _, _, _) = self { s } else { nil } }
    /// The API error code for `.api` errors (e.g. `DATASET_UNKNOWN`).
    public var code: String? { if case let .api(_, c, _, _, _) = self { c } else { nil } }
}

/// How requests are retried: connection errors and 5xx answers of idempotent calls only,
/// with exponential backoff.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    public init(maxAttempts: Int = 4, initialDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(4)) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }
    public static let none = RetryPolicy(maxAttempts: 1)
}

/// The HTTP layer of the client: builds `/v1/...` URLs with the token in the query string
/// (docs/protocol.md §2), sends JSON, decodes JSON, maps errors, retries idempotent calls.
struct Transport: Sendable {
    let base: URL
    let token: String
    let session: URLSession
    let retry: RetryPolicy
    let timeout: TimeInterval

    init(base: URL, token: String, session: URLSession, retry: RetryPolicy, timeout: TimeInterval) {
        self.base = base
        self.token = token
        self.session = session
        self.retry = retry
        self.timeout = timeout
    }

    /// Form-encodes a query value the way the Python client does (space → `+`; `/ + & = ?` escaped).
    static func formEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.unicodeScalars.map { u -> String in
            if u == " " { return "+" }
            if allowed.contains(u) && u.isASCII { return String(u) }
            return String(u).utf8.map { String(format: "%%%02X", $0) }.joined()
        }.joined()
    }

    /// Percent-encodes one path segment with no safe characters (as the Python client does).
    static func pathEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    func url(_ path: String, query: [(String, String)] = [], authenticated: Bool = true) -> URL? {
        var q = query
        if authenticated { q.append(("token", token)) }
        let qs = q.isEmpty ? "" : "?" + q.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        var s = base.absoluteString
        while s.hasSuffix("/") { s.removeLast() }
        return URL(string: s + path + qs)
    }

    /// Sends a request and returns the body of a 2xx answer.
    func send(_ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
              authenticated: Bool = true, idempotent: Bool? = nil) async throws -> Data {
        guard let url = url(path, query: query, authenticated: authenticated) else {
            throw LightlyClientError.invalidArgument("invalid URL for path \(path)")
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let canRetry = idempotent ?? (method == "GET" || method == "PUT" || method == "DELETE" || method == "HEAD")
        return try await perform(request, method: method, path: path, retrying: canRetry)
    }

    /// Sends a raw request to an absolute (signed) URL, without the token.
    func sendRaw(_ method: String, url: URL, body: Data?, expectStatus: Int? = nil) async throws -> Data {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.httpBody = body
        return try await perform(request, method: method, path: url.path, retrying: method != "POST", expectStatus: expectStatus)
    }

    private func perform(_ request: URLRequest, method: String, path: String, retrying: Bool,
                         expectStatus: Int? = nil) async throws -> Data {
        var delay = retry.initialDelay
        let attempts = retrying ? retry.maxAttempts : 1
        var lastError: LightlyClientError = .transport("no attempt made")
        for attempt in 1...attempts {
            try Task.checkCancellation()
            do {
                let (data, response) = try await session.data(for: request)
                guard let http = response as? HTTPURLResponse else {
                    throw LightlyClientError.invalidResponse("not an HTTP response")
                }
                let ok = expectStatus.map { http.statusCode == $0 } ?? (200..<300).contains(http.statusCode)
                if ok { return data }
                let error = Self.apiError(status: http.statusCode, body: data, method: method, path: path)
                if http.statusCode < 500 { throw error }
                lastError = error
            } catch let e as LightlyClientError {
                if case .api(let s, _, _, _, _) = e, s < 500 { throw e }
                if case .invalidResponse = e { throw e }
                lastError = e
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if (error as? URLError)?.code == .cancelled { throw CancellationError() }
                lastError = .transport(error.localizedDescription)
            }
            if attempt < attempts {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, retry.maxDelay)
            }
        }
        throw lastError
    }

    static func apiError(status: Int, body: Data, method: String, path: String) -> LightlyClientError {
        struct Body: Decodable { var code: String?; var message: String? }
        if let b = try? JSONDecoder().decode(Body.self, from: body), b.code != nil || b.message != nil {
            return .api(status: status, code: b.code, message: b.message ?? "", method: method, path: path)
        }
        let text = String(decoding: body.prefix(500), as: UTF8.self)
        return .api(status: status, code: nil, message: text.isEmpty ? HTTPURLResponse.localizedString(forStatusCode: status) : text,
                    method: method, path: path)
    }

    // MARK: - JSON helpers

    func get<T: Decodable>(_ path: String, query: [(String, String)] = [], as: T.Type = T.self,
                           authenticated: Bool = true) async throws -> T {
        try decode(T.self, from: try await send("GET", path, query: query, authenticated: authenticated), path: path)
    }

    func post<B: Encodable, T: Decodable>(_ path: String, _ body: B, as: T.Type = T.self) async throws -> T {
        let data = try await send("POST", path, body: try JSONEncoder().encode(body))
        return try decode(T.self, from: data, path: path)
    }

    func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw LightlyClientError.invalidResponse("\(path): \(error)")
        }
    }

    /// "String" answers (URLs, versions, quota): a JSON string, or raw text (docs/protocol.md §1).
    func getString(_ path: String, query: [(String, String)] = [], authenticated: Bool = true) async throws -> String {
        let data = try await send("GET", path, query: query, authenticated: authenticated)
        if let s = try? JSONDecoder().decode(String.self, from: data) { return s }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
