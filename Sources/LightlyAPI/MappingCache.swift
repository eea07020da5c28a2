import LightlyStorage
import LightlyWire
import Synchronization

/// The mapping order of each dataset (docs/protocol.md §5) kept in memory, with the JSON answers
/// of `mappings?field=fileName|_id` pre-encoded: 1.1.22+ fetch it once per access.
///
/// Invalidate with ``invalidate(_:)`` whenever samples are added or removed, inside the
/// write transaction AND after it commits. A generation counter stops a reader that loaded a
/// snapshot from before the change from caching it.
///
/// When other servers share the store (`checksStore`), their changes never call this
/// server's ``invalidate(_:)``: each entry then keeps the dataset's `n_samples` and
/// `last_modified_at` (every sample insert or rename changes one of them) and is used only
/// while the store still has both (one primary-key lookup per use).
public final class MappingCache: Sendable {
    /// One dataset's order: element *i* is the sample with `idx` *i*.
    public struct Mapping: Sendable {
        public let fileNames: [String]
        public let sampleIds: [String]
        public let fileNamesJSON: [UInt8]
        public let sampleIdsJSON: [UInt8]
        public var count: Int { sampleIds.count }
        /// The dataset's (`n_samples`, `last_modified_at`) when loaded (with `checksStore`).
        var stamp: DatasetStore.MappingStamp? = nil
    }

    private struct State {
        var entries: [String: Mapping] = [:]
        var generation: [String: UInt64] = [:]
        /// Bumped by ``removeAll()``: loads that started before it are not cached.
        var epoch: UInt64 = 0
    }
    private let state = Mutex(State())
    /// Whether entries are checked against the store before use (other servers share it).
    public let checksStore: Bool

    public init(checksStore: Bool = false) { self.checksStore = checksStore }

    /// The mapping of a dataset, loaded through `conn` on a miss.
    /// - Complexity: O(1) on a hit; O(n) on a miss.
    public func mapping(_ datasetId: String, conn: Connection) throws -> Mapping {
        let (cached, gen, epoch) = state.withLock { ($0.entries[datasetId], $0.generation[datasetId] ?? 0, $0.epoch) }
        let stamp = checksStore ? try DatasetStore.mappingStamp(id: datasetId, conn) : nil
        if let cached, cached.stamp == stamp { return cached }
        let (ids, names) = try SampleStore.mapping(datasetId: datasetId, conn)
        var m = Mapping(fileNames: names, sampleIds: ids,
                        fileNamesJSON: JSONValue.array(names.map(JSONValue.string)).serializedBytes(),
                        sampleIdsJSON: JSONValue.array(ids.map(JSONValue.string)).serializedBytes())
        m.stamp = stamp

        state.withLock { s in
            if (s.generation[datasetId] ?? 0) == gen, s.epoch == epoch { s.entries[datasetId] = m }
        }
        return m
    }

    /// Drops the cached mapping of a dataset.
    public func invalidate(_ datasetId: String) {
        state.withLock { s in
            s.entries[datasetId] = nil
            s.generation[datasetId, default: 0] &+= 1
        }
    }

    /// Drops every cached mapping (the admin reset); loads in flight are not cached.
    public func removeAll() {
        state.withLock { s in
            s.entries.removeAll()
            s.generation.removeAll()
            s.epoch &+= 1
        }
    }
}
