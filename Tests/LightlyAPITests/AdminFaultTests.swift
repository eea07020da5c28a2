#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
@testable import LightlyAPI
import LightlyWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct AdminFaultTests {
    func setFaults(_ t: TestApp, _ doc: String) throws -> TestResponse { try t.admin(.PUT, "/_admin/faults", json: doc) }

    @Test func statusRuleFiresTimesThenDisappears() throws {
        let t = try TestApp.makeAdmin()
        let token = try t.makeUser("alice")
        let put = try setFaults(t, #"{"rules": [{"method": "POST", "path": "/v1/datasets", "status": 500, "times": 2}]}"#)
        #expect(put.status == 200, "\(put.text)")
        let first = try t.call(.POST, "/v1/datasets", token: token, json: #"{"name": "a"}"#)
        #expect(first.status == 500 && first.errorCode == "INJECTED_FAULT")
        #expect(first.response.headers[HTTPHeaderName("X-Lightly-Fault")] == "injected")
        #expect(first.response.headers[HTTPHeaderName("X-Request-Id")] != nil)
        // GET lists the remaining count; another method is not matched.
        #expect(try t.admin(.GET, "/_admin/faults").json["rules"]?[0]?["times"]?.intValue == 1)
        #expect(try t.call(.GET, "/v1/datasets", token: token).status == 200)
        #expect(try t.call(.POST, "/v1/datasets", token: token, json: #"{"name": "a"}"#).status == 500)
        #expect(try t.admin(.GET, "/_admin/faults").json["rules"] == .array([]))
        #expect(try t.call(.POST, "/v1/datasets", token: token, json: #"{"name": "a"}"#).status == 201)
        // Nothing was stored by the faulted requests.
        #expect(try t.call(.GET, "/v1/datasets", token: token).decode([DatasetData].self).count == 1)
    }

    @Test(arguments: [
        ("/v1/datasets/{datasetId}/tags", true), ("/v1/datasets/:datasetId/tags", true), ("/v1/datasets/*/tags", true),
        ("/v1/datasets/0123*/tags", true), ("/v1/**", true), ("/**/tags", true), ("/v1/datasets/{datasetId}", false),
        ("/v1/datasets/abc*/tags", false), ("/v1/datasets/{datasetId}/tags/{tagId}", false),
    ])
    func pathPatternsAndGlobs(pattern: String, matches: Bool) throws {
        let t = try TestApp.makeAdmin()
        let token = try t.makeUser("alice")
        #expect(try setFaults(t, #"{"rules": [{"path": "\#(pattern)", "status": 503, "body": {"why": "test"}}]}"#).status == 200)
        let r = try t.call(.GET, "/v1/datasets/0123456789abcdef01234567/tags", token: token)
        #expect((r.status == 503) == matches, "\(pattern): \(r.status)")
        if matches { #expect(r.text == #"{"why":"test"}"#) }
    }

    @Test func adminRoutesAreNeverFaulted() throws {
        let t = try TestApp.makeAdmin()
        #expect(try setFaults(t, #"[{"path": "/**", "status": 502}]"#).status == 200)
        #expect(try t.call(.GET, "/health").status == 502)
        #expect(try t.admin(.GET, "/_admin/faults").status == 200)
        #expect(try t.admin(.GET, "/_admin/snapshot").status == 200)
        #expect(try t.admin(.DELETE, "/_admin/faults").status == 200)
        #expect(try t.call(.GET, "/health").status == 200)
    }

    @Test func delayOnlyRuleSlowsTheRequestDown() throws {
        let t = try TestApp.makeAdmin()
        #expect(try setFaults(t, #"{"rules": [{"path": "/health", "delayMs": 150, "times": 1}]}"#).status == 200)
        let start = Date()
        let r = try t.call(.GET, "/health")
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.status == 200 && elapsed >= 0.14, "\(elapsed)")
        let again = Date()
        _ = try t.call(.GET, "/health")
        #expect(Date().timeIntervalSince(again) < 0.14)
    }

    /// `probability` draws from a generator seeded by the document: the same seed gives the
    /// same sequence of hits.
    @Test func probabilityIsReproducibleWithASeed() throws {
        let t = try TestApp.makeAdmin()
        func pattern(seed: Int) throws -> [Bool] {
            #expect(try setFaults(t, #"{"seed": \#(seed), "rules": [{"path": "/health", "status": 500, "probability": 0.5}]}"#).status == 200)
            return try (0 ..< 40).map { _ in try t.call(.GET, "/health").status == 500 }
        }
        let a = try pattern(seed: 7)
        let b = try pattern(seed: 7)
        let c = try pattern(seed: 8)
        #expect(a == b)
        #expect(a != c)
        #expect(a.contains(true) && a.contains(false))
        #expect(try t.admin(.GET, "/_admin/faults").json["seed"]?.intValue == 8)
        // Probability 0 never fires; the default seed is fixed.
        #expect(try setFaults(t, #"{"rules": [{"path": "/health", "status": 500, "probability": 0}]}"#).status == 200)
        #expect(try (0 ..< 10).allSatisfy { _ in try t.call(.GET, "/health").status == 200 })
    }

    @Test func jobRulesFailOrDelayTheJob() throws {
        let t = try TestApp.makeAdmin(pollWait: 0)
        t.app.start()
        defer { t.app.stop() }
        let token = try t.makeUser("alice")
        let ds = try t.makeDataset("ds", token: token)
        let f = JobsHTTPFixture(t: t, token: token, datasetId: ds, initialTagId: nil)
        let (eid, put) = try f.upload(embeddingCSV((0 ..< 6).map { (JobsFixture.name($0), [Float($0), 1]) }))
        #expect(put.status == 200, "\(put.text)")
        func trigger(_ name: String) throws -> String {
            let r = try f.sample(eid, #"{"newTagName": "\#(name)", "method": "RANDOM", "config": {"stoppingCondition": {"nSamples": 2}}}"#)
            return try #require(r.json["jobId"]?.stringValue, "\(r.text)")
        }
        #expect(try setFaults(t, #"{"rules": [{"job": "SAMPLING", "fail": "injected: out of luck", "times": 1}]}"#).status == 200)
        let failed = try f.poll(try trigger("one"))
        #expect(failed.status == .failed && failed.error == "injected: out of luck")
        #expect(try t.tags(ds, token: token).map(\.name) == ["initial-tag"])
        // times ran out: the next job runs.
        #expect(try f.poll(try trigger("two")).status == .finished)

        #expect(try setFaults(t, #"{"rules": [{"job": "SAMPLING", "delayMs": 300}]}"#).status == 200)
        let start = Date()
        let id = try trigger("three")
        usleep(100_000)
        #expect(try t.call(.GET, "/v1/jobs/\(id)", token: token).decode(JobStatusData.self).status == .running)
        #expect(try f.poll(id).status == .finished)
        #expect(Date().timeIntervalSince(start) >= 0.29)
    }

    @Test(arguments: [
        (#"{"rules": [{"path": "/x", "stauts": 500}]}"#, "rules[0]"),
        (#"{"rules": [{"path": "/x", "status": 700}]}"#, "rules[0].status"),
        (#"{"rules": [{"path": "/x", "status": 500, "probability": 2}]}"#, "rules[0].probability"),
        (#"{"rules": [{"path": "/x", "status": 500, "times": 0}]}"#, "rules[0].times"),
        (#"{"rules": [{"path": "x", "status": 500}]}"#, "rules[0].path"),
        (#"{"rules": [{"status": 500}]}"#, "rules[0]"),
        (#"{"rules": [{"path": "/x"}]}"#, "rules[0]"),
        (#"{"rules": [{"path": "/x", "delayMs": 600000}]}"#, "rules[0].delayMs"),
        (#"{"rules": [{"job": "SAMPLING", "path": "/x", "fail": "m"}]}"#, "rules[0]"),
        (#"{"rules": [{"job": "SAMPLING"}]}"#, "rules[0]"),
        (#"{"rules": [{"job": "SAMPLIN", "fail": "m"}]}"#, "rules[0].job"),
        (#"{"rules": [{"path": "/x", "method": "FETCH", "status": 500}]}"#, "rules[0].method"),
        (#"{"seed": -1}"#, "seed"),
    ])
    func badRulesAreRejectedAndKeepTheOldOnes(doc: String, location: String) throws {
        let t = try TestApp.makeAdmin()
        #expect(try setFaults(t, #"{"rules": [{"path": "/health", "status": 500}]}"#).status == 200)
        let r = try setFaults(t, doc)
        #expect(r.status == 400 && r.errorCode == "MALFORMED_REQUEST")
        #expect(r.json["message"]?.stringValue?.contains("faults document: \(location): ") == true, "\(r.text)")
        #expect(try t.admin(.GET, "/_admin/faults").json["rules"]?.arrayValue?.count == 1)
    }
}
