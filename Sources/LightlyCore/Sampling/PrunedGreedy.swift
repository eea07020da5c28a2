// Exact triangle-inequality cluster skipping for the greedy passes (docs/selection.md
// §13). The picks are identical to the plain fused pass; only the number of
// rows whose distance to the new center is computed changes.
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

/// How much work the greedy passes did (the read counters of `sampling-bench --prune`).
///
/// A plain pass reads all |C| candidate rows of X; a pruned pass reads only the rows it
/// scans plus one float32 copy of every live center (for the center-to-center distances).
public struct SamplingStats: Sendable, Equatable {
    /// Fused passes with a new center (one per pick after the first).
    public var passes = 0
    /// Passes that ran with cluster skipping.
    public var prunedPasses = 0
    /// Passes that ran lazily (LazyGreedy.swift): only rows that could win were updated.
    public var lazyPasses = 0
    /// Row–center distances computed by the passes (a plain pass computes |C|; a lazy step
    /// may compute several per row it reads, against centers held in cache).
    public var distances = 0
    /// Row distances computed in the passes (plain passes count every candidate).
    public var rowsScanned = 0
    /// Center-to-center distances computed by the pruned passes.
    public var centerDistances = 0
    /// Candidates |C| per pass.
    public var candidates = 0
    /// Bytes of one stored row (d · element size).
    public var rowBytes = 0
    /// Bytes of one float32 center copy (d · 4).
    public var centerBytes = 0
    /// The pass (1-based) at which `.auto` gave up pruning, if it did.
    public var pruningStoppedAtPass: Int? = nil
    /// The pass (1-based) at which plain passes first replaced lazy steps, if they did.
    public var lazyStoppedAtPass: Int? = nil

    public init() {}

    /// Bytes of embeddings read by the passes: scanned rows plus center copies.
    public var bytesRead: Int { rowsScanned * rowBytes + centerDistances * centerBytes }
    /// What plain greedy reads: passes · |C| · d · b (the k·n·d·b of docs/selection.md §14).
    public var plainBytes: Int { passes * candidates * rowBytes }
    /// `plainBytes / bytesRead` (1 for plain runs, > 1 when pruning saved reads).
    public var readReduction: Double { bytesRead > 0 ? Double(plainBytes) / Double(bytesRead) : 1 }
    /// Fraction of candidate rows scanned over all passes.
    public var scannedFraction: Double {
        passes > 0 && candidates > 0 ? Double(rowsScanned) / Double(passes * candidates) : 1
    }
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

    // MARK: - Worker

    static func dispatch<E: RowElement>(_: E.Type, _ pc: PruneContext, objective: Objective,
                                        t: Int, lo: Int, hi: Int) -> PruneWorkerResult {
        switch pc.pass.d {
        case 32: return worker(E.self, pc, d: 32, objective: objective, t: t, lo: lo, hi: hi)
        case 64: return worker(E.self, pc, d: 64, objective: objective, t: t, lo: lo, hi: hi)
        case 128: return worker(E.self, pc, d: 128, objective: objective, t: t, lo: lo, hi: hi)
        case 256: return worker(E.self, pc, d: 256, objective: objective, t: t, lo: lo, hi: hi)
        case 512: return worker(E.self, pc, d: 512, objective: objective, t: t, lo: lo, hi: hi)
        default: return worker(E.self, pc, d: pc.pass.d, objective: objective, t: t, lo: lo, hi: hi)
        }
    }

    /// Distances of 16 rows (`row(l)` = sample row of lane l) with the plain pass's
    /// transposed reduction (Kernels.passChunk), so every lane equals hsum(rowAcc) + tail of
    /// its row bit for bit.
    @inline(__always) static func block16<E: RowElement>(_: E.Type, _ ctx: PassContext, d: Int, rowBytes: Int,
                                                         center c: UnsafePointer<Float>,
                                                         scratch: UnsafeMutablePointer<Float>,
                                                         _ row: (Int) -> Int) -> SIMD16<Float> {
        @inline(__always) func acc(_ l: Int) -> (SIMD16<Float>, Float) {
            E.rowAcc(ctx.base + row(l) &* rowBytes, c, d, scratch: scratch)
        }
        var tails = SIMD16<Float>()
        var tv = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                  SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
        withUnsafeMutableBytes(of: &tv) { raw in
            let tp = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: SIMD16<Float>.self)   // a tuple, never nil
            for i in 0 ..< 8 {
                let (v0, s0) = acc(2 &* i), (v1, s1) = acc(2 &* i &+ 1)
                tp[i] = Kernels.combine(v0, v1)
                if d & 15 != 0 { tails[2 * i] = s0; tails[2 * i + 1] = s1 }
            }
        }
        let u0 = Kernels.combine(tv.0, tv.1), u1 = Kernels.combine(tv.2, tv.3)
        let u2 = Kernels.combine(tv.4, tv.5), u3 = Kernels.combine(tv.6, tv.7)
        return Kernels.combine(Kernels.combine(u0, u1), Kernels.combine(u2, u3)) + tails
    }

    /// One worker's range `lo ..< hi` of positions (see the type comment).
    @inline(__always) static func worker<E: RowElement>(_: E.Type, _ pc: PruneContext, d: Int, objective: Objective,
                                                       t: Int, lo: Int, hi: Int) -> PruneWorkerResult {
        let ctx = pc.pass
        let m = ctx.m, asg = pc.assign, act = pc.active, c = pc.center
        let newID = pc.newID
        let part = pc.partials + t * pc.partialCap
        let delta = pc.deltas + t * pc.partialCap
        let list = pc.lists + t * (window + 16)
        let scratch = (pc.scratch + t * pc.scratchFloats * 4).assumingMemoryBound(to: Float.self)
        let rowBytes = d &* E.size
        let tighten = pc.tighten
        var arg = ArgmaxState()
        var scanned = 0, joined: Int32 = 0
        var rJ = SIMD16<Float>()
        var s = lo
        while s < hi {
            let e = min(hi, s &+ window)
            if pc.dense {
                // Every row: the plain pass's min update over the window (its C kernel where
                // it applies; its argmax is not used, step 3 below does that), then the rows
                // whose m dropped join the new cluster. The old m of the window is kept in
                // this worker's list buffer (unused by dense passes).
                let old = UnsafeMutableRawPointer(list)
                UnsafeMutableRawPointer(old).copyMemory(from: m + s, byteCount: (e &- s) &* 4)
                _ = Kernels.passDispatch(E.self, ctx, center: c, objective: .diversity, lo: s, hi: e)
                scanned &+= e &- s
                let mr = UnsafeMutableRawPointer(m), ar = UnsafeMutableRawPointer(asg)
                var p = s
                while p < e {
                    let mo: SIMD16<Float>, mn: SIMD16<Float>, ao: SIMD16<UInt32>, lanes: Int
                    if p &+ 16 <= e {
                        mo = old.loadUnaligned(fromByteOffset: (p &- s) &* 4, as: SIMD16<Float>.self)
                        mn = mr.loadUnaligned(fromByteOffset: p &* 4, as: SIMD16<Float>.self)
                        ao = ar.loadUnaligned(fromByteOffset: p &* 4, as: SIMD16<UInt32>.self)
                        lanes = 16
                    } else {                                    // fewer than 16 rows at the very end
                        var a = SIMD16<Float>(repeating: -1), b = a, u = SIMD16<UInt32>()
                        for l in 0 ..< e &- p {
                            a[l] = old.load(fromByteOffset: (p &- s &+ l) &* 4, as: Float.self)
                            b[l] = m[p &+ l]; u[l] = asg[p &+ l]
                        }
                        mo = a; mn = b; ao = u; lanes = e &- p
                    }
                    let upd = mn .< mo                          // the plain pass's strict update
                    if any(upd) {
                        for l in 0 ..< lanes where upd[l] {
                            delta[Int(ao[l])] &-= 1; joined &+= 1
                            asg[p &+ l] = newID
                            rJ[0] = max(rJ[0], mn[l])
                        }
                    }
                    if tighten {
                        for l in 0 ..< lanes where !upd[l] && mn[l] >= 0 {
                            let a = Int(ao[l])
                            if mn[l] > part[a] { part[a] = mn[l] }
                        }
                    }
                    p &+= 16
                }
            } else {
                // 1. Positions that need a distance: untaken, m > 0 (m cannot fall below 0),
                //    and unassigned or in an active cluster. Branch-free append.
                var cnt = 0
                for p in s ..< e {
                    list[cnt] = Int32(truncatingIfNeeded: p)
                    let need = m[p] > 0 && act[Int(asg[p])] != 0
                    cnt &+= need ? 1 : 0
                }
                scanned &+= cnt
                // 2. Their distances, 16 at a time through the list; the last block is
                //    padded with its final position (padded lanes are ignored).
                if cnt > 0 {
                    let last = list[cnt &- 1]
                    var q = cnt
                    while q & 15 != 0 { list[q] = last; q &+= 1 }
                }
                var q = 0
                while q < cnt {
                    let dd = block16(E.self, ctx, d: d, rowBytes: rowBytes, center: c, scratch: scratch) {
                        ctx.row(Int(list[q &+ $0]))
                    }
                    let valid = min(16, cnt &- q)
                    for l in 0 ..< valid {
                        let p = Int(list[q &+ l])
                        var mv = m[p]
                        if dd[l] < mv {                         // the plain pass's strict update
                            mv = dd[l]; m[p] = mv
                            delta[Int(asg[p])] &-= 1; joined &+= 1
                            asg[p] = newID
                        }
                        let a = Int(asg[p])                     // 0: unassigned (slot unused)
                        if mv > part[a] { part[a] = mv }
                    }
                    q &+= 16
                }
            }
            // 3. Argmax over the whole window of m (skipped rows keep their m).
            arg.scan(objective, ctx, lo: s, hi: e)
            s = e
        }
        delta[Int(newID)] &+= joined
        let rmax = rJ.max()
        if rmax > part[Int(newID)] { part[Int(newID)] = rmax }
        var r = PruneWorkerResult()
        r.best = arg.result(objective, m)
        r.scanned = scanned
        return r
    }
}

/// One worker's outcome of a pruned pass.
struct PruneWorkerResult {
    var best = ChunkBest()
    var scanned = 0
}

/// Raw pointers shared by the workers of one pruned pass.
///
/// `@unchecked Sendable` is safe for the same reason as `PassContext`: worker t writes only
/// `m`/`assign` in its own contiguous range, its own partial-radius row, list, scratch and
/// `results[t]`; `active`, the center and X are read-only during `concurrentPerform`.
struct PruneContext: @unchecked Sendable {
    var pass: PassContext
    var center: UnsafePointer<Float>
    var assign: UnsafeMutablePointer<UInt32>
    var active: UnsafePointer<UInt8>
    var newID: UInt32
    var dense: Bool
    /// Recompute radii: exact for every cluster whose rows are all seen in this pass.
    var tighten: Bool
    var partials: UnsafeMutablePointer<Float>
    var deltas: UnsafeMutablePointer<Int32>
    var partialCap: Int
    var lists: UnsafeMutablePointer<Int32>
    var scratch: UnsafeMutableRawPointer
    var scratchFloats: Int
    var results: UnsafeMutablePointer<PruneWorkerResult>
}

/// Running argmax of a pass objective over ascending position windows, with the plain pass's
/// rules (`Kernels.passChunk`): untaken rows only (m ≥ 0), larger value wins, the lowest
/// position wins ties; CORESET maximises m, CORAL its objective in float64 (the product form
/// vectorised with the same operations, the log form scalar).
struct ArgmaxState {
    var bV = SIMD16<Float>(repeating: -1)
    var bI = SIMD16<Int32>(repeating: -1)
    var oLo = SIMD8<Double>(repeating: -.infinity), oHi = SIMD8<Double>(repeating: -.infinity)
    var iLo = SIMD8<Int64>(repeating: -1), iHi = SIMD8<Int64>(repeating: -1)
    // Scalar candidate (tails and the log form).
    var sPos = -1
    var sM: Float = -1
    var sObj = -Double.infinity

    @inline(__always) mutating func scan(_ objective: Objective, _ ctx: PassContext, lo: Int, hi: Int) {
        let m = ctx.m
        let mr = UnsafeRawPointer(m)
        var p = lo
        switch objective {
        case .diversity:
            let lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            while p &+ 16 <= hi {
                let mv = mr.loadUnaligned(fromByteOffset: p &* 4, as: SIMD16<Float>.self)
                let better = mv .> bV
                bV.replace(with: mv, where: better)
                bI.replace(with: SIMD16(repeating: Int32(truncatingIfNeeded: p)) &+ lane, where: better)
                p &+= 16
            }
            while p < hi {
                let mv = m[p]
                if mv >= 0 && (sPos < 0 || mv > sM) { sM = mv; sPos = p }
                p &+= 1
            }
        case let .product(W, D):
            let wr = UnsafeRawPointer(ctx.w.unsafelyUnwrapped)
            while p &+ 16 <= hi {
                let mv = mr.loadUnaligned(fromByteOffset: p &* 4, as: SIMD16<Float>.self)
                Kernels.productLanes(mv, w: wr, p: p, W: W, D: D, oLo: &oLo, oHi: &oHi, iLo: &iLo, iHi: &iHi)
                p &+= 16
            }
            while p < hi {
                let mv = m[p]
                if mv >= 0 {
                    let o = (W + ctx.w.unsafelyUnwrapped[p]) * (D + Double(mv))
                    if sPos < 0 || o > sObj { sObj = o; sPos = p }
                }
                p &+= 1
            }
        case let .logs(W, D, alpha, beta):
            while p < hi {
                let mv = m[p]
                if mv >= 0 {
                    let o = Kernels.logTerm(alpha, W + ctx.w.unsafelyUnwrapped[p]) + Kernels.logTerm(beta, D + Double(mv))
                    if sPos < 0 || o > sObj { sObj = o; sPos = p }
                }
                p &+= 1
            }
        }
    }

    /// The winner over everything scanned: larger value, then lower position.
    func result(_ objective: Objective, _ m: UnsafeMutablePointer<Float>) -> ChunkBest {
        var best = ChunkBest()
        var bestM: Float = -1, bestObj = -Double.infinity, bestPos = -1
        switch objective {
        case .diversity:
            for l in 0 ..< 16 where bI[l] >= 0 {
                let v = bV[l], i = Int(bI[l])
                if bestPos < 0 || v > bestM || (v == bestM && i < bestPos) { bestM = v; bestPos = i }
            }
            if sPos >= 0 && (bestPos < 0 || sM > bestM || (sM == bestM && sPos < bestPos)) { bestPos = sPos }
        case .product, .logs:
            for l in 0 ..< 16 {
                let i = Int(l < 8 ? iLo[l] : iHi[l - 8]), v = l < 8 ? oLo[l] : oHi[l - 8]
                if i >= 0 && (bestPos < 0 || v > bestObj || (v == bestObj && i < bestPos)) { bestObj = v; bestPos = i }
            }
            if sPos >= 0 && (bestPos < 0 || sObj > bestObj || (sObj == bestObj && sPos < bestPos)) {
                bestObj = sObj; bestPos = sPos
            }
        }
        best.pos = bestPos
        best.m = bestPos >= 0 ? m[bestPos] : -1
        best.obj = bestObj
        return best
    }
}
