// Exact triangle-inequality cluster skipping for the greedy passes (docs/selection.md
// §13). The picks are identical to the plain fused pass; only the number of
// rows whose distance to the new center is computed changes. The pass's workers are in
// ClusterPruner+Worker.swift, its argmax in ArgmaxState.swift, the counters in SamplingStats.swift.
#if canImport(Dispatch)
import Dispatch
#endif
import CLightlyKernels

/// Whether CORESET/CORAL passes skip rows that the triangle inequality proves unaffected by
/// the new center. Never changes the result, only the work. Not part of the request JSON.
public enum ClusterPruning: String, Sendable, Equatable, CaseIterable {
    /// Prune when the job is large enough to pay (many picks, many rows), and switch back to
    /// the plain pass for good when too few rows are skipped (e.g. isotropic data).
    case auto
    /// Always the plain fused pass.
    case off
    /// Always the pruned pass, however little it skips (for tests and benchmarks).
    case on
}

/// Cluster-skipping state of one greedy job.
///
/// Every candidate position i keeps `assign[i]`, the 1-based index of the center whose
/// direct-kernel distance set `m[i]` (0 = none: m came from the preselected init or is
/// still +inf). Each center j keeps an upper bound `r2[j]` of `m` over its cluster. A new
/// center c cannot lower `m[i]` for a member i of cluster j when
/// `dist2(c, c_j) ≥ 4·r2[j]·(1+δ)²`: in exact arithmetic ‖x−c‖ ≥ ‖c−c_j‖ − ‖x−c_j‖ ≥ r_j ≥
/// ‖x−c_j‖, and δ (≥ 1e-3, growing with d) absorbs the relative error (≤ (d+2)·2⁻²⁴) of
/// the three computed squared distances, so the computed `dd ≥ m[i]` and the plain pass
/// (which updates only when `dd < m`) would leave the row unchanged. Such rows are not read.
/// Members only ever leave a cluster (to the newest center), and the m of those that stay
/// does not change, so a radius bound never becomes invalid, only loose.
///
/// Two kinds of pass, chosen from the exact cluster sizes:
/// - **sparse** (rows to scan < `denseFraction`·n): rows are scattered over clusters, so
///   each worker lists the rows of active clusters (and unassigned rows) per window of
///   `window` positions, computes them 16 at a time through that list (the plain pass's
///   reduction tree, hence bit-identical values), recomputes the radii of the active
///   clusters exactly, and runs the argmax over the whole window of `m`.
/// - **dense** (most rows must be scanned anyway, e.g. early on or on isotropic data): the
///   plain pass over all rows with vector updates of m and assign; radii are tightened
///   (one scalar scatter per row) only every `tightenEvery`-th dense pass.
/// The argmax follows the plain pass's rules exactly (see `ArgmaxState`).
///
/// Memory: 4 B per candidate (`assign`) on top of the plain path's ≤ 20 B, plus
/// O(k·(d + threads)) for centers, radii, sizes and per-thread partials, plus
/// O(threads·window) for the position lists.
final class ClusterPruner {
    /// Positions per list window: 4 KiB of m and of assign, L1-resident for the argmax.
    static let window = 1024
    /// Dense pass when at least this fraction of rows would be scanned: the sparse pass's
    /// per-row bookkeeping (≈ +50 % per scanned row, plus a classification of every row)
    /// then costs more than it saves.
    static let denseFraction = 0.6
    /// Dense passes recompute all radii every this many dense passes.
    static let tightenEvery = 4
    /// `.auto`: fewest picks for which pruning is tried at all (docs/selection.md §13: on clustered
    /// data nothing is skipped before ≈ 100 centers, and little before ≈ 300).
    static let autoMinNeed = 500
    /// `.auto`: fewest candidates (smaller problems are cache-resident and cheap anyway).
    static let autoMinCandidates = 16_384
    /// `.auto`: passes between checks of the recent scanned fraction.
    static let checkInterval = 32
    /// `.auto`: stop pruning when more than this fraction of rows was scanned over the
    /// last `checkInterval` passes (the bookkeeping then costs about what it saves)…
    static let giveUpFraction = 0.9
    /// …once at least this many pruned passes ran, and at least `need/giveUpDivisor`.
    /// Clustered data scan ~100 % for the first few hundred passes before skipping starts
    /// (docs/selection.md §13; sampling-bench --prune-clusters 1000 gave up wrongly at need/16), while
    /// dense passes on unskippable data cost only a few % over plain, so patience is cheap.
    static let minPassesBeforeGivingUp = 256
    static let giveUpDivisor = 4

    let mode: ClusterPruning
    let n: Int
    let d: Int
    let need: Int
    let storage: EmbeddingStorage
    private(set) var enabled = true
    /// 1-based center index per candidate position; 0 = unassigned. n entries.
    let assign: UnsafeMutablePointer<UInt32>
    /// Float32 centers in the storage type's center layout (`RowElement.loadCenter`),
    /// row j−1 for center j.
    private var centers: [Float] = []
    /// r2[j]: upper bound of m over cluster j (r2[0] unused).
    private var r2: [Float] = [0]
    /// sizes[j]: positions assigned to j (taken ones included); sizes[0]: unassigned.
    private var sizes: [Int] = [0]
    /// active[j] ≠ 0: cluster j must be scanned in this pass. active[0] = 1 (unassigned).
    private var active: [UInt8] = [1]
    /// Clusters with r2 > 0, ascending (clusters with r2 = 0 can never change again).
    private var live: [Int32] = []
    private var activeList: [Int32] = []
    /// Clusters whose partials are reset and merged in this pass.
    private var touched: [Int32] = []
    /// Per worker: partial radii and size deltas (capacity `partialCap` each), position
    /// lists, scratch.
    private var partials: UnsafeMutablePointer<Float>
    private var deltas: UnsafeMutablePointer<Int32>
    private var partialCap: Int
    private let lists: UnsafeMutablePointer<Int32>
    private let scratch: UnsafeMutableRawPointer
    private let workerResults: UnsafeMutablePointer<PruneWorkerResult>
    private let maxChunks: Int
    private let scratchFloats: Int
    private let delta2: Double
    private var denseCount = 0
    private var windowScanned = 0
    private var windowPasses = 0

    /// The pruner for a job, or nil when the mode (or `.auto`'s size rule) says plain passes.
    static func make(mode: ClusterPruning, candidates n: Int, dimension d: Int, need: Int,
                     storage: EmbeddingStorage, chunks: Int) -> ClusterPruner? {
        switch mode {
        case .off: return nil
        case .auto:
            guard need >= autoMinNeed, n >= autoMinCandidates else { return nil }
        case .on: break
        }
        guard n > 0, d > 0 else { return nil }
        return ClusterPruner(mode: mode, n: n, d: d, need: need, storage: storage, chunks: chunks)
    }

    private init(mode: ClusterPruning, n: Int, d: Int, need: Int, storage: EmbeddingStorage, chunks: Int) {
        self.mode = mode
        self.n = n
        self.d = d
        self.need = need
        self.storage = storage
        assign = .allocate(capacity: n)
        assign.initialize(repeating: 0, count: n)
        sizes[0] = n
        maxChunks = max(1, chunks)
        partialCap = 64
        partials = .allocate(capacity: maxChunks * partialCap)
        deltas = .allocate(capacity: maxChunks * partialCap)
        lists = .allocate(capacity: maxChunks * (Self.window + 16))
        scratchFloats = (d + 15) & ~15
        scratch = .allocate(byteCount: maxChunks * scratchFloats * 4, alignment: 64)
        workerResults = .allocate(capacity: maxChunks)
        workerResults.initialize(repeating: PruneWorkerResult(), count: maxChunks)
        // Relative error bound of one computed dist2 (positive terms, any summation order),
        // with slack; δ covers three such errors with a wide margin (see the type comment).
        let eps = Double(d + 2) * 0x1p-24
        let delta = max(1e-3, 8 * eps)
        delta2 = (1 + delta) * (1 + delta)
        centers.reserveCapacity(min(need, 1 << 16) * d)
    }

    deinit {
        assign.deallocate()
        partials.deallocate()
        deltas.deallocate()
        lists.deallocate()
        scratch.deallocate()
        workerResults.deallocate()
    }

    /// The fused pass for the center just picked: updates `m` exactly like
    /// `Kernels.pass(ctx, center:)`, keeps the clusters, and returns the same argmax.
    ///
    /// - Parameters:
    ///   - center: the new center in the storage type's center layout (`loadCenter`).
    ///   - chunks: the job's fixed worker count (≤ the count given to `make`).
    func pass(_ ctx: PassContext, center: UnsafePointer<Float>, objective: Objective, chunks: Int,
              stats: inout SamplingStats) -> ChunkBest {
        stats.passes += 1
        guard enabled else {
            stats.rowsScanned += ctx.count
            stats.distances += ctx.count
            return Kernels.pass(ctx, storage: storage, center: center, objective: objective, chunks: chunks)
        }
        stats.prunedPasses += 1
        precondition(chunks <= maxChunks && ctx.count == n, "ClusterPruner: job shape changed")

        // New cluster J, then the clusters the new center may affect.
        let newID = r2.count
        for j in 0 ..< d { centers.append(center[j]) }
        r2.append(0)
        sizes.append(0)
        active.append(0)
        for j in activeList { active[Int(j)] = 0 }
        activeList.removeAll(keepingCapacity: true)
        var toScan = sizes[0]
        centers.withUnsafeBufferPointer { cb in
            guard let cbase = cb.baseAddress else { return }
            let cs = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: Float.self)
            for j in live {
                let cj = UnsafeRawPointer(cbase + (Int(j) - 1) * d)
                let cc = F32Row.dist2(cj, center, d, scratch: cs)
                if Double(cc) < 4 * Double(r2[Int(j)]) * delta2 {
                    active[Int(j)] = 1
                    activeList.append(j)
                    toScan += sizes[Int(j)]
                }
            }
        }
        stats.centerDistances += live.count
        let dense = Double(toScan) >= Self.denseFraction * Double(n)
        let tightenAll = dense && denseCount % Self.tightenEvery == 0
        if dense { denseCount += 1 }

        // Per-worker partials for the clusters this pass can change: rows leave only active
        // clusters (or the unassigned pool) and join only J.
        if newID >= partialCap {
            partials.deallocate()
            deltas.deallocate()
            partialCap = max(newID + 1, partialCap * 2)
            partials = .allocate(capacity: maxChunks * partialCap)
            deltas = .allocate(capacity: maxChunks * partialCap)
        }
        touched.removeAll(keepingCapacity: true)
        touched.append(0)
        touched.append(contentsOf: tightenAll ? live : activeList)
        touched.append(Int32(newID))
        for t in 0 ..< chunks {
            let p = partials + t * partialCap, q = deltas + t * partialCap
            for j in touched { p[Int(j)] = 0; q[Int(j)] = 0 }
        }

        let best: ChunkBest = active.withUnsafeBufferPointer { ab in
            let pc = PruneContext(pass: ctx, center: center, assign: assign,
                                  active: ab.baseAddress.unsafelyUnwrapped,   // never empty: active[0]
                                  newID: UInt32(newID), dense: dense, tighten: !dense || tightenAll,
                                  partials: partials, deltas: deltas, partialCap: partialCap,
                                  lists: lists, scratch: scratch, scratchFloats: scratchFloats,
                                  results: workerResults)
            let storage = self.storage
            let n = self.n
            let body: @Sendable (Int) -> Void = { t in
                let lo = (n * t / chunks) & ~15, hi = t == chunks - 1 ? n : (n * (t + 1) / chunks) & ~15
                let r: PruneWorkerResult
                switch storage {
                case .float32: r = Self.dispatch(F32Row.self, pc, objective: objective, t: t, lo: lo, hi: hi)
                case .float16: r = Self.dispatch(F16Row.self, pc, objective: objective, t: t, lo: lo, hi: hi)
                }
                pc.results[t] = r
            }
            if chunks == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: body) }
            // Same reduction as Kernels.pass: chunk order, strict improvement.
            var best = ChunkBest()
            for t in 0 ..< chunks {
                let r = workerResults[t].best
                guard r.pos >= 0 else { continue }
                switch objective {
                case .diversity: if best.pos < 0 || r.m > best.m { best = r }
                default: if best.pos < 0 || r.obj > best.obj { best = r }
                }
            }
            return best
        }

        // Sizes; exact radii of the clusters whose rows were all seen (a dense pass without
        // tightening knows only J's); drop clusters that can no longer change.
        var scanned = 0
        for t in 0 ..< chunks { scanned += workerResults[t].scanned }
        let exact = !dense || tightenAll
        for j in touched.lazy.map(Int.init) {
            var v: Float = 0, dn = 0
            for t in 0 ..< chunks { v = max(v, partials[t * partialCap + j]); dn += Int(deltas[t * partialCap + j]) }
            sizes[j] += dn
            if j != 0 && (exact || j == newID) { r2[j] = v }
        }
        live.removeAll { r2[Int($0)] == 0 }
        if r2[newID] > 0 { live.append(Int32(newID)) }
        stats.rowsScanned += scanned
        stats.distances += scanned

        if mode == .auto {
            windowScanned += scanned
            windowPasses += 1
            if windowPasses == Self.checkInterval {
                let fraction = Double(windowScanned) / Double(windowPasses * n)
                if stats.prunedPasses >= max(Self.minPassesBeforeGivingUp, need / Self.giveUpDivisor) && fraction > Self.giveUpFraction {
                    enabled = false
                    stats.pruningStoppedAtPass = stats.passes
                }
                windowScanned = 0
                windowPasses = 0
            }
        }
        return best
    }
}
