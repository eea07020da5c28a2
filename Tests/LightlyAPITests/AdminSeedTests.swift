#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyCore
import LightlyStorage
import LightlyWire
import Testing

/// A small hand-written seed document (the example of docs/admin.md).
let exampleSeed = #"""
{
  "users": [
    {"name": "alice", "email": "alice@example.com", "tokens": [{"token": "lt_alice-test-token"}]},
    {"name": "bob", "tokens": [{"name": "bob-ci", "token": "lt_bob-test-token-1"}]}
  ],
  "datasets": [
    {
      "owner": "alice", "name": "cats", "id": "0123456789abcdef01234567",
      "share": {"emails": ["carol@example.com"]},
      "samples": [
        {"fileName": "a.jpg", "metaData": {"sizeInBytes": 10}},
        {"fileName": "b.jpg"},
        {"fileName": "c.jpg", "customMetaData": {"label": "cat"}},
        {"fileName": "d.jpg"}
      ],
      "embeddings": [
        {"name": "default", "rows": [[0, 0], [1, 0], [0, 1], [1, 1]]},
        {"name": "from-csv", "csv": "filenames,embedding_0,labels\nd.jpg,4,0\nc.jpg,3,0\nb.jpg,2,0\na.jpg,1,0\n"}
      ],
      "tags": [
        {"name": "initial-tag", "fileNames": ["a.jpg", "b.jpg", "c.jpg", "d.jpg"],
         "scores": [{"scoreType": "uncertainty_margin", "scores": [0.1, 0.9, 0.5, 0.2]}]},
        {"name": "picked", "fileNames": ["b.jpg", "d.jpg"], "parent": "initial-tag", "creator": "SAMPLER_CORESET"}
      ]
    }
  ]
}
"""#

@Suite struct AdminSeedTests {
    func seed(_ t: TestApp, _ doc: String) throws -> TestResponse { try t.admin(.POST, "/_admin/seed", json: doc) }
    func snapshot(_ t: TestApp) throws -> String {
        let r = try t.admin(.GET, "/_admin/snapshot")
        #expect(r.status == 200, "\(r.text)")
        return r.text
    }

    @Test func seededStateIsWhatTheAPIServes() throws {
        let t = try TestApp.makeAdmin(pollWait: 0)
        t.app.start()
        defer { t.app.stop() }
        let r = try seed(t, exampleSeed)
        #expect(r.status == 201, "\(r.text)")
        let ds = "0123456789abcdef01234567"
        #expect(r.json["datasets"]?[0]?["id"]?.stringValue == ds)
        let alice = "lt_alice-test-token"
        // The plain token works; the dataset and its samples are there in order.
        #expect(try t.call(.GET, "/v1/datasets", token: alice).decode([DatasetData].self).map(\.name) == ["cats"])
        #expect(try t.dataset(ds, token: alice).nSamples == 4)
        #expect(try t.dataset(ds, token: alice).sizeInBytes == 10)
        #expect(try t.mappings(ds, token: alice) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
        #expect(try t.call(.GET, "/v1/datasets", token: "lt_bob-test-token-1").json == .array([]))
        #expect(try t.call(.GET, "/v1/datasets/\(ds)", token: "lt_bob-test-token-1").status == 404)
        // Tags: bitmask by file name, parent, creator.
        let tags = try t.tags(ds, token: alice)
        #expect(tags.map(\.name) == ["initial-tag", "picked"])
        #expect(tags[1].bitMaskData == "0xa" && tags[1].prevTagId == tags[0].id)
        // Embeddings: both processed; the CSV one was matched by file name.
        let embs = try t.call(.GET, "/v1/datasets/\(ds)/embeddings", token: alice).decode([DatasetEmbeddingData].self)
        #expect(embs.map(\.name) == ["default", "from-csv"] && embs.allSatisfy(\.isProcessed))
        let url = try t.call(.GET, "/v1/datasets/\(ds)/embeddings/\(embs[1].id)/readCSVUrl", token: alice)
        let csv = try t.call(.GET, targetOf(try #require(url.json.stringValue)))
        let parsed = try EmbeddingCSV.parse(csv.bytes)
        #expect(parsed.filenames == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"] && parsed.values == [1, 2, 3, 4])
        // Scores, and a sampling run on the seeded embedding.
        let scores = try t.call(.GET, "/v1/datasets/\(ds)/tags/\(tags[0].id)/scores", token: alice)
        #expect(scores.status == 200 && scores.text.contains("uncertainty_margin"), "\(scores.text)")
        let f = JobsHTTPFixture(t: t, token: alice, datasetId: ds, initialTagId: tags[0].id)
        let job = try f.sample(embs[0].id, #"{"newTagName": "al", "method": "ACTIVE_LEARNING", "config": {"stoppingCondition": {"nSamples": 2}}}"#)
        let jobId = try #require(job.json["jobId"]?.stringValue, "\(job.text)")
        #expect(try f.poll(jobId).status == .finished)
    }

    /// snapshot → reset → seed → snapshot gives the same bytes, with and without removing users.
    @Test(arguments: [false, true])
    func snapshotResetSeedRoundTrips(users: Bool) throws {
        let t = try TestApp.makeAdmin(pollWait: 0)
        t.app.start()
        defer { t.app.stop() }
        let alice = try t.makeUser("alice")
        try TeamDatasetTests.setEmail(t, "alice", "alice@example.com")
        let bob = try t.makeUser("bob")
        let ds = try AdminResetTests.populate(t, token: alice)
        _ = try AdminResetTests.populate(t, token: bob, name: "bobs")
        let share = try t.call(.POST, "/v1/datasets/\(ds)/collaboration/access", token: alice,
                               body: SharedAccessConfigCreateRequest(users: ["bob@example.com"]))
        #expect(share.status / 100 == 2, "\(share.text)")
        // Plus the example's users under other names (alice and bob exist with other tokens).
        let example = exampleSeed.replacingOccurrences(of: "alice", with: "carol").replacingOccurrences(of: "bob", with: "dave")
        let seeded = try seed(t, example)
        #expect(seeded.status == 201, "\(seeded.text)")

        let before = try snapshot(t)
        #expect(try t.admin(.POST, "/_admin/reset\(users ? "?users=true" : "")").status == 200)
        #expect(try snapshot(t) != before)
        let r = try seed(t, before)
        #expect(r.status == 201, "\(r.text)")
        let after = try snapshot(t)
        #expect(after == before)
        // The tokens still work after the round trip.
        #expect(try t.call(.GET, "/v1/datasets/\(ds)", token: alice).status == 200)
        #expect(try t.call(.GET, "/v1/datasets", token: "lt_carol-test-token").status == 200)
        // Seeding the same again conflicts (the ids exist) and changes nothing.
        #expect(try seed(t, before).status == 409)
        #expect(try snapshot(t) == before)
    }

    /// Bad documents: 400 naming the location, and nothing is stored (no rows, no files).
    @Test(arguments: [
        (#"{"users": [{"name": "a b"}]}"#, "users[0].name"),
        (#"{"users": [{"name": "x", "tokens": [{"token": "nope-12345678"}]}]}"#, "users[0].tokens[0].token"),
        (#"{"users": [{"name": "x", "tokens": [{}]}]}"#, "users[0].tokens[0]"),
        (#"{"datasets": [{"owner": "nobody", "name": "d"}]}"#, "datasets[0].owner"),
        (#"{"users": [{"name": "x"}], "datasets": [{"owner": "x", "name": "d", "samples": [{"fileName": "a"}, {"fileName": "a"}]}]}"#, "datasets[0].samples[1].fileName"),
        (#"{"users": [{"name": "x"}], "datasets": [{"owner": "x", "name": "d", "samples": [{"fileName": "a"}], "tags": [{"name": "t", "fileNames": ["b"]}]}]}"#, "datasets[0].tags[0].fileNames[0]"),
        (#"{"users": [{"name": "x"}], "datasets": [{"owner": "x", "name": "d", "samples": [{"fileName": "a"}], "tags": [{"name": "t", "fileNames": ["a"], "parent": "zz"}]}]}"#, "datasets[0].tags[0].parent"),
        (#"{"users": [{"name": "x"}], "datasets": [{"owner": "x", "name": "d", "samples": [{"fileName": "a"}], "embeddings": [{"name": "e", "rows": [[1], [2]]}]}]}"#, "datasets[0].embeddings[0].rows"),
        (#"{"users": [{"name": "x"}], "datasets": [{"owner": "x", "name": "d", "samples": [{"fileName": "a"}], "embeddings": [{"name": "e", "csv": "filenames,embedding_0\nb,1\n"}]}]}"#, "datasets[0].embeddings[0].csv"),
        (#"{"users": [{"name": "x"}], "datasets": [{"owner": "x", "name": "d", "samples": [{"fileName": "a"}], "tags": [{"name": "t", "fileNames": ["a"], "scores": [{"scoreType": "s", "scores": [-1]}]}]}]}"#, "datasets[0].tags[0].scores[0].scores[0]"),
        (#"{"users": [{"name": "x"}], "datasets": [{"owner": "x", "name": "d", "samplez": []}]}"#, "datasets[0]"),
        (#"{"datasets": [{"owner": "x", "name": "d", "createdAt": -5}]}"#, "datasets[0].createdAt"),
        (#"{"version": 2}"#, "version"),
        (#"[]"#, "(top level)"),
    ])
    func badDocumentsNameTheLocationAndStoreNothing(doc: String, location: String) throws {
        let t = try TestApp.makeAdmin()
        // A valid dataset with an embedding (a CSV file) comes first where the document has a
        // user x, so a late failure must roll back rows and files.
        let combined: String
        if doc.hasPrefix(#"{"users": [{"name": "x"}], "datasets": ["#) {
            combined = #"{"users": [{"name": "first"}, {"name": "x"}], "datasets": [{"owner": "first", "name": "ok", "samples": [{"fileName": "q"}], "embeddings": [{"name": "e", "rows": [[1]]}]}, "#
                + doc.dropFirst(#"{"users": [{"name": "x"}], "datasets": ["#.count)
        } else {
            combined = doc
        }
        let r = try seed(t, combined)
        #expect(r.status == 400, "\(r.text)")
        #expect(r.errorCode == "MALFORMED_REQUEST")
        let message = r.json["message"]?.stringValue ?? ""
        let expected = location.replacingOccurrences(of: "datasets[0]", with: combined == doc ? "datasets[0]" : "datasets[1]")
        #expect(message.contains(": \(expected): ") || message.contains(" \(expected):"), "\(message)")
        let counts = try t.tableCounts()
        #expect(counts.values.allSatisfy { $0 == 0 }, "\(counts)")
        #expect(t.blobFiles().isEmpty)
    }

    @Test func seedAndSnapshotNeedTheAdminToken() throws {
        let t = try TestApp.makeAdmin()
        #expect(try t.admin(.GET, "/_admin/snapshot", bearer: nil).status == 401)
        #expect(try t.admin(.POST, "/_admin/seed", bearer: "wrong-token-123", json: exampleSeed).status == 401)
        let off = try TestApp.make()
        #expect(try off.admin(.GET, "/_admin/snapshot").status == 404)
    }

    @Test func seedingAnExistingUserAgainIsAccepted() throws {
        let t = try TestApp.makeAdmin()
        let doc = #"{"users": [{"name": "alice", "tokens": [{"token": "lt_alice-test-token"}]}]}"#
        #expect(try seed(t, doc).status == 201)
        #expect(try seed(t, doc).status == 201)
        // Another value under the same token name is a conflict.
        #expect(try seed(t, #"{"users": [{"name": "alice", "tokens": [{"token": "lt_alice-other-token"}]}]}"#).status == 409)
    }
}
