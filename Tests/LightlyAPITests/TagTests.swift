import HTTPKit
@testable import LightlyAPI
import LightlyCore
import LightlyWire
import Testing

@Suite struct TagTests {
    /// A dataset with `n` samples named 0.png … (n-1).png.
    func seeded(_ t: TestApp, n: Int) throws -> (token: String, ds: String) {
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        for i in 0..<n { try t.makeSample("\(i).png", dataset: ds, token: tok) }
        return (tok, ds)
    }

    @Test func initialTagHasAllSamplesAndSetsImgType() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 10)
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/tags", token: tok).text == "[]")
        let r = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"creator":"USER_PIP","imgType":"full"}"#)
        #expect(r.status == 201)
        let id = try r.decode(CreateEntityResponse.self).id
        let tags = try t.tags(ds, token: tok)
        #expect(tags.count == 1)
        #expect(tags[0].id == id)
        #expect(tags[0].name == "initial-tag")
        #expect(tags[0].bitMaskData == "0x3ff")
        #expect(tags[0].totSize == 10)
        #expect(tags[0].prevTagId == nil)
        #expect(tags[0].creator == nil)   // stored, not sent: the strict TagData lacks it
        #expect(try t.app.database.read { try $0.queryOne("SELECT creator FROM tags WHERE id = ?", id)?.string(0) } == "USER_PIP")
        #expect(try t.dataset(ds, token: tok).imgType == .full)
        let raw = try t.call(.GET, "/v1/datasets/\(ds)/tags/\(id)", token: tok).json
        #expect(raw["createdAt"]?.intValue != nil)
        #expect(raw["datasetId"]?.stringValue == ds)

        let again = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"full"}"#)
        #expect(again.status == 409)
        #expect(again.errorCode == "TAG_INITIAL_EXISTS")
        let badType = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"raw"}"#)
        #expect(badType.status == 400)
    }

    @Test func emptyDatasetInitialTagIsZero() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 0)
        _ = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
        #expect(try t.tags(ds, token: tok)[0].bitMaskData == "0x0")
    }

    /// The verified 1.1.23 flow: 6 then 10 images → initial 0x3ff/10, new tag 0x3c0.
    @Test func upsizeExtendsInitialTagAndCreatesTheNewTag() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 6)
        let initial = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"thumbnail"}"#)
            .decode(CreateEntityResponse.self).id
        let sub = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: tok,
                             json: #"{"name":"sub","prevTagId":"\#(initial)","bitMaskData":"0x5","totSize":6}"#)
        #expect(sub.status == 201)
        for i in 6..<10 { try t.makeSample("\(i).png", dataset: ds, token: tok) }
        // Before the upsize every tag already reports the current N.
        #expect(try t.tags(ds, token: tok).allSatisfy { $0.totSize == 10 })
        let r = try t.call(.POST, "/v1/datasets/\(ds)/tags/upsize", token: tok,
                           json: #"{"upsizeTagName":"20261129_03h32m10s","upsizeTagCreator":"USER_PIP"}"#)
        #expect(r.status == 201)
        let newId = try r.decode(CreateEntityResponse.self).id
        let tags = try t.tags(ds, token: tok)
        #expect(tags.map(\.name) == ["initial-tag", "sub", "20261129_03h32m10s"])
        #expect(tags[0].bitMaskData == "0x3ff")
        #expect(tags[1].bitMaskData == "0x5")            // existing bitmasks stay the same
        #expect(tags[2].id == newId)
        #expect(tags[2].bitMaskData == "0x3c0")
        #expect(tags[2].prevTagId == initial)
        #expect(tags.allSatisfy { $0.totSize == 10 })
        let stored = try t.app.database.read { conn in try conn.query("SELECT tot_size FROM tags").map { try $0.int(0) } }
        #expect(stored == [10, 10, 10])
        // Same name again: 409.
        let dup = try t.call(.POST, "/v1/datasets/\(ds)/tags/upsize", token: tok,
                             json: #"{"upsizeTagName":"20261129_03h32m10s","upsizeTagCreator":"USER_PIP"}"#)
        #expect(dup.status == 409)
        #expect(dup.errorCode == "TAG_NAME_EXISTS")
    }

    @Test func upsizeWithoutInitialTagIsRejected() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 2)
        let r = try t.call(.POST, "/v1/datasets/\(ds)/tags/upsize", token: tok, json: #"{"upsizeTagName":"x","upsizeTagCreator":"USER_PIP"}"#)
        #expect(r.status == 400)
        #expect(r.errorCode == "TAG_NO_TAG_IN_DATASET")
    }

    @Test(arguments: [("UNION", "0x7b"), ("INTERSECTION", "0x8"), ("DIFFERENCE", "0x3")])
    func arithmetics(_ op: String, _ expected: String) throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 8)
        let initial = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
            .decode(CreateEntityResponse.self).id
        let a = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: tok,
                           json: #"{"name":"a","prevTagId":"\#(initial)","bitMaskData":"0x0B","totSize":8}"#).decode(CreateEntityResponse.self).id
        let b = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: tok,
                           json: #"{"name":"b","prevTagId":"\#(initial)","bitMaskData":"78","totSize":8}"#).decode(CreateEntityResponse.self).id
        // Without newTagName: both fields, a fresh id, no tag created.
        let r = try t.call(.POST, "/v1/datasets/\(ds)/tags/arithmetics", token: tok,
                           json: #"{"tagId1":"\#(a)","tagId2":"\#(b)","operation":"\#(op)"}"#)
        #expect(r.status == 200)
        let resp = try r.decode(TagArithmeticsResponse.self)
        #expect(resp.bitMaskData == expected)
        #expect(resp.id.count == 24)
        let tags = try t.tags(ds, token: tok)
        #expect(tags.count == 3)
        #expect(!tags.map(\.id).contains(resp.id))
        // With newTagName: the tag exists with that bitmask, prevTagId = tagId1.
        let c = try t.call(.POST, "/v1/datasets/\(ds)/tags/arithmetics", token: tok,
                           json: #"{"tagId1":"\#(a)","tagId2":"\#(b)","operation":"\#(op)","newTagName":"res","creator":"USER_PIP"}"#)
        #expect(c.status == 201)
        let made = try c.decode(TagArithmeticsResponse.self)
        let tag = try t.call(.GET, "/v1/datasets/\(ds)/tags/\(made.id)", token: tok).decode(TagData.self)
        #expect(tag.name == "res")
        #expect(tag.bitMaskData == expected)
        #expect(tag.prevTagId == a)
        #expect(tag.totSize == 8)
        // 1.2.x: POST …/tags/arithmetics/bitmask answers the bitmask alone and never creates a tag.
        let before = try t.tags(ds, token: tok).count
        let bm = try t.call(.POST, "/v1/datasets/\(ds)/tags/arithmetics/bitmask", token: tok,
                            json: #"{"tagId1":"\#(a)","tagId2":"\#(b)","operation":"\#(op)","newTagName":"ignored"}"#)
        #expect(bm.status == 200)
        #expect(try bm.decode(TagBitMaskResponse.self).bitMaskData == expected)
        #expect(try t.tags(ds, token: tok).count == before)
    }

    @Test func arithmeticsRejectsUnknownTagsAndOperations() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 2)
        let initial = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
            .decode(CreateEntityResponse.self).id
        let unknown = try t.call(.POST, "/v1/datasets/\(ds)/tags/arithmetics", token: tok,
                                 json: #"{"tagId1":"\#(initial)","tagId2":"0123456789abcdef01234567","operation":"UNION"}"#)
        #expect(unknown.status == 404)
        #expect(unknown.errorCode == "TAG_UNKNOWN")
        let badOp = try t.call(.POST, "/v1/datasets/\(ds)/tags/arithmetics", token: tok,
                               json: #"{"tagId1":"\#(initial)","tagId2":"\#(initial)","operation":"XOR"}"#)
        #expect(badOp.status == 400)
    }

    @Test func tagCreateValidation() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 4)
        let initial = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
            .decode(CreateEntityResponse.self).id
        func create(_ body: String) throws -> TestResponse { try t.call(.POST, "/v1/datasets/\(ds)/tags", token: tok, json: body) }

        // Width: bits >= N rejected.
        let wide = try create(#"{"name":"w","prevTagId":"\#(initial)","bitMaskData":"0x10","totSize":4}"#)
        #expect(wide.status == 400)
        #expect(wide.errorCode == "DATASET_TAG_INVALID")
        #expect(try create(#"{"name":"w","prevTagId":"\#(initial)","bitMaskData":"0xzz","totSize":4}"#).status == 400)
        // Canonical emit for lenient input.
        let ok = try create(#"{"name":"w","prevTagId":"\#(initial)","bitMaskData":"0X000F","totSize":4,"changes":{"k":[1]}}"#)
        #expect(ok.status == 201)
        let tag = try t.call(.GET, "/v1/datasets/\(ds)/tags/\(try ok.decode(CreateEntityResponse.self).id)", token: tok)
        #expect(tag.json["bitMaskData"] == "0xf")
        // `changes` is stored verbatim but not sent (no shape suits every release).
        #expect(tag.json["changes"] == nil)
        let okId = try ok.decode(CreateEntityResponse.self).id
        #expect(try t.app.database.read { try $0.queryOne("SELECT changes FROM tags WHERE id = ?", okId)?.string(0) } == #"{"k":[1]}"#)
        // Unique names.
        let dup = try create(#"{"name":"w","prevTagId":"\#(initial)","bitMaskData":"0x1","totSize":4}"#)
        #expect(dup.status == 409)
        #expect(dup.errorCode == "TAG_NAME_EXISTS")
        // prevTagId of another dataset.
        let other = try t.makeDataset("b", token: tok)
        let otherInitial = try t.call(.POST, "/v1/datasets/\(other)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
            .decode(CreateEntityResponse.self).id
        let foreign = try create(#"{"name":"f","prevTagId":"\#(otherInitial)","bitMaskData":"0x1","totSize":4}"#)
        #expect(foreign.status == 400)
        #expect(foreign.errorCode == "TAG_PREVTAG_NOT_IN_DATASET")
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/tags/\(otherInitial)", token: tok).errorCode == "TAG_UNKNOWN")
        let q = try create(#"{"name":"q","prevTagId":"\#(initial)","bitMaskData":"0x1","totSize":4,"queryTagId":"\#(otherInitial)"}"#)
        #expect(q.errorCode == "TAG_QUERYTAG_NOT_IN_DATASET")
        let p = try create(#"{"name":"p","prevTagId":"\#(initial)","bitMaskData":"0x1","totSize":4,"preselectedTagId":"\#(otherInitial)"}"#)
        #expect(p.errorCode == "TAG_PRESELECTEDTAG_NOT_IN_DATASET")
        // Missing required field names it.
        let missing = try create(#"{"name":"m","bitMaskData":"0x1","totSize":4}"#)
        #expect(missing.status == 400)
        #expect(missing.text.contains("prevTagId"))
    }

    @Test func deleteRulesAndRename() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 3)
        let initial = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
            .decode(CreateEntityResponse.self).id
        let parent = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: tok,
                                json: #"{"name":"parent","prevTagId":"\#(initial)","bitMaskData":"0x3","totSize":3}"#).decode(CreateEntityResponse.self).id
        let child = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: tok,
                               json: #"{"name":"child","prevTagId":"\#(parent)","bitMaskData":"0x1","totSize":3}"#).decode(CreateEntityResponse.self).id

        let delInitial = try t.call(.DELETE, "/v1/datasets/\(ds)/tags/\(initial)", token: tok, json: "{}")
        #expect(delInitial.status == 400)
        #expect(delInitial.errorCode == "TAG_UNDELETABLE_IS_INITIAL")
        let delParent = try t.call(.DELETE, "/v1/datasets/\(ds)/tags/\(parent)", token: tok, json: "{}")
        #expect(delParent.status == 400)
        #expect(delParent.errorCode == "TAG_UNDELETABLE_NOT_A_LEAF")

        #expect(try t.call(.PUT, "/v1/datasets/\(ds)/tags/\(child)", token: tok, json: #"{"name":"kid"}"#).status == 200)
        #expect(try t.call(.PUT, "/v1/datasets/\(ds)/tags/\(child)", token: tok, json: #"{"name":"parent"}"#).status == 409)
        #expect(try t.call(.PUT, "/v1/datasets/\(ds)/tags/\(initial)", token: tok, json: #"{"name":"x"}"#).status == 400)

        #expect(try t.call(.DELETE, "/v1/datasets/\(ds)/tags/\(child)", token: tok, json: "{}").status == 200)
        #expect(try t.call(.DELETE, "/v1/datasets/\(ds)/tags/\(parent)", token: tok, json: "{}").status == 200)
        #expect(try t.tags(ds, token: tok).map(\.name) == ["initial-tag"])
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/tags/\(child)", token: tok).status == 404)
    }

    @Test func filenamesFollowMappingOrder() throws {
        let t = try TestApp.make()
        let tok = try t.makeUser("alice")
        let ds = try t.makeDataset("a", token: tok)
        for name in ["c.png", "a.png", "d/b.png", "e.png"] { try t.makeSample(name, dataset: ds, token: tok) }
        let initial = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
            .decode(CreateEntityResponse.self).id
        let tag = try t.call(.POST, "/v1/datasets/\(ds)/tags", token: tok,
                             json: #"{"name":"s","prevTagId":"\#(initial)","bitMaskData":"0xd","totSize":4}"#).decode(CreateEntityResponse.self).id
        let names = try t.call(.GET, "/v1/datasets/\(ds)/tags/\(tag)/filenames", token: tok).decode([String].self)
        #expect(names == ["c.png", "d/b.png", "e.png"])     // bits 0, 2, 3
    }

    @Test func largeBitmaskIsCanonical() throws {
        let t = try TestApp.make()
        let (tok, ds) = try seeded(t, n: 130)
        _ = try t.call(.POST, "/v1/datasets/\(ds)/tags/initial", token: tok, json: #"{"imgType":"meta"}"#)
        let hex = try t.tags(ds, token: tok)[0].bitMaskData
        #expect(hex == "0x3" + String(repeating: "f", count: 32))
        #expect(BitMask(hex: hex) == BitMask.full(count: 130))
    }
}
