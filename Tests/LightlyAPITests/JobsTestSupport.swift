#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import LightlyAPI
import LightlyCore
import LightlyStorage
import PostgresTestSupport

/// A migrated database in a fresh temp directory with one user, one dataset, `n` samples
/// named `img_000.jpg`… and (optionally) the initial tag. Storage-level fixture for the job,
/// embedding and score tests.
struct JobsFixture {
    let dir: String
    let db: any SQLDatabase
    /// Keeps the store open for the fixture's life.
    let store: TestStore
    let userId = "aaaaaaaaaaaaaaaaaaaaaaaa"
    let datasetId = "bbbbbbbbbbbbbbbbbbbbbbbb"
    var initialTagId: String?

    static func make(samples n: Int, initialTag: Bool = true) throws -> JobsFixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try TestStore.make(sqlitePath: dir + "/test.sqlite3")
        let db = store.database
        var f = JobsFixture(dir: dir, db: db, store: store)
        try db.write { conn in
            try conn.run("INSERT INTO users(id, name, created_at) VALUES (?, 'alice', 0)", f.userId)
            try conn.run("INSERT INTO datasets(id, user_id, name, created_at, last_modified_at) VALUES (?, ?, 'ds', 0, 0)", f.datasetId, f.userId)
            try EmbeddingIngest.createSamples((0 ..< n).map(JobsFixture.name), datasetId: f.datasetId, now: 1, conn)
        }
        if initialTag {
            f.initialTagId = try f.addTag("initial-tag", bits: BitMask.full(count: n), n: n)
        }
        return f
    }

    static func name(_ i: Int) -> String { i < 1000 ? "img_\(String(i + 1000).dropFirst()).jpg" : "img_\(i).jpg" }

    func addTag(_ name: String, bits: BitMask, n: Int) throws -> String {
        try db.write { conn in
            try LightlyApplication.insertTag(conn: conn, datasetId: datasetId, name: name, prevTagId: nil,
                                             bitmask: bits, totSize: n, creator: "USER_PIP", now: 2)
        }
    }

    func tagBits(_ id: String) throws -> BitMask {
        try db.read { conn in
            BitMask(storageBytes: try conn.queryOne("SELECT bitmask FROM tags WHERE id = ?", id)?.blob(0) ?? [])
        }
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}

/// CSV text for `rows` (filename, values) with the `save_embeddings` header.
func embeddingCSV(_ rows: [(String, [Float])], labels: Bool = true, lineEnding: String = "\n") -> String {
    let d = rows.first?.1.count ?? 0
    var s = "filenames," + (0 ..< d).map { "embedding_\($0)" }.joined(separator: ",") + (labels ? ",labels" : "") + lineEnding
    for (name, v) in rows {
        s += name + "," + v.map { "\($0)" }.joined(separator: ",") + (labels ? ",0" : "") + lineEnding
    }
    return s
}

/// Deterministic pseudo-random points (SplitMix64), row-major n×d in [-1, 1).
func testPoints(n: Int, d: Int, seed: UInt64 = 42) -> [Float] {
    var state = seed
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return (0 ..< n * d).map { _ in Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
}

/// Brute-force greedy k-center (farthest-first) in float32 squared distances, ties to the
/// lowest index, first center = lowest candidate index when `preselected` is empty.
func bruteForceKCenter(points: [Float], n: Int, d: Int, k: Int, preselected: [Int] = []) -> [Int] {
    func d2(_ a: Int, _ b: Int) -> Float {
        var s: Float = 0
        for j in 0 ..< d { let t = points[a * d + j] - points[b * d + j]; s += t * t }
        return s
    }
    var centers = preselected
    var picked: [Int] = []
    let candidates = (0 ..< n).filter { !preselected.contains($0) }
    while centers.count < k && picked.count < candidates.count {
        var best = -1
        var bestDist: Float = -1
        for c in candidates where !picked.contains(c) {
            let m = centers.isEmpty ? Float.infinity : centers.map { d2(c, $0) }.min() ?? .infinity
            if m > bestDist { bestDist = m; best = c }
        }
        picked.append(best)
        centers.append(best)
    }
    return picked
}
