// The workers of a pruned greedy pass (see `ClusterPruner` in PrunedGreedy.swift) and the
// pointers they share.

extension ClusterPruner {
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
