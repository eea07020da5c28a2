#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore
import LightlyStorage
import LightlyWire

// MARK: - Lookups and ownership

extension LightlyApplication {
    /// The dataset if it exists AND `user` owns it or it is shared with them; otherwise 404
    /// `DATASET_UNKNOWN` (another user's dataset is indistinguishable from a missing one: never
    /// 403). A user the dataset is shared with may read and change everything in it; only the
    /// owner renames, deletes or shares it (``requireOwnedDataset(_:for:conn:)``).
    ///
    /// ```swift
    /// let ds = try ctx.app.database.read { conn in
    ///     try ctx.app.requireDataset(id, for: user, conn: conn)
    /// }
    /// ```
    public func requireDataset(_ id: String, for user: User, conn: Connection) throws -> DatasetRow {
        guard let row = try DatasetStore.visible(id: id, userId: user.id, conn) else {
            throw APIError.datasetUnknown(id)
        }
        return row
    }

    /// The dataset if `user` owns it: 404 `DATASET_UNKNOWN` when they cannot see it, 403
    /// `FORBIDDEN` when it is only shared with them (they know it exists).
    public func requireOwnedDataset(_ id: String, for user: User, conn: Connection) throws -> DatasetRow {
        let ds = try requireDataset(id, for: user, conn: conn)
        guard ds.userId == user.id else {
            throw APIError.forbidden("only the owner of dataset \(id) can do this")
        }
        return ds
    }

    /// Bumps `datasets.last_modified_at` (call inside the write transaction of every change).
    @discardableResult
    public func touchDataset(_ id: String, conn: Connection, now: Int64 = Timestamp.now()) throws -> Int64 {
        try Self.touchDataset(id, conn: conn, now: now)
    }

    /// The same without an application (for the job runner). Never moves the value backwards.
    @discardableResult
    public static func touchDataset(_ id: String, conn: Connection, now: Int64 = Timestamp.now()) throws -> Int64 {
        try DatasetStore.touch(id: id, now: now, conn)
        return now
    }

    /// A tag of this dataset, or 404 `TAG_UNKNOWN`.
    public func requireTag(_ id: String, datasetId: String, conn: Connection) throws -> TagRow {
        guard let row = try TagStore.get(id: id, datasetId: datasetId, conn) else {
            throw APIError.tagUnknown(id, dataset: datasetId)
        }
        return row
    }

    /// The dataset of tag `id` if that dataset is visible to `user`, else `nil`: a tag of a
    /// dataset the user cannot see is indistinguishable from a missing one (no existence oracle).
    public func visibleTagDataset(_ id: String, for user: User, conn: Connection) throws -> String? {
        try TagStore.visibleDataset(ofTag: id, userId: user.id, conn)
    }

    /// A sample of this dataset, or 404 `SAMPLE_UNKNOWN`.
    public func requireSample(_ id: String, datasetId: String, conn: Connection) throws -> SampleRow {
        guard let row = try SampleStore.get(id: id, datasetId: datasetId, conn) else {
            throw APIError.sampleUnknown(id, dataset: datasetId)
        }
        return row
    }

    /// A fresh entity id (24 lowercase hex, docs/protocol.md §3).
    public func newID() -> String { ObjectID.generate(seconds: UInt32(truncatingIfNeeded: Timestamp.nowSeconds())) }
}
