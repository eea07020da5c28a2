import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Testing

@Suite struct FoundationTests {
    @Test func versionsAndHealthNeedNoToken() throws {
        let t = try TestApp.make()
        let min = try t.call(.GET, "/v1/versions/pip/minimum")
        #expect(min.status == 200)
        #expect(min.text == "\"1.0.0\"")
        #expect(try t.call(.GET, "/v1/versions/pip/latest?currentVersion=1.1.23").text == "\"1.1.23\"")
        #expect(try t.call(.GET, "/v1/versions/pip/latest").text == "\"1.0.0\"")
        #expect(try t.call(.GET, "/health").json == ["status": "ok"])
        #expect(try t.call(.GET, "/ping").status == 200)
    }

    @Test func quotaNeedsToken() throws {
        let t = try TestApp.make()
        let r = try t.call(.GET, "/v1/quota")
        #expect(r.status == 401)
        #expect(r.errorCode == "UNAUTHORIZED")
        #expect(try t.call(.GET, "/v1/quota", token: "nope").status == 401)
        let token = try t.makeUser("alice")
        #expect(try t.call(.GET, "/v1/quota", token: token).text == "\"1000000\"")
        #expect(try t.call(.GET, "/users/quota", token: token).json == ["maxDatasetSize": 1_000_000])
        #expect(try t.call(.GET, "/users/quota").status == 401)
    }

    @Test func unknownPathAndWrongMethod() throws {
        let t = try TestApp.make()
        let r = try t.call(.GET, "/v1/nothing/here")
        #expect(r.status == 404)
        #expect(r.errorCode == "NOT_FOUND")
        let m = try t.call(.DELETE, "/v1/versions/pip/minimum")
        #expect(m.status == 405)
        #expect(m.response.headers["Allow"] == "GET")
        #expect(m.errorCode != nil)
    }
}
