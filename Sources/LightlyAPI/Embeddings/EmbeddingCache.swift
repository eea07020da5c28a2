#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LightlyCore
import Synchronization

/// Why memory for an embedding matrix was not granted by the ``EmbeddingCache`` budget.
public enum MemoryBudgetError: Error, Equatable, CustomStringConvertible {
    /// The matrix alone is larger than the whole budget: it can never be held (an upload
    /// answers 413 `EMBEDDING_TOO_LARGE`, a job fails with this message).
    case exceedsBudget(needed: Int, budget: Int)
    /// It would fit, but uploads and jobs in progress hold the rest of the budget now (an
    /// upload answers 503 with `Retry-After`).
    case busy(needed: Int, available: Int, budget: Int)

    public var description: String {
        switch self {
        case .exceedsBudget(let needed, let budget):
            "the embedding matrix needs \(formatBytes(needed)) (rows × dimension × 4 bytes), more than the server's memory budget of \(formatBytes(budget)) (setting memory_budget)"
        case .busy(let needed, let available, let budget):
            "the embedding matrix needs \(formatBytes(needed)) but only \(formatBytes(available)) of the server's memory budget of \(formatBytes(budget)) are free while other uploads and jobs run; retry later"
        }
    }
}

/// `1.50 GiB`, `300.0 MiB`, `512 B`: for messages.
func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), u = 0
    while v >= 1024, u < units.count - 1 { v /= 1024; u += 1 }
    if u == 0 { return "\(n) B" }
    let scaled = (v * 100).rounded() / 100
    return "\(scaled) \(units[u])"
}

/// The server's **memory budget** for embedding matrices, and an LRU cache of loaded
/// matrices inside it, keyed by embedding id.
///
/// Everything the server holds of embedding matrices is counted against one budget
/// (`--memory-budget`): matrices in the cache, matrices a job is using (``withMatrix(for:bytes:wait:load:_:)``
/// pins them; a job uses the cached matrix itself, never a copy) and matrices an upload is
/// building (``reserve(_:)``). Unpinned cache entries are evicted, least recently used first,
/// to make room for a new reservation. A matrix larger than the whole budget is refused
/// (``MemoryBudgetError/exceedsBudget(needed:budget:)``) before any of it is allocated.
///
/// Consecutive sampling jobs on the same embedding (the active-learning loop queries the same
/// embedding round after round) skip reading the chunks from SQLite again.
///
/// Overwriting an embedding (a repeated CSV PUT) must call ``invalidate(_:)`` after its
/// transaction commits, or ``store(_:matrix:ticket:reservation:)``. Each id carries a
/// generation that `invalidate` bumps, so a load that started before the invalidation never
/// inserts its (stale) result afterwards.
///
/// Several servers on one store each have their own cache, and an upload through one server
/// does not reach the others' memory. So every entry also carries the embedding's stored
/// `version` (bumped by each upload): a lookup hits only an entry of the version the job
/// read from the store, and ``revalidate(_:)`` (one query before each use) drops entries of
/// re-uploaded or deleted embeddings.
///
/// ```swift
/// try cache.withMatrix(for: id, bytes: rows * dim * 4, wait: 600) { try EmbeddingStore.load(...) } use: { m in ... }
/// ```
public final class EmbeddingCache: Sendable {
    private struct Entry {
        var matrix: EmbeddingMatrix
        var lastUse: UInt64
        var version: Int
    }
    /// A matrix counted against the budget: while cached, pinned by a job, or both.
    private struct Held {
        var bytes: Int
        var pins: Int
        var cached: Bool
    }
    private struct State {
        var entries: [String: Entry] = [:]
        var held: [ObjectIdentifier: Held] = [:]
        /// Bytes of `held`.
        var heldBytes = 0
        /// Bytes reserved for matrices being built or loaded (not yet in `held`).
        var reservedBytes = 0
        var generations: [String: UInt64] = [:]
        var clock: UInt64 = 0
        var hits = 0
        var misses = 0
        var tickets: UInt64 = 0
        var storedTicket: [String: UInt64] = [:]
    }

    /// The memory budget: the most bytes of embedding matrices held at once.
    public let byteBudget: Int
    private let state = Mutex(State())

    /// - Parameter byteBudget: default 2 GiB (the server passes its `memory_budget` setting).
    public init(byteBudget: Int = 2 << 30) {
        self.byteBudget = max(0, byteBudget)
    }

    // MARK: Reservations

    /// Bytes of the budget set aside for a matrix that is being built or loaded. Release it
    /// with ``release()`` (also on deinit), or hand it to ``store(_:matrix:ticket:reservation:)``.
    public final class Reservation: @unchecked Sendable {
        fileprivate weak var cache: EmbeddingCache?
        private let lock = Mutex(0)

        fileprivate init(cache: EmbeddingCache, bytes: Int) {
            self.cache = cache
            lock.withLock { $0 = bytes }
        }

        /// The bytes reserved now.
        public var bytes: Int { lock.withLock { $0 } }

        /// Grows the reservation to `total` bytes (never blocks: evicts unpinned cache entries
        /// or throws ``MemoryBudgetError``; the reservation is unchanged then).
        public func grow(to total: Int) throws {
            try lock.withLock { current in
                guard total > current, let cache else { return }
                try cache.take(total - current, needed: total)
                current = total
            }
        }

        /// Zeroes the reservation without giving the bytes back: the caller moves them.
        fileprivate func detach() -> Int {
            lock.withLock { current in
                defer { current = 0 }
                return current
            }
        }

        /// Gives the bytes back (idempotent).
        public func release() {
            lock.withLock { current in
                cache?.giveBack(current)
                current = 0
            }
        }

        deinit { release() }
    }

    /// Reserves `bytes` of the budget, evicting unpinned cache entries as needed.
    /// - Parameter wait: seconds to wait for uploads and jobs in progress to free the budget
    ///   (0: throw ``MemoryBudgetError/busy(needed:available:budget:)`` at once).
    /// - Throws: ``MemoryBudgetError``: `exceedsBudget` at once when `bytes` > the budget.
    public func reserve(_ bytes: Int, wait: Double = 0) throws -> Reservation {
        let deadline = JobPhases.monotonicNanos() + UInt64(max(0, wait) * 1e9)
        while true {
            do {
                try take(bytes, needed: bytes)
                return Reservation(cache: self, bytes: bytes)
            } catch MemoryBudgetError.busy(let n, let a, let b) {
                if JobPhases.monotonicNanos() >= deadline { throw MemoryBudgetError.busy(needed: n, available: a, budget: b) }
                usleep(20_000)
            }
        }
    }

    fileprivate func take(_ bytes: Int, needed: Int) throws {
        guard needed <= byteBudget else { throw MemoryBudgetError.exceedsBudget(needed: needed, budget: byteBudget) }
        try state.withLock { s in
            makeRoom(bytes, &s)
            let free = byteBudget - s.heldBytes - s.reservedBytes
            guard bytes <= free else {
                throw MemoryBudgetError.busy(needed: needed, available: max(0, free + needed - bytes), budget: byteBudget)
            }
            s.reservedBytes += bytes
        }
    }

    fileprivate func giveBack(_ bytes: Int) {
        guard bytes > 0 else { return }
        state.withLock { $0.reservedBytes -= bytes }
    }

    /// Evicts unpinned entries, least recently used first, until `bytes` more fit (or none is left).
    private func makeRoom(_ bytes: Int, _ s: inout State) {
        while s.heldBytes + s.reservedBytes + bytes > byteBudget {
            let victim = s.entries.filter { s.held[ObjectIdentifier($0.value.matrix)]?.pins ?? 0 == 0 }
                .min(by: { $0.value.lastUse < $1.value.lastUse })
            guard let victim else { return }
            uncache(victim.key, &s)
        }
    }

    private func uncache(_ id: String, _ s: inout State) {
        guard let e = s.entries.removeValue(forKey: id) else { return }
        let key = ObjectIdentifier(e.matrix)
        guard var h = s.held[key] else { return }
        h.cached = false
        if h.pins == 0 {
            s.held.removeValue(forKey: key)
            s.heldBytes -= h.bytes
        } else {
            s.held[key] = h
        }
    }

    /// Counts `matrix` as held (if it is not already) and caches it for `id` if it fits next
    /// to what is held; `pin` adds a job's pin.
    private func insert(_ id: String, _ matrix: EmbeddingMatrix, version: Int, pin: Bool, _ s: inout State) {
        uncache(id, &s)
        let key = ObjectIdentifier(matrix)
        var h = s.held[key] ?? Held(bytes: matrix.byteCount, pins: 0, cached: false)
        let isNew = s.held[key] == nil
        if isNew {
            makeRoom(h.bytes, &s)
            s.heldBytes += h.bytes
        }
        if pin { h.pins += 1 }
        if s.heldBytes + s.reservedBytes <= byteBudget || !isNew {
            h.cached = true
            s.clock &+= 1
            s.entries[id] = Entry(matrix: matrix, lastUse: s.clock, version: version)
        }
        if h.pins == 0 && !h.cached {
            s.heldBytes -= h.bytes
            s.held.removeValue(forKey: key)
        } else {
            s.held[key] = h
        }
    }

    private func unpin(_ matrix: EmbeddingMatrix) {
        state.withLock { s in
            let key = ObjectIdentifier(matrix)
            guard var h = s.held[key] else { return }
            h.pins -= 1
            if h.pins <= 0 && !h.cached {
                s.held.removeValue(forKey: key)
                s.heldBytes -= h.bytes
            } else {
                s.held[key] = h
            }
        }
    }

    // MARK: Jobs

    /// Runs `body` with the matrix of `id`, counted against the budget while `body` runs: the
    /// cached matrix itself on a hit; on a miss, `bytes` are reserved first (waiting up to
    /// `wait` seconds for other uploads and jobs), then `load` runs and its result is cached.
    /// - Throws: ``MemoryBudgetError`` before `load` runs when the matrix cannot be held.
    /// - Parameter version: the embedding's stored version the caller read; an entry of
    ///   another version is a miss (and is replaced by what `load` returns).
    public func withMatrix<R>(for id: String, version: Int = 0, bytes: Int, wait: Double,
                              load: () throws -> EmbeddingMatrix,
                              _ body: (EmbeddingMatrix, _ loaded: Bool) throws -> R) throws -> R {
        let hit: EmbeddingMatrix? = state.withLock { s in
            s.clock &+= 1
            guard var e = s.entries[id], e.version == version else { s.misses += 1; return nil }
            e.lastUse = s.clock
            s.entries[id] = e
            s.hits += 1
            s.held[ObjectIdentifier(e.matrix)]?.pins += 1
            return e.matrix
        }
        if let hit {
            defer { unpin(hit) }
            return try body(hit, false)
        }
        let reservation = try reserve(bytes, wait: wait)
        let generation = state.withLock { $0.generations[id, default: 0] }
        let loaded = try load()
        let reservedBytes = reservation.detach()
        state.withLock { s in
            s.reservedBytes -= reservedBytes   // the reserved bytes become the held matrix's, in one step
            if s.generations[id, default: 0] == generation {
                insert(id, loaded, version: version, pin: true, &s)
                return
            }
            // Invalidated while loading: count it as pinned, not cached.
            s.held[ObjectIdentifier(loaded)] = Held(bytes: loaded.byteCount, pins: 1, cached: false)
            s.heldBytes += loaded.byteCount
        }
        defer { unpin(loaded) }
        return try body(loaded, true)
    }

    /// The cached matrix for `id`, or the result of `load` (which then is cached if it fits).
    /// The caller's use of the result is not counted against the budget: jobs use
    /// ``withMatrix(for:bytes:wait:load:_:)``.
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
            if loaded.byteCount <= byteBudget { insert(id, loaded, version: version, pin: false, &s) } else { uncache(id, &s) }
        }
        return loaded
    }

    // MARK: Uploads

    /// A number that orders stores of fresh matrices: take it inside the write transaction
    /// that stores the matrix (writes commit in that order), pass it to ``store(_:matrix:ticket:reservation:)``.
    public func nextTicket() -> UInt64 {
        state.withLock { s in
            s.tickets &+= 1
            return s.tickets
        }
    }

    /// After the commit that stored `matrix` for `id`: caches it in place of any older copy,
    /// like ``invalidate(_:)`` followed by a load, so the next job does not read it back.
    /// `reservation` (the upload's, covering `matrix`) is released in the same step.
    /// Ignored when a store with a later `ticket` already happened (two uploads to one
    /// embedding finishing in the other order), and not kept if larger than the budget.
    /// - Parameter version: the version the store gave the matrix in that commit.
    public func store(_ id: String, matrix: EmbeddingMatrix, version: Int = 0, ticket: UInt64, reservation: Reservation? = nil) {
        let reservedBytes = reservation?.detach() ?? 0
        state.withLock { s in
            s.reservedBytes -= reservedBytes
            guard ticket > s.storedTicket[id, default: 0] else { return }
            s.storedTicket[id] = ticket
            s.generations[id, default: 0] &+= 1   // loads in flight read the old matrix
            if matrix.byteCount <= byteBudget { insert(id, matrix, version: version, pin: false, &s) } else { uncache(id, &s) }
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
                uncache(id, &s)
                dropped += 1
            }
            return dropped
        }
    }

    /// Drops `id` and makes loads that are in flight for it discard their result.
    public func invalidate(_ id: String) {
        state.withLock { s in
            s.generations[id, default: 0] &+= 1
            uncache(id, &s)
        }
    }

    /// Drops everything (matrices pinned by running jobs stay counted until they finish).
    public func removeAll() {
        state.withLock { s in
            for id in Array(s.entries.keys) {
                s.generations[id, default: 0] &+= 1
                uncache(id, &s)
            }
        }
    }

    /// Bytes cached, entries, hits and misses (for logs and tests).
    public var statistics: (bytes: Int, entries: Int, hits: Int, misses: Int) {
        state.withLock { s in
            (s.entries.values.reduce(0) { $0 + $1.matrix.byteCount }, s.entries.count, s.hits, s.misses)
        }
    }

    /// Bytes counted against the budget now: cached or pinned matrices plus reservations.
    public var budgetInUse: Int { state.withLock { $0.heldBytes + $0.reservedBytes } }

    /// True when `id` is cached (for tests).
    public func contains(_ id: String) -> Bool { state.withLock { $0.entries[id] != nil } }
}
