import LightlyStorage

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
