import HTTPKit
@testable import LightlyAPI
import LightlyStorage
import LightlyWire
import Logging
import Testing

@Suite struct ErrorBodyTests {
    /// Every route, called with bogus ids and bodies, answers either 2xx or an error whose body
    /// is exactly `{"code","message"}` as JSON.
    @Test func everyErrorHasCodeAndMessage() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let bodies = ["{}", "[]", "not json", #"{"name": null}"#, #"{"x": NaN}"#, ""]
        var checked = 0
        for (method, pattern) in t.app.routeTable {
            for fill in ["0123456789abcdef01234567", ds] {
                let path = "/" + pattern.split(separator: "/").map { $0.hasPrefix(":") ? fill : String($0) }.joined(separator: "/")
                for body in bodies {
                    let r = try t.call(HTTPMethod(rawValue: method), path, token: tok, json: body.isEmpty ? nil : body)
                    guard r.status >= 400 else { continue }
                    checked += 1
                    #expect(r.response.headers[.contentType] == "application/json", "\(method) \(path)")
                    let obj = r.json.objectValue
                    #expect(obj?.keys == ["code", "message"], "\(method) \(path) → \(r.status) \(r.text)")
                    #expect(obj?["message"]?.stringValue?.isEmpty == false)
                    #expect(r.status < 500, "\(method) \(path) body \(body) → \(r.text)")
                }
            }
        }
        #expect(checked > 100)
    }

    struct Boom: Error {}

    @Test func mappingOfErrorKinds() throws {
        let t = try TestApp.make()
        let req = HTTPRequest(method: .GET, target: "/x")
        var log = Logger(label: "t"); log.logLevel = .critical
        func map(_ e: any Error) -> (Int, String) {
            let r = t.app.errorResponse(for: e, request: req, requestID: "rid", logger: log)
            let body = TestResponse(response: r)
            return (r.status.code, body.errorCode ?? "?")
        }
        #expect(map(APIError.tagUnknown("a", dataset: "b")) == (404, "TAG_UNKNOWN"))
        #expect(map(StorageError(code: SQLiteCode.constraintUnique, message: "UNIQUE")) == (409, "BAD_REQUEST"))
        #expect(map(StorageError(code: SQLiteCode.constraintForeignKey, message: "FK")) == (404, "NOT_FOUND"))
        #expect(map(JSONSyntaxError(offset: 1, reason: "x")) == (400, "MALFORMED_REQUEST"))
        #expect(map(DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "d"))) == (400, "MALFORMED_REQUEST"))
        let (status, code) = map(Boom())
        #expect(status == 500)
        #expect(code == "INTERNAL_ERROR")
        let text = TestResponse(response: t.app.errorResponse(for: Boom(), request: req, requestID: "rid", logger: log)).text
        #expect(!text.contains("Boom"))          // details are logged, not sent
        #expect(text.contains("rid"))
    }

    @Test func requestIdHeaderOnEveryResponse() throws {
        let t = try TestApp.make()
        let a = try t.call(.GET, "/health")
        let b = try t.call(.GET, "/nope")
        let ia = try #require(a.response.headers["X-Request-Id"])
        let ib = try #require(b.response.headers["X-Request-Id"])
        #expect(ia != ib)
    }
}
