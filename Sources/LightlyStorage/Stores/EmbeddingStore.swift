#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore


/// One row of the `embeddings` table.
public struct EmbeddingRecord: Sendable, Equatable {
    public var id: String
    public var datasetId: String
    /// Creation order within the dataset (the client takes the last one).
    public var seq: Int
    public var name: String
    public var isProcessed: Bool
    public var rowCount: Int?
    public var dimension: Int?
    public var csvBlobId: String?
    public var createdAt: Int
    /// Bumped each time the matrix is stored (migration 0004): a server's cached copy of an
    /// older version is stale.
    public var version: Int = 0
}

/// SQL for embeddings, their float32 chunks and their 2-D projections (migration 0001).
///
/// The matrix is stored row-major in mapping order, split into chunks of whole rows of about
/// ``chunkBytes`` each, as native (little-endian on every supported host) float32. Chunks
/// are written and read without an intermediate copy: `run(_:arguments:blob:at:)` binds the
/// scratch buffer and the cursor's `withBlob` exposes SQLite's page buffer.
public enum EmbeddingStore {
    /// Target size of one `embedding_chunks.data` blob.
    public static let chunkBytes = 1 << 20

    static let columns = "id, dataset_id, seq, name, is_processed, row_count, dim, csv_blob_id, created_at, version"

    static func record(_ r: Row) throws -> EmbeddingRecord {
        EmbeddingRecord(id: try r.string(0), datasetId: try r.string(1), seq: try r.int(2), name: try r.string(3),
                        isProcessed: try r.int(4) != 0, rowCount: try r.intOrNil(5), dimension: try r.intOrNil(6),
                        csvBlobId: try r.stringOrNil(7), createdAt: try r.int(8), version: try r.int(9))
    }

    /// How many embeddings the dataset has.
    public static func count(datasetId: String, _ conn: Connection) throws -> Int {
        try conn.queryOne("SELECT COUNT(*) FROM embeddings WHERE dataset_id = ?", datasetId)?.int(0) ?? 0
    }

    /// Points embedding `embeddingId` at its stored CSV file.
    public static func setCSVBlob(_ blobId: String, embeddingId: String, _ conn: Connection) throws {
        try conn.run("UPDATE embeddings SET csv_blob_id = ? WHERE id = ?", blobId, embeddingId)
    }

    /// All embeddings of a dataset, oldest first (docs/protocol.md §8).
    public static func list(datasetId: String, _ conn: Connection) throws -> [EmbeddingRecord] {
        try conn.query("SELECT \(columns) FROM embeddings WHERE dataset_id = ? ORDER BY seq", datasetId).map(record)
    }

    /// The embedding `id` if it belongs to `datasetId`.
    public static func get(id: String, datasetId: String, _ conn: Connection) throws -> EmbeddingRecord? {
        try conn.queryOne("SELECT \(columns) FROM embeddings WHERE id = ? AND dataset_id = ?", id, datasetId).map(record)
    }

    /// The embedding `id` wherever it lives (jobs and signed URLs carry the dataset separately).
    public static func get(id: String, _ conn: Connection) throws -> EmbeddingRecord? {
        try conn.queryOne("SELECT \(columns) FROM embeddings WHERE id = ?", id).map(record)
    }

    /// Creates an unprocessed embedding named `name` (names may repeat: 1.2.x appends).
    public static func create(datasetId: String, name: String, now: Int, _ conn: Connection) throws -> EmbeddingRecord {
        let seq = (try conn.queryOne("SELECT coalesce(max(seq), 0) + 1 FROM embeddings WHERE dataset_id = ?", datasetId)?.int(0)) ?? 1
        let id = ObjectID.generate(seconds: UInt32(truncatingIfNeeded: now / 1000))
        try conn.run("INSERT INTO embeddings(id, dataset_id, seq, name, is_processed, created_at) VALUES (?, ?, ?, ?, 0, ?)",
                     id, datasetId, seq, name, now)
        return EmbeddingRecord(id: id, datasetId: datasetId, seq: seq, name: name, isProcessed: false,
                               rowCount: nil, dimension: nil, csvBlobId: nil, createdAt: now)
    }

    /// Rows per chunk for dimension `d`: whole rows, about ``chunkBytes`` per chunk.
    public static func rowsPerChunk(dimension d: Int) -> Int { max(1, chunkBytes / max(1, d * 4)) }

    /// Replaces the matrix of `embeddingId` with `rows × dimension` floats. Row `i` (mapping
    /// order) is produced by `fill(i, destination)`, which must write exactly `dimension`
    /// values. Marks the embedding processed. Call inside a write transaction.
    /// - Complexity: O(rows·dimension) with one scratch buffer of ≤ ``chunkBytes``.
    public static func storeMatrix(embeddingId: String, rows: Int, dimension: Int, _ conn: Connection,
                                   fill: (Int, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        try conn.run("DELETE FROM embedding_chunks WHERE embedding_id = ?", embeddingId)
        let per = rowsPerChunk(dimension: dimension)
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, per * dimension))
        defer { scratch.deallocate() }
        var chunk = 0
        var first = 0
        while first < rows {
            let count = min(per, rows - first)
            for r in 0 ..< count {
                fill(first + r, UnsafeMutableBufferPointer(rebasing: scratch[(r * dimension) ..< ((r + 1) * dimension)]))
            }
            try conn.run("INSERT INTO embedding_chunks(embedding_id, chunk, first_row, row_count, data) VALUES (?, ?, ?, ?, ?)",
                         arguments: [.text(embeddingId), .integer(Int64(chunk)), .integer(Int64(first)), .integer(Int64(count)), .null],
                         blob: UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: scratch[0 ..< (count * dimension)])), at: 5)
            chunk += 1
            first += count
        }
        try conn.run("UPDATE embeddings SET is_processed = 1, row_count = ?, dim = ?, version = version + 1 WHERE id = ?",
                     rows, dimension, embeddingId)
        try conn.run("DELETE FROM embeddings_2d WHERE embedding_id = ?", embeddingId)
    }

    /// Loads the stored matrix into a 64-byte aligned ``EmbeddingMatrix``, copying each chunk
    /// straight from SQLite's buffer.
    /// - Throws: `APIError` (500-class, internal) when the chunks do not cover the matrix.
    public static func loadMatrix(embeddingId: String, rows: Int, dimension: Int, _ conn: Connection) throws -> EmbeddingMatrix {
        let matrix = EmbeddingMatrix(rows: rows, dimension: dimension)
        var covered = 0
        try matrix.withUnsafeMutableFloats { dst in
            try conn.withCursor("SELECT first_row, row_count, data FROM embedding_chunks WHERE embedding_id = ? ORDER BY chunk",
                                arguments: [.text(embeddingId)]) { stmt in
                while try stmt.next() {
                    guard case .integer(let first64) = try stmt.value(at: 0), case .integer(let count64) = try stmt.value(at: 1) else {
                        throw EmbeddingStoreError.corrupt(embeddingId, "chunk header")
                    }
                    let first = Int(first64), count = Int(count64)
                    guard first >= 0, count >= 0, first + count <= rows else { throw EmbeddingStoreError.corrupt(embeddingId, "chunk rows") }
                    try stmt.withBlob(at: 2) { raw in
                        guard raw.count == count * dimension * 4 else { throw EmbeddingStoreError.corrupt(embeddingId, "chunk size") }
                        if let base = dst.baseAddress, let src = raw.baseAddress, raw.count > 0 {
                            UnsafeMutableRawPointer(base + first * dimension).copyMemory(from: src, byteCount: raw.count)
                        }
                    }
                    covered += count
                }
            }
        }
        guard covered == rows else { throw EmbeddingStoreError.corrupt(embeddingId, "\(covered) of \(rows) rows stored") }
        return matrix
    }

    /// The stored version of each of `ids` that still exists (a missing id was deleted, e.g.
    /// with its dataset). One query; for checking a server's cached matrices.
    public static func versions(ids: [String], _ conn: Connection) throws -> [String: Int] {
        guard !ids.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        var out: [String: Int] = [:]
        for row in try conn.query("SELECT id, version FROM embeddings WHERE id IN (\(marks))", arguments: ids.map { .text($0) }) {
            out[try row.string(0)] = try row.int(1)
        }
        return out
    }

    // MARK: - 2-D projections


    /// Stores an n×2 projection for `method`, replacing an earlier one.
    public static func store2D(embeddingId: String, method: String, points: [Float], now: Int, _ conn: Connection) throws {
        try points.withUnsafeBytes { raw in
            try conn.run("INSERT INTO embeddings_2d(embedding_id, method, data, created_at) VALUES (?, ?, ?, ?) " +
                         "ON CONFLICT(embedding_id, method) DO UPDATE SET data = excluded.data, created_at = excluded.created_at",
                         arguments: [.text(embeddingId), .text(method), .null, .integer(Int64(now))], blob: raw, at: 3)
        }
    }

    /// The stored projections of an embedding, in method order.
    public static func list2D(embeddingId: String, _ conn: Connection) throws -> [(method: String, points: [Float], createdAt: Int)] {
        try conn.withCursor("SELECT method, created_at, data FROM embeddings_2d WHERE embedding_id = ? ORDER BY created_at, method",
                            arguments: [.text(embeddingId)]) { stmt in
            var out: [(method: String, points: [Float], createdAt: Int)] = []
            while try stmt.next() {
                guard case .text(let method) = try stmt.value(at: 0), case .integer(let created) = try stmt.value(at: 1) else { continue }
                let points = try stmt.withBlob(at: 2) { raw in
                    [Float](unsafeUninitializedCapacity: raw.count / 4) { buf, n in
                        if raw.count >= 4, let base = buf.baseAddress, let src = raw.baseAddress {
                            UnsafeMutableRawPointer(base).copyMemory(from: src, byteCount: (raw.count / 4) * 4)
                        }
                        n = raw.count / 4
                    }
                }
                out.append((method, points, Int(created)))
            }
            return out
        }
    }

    /// Ids of the embeddings of `datasetId` that have at least one 2-D projection.
    public static func idsWith2D(datasetId: String, _ conn: Connection) throws -> Set<String> {
        let rows = try conn.query("SELECT DISTINCT e.id FROM embeddings e JOIN embeddings_2d p ON p.embedding_id = e.id WHERE e.dataset_id = ?", datasetId)
        return Set(try rows.map { try $0.string(0) })
    }
}

/// Stored embedding data that cannot be read back (a bug or a damaged database file).
public enum EmbeddingStoreError: Error, CustomStringConvertible, Equatable {
    case corrupt(String, String)
    public var description: String {
        switch self {
        case .corrupt(let id, let what): "embedding \(id) is damaged: \(what)"
        }
    }
}
