// One shard of an exact greedy k-center (CORESET) run whose rows are split over several
// processes or hosts (docs/scaling.md, "Matrices larger than one host's memory").

/// The per-shard state of exact greedy k-center over a matrix split into row ranges.
///
/// A coordinator drives S shards in rounds: it tells every shard the center just picked (its
/// stored row bytes), each shard applies it to its own min-distance array and answers its
/// local best (the largest squared distance to the picked set, ties to its lowest row), and
/// the coordinator takes the maximum over the shards, ties to the lowest global row. Each
/// shard uses exactly the kernels and the lazy steps of ``Sampler``'s CORESET, so every
/// distance is bit-identical to the single-host run and the picks are the same: the
/// single-host run is this with one shard.
///
/// ```swift
/// let shard = GreedyShard(matrix: rowsOfThisShard, picks: k)
/// shard.take(localRow)                      // when the pick is one of this shard's rows
/// let best = shard.apply(center: rowBytes)  // this shard's candidate for the next pick
/// ```
///
/// Not thread-safe: one caller drives it (it may use `threads` workers inside a call).
public final class GreedyShard: @unchecked Sendable {
    /// The rows this shard owns (row 0 here is the shard's first global row).
    public let matrix: EmbeddingMatrix
    /// Work counters of the passes so far.
    public private(set) var stats = SamplingStats()

    private let n: Int
    private let d: Int
    private let m: UnsafeMutablePointer<Float>
    private let results: UnsafeMutablePointer<ChunkBest>
    private let centerRaw: UnsafeMutableRawPointer
    private let chunks: Int
    private let threads: Int
    private let need: Int
    private let lazyMode: LazyEvaluation
    private var lazy: LazyGreedy?
    private var picks = 0

    /// A shard with every row untaken and no center applied (min distance +∞).
    ///
    /// - Parameters:
    ///   - matrix: this shard's rows, in global order.
    ///   - picks: how many centers the run will pick in total (sizes the lazy center list).
    ///   - threads: workers per pass inside this shard (results do not depend on it).
    ///   - lazy: lazy steps as in ``SamplingRequest/lazy`` (results do not depend on it).
    public init(matrix: EmbeddingMatrix, picks: Int, threads: Int = 1, lazy: LazyEvaluation = .auto) {
        precondition(matrix.rows < Int(Int32.max), "GreedyShard: 2^31 rows or more")
        self.matrix = matrix
        n = matrix.rows
        d = matrix.dimension
        need = max(picks, 0)
        lazyMode = lazy
        self.threads = max(1, threads)
        chunks = (self.threads > 1 && n * d >= Sampler.parallelThreshold) ? min(self.threads, max(1, n / 16)) : 1
        m = .allocate(capacity: max(n, 1))
        results = .allocate(capacity: chunks)
        results.initialize(repeating: ChunkBest(), count: chunks)
        centerRaw = .allocate(byteCount: max(64, ((d + 15) & ~15) * 4), alignment: 64)
        reset()
    }

    deinit {
        m.deallocate()
        results.deallocate()
        centerRaw.deallocate()
    }

    /// Forgets every center and every taken row: all min distances back to +∞.
    public func reset() {
        m.initialize(repeating: .infinity, count: max(n, 1))
        lazy = LazyGreedy.make(mode: lazyMode, pruning: .auto, objective: .diversity, candidates: n,
                               dimension: d, need: need, storage: matrix.storage,
                               threads: chunks > 1 ? threads : 1)
        picks = 0
        stats = SamplingStats()
        stats.candidates = n
        stats.rowBytes = d * matrix.storage.elementSize
        stats.centerBytes = d * 4
    }

    /// Bytes of one stored row (what ``apply(center:)`` reads and ``rowBytes(_:)`` returns).
    public var rowByteCount: Int { d * matrix.storage.elementSize }

    /// The stored bytes of local row `row` (d elements in the matrix's storage type).
    public func rowBytes(_ row: Int) -> [UInt8] {
        precondition(row >= 0 && row < n, "GreedyShard.rowBytes: row out of range")
        let len = rowByteCount
        return [UInt8](unsafeUninitializedCapacity: len) { buf, count in
            if let b = buf.baseAddress { b.initialize(from: (matrix.base + row * len).assumingMemoryBound(to: UInt8.self), count: len) }
            count = len
        }
    }

    /// Marks local row `row` as picked: it never competes again (the single-host loop's
    /// `m = −1`). Call it before applying that row as a center, as the single-host loop does.
    public func take(_ row: Int) {
        precondition(row >= 0 && row < n, "GreedyShard.take: row out of range")
        m[row] = -1
    }

    /// Applies one more center, given as stored row bytes (``rowByteCount`` bytes in the
    /// matrix's storage type), and returns this shard's best untaken row: the largest squared
    /// distance to the centers applied so far, ties to the lowest row; nil when every row is
    /// taken.
    /// - Complexity: one plain pass O(n·d), or a lazy step reading the rows that can still win.
    public func apply(center: UnsafeRawPointer) -> (row: Int, squaredDistance: Float)? {
        picks += 1
        let c = centerRaw.assumingMemoryBound(to: Float.self)
        switch matrix.storage {
        case .float32: F32Row.loadCenter(center, d, into: c)
        case .float16: F16Row.loadCenter(center, d, into: c)
        }
        let ctx = PassContext(base: UnsafeRawPointer(matrix.base), d: d, rowOf: nil, m: m, w: nil,
                              count: n, results: results)
        // The single-host loop (GreedySelection.run) for the diversity objective.
        let r: ChunkBest
        if let lazy, lazy.isActive(afterPicks: picks) {
            if lazy.isPaused { lazy.resume() }
            if !lazy.append(c) {
                _ = lazy.settle(ctx, objective: .diversity, stats: &stats)
                lazy.resume()
                _ = lazy.append(c)
            }
            if !lazy.shouldGiveUp {
                r = lazy.step(ctx, objective: .diversity, stats: &stats)
            } else {
                _ = lazy.settle(ctx, objective: .diversity, stats: &stats)
                lazy.pause(afterPicks: picks)
                stats.lazyStoppedAtPass = stats.lazyStoppedAtPass ?? stats.passes + 1
                r = Kernels.pass(ctx, storage: matrix.storage, center: nil, objective: .diversity, chunks: chunks)
                stats.passes += 1
            }
        } else {
            r = Kernels.pass(ctx, storage: matrix.storage, center: UnsafePointer(c), objective: .diversity, chunks: chunks)
            stats.passes += 1
            stats.rowsScanned += n
            stats.distances += n
        }
        guard r.pos >= 0 else { return nil }
        return (r.pos, r.m)
    }
}
