// Lazy evaluation of the greedy passes: exact, with far fewer rows read (docs/selection.md §12).
//
// The plain greedy step applies the newest center to every candidate: it reads all of X per
// pick. But m only ever decreases, so a stale m[i] (the minimum over the centers applied to
// row i so far) is an upper bound of the true one, and so is the CORAL objective computed
// from it: (W + w)(D + m) is non-decreasing in m for W + w ≥ 0 and D ≥ 0, and rounding to
// nearest is monotone, so the computed bound is ≥ the computed exact objective bit for bit.
// A step therefore only brings rows up to date (applies the centers they have not seen) while
// their bound can still reach the best exact objective T found so far; every other row cannot
// be the argmax, and is not read. Each (row, center) distance is computed at most once, with
// exactly the plain pass's arithmetic, so the picks are identical; only the work changes.
#if canImport(Dispatch)
import Dispatch
#endif
import CLightlyKernels

/// Whether CORESET/CORAL apply each new center lazily (only to rows that could still be the
/// next pick). Never changes the result, only the work. Not part of the request JSON.
public enum LazyEvaluation: String, Sendable, Equatable, CaseIterable {
    /// Lazy when it applies (CORESET, CORAL with equal strengths, picks ≤ half the
    /// candidates) and the request does not ask for a specific pass (`pruning` `.auto`);
    /// switches to plain passes when it does not save distances, and tries again later.
    case auto
    /// Never: the plain fused pass (or cluster skipping, as `pruning` says).
    case off
    /// Always when it applies, however little it saves (for tests and benchmarks).
    case on
}

/// The exact best and runner-up that one worker's part of a lazy step found.
struct LazyTop {
    var pos = -1, value = -Double.infinity
    var pos2 = -1, value2 = -Double.infinity
    var rows = 0, distances = 0

    /// Positions arrive in ascending order within a worker: a tie keeps the earlier one.
    @inline(__always) mutating func offer(_ v: Double, _ p: Int) {
        if pos < 0 || v > value {
            pos2 = pos; value2 = value
            pos = p; value = v
        } else if pos2 < 0 || v > value2 {
            pos2 = p; value2 = v
        }
    }
}

/// Lazy greedy state of one job (see the file comment).
///
/// Per candidate position it keeps `applied[i]` (4 B): how many centers of the list have been
/// applied to `m[i]`. The list holds the centers picked since lazy evaluation (re)started, as
/// float32 rows in the storage type's center layout: O(k·d), at most `listBytes`. With the
/// plain path's ≤ 20 B this keeps a job at ≤ 24 B per sample (cluster skipping is not used at
/// the same time).
///
/// `@unchecked Sendable`: during a step's or a settle's `concurrentPerform`, worker t writes
/// only `m`/`applied` at positions of its own range, its `tops[t]` and its scratch slice;
/// the center list and everything else are read-only until the call returns.
final class LazyGreedy: @unchecked Sendable {
    /// `.auto`: after this many lazy steps…
    static let minSteps = 16
    /// …give up when they computed more than this fraction of the plain passes' distances
    /// (a lazy distance costs about twice a plain one where the plain pass is compute-bound).
    static let giveUpFraction = 0.5
    /// Rows per worker below which a step runs on one thread (a step reads little).
    static let rowsPerWorker = 1 << 15
    /// Seeds kept for the next step (each costs its pending distances).
    static let maxHints = 4
    /// Bytes of the center list at most (32 MiB: 65 536 centers at d = 128).
    static let listBytes = 32 << 20
    /// Rows per block of `settle` (cancellation is checked between blocks).
    static let settleBlock = 1 << 16

    let mode: LazyEvaluation
    let n: Int
    let d: Int
    let storage: EmbeddingStorage
    let chunks: Int
    /// The AVX-512 kernel computes 16 centers against one row (see `refresh`).
    let useC: Bool
    let applied: UnsafeMutablePointer<UInt32>
    let centers: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var count = 0
    private let tops: UnsafeMutablePointer<LazyTop>
    private let scratch: UnsafeMutableRawPointer
    private let scratchFloats: Int
    /// Runner-ups of the previous step: refreshed first, they give a high starting T.
    private var hints: [Int] = []
    private var steps = 0
    private var distanceTotal = 0

    /// The lazy state for a job, or nil when plain (or pruned) passes should run.
    static func make(mode: LazyEvaluation, pruning: ClusterPruning, objective: Objective, candidates n: Int,
                     dimension d: Int, need: Int, storage: EmbeddingStorage, threads: Int,
                     listCapacity: Int? = nil) -> LazyGreedy? {
        switch mode {
        case .off: return nil
        case .auto: guard pruning == .auto else { return nil }
        case .on: break
        }
        switch objective {
        case .diversity, .product: break
        case .logs: return nil          // ln is not guaranteed monotone bit for bit
        }
        guard n > 0, d > 0, need >= 2 else { return nil }
        let chunks = max(1, min(threads, n / rowsPerWorker))
        let capacity = max(1, min(need, listCapacity ?? listBytes / (d * 4)))
        return LazyGreedy(mode: mode, n: n, d: d, capacity: capacity, storage: storage, chunks: chunks)
    }

    private init(mode: LazyEvaluation, n: Int, d: Int, capacity: Int, storage: EmbeddingStorage, chunks: Int) {
        self.mode = mode
        self.n = n
        self.d = d
        self.storage = storage
        self.chunks = chunks
        switch storage {
        case .float32: useC = Kernels.cKernel(F32Row.self, d: d) != nil
        case .float16: useC = Kernels.cKernel(F16Row.self, d: d) != nil
        }
        applied = .allocate(capacity: n)
        applied.initialize(repeating: 0, count: n)
        // One center per pick after the first, at most `listBytes` (a full list is flushed
        // by `settle`), plus 16 zero rows read past the end by the 16-center kernel (their
        // distances are ignored).
        self.capacity = capacity
        let bytes = (capacity + 16) * d * 4
        centers = .allocate(byteCount: bytes, alignment: 64)
        centers.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        tops = .allocate(capacity: chunks)
        tops.initialize(repeating: LazyTop(), count: chunks)
        scratchFloats = ((d + 15) & ~15) * 2
        scratch = .allocate(byteCount: chunks * scratchFloats * 4, alignment: 64)
    }

    deinit {
        applied.deallocate()
        centers.deallocate()
        tops.deallocate()
        scratch.deallocate()
    }

    /// Adds the center just picked (in the layout of `loadCenter`). Returns false when the
    /// list is full (the caller then settles, which brings every row up to date, and resumes
    /// with an empty list).
    func append(_ center: UnsafePointer<Float>) -> Bool {
        guard count < capacity else { return false }
        (centers + count * d * 4).copyMemory(from: center, byteCount: d * 4)
        count += 1
        return true
    }

    /// Plain passes run (after `settle`) until `resume`.
    private(set) var isPaused = false
    /// While paused: the pick count from which lazy steps are tried again; the pause after
    /// the next failed try lasts `backoff` picks (32, then twice as long each time).
    private var resumeAt = 0, backoff = 32

    /// Whether the step after `picks` picks should be lazy (not while a pause lasts).
    func isActive(afterPicks picks: Int) -> Bool { picks >= resumeAt }

    /// Plain passes for the next `backoff` picks (the caller has settled every row).
    func pause(afterPicks picks: Int) {
        isPaused = true
        resumeAt = picks + backoff
        backoff *= 2
    }

    /// Starts an empty center list: valid once plain passes brought every row up to date.
    func resume() {
        applied.update(repeating: 0, count: n)
        count = 0
        hints = []
        steps = 0
        distanceTotal = 0
        isPaused = false
    }

    /// `.auto`, and the lazy steps since the last (re)start computed more than
    /// `giveUpFraction` of the distances plain passes would have: they do not pay. The test is
    /// cumulative on purpose: giving up costs the deferred distances (`settle`), which are few
    /// only while lazy steps have saved little; a late burst of work is cheaper to ride out.
    var shouldGiveUp: Bool {
        mode == .auto && steps >= Self.minSteps
            && Double(distanceTotal) > Self.giveUpFraction * Double(steps) * Double(n)
    }

    /// One greedy step: the argmax of the objective over the untaken positions, with the
    /// winner's m exact (all centers applied). Same winner as `Kernels.pass` would give after
    /// applying every center to every row, ties to the lowest position.
    func step(_ ctx: PassContext, objective: Objective, stats: inout SamplingStats) -> ChunkBest {
        steps += 1
        // A starting T: the best exact objective of last step's runner-ups (the seeds),
        // brought up to date; without seeds the scan starts from −inf.
        var floor = -Double.infinity
        var rows = 0, distances = 0
        for p in hints where ctx.m[p] >= 0 && Int(applied[p]) < count { prefetchRow(ctx, p) }
        for p in hints where ctx.m[p] >= 0 {
            let t = refreshOne(ctx, objective: objective, p: p, threshold: -.infinity)
            rows += t.rows; distances += t.distances
            floor = max(floor, value(ctx, objective, p))
        }
        let workers = chunks
        let body: @Sendable (Int) -> Void = { [self, floor] t in
            let lo = n * t / workers, hi = n * (t + 1) / workers
            tops[t] = scan(ctx, objective: objective, lo: lo, hi: hi, floor: floor, worker: t)
        }
        if workers == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
        var best = LazyTop()
        for t in 0 ..< workers {
            let r = tops[t]
            rows += r.rows; distances += r.distances
            if r.pos >= 0 && (best.pos < 0 || r.value > best.value) { best.pos = r.pos; best.value = r.value }
        }
        // Next step's seeds: this step's runner-ups first, then the older seeds still open.
        var next: [Int] = []
        func add(_ p: Int) {
            if p >= 0 && p != best.pos && next.count < Self.maxHints && !next.contains(p) { next.append(p) }
        }
        for t in 0 ..< workers { add(tops[t].pos); add(tops[t].pos2) }
        for p in hints where ctx.m[p] >= 0 { add(p) }
        hints = next
        distanceTotal += distances
        stats.passes += 1
        stats.lazyPasses += 1
        stats.rowsScanned += rows
        stats.distances += distances
        guard best.pos >= 0 else { return ChunkBest() }
        return ChunkBest(pos: best.pos, m: ctx.m[best.pos], obj: best.value)
    }

    /// Applies every pending center to every untaken row, so that plain passes can follow
    /// (or the list can start again). This is the work the lazy steps deferred, up to a full
    /// list's worth of passes, so it runs in blocks of `settleBlock` rows and asks
    /// `shouldContinue` between them. Returns false when that asked to stop.
    func settle(_ ctx: PassContext, objective: Objective, stats: inout SamplingStats,
                shouldContinue: () -> Bool = { true }) -> Bool {
        let workers = chunks
        var start = 0
        while start < n {
            if start > 0 && !shouldContinue() { return false }
            let end = min(n, start + Self.settleBlock), size = end - start
            let body: @Sendable (Int) -> Void = { [self, start] t in
                let lo = start + size * t / workers, hi = start + size * (t + 1) / workers
                var top = LazyTop()
                for p in lo ..< hi where ctx.m[p] >= 0 && Int(applied[p]) < count {
                    let r = refreshOne(ctx, objective: objective, p: p, threshold: -.infinity, worker: t)
                    top.rows += r.rows; top.distances += r.distances
                }
                tops[t] = top
            }
            if workers == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
            for t in 0 ..< workers {
                stats.rowsScanned += tops[t].rows
                stats.distances += tops[t].distances
            }
            start = end
        }
        return true
    }

    // MARK: - Pieces

    /// The exact objective of an up-to-date, untaken position (the plain pass's formula).
    @inline(__always) func value(_ ctx: PassContext, _ objective: Objective, _ p: Int) -> Double {
        bound(ctx, objective, p, ctx.m[p])
    }

    /// The objective computed from `mv` (an upper bound of m gives an upper bound).
    @inline(__always) func bound(_ ctx: PassContext, _ objective: Objective, _ p: Int, _ mv: Float) -> Double {
        switch objective {
        case .diversity: return Double(mv)
        case let .product(W, D): return (W + ctx.w.unsafelyUnwrapped[p]) * (D + Double(mv))
        case .logs: return -.infinity   // not used lazily (see `make`)
        }
    }

    /// One worker's part of a step: every untaken position in `lo ..< hi` whose bound is
    /// ≥ T is brought up to date (stopping early once its bound falls below T); the up-to-date
    /// ones compete exactly. T starts at `floor` (an exact objective of some untaken row,
    /// hence ≤ the maximum, or −inf) and rises with the best exact value seen.
    private func scan(_ ctx: PassContext, objective: Objective, lo: Int, hi: Int, floor: Double,
                      worker: Int) -> LazyTop {
        var top = LazyTop()
        var T = floor
        let m = ctx.m
        // The next position from p whose bound reaches T (vectorised in C; taken rows, m = −1,
        // pass only while T = −inf and are skipped below).
        @inline(__always) func next(_ p: Int) -> Int {
            switch objective {
            case .diversity: return lk_next_ge_f32(m, p, hi, Float(T))   // T is −inf or a Double(m): exact
            case let .product(W, D): return lk_next_ge_product(m, ctx.w, W, D, p, hi, T)
            case .logs: return hi
            }
        }
        var q = next(lo)
        while q < hi {
            // Find the following candidate first and prefetch its row, so that its (random)
            // DRAM access overlaps this row's distances. T may rise meanwhile: candidates
            // are re-checked against it below, and none between q and that one is missed
            // (their bounds are below the older, lower T).
            let following = next(q &+ 1)
            if following < hi && Int(applied[following]) < count { prefetchRow(ctx, following) }
            defer { q = following }
            let mq = m[q]
            if mq < 0 || bound(ctx, objective, q, mq) < T { continue }
            if Int(applied[q]) < count {
                let r = refreshOne(ctx, objective: objective, p: q, threshold: T, worker: worker)
                top.rows += r.rows; top.distances += r.distances
                if Int(applied[q]) < count { continue }   // stopped early: below T
            }
            let v = value(ctx, objective, q)
            top.offer(v, q)
            if v > T { T = v }
        }
        return top
    }

    @inline(__always) private func prefetchRow(_ ctx: PassContext, _ p: Int) {
        let r = ctx.row(p)
        let bytes = d &* storage.elementSize
        lk_prefetch(ctx.base + r &* bytes, bytes)
    }

    private func refreshOne(_ ctx: PassContext, objective: Objective, p: Int, threshold: Double,
                            worker: Int = 0) -> (rows: Int, distances: Int) {
        switch storage {
        case .float32: return refresh(F32Row.self, ctx, objective: objective, p: p, threshold: threshold, worker: worker)
        case .float16: return refresh(F16Row.self, ctx, objective: objective, p: p, threshold: threshold, worker: worker)
        }
    }

    /// Applies the pending centers `applied[p] ..< count` to m[p], in list order, and stops
    /// early once the bound is below `threshold` (the row then cannot win this step; what it
    /// has applied so far is recorded, the rest waits).
    ///
    /// Distances are bit-identical to the plain pass: the Swift path calls the same `dist2`;
    /// the C path takes the min over 16 centers against the row with `lk_min_dist16_f32`,
    /// with the row as "center" — c − x rounds like x − c, and the per-distance summation
    /// order is the plain pass's (`Kernels.cKernel` decides the same way for both).
    @inline(__always)
    private func refresh<E: RowElement>(_: E.Type, _ ctx: PassContext, objective: Objective, p: Int,
                                        threshold: Double, worker: Int) -> (rows: Int, distances: Int) {
        let r = ctx.row(p)
        let x = ctx.base + r &* (d &* E.size)
        let sf = (scratch + worker &* scratchFloats &* 4).assumingMemoryBound(to: Float.self)
        var xf = UnsafePointer(sf)                     // the row as float32 (C path)
        let tmp = sf + ((d + 15) & ~15)                // dist2's float16 staging
        let cf = centers.assumingMemoryBound(to: Float.self)
        var mv = ctx.m[p]
        var j = Int(applied[p])
        let start = j
        if mv == 0 {   // an exact duplicate of a center: no distance can lower it
            applied[p] = UInt32(truncatingIfNeeded: count)
            return (0, 0)
        }
        var staged = false
        while j < count {
            if useC && count &- j >= 8 {
                if !staged {
                    // float32 rows are used in place; float16 rows converted once.
                    if E.self == F32Row.self { xf = x.assumingMemoryBound(to: Float.self) } else { E.loadCenter(x, d, into: sf) }
                    staged = true
                }
                let lim = min(16, count &- j)
                mv = Swift.min(mv, lk_min_dist16_f32(cf, j, xf, d, lim))
                j &+= lim
            } else {
                let dd = E.dist2(x, cf + j &* d, d, scratch: tmp)
                if dd < mv { mv = dd }
                j &+= 1
            }
            if threshold > -.infinity && bound(ctx, objective, p, mv) < threshold { break }
        }
        ctx.m[p] = mv
        applied[p] = UInt32(truncatingIfNeeded: j)
        return (1, j &- start)
    }
}
