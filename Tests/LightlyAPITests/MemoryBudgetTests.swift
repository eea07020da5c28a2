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

/// The memory budget for embedding matrices (``EmbeddingCache``): what it grants, what it
/// refuses, and the answers of the upload and the job when a matrix does not fit.
@Suite struct MemoryBudgetTests {
    func matrix(_ rows: Int) -> EmbeddingMatrix { EmbeddingMatrix(rows: rows, dimension: 4) }   // 16 B per row

    @Test func reservationsEvictUnpinnedEntriesAndRefuseWhatCanNeverFit() throws {
        let cache = EmbeddingCache(byteBudget: 1000)
        #expect(throws: MemoryBudgetError.exceedsBudget(needed: 1001, budget: 1000)) { try cache.reserve(1001) }
        _ = cache.matrix(for: "a") { matrix(20) }   // 320 B cached
        _ = cache.matrix(for: "b") { matrix(20) }   // 320 B cached
        #expect(cache.budgetInUse == 640)
        // 600 B more: the least recently used entry (a) goes, b stays.
        let r = try cache.reserve(600)
        #expect(!cache.contains("a") && cache.contains("b") && cache.budgetInUse == 920)
        // Nothing left to evict for 500 B more: busy, not granted.
        #expect(throws: MemoryBudgetError.self) { try cache.reserve(500) }
        do { _ = try cache.reserve(700); Issue.record("granted") } catch let e as MemoryBudgetError {
            guard case .busy(needed: 700, available: _, budget: 1000) = e else { Issue.record("\(e)"); return }
            #expect(e.description.contains("retry"))
        }
        // Growing within the budget evicts b; past it is refused and leaves the reservation as it was.
        try r.grow(to: 900)
        #expect(!cache.contains("b") && r.bytes == 900 && cache.budgetInUse == 900)
        #expect(throws: MemoryBudgetError.exceedsBudget(needed: 1200, budget: 1000)) { try r.grow(to: 1200) }
        #expect(r.bytes == 900)
        r.release()
        r.release()
        #expect(cache.budgetInUse == 0)
    }

    /// A job uses the cached matrix itself (no copy) and pins it: while it runs, the matrix is
    /// neither evicted nor double counted; after it, it is evictable again.
    @Test func jobsPinTheCachedMatrixWithoutCopying() throws {
        let cache = EmbeddingCache(byteBudget: 1000)
        let stored = matrix(40)   // 640 B
        cache.store("e", matrix: stored, ticket: cache.nextTicket())
        var loads = 0
        try cache.withMatrix(for: "e", bytes: 640, wait: 0, load: { loads += 1; return matrix(40) }) { m, loaded in
            #expect(m === stored && !loaded)
            #expect(cache.budgetInUse == 640)
            // The pinned matrix cannot make room for another 640 B.
            #expect(throws: MemoryBudgetError.self) { try cache.reserve(640) }
            cache.invalidate("e")   // a re-upload meanwhile: still counted while the job runs
            #expect(cache.budgetInUse == 640)
        }
        #expect(loads == 0 && cache.budgetInUse == 0)
        // A miss loads within the budget and caches the result.
        try cache.withMatrix(for: "e", bytes: 640, wait: 0, load: { loads += 1; return matrix(40) }) { _, loaded in
            #expect(loaded && cache.budgetInUse == 640)
        }
        #expect(loads == 1 && cache.contains("e") && cache.budgetInUse == 640)
        // Larger than the budget: refused before loading.
        #expect(throws: MemoryBudgetError.exceedsBudget(needed: 1600, budget: 1000)) {
            try cache.withMatrix(for: "big", bytes: 1600, wait: 0, load: { loads += 1; return matrix(100) }) { _, _ in }
        }
        #expect(loads == 1)
    }

    /// An upload to a dataset with samples is refused as soon as the header gives the
    /// dimension (n × d × 4 > budget): 413 `EMBEDDING_TOO_LARGE`, JSON body, nothing stored.
    @Test func uploadToADatasetWithSamplesAnswers413() throws {
        let n = 40, d = 3   // 480 B
        let f = try JobsHTTPFixture.make(samples: n, memoryBudget: 400)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d, seed: 3)
        let csv = embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) })
        for asFile in [false, true] {
            let (eid, put) = try f.upload(csv, name: "e\(asFile)", asFile: asFile)
            #expect(put.status == 413, "\(put.text)")
            #expect(put.errorCode == "EMBEDDING_TOO_LARGE")
            let message = put.json["message"]?.stringValue ?? ""
            #expect(message.contains("480 B") && message.contains("memory budget") && message.contains("nothing was stored"), "\(message)")
            #expect(try f.embeddings().first { $0.id == eid }?.isProcessed == false)
        }
        #expect(f.t.app.jobs.cache.budgetInUse == 0)
        // The same CSV fits a larger budget.
        let g = try JobsHTTPFixture.make(samples: n, memoryBudget: 480)
        defer { g.stop() }
        #expect(try g.upload(csv).1.status == 200)
    }

    /// An upload that creates the samples (empty dataset) is refused once the rows parsed so far
    /// outgrow the budget, and creates no sample.
    @Test func uploadCreatingSamplesAnswers413AndCreatesNothing() throws {
        let n = 2000, d = 8   // 64 000 B
        let f = try JobsHTTPFixture.make(samples: 0, initialTag: false, memoryBudget: 32_000)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d, seed: 4)
        let csv = embeddingCSV((0 ..< n).map { ("new_\($0).jpg", Array(pts[($0 * d) ..< ($0 * d + d)])) })
        let (_, put) = try f.upload(csv, asFile: true)
        #expect(put.status == 413, "\(put.text)")
        #expect(put.errorCode == "EMBEDDING_TOO_LARGE")
        let count = try f.t.app.database.read { conn in try DatasetStore.sampleCount(id: f.datasetId, conn) }
        #expect(count == 0)
        #expect(f.t.app.jobs.cache.budgetInUse == 0)
    }

    /// While other work holds the budget, an upload that would fit answers 503 with
    /// `Retry-After`, and succeeds once the budget is free again.
    @Test func uploadWhileTheBudgetIsHeldAnswers503() throws {
        let n = 30, d = 3   // 360 B
        let f = try JobsHTTPFixture.make(samples: n, memoryBudget: 500)
        defer { f.stop() }
        let pts = testPoints(n: n, d: d, seed: 5)
        let csv = embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) })
        let held = try f.t.app.jobs.cache.reserve(300)
        let (eid, put) = try f.upload(csv)
        #expect(put.status == 503, "\(put.text)")
        #expect(put.errorCode == "SERVICE_UNAVAILABLE")
        #expect(put.response.headers["Retry-After"] != nil)
        #expect(try f.embeddings().first { $0.id == eid }?.isProcessed == false)
        held.release()
        let (eid2, put2) = try f.upload(csv, name: "again")
        #expect(put2.status == 200, "\(put2.text)")
        #expect(f.t.app.jobs.cache.contains(eid2) && f.t.app.jobs.cache.budgetInUse == 360)
    }

    /// A stored matrix larger than the budget (the server restarted with a smaller one) fails
    /// the job with a message, without loading it.
    @Test func jobOnAMatrixAboveTheBudgetFailsWithAMessage() throws {
        let n = 50, d = 4   // 800 B
        let r = JobsRunnerTests()
        var s = try r.setup(n: n, d: d)
        defer { s.f.cleanup() }
        s.cache = EmbeddingCache(byteBudget: 799)
        let runner = s.runner()
        try runner.start()
        defer { runner.stop() }
        let id = try r.enqueue(s, r.request("too-big", "CORESET", n: 5))
        runner.kick()
        let job = try r.wait(s, id)
        #expect(job.status == .failed)
        let error = job.error ?? ""
        #expect(error.contains("memory budget") && error.contains("800 B") && error.contains("memory_budget"), "\(error)")
        #expect(s.cache.budgetInUse == 0 && s.cache.statistics.misses == 1)
    }
}
