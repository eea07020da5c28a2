import LightlyCore


/// SQL of the admin API (docs/admin.md): wiping the state for `POST /_admin/reset`.
/// Every function runs on the caller's connection, inside the caller's transaction.
public enum AdminStore {
    /// What a reset removed. `blobIds` are the files to delete after the commit.
    public struct ResetCounts: Encodable, Sendable, Equatable {
        public var datasets = 0
        public var jobs = 0
        public var blobs = 0
        public var users = 0
        public var blobIds: [String] = []

        enum CodingKeys: String, CodingKey { case datasets, jobs, blobs, users }
    }

    /// Deletes every dataset with everything that belongs to it (samples, tags, embeddings and
    /// their matrices and projections, scores, shares, upload reports, blob rows), every job,
    /// and with `users` every user and token.
    public static func reset(users: Bool, _ conn: Connection) throws -> ResetCounts {
        var c = ResetCounts()
        c.blobIds = try conn.query("SELECT id FROM blobs").map { try $0.string(0) }
        c.blobs = c.blobIds.count
        c.jobs = try conn.run("DELETE FROM jobs")
        // Children first, so the result does not depend on foreign-key cascades.
        for table in ["embedding_chunks", "embeddings_2d", "scores", "dataset_share_users", "dataset_shares",
                      "dataset_uploads", "tags", "samples", "embeddings", "blobs"] {
            try conn.run("DELETE FROM \(table)")
        }
        c.datasets = try conn.run("DELETE FROM datasets")
        if users {
            try conn.run("DELETE FROM tokens")
            c.users = try conn.run("DELETE FROM users")
        }
        return c
    }
}

// MARK: - Snapshot reads and seed writes (explicit ids and timestamps)

extension AdminStore {
    /// A `users` row.
    public struct UserRecord: Sendable, Equatable {
        public var id: String
        public var name: String
        public var email: String?
        public var createdAt: Int64

        /// A user row as the seed document gives it.
        public init(id: String, name: String, email: String?, createdAt: Int64) {
            self.id = id; self.name = name; self.email = email; self.createdAt = createdAt
        }
    }

    /// A `tokens` row (its digest, never a token).
    public struct TokenRecord: Sendable, Equatable {
        public var userId: String
        public var name: String
        public var sha256: [UInt8]
        public var createdAt: Int64
        public var revokedAt: Int64?

        /// A token row as the seed document gives it.
        public init(userId: String, name: String, sha256: [UInt8], createdAt: Int64, revokedAt: Int64?) {
            self.userId = userId; self.name = name; self.sha256 = sha256; self.createdAt = createdAt; self.revokedAt = revokedAt
        }
    }

    /// Every user, oldest first.
    public static func users(_ conn: Connection) throws -> [UserRecord] {
        try conn.query("SELECT id, name, email, created_at FROM users ORDER BY created_at, id").map {
            UserRecord(id: try $0.string(0), name: try $0.string(1), email: try $0.stringOrNil(2), createdAt: try $0.int64(3))
        }
    }

    /// The user named `name`.
    public static func user(named name: String, _ conn: Connection) throws -> UserRecord? {
        try conn.queryOne("SELECT id, name, email, created_at FROM users WHERE name = ?", name).map {
            UserRecord(id: try $0.string(0), name: try $0.string(1), email: try $0.stringOrNil(2), createdAt: try $0.int64(3))
        }
    }

    /// Whether a row of `table` (one of the entity tables) has this `id`.
    public static func idExists(_ id: String, in table: String, _ conn: Connection) throws -> Bool {
        precondition(["users", "datasets", "samples", "tags", "embeddings", "scores", "dataset_shares"].contains(table))
        return try conn.queryOne("SELECT 1 FROM \(table) WHERE id = ?", id) != nil
    }

    /// Every token, oldest first.
    public static func tokens(_ conn: Connection) throws -> [TokenRecord] {
        try conn.query("SELECT user_id, name, token_hash, created_at, revoked_at FROM tokens ORDER BY created_at, id").map {
            TokenRecord(userId: try $0.string(0), name: try $0.string(1), sha256: try $0.blob(2),
                        createdAt: try $0.int64(3), revokedAt: try $0.int64OrNil(4))
        }
    }

    /// The token named `name`, or the token with this digest.
    public static func token(named name: String, orDigest digest: [UInt8], _ conn: Connection) throws -> TokenRecord? {
        try conn.queryOne("SELECT user_id, name, token_hash, created_at, revoked_at FROM tokens WHERE name = ? OR token_hash = ?",
                          name, digest).map {
            TokenRecord(userId: try $0.string(0), name: try $0.string(1), sha256: try $0.blob(2),
                        createdAt: try $0.int64(3), revokedAt: try $0.int64OrNil(4))
        }
    }

    public static func insertUser(_ u: UserRecord, _ conn: Connection) throws {
        try conn.run("INSERT INTO users(id, name, email, created_at) VALUES (?, ?, ?, ?)", u.id, u.name, u.email, u.createdAt)
    }

    public static func insertToken(_ t: TokenRecord, _ conn: Connection) throws {
        try conn.run("INSERT INTO tokens(user_id, name, token_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
                     t.userId, t.name, t.sha256, t.createdAt, t.revokedAt)
    }

    /// Every dataset, oldest first.
    public static func datasets(_ conn: Connection) throws -> [DatasetRow] {
        try conn.query("SELECT \(DatasetRow.columns) FROM datasets ORDER BY created_at, id").map { try DatasetRow(row: $0) }
    }

    /// Whether `userId` has a dataset named `name`.
    public static func datasetNameTaken(_ name: String, userId: String, _ conn: Connection) throws -> Bool {
        try conn.queryOne("SELECT 1 FROM datasets WHERE user_id = ? AND name = ?", userId, name) != nil
    }

    public static func insertDataset(id: String, userId: String, name: String, type: String, imgType: String?,
                                     nSamples: Int, sizeInBytes: Int, createdAt: Int64, lastModifiedAt: Int64,
                                     _ conn: Connection) throws {
        try conn.run("""
            INSERT INTO datasets (id, user_id, name, type, img_type, n_samples, size_in_bytes, created_at, last_modified_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, id, userId, name, type, imgType, nSamples, sizeInBytes, createdAt, lastModifiedAt)
    }

    /// The samples of a dataset in mapping order.
    public static func samples(datasetId: String, _ conn: Connection) throws -> [SampleRow] {
        try conn.query("SELECT \(SampleRow.columns) FROM samples WHERE dataset_id = ? ORDER BY idx", datasetId)
            .map { try SampleRow(row: $0) }
    }

    /// Inserts a sample as given (no image blobs); does not count it in the dataset.
    public static func insertSample(id: String, datasetId: String, idx: Int, fileName: String, thumbName: String?,
                                    metaData: String?, exif: String?, customMetaData: String?, sizeInBytes: Int,
                                    createdAt: Int64, lastModifiedAt: Int64, _ conn: Connection) throws {
        try conn.run("""
            INSERT INTO samples (id, dataset_id, idx, file_name, thumb_name, meta_data, exif, custom_meta_data,
                                 size_in_bytes, created_at, last_modified_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, id, datasetId, idx, fileName, thumbName, metaData, exif, customMetaData, sizeInBytes, createdAt, lastModifiedAt)
    }

    /// Inserts a tag as given, `seq` included.
    public static func insertTag(id: String, datasetId: String, seq: Int, name: String, prevTagId: String?,
                                 queryTagId: String?, preselectedTagId: String?, bitmask: BitMask, totSize: Int,
                                 creator: String?, changes: String?, createdAt: Int64, lastModifiedAt: Int64,
                                 _ conn: Connection) throws {
        try conn.run("""
            INSERT INTO tags (id, dataset_id, seq, name, prev_tag_id, query_tag_id, preselected_tag_id, bitmask,
                              tot_size, creator, changes, created_at, last_modified_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, id, datasetId, seq, name, prevTagId, queryTagId, preselectedTagId, bitmask.storageBytes,
            totSize, creator, changes, createdAt, lastModifiedAt)
    }

    /// Inserts an unprocessed embedding with its creation-order `seq`
    /// (``EmbeddingStore/storeMatrix(embeddingId:rows:dimension:_:fill:)`` fills it).
    public static func insertEmbedding(id: String, datasetId: String, seq: Int, name: String, createdAt: Int64,
                                       _ conn: Connection) throws {
        try conn.run("INSERT INTO embeddings(id, dataset_id, seq, name, is_processed, created_at) VALUES (?, ?, ?, ?, 0, ?)",
                     id, datasetId, seq, name, createdAt)
    }

    /// Inserts a score array as given.
    public static func insertScore(id: String, datasetId: String, tagId: String, scoreType: String, scores: [Double],
                                   createdAt: Int64, _ conn: Connection) throws {
        try scores.withUnsafeBytes { raw in
            try conn.run("INSERT INTO scores(id, dataset_id, tag_id, score_type, count, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         arguments: [.text(id), .text(datasetId), .text(tagId), .text(scoreType), .integer(Int64(scores.count)), .null,
                                     .integer(createdAt)], blob: raw, at: 6)
        }
    }

    /// Inserts a dataset's sharing configuration with its e-mails in order.
    public static func insertShare(_ s: ShareStore.Share, datasetId: String, _ conn: Connection) throws {
        try conn.run("INSERT INTO dataset_shares (dataset_id, id, created_at, last_modified_at) VALUES (?, ?, ?, ?)",
                     datasetId, s.id, s.createdAt, s.lastModifiedAt)
        for (i, e) in s.users.enumerated() {
            try conn.run("INSERT INTO dataset_share_users (dataset_id, email, position) VALUES (?, ?, ?)", datasetId, e, i)
        }
    }
}
