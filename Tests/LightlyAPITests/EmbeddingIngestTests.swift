#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
@testable import LightlyAPI
import LightlyCore
import LightlyStorage
import Testing

/// Storage-level tests of `EmbeddingIngest` (no HTTP): validation, ordering, atomicity.
@Suite struct EmbeddingIngestTests {
    func ingest(_ f: JobsFixture, _ csv: String, embeddingId: String) throws -> EmbeddingIngestOutcome {
        return try Array(csv.utf8).withUnsafeBytes { raw in
            try EmbeddingIngest.ingest(raw, datasetId: f.datasetId, embeddingId: embeddingId, database: f.db, now: 10) { _, conn in
                let id = ObjectID.generate(seconds: 1)
                try conn.run("INSERT INTO blobs(id, dataset_id, kind, size, created_at) VALUES (?, ?, 'csv', 0, 0)", id, f.datasetId)
                return id
            }
        }
    }

    func newEmbedding(_ f: JobsFixture, _ name: String = "emb") throws -> EmbeddingRecord {
        try f.db.write { conn in try EmbeddingStore.create(datasetId: f.datasetId, name: name, now: 5, conn) }
    }

    @Test func shuffledRowsAreStoredInMappingOrder() throws {
        let n = 7, d = 3
        let f = try JobsFixture.make(samples: n)
        defer { f.cleanup() }
        let pts = testPoints(n: n, d: d)
        let order = [3, 0, 6, 2, 5, 1, 4]
        let csv = embeddingCSV(order.map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) })
        let e = try newEmbedding(f)
        let out = try ingest(f, csv, embeddingId: e.id)
        #expect(out.rows == n && out.dimension == d && out.createdSamples == 0)
        let m = try f.db.read { conn in try EmbeddingStore.loadMatrix(embeddingId: e.id, rows: n, dimension: d, conn) }
        for i in 0 ..< n { #expect(m.row(i) == Array(pts[(i * d) ..< (i * d + d)])) }
        let stored = try f.db.read { conn in try EmbeddingStore.get(id: e.id, conn) }
        #expect(stored?.isProcessed == true && stored?.rowCount == n && stored?.dimension == d && stored?.csvBlobId == out.csvBlobId)
    }

    @Test(arguments: [
        ("wrong header", "name,embedding_0\nimg_000.jpg,1\n", "filenames"),
        ("ragged row", "filenames,embedding_0,embedding_1\nimg_000.jpg,1,2\nimg_001.jpg,1\nimg_002.jpg,1,2\n", "row 2"),
        ("NaN", "filenames,embedding_0\nimg_000.jpg,1\nimg_001.jpg,nan\nimg_002.jpg,1\n", "row 2"),
        ("unknown filename", "filenames,embedding_0\nimg_000.jpg,1\nnope.jpg,1\nimg_002.jpg,1\n", "row 2"),
        ("duplicate filename", "filenames,embedding_0\nimg_000.jpg,1\nimg_000.jpg,1\nimg_002.jpg,1\n", "row 2"),
        ("missing filename", "filenames,embedding_0\nimg_000.jpg,1\nimg_002.jpg,1\n", "img_001.jpg"),
        ("dimension change", "filenames,embedding_0,embedding_1\nimg_000.jpg,1,2\nimg_001.jpg,1,2,3\nimg_002.jpg,1,2\n", "row 2"),
        ("truncated", "filenames,embedding_0,embedding_1\nimg_000.jpg,1,2\nimg_001.jpg,1", "row 2"),
        ("empty", "", "empty"),
        ("header only", "filenames,embedding_0\n", "no rows"),
    ])
    func badCSVChangesNothing(_ c: (String, String, String)) throws {
        let f = try JobsFixture.make(samples: 3)
        defer { f.cleanup() }
        // A previous, valid embedding must survive untouched.
        let good = try newEmbedding(f, "good")
        _ = try ingest(f, embeddingCSV((0 ..< 3).map { (JobsFixture.name($0), [Float($0), 1]) }), embeddingId: good.id)
        let target = try newEmbedding(f, "bad")
        let error = #expect(throws: EmbeddingIngestError.self) { try ingest(f, c.1, embeddingId: target.id) }
        guard case .invalid(let message)? = error else { Issue.record("\(c.0): \(String(describing: error))"); return }
        #expect(message.contains(c.2), "\(c.0): \(message)")
        let (bad, old, samples) = try f.db.read { conn in
            (try EmbeddingStore.get(id: target.id, conn), try EmbeddingStore.get(id: good.id, conn),
             try conn.queryOne("SELECT count(*) FROM samples")?.int(0))
        }
        #expect(bad?.isProcessed == false && bad?.rowCount == nil, "\(c.0)")
        #expect(samples == 3)
        #expect(old?.isProcessed == true)
        let m = try f.db.read { conn in try EmbeddingStore.loadMatrix(embeddingId: good.id, rows: 3, dimension: 2, conn) }
        #expect(m.row(2) == [2, 1])
    }

    @Test func badCSVOnEmptyDatasetCreatesNoSamples() throws {
        let f = try JobsFixture.make(samples: 0, initialTag: false)
        defer { f.cleanup() }
        let e = try newEmbedding(f)
        #expect(throws: EmbeddingIngestError.self) {
            try ingest(f, "filenames,embedding_0\na.jpg,1\nb.jpg,inf\n", embeddingId: e.id)
        }
        #expect(throws: EmbeddingIngestError.self) {
            try ingest(f, "filenames,embedding_0\na.jpg,1\na.jpg,2\n", embeddingId: e.id)
        }
        let count = try f.db.read { conn in try conn.queryOne("SELECT count(*) FROM samples")?.int(0) }
        #expect(count == 0)
    }

    @Test func csvCreatesSamplesOnEmptyDataset() throws {
        let f = try JobsFixture.make(samples: 0, initialTag: false)
        defer { f.cleanup() }
        let e = try newEmbedding(f)
        let names = ["z.jpg", "sub/a.jpg", "m,1.jpg"]
        let csv = "filenames,embedding_0,embedding_1\r\nz.jpg,1,2\r\nsub/a.jpg,3,4\r\n\"m,1.jpg\",5,6\r\n"
        let out = try ingest(f, csv, embeddingId: e.id)
        #expect(out.createdSamples == 3)
        let (stored, n) = try f.db.read { conn in
            (try conn.query("SELECT file_name, meta_data FROM samples WHERE dataset_id = ? ORDER BY idx", f.datasetId)
                .map { (try $0.string(0), try $0.string(1)) },
             try conn.queryOne("SELECT n_samples FROM datasets WHERE id = ?", f.datasetId)?.int(0))
        }
        #expect(stored.map(\.0) == names)
        #expect(stored.allSatisfy { $0.1 == "{}" })
        #expect(n == 3)
        let m = try f.db.read { conn in try EmbeddingStore.loadMatrix(embeddingId: e.id, rows: 3, dimension: 2, conn) }
        #expect(m.row(2) == [5, 6])
        // The dataset is immediately usable by an agent: initial-tag over all samples, imgType meta.
        let (tags, imgType) = try f.db.read { conn in
            (try conn.query("SELECT name, bitmask, tot_size, prev_tag_id FROM tags WHERE dataset_id = ?", f.datasetId)
                .map { "\(try $0.string(0)) \(Crypto.hex(try $0.blob(1)).uppercased()) \(try $0.int(2)) \($0[3] == .null)" },
             try conn.queryOne("SELECT img_type FROM datasets WHERE id = ?", f.datasetId)?.stringOrNil(0))
        }
        #expect(tags == ["initial-tag 0700000000000000 3 true"])
        #expect(imgType == "meta")
    }

    @Test func repeatedPutOverwrites() throws {
        let f = try JobsFixture.make(samples: 2)
        defer { f.cleanup() }
        let e = try newEmbedding(f)
        let first = try ingest(f, "filenames,embedding_0\nimg_000.jpg,1\nimg_001.jpg,2\n", embeddingId: e.id)
        let second = try ingest(f, "filenames,embedding_0,embedding_1\nimg_001.jpg,3,4\nimg_000.jpg,5,6\n", embeddingId: e.id)
        #expect(second.replacedCSVBlobId == first.csvBlobId)
        let m = try f.db.read { conn in try EmbeddingStore.loadMatrix(embeddingId: e.id, rows: 2, dimension: 2, conn) }
        #expect(m.row(0) == [5, 6] && m.row(1) == [3, 4])
    }

    /// A file streamed through a small window: rows have been handed over before the bad last
    /// row is read, and still nothing may be stored.
    func streamed(_ f: JobsFixture, _ csv: String, embeddingId: String) throws -> EmbeddingIngestOutcome {
        let path = f.dir + "/upload-\(UInt32.random(in: 0 ... .max)).csv"
        try Data(csv.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try EmbeddingIngest.ingest(source: .file(path: path), datasetId: f.datasetId, embeddingId: embeddingId,
                                          database: f.db, parseThreads: 2, now: 10, scratchDirectory: f.dir,
                                          windowBytes: 4096) { blob, conn in
            if case .reorderedFile(let p) = blob { #expect(FileManager.default.fileExists(atPath: p)) }
            let id = ObjectID.generate(seconds: 1)
            try conn.run("INSERT INTO blobs(id, dataset_id, kind, size, created_at) VALUES (?, ?, 'csv', 0, 0)", id, f.datasetId)
            return id
        }
    }

    @Test(arguments: [
        ("bad number", "img_2999.jpg,1,x,3,4,0\n", "row 3000 (line 3001): column embedding_1"),
        ("not finite", "img_2999.jpg,1,2,inf,4,0\n", "row 3000 (line 3001)"),
        ("ragged", "img_2999.jpg,1,2,3,0\n", "row 3000 (line 3001)"),
        ("duplicate", "img_005.jpg,1,2,3,4,0\n", "row 3000 (line 3001): duplicate filename \"img_005.jpg\" (also in row "),
        ("unknown", "nope.jpg,1,2,3,4,0\n", "row 3000: filename \"nope.jpg\" is not a sample"),
        ("missing", "", "filename \"img_2999.jpg\" is missing"),
    ])
    func badLastRowOfALargeStreamedFileChangesNothing(_ c: (String, String, String)) throws {
        let n = 3000, d = 4
        let f = try JobsFixture.make(samples: n)
        defer { f.cleanup() }
        let pts = testPoints(n: n, d: d, seed: 3)
        // Shuffled (the mapping path), all good rows but the last.
        let order = (0 ..< n - 1).map { ($0 * 7) % (n - 1) }
        let csv = embeddingCSV(order.map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) }) + c.1
        let e = try newEmbedding(f)
        let error = #expect(throws: EmbeddingIngestError.self) { try streamed(f, csv, embeddingId: e.id) }
        guard case .invalid(let message)? = error else { Issue.record("\(c.0): \(String(describing: error))"); return }
        #expect(message.contains(c.2), "\(c.0): \(message)")
        let stored = try f.db.read { conn in try EmbeddingStore.get(id: e.id, conn) }
        #expect(stored?.isProcessed == false && stored?.csvBlobId == nil)
        let chunks = try f.db.read { conn in try conn.queryOne("SELECT count(*) FROM embedding_chunks WHERE embedding_id = ?", e.id)?.int(0) }
        #expect(chunks == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: f.dir).filter { $0.hasPrefix("embedding-") }
        #expect(leftovers.isEmpty, "reordered CSV left behind: \(leftovers)")
    }

    @Test func largeStreamedFileIsStoredInMappingOrder() throws {
        let n = 3000, d = 4
        let f = try JobsFixture.make(samples: n)
        defer { f.cleanup() }
        let pts = testPoints(n: n, d: d, seed: 3)
        let order = (0 ..< n).map { ($0 * 7) % n }
        let csv = embeddingCSV(order.map { (JobsFixture.name($0), Array(pts[($0 * d) ..< ($0 * d + d)])) })
        let e = try newEmbedding(f)
        let out = try streamed(f, csv, embeddingId: e.id)
        #expect(out.rows == n && out.dimension == d)
        let m = try f.db.read { conn in try EmbeddingStore.loadMatrix(embeddingId: e.id, rows: n, dimension: d, conn) }
        for i in 0 ..< n { #expect(m.row(i) == Array(pts[(i * d) ..< (i * d + d)])) }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: f.dir).filter { $0.hasPrefix("embedding-") }
        #expect(leftovers.isEmpty)
    }

    @Test func badLastRowOnEmptyDatasetCreatesNoSamples() throws {
        let f = try JobsFixture.make(samples: 0, initialTag: false)
        defer { f.cleanup() }
        let n = 3000
        var csv = embeddingCSV((0 ..< n - 1).map { ("f\($0).jpg", [Float($0), 1, 2]) })
        csv += "last.jpg,1,2,3,4,0\n"
        let e = try newEmbedding(f)
        #expect(throws: EmbeddingIngestError.invalid("row 3000 (line 3001): more than the header's columns (1 extra)")) {
            try streamed(f, csv, embeddingId: e.id)
        }
        let count = try f.db.read { conn in try conn.queryOne("SELECT count(*) FROM samples")?.int(0) }
        #expect(count == 0)
        // The same file without the bad row creates the samples in CSV order.
        let out = try streamed(f, embeddingCSV((0 ..< n - 1).map { ("f\($0).jpg", [Float($0), 1, 2]) }), embeddingId: e.id)
        #expect(out.createdSamples == n - 1)
        let m = try f.db.read { conn in try EmbeddingStore.loadMatrix(embeddingId: e.id, rows: n - 1, dimension: 3, conn) }
        #expect(m.row(2998) == [2998, 1, 2])
    }

    @Test func largeMatrixSpansSeveralChunks() throws {
        let n = 3000, d = 128        // 1.5 MiB: two chunks
        let f = try JobsFixture.make(samples: n)
        defer { f.cleanup() }
        let pts = testPoints(n: n, d: d, seed: 7)
        let e = try newEmbedding(f)
        try f.db.write { conn in
            try EmbeddingStore.storeMatrix(embeddingId: e.id, rows: n, dimension: d, conn) { i, dst in
                for j in 0 ..< d { dst[j] = pts[i * d + j] }
            }
        }
        let chunks = try f.db.read { conn in try conn.queryOne("SELECT count(*) FROM embedding_chunks WHERE embedding_id = ?", e.id)?.int(0) }
        #expect(chunks == 2)
        let m = try f.db.read { conn in try EmbeddingStore.loadMatrix(embeddingId: e.id, rows: n, dimension: d, conn) }
        m.withUnsafeMutableFloats { #expect(Array($0) == pts) }
    }

    /// The multi-row INSERT of an upload's first samples writes exactly one row per name, in
    /// order, with ascending valid ids, for counts on both sides of the batch size.
    @Test(arguments: [0, 1, SampleStore.insertBatchRows - 1, SampleStore.insertBatchRows,
                      SampleStore.insertBatchRows + 1, 2 * SampleStore.insertBatchRows + 3])
    func batchedFirstSamplesAreTheExpectedRows(count n: Int) throws {
        let f = try JobsFixture.make(samples: 0, initialTag: false)
        defer { f.cleanup() }
        let names = (0 ..< n).map { "img-\($0)-\(n).png" }
        let now: Int64 = 1_765_000_000_123
        try f.db.write { conn in try SampleStore.insertFirst(fileNames: names, datasetId: f.datasetId, now: now, conn) }
        let rows = try f.db.read { conn in
            try conn.query("""
                SELECT id, dataset_id, idx, file_name, thumb_name, meta_data, size_in_bytes, created_at, last_modified_at
                FROM samples ORDER BY idx
                """)
        }
        #expect(rows.count == n)
        var previousId = ""
        for (i, r) in rows.enumerated() {
            let id = try r.string(0)
            #expect(ObjectID.isValid(id))
            #expect(id > previousId, "ids ascend in row order")
            previousId = id
            #expect(try r.string(1) == f.datasetId)
            #expect(try r.int(2) == i)
            #expect(try r.string(3) == names[i])
            #expect(try r.stringOrNil(4) == nil)
            #expect(try r.string(5) == "{}")
            #expect(try r.int(6) == 0)
            #expect(try r.int(7) == Int(now))
            #expect(try r.int(8) == Int(now))
        }
    }
}
