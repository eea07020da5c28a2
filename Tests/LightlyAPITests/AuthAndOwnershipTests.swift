import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Testing

@Suite struct AuthAndOwnershipTests {
    @Test func everyV1RouteButVersionsNeedsAToken() throws {
        let t = try TestApp.make()
        let fake = "0123456789abcdef01234567"
        for (method, pattern) in t.app.routeTable {
            let path = pattern.split(separator: "/").map { $0.hasPrefix(":") ? fake : String($0) }.joined(separator: "/")
            let open = pattern.hasPrefix("/v1/versions/") || pattern.hasPrefix("/signed/") || pattern == "/health" || pattern == "/ping"
                || pattern == "/" || pattern == "/ui/:file"  // the web page's files hold no data
            let r = try t.call(HTTPMethod(rawValue: method), "/" + path, json: "{}")
            if pattern.hasPrefix("/_admin/") || pattern == "/metrics" {
                // The admin API and /metrics are off here: unknown path (AdminGateTests and
                // MetricsTests cover them when on).
                #expect(r.status == 404, "\(method) \(pattern) answered \(r.status) while off")
            } else if open {
                #expect(r.status != 401, "\(method) \(pattern) must not need a token")
            } else {
                #expect(r.status == 401, "\(method) \(pattern) answered \(r.status) without a token")
                #expect(r.errorCode == "UNAUTHORIZED")
                let bad = try t.call(HTTPMethod(rawValue: method), "/" + path, token: "lt_unknown", json: "{}")
                #expect(bad.status == 401, "\(method) \(pattern) answered \(bad.status) with an unknown token")
            }
        }
    }

    @Test func anotherUsersDatasetIsUnknown() throws {
        let t = try TestApp.make()
        let alice = try t.makeUser("alice")
        let bob = try t.makeUser("bob")
        let ds = try t.makeDataset("a", token: alice)
        let sample = try t.makeSample("x.png", dataset: ds, token: alice)
        let tag = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: alice, json: #"{"imgType":"full"}"#)
            .decode(CreateEntityResponse.self).id

        let probes: [(HTTPMethod, String, String?)] = [
            (.GET, "/v1/datasets/\(ds)", nil),
            (.PUT, "/v1/datasets/\(ds)", #"{"name":"stolen"}"#),
            (.DELETE, "/v1/datasets/\(ds)", "{}"),
            (.GET, "/v1/datasets/\(ds)/samples", nil),
            (.POST, "/v1/datasets/\(ds)/samples", #"{"fileName":"evil.png","metaData":{}}"#),
            (.GET, "/v1/datasets/\(ds)/samples/\(sample)", nil),
            (.PUT, "/v1/datasets/\(ds)/samples/\(sample)", #"{"customMetaData":{}}"#),
            (.GET, "/v1/datasets/\(ds)/samples/\(sample)/writeurl?isThumbnail=True", nil),
            (.GET, "/v1/datasets/\(ds)/samples/\(sample)/writeurls", nil),
            (.GET, "/v1/datasets/\(ds)/samples/\(sample)/readurl?type=full", nil),
            (.PUT, "/v1/datasets/\(ds)/registerDatasetUpload", #"{"total":1,"processed":0}"#),
            (.GET, "/v1/datasets/\(ds)/mappings?field=fileName", nil),
            (.GET, "/v1/datasets/\(ds)/tags", nil),
            (.GET, "/v1/datasets/\(ds)/tags/\(tag)", nil),
            (.GET, "/v1/datasets/\(ds)/tags/\(tag)/filenames", nil),
            (.POST, "/v1/datasets/\(ds)/tags/initial", #"{"imgType":"full"}"#),
            (.POST, "/v1/datasets/\(ds)/tags/upsize", #"{"upsizeTagName":"u","upsizeTagCreator":"USER_PIP"}"#),
            (.POST, "/v1/datasets/\(ds)/tags/arithmetics", #"{"tagId1":"\#(tag)","tagId2":"\#(tag)","operation":"UNION"}"#),
            (.POST, "/v1/datasets/\(ds)/tags", #"{"name":"t","prevTagId":"\#(tag)","bitMaskData":"0x1","totSize":1}"#),
            (.PUT, "/v1/datasets/\(ds)/tags/\(tag)", #"{"name":"t2"}"#),
            (.DELETE, "/v1/datasets/\(ds)/tags/\(tag)", "{}"),
            (.GET, "/v1/datasets/\(ds)/datasource", nil),
        ]
        for (method, path, body) in probes {
            let r = try t.call(method, path, token: bob, json: body)
            #expect(r.status == 404, "\(method) \(path) as bob: \(r.status) \(r.text)")
            #expect(r.errorCode == "DATASET_UNKNOWN", "\(method) \(path): \(r.text)")
            #expect(!r.text.contains("\"x.png\""))
        }
        // Bob's listing does not show it; Alice's data is untouched.
        #expect(try t.call(.GET, "/v1/datasets", token: bob).decode([DatasetData].self).isEmpty)
        let d = try t.dataset(ds, token: alice)
        #expect(d.name == "a")
        #expect(d.nSamples == 1)
        #expect(try t.tags(ds, token: alice).count == 1)
    }

    @Test func samplesOfAnotherDatasetAreUnknown() throws {
        let t = try TestApp.make()
        let alice = try t.makeUser("alice")
        let ds1 = try t.makeDataset("one", token: alice)
        let ds2 = try t.makeDataset("two", token: alice)
        let s = try t.makeSample("a.png", dataset: ds1, token: alice)
        let r = try t.call(.GET, "/v1/datasets/\(ds2)/samples/\(s)", token: alice)
        #expect(r.status == 404)
        #expect(r.errorCode == "SAMPLE_UNKNOWN")
    }
}
