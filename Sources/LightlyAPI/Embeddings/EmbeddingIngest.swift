import LightlyCore
import LightlyStorage

/// Why an embedding CSV upload was refused: every case leaves the stored data unchanged.
public enum EmbeddingIngestError: Error, Equatable, CustomStringConvertible {
    /// The CSV is malformed or does not match the dataset (400 `EMBEDDING_INVALID`). The
    /// message names the row and the reason, e.g. `row 17 (line 18): … is not a number`.
    case invalid(String)
    /// The embedding the URL was minted for no longer exists (404 `EMBEDDING_UNKNOWN`).
    case unknownEmbedding(String)

    public var description: String {
        switch self {
        case .invalid(let m): m
        case .unknownEmbedding(let id): "embedding \(id) not found"
        }
    }
}

/// What a successful upload stored.
public struct EmbeddingIngestOutcome: Sendable, Equatable {
    public var rows: Int
    public var dimension: Int
    /// Samples created because the dataset had none (0 otherwise).
    public var createdSamples: Int
    /// The CSV blob that the new one replaced; delete its file after the commit.
    public var replacedCSVBlobId: String?
    /// The new CSV blob.
    public var csvBlobId: String
}

/// The bytes to keep for `readCSVUrl` (spec §5.7: same header and columns, mapping order).
public enum EmbeddingCSVBlob {
    /// The upload was already in mapping order: keep it byte for byte.
    case verbatim(UnsafeRawBufferPointer)
    /// The upload was shuffled: this is it re-emitted in mapping order.
    case reordered([UInt8])
}

/// Stores an uploaded embedding CSV (the signed PUT of spec §5.7, §6.4).
///
/// The whole file is validated before anything is stored: the CSV itself (header, one
/// dimension, finite floats, unique filenames: `EmbeddingCSV.parse`), then the filenames
/// against the dataset (each sample exactly once). Rows are reordered into mapping order and
/// written as float32 chunks, the embedding is marked processed, and the CSV is kept for
/// `readCSVUrl`, all in **one** write transaction. Any violation throws before the
/// transaction writes, or rolls it back, so samples, the embedding row and an earlier
/// matrix stay as they were.
///
/// **Empty datasets** (server choice): when the dataset has no samples yet, the CSV's
/// filenames become its samples, in CSV order, with `metaData` `{}` and size 0, and the
/// dataset gets its `initial-tag` over all of them (`imgType` `meta`). The mapping order is
/// then the CSV order. This serves users who keep their images offline: embeddings alone make
/// a dataset that the agent can select from.
public enum EmbeddingIngest {
    /// - Parameters:
    ///   - bytes: the whole uploaded file.
    ///   - datasetId, embeddingId: what the signed URL was minted for.
    ///   - maxSamples: the dataset quota (only checked when samples are created).
    ///   - storeCSV: persists the CSV blob inside the transaction and returns its blob id
    ///     (it must insert the `blobs` row with `conn`).
    /// - Throws: ``EmbeddingIngestError``, or storage errors.
    /// - Complexity: O(file size + n·d).
    public static func ingest(_ bytes: UnsafeRawBufferPointer, datasetId: String, embeddingId: String,
                              database: Database, limits: EmbeddingCSV.Limits = .default, parseThreads: Int = 1,
                              maxSamples: Int = .max, now: Int,
                              storeCSV: (EmbeddingCSVBlob, Connection) throws -> String) throws -> EmbeddingIngestOutcome {
        let parsed: ParsedEmbeddingCSV
        do {
            parsed = try EmbeddingCSV.parse(bytes, limits: limits, threads: parseThreads)
        } catch {
            throw EmbeddingIngestError.invalid(error.message)
        }
        let n = parsed.rowCount, d = parsed.dimension
        guard n > 0 else { throw EmbeddingIngestError.invalid("the embedding CSV has a header but no rows") }

        return try database.write { conn in
            guard let embedding = try EmbeddingStore.get(id: embeddingId, datasetId: datasetId, conn) else {
                throw EmbeddingIngestError.unknownEmbedding(embeddingId)
            }
            let samples = try conn.query("SELECT file_name FROM samples WHERE dataset_id = ? ORDER BY idx", datasetId)
                .map { try $0.string(0) }
            // perm[mapping index] = CSV row (0-based).
            var perm: [Int]
            var created = 0
            if samples.isEmpty {
                // Tags of an empty dataset have totSize 0; new samples would break that invariant.
                if try conn.queryOne("SELECT 1 FROM tags WHERE dataset_id = ?", datasetId) != nil {
                    throw EmbeddingIngestError.invalid("the dataset has tags but no samples; upload the samples before the embeddings")
                }
                guard n <= maxSamples else {
                    throw EmbeddingIngestError.invalid("the CSV has \(n) rows but a dataset may hold at most \(maxSamples) samples")
                }
                try createSamples(parsed.filenames, datasetId: datasetId, now: now, conn)
                // …and the initial tag over all of them (imgType `meta`: there are no images), so the
                // dataset is ready for an ActiveLearningAgent straight away.
                try LightlyApplication.insertTag(conn: conn, datasetId: datasetId, name: initialTagName, prevTagId: nil,
                                                 bitmask: .full(count: n), totSize: n, creator: "USER_PIP", now: Int64(now))
                try conn.run("UPDATE datasets SET img_type = 'meta' WHERE id = ?", datasetId)
                created = n
                perm = Array(0 ..< n)
            } else {
                perm = try mappingPermutation(csv: parsed.filenames, samples: samples)
            }
            try parsed.values.withUnsafeBufferPointer { values in
                try EmbeddingStore.storeMatrix(embeddingId: embeddingId, rows: n, dimension: d, conn) { i, dst in
                    let src = perm[i] * d
                    for j in 0 ..< d { dst[j] = values[src + j] }
                }
            }
            let inOrder = perm.indices.allSatisfy { perm[$0] == $0 }
            let blob: EmbeddingCSVBlob
            if inOrder {
                blob = .verbatim(bytes)
            } else {
                // Same header, columns (extra ones too) and values, rows in mapping order.
                do { blob = .reordered(try parsed.reordered(toMapping: samples).csvBytes()) }
                catch { throw EmbeddingIngestError.invalid("\(error)") }
            }
            let blobId = try storeCSV(blob, conn)
            try conn.run("UPDATE embeddings SET csv_blob_id = ? WHERE id = ?", blobId, embeddingId)
            try conn.run("UPDATE datasets SET last_modified_at = max(last_modified_at, ?) WHERE id = ?", now, datasetId)
            return EmbeddingIngestOutcome(rows: n, dimension: d, createdSamples: created,
                                          replacedCSVBlobId: embedding.csvBlobId, csvBlobId: blobId)
        }
    }

    /// Matches CSV filenames with the dataset's samples (each exactly once).
    /// - Returns: `perm[i]` = the CSV row (0-based) of sample `i`.
    /// - Throws: ``EmbeddingIngestError/invalid(_:)`` naming the first offending row
    ///   (rows are 1-based data rows, the header being row 0, like `EmbeddingCSV`).
    static func mappingPermutation(csv: [String], samples: [String]) throws -> [Int] {
        var index = [String: Int](minimumCapacity: samples.count)
        for (i, name) in samples.enumerated() { index[name] = i }
        var perm = [Int](repeating: -1, count: samples.count)
        for (r, name) in csv.enumerated() {
            guard let i = index[name] else {
                throw EmbeddingIngestError.invalid("row \(r + 1): filename \"\(name)\" is not a sample of this dataset")
            }
            guard perm[i] < 0 else {
                throw EmbeddingIngestError.invalid("row \(r + 1): duplicate filename \"\(name)\" (first in row \(perm[i] + 1))")
            }
            perm[i] = r
        }
        if let missing = perm.firstIndex(of: -1) {
            throw EmbeddingIngestError.invalid(
                "filename \"\(samples[missing])\" is missing: the CSV has \(csv.count) rows but the dataset has \(samples.count) samples, and every sample needs exactly one row")
        }
        return perm
    }

    /// Creates one sample per filename, in order, as the dataset's first samples.
    static func createSamples(_ names: [String], datasetId: String, now: Int, _ conn: Connection) throws {
        let stmt = try conn.prepare("""
            INSERT INTO samples(id, dataset_id, idx, file_name, meta_data, size_in_bytes, created_at, last_modified_at)
            VALUES (?, ?, ?, ?, '{}', 0, ?, ?)
            """)
        defer { stmt.reset() }
        let seconds = UInt32(truncatingIfNeeded: now / 1000)
        var rng = SystemRandomNumberGenerator()
        for (i, name) in names.enumerated() {
            stmt.reset()
            try stmt.bind([.text(ObjectID.generate(seconds: seconds, using: &rng)), .text(datasetId), .integer(Int64(i)),
                           .text(name), .integer(Int64(now)), .integer(Int64(now))])
            while try stmt.step() {}
        }
        stmt.reset()
        try conn.run("UPDATE datasets SET n_samples = ?, last_modified_at = max(last_modified_at, ?) WHERE id = ?",
                     names.count, now, datasetId)
    }
}

