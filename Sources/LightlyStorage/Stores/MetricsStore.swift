

/// SQL behind `GET /metrics`: what the store holds right now.
public enum MetricsStore {
    /// Jobs per (type, status), e.g. `("SAMPLING", "FINISHED", 3)`.
    public static func jobCounts(_ conn: Connection) throws -> [(type: String, state: String, count: Int)] {
        try conn.query("SELECT type, status, count(*) FROM jobs GROUP BY type, status ORDER BY type, status").map {
            (try $0.string(0), try $0.string(1), try $0.int(2))
        }
    }

    /// Bytes of every stored file (images, thumbnails, embedding CSVs), from their rows.
    public static func blobBytes(_ conn: Connection) throws -> Int {
        try conn.queryOne("SELECT coalesce(sum(size), 0) FROM blobs")?.int(0) ?? 0
    }
}
