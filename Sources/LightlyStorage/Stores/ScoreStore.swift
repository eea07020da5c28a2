import LightlyCore


/// SQL for the `scores` table: one float64 array per (tag, score type), replaced by a later
/// upload with the same key (docs/protocol.md §9).
public enum ScoreStore {
    /// Validates an uploaded array against the dataset size `n` (docs/selection.md §7 rule 3: only what
    /// no alignment rule could use is rejected).
    /// - Returns: nil when valid, else a message for a 400.
    public static func validationError(scores: [Double], n: Int) -> String? {
        guard !scores.isEmpty else { return "scores must contain at least one value" }
        guard scores.count <= n else {
            return "scores has \(scores.count) values but the dataset has only \(n) samples"
        }
        for (i, v) in scores.enumerated() {
            if !v.isFinite { return "scores[\(i)] is not a finite number" }
            if v < 0 { return "scores[\(i)] = \(v) is negative; scores must be ≥ 0" }
        }
        return nil
    }

    /// Creates or replaces the array of (`tagId`, `scoreType`). The id of an existing row is
    /// kept. `createdAt` is made strictly larger than every other score of the dataset, so
    /// "the most recent upload" is well defined even within one millisecond.
    /// - Returns: the score id.
    public static func upsert(datasetId: String, tagId: String, scoreType: String, scores: [Double], now: Int,
                              _ conn: Connection) throws -> String {
        let last = try conn.queryOne("SELECT max(created_at) FROM scores WHERE dataset_id = ?", datasetId)?.intOrNil(0) ?? 0
        let createdAt = max(now, last + 1)
        let existing = try conn.queryOne("SELECT id FROM scores WHERE tag_id = ? AND score_type = ?", tagId, scoreType)?.string(0)
        let id = existing ?? ObjectID.generate(seconds: UInt32(truncatingIfNeeded: now / 1000))
        try scores.withUnsafeBytes { raw in
            try conn.run("""
                INSERT INTO scores(id, dataset_id, tag_id, score_type, count, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(tag_id, score_type) DO UPDATE SET count = excluded.count, data = excluded.data, created_at = excluded.created_at
                """, arguments: [.text(id), .text(datasetId), .text(tagId), .text(scoreType), .integer(Int64(scores.count)), .null,
                                 .integer(Int64(createdAt))], blob: raw, at: 6)
        }
        return id
    }

    /// The arrays stored on a tag, oldest first.
    public static func list(tagId: String, _ conn: Connection) throws -> [StoredScore] {
        try conn.withCursor("SELECT id, tag_id, score_type, created_at, data FROM scores WHERE tag_id = ? ORDER BY created_at",
                            arguments: [.text(tagId)]) { rows in
            var out: [StoredScore] = []
            while try rows.next() {
                out.append(try current(rows))
            }
            return out
        }
    }

    /// One array by id, if it is stored on `tagId`.
    public static func get(id: String, tagId: String, _ conn: Connection) throws -> StoredScore? {
        try conn.withCursor("SELECT id, tag_id, score_type, created_at, data FROM scores WHERE id = ? AND tag_id = ?",
                            arguments: [.text(id), .text(tagId)]) { rows in
            try rows.next() ? try current(rows) : nil
        }
    }

    private static func current(_ stmt: any SQLCursor) throws -> StoredScore {
        guard case .text(let id) = try stmt.value(at: 0), case .text(let tag) = try stmt.value(at: 1),
              case .text(let type) = try stmt.value(at: 2), case .integer(let created) = try stmt.value(at: 3) else {
            throw EmbeddingStoreError.corrupt("score", "unexpected column types")
        }
        let values = try stmt.withBlob(at: 4) { raw in
            [Double](unsafeUninitializedCapacity: raw.count / 8) { buf, n in
                if raw.count >= 8, let dst = buf.baseAddress, let src = raw.baseAddress {
                    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: (raw.count / 8) * 8)
                }
                n = raw.count / 8
            }
        }
        return StoredScore(id: id, tagId: tag, scoreType: type, values: values, createdAt: Int(created))
    }
}

/// A score array as stored for one (tag, score type).
public struct StoredScore: Sendable, Equatable {
    public var id: String
    public var tagId: String
    public var scoreType: String
    public var values: [Double]
    /// Epoch ms of the last upload. Strictly increasing per dataset (the store makes it so),
    /// which makes "the most recently uploaded" of docs/selection.md §7 rule 4 well defined.
    public var createdAt: Int

    public init(id: String, tagId: String, scoreType: String, values: [Double], createdAt: Int) {
        self.id = id
        self.tagId = tagId
        self.scoreType = scoreType
        self.values = values
        self.createdAt = createdAt
    }
}
