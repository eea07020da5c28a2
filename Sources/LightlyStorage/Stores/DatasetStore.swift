/// SQL for the `datasets` table (and the dataset-wide rows of `blobs` and `dataset_uploads`).
/// Every function runs on the caller's connection, inside the caller's transaction.
public enum DatasetStore {
    /// SQL condition: the dataset aliased `d` is visible to the user bound twice after it
    /// (`user.id, user.id`): owned by them, or shared with their e-mail.
    static let visibleSQL = """
        (d.user_id = ? OR EXISTS (SELECT 1 FROM dataset_share_users su JOIN users u ON u.email = su.email
                                  WHERE su.dataset_id = d.id AND u.id = ?))
        """

    /// Dataset `id` if it is visible to `userId` (see ``visibleSQL``).
    public static func visible(id: String, userId: String, _ conn: Connection) throws -> DatasetRow? {
        try conn.queryOne("SELECT \(DatasetRow.columns) FROM datasets d WHERE d.id = ? AND \(visibleSQL)",
                          id, userId, userId).map { try DatasetRow(row: $0) }
    }

    /// Whose datasets a listing covers.
    public enum Scope: Sendable, Equatable {
        /// The datasets user `id` owns.
        case ownedBy(String)
        /// The datasets other users shared with user `id` (by e-mail), not their own.
        case sharedWith(String)
    }

    /// Which names a listing keeps.
    public enum NameFilter: Sendable, Equatable {
        /// Every name.
        case any
        /// Exactly this name.
        case exactly(String)
        /// Names that start with this text (compared character by character: no wildcards).
        case prefix(String)
    }

    /// The datasets in `scope` whose names pass `name`, by (createdAt, id), one page.
    public static func list(_ scope: Scope, name: NameFilter = .any, limit: Int64, offset: Int64,
                            _ conn: Connection) throws -> [DatasetRow] {
        var condition: String, arguments: [SQLValue]
        switch scope {
        case .ownedBy(let user): (condition, arguments) = ("d.user_id = ?", [.text(user)])
        case .sharedWith(let user):
            (condition, arguments) = ("d.user_id <> ? AND \(visibleSQL)", [.text(user), .text(user), .text(user)])
        }
        switch name {
        case .any: break
        case .exactly(let n): condition += " AND d.name = ?"; arguments.append(.text(n))
        case .prefix(let p): condition += " AND substr(d.name, 1, length(?)) = ?"; arguments += [.text(p), .text(p)]
        }
        return try conn.query("SELECT \(DatasetRow.columns) FROM datasets d WHERE \(condition) ORDER BY d.created_at, d.id LIMIT ? OFFSET ?",
                              arguments: arguments + [.integer(limit), .integer(offset)]).map { try DatasetRow(row: $0) }
    }

    /// Inserts an empty dataset. - Throws: a unique violation when the user has one of that name.
    public static func insert(id: String, userId: String, name: String, type: String, imgType: String?, now: Int64,
                              _ conn: Connection) throws {
        try conn.run("""
            INSERT INTO datasets (id, user_id, name, type, img_type, n_samples, size_in_bytes, created_at, last_modified_at)
            VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)
            """, id, userId, name, type, imgType, now, now)
    }

    /// Renames dataset `id`. - Throws: a unique violation when the name is taken.
    public static func rename(id: String, to name: String, now: Int64, _ conn: Connection) throws {
        try conn.run("UPDATE datasets SET name = ?, last_modified_at = ? WHERE id = ?", name, now, id)
    }

    /// Sets the dataset's `img_type`.
    public static func setImageType(_ imgType: String, id: String, _ conn: Connection) throws {
        try conn.run("UPDATE datasets SET img_type = ? WHERE id = ?", imgType, id)
    }

    /// Adds `delta` (may be negative) to the dataset's `size_in_bytes`.
    public static func addSize(_ delta: Int, id: String, _ conn: Connection) throws {
        try conn.run("UPDATE datasets SET size_in_bytes = size_in_bytes + ? WHERE id = ?", delta, id)
    }

    /// Bumps `last_modified_at` to at least `now`, and strictly past its old value.
    public static func touch(id: String, now: Int64, _ conn: Connection) throws {
        try conn.run("UPDATE datasets SET last_modified_at = \(conn.dialect.greatest)(last_modified_at + 1, ?) WHERE id = ?", now, id)
    }

    /// Raises `last_modified_at` to `now` unless it is already later.
    public static func raiseLastModified(id: String, to now: Int64, _ conn: Connection) throws {
        try conn.run("UPDATE datasets SET last_modified_at = \(conn.dialect.greatest)(last_modified_at, ?) WHERE id = ?", now, id)
    }

    /// What changes whenever a dataset's mapping changes: `n_samples` (sample inserts) and
    /// `last_modified_at` (inserts and renames bump it).
    public struct MappingStamp: Sendable, Equatable {
        var samples: Int
        var lastModified: Int
    }

    /// The dataset's ``MappingStamp`` (nil for an unknown dataset). One primary-key lookup.
    public static func mappingStamp(id: String, _ conn: Connection) throws -> MappingStamp? {
        try conn.queryOne("SELECT n_samples, last_modified_at FROM datasets WHERE id = ?", id).map {
            MappingStamp(samples: try $0.int(0), lastModified: try $0.int(1))
        }
    }

    /// The dataset's `n_samples` (its mapping length: every sample insert updates it in the same

    /// transaction), or 0 for an unknown dataset. O(1), unlike counting the `samples` rows.
    public static func sampleCount(id: String, _ conn: Connection) throws -> Int {
        try conn.queryOne("SELECT n_samples FROM datasets WHERE id = ?", id)?.int(0) ?? 0
    }

    /// Sets `n_samples` (after a bulk insert of samples) and raises `last_modified_at` to `now`.
    public static func setSampleCount(_ n: Int, id: String, now: Int64, _ conn: Connection) throws {
        try conn.run("UPDATE datasets SET n_samples = ?, last_modified_at = \(conn.dialect.greatest)(last_modified_at, ?) WHERE id = ?",
                     n, now, id)
    }

    /// Ids of every blob row of the dataset.
    public static func blobIds(datasetId: String, _ conn: Connection) throws -> [String] {
        try conn.query("SELECT id FROM blobs WHERE dataset_id = ?", datasetId).map { try $0.string(0) }
    }

    /// Deletes the dataset; its samples, tags, embeddings, scores, jobs and blob rows go by cascade.
    public static func delete(id: String, _ conn: Connection) throws {
        try conn.run("DELETE FROM datasets WHERE id = ?", id)
    }

    /// Records a dataset-upload report (`JobStatusMeta`, stored as JSON text).
    public static func recordUpload(datasetId: String, meta: String, now: Int64, _ conn: Connection) throws {
        try conn.run("INSERT INTO dataset_uploads (dataset_id, meta, created_at) VALUES (?, ?, ?)", datasetId, meta, now)
    }
}
