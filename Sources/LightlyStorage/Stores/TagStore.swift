import LightlyCore

import LightlyWire

/// SQL for the `tags` table. Every function runs on the caller's connection, inside the
/// caller's transaction; ownership checks stay with the caller.
public enum TagStore {
    /// Tags of a dataset in creation order (`seq`).
    public static func list(datasetId: String, _ conn: Connection) throws -> [TagRow] {
        try conn.query("SELECT \(TagRow.columns) FROM tags WHERE dataset_id = ? ORDER BY seq", datasetId).map { try TagRow(row: $0) }
    }

    /// The tag named `name` in the dataset, if any.
    public static func named(_ name: String, datasetId: String, _ conn: Connection) throws -> TagRow? {
        try conn.queryOne("SELECT \(TagRow.columns) FROM tags WHERE dataset_id = ? AND name = ?", datasetId, name)
            .map { try TagRow(row: $0) }
    }

    /// The id of the tag named `name` in the dataset, if any.
    public static func id(named name: String, datasetId: String, _ conn: Connection) throws -> String? {
        try conn.queryOne("SELECT id FROM tags WHERE dataset_id = ? AND name = ?", datasetId, name)?.string(0)
    }

    /// Tag `id` if it belongs to the dataset.
    public static func get(id: String, datasetId: String, _ conn: Connection) throws -> TagRow? {
        try conn.queryOne("SELECT \(TagRow.columns) FROM tags WHERE id = ? AND dataset_id = ?", id, datasetId)
            .map { try TagRow(row: $0) }
    }

    /// Whether tag `id` belongs to the dataset.
    public static func exists(id: String, datasetId: String, _ conn: Connection) throws -> Bool {
        try conn.queryOne("SELECT 1 FROM tags WHERE id = ? AND dataset_id = ?", id, datasetId) != nil
    }

    /// How many tags the dataset has.
    public static func count(datasetId: String, _ conn: Connection) throws -> Int {
        try conn.queryOne("SELECT COUNT(*) FROM tags WHERE dataset_id = ?", datasetId)?.int(0) ?? 0
    }

    /// Whether a tag of the dataset is called `name`.
    public static func nameExists(_ name: String, datasetId: String, _ conn: Connection) throws -> Bool {
        try conn.queryOne("SELECT 1 FROM tags WHERE dataset_id = ? AND name = ?", datasetId, name) != nil
    }

    /// Whether the dataset has any tag at all.
    public static func any(datasetId: String, _ conn: Connection) throws -> Bool {
        try conn.queryOne("SELECT 1 FROM tags WHERE dataset_id = ?", datasetId) != nil
    }

    /// Whether some tag of the dataset has `tagId` as its parent.
    public static func hasChildren(_ tagId: String, datasetId: String, _ conn: Connection) throws -> Bool {
        try conn.queryOne("SELECT 1 FROM tags WHERE dataset_id = ? AND prev_tag_id = ? LIMIT 1", datasetId, tagId) != nil
    }

    /// The stored bitmask of tag `id` of the dataset, if that tag exists.
    public static func bitmask(id: String, datasetId: String, _ conn: Connection) throws -> BitMask? {
        try conn.queryOne("SELECT bitmask FROM tags WHERE id = ? AND dataset_id = ?", id, datasetId)
            .map { BitMask(storageBytes: try $0.blob(0)) }
    }

    /// The dataset of tag `id` if that dataset is visible to `userId` (owned or shared), else nil.
    public static func visibleDataset(ofTag id: String, userId: String, _ conn: Connection) throws -> String? {
        try conn.queryOne("""
            SELECT t.dataset_id FROM tags t JOIN datasets d ON d.id = t.dataset_id
            WHERE t.id = ? AND \(DatasetStore.visibleSQL)
            """, id, userId, userId)?.string(0)
    }

    /// Appends a tag at the end of the dataset's creation order (`seq`); `changes` is stored
    /// verbatim. Does not check the name nor touch the dataset.
    public static func insert(id: String, datasetId: String, name: String, prevTagId: String?, queryTagId: String?,
                              preselectedTagId: String?, bitmask: BitMask, totSize: Int, creator: TagCreator?,
                              changes: JSONValue?, now: Int64, _ conn: Connection) throws {
        let seq = try conn.queryOne("SELECT COALESCE(MAX(seq), -1) + 1 FROM tags WHERE dataset_id = ?", datasetId)?.int(0) ?? 0
        try conn.run("""
            INSERT INTO tags (id, dataset_id, seq, name, prev_tag_id, query_tag_id, preselected_tag_id, bitmask,
                              tot_size, creator, changes, created_at, last_modified_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, id, datasetId, seq, name, prevTagId, queryTagId, preselectedTagId, bitmask.storageBytes,
            totSize, creator?.rawValue, changes?.serialized(), now, now)
    }

    /// Sets `tot_size` of every tag of the dataset.
    public static func setTotSize(_ n: Int, datasetId: String, now: Int64, _ conn: Connection) throws {
        try conn.run("UPDATE tags SET tot_size = ?, last_modified_at = ? WHERE dataset_id = ?", n, now, datasetId)
    }

    /// Replaces the bitmask of tag `id`.
    public static func setBitmask(_ mask: BitMask, id: String, _ conn: Connection) throws {
        try conn.run("UPDATE tags SET bitmask = ? WHERE id = ?", mask.storageBytes, id)
    }

    /// Renames tag `id`.
    public static func rename(id: String, to name: String, now: Int64, _ conn: Connection) throws {
        try conn.run("UPDATE tags SET name = ?, last_modified_at = ? WHERE id = ?", name, now, id)
    }

    /// Deletes tag `id` (its scores go with it by cascade).
    public static func delete(id: String, _ conn: Connection) throws {
        try conn.run("DELETE FROM tags WHERE id = ?", id)
    }
}
