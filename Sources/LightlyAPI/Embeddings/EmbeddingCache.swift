import LightlyCore
import Synchronization

/// An in-memory LRU of loaded embedding matrices, keyed by embedding id, bounded by bytes.
///
/// Consecutive sampling jobs on the same embedding (the active-learning loop queries the same
/// embedding round after round) then skip reading the chunks from SQLite again. A matrix that
/// is larger than the whole budget is returned but not kept.
///
/// Overwriting an embedding (a repeated CSV PUT) must call ``invalidate(_:)`` after its
/// transaction commits. Each id carries a generation that `invalidate` bumps, so a load that
/// started before the invalidation never inserts its (stale) result afterwards.
///
/// Several servers on one store each have their own cache, and an upload through one server
/// does not reach the others' memory. So every entry also carries the embedding's stored
/// `version` (bumped by each upload): a lookup hits only an entry of the version the job
/// read from the store, and ``revalidate(_:)`` (one query before each use) drops entries of
/// re-uploaded or deleted embeddings.
///
/// ```swift
/// let m = try cache.matrix(for: embeddingId) { try EmbeddingStore.load(embeddingId, from: db) }
/// ```
public final class EmbeddingCache: Sendable {
    private struct Entry {
        var matrix: EmbeddingMatrix
        var lastUse: UInt64
        var version: Int
    }
    private struct State {
        var entries: [String: Entry] = [:]
        var generations: [String: UInt64] = [:]
        var bytes = 0
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
        var tickets: UInt64 = 0
        var storedTicket: [String: UInt64] = [:]
    }

    /// The most bytes of matrices kept at once.
    public let byteBudget: Int
    private let state = Mutex(State())

    /// - Parameter byteBudget: default 2 GiB (fits 1M×512 float32 on the 24 GiB host).
    public init(byteBudget: Int = 2 << 30) {
        self.byteBudget = max(0, byteBudget)
    }

    /// The cached matrix for `id`, or the result of `load` (which then is cached).
    ///
    /// `load` runs without the lock held, so two jobs that miss at the same time may both
    /// load; the second insert simply replaces the first.
    /// - Complexity: O(1) on a hit; O(entries) when evicting.
    /// - Parameter version: the embedding's stored version the caller read; an entry of
    ///   another version is a miss (and is replaced by what `load` returns).
    public func matrix(for id: String, version: Int = 0, load: () throws -> EmbeddingMatrix) rethrows -> EmbeddingMatrix {
        enum Lookup { case hit(EmbeddingMatrix), miss(generation: UInt64) }
        let lookup: Lookup = state.withLock { s in
            s.clock &+= 1
            if var e = s.entries[id], e.version == version {
                e.lastUse = s.clock
                s.entries[id] = e
                s.hits += 1
                return .hit(e.matrix)
            }
            s.misses += 1
            return .miss(generation: s.generations[id, default: 0])
        }
        let generation: UInt64
        switch lookup {
        case .hit(let m): return m
        case .miss(let g): generation = g
        }
        let loaded = try load()
        state.withLock { s in
            guard s.generations[id, default: 0] == generation else { return }
            put(id, loaded, version: version, &s)
        }
        return loaded
    }

    /// Replaces `id`'s entry with `matrix`, evicting least recently used entries to stay
    /// within the budget; a matrix larger than the budget only drops the old entry.
    private func put(_ id: String, _ matrix: EmbeddingMatrix, version: Int, _ s: inout State) {
        if let old = s.entries.removeValue(forKey: id) { s.bytes -= old.matrix.byteCount }
        let size = matrix.byteCount
        guard size <= byteBudget else { return }
        while s.bytes + size > byteBudget, let victim = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            s.entries.removeValue(forKey: victim.key)
            s.bytes -= victim.value.matrix.byteCount
        }
        s.clock &+= 1
        s.entries[id] = Entry(matrix: matrix, lastUse: s.clock, version: version)
        s.bytes += size
    }

    /// A number that orders stores of fresh matrices: take it inside the write transaction
    /// that stores the matrix (writes commit in that order), pass it to ``store(_:matrix:ticket:)``.
    public func nextTicket() -> UInt64 {
        state.withLock { s in
            s.tickets &+= 1
            return s.tickets
        }
    }

    /// After the commit that stored `matrix` for `id`: caches it in place of any older copy,
    /// like ``invalidate(_:)`` followed by a load, so the next job does not read it back.
    /// Ignored when a store with a later `ticket` already happened (two uploads to one
    /// embedding finishing in the other order), and not kept if larger than the budget.
    /// - Parameter version: the version the store gave the matrix in that commit.
    public func store(_ id: String, matrix: EmbeddingMatrix, version: Int = 0, ticket: UInt64) {
        state.withLock { s in
            guard ticket > s.storedTicket[id, default: 0] else { return }
            s.storedTicket[id] = ticket
            s.generations[id, default: 0] &+= 1   // loads in flight read the old matrix
            put(id, matrix, version: version, &s)
        }
    }

    /// Checks every cached entry against the store: `lookup` gets the cached ids and returns
    /// the stored version of each that still exists; entries of a deleted embedding (missing
    /// from the answer) or another version (re-uploaded, possibly through another server) are
    /// dropped. Entries added meanwhile are left alone.
    /// - Returns: how many entries were dropped.
    @discardableResult
    public func revalidate(_ lookup: ([String]) throws -> [String: Int]) rethrows -> Int {
        let ids = state.withLock { Array($0.entries.keys) }
        guard !ids.isEmpty else { return 0 }
        let current = try lookup(ids)
        return state.withLock { s in
            var dropped = 0
            for id in ids {
                guard let e = s.entries[id], current[id] != e.version else { continue }
                s.generations[id, default: 0] &+= 1
                s.entries.removeValue(forKey: id)
                s.bytes -= e.matrix.byteCount
                dropped += 1
            }
            return dropped
        }
    }

    /// Drops `id` and makes loads that are in flight for it discard their result.
    public func invalidate(_ id: String) {
        state.withLock { s in
            s.generations[id, default: 0] &+= 1
            if let old = s.entries.removeValue(forKey: id) { s.bytes -= old.matrix.byteCount }
        }
    }

    /// Drops everything.
    public func removeAll() {
        state.withLock { s in
            for id in s.entries.keys { s.generations[id, default: 0] &+= 1 }
            s.entries.removeAll()
            s.bytes = 0
        }
    }

    /// Bytes held, entries held, hits and misses (for logs and tests).
    public var statistics: (bytes: Int, entries: Int, hits: Int, misses: Int) {
        state.withLock { ($0.bytes, $0.entries.count, $0.hits, $0.misses) }
    }

    /// True when `id` is cached (for tests).
    public func contains(_ id: String) -> Bool { state.withLock { $0.entries[id] != nil } }
}
