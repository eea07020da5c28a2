@testable import LightlyAPI
import LightlyCore
import LightlyWire
import Testing

@Suite struct EmbeddingCacheTests {
    func matrix(_ rows: Int) -> EmbeddingMatrix { EmbeddingMatrix(rows: rows, dimension: 4) }   // 16 B per row

    @Test func hitsMissesAndLRUEvictionByBytes() throws {
        let cache = EmbeddingCache(byteBudget: 1000)
        var loads = 0
        func get(_ id: String, rows: Int) -> EmbeddingMatrix { cache.matrix(for: id) { loads += 1; return matrix(rows) } }
        let a = get("a", rows: 20)          // 320 B
        #expect(get("a", rows: 20) === a && loads == 1)
        _ = get("b", rows: 20)
        _ = get("a", rows: 20)              // a is now the most recent
        _ = get("c", rows: 30)              // 480 B: evicts b (least recently used)
        #expect(cache.contains("a") && !cache.contains("b") && cache.contains("c"))
        #expect(cache.statistics.bytes == 800 && cache.statistics.hits == 2)
        _ = get("huge", rows: 100)          // larger than the budget: returned, not kept
        #expect(!cache.contains("huge") && cache.contains("a"))
    }

    /// A freshly stored matrix replaces the cached one; an older store that finishes later
    /// (two uploads to one embedding) is ignored, and a load in flight is discarded.
    @Test func storeKeepsTheLatestCommittedMatrix() throws {
        let cache = EmbeddingCache(byteBudget: 1 << 20)
        let first = cache.nextTicket(), second = cache.nextTicket()
        let older = matrix(1), newer = matrix(2)
        cache.store("e", matrix: newer, ticket: second)
        cache.store("e", matrix: older, ticket: first)
        #expect(cache.matrix(for: "e") { matrix(9) } === newer)
        // A load that started before a store must not replace the stored matrix.
        let latest = matrix(3)
        _ = cache.matrix(for: "f") {
            cache.store("f", matrix: latest, ticket: cache.nextTicket())
            return matrix(4)
        }
        #expect(cache.matrix(for: "f") { matrix(9) } === latest)
        // Larger than the budget: not kept, and no stale copy stays either.
        let small = EmbeddingCache(byteBudget: 64)
        _ = small.matrix(for: "g") { matrix(2) }
        small.store("g", matrix: matrix(100), ticket: small.nextTicket())
        #expect(!small.contains("g"))
    }

    @Test func invalidateDropsAndDiscardsInFlightLoads() throws {
        let cache = EmbeddingCache(byteBudget: 1 << 20)
        _ = cache.matrix(for: "e") { matrix(1) }
        cache.invalidate("e")
        #expect(!cache.contains("e"))
        // A load that started before an invalidation must not be cached afterwards.
        _ = cache.matrix(for: "e") {
            cache.invalidate("e")
            return matrix(2)
        }
        #expect(!cache.contains("e"))
        var loads = 0
        _ = cache.matrix(for: "e") { loads += 1; return matrix(3) }
        _ = cache.matrix(for: "e") { loads += 1; return matrix(3) }
        #expect(loads == 1)
    }

    /// Re-uploading an embedding's CSV must make the next sampling job use the new matrix.
    @Test func reuploadInvalidatesTheCachedMatrix() throws {
        let n = 30, d = 3
        let f = try JobsHTTPFixture.make(samples: n)
        defer { f.stop() }
        func csv(_ pts: [Float]) -> String { embeddingCSV((0 ..< n).map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }) }
        let a = testPoints(n: n, d: d, seed: 1), b = testPoints(n: n, d: d, seed: 2)
        let (eid, put) = try f.upload(csv(a))
        #expect(put.status == 200)
        func coreset(_ name: String) throws -> [Int] {
            let r = try f.sample(eid, #"{"newTagName": "\#(name)", "method": "CORESET", "config": {"stoppingCondition": {"nSamples": 6, "minDistance": -1}}}"#)
            let s = try f.poll(try r.decode(AsyncTaskData.self).jobId)
            return BitMask(hex: try f.tag(try #require(s.result?.data)).bitMaskData)?.indices ?? []
        }
        #expect(try coreset("first") == bruteForceKCenter(points: a, n: n, d: d, k: 6).sorted())
        #expect(f.t.app.jobs.cache.contains(eid))
        // Overwrite through the same signed URL kind (a fresh URL for the same embedding).
        let url = f.t.app.signer.url(base: "http://testhost:8080", method: .PUT,
                                     target: SignedTarget(kind: "csv", datasetId: f.datasetId, objectId: eid, variant: "csv"), ttl: 60)
        #expect(try f.t.call(.PUT, JobsHTTPFixture.target(of: url), body: .bytes(.init(csv(b).utf8))).status == 200)
        // The cache now holds the new matrix (the upload stores it), not the old one.
        #expect(f.t.app.jobs.cache.contains(eid))
        #expect(try coreset("second") == bruteForceKCenter(points: b, n: n, d: d, k: 6).sorted())
    }
}
