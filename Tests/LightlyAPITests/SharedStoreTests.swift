#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import LightlyAPI
import LightlyCore
import LightlyStorage
import LightlyWire
import Synchronization
import Dispatch
import PostgresTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What several servers on one store share, at the storage level: the signing key, job
/// leases, and the embedding cache's check against the stored version. "Two servers" are two
/// handles (and runners) on one store here: the SQLite file, or the PostgreSQL database with
/// `LIGHTLY_TEST_STORE=postgres`. The process-level tests with two `serve` processes are in
/// `LightlyClientTests/MultiServerTests.swift`.
@Suite struct SharedStoreTests {
    /// Another handle on the fixture's store: what a second server opens.
    func secondHandle(_ f: JobsFixture) throws -> any SQLDatabase {
        if let url = f.store.postgresURL { return try PostgresDatabase(url: url, maxConnections: 4) }
        return try Database(path: f.dir + "/test.sqlite3")
    }

    /// Whether claims lock rows on this store (PostgreSQL).
    func locks(_ f: JobsFixture) -> Bool { f.db.dialect == .postgres }

    // MARK: Signing key

    @Test func serversStartingTogetherAgreeOnOneSigningKey() throws {
        let f = try JobsFixture.make(samples: 1, initialTag: false)
        defer { f.cleanup() }
        let handles = try (0 ..< 4).map { _ in try secondHandle(f) }
        let keys = Mutex<[[UInt8]]>([])
        DispatchQueue.concurrentPerform(iterations: handles.count) { i in
            if let key = try? SigningKeyStore.key(handles[i], importing: f.dir + "/signing.key") {
                keys.withLock { $0.append(key) }
            }
        }
        let all = keys.withLock { $0 }
        #expect(all.count == handles.count)
        #expect(Set(all).count == 1)
        #expect(all.first?.count == 32)
        // Later starts read the same key; no file is written.
        #expect(try SigningKeyStore.key(f.db, importing: f.dir + "/signing.key") == all.first)
        #expect(!FileManager.default.fileExists(atPath: f.dir + "/signing.key"))
    }

    @Test func anOlderSigningKeyFileIsImported() throws {
        let f = try JobsFixture.make(samples: 1, initialTag: false)
        defer { f.cleanup() }
        let old = (0 ..< 32).map { UInt8($0 * 7 & 0xff) }
        try Data(old).write(to: URL(fileURLWithPath: f.dir + "/signing.key"))
        #expect(try SigningKeyStore.key(f.db, importing: f.dir + "/signing.key") == old)
        // A URL signed with the old key still verifies with the imported one.
        let expires: Int64 = 4_000_000_000
        let sig = URLSigner(secret: old).signature(method: .GET, path: "/signed/x", expires: expires)
        let imported = URLSigner(secret: try SigningKeyStore.key(f.db, importing: nil))
        #expect(imported.signature(method: .GET, path: "/signed/x", expires: expires) == sig)
        // A damaged file is refused rather than replaced by a new key.
        let g = try JobsFixture.make(samples: 1, initialTag: false)
        defer { g.cleanup() }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: g.dir + "/signing.key"))
        #expect(throws: StorageError.self) { try SigningKeyStore.key(g.db, importing: g.dir + "/signing.key") }
    }

    // MARK: Job leases

    /// An executor that counts its runs, and (when `block` is set) keeps reporting progress
    /// until the runner tells it to stop.
    final class Probe: JobExecutor, @unchecked Sendable {
        let runs = Mutex<[String: Int]>([:])
        let db: any SQLDatabase
        let block: Bool
        init(db: any SQLDatabase, block: Bool = false) { self.db = db; self.block = block }
        func run(_ job: JobRecord, progress: JobProgress) throws {
            runs.withLock { $0[job.id, default: 0] += 1 }
            if block {
                let deadline = Date().addingTimeInterval(60)
                while progress.update(processed: 0, total: 1), Date() < deadline { usleep(20_000) }
                throw JobInterrupted()
            }
            try db.write { conn in
                guard try JobStore.isStillRunning(job, conn) else { return }
                try JobStore.markFinished(id: job.id, result: "done", total: 1, now: jobsNowMillis(), conn)
            }
        }
    }

    func insertJob(_ f: JobsFixture, datasetId: String? = nil) throws -> String {
        try f.db.write { conn in
            try JobStore.insert(userId: f.userId, datasetId: datasetId, type: .embeddings2D, request: "{}", now: jobsNowMillis(), conn).id
        }
    }

    func job(_ f: JobsFixture, _ id: String) throws -> (status: String, owner: String?, expires: Int?) {
        try f.db.read { conn in
            let r = try #require(try conn.queryOne("SELECT status, lease_owner, lease_expires_at FROM jobs WHERE id = ?", id))
            return (try r.string(0), try r.stringOrNil(1), try r.intOrNil(2))
        }
    }

    func waitUntil(_ what: String, timeout: Double = 60, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(10_000)
        }
        Issue.record("timed out waiting for \(what)")
    }

    /// On a shared store a starting server takes over jobs whose lease expired (their server
    /// died) but leaves a job another live server holds, until that lease expires too.
    @Test func expiredLeasesAreTakenOverLiveOnesAreNot() throws {
        let f = try JobsFixture.make(samples: 1, initialTag: false)
        defer { f.cleanup() }
        let live = try insertJob(f), dead = try insertJob(f), legacy = try insertJob(f)
        let now = leaseNowMillis()
        try f.db.write { conn in
            try conn.run("UPDATE jobs SET status = 'RUNNING', lease_owner = 'alive', lease_expires_at = ? WHERE id = ?", now + 600_000, live)
            try conn.run("UPDATE jobs SET status = 'RUNNING', lease_owner = 'dead', lease_expires_at = ? WHERE id = ?", now - 1, dead)
            try conn.run("UPDATE jobs SET status = 'RUNNING' WHERE id = ?", legacy)   // before leases existed
        }
        let probe = Probe(db: f.db)
        let shared = JobRunner(database: f.db, executors: [.embeddings2D: probe], leaseSeconds: 1, sharedStore: true, lockRows: locks(f))
        try shared.start()
        defer { shared.stop() }
        try waitUntil("the dead server's job and the legacy job") {
            try job(f, dead).status == "FINISHED" && job(f, legacy).status == "FINISHED"
        }
        let held = try job(f, live)
        #expect(held.status == "RUNNING" && held.owner == "alive")
        #expect(probe.runs.withLock { $0[live] } == nil)
        // The other server dies: its lease runs out, and this one finishes the job.
        try f.db.write { conn in try conn.run("UPDATE jobs SET lease_expires_at = ? WHERE id = ?", leaseNowMillis() - 1, live) }
        try waitUntil("the expired job") { try job(f, live).status == "FINISHED" }
        #expect(probe.runs.withLock { [$0[live], $0[dead], $0[legacy]] } == [1, 1, 1])
    }

    /// The running server renews its lease; when it cannot keep it (another server took the
    /// job), it stops the job and stores nothing.
    @Test func leaseIsRenewedAndALostLeaseStopsTheJob() throws {
        let f = try JobsFixture.make(samples: 1, initialTag: false)
        defer { f.cleanup() }
        let id = try insertJob(f, datasetId: f.datasetId)
        let probe = Probe(db: f.db, block: true)
        let runner = JobRunner(database: f.db, executors: [.embeddings2D: probe], leaseSeconds: 0.6, lockRows: locks(f))
        try runner.start()
        defer { runner.stop(timeout: 5) }
        try waitUntil("the job to run") { try job(f, id).status == "RUNNING" }
        let first = try job(f, id)
        #expect(first.owner == runner.owner)
        try waitUntil("a renewal") { (try job(f, id).expires ?? 0) > (first.expires ?? 0) }
        try f.db.write { conn in try conn.run("UPDATE jobs SET lease_owner = 'thief' WHERE id = ?", id) }
        try waitUntil("the runner to let go") { runner.isIdle }
        let after = try job(f, id)
        #expect(after.status == "RUNNING" && after.owner == "thief")
    }

    /// Two servers on one store claim every job exactly once, one job per dataset at a time.
    @Test func twoRunnersOnOneStoreRunEachJobOnce() throws {
        let f = try JobsFixture.make(samples: 1, initialTag: false)
        defer { f.cleanup() }
        let other = try secondHandle(f)
        let probe = Probe(db: f.db)
        let a = JobRunner(database: f.db, executors: [.embeddings2D: probe], maxConcurrentJobs: 2, leaseSeconds: 2, lockRows: locks(f))
        let b = JobRunner(database: other, executors: [.embeddings2D: probe], maxConcurrentJobs: 2, leaseSeconds: 2, lockRows: locks(f))
        try a.start()
        try b.start()
        defer { a.stop(); b.stop() }
        let ids = try (0 ..< 24).map { i in try insertJob(f, datasetId: i % 3 == 0 ? nil : f.datasetId) }
        a.kick()
        try waitUntil("all jobs") {
            try f.db.read { conn in try conn.queryOne("SELECT count(*) FROM jobs WHERE status = 'FINISHED'")?.int(0) } == ids.count
        }
        let counts = probe.runs.withLock { $0 }
        #expect(counts.count == ids.count && counts.values.allSatisfy { $0 == 1 })
        #expect(try f.db.read { conn in try conn.queryOne("SELECT count(*) FROM jobs WHERE lease_owner NOT IN (?, ?)", a.owner, b.owner)?.int(0) } == 0)
    }

    // MARK: Embedding cache

    @Test func cacheEntriesOfAnotherVersionOrOfDeletedEmbeddingsAreDropped() throws {
        let cache = EmbeddingCache(byteBudget: 1 << 20)
        let m1 = EmbeddingMatrix(rows: 2, dimension: 4), m2 = EmbeddingMatrix(rows: 2, dimension: 4)
        var loads = 0
        #expect(cache.matrix(for: "e", version: 1) { loads += 1; return m1 } === m1)
        #expect(cache.matrix(for: "e", version: 1) { loads += 1; return m2 } === m1)
        // Re-uploaded through another server: the job reads version 2, the entry is a miss.
        #expect(cache.matrix(for: "e", version: 2) { loads += 1; return m2 } === m2)
        #expect(loads == 2)
        _ = cache.matrix(for: "gone", version: 1) { m1 }
        _ = cache.matrix(for: "kept", version: 3) { m1 }
        var asked: [String] = []
        let dropped = cache.revalidate { ids in asked = ids; return ["e": 5, "kept": 3] }
        #expect(Set(asked) == ["e", "gone", "kept"])
        #expect(dropped == 2)
        #expect(!cache.contains("e") && !cache.contains("gone") && cache.contains("kept"))
    }

    /// The stored version moves with every upload of the matrix, and a sampling job on a
    /// server whose cache holds the old matrix reads the new one.
    @Test func samplingAfterAReuploadElsewhereUsesTheNewMatrix() throws {
        let n = 40, d = 3
        let f = try JobsFixture.make(samples: n)
        defer { f.cleanup() }
        let first = testPoints(n: n, d: d, seed: 1), second = testPoints(n: n, d: d, seed: 2)
        let e = try f.db.write { conn in try EmbeddingStore.create(datasetId: f.datasetId, name: "emb", now: 3, conn) }
        func upload(_ pts: [Float], _ db: any SQLDatabase) throws {
            try db.write { conn in
                try EmbeddingStore.storeMatrix(embeddingId: e.id, rows: n, dimension: d, conn) { i, dst in
                    for j in 0 ..< d { dst[j] = pts[i * d + j] }
                }
            }
        }
        try upload(first, f.db)
        #expect(try f.db.read { conn in try EmbeddingStore.get(id: e.id, conn)?.version } == 1)
        let cache = EmbeddingCache()            // "server B"'s cache
        let runner = JobRunner(database: f.db, executors: [.sampling: SamplingJobExecutor(database: f.db, cache: cache)], lockRows: locks(f))
        try runner.start()
        defer { runner.stop() }
        func sample(_ name: String) throws -> [Int] {
            let req = SamplingCreateRequest(newTagName: name, method: "CORESET",
                                            config: SamplingConfig(stoppingCondition: SamplingStoppingCondition(nSamples: 5, minDistance: -1)),
                                            preselectedTagId: nil, queryTagId: nil, rowCount: nil)
            let body = String(decoding: try JSONEncoder().encode(SamplingJobInput(datasetId: f.datasetId, embeddingId: e.id, request: req)), as: UTF8.self)
            let id = try f.db.write { conn in
                try JobStore.insert(userId: f.userId, datasetId: f.datasetId, type: .sampling, request: body, now: jobsNowMillis(), conn).id
            }
            runner.kick()
            var done: JobRecord?
            try waitUntil("job \(name)") {
                done = try f.db.read { conn in try JobStore.get(id: id, conn) }
                return done?.status.isTerminal == true
            }
            #expect(done?.status == .finished, "\(done?.error ?? "")")
            return try f.tagBits(try #require(done?.result)).indices
        }
        #expect(try sample("round-1") == bruteForceKCenter(points: first, n: n, d: d, k: 5).sorted())
        #expect(cache.contains(e.id))
        // "Server A" stores a new matrix for the same embedding (a second PUT of the CSV).
        try upload(second, try secondHandle(f))
        #expect(try sample("round-2") == bruteForceKCenter(points: second, n: n, d: d, k: 5).sorted())
    }

    // MARK: Mapping cache

    /// Samples added or renamed through another server reach this server's cached mapping.
    @Test func mappingCacheChecksTheStoreWhenShared() throws {
        let f = try JobsFixture.make(samples: 3, initialTag: false)
        defer { f.cleanup() }
        let shared = MappingCache(checksStore: true), alone = MappingCache()
        #expect(try f.db.read { conn in try shared.mapping(f.datasetId, conn: conn).count } == 3)
        #expect(try f.db.read { conn in try alone.mapping(f.datasetId, conn: conn).count } == 3)
        // "Another server" adds a sample (no invalidate here).
        try secondHandle(f).write { conn in
            try SampleStore.append(id: "dddddddddddddddddddddddd", datasetId: f.datasetId, idx: 3, fileName: "late.jpg", thumbName: nil,
                                   metaData: nil, exif: nil, customMetaData: nil, size: 0, now: 5, conn)
        }
        #expect(try f.db.read { conn in try shared.mapping(f.datasetId, conn: conn).fileNames.last } == "late.jpg")
        // Without the check (one server) the local invalidation is what refreshes it.
        #expect(try f.db.read { conn in try alone.mapping(f.datasetId, conn: conn).count } == 3)
    }
}
