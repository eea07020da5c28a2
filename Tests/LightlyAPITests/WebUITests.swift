#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyStorage
import LightlyWire
import Testing

/// The web page (`/`, `/ui/{file}`), its two compact data routes and `Authorization: Bearer`.
@Suite struct WebUITests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("webui")

    /// Every file of webui/ is embedded byte for byte, and nothing else is (catches a stale build).
    @Test func embeddedAssetsEqualTheFolder() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { !$0.hasPrefix(".") }
        #expect(Set(names) == Set(WebUI.assets.keys))
        for name in names {
            let data = try Data(contentsOf: Self.folder.appendingPathComponent(name))
            #expect(WebUI.assets[name] == data, "\(name) differs from the embedded copy: rebuild")
        }
        #expect(names.contains("index.html") && names.contains("app.js"))
    }

    /// No asset loads anything from another host, runs inline script or style, or assigns HTML.
    @Test func assetsAreSelfContainedAndNeverAssignHTML() throws {
        for (name, data) in WebUI.assets {
            let text = String(decoding: data, as: UTF8.self)
            if name.hasSuffix(".svg") { continue }  // its xmlns is a namespace name, not a fetch
            #expect(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
                    "\(name) names another host")
            if name.hasSuffix(".js") {
                for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
                    #expect(!text.contains(sink), "\(name) uses \(sink)")
                }
            }
        }
        let html = String(decoding: WebUI.assets["index.html"] ?? Data(), as: UTF8.self)
        #expect(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style=") && !html.contains(" on"),
                "index.html has inline script, style or an event attribute")
    }

    @Test func pageAndAssetsCarryTheSecurityHeaders() throws {
        let t = try TestApp.make()
        for (path, type) in [("/", "text/html; charset=utf-8"), ("/ui/app.js", "text/javascript; charset=utf-8"),
                             ("/ui/style.css", "text/css; charset=utf-8"), ("/ui/icon.svg", "image/svg+xml")] {
            let r = try t.call(.GET, path)
            #expect(r.status == 200, "\(path)")
            let h = r.response.headers
            #expect(h[.contentType] == type)
            #expect(h[HTTPHeaderName("Content-Security-Policy")] == "default-src 'self'; script-src 'self'; style-src 'self'; "
                    + "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
            #expect(h[HTTPHeaderName("X-Content-Type-Options")] == "nosniff")
            #expect(h[HTTPHeaderName("Referrer-Policy")] == "no-referrer")
        }
        #expect(try t.call(.GET, "/").text.contains("<script type=\"module\" src=\"/ui/app.js\"></script>"))
        #expect(try t.call(.GET, "/ui/nope.js").status == 404)
        #expect(try t.call(.GET, "/ui/..%2Fpackage.swift").status == 404)
        #expect(try t.call(.POST, "/").status == 405)
    }

    @Test func bearerTokenAuthenticatesLikeTheQueryToken() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("mine", token: tok)
        let ok = try t.call(.GET, "/v1/datasets/\(ds)", headers: ["Host": "h", "Authorization": "Bearer \(tok)"])
        #expect(ok.status == 200)
        #expect(try t.call(.GET, "/v1/datasets/\(ds)", headers: ["Host": "h", "authorization": "bearer \(tok)"]).status == 200)
        for bad in ["Bearer nope", "Bearer", "Basic \(tok)", "Bearer \(tok) extra", "\(tok)"] {
            let r = try t.call(.GET, "/v1/datasets/\(ds)", headers: ["Host": "h", "Authorization": bad])
            #expect(r.status == 401, "\(bad)")
        }
        #expect(try t.call(.GET, "/v1/datasets/\(ds)").status == 401)
        // Another user's bearer token sees the dataset as unknown, as with ?token=.
        let bob = try t.makeUser("bob")
        #expect(try t.call(.GET, "/v1/datasets/\(ds)", headers: ["Host": "h", "Authorization": "Bearer \(bob)"]).status == 404)
    }

    /// A dataset of three samples with an initial tag, an embedding and a stored projection.
    static func datasetWithProjection(_ t: TestApp, token: String, points: [Float]) throws -> (ds: String, embedding: String) {
        let ds = try t.makeDataset("map", token: token)
        for i in 0 ..< points.count / 2 { try t.makeSample("s\(i).png", dataset: ds, token: token) }
        #expect(try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: token, json: #"{"imgType":"meta"}"#).status == 201)
        let e = try t.app.database.write { conn in
            let e = try EmbeddingStore.create(datasetId: ds, name: "emb", now: 1, conn)
            try EmbeddingStore.store2D(embeddingId: e.id, method: "PCA", points: points, now: 2, conn)
            return e
        }
        return (ds, e.id)
    }

    @Test func pointsAreLittleEndianFloat32Pairs() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let points: [Float] = [1.5, -2, 0, 3.25, -0.125, 1e6]
        let (ds, e) = try Self.datasetWithProjection(t, token: tok, points: points)
        let path = "/ui-api/datasets/\(ds)/embeddings/\(e)/points"
        let r = try t.call(.GET, path, token: tok)
        #expect(r.status == 200)
        #expect(r.response.headers[.contentType] == "application/octet-stream")
        #expect(r.response.headers[HTTPHeaderName("X-Point-Count")] == "3")
        #expect(r.bytes.count == 3 * 8, "8 bytes per point")
        let decoded = stride(from: 0, to: r.bytes.count, by: 4).map { i in
            Float(bitPattern: UInt32(r.bytes[i]) | UInt32(r.bytes[i + 1]) << 8 | UInt32(r.bytes[i + 2]) << 16 | UInt32(r.bytes[i + 3]) << 24)
        }
        #expect(decoded == points)
        #expect(try t.call(.GET, path).status == 401)
        #expect(try t.call(.GET, path + "?method=UMAP", token: tok).status == 404)
        let bob = try t.makeUser("bob")
        let other = try t.call(.GET, path, token: bob)
        #expect(other.status == 404 && other.errorCode == "DATASET_UNKNOWN")
    }

    @Test func tagSamplesArePagedWithSignedImageURLs() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let (ds, _) = try Self.datasetWithProjection(t, token: tok, points: [0, 0, 1, 1, 2, 2])
        let samples = try t.mappings(ds, token: tok, field: "_id")
        // An image for sample 1 only.
        let put = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(samples[1])/writeurl?isThumbnail=true", token: tok).decode(String.self)
        #expect(try t.call(.PUT, targetOf(put), body: .bytes(Data([1, 2, 3]))).status == 200)
        let tag = try #require(try t.tags(ds, token: tok).first)
        let page = try t.call(.GET, "/ui-api/datasets/\(ds)/tags/\(tag.id)/samples?pageSize=2&pageOffset=1", token: tok)
            .decode(UITagSamplePage.self)
        #expect(page.total == 3)
        #expect(page.samples.map(\.index) == [1, 2])
        #expect(page.samples.map(\.fileName) == ["s1.png", "s2.png"])
        let url = try #require(page.samples[0].imageUrl)
        #expect(url.contains("/signed/sample/") && url.contains("sig=") && !url.contains(tok) && !url.contains("token"))
        #expect(try t.call(.GET, targetOf(url)).bytes == [1, 2, 3])
        #expect(page.samples[1].imageUrl == nil)
        #expect(try t.call(.GET, "/ui-api/datasets/\(ds)/tags/\(tag.id)/samples?pageSize=0", token: tok).status == 400)
        let list = try t.call(.GET, "/ui-api/datasets", token: tok).decode([UIDataset].self)
        #expect(list.map(\.id) == [ds] && list[0].nSamples == 3 && list[0].nTags == 1 && list[0].nEmbeddings == 1)
        #expect(try t.call(.GET, "/ui-api/datasets", token: try t.makeUser("carol")).decode([UIDataset].self).isEmpty)
        let uiTags = try t.call(.GET, "/ui-api/datasets/\(ds)/tags", token: tok).decode([UITag].self)
        #expect(uiTags.map(\.name) == ["initial-tag"] && uiTags[0].size == 3 && uiTags[0].bitMaskData == tag.bitMaskData)
        #expect(try t.call(.GET, "/ui-api/datasets/\(ds)/tags").status == 401)
        let bob = try t.makeUser("bob")
        #expect(try t.call(.GET, "/ui-api/datasets/\(ds)/tags/\(tag.id)/samples", token: bob).status == 404)
        #expect(try t.call(.GET, "/ui-api/datasets/\(ds)/tags", token: bob).status == 404)
    }
}
