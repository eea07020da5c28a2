#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch
import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Synchronization
import Testing

@Suite struct SampleTests {
    @Test func createStoresJSONVerbatimAndUpdatesDataset() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let body = #"{"fileName":"sub_b/img_00.jpg","thumbName":"sub_b/img_00_thumb.webp","exif":{},"metaData":{"is_corrupted":false,"corruption":"","mean":[0.49,0.51,0.49],"shape":[40,60,3],"snr":2.38,"sharpness":112.08,"sizeInBytes":2198,"tiny":1e-05},"customMetaData":{"z":1,"a":{"y":[1,2.5,"x",null,true]}}}"#
        let r = try t.call(.POST, "/v1/datasets/\(ds)/samples", token: tok, json: body)
        #expect(r.status == 201)
        let id = try r.decode(CreateEntityResponse.self).id

        let one = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(id)", token: tok)
        // Free-form objects come back byte-for-byte in the sent order.
        #expect(one.text.contains(#""metaData":{"is_corrupted":false,"corruption":"","mean":[0.49,0.51,0.49],"shape":[40,60,3],"snr":2.38,"sharpness":112.08,"sizeInBytes":2198,"tiny":1e-05}"#))
        #expect(one.text.contains(#""customMetaData":{"z":1,"a":{"y":[1,2.5,"x",null,true]}}"#))
        #expect(one.json["type"] == "IMAGE")
        #expect(one.json["index"] == 0)
        #expect(one.json["exif"] == .object([:]))
        #expect(one.json["datasetId"]?.stringValue == ds)

        let d = try t.dataset(ds, token: tok)
        #expect(d.nSamples == 1)
        #expect(d.sizeInBytes == 2198)

        let list = try t.call(.GET, "/v1/datasets/\(ds)/samples", token: tok).decode([SampleData].self)
        #expect(list.map(\.fileName) == ["sub_b/img_00.jpg"])
        let filtered = try t.call(.GET, "/v1/datasets/\(ds)/samples?fileName=nope", token: tok)
        #expect(filtered.text == "[]")
    }

    @Test func duplicateFileNameIs409AndChangesNothing() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        try t.makeSample("a.png", dataset: ds, token: tok, size: 10)
        let before = try t.dataset(ds, token: tok)
        let r = try t.call(.POST, "/v1/datasets/\(ds)/samples", token: tok, json: #"{"fileName":"a.png","metaData":{"sizeInBytes":5}}"#)
        #expect(r.status == 409)
        #expect(r.errorCode == "SAMPLE_FILENAME_EXISTS")
        let after = try t.dataset(ds, token: tok)
        #expect(after.nSamples == 1)
        #expect(after.sizeInBytes == 10)
        #expect(after.lastModifiedAt == before.lastModifiedAt)
        #expect(try t.mappings(ds, token: tok) == ["a.png"])
    }

    @Test func nonFiniteNumbersAreRejected() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        for bad in ["NaN", "Infinity", "-Infinity"] {
            let r = try t.call(.POST, "/v1/datasets/\(ds)/samples", token: tok,
                               json: #"{"fileName":"a.png","metaData":{},"customMetaData":{"x": \#(bad)}}"#)
            #expect(r.status == 400)
            #expect(r.errorCode == "MALFORMED_REQUEST")
            #expect(r.text.contains("non-finite"))
        }
        #expect(try t.dataset(ds, token: tok).nSamples == 0)
    }

    @Test func quotaLimitsSamplesPerDataset() throws {
        let t = try TestApp.make(settings: APISettings(maxDatasetSamples: 2))
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        #expect(try t.call(.GET, "/v1/quota", token: tok).text == "\"2\"")
        try t.makeSample("1.png", dataset: ds, token: tok)
        try t.makeSample("2.png", dataset: ds, token: tok)
        let r = try t.call(.POST, "/v1/datasets/\(ds)/samples", token: tok, json: #"{"fileName":"3.png","metaData":{}}"#)
        #expect(r.status == 400)
        #expect(r.errorCode == "DATASET_AT_MAX_CAPACITY")
        #expect(try t.dataset(ds, token: tok).nSamples == 2)
    }

    /// 8 threads × 50 samples: indices are dense and unique, and the mapping order is the
    /// creation order.
    @Test func concurrentCreationGivesDenseUniqueIndices() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<50 {
                let r = try? t.call(.POST, "/v1/datasets/\(ds)/samples", token: tok,
                                    json: #"{"fileName":"w\#(worker)/img_\#(i).png","metaData":{"sizeInBytes":1}}"#)
                if r?.status != 201 { failures.add(1, ordering: .relaxed) }
                // Interleave reads, as 1.1.22+ do.
                if i % 10 == 0 { _ = try? t.call(.GET, "/v1/datasets/\(ds)/mappings?field=fileName", token: tok) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        let samples = try t.call(.GET, "/v1/datasets/\(ds)/samples", token: tok).decode([SampleData].self)
        #expect(samples.count == 400)
        #expect(samples.map { $0.index ?? -1 } == Array(0..<400))
        #expect(Set(samples.map(\.fileName)).count == 400)
        let names = try t.mappings(ds, token: tok)
        #expect(names == samples.map(\.fileName))
        let ids = try t.mappings(ds, token: tok, field: "_id")
        #expect(ids == samples.map(\.id))
        // Each worker's samples appear in its own creation order.
        for w in 0..<8 {
            let mine = names.filter { $0.hasPrefix("w\(w)/") }
            #expect(mine == (0..<50).map { "w\(w)/img_\($0).png" })
        }
        let d = try t.dataset(ds, token: tok)
        #expect(d.nSamples == 400)
        #expect(d.sizeInBytes == 400)
    }

    @Test func mappingsFieldAndCacheInvalidation() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        #expect(try t.mappings(ds, token: tok) == [])
        let a = try t.makeSample("b.png", dataset: ds, token: tok)
        #expect(try t.mappings(ds, token: tok) == ["b.png"])
        let b = try t.makeSample("a.png", dataset: ds, token: tok)
        #expect(try t.mappings(ds, token: tok) == ["b.png", "a.png"])   // creation order, not name order
        #expect(try t.mappings(ds, token: tok, field: "_id") == [a, b])
        let bad = try t.call(.GET, "/v1/datasets/\(ds)/mappings?field=name", token: tok)
        #expect(bad.status == 400)
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/mappings", token: tok).status == 400)
    }

    @Test func updateReplacesCustomMetaData() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let s = try t.makeSample("a.png", dataset: ds, token: tok, size: 7)
        let r = try t.call(.PUT, "/v1/datasets/\(ds)/samples/\(s)", token: tok, json: #"{"customMetaData":{"b":2,"a":1}}"#)
        #expect(r.status == 200)
        let got = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)", token: tok)
        #expect(got.text.contains(#""customMetaData":{"b":2,"a":1}"#))
        #expect(got.json["metaData"]?["sizeInBytes"] == 7)   // untouched
        let unknown = try t.call(.PUT, "/v1/datasets/\(ds)/samples/0123456789abcdef01234567", token: tok, json: "{}")
        #expect(unknown.status == 404)
        #expect(unknown.errorCode == "SAMPLE_UNKNOWN")
    }

    @Test func registerDatasetUploadAlwaysSucceeds() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let r = try t.call(.PUT, "/v1/datasets/\(ds)/registerDatasetUpload", token: tok,
                           json: #"{"total":10,"processed":0,"uploadMethod":"USER_PIP","isRegistered":true}"#)
        #expect(r.status == 200)
        let stored = try t.app.database.read { conn in try conn.queryOne("SELECT meta FROM dataset_uploads")?.string(0) }
        #expect(stored == #"{"total":10,"processed":0,"uploadMethod":"USER_PIP","isRegistered":true}"#)
    }

    @Test func writeUrlsAndReadUrl() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let s = try t.makeSample("dir/a.png", dataset: ds, token: tok)
        let thumb = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=True", token: tok).decode(String.self)
        #expect(thumb.hasPrefix("http://testhost:8080/signed/sample/\(ds)/\(s)/thumbnail?expires="))
        let full = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=false", token: tok).decode(String.self)
        #expect(full.contains("/full?expires="))
        let both = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurls", token: tok).decode(SampleWriteUrls.self)
        #expect(both.full.contains("/full?"))
        #expect(both.thumb.contains("/thumbnail?"))
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=yes", token: tok).status == 400)

        // Never uploaded: 404.
        let noFull = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/readurl?type=full", token: tok)
        #expect(noFull.status == 404)
        let noThumb = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/readurl?type=thumbnail", token: tok)
        #expect(noThumb.status == 404)
        #expect(noThumb.errorCode == "SAMPLE_THUMBNAME_UNKNOWN")

        #expect(try t.call(.PUT, targetOf(both.full), body: .bytes(Data([0x89, 0x50]))).status == 200)
        let read = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/readurl?type=full", token: tok).decode(String.self)
        let got = try t.call(.GET, targetOf(read))
        #expect(got.status == 200)
        #expect(got.bytes == [0x89, 0x50])
        #expect(got.response.headers[.contentType] == "image/png")
    }

    @Test func publicURLSetting() throws {
        let t = try TestApp.make(settings: APISettings(publicURL: "https://lightly.example.com/"))
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let s = try t.makeSample("a.png", dataset: ds, token: tok)
        let url = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=True", token: tok).decode(String.self)
        #expect(url.hasPrefix("https://lightly.example.com/signed/sample/"))
    }
}
