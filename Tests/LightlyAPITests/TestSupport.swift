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
import PostgresTestSupport
import Testing

/// An application on a fresh temp directory and database (a SQLite file, or a fresh PostgreSQL
/// database with `LIGHTLY_TEST_STORE=postgres`: see `TestStore`), called in-process
/// (Hummingbird's `.router` testing style: no sockets).
final class TestApp: Sendable {
    let app: LightlyApplication
    let directory: String
    /// The store, closed (and a PostgreSQL database dropped) with the app.
    let store: TestStore?

    static func make(settings: APISettings = APISettings()) throws -> TestApp {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("lightly-api-test-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try TestStore.make(sqlitePath: dir + "/db.sqlite")
        var logger = Logger(label: "test")
        // LIGHTLY_TEST_LOG=error shows the errors behind 500s (e.g. SQL the store refused).
        logger.logLevel = ProcessInfo.processInfo.environment["LIGHTLY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let app = try LightlyApplication(database: store.database, dataDirectory: dir + "/data", settings: settings, logger: logger)
        return TestApp(app: app, directory: dir, store: store)
    }

    init(app: LightlyApplication, directory: String, store: TestStore? = nil) {
        self.app = app; self.directory = directory; self.store = store
    }
    deinit {
        store?.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

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

extension TestApp {
    /// Creates a dataset and returns its id.
    func makeDataset(_ name: String, token: String) throws -> String {
        let r = try call(.POST, "/v1/datasets", token: token, json: #"{"name": "\#(name)"}"#)
        #expect(r.status == 201, "create dataset: \(r.text)")
        return try r.decode(CreateEntityResponse.self).id
    }

    /// Creates a sample and returns its id.
    @discardableResult
    func makeSample(_ fileName: String, dataset: String, token: String, size: Int = 100) throws -> String {
        let body = #"{"fileName": "\#(fileName)", "thumbName": "\#(fileName)_thumb.webp", "exif": {}, "metaData": {"sizeInBytes": \#(size), "is_corrupted": false, "shape": [4, 6, 3]}}"#
        let r = try call(.POST, "/v1/datasets/\(dataset)/samples", token: token, json: body)
        #expect(r.status == 201, "create sample: \(r.text)")
        return try r.decode(CreateEntityResponse.self).id
    }

    func mappings(_ dataset: String, token: String, field: String = "fileName") throws -> [String] {
        try call(.GET, "/v1/datasets/\(dataset)/mappings?field=\(field)", token: token).decode([String].self)
    }

    func tags(_ dataset: String, token: String) throws -> [TagData] {
        try call(.GET, "/v1/datasets/\(dataset)/tags", token: token).decode([TagData].self)
    }

    func dataset(_ id: String, token: String) throws -> DatasetData {
        try call(.GET, "/v1/datasets/\(id)", token: token).decode(DatasetData.self)
    }
}

/// Splits an absolute signed URL into the in-process request target (path + query).
func targetOf(_ url: String) -> String {
    let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
    // "http:", "", "host:port", "rest"
    guard parts.count == 4, parts[0].hasSuffix(":") else { return url }
    return "/" + parts[3]
}
