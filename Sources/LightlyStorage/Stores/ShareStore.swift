

/// SQL for dataset sharing (`dataset_shares`, one per dataset, and its ordered
/// `dataset_share_users`).
public enum ShareStore {
    /// A dataset's sharing configuration.
    public struct Share: Sendable, Hashable {
        public var id: String
        public var users: [String]
        public var createdAt: Int64
        public var lastModifiedAt: Int64

        /// A share configuration with its users' e-mails in order.
        public init(id: String, users: [String], createdAt: Int64, lastModifiedAt: Int64) {
            self.id = id; self.users = users; self.createdAt = createdAt; self.lastModifiedAt = lastModifiedAt
        }
    }

    /// Replaces the dataset's user list with `emails` (in order), keeping the id of an
    /// existing configuration or creating one with the id `newId()` makes.
    /// - Returns: the configuration id.
    public static func replace(datasetId: String, emails: [String], newId: () -> String, now: Int64,
                               _ conn: Connection) throws -> String {
        let id: String
        if let existing = try conn.queryOne("SELECT id FROM dataset_shares WHERE dataset_id = ?", datasetId)?.string(0) {
            id = existing
            try conn.run("UPDATE dataset_shares SET last_modified_at = ? WHERE dataset_id = ?", now, datasetId)
            try conn.run("DELETE FROM dataset_share_users WHERE dataset_id = ?", datasetId)
        } else {
            id = newId()
            try conn.run("INSERT INTO dataset_shares (dataset_id, id, created_at, last_modified_at) VALUES (?, ?, ?, ?)",
                         datasetId, id, now, now)
        }
        for (i, e) in emails.enumerated() {
            try conn.run("INSERT INTO dataset_share_users (dataset_id, email, position) VALUES (?, ?, ?)", datasetId, e, i)
        }
        return id
    }

    /// The dataset's configuration, if it has one.
    public static func get(datasetId: String, _ conn: Connection) throws -> Share? {
        guard let row = try conn.queryOne("SELECT id, created_at, last_modified_at FROM dataset_shares WHERE dataset_id = ?", datasetId) else {
            return nil
        }
        let users = try conn.query("SELECT email FROM dataset_share_users WHERE dataset_id = ? ORDER BY position", datasetId)
            .map { try $0.string(0) }
        return Share(id: try row.string(0), users: users, createdAt: try row.int64(1), lastModifiedAt: try row.int64(2))
    }

    /// Deletes configuration `id` of the dataset. - Returns: whether it existed.
    public static func delete(id: String, datasetId: String, _ conn: Connection) throws -> Bool {
        try conn.run("DELETE FROM dataset_shares WHERE dataset_id = ? AND id = ?", datasetId, id) > 0
    }
}
