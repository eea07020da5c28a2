// Hot loops of the greedy samplers: fused distance/min/argmax passes. The blocked
// preselected-set initialisation is in Kernels+MinInit.swift, the C-kernel availability and
// wrappers in Kernels+CKernels.swift, element access in RowElement.swift. Everything works on
// raw pointers into the 64-byte-aligned embedding storage; no allocation proportional to n·d
// happens here.
#if canImport(Dispatch)
import Dispatch
#endif
import CLightlyKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Natural logarithm (libm), isolated so the kernels read as formulas.
@inline(__always) func _log(_ x: Double) -> Double { log(x) }

// MARK: - Per-chunk results

/// The best row of one chunk of a pass. `pos < 0` means the chunk had no untaken row.
@usableFromInline struct ChunkBest {
    var pos: Int = -1
    var m: Float = -1
    var obj: Double = -.infinity
}

/// What the argmax of a pass maximises.
@usableFromInline enum Objective: Sendable {
    /// CORESET: the min distance `m` itself.
    case diversity
    /// CORAL with equal strengths: `(W + w)·(D + m)` in Double (same order as the log form).
    case product(w: Double, d: Double)
    /// CORAL with unequal strengths: `α·ln(W + w) + β·ln(D + m)` in Double.
    case logs(w: Double, d: Double, alpha: Double, beta: Double)
}

/// Raw pointers shared by the workers of one pass.
///
/// `@unchecked Sendable` is safe because, during a pass, worker *t* writes only
/// `m[lo_t ..< hi_t]` (disjoint contiguous ranges) and `results[t]`; everything else is
/// read-only for the duration of the `concurrentPerform` call, which returns only after
/// every worker finished (a happens-before edge for the caller's subsequent reads).
@usableFromInline struct PassContext: @unchecked Sendable {
    var base: UnsafeRawPointer
    var d: Int
    /// Position → sample row; nil means the identity (all rows are candidates).
    var rowOf: UnsafePointer<UInt32>?
    /// Squared min distance per position; −1 marks a taken (selected) candidate.
    var m: UnsafeMutablePointer<Float>
    /// CORAL weights per position (nil for CORESET).
    var w: UnsafePointer<Double>?
    var count: Int
    var results: UnsafeMutablePointer<ChunkBest>

    /// The sample row of candidate position `p`.
    @inline(__always) func row(_ p: Int) -> Int { rowOf.map { Int($0[p]) } ?? p }
}

@usableFromInline enum Kernels {
    // MARK: - Row distance

    /// Horizontal sum as a fixed tree of adjacent pairs (lanes 2i + 2i+1, then again…).
    /// `reduce16` applies exactly the same tree to 16 rows at once, so a row's distance is
    /// bit-identical whether it is reduced alone or in a block (hence independent of how
    /// rows are split into chunks and threads).
    @inline(__always) static func hsum(_ v: SIMD16<Float>) -> Float {
        let a = v.evenHalf + v.oddHalf
        let b = a.evenHalf + a.oddHalf
        let c = b.evenHalf + b.oddHalf
        return c[0] + c[1]
    }

    /// Float → Double per lane; written as a lane loop, which LLVM turns into one
    /// vcvtps2pd (the generic SIMD conversion initialiser is not inlined).
    @inline(__always) static func toDouble(_ v: SIMD8<Float>) -> SIMD8<Double> {
        var r = SIMD8<Double>()
        for l in 0 ..< 8 { r[l] = Double(v[l]) }
        return r
    }

    /// One level of the transposed reduction: adjacent-pair sums of `a` then of `b`.
    @inline(__always) static func combine(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16(lowHalf: a.evenHalf, highHalf: b.evenHalf) + SIMD16(lowHalf: a.oddHalf, highHalf: b.oddHalf)
    }

    /// Squared Euclidean distance between a stored row and a float32 center.
    ///
    /// Summation order is fixed for a given `d`: 16-lane chunks go to 8 SIMD16 partial sums
    /// (chunk q of each 128-block to accumulator q; a 64/32/16 remainder to accumulators
    /// 0–3/4–5/6), a scalar tail is added last, and the partial sums are reduced as a fixed
    /// tree. The result is therefore identical whatever the threading.
    @inline(__always) static func rowAcc<E: RowElement>(_: E.Type, _ x: UnsafeRawPointer,
                                                        _ c: UnsafePointer<Float>, _ d: Int) -> (SIMD16<Float>, Float) {
        let cr = UnsafeRawPointer(c)
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        var j = 0
        @inline(__always) func df(_ j: Int) -> SIMD16<Float> {
            E.load16(x, j) - cr.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self)
        }
        // Small dimensions without the zero accumulators. Bit-identical to the general
        // tree below: unused accumulators are +0, and x + 0 == x exactly for x ≥ 0.
        if d == 16 { let e = df(0); return (e * e, 0) }
        if d == 32 { let e0 = df(0), e1 = df(16); return (e0 * e0 + e1 * e1, 0) }
        while j &+ 128 <= d {
            a0 = addSquare(a0, df(j)); a1 = addSquare(a1, df(j &+ 16))
            a2 = addSquare(a2, df(j &+ 32)); a3 = addSquare(a3, df(j &+ 48))
            a4 = addSquare(a4, df(j &+ 64)); a5 = addSquare(a5, df(j &+ 80))
            a6 = addSquare(a6, df(j &+ 96)); a7 = addSquare(a7, df(j &+ 112))
            j &+= 128
        }
        if j &+ 64 <= d {
            a0 = addSquare(a0, df(j)); a1 = addSquare(a1, df(j &+ 16))
            a2 = addSquare(a2, df(j &+ 32)); a3 = addSquare(a3, df(j &+ 48))
            j &+= 64
        }
        if j &+ 32 <= d { a4 = addSquare(a4, df(j)); a5 = addSquare(a5, df(j &+ 16)); j &+= 32 }
        if j &+ 16 <= d { a6 = addSquare(a6, df(j)); j &+= 16 }
        var tail: Float = 0
        while j < d {
            let e = E.load1(x, j) - c[j]
            tail += e * e
            j &+= 1
        }
        return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)), tail)
    }

    // MARK: - Fused pass

    /// One chunk of a fused pass: for each untaken position in `lo ..< hi`, update
    /// `m = min(m, dist2(x, center))` (when `center` is given) and track the argmax of the
    /// objective. Ties keep the earlier (lower) position. Rows with m = 0 skip the distance:
    /// the minimum cannot fall below 0.
    @inline(__always) static func passChunk<E: RowElement>(_: E.Type, _ ctx: PassContext, d: Int,
                                                           center: UnsafePointer<Float>?,
                                                           objective: Objective,
                                                           lo: Int, hi: Int, cPolicy: CKernelPolicy = .auto) -> ChunkBest {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(64, d &* 4), alignment: 64)
            .assumingMemoryBound(to: Float.self)
        defer { scratch.deallocate() }
        return passChunkBody(E.self, ctx, d: d, center: center, objective: objective, lo: lo, hi: hi, cPolicy: cPolicy,
                             scratch: scratch)
    }

    @inline(__always) static func passChunkBody<E: RowElement>(_: E.Type, _ ctx: PassContext, d: Int,
                                                           center: UnsafePointer<Float>?,
                                                           objective: Objective,
                                                           lo: Int, hi: Int, cPolicy: CKernelPolicy,
                                                               scratch: UnsafeMutablePointer<Float>) -> ChunkBest {
        let m = ctx.m
        let rowBytes = d &* E.size
        var best = ChunkBest()
        var bestM: Float = -1, bestPos = -1
        var bestObj = -Double.infinity
        var start = lo
        if let c = center, hi - lo >= 16 {
            // Blocks of 16 rows: transposed reduction of the row accumulators, then the min
            // update and (for CORESET) the argmax as 16-lane vector operations. Taken rows
            // hold m = −1, which min() keeps and the strict `>` never selects.
            @inline(__always) func acc(_ q: Int) -> (SIMD16<Float>, Float) {
                let r = ctx.row(q)
                return E.rowAcc(ctx.base + r &* rowBytes, c, d, scratch: scratch)
            }
            var bV = SIMD16<Float>(repeating: -1)
            var bI = SIMD16<Int32>(repeating: -1)
            var oLo = SIMD8<Double>(repeating: -.infinity), oHi = oLo
            var iLo = SIMD8<Int64>(repeating: -1), iHi = iLo
            let lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            let mr = UnsafeMutableRawPointer(m)
            // The C kernels where they apply (same arithmetic; see `cKernel`).
            var p = lo
            if let kind = Kernels.cKernel(E.self, d: d, policy: cPolicy) {
                let f32 = ctx.base.assumingMemoryBound(to: Float.self)
                let f16 = ctx.base.assumingMemoryBound(to: UInt16.self)
                switch objective {
                case .diversity:
                    // Copies, so that bV/bI stay in registers in the Swift loop below.
                    var cV = bV, cI = bI
                    withUnsafeMutableBytes(of: &cV) { vb in
                        withUnsafeMutableBytes(of: &cI) { ib in
                            // Locals, never nil.
                            let v = vb.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: Float.self)
                            let i = ib.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: Int32.self)
                            switch kind {
                            case .f32: p = lk_pass_diversity_f32(f32, ctx.rowOf, c, d, m, lo, hi, v, i)
                            case .f16: p = lk_pass_diversity_f16(f16, ctx.rowOf, c, d, m, lo, hi, v, i)
                            }
                        }
                    }
                    bV = cV; bI = cI
                case let .product(W, D):
                    var o = (oLo, oHi), ix = (iLo, iHi)
                    let w = ctx.w.unsafelyUnwrapped
                    withUnsafeMutableBytes(of: &o) { ob in
                        withUnsafeMutableBytes(of: &ix) { ib in
                            // Locals, never nil.
                            let ov = ob.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: Double.self)
                            let iv = ib.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: Int64.self)
                            switch kind {
                            case .f32: p = lk_pass_product_f32(f32, ctx.rowOf, c, d, m, w, W, D, lo, hi, ov, iv)
                            case .f16: p = lk_pass_product_f16(f16, ctx.rowOf, c, d, m, w, W, D, lo, hi, ov, iv)
                            }
                        }
                    }
                    (oLo, oHi) = o; (iLo, iHi) = ix
                case .logs:
                    break
                }
            }
            while p &+ 16 <= hi {
                var tails = SIMD16<Float>()
                var t = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                         SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
                withUnsafeMutableBytes(of: &t) { raw in
                    let tp = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: SIMD16<Float>.self)   // a tuple, never nil
                    for i in 0 ..< 8 {
                        let (v0, s0) = acc(p &+ 2 &* i), (v1, s1) = acc(p &+ 2 &* i &+ 1)
                        tp[i] = combine(v0, v1)
                        if d & 15 != 0 { tails[2 * i] = s0; tails[2 * i + 1] = s1 }
                    }
                }
                let u0 = combine(t.0, t.1), u1 = combine(t.2, t.3), u2 = combine(t.4, t.5), u3 = combine(t.6, t.7)
                let dd = combine(combine(u0, u1), combine(u2, u3)) + tails
                let mv = pointwiseMin(mr.loadUnaligned(fromByteOffset: p &* 4, as: SIMD16<Float>.self), dd)
                mr.storeBytes(of: mv, toByteOffset: p &* 4, as: SIMD16<Float>.self)
                switch objective {
                case .diversity:
                    let better = mv .> bV
                    bV.replace(with: mv, where: better)
                    bI.replace(with: SIMD16(repeating: Int32(truncatingIfNeeded: p)) &+ lane, where: better)
                case let .product(W, D):
                    productLanes(mv, w: UnsafeRawPointer(ctx.w.unsafelyUnwrapped), p: p, W: W, D: D,
                                 oLo: &oLo, oHi: &oHi, iLo: &iLo, iHi: &iHi)
                case let .logs(W, D, alpha, beta):
                    for l in 0 ..< 16 where mv[l] >= 0 {
                        let o = logTerm(alpha, W + ctx.w.unsafelyUnwrapped[p &+ l]) + logTerm(beta, D + Double(mv[l]))
                        if bestPos < 0 || o > bestObj { bestObj = o; bestPos = p &+ l }
                    }
                }
                p &+= 16
            }
            if case .diversity = objective {
                for l in 0 ..< 16 where bI[l] >= 0 {
                    let v = bV[l], i = Int(bI[l])
                    if bestPos < 0 || v > bestM || (v == bestM && i < bestPos) { bestM = v; bestPos = i }
                }
            }
            if case .product = objective {
                for l in 0 ..< 16 {
                    let i = Int(l < 8 ? iLo[l] : iHi[l - 8]), v = l < 8 ? oLo[l] : oHi[l - 8]
                    if i >= 0 && (bestPos < 0 || v > bestObj || (v == bestObj && i < bestPos)) { bestObj = v; bestPos = i }
                }
            }
            start = p
        }
        for p in start ..< hi {
            var mv = m[p]
            if mv < 0 { continue }                     // taken
            if let c = center, mv > 0 {
                let r = ctx.row(p)
                let dd = E.dist2(ctx.base + r &* rowBytes, c, d, scratch: scratch)
                if dd < mv { mv = dd; m[p] = dd }
            }
            switch objective {
            case .diversity:
                if mv > bestM { bestM = mv; bestPos = p }
            case let .product(W, D):
                let o = (W + ctx.w.unsafelyUnwrapped[p]) * (D + Double(mv))
                if bestPos < 0 || o > bestObj { bestObj = o; bestPos = p }
            case let .logs(W, D, alpha, beta):
                let o = logTerm(alpha, W + ctx.w.unsafelyUnwrapped[p]) + logTerm(beta, D + Double(mv))
                if bestPos < 0 || o > bestObj { bestObj = o; bestPos = p }
            }
        }
        best.pos = bestPos
        best.m = bestPos >= 0 ? m[bestPos] : -1
        best.obj = bestObj
        return best
    }

    /// CORAL's product objective for the 16-row block at position p, vectorised in float64:
    /// o = (W + w)(D + m), −inf for taken rows (m < 0). Per lane the strict `>` keeps the
    /// earliest row (lanes 0–7 in `oLo`/`iLo`, 8–15 in `oHi`/`iHi`); callers merge the lanes.
    /// The C kernel `lk_pass_product_*` does exactly these operations.
    @inline(__always) static func productLanes(_ mv: SIMD16<Float>, w wr: UnsafeRawPointer, p: Int, W: Double, D: Double,
                                               oLo: inout SIMD8<Double>, oHi: inout SIMD8<Double>,
                                               iLo: inout SIMD8<Int64>, iHi: inout SIMD8<Int64>) {
        let lane8 = SIMD8<Int64>(0, 1, 2, 3, 4, 5, 6, 7)
        let mlo = toDouble(mv.lowHalf), mhi = toDouble(mv.highHalf)
        var olo = (SIMD8(repeating: W) + wr.loadUnaligned(fromByteOffset: p &* 8, as: SIMD8<Double>.self))
            * (SIMD8(repeating: D) + mlo)
        var ohi = (SIMD8(repeating: W) + wr.loadUnaligned(fromByteOffset: (p &+ 8) &* 8, as: SIMD8<Double>.self))
            * (SIMD8(repeating: D) + mhi)
        olo.replace(with: -.infinity, where: mlo .< 0)
        ohi.replace(with: -.infinity, where: mhi .< 0)
        let blo = olo .> oLo, bhi = ohi .> oHi
        oLo.replace(with: olo, where: blo)
        oHi.replace(with: ohi, where: bhi)
        let base64 = SIMD8<Int64>(repeating: Int64(p))
        iLo.replace(with: base64 &+ lane8, where: blo)
        iHi.replace(with: base64 &+ lane8 &+ 8, where: bhi)
    }

    /// `coef·ln(x)` with `0·ln(·) = 0` (a zero strength removes the factor).
    @inline(__always) static func logTerm(_ coef: Double, _ x: Double) -> Double {
        coef == 0 ? 0 : coef * _log(x)
    }

    /// Runs a fused pass over all positions, split into `chunks` contiguous ranges
    /// (fixed for the job), and reduces the per-chunk winners in chunk order:
    /// larger value wins, equal values keep the lower position. Hence the winner does not
    /// depend on the number of chunks.
    static func pass(_ ctx: PassContext, storage: EmbeddingStorage, center: UnsafePointer<Float>?,
                     objective: Objective, chunks: Int) -> ChunkBest {
        nonisolated(unsafe) let c = center   // read-only during the pass (see PassContext)
        let n = ctx.count
        let body: @Sendable (Int) -> Void = { t in
            // Chunk bounds are multiples of 16 (aligned 16-row blocks; results do not depend
            // on the bounds either way).
            let lo = (n * t / chunks) & ~15, hi = t == chunks - 1 ? n : (n * (t + 1) / chunks) & ~15
            let r: ChunkBest
            switch storage {
            case .float32: r = passDispatch(F32Row.self, ctx, center: c, objective: objective, lo: lo, hi: hi)
            case .float16: r = passDispatch(F16Row.self, ctx, center: c, objective: objective, lo: lo, hi: hi)
            }
            ctx.results[t] = r
        }
        if chunks == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: chunks, execute: body) }
        var best = ChunkBest()
        for t in 0 ..< chunks {
            let r = ctx.results[t]
            guard r.pos >= 0 else { continue }
            switch objective {
            case .diversity:
                if best.pos < 0 || r.m > best.m { best = r }
            default:
                if best.pos < 0 || r.obj > best.obj { best = r }
            }
        }
        return best
    }

    /// Specialises the chunk kernel for common dimensions so the compiler can unroll the
    /// distance loop and keep the center in registers.
    static func passDispatch<E: RowElement>(_: E.Type, _ ctx: PassContext, center: UnsafePointer<Float>?,
                                            objective: Objective, lo: Int, hi: Int) -> ChunkBest {
        switch (ctx.d, objective) {
        case (32, .diversity): return passChunk(E.self, ctx, d: 32, center: center, objective: .diversity, lo: lo, hi: hi)
        case (64, .diversity): return passChunk(E.self, ctx, d: 64, center: center, objective: .diversity, lo: lo, hi: hi)
        case (128, .diversity): return passChunk(E.self, ctx, d: 128, center: center, objective: .diversity, lo: lo, hi: hi)
        case (256, .diversity): return passChunk(E.self, ctx, d: 256, center: center, objective: .diversity, lo: lo, hi: hi)
        case (512, .diversity): return passChunk(E.self, ctx, d: 512, center: center, objective: .diversity, lo: lo, hi: hi)
        case (_, .diversity): return passChunk(E.self, ctx, d: ctx.d, center: center, objective: .diversity, lo: lo, hi: hi)
        case (32, .product): return passChunk(E.self, ctx, d: 32, center: center, objective: objective, lo: lo, hi: hi)
        case (128, .product): return passChunk(E.self, ctx, d: 128, center: center, objective: objective, lo: lo, hi: hi)
        case (_, .product): return passChunk(E.self, ctx, d: ctx.d, center: center, objective: objective, lo: lo, hi: hi)
        case (_, .logs): return passChunk(E.self, ctx, d: ctx.d, center: center, objective: objective, lo: lo, hi: hi)
        }
    }

    // MARK: - Misc

    /// True when all `count` elements are finite (x·0 is ±0 exactly when x is finite).
    static func allFinite<E: RowElement>(_: E.Type, _ base: UnsafeRawPointer, count: Int) -> Bool {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= count { acc += E.load16(base, i) * 0; i += 16 }
        var s: Float = 0
        while i < count { s += E.load1(base, i) * 0; i += 1 }
        return acc == SIMD16<Float>() && s == 0
    }
}
