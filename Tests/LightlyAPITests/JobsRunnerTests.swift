#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import LightlyAPI
import LightlyCore
import LightlyStorage
import LightlyWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Storage-level tests of the job runner and the sampling executor (no HTTP).
@Suite struct JobsRunnerTests {
    struct Setup {
        var f: JobsFixture
        var embeddingId: String
        var points: [Float]
        var cache = EmbeddingCache()
        func runner() -> JobRunner {
            JobRunner(database: f.db, executors: [
                .sampling: SamplingJobExecutor(database: f.db, cache: cache),
                .embeddings2D: Embedding2DJobExecutor(database: f.db, cache: cache),
            ])
        }
    }

    func setup(n: Int, d: Int) throws -> Setup {
        let f = try JobsFixture.make(samples: n)
        let pts = testPoints(n: n, d: d)
        let e = try f.db.write { conn in
            let e = try EmbeddingStore.create(datasetId: f.datasetId, name: "emb", now: 3, conn)
            try EmbeddingStore.storeMatrix(embeddingId: e.id, rows: n, dimension: d, conn) { i, dst in
                for j in 0 ..< d { dst[j] = pts[i * d + j] }
            }
            return e
        }
        return Setup(f: f, embeddingId: e.id, points: pts)
    }

    func enqueue(_ s: Setup, _ req: SamplingCreateRequest, status: JobState = .waiting) throws -> String {
        let body = String(decoding: try JSONEncoder().encode(SamplingJobInput(datasetId: s.f.datasetId, embeddingId: s.embeddingId, request: req)), as: UTF8.self)
        return try s.f.db.write { conn in
            let job = try JobStore.insert(userId: s.f.userId, datasetId: s.f.datasetId, type: .sampling, request: body, now: jobsNowMillis(), conn)
            if status != .waiting { try conn.run("UPDATE jobs SET status = ? WHERE id = ?", status.rawValue, job.id) }
            return job.id
        }
    }

    func wait(_ s: Setup, _ id: String, timeout: Double = 30) throws -> JobRecord {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let j = try s.f.db.read({ conn in try JobStore.get(id: id, conn) }), j.status.isTerminal { return j }
            usleep(5_000)
        }
        throw JobFailure("job \(id) did not finish in \(timeout) s")
    }

    func request(_ name: String, _ method: String, n: Double, pre: String? = nil, query: String? = nil, minDistance: Double = -1) -> SamplingCreateRequest {
        SamplingCreateRequest(newTagName: name, method: method,
                              config: SamplingConfig(stoppingCondition: SamplingStoppingCondition(nSamples: n, minDistance: minDistance)),
                              preselectedTagId: pre, queryTagId: query, rowCount: nil)
    }

    @Test func coresetMatchesBruteForceAndTagFollowsSpec() throws {
        let n = 60, d = 5
        let s = try setup(n: n, d: d)
        defer { s.f.cleanup() }
        let runner = s.runner()
        try runner.start()
        defer { runner.stop() }
        let id = try enqueue(s, request("coreset-10", "CORESET", n: 10))
        runner.kick()
        let job = try wait(s, id)
        #expect(job.status == .finished, "\(job.error ?? "")")
        let tagId = try #require(job.result)
        let row = try #require(try s.f.db.read { conn in
            try conn.queryOne("SELECT name, prev_tag_id, creator, tot_size, preselected_tag_id FROM tags WHERE id = ?", tagId)
        })
        #expect(try row.string(0) == "coreset-10")
        #expect(try row.stringOrNil(1) == s.f.initialTagId)
        #expect(try row.string(2) == "SAMPLER_CORESET")
        #expect(try row.int(3) == n)
        let bits = try s.f.tagBits(tagId)
        #expect(bits.count == 10)
        let expected = bruteForceKCenter(points: s.points, n: n, d: d, k: 10)
        #expect(bits.indices == expected.sorted())

        // Second round with P = the first result: P ∪ picked, prevTagId = P.
        let id2 = try enqueue(s, request("coreset-25", "CORESET", n: 25, pre: tagId))
        runner.kick()
        let job2 = try wait(s, id2)
        let tag2 = try #require(job2.result)
        let bits2 = try s.f.tagBits(tag2)
        #expect(bits2.count == 25)
        #expect(bits2.intersection(bits) == bits)
        let expected2 = bruteForceKCenter(points: s.points, n: n, d: d, k: 25, preselected: bits.indices)
        #expect(bits2.subtracting(bits).indices == expected2.sorted())
        let prev = try s.f.db.read { conn in try conn.queryOne("SELECT prev_tag_id FROM tags WHERE id = ?", tag2)?.stringOrNil(0) }
        #expect(prev == tagId)
        #expect(s.cache.statistics.hits >= 1)   // the second job reused the loaded matrix
    }

    @Test func activeLearningWithoutScoresFails() throws {
        let s = try setup(n: 20, d: 3)
        defer { s.f.cleanup() }
        let runner = s.runner()
        try runner.start()
        defer { runner.stop() }
        let id = try enqueue(s, request("al", "ACTIVE_LEARNING", n: 5, query: s.f.initialTagId))
        runner.kick()
        let job = try wait(s, id)
        #expect(job.status == .failed)
        #expect(job.error?.hasPrefix("ACTIVE_LEARNING needs scores:") == true, "\(job.error ?? "")")
        let tags = try s.f.db.read { conn in try conn.queryOne("SELECT count(*) FROM tags")?.int(0) }
        #expect(tags == 1)
    }

    @Test func activeLearningUsesAlignedScores() throws {
        let n = 10
        let s = try setup(n: n, d: 2)
        defer { s.f.cleanup() }
        let initial = try #require(s.f.initialTagId)
        let scores: [Double] = [0.1, 0.9, 0.3, 0.8, 0.0, 0.7, 0.2, 0.6, 0.4, 0.5]
        _ = try s.f.db.write { conn in
            try ScoreStore.upsert(datasetId: s.f.datasetId, tagId: initial, scoreType: "uncertainty_margin", scores: scores, now: 5, conn)
        }
        let runner = s.runner()
        try runner.start()
        defer { runner.stop() }
        let id = try enqueue(s, request("al", "ACTIVE_LEARNING", n: 3, query: initial))
        runner.kick()
        let job = try wait(s, id)
        #expect(job.status == .finished, "\(job.error ?? "")")
        #expect(try s.f.tagBits(try #require(job.result)).indices == [1, 3, 5])
    }

    @Test func takenNameFailsTheJob() throws {
        let s = try setup(n: 10, d: 2)
        defer { s.f.cleanup() }
        _ = try s.f.addTag("dup", bits: BitMask(indices: [1]), n: 10)
        let runner = s.runner()
        try runner.start()
        defer { runner.stop() }
        let id = try enqueue(s, request("dup", "RANDOM", n: 3))
        runner.kick()
        let job = try wait(s, id)
        #expect(job.status == .failed)
        #expect(job.error?.contains("dup") == true)
    }

    @Test func interruptedJobsRunAfterRestart() throws {
        let s = try setup(n: 30, d: 3)
        defer { s.f.cleanup() }
        let running = try enqueue(s, request("was-running", "CORESET", n: 4), status: .running)
        let waiting = try enqueue(s, request("was-waiting", "RANDOM", n: 4))
        let runner = s.runner()          // a "new process": start() requeues the RUNNING job
        try runner.start()
        defer { runner.stop() }
        let a = try wait(s, running), b = try wait(s, waiting)
        #expect(a.status == .finished && b.status == .finished)
        #expect(try s.f.tagBits(try #require(a.result)).count == 4)
        #expect(a.finishedAt.map { $0 <= (b.finishedAt ?? 0) } == true)   // creation order
    }

    @Test func pcaProjectionIsStored() throws {
        let s = try setup(n: 12, d: 4)
        defer { s.f.cleanup() }
        let runner = s.runner()
        try runner.start()
        defer { runner.stop() }
        var ids: [String] = []
        for method in ["PCA", "TSNE"] {
            let body = String(decoding: try JSONEncoder().encode(Embedding2DJobInput(datasetId: s.f.datasetId, embeddingId: s.embeddingId, method: method)), as: UTF8.self)
            ids.append(try s.f.db.write { conn in
                try JobStore.insert(userId: s.f.userId, datasetId: s.f.datasetId, type: .embeddings2D, request: body, now: jobsNowMillis(), conn).id
            })
        }
        runner.kick()
        for id in ids { #expect(try wait(s, id).status == .finished) }
        let stored = try s.f.db.read { conn in try EmbeddingStore.list2D(embeddingId: s.embeddingId, conn) }
        #expect(stored.map(\.method).sorted() == ["PCA", "TSNE"])
        #expect(stored.allSatisfy { $0.points.count == 24 && $0.points.allSatisfy(\.isFinite) })
        #expect(stored[0].points == stored[1].points)
    }
}
