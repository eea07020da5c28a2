#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyStorage
import LightlyWire
import Logging
import Testing

/// An application on a fresh temp directory and file database, called in-process
/// (Hummingbird's `.router` testing style: no sockets).
final class TestApp: Sendable {
    let app: LightlyApplication
    let directory: String

    static func make(settings: APISettings = APISettings()) throws -> TestApp {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("lightly-api-test-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = try Database(path: dir + "/db.sqlite")
        try db.migrate()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let app = try LightlyApplication(database: db, dataDirectory: dir + "/data", settings: settings, logger: logger)
        return TestApp(app: app, directory: dir)
    }

    init(app: LightlyApplication, directory: String) { self.app = app; self.directory = directory }
    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Creates a user and returns its token.
    func makeUser(_ name: String) throws -> String {
        try app.tokens.create(name: name)
    }

    /// Calls the handler. `token` is appended as `?token=` (or `&token=`), like the client does.
    @discardableResult
    func call(_ method: HTTPMethod, _ target: String, token: String? = nil, json: String? = nil,
              body: HTTPRequestBody? = nil, headers: HTTPHeaders = ["Host": "testhost:8080"]) throws -> TestResponse {
        var t = target
        if let token { t += (t.contains("?") ? "&" : "?") + "token=" + token }
        var h = headers
        var b: HTTPRequestBody = body ?? .empty
        if let json { b = .bytes(Data(json.utf8)); h[.contentType] = "application/json" }
        let r = try app.handler.handle(HTTPRequest(method: method, target: t, headers: h, body: b))
        return TestResponse(response: r)
    }

    /// Encodes `value` as the JSON body.
    @discardableResult
    func call<T: Encodable>(_ method: HTTPMethod, _ target: String, token: String?, body value: T) throws -> TestResponse {
        try call(method, target, token: token, json: String(decoding: try WireJSON.encode(value), as: UTF8.self))
    }
}

struct TestResponse {
    let response: HTTPResponse
    var status: Int { response.status.code }
    var bytes: [UInt8] {
        switch response.body {
        case .bytes(let d): return Array(d)
        case .file(let path, let offset, let count):
            let all = (try? Array(Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
            return Array(all.dropFirst(offset).prefix(count))
        }
    }
    var text: String { String(decoding: bytes, as: UTF8.self) }
    var json: JSONValue { (try? JSONValue.parse(bytes)) ?? .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try WireJSON.decode(type, from: bytes) }
    /// The error body's code; records an issue if the body is not `{"code","message"}`.
    var errorCode: String? {
        guard let e = try? decode(ApiErrorResponse.self) else { return nil }
        return e.code.rawValue
    }
}
