

/// SQL for the `blobs` table: one row per stored file (`BlobStore` holds the files), so a
/// dataset's files can be found and removed with it, and orphaned files told apart.
public enum BlobRecords {
    /// Records a stored file of the dataset; `kind` is `full`, `thumbnail` or `csv`.
    public static func insert(id: String, datasetId: String, kind: String, size: Int, now: Int64,
                              _ conn: Connection) throws {
        try conn.run("INSERT INTO blobs (id, dataset_id, kind, size, created_at) VALUES (?, ?, ?, ?, ?)",
                     id, datasetId, kind, size, now)
    }

    /// Deletes the row of blob `id`.
    public static func delete(id: String, _ conn: Connection) throws {
        try conn.run("DELETE FROM blobs WHERE id = ?", id)
    }

    /// Whether blob `id` has a row (a file without one is debris).
    public static func exists(id: String, _ conn: Connection) throws -> Bool {
        try conn.queryOne("SELECT 1 FROM blobs WHERE id = ?", id) != nil
    }
}
