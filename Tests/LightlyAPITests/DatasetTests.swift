import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Testing

@Suite struct DatasetTests {
    @Test func createListGetRenameDelete() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        #expect(try t.call(.GET, "/v1/datasets", token: tok).text == "[]")

        // Both POST spellings (1.1.0–1.1.16 use the trailing slash).
        let a = try t.call(.POST, "/v1/datasets/", token: tok, json: #"{"name":"first"}"#)
        #expect(a.status == 201)
        let idA = try a.decode(CreateEntityResponse.self).id
        #expect(idA.count == 24)
        let idB = try t.makeDataset("second", token: tok)

        let list = try t.call(.GET, "/v1/datasets?shared=False", token: tok).decode([DatasetData].self)
        #expect(list.map(\.name) == ["first", "second"])
        #expect(try t.call(.GET, "/v1/datasets?shared=True", token: tok).text == "[]")

        let raw = try t.call(.GET, "/v1/datasets/\(idA)", token: tok).json
        #expect(raw["type"] == "Images")
        #expect(raw["nSamples"] == 0)
        #expect(raw["sizeInBytes"] == 0)
        #expect(raw["userId"]?.stringValue?.count == 24)
        #expect(raw["imgType"] == nil)          // unset until the initial tag
        #expect(raw["createdAt"]?.intValue != nil)

        // Duplicate name: 409 DATASET_NAME_EXISTS, for create and rename.
        let dup = try t.call(.POST, "/v1/datasets", token: tok, json: #"{"name":"first"}"#)
        #expect(dup.status == 409)
        #expect(dup.errorCode == "DATASET_NAME_EXISTS")
        let dupRename = try t.call(.PUT, "/v1/datasets/\(idB)", token: tok, json: #"{"name":"first"}"#)
        #expect(dupRename.status == 409)

        // Another user may use the same name.
        let bob = try t.makeUser("bob")
        _ = try t.makeDataset("first", token: bob)

        #expect(try t.call(.PUT, "/v1/datasets/\(idB)", token: tok, json: #"{"name":"renamed"}"#).status == 200)
        #expect(try t.dataset(idB, token: tok).name == "renamed")

        #expect(try t.call(.DELETE, "/v1/datasets/\(idA)", token: tok, json: "{}").status == 200)
        let gone = try t.call(.GET, "/v1/datasets/\(idA)", token: tok)
        #expect(gone.status == 404)
        #expect(gone.errorCode == "DATASET_UNKNOWN")
        #expect(try t.call(.GET, "/v1/datasets", token: tok).decode([DatasetData].self).map(\.id) == [idB])
    }

    @Test func lastModifiedAtGrowsWithEveryChange() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let a = try t.makeDataset("a", token: tok)
        let b = try t.makeDataset("b", token: tok)
        let t0 = try t.dataset(a, token: tok).lastModifiedAt
        #expect(try t.dataset(b, token: tok).lastModifiedAt > t0)
        try t.makeSample("1.png", dataset: a, token: tok)
        let t1 = try t.dataset(a, token: tok).lastModifiedAt
        #expect(t1 > t0)
        #expect(t1 > (try t.dataset(b, token: tok).lastModifiedAt))   // the client takes the max
        _ = try t.call(.POST, "/v1/datasets/\(a)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
        let t2 = try t.dataset(a, token: tok)
        #expect(t2.lastModifiedAt > t1)
        #expect(t2.imgType == .meta)
    }

    @Test func validationErrorsNameTheField() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let missing = try t.call(.POST, "/v1/datasets", token: tok, json: #"{"nom":"x"}"#)
        #expect(missing.status == 400)
        #expect(missing.errorCode == "MALFORMED_REQUEST")
        #expect(missing.text.contains("name"))
        let wrongType = try t.call(.POST, "/v1/datasets", token: tok, json: #"{"name": 5}"#)
        #expect(wrongType.status == 400)
        #expect(wrongType.text.contains("name"))
        let notJSON = try t.call(.POST, "/v1/datasets", token: tok, json: "{name")
        #expect(notJSON.status == 400)
        let empty = try t.call(.POST, "/v1/datasets", token: tok, json: #"{"name": ""}"#)
        #expect(empty.status == 400)
        #expect(try t.call(.GET, "/v1/datasets?shared=maybe", token: tok).status == 400)
    }

    @Test func datasourceIsNotFound() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let r = try t.call(.GET, "/v1/datasets/\(ds)/datasource", token: tok)
        #expect(r.status == 404)
        #expect(r.errorCode == "DATASET_DATASOURCE_UNKNOWN")
    }

    @Test func deleteRemovesBlobFilesAndRows() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        let s = try t.makeSample("a.png", dataset: ds, token: tok)
        let url = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(s)/writeurl?isThumbnail=False", token: tok).decode(String.self)
        #expect(try t.call(.PUT, targetOf(url), body: .bytes(.init([1, 2, 3]))).status == 200)
        let blobId = try t.app.database.read { conn in try conn.queryOne("SELECT full_blob_id FROM samples")?.string(0) }
        let bid = try #require(blobId)
        let path = try #require(t.app.blobs.path(for: bid))
        #expect(FileIO.fileSize(path) == 3)
        _ = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"full"}"#)

        #expect(try t.call(.DELETE, "/v1/datasets/\(ds)", token: tok, json: "{}").status == 200)
        #expect(FileIO.fileSize(path) == nil)
        let counts = try t.app.database.read { conn in
            try ["samples", "tags", "blobs", "datasets"].map { try conn.queryOne("SELECT COUNT(*) FROM \($0)")?.int(0) ?? -1 }
        }
        #expect(counts == [0, 0, 0, 0])
    }
}
