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
#if canImport(Glibc)
import Glibc
#endif

/// Team datasets: an owner shares a dataset with users by e-mail (the collaboration API of
/// lightly 1.4+). A user it is shared with can read it and run selections on it; only the owner
/// renames, deletes or shares it; everyone else still sees nothing.
@Suite struct TeamDatasetTests {
    /// Gives the user named `name` an e-mail (users made by `TestApp.makeUser` have none).
    static func setEmail(_ t: TestApp, _ name: String, _ email: String) throws {
        try t.app.database.write { conn in try conn.run("UPDATE users SET email = ? WHERE name = ?", email, name) }
    }

    static func share(_ t: TestApp, _ w: UserWorld, _ users: [String], token: String? = nil) throws -> TestResponse {
        try t.call(.POST, "/v1/datasets/\(w.dataset)/collaboration/access", token: token ?? w.token,
                   body: SharedAccessConfigCreateRequest(users: users))
    }

    @Test func sharedDatasetIsReadableAndSelectableByTheUserItIsSharedWith() throws {
        let t = try TestApp.make(settings: APISettings(jobPollWait: 0))
        t.app.start()
        defer { t.app.stop() }
        let alice = try UserWorld.make(t, user: "alice")
        let bob = try UserWorld.make(t, user: "bob")
        let carol = try UserWorld.make(t, user: "carol")
        try Self.setEmail(t, "alice", "alice@example.com")
        try Self.setEmail(t, "bob", "bob@example.com")
        try Self.setEmail(t, "carol", "carol@example.com")
        let ds = alice.dataset

        // Not shared yet: Bob sees nothing.
        #expect(try t.call(.GET, "/v1/datasets/\(ds)", token: bob.token).errorCode == "DATASET_UNKNOWN")
        #expect(try t.call(.GET, "/v1/datasets?shared=true", token: bob.token).decode([DatasetData].self).isEmpty)

        // Alice shares with Bob (any case, duplicates collapse).
        let created = try Self.share(t, alice, ["Bob@Example.com", "bob@example.com"])
        #expect(created.status == 201, "\(created.text)")
        #expect(try created.decode(CreateEntityResponse.self).id == alice.share, "one access config per dataset")
        let configs = try t.call(.GET, "/v1/datasets/\(ds)/collaboration/access", token: alice.token)
            .decode([SharedAccessConfigData].self)
        #expect(configs.map(\.users) == [["bob@example.com"]])
        #expect(configs.first?.owner == (try t.dataset(ds, token: alice.token)).userId)
        #expect(configs.first?.accessType == "WRITE")
        // `organizations`: required by 1.2.29–1.4.4's model, rejected by the strict 1.4.8+ one.
        func keys(userAgent: String) throws -> Set<String> {
            let r = try t.call(.GET, "/v1/datasets/\(ds)/collaboration/access", token: alice.token,
                               headers: ["Host": "testhost:8080", "User-Agent": userAgent])
            guard case .array(let items) = r.json, case .object(let o)? = items.first else { return [] }
            return Set(o.map(\.key))
        }
        let strictKeys: Set = ["id", "owner", "accessType", "users", "teams", "createdAt", "lastModifiedAt"]
        #expect(try keys(userAgent: "Lightly/1.5.26 (Linux/6.1; x86_64;) python/3.11.7") == strictKeys)
        #expect(try keys(userAgent: "OpenAPI-Generator/1.0.0/python") == strictKeys)
        #expect(try keys(userAgent: "Lightly/1.2.29/python (Linux)") == strictKeys.union(["organizations"]))
        #expect(try keys(userAgent: "Lightly/1.4.4 (Linux)") == strictKeys.union(["organizations"]))

        // Bob lists it under shared=true only, and reads everything.
        #expect(try t.call(.GET, "/v1/datasets?shared=true", token: bob.token).decode([DatasetData].self).map(\.id) == [ds])
        #expect(try t.call(.GET, "/v1/datasets?shared=false", token: bob.token).decode([DatasetData].self).map(\.id) == [bob.dataset])
        #expect(try t.call(.GET, "/v1/datasets?shared=true", token: alice.token).decode([DatasetData].self).isEmpty)
        for path in ["", "/samples", "/samples/\(alice.sample)", "/tags", "/tags/\(alice.tag)", "/tags/\(alice.tag)/filenames",
                     "/mappings?field=fileName", "/embeddings", "/embeddings/\(alice.embedding)/readCSVUrl",
                     "/tags/\(alice.initialTag)/scores", "/tags/\(alice.initialTag)/scores/\(alice.score)"] {
            let r = try t.call(.GET, "/v1/datasets/\(ds)\(path)", token: bob.token)
            #expect(r.status == 200, "GET \(path) as bob: \(r.status) \(r.text)")
        }

        // Bob selects on Alice's dataset; the job is his, the tag lands in her dataset.
        let job = try t.call(.POST, "/v1/datasets/\(ds)/embeddings/\(alice.embedding)/sampling", token: bob.token,
                             json: #"{"newTagName":"bob-pick","method":"CORESET","config":{"stoppingCondition":{"nSamples":2}},"preselectedTagId":"\#(alice.tag)"}"#)
        #expect(job.status == 200, "\(job.text)")
        let jobId = try job.decode(AsyncTaskData.self).jobId
        var status = JobState.waiting
        for _ in 0 ..< 2000 {
            status = try t.call(.GET, "/v1/jobs/\(jobId)", token: bob.token).decode(JobStatusData.self).status
            if status.isTerminal { break }
            usleep(5_000)
        }
        #expect(status == .finished)
        #expect(try t.tags(ds, token: alice.token).map(\.name).contains("bob-pick"))
        #expect(try t.call(.GET, "/v1/jobs/\(jobId)", token: alice.token).errorCode == "JOB_UNKNOWN", "the job is Bob's")
        // Bob's tag ids of Alice's dataset are tags he can see: another dataset of his view is a 400.
        let other = try t.call(.POST, "/v1/datasets/\(bob.dataset)/embeddings/\(bob.embedding)/sampling", token: bob.token,
                               json: #"{"newTagName":"x","method":"RANDOM","config":{},"preselectedTagId":"\#(alice.tag)"}"#)
        #expect(other.errorCode == "TAG_PRESELECTEDTAG_NOT_IN_DATASET")

        // Only the owner renames, deletes and manages sharing.
        for (m, path, body) in [(HTTPMethod.PUT, "", #"{"name":"mine"}"#), (.DELETE, "", nil),
                                (.GET, "/collaboration/access", nil),
                                (.POST, "/collaboration/access", #"{"accessType":"WRITE","users":["bob@example.com","carol@example.com"]}"#),
                                (.DELETE, "/collaboration/access/\(alice.share)", nil)] {
            let r = try t.call(m, "/v1/datasets/\(ds)\(path)", token: bob.token, json: body)
            #expect(r.status == 403, "\(m) \(path) as bob: \(r.status) \(r.text)")
            #expect(r.errorCode == "FORBIDDEN")
        }
        #expect(try t.dataset(ds, token: alice.token).name == "alice-data")

        // Carol, not shared with, still gets exactly what an unknown id gets.
        #expect(try t.call(.GET, "/v1/datasets/\(ds)", token: carol.token).errorCode == "DATASET_UNKNOWN")
        #expect(try t.call(.GET, "/v1/datasets?shared=true", token: carol.token).decode([DatasetData].self).isEmpty)
        let probe = try t.call(.POST, "/v1/datasets/\(carol.dataset)/embeddings/\(carol.embedding)/sampling", token: carol.token,
                               json: #"{"newTagName":"x","method":"RANDOM","config":{},"preselectedTagId":"\#(alice.tag)"}"#)
        #expect(probe.status == 404)
        #expect(probe.errorCode == "TAG_UNKNOWN")

        // Revoking: an empty list, then deleting the config.
        #expect(try Self.share(t, alice, []).status == 201)
        #expect(try t.call(.GET, "/v1/datasets/\(ds)", token: bob.token).errorCode == "DATASET_UNKNOWN")
        #expect(try t.call(.GET, "/v1/datasets?shared=true", token: bob.token).decode([DatasetData].self).isEmpty)
        #expect(try t.call(.DELETE, "/v1/datasets/\(ds)/collaboration/access/\(alice.share)", token: alice.token).status == 200)
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/collaboration/access", token: alice.token).decode([SharedAccessConfigData].self).isEmpty)
    }

    @Test func shareRequestsAreValidated() throws {
        let t = try TestApp.make()
        let alice = try UserWorld.make(t, user: "alice")
        func post(_ json: String) throws -> TestResponse {
            try t.call(.POST, "/v1/datasets/\(alice.dataset)/collaboration/access", token: alice.token, json: json)
        }
        #expect(try post(#"{"accessType":"READ","users":[]}"#).status == 400)
        #expect(try post(#"{"accessType":"WRITE","teams":["t"]}"#).status == 400)
        #expect(try post(#"{"accessType":"WRITE","users":["not-an-email"]}"#).status == 400)
        #expect(try post(#"{"users":["a@b.c"]}"#).errorCode == "MALFORMED_REQUEST")
        let many = (0 ... maxSharedUsers).map { "\"u\($0)@example.com\"" }.joined(separator: ",")
        #expect(try post(#"{"accessType":"WRITE","users":[\#(many)]}"#).status == 400)
        // A share with someone who has no account yet applies once a user gets that e-mail.
        #expect(try post(#"{"accessType":"WRITE","users":["dora@example.com"]}"#).status == 201)
        let dora = try t.makeUser("dora")
        #expect(try t.call(.GET, "/v1/datasets/\(alice.dataset)", token: dora).errorCode == "DATASET_UNKNOWN")
        try Self.setEmail(t, "dora", "dora@example.com")
        #expect(try t.call(.GET, "/v1/datasets/\(alice.dataset)", token: dora).status == 200)
        // Deleting the dataset removes its shares.
        #expect(try t.call(.DELETE, "/v1/datasets/\(alice.dataset)", token: alice.token).status == 200)
        let left = try t.app.database.read { conn in try conn.queryOne("SELECT count(*) FROM dataset_share_users")?.int(0) }
        #expect(left == 0)
    }
}
