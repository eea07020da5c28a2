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
#if canImport(Glibc)
import Glibc
#endif

/// The admin token the admin tests run with.
let testAdminToken = "admin-secret-0123456789"

extension TestApp {
    /// An application with the admin API on (`testAdminToken`).
    static func makeAdmin(pollWait: Int = 1) throws -> TestApp {
        var s = APISettings(jobPollWait: pollWait)
        s.adminToken = testAdminToken
        return try make(settings: s)
    }

    /// Calls an admin route with `Authorization: Bearer <bearer>` (none when nil).
    @discardableResult
    func admin(_ method: HTTPMethod, _ target: String, bearer: String? = testAdminToken, json: String? = nil) throws -> TestResponse {
        var h: HTTPHeaders = ["Host": "testhost:8080"]
        if let bearer { h[HTTPHeaderName("Authorization")] = "Bearer \(bearer)" }
        return try call(method, target, json: json, headers: h)
    }

    /// Row counts of every table the reset empties.
    func tableCounts() throws -> [String: Int] {
        try app.database.read { conn in
            var out: [String: Int] = [:]
            for t in ["datasets", "samples", "tags", "embeddings", "embedding_chunks", "embeddings_2d", "scores",
                      "jobs", "blobs", "dataset_shares", "dataset_share_users", "dataset_uploads", "users", "tokens"] {
                out[t] = try conn.queryOne("SELECT count(*) FROM \(t)")?.int(0) ?? -1
            }
            return out
        }
    }

    /// Every file under `blobs/`.
    func blobFiles() -> [String] {
        let root = app.blobs.blobsDirectory
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        return e.compactMap { $0 as? String }.filter { p in
            ((try? FileManager.default.attributesOfItem(atPath: root + "/" + p)[.type]) as? FileAttributeType) == .typeRegular
        }
    }
}

@Suite struct AdminGateTests {
    /// With the admin API off, an admin path answers byte for byte like an unknown path
    /// (apart from the request id), whatever the method and headers.
    @Test(arguments: [(HTTPMethod.POST, "/_admin/reset"), (.GET, "/_admin/reset"), (.GET, "/_admin/snapshot"),
                      (.PUT, "/_admin/faults"), (.GET, "/_admin/nothing-here")])
    func offAnswersLikeAnUnknownRoute(method: HTTPMethod, path: String) throws {
        let t = try TestApp.make()
        for bearer in [nil, testAdminToken] {
            let r = try t.admin(method, path, bearer: bearer, json: method == .GET ? nil : "{}")
            let unknownPath = "/_nowhere" + path.dropFirst("/_admin".count)
            let u = try t.admin(method, unknownPath, bearer: bearer, json: method == .GET ? nil : "{}")
            #expect(r.status == 404 && u.status == 404)
            #expect(r.text == u.text.replacingOccurrences(of: unknownPath, with: path), "\(r.text) vs \(u.text)")
            let names = { (x: TestResponse) in Set(x.response.headers.map { $0.name.rawValue.lowercased() }).subtracting(["x-request-id"]) }
            #expect(names(r) == names(u))
            #expect(r.response.headers[HTTPHeaderName("Allow")] == nil)
        }
        // The head-only check (before a body is read) says the same.
        let head = t.app.inspectHead(HTTPRequest(method: .POST, target: "/_admin/reset", headers: ["Host": "h"], body: .empty))
        guard case .reject(let resp) = head else { Issue.record("admin path proceeds while off"); return }
        #expect(resp.status.code == 404)
    }

    @Test func wrongOrMissingTokenIs401() throws {
        let t = try TestApp.makeAdmin()
        let user = try t.makeUser("alice")
        #expect(try t.admin(.POST, "/_admin/reset", bearer: nil).status == 401)
        #expect(try t.admin(.POST, "/_admin/reset", bearer: "admin-secret-012345678").status == 401)
        #expect(try t.admin(.POST, "/_admin/reset", bearer: testAdminToken + "x").status == 401)
        #expect(try t.admin(.POST, "/_admin/reset", bearer: "").status == 401)
        // A user token is not an admin token, in the query or as a bearer.
        #expect(try t.admin(.POST, "/_admin/reset?token=\(user)", bearer: nil).status == 401)
        #expect(try t.admin(.POST, "/_admin/reset", bearer: user).status == 401)
        // Another scheme.
        var h: HTTPHeaders = ["Host": "h"]
        h[HTTPHeaderName("Authorization")] = "Basic \(testAdminToken)"
        #expect(try t.call(.POST, "/_admin/reset", headers: h).status == 401)
        let r = try t.admin(.POST, "/_admin/reset", bearer: nil)
        #expect(r.errorCode == "UNAUTHORIZED")
        #expect(r.response.headers[HTTPHeaderName("WWW-Authenticate")] == "Bearer")
        #expect(!r.text.contains(testAdminToken))
        // The admin token is not a user token either.
        #expect(try t.call(.GET, "/v1/datasets", token: testAdminToken).status == 401)
        // Refused from the head alone, before a body is read.
        let head = t.app.inspectHead(HTTPRequest(method: .POST, target: "/_admin/reset", headers: ["Host": "h"], body: .empty))
        guard case .reject(let resp) = head else { Issue.record("unauthenticated admin request proceeds"); return }
        #expect(resp.status.code == 401)
        // The right token passes; the scheme is case-insensitive.
        #expect(try t.admin(.POST, "/_admin/reset").status == 200)
        h[HTTPHeaderName("Authorization")] = "bearer \(testAdminToken)"
        #expect(try t.call(.POST, "/_admin/reset", headers: h).status == 200)
    }
}

@Suite struct AdminResetTests {
    /// A dataset with samples, an uploaded image, tags, an embedding with a 2-D projection,
    /// scores, a share and a finished sampling job.
    static func populate(_ t: TestApp, token: String, name: String = "ds", n: Int = 8) throws -> String {
        let ds = try t.makeDataset(name, token: token)
        let f = JobsHTTPFixture(t: t, token: token, datasetId: ds, initialTagId: nil)
        let d = 3
        let pts = testPoints(n: n, d: d)
        let (eid, put) = try f.upload(embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }))
        #expect(put.status == 200, "\(put.text)")
        // The upload into the empty dataset made its samples and the initial tag.
        let initialId = try #require(try t.tags(ds, token: token).first?.id)
        let scores = (0 ..< n).map { _ in "0.5" }.joined(separator: ",")
        let sc = try t.call(.POST, "/v1/datasets/\(ds)/tags/\(initialId)/scores", token: token,
                            json: #"{"scoreType": "uncertainty_margin", "scores": [\#(scores)]}"#)
        #expect(sc.status / 100 == 2, "\(sc.text)")
        let job = try f.sample(eid, #"{"newTagName": "picked", "method": "CORESET", "config": {"stoppingCondition": {"nSamples": 3}}}"#)
        let jobId = try #require(job.json["jobId"]?.stringValue, "\(job.text)")
        #expect(try f.poll(jobId).status == .finished)
        let twoD = try t.call(.POST, "/v1/datasets/\(ds)/embeddings/\(eid)/trigger2dEmbeddingsJob", token: token, json: "{}")
        if let j = twoD.json["jobId"]?.stringValue { _ = try f.poll(j) }
        // An image upload: a blob file.
        let sid = try #require(try t.mappings(ds, token: token, field: "_id").first)
        let w = try t.call(.GET, "/v1/datasets/\(ds)/samples/\(sid)/writeurl?isThumbnail=false", token: token)
        if let url = w.json.stringValue {
            let r = try t.call(.PUT, targetOf(url), body: .bytes(Data("jpegbytes".utf8)))
            #expect(r.status == 200, "\(r.text)")
        }
        return ds
    }

    @Test func resetEmptiesEverythingButKeepsUsers() throws {
        let t = try TestApp.makeAdmin()
        t.app.start()
        defer { t.app.stop() }
        let alice = try t.makeUser("alice")
        let bob = try t.makeUser("bob")
        let ds = try Self.populate(t, token: alice)
        _ = try Self.populate(t, token: bob, name: "other")
        let before = try t.tableCounts()
        for table in ["datasets", "samples", "tags", "embeddings", "embedding_chunks", "embeddings_2d", "scores", "jobs", "blobs"] {
            #expect((before[table] ?? 0) > 0, "the fixture fills \(table)")
        }
        #expect(!t.blobFiles().isEmpty)
        // Warm the caches.
        _ = try t.mappings(ds, token: alice)

        let r = try t.admin(.POST, "/_admin/reset")
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json["datasets"]?.intValue == 2 && r.json["users"]?.intValue == 0)
        let after = try t.tableCounts()
        for (table, count) in after where table != "users" && table != "tokens" {
            #expect(count == 0, "\(table) still has \(count) rows")
        }
        #expect(after["users"] == before["users"] && after["tokens"] == before["tokens"])
        #expect(t.blobFiles().isEmpty, "\(t.blobFiles())")
        // The tokens still work; the old dataset is unknown, and the list is empty.
        #expect(try t.call(.GET, "/v1/datasets", token: alice).json == .array([]))
        #expect(try t.call(.GET, "/v1/datasets/\(ds)/mappings?field=fileName", token: alice).status == 404)
        // The server works as before: the same content again.
        _ = try Self.populate(t, token: alice)
    }

    @Test func resetWithUsersRemovesThem() throws {
        let t = try TestApp.makeAdmin()
        let alice = try t.makeUser("alice")
        _ = try t.makeDataset("ds", token: alice)
        let r = try t.admin(.POST, "/_admin/reset?users=true")
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json["users"]?.intValue == 1)
        let after = try t.tableCounts()
        #expect(after.values.allSatisfy { $0 == 0 }, "\(after)")
        #expect(try t.call(.GET, "/v1/datasets", token: alice).status == 401)
        #expect(try t.admin(.POST, "/_admin/reset?users=maybe").status == 400)
    }

    /// A reset while a sampling job runs cancels it; the job writes nothing into the emptied
    /// store afterwards, and the runner keeps working.
    @Test(.timeLimit(.minutes(2)))
    func resetDuringARunningSamplingJob() throws {
        let t = try TestApp.makeAdmin()
        t.app.start()
        defer { t.app.stop() }
        let token = try t.makeUser("alice")
        let ds = try t.makeDataset("big", token: token)
        let f = JobsHTTPFixture(t: t, token: token, datasetId: ds, initialTagId: nil)
        let n = 12_000, d = 32
        let pts = testPoints(n: n, d: d)
        let (eid, put) = try f.upload(embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }, labels: false))
        #expect(put.status == 200, "\(put.text)")
        let job = try f.sample(eid, #"{"newTagName": "picked", "method": "CORESET", "config": {"stoppingCondition": {"nSamples": \#(n - 1)}}}"#)
        let jobId = try #require(job.json["jobId"]?.stringValue, "\(job.text)")
        // Wait until it runs (and has reported progress at least once).
        let deadline = Date().addingTimeInterval(30)
        while t.app.jobs.runner.progress(of: jobId) == nil, Date() < deadline { usleep(2_000) }
        let status = try t.call(.GET, "/v1/jobs/\(jobId)", token: token).decode(JobStatusData.self)
        #expect(status.status == .running, "the job should still be running: \(status.status)")

        let r = try t.admin(.POST, "/_admin/reset")
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json["jobs"]?.intValue == 1)
        #expect(t.app.jobs.runner.isIdle, "reset returns once the cancelled job stopped")
        usleep(200_000)
        let after = try t.tableCounts()
        for (table, count) in after where table != "users" && table != "tokens" {
            #expect(count == 0, "\(table) has \(count) rows after the reset")
        }
        #expect(try t.call(.GET, "/v1/jobs/\(jobId)", token: token).status == 404)
        #expect(t.app.jobs.cache.statistics.entries == 0)

        // The runner still runs jobs after the reset.
        let ds2 = try t.makeDataset("small", token: token)
        let f2 = JobsHTTPFixture(t: t, token: token, datasetId: ds2, initialTagId: nil)
        let (e2, put2) = try f2.upload(embeddingCSV((0 ..< 6).map { (JobsFixture.name($0), [Float($0), 0]) }))
        #expect(put2.status == 200, "\(put2.text)")
        let j2 = try f2.sample(e2, #"{"newTagName": "x", "method": "RANDOM", "config": {"stoppingCondition": {"nSamples": 2}}}"#)
        let j2Id = try #require(j2.json["jobId"]?.stringValue, "\(j2.text)")
        #expect(try f2.poll(j2Id).status == .finished)
    }
}
