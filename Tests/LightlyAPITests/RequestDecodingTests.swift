import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Testing

@Suite struct RequestDecodingTests {
    @Test func formEncodedQueryValues() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        try t.makeSample("my emb/1+&.png", dataset: ds, token: tok)
        // `+` is a space; `%2F`, `%2B`, `%26` decode (docs/protocol.md §1).
        let r = try t.call(.GET, "/v1/datasets/\(ds)/samples?fileName=my+emb%2F1%2B%26.png", token: tok)
        #expect(try r.decode([SampleData].self).map(\.fileName) == ["my emb/1+&.png"])
        // Python booleans.
        let s = try t.call(.GET, "/v1/datasets/\(ds)/samples?fileName=my+emb%2F1%2B%26.png", token: tok).decode([SampleData].self)[0].id
        for v in ["True", "true"] {
            let u = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=\(v)", token: tok).decode(String.self)
            #expect(u.contains("/thumbnail?"))
        }
        for v in ["False", "false"] {
            let u = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=\(v)", token: tok).decode(String.self)
            #expect(u.contains("/full?"))
        }
    }

    @Test func tokenAfterOtherParametersAndSlashes() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        // `//v1/...` (trailing slash in LIGHTLY_SERVER_LOCATION) and `%2F`-free ids route normally.
        let r = try t.call(.GET, "//v1/datasets/\(ds)/mappings?field=fileName&token=\(tok)")
        #expect(r.status == 200)
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/?token=\(tok)").status == 200)
    }

    @Test func literalRoutesBeatParameters() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        // `enriched` is not taken as a dataset id.
        #expect(try t.call(.GET, "/v1/datasets/enriched", token: tok).status == 200)
        let ds = try t.makeDataset("a", token: tok)
        // GET tags/initial falls through to tags/:tagId → TAG_UNKNOWN.
        let r = try t.call(.GET, "/v1/datasets/\(ds)/tags/initial", token: tok)
        #expect(r.status == 404)
        #expect(r.errorCode == "TAG_UNKNOWN")
    }

    @Test func bodyLimit() throws {
        let t = try TestApp.make(settings: APISettings(maxJSONBodyBytes: 64))
        let tok = try t.makeUser("alice")
        let big = #"{"name":""# + String(repeating: "x", count: 100) + #""}"#
        let r = try t.call(.POST, "/v1/datasets", token: tok, json: big)
        #expect(r.status == 413)
        #expect(r.errorCode != nil)
        #expect(try t.call(.POST, "/v1/datasets", token: tok, json: "").status == 400)
    }
}
