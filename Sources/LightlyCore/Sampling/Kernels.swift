// Hot loops of the greedy samplers: fused distance/min/argmax passes and the blocked
// preselected-set initialisation. Everything works on raw pointers into the 64-byte-aligned
// embedding storage; no allocation proportional to n·d happens here.
#if canImport(Dispatch)
import Dispatch
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Natural logarithm (libm), isolated so the kernels read as formulas.
@inline(__always) func _log(_ x: Double) -> Double { log(x) }

// MARK: - Element access

/// How the kernels read one stored element type as float32.
@usableFromInline protocol RowElement: SendableMetatype {
    static var size: Int { get }
    static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float>
    static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float
    /// Writes row `src` as the float32 center in the lane order `dist2` expects.
    static func loadCenter(_ src: UnsafeRawPointer, _ d: Int, into c: UnsafeMutablePointer<Float>)
    /// Squared distance between a stored row and a center prepared by `loadCenter`.
    /// `scratch` holds at least d floats (used to stage converted float16 rows).
    static func dist2(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int, scratch: UnsafeMutablePointer<Float>) -> Float
}

/// `acc + e·e`: one fused multiply-add when the build targets a CPU with FMA
/// (`LIGHTLY_FMA`, set with LIGHTLY_TARGET_CPU in Package.swift), else a multiply and an add.
/// Either way the rounding is fixed for a given build.
@inline(__always) func addSquare(_ acc: SIMD16<Float>, _ e: SIMD16<Float>) -> SIMD16<Float> {
    #if LIGHTLY_FMA
    return acc.addingProduct(e, e)
    #else
    return acc + e * e
    #endif
}

@usableFromInline enum F32Row: RowElement {
    @inline(__always) @usableFromInline static var size: Int { 4 }
    @inline(__always) @usableFromInline static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
    }
    @inline(__always) @usableFromInline static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
    }
    @inline(__always) @usableFromInline static func loadCenter(_ src: UnsafeRawPointer, _ d: Int, into c: UnsafeMutablePointer<Float>) {
        for j in 0 ..< d { c[j] = load1(src, j) }
    }
    @inline(__always) @usableFromInline static func dist2(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int,
                                                          scratch: UnsafeMutablePointer<Float>) -> Float {
        Kernels.dist2(F32Row.self, x, c, d)
    }
}

@usableFromInline enum F16Row: RowElement {
    @inline(__always) @usableFromInline static var size: Int { 2 }
    /// Portable conversion (no F16C needed; scalar Float16→Float would be a libcall per
    /// element on baseline x86-64). Converts 16 binary16 bit patterns held in the low 16 bits of each lane to float32,
    /// exactly for every finite value (normals and subnormals): the magnitude bits shifted
    /// into a float32 are off by a factor 2^-112, which one exact multiply restores.
    /// (Inf/NaN are not preserved; `allFinite` checks the bit patterns instead.)
    @inline(__always) static func convert(_ w: SIMD16<UInt32>) -> SIMD16<Float> {
        let mag = unsafeBitCast((w & 0x7fff) &<< 13, to: SIMD16<Float>.self) * 0x1p112
        return unsafeBitCast(unsafeBitCast(mag, to: SIMD16<UInt32>.self) | ((w & 0x8000) &<< 16),
                             to: SIMD16<Float>.self)
    }
    /// Elements i, i+2, …, i+30 (even lanes of a 32-element block).
    @inline(__always) static func loadEvenOdd(_ p: UnsafeRawPointer, _ i: Int) -> (SIMD16<Float>, SIMD16<Float>) {
        let u = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD16<UInt32>.self)
        return (convert(u & 0xffff), convert(u &>> 16))
    }
    @inline(__always) @usableFromInline static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        for l in 0 ..< 16 { r[l] = load1(p, i &+ l) }
        return r
    }
    @inline(__always) @usableFromInline static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(p.loadUnaligned(fromByteOffset: i &* 2, as: Float16.self))
    }
    #if LIGHTLY_FMA
    // Built for a CPU with F16C (LIGHTLY_TARGET_CPU): the lane loop of `load16` compiles to
    // one vcvtph2ps, so rows use the float32 kernel unchanged.
    @inline(__always) @usableFromInline static func loadCenter(_ src: UnsafeRawPointer, _ d: Int, into c: UnsafeMutablePointer<Float>) {
        for j in 0 ..< d { c[j] = load1(src, j) }
    }
    @inline(__always) @usableFromInline static func dist2(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int,
                                                          scratch: UnsafeMutablePointer<Float>) -> Float {
        convertRow(x, scratch, d)
        return Kernels.dist2(F32Row.self, UnsafeRawPointer(scratch), c, d)
    }
    /// Stages one row as float32. Kept out of line on purpose: in this small function LLVM
    /// turns the 16-lane loop into a single vcvtph2ps, which it fails to do once inlined
    /// into the large pass loop.
    @inline(never) static func convertRow(_ p: UnsafeRawPointer, _ q: UnsafeMutablePointer<Float>, _ n: Int) {
        let qr = UnsafeMutableRawPointer(q)
        var i = 0
        while i &+ 16 <= n {
            var r = SIMD16<Float>()
            for l in 0 ..< 16 { r[l] = Float(p.loadUnaligned(fromByteOffset: (i &+ l) &* 2, as: Float16.self)) }
            qr.storeBytes(of: r, toByteOffset: i &* 4, as: SIMD16<Float>.self)
            i &+= 16
        }
        while i < n { q[i] = load1(p, i); i &+= 1 }
    }
    #else
    /// The center is stored de-interleaved per 32-element block (16 even, then 16 odd
    /// elements), matching `loadEvenOdd`, so rows need no shuffles.
    @inline(__always) @usableFromInline static func loadCenter(_ src: UnsafeRawPointer, _ d: Int, into c: UnsafeMutablePointer<Float>) {
        var j = 0
        while j &+ 32 <= d {
            for l in 0 ..< 16 { c[j + l] = load1(src, j + 2 * l); c[j + 16 + l] = load1(src, j + 2 * l + 1) }
            j += 32
        }
        while j < d { c[j] = load1(src, j); j += 1 }
    }
    @inline(__always) @usableFromInline static func dist2(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int,
                                                          scratch: UnsafeMutablePointer<Float>) -> Float {
        let cr = UnsafeRawPointer(c)
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        @inline(__always) func block(_ j: Int) -> (SIMD16<Float>, SIMD16<Float>) {
            let (ev, od) = loadEvenOdd(x, j)
            return (ev - cr.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self),
                    od - cr.loadUnaligned(fromByteOffset: (j &+ 16) &* 4, as: SIMD16<Float>.self))
        }
        var j = 0
        while j &+ 128 <= d {
            let (e0, e1) = block(j), (e2, e3) = block(j &+ 32), (e4, e5) = block(j &+ 64), (e6, e7) = block(j &+ 96)
            a0 = addSquare(a0, e0); a1 = addSquare(a1, e1); a2 = addSquare(a2, e2); a3 = addSquare(a3, e3)
            a4 = addSquare(a4, e4); a5 = addSquare(a5, e5); a6 = addSquare(a6, e6); a7 = addSquare(a7, e7)
            j &+= 128
        }
        if j &+ 64 <= d {
            let (e0, e1) = block(j), (e2, e3) = block(j &+ 32)
            a0 = addSquare(a0, e0); a1 = addSquare(a1, e1); a2 = addSquare(a2, e2); a3 = addSquare(a3, e3)
            j &+= 64
        }
        if j &+ 32 <= d {
            let (e4, e5) = block(j)
            a4 = addSquare(a4, e4); a5 = addSquare(a5, e5)
            j &+= 32
        }
        var tail: Float = 0
        while j < d {
            let e = load1(x, j) - c[j]
            tail += e * e
            j &+= 1
        }
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        return Kernels.hsum(s) + tail
    }
    #endif
    /// True when no element is ±Inf or NaN (exponent bits all ones).
    static func allFinite(_ p: UnsafeRawPointer, count: Int) -> Bool {
        let h = p.assumingMemoryBound(to: UInt16.self)
        var bad: UInt16 = 0
        for i in 0 ..< count { bad |= ((h[i] & 0x7c00) == 0x7c00) ? 1 : 0 }
        return bad == 0
    }
}

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
}

@usableFromInline enum Kernels {
    // MARK: - Row distance

    /// Horizontal sum in a fixed tree order (halves, then quarters, …).
    @inline(__always) static func hsum(_ v: SIMD16<Float>) -> Float {
        let h = v.lowHalf + v.highHalf
        let q = h.lowHalf + h.highHalf
        let e = q.lowHalf + q.highHalf
        return e[0] + e[1]
    }

    /// Squared Euclidean distance between a stored row and a float32 center.
    ///
    /// Summation order is fixed for a given `d`: 16-lane chunks go to 8 SIMD16 partial sums
    /// (chunk q of each 128-block to accumulator q; a 64/32/16 remainder to accumulators
    /// 0–3/4–5/6), a scalar tail is added last, and the partial sums are reduced as a fixed
    /// tree. The result is therefore identical whatever the threading.
    @inline(__always) static func dist2<E: RowElement>(_: E.Type, _ x: UnsafeRawPointer,
                                                       _ c: UnsafePointer<Float>, _ d: Int) -> Float {
        let cr = UnsafeRawPointer(c)
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        var j = 0
        @inline(__always) func df(_ j: Int) -> SIMD16<Float> {
            E.load16(x, j) - cr.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self)
        }
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
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        return hsum(s) + tail
    }

    // MARK: - Fused pass

    /// One chunk of a fused pass: for each untaken position in `lo ..< hi`, update
    /// `m = min(m, dist2(x, center))` (when `center` is given) and track the argmax of the
    /// objective. Ties keep the earlier (lower) position. Rows with m = 0 skip the distance:
    /// the minimum cannot fall below 0.
    @inline(__always) static func passChunk<E: RowElement>(_: E.Type, _ ctx: PassContext, d: Int,
                                                           center: UnsafePointer<Float>?,
                                                           objective: Objective,
                                                           lo: Int, hi: Int) -> ChunkBest {
        let m = ctx.m
        let rowBytes = d &* E.size
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(64, d &* 4), alignment: 64)
            .assumingMemoryBound(to: Float.self)
        defer { scratch.deallocate() }
        var best = ChunkBest()
        var bestM: Float = -1, bestPos = -1
        var bestObj = -Double.infinity
        for p in lo ..< hi {
            var mv = m[p]
            if mv < 0 { continue }                     // taken
            if let c = center, mv > 0 {
                let r = ctx.rowOf.map { Int($0[p]) } ?? p
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
            let lo = n * t / chunks, hi = n * (t + 1) / chunks
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

    // MARK: - Blocked min-distance initialisation

    /// For every X position i: `m[i] = min(m[i], min_p dist2(x_i, x_p))` over the rows `pRows`,
    /// optionally excluding p == row(i) (for the preselected set's own nearest-other distance).
    ///
    /// Register-blocked direct differences: 16 X rows are packed dimension-major into a
    /// 16-lane panel, P is processed in L2-sized chunks of float32 rows, and each 16×8 tile
    /// keeps its 8 SIMD16 accumulators in registers (`acc_u += (x_j − p_uj)²`, one
    /// broadcast per P row and dimension). No n×|P| matrix is formed and X is read once per
    /// P chunk, so |P| = 10k costs ≈ 5 reads of X instead of 10k passes. Distances are
    /// exact differences (no norm trick), accumulated sequentially over j per lane.
    ///
    /// - Complexity: O(|X|·|P|·d) time, O(chunk·d + threads·16·d) extra memory.
    /// - Returns: false if `shouldContinue` asked to stop (checked between P chunks).
    static func blockedMinInit<E: RowElement>(_: E.Type, base: UnsafeRawPointer, d: Int,
                                              xRowOf: UnsafePointer<UInt32>?, xCount: Int,
                                              pRows: [Int], m: UnsafeMutablePointer<Float>,
                                              excludeSelf: Bool, chunks: Int,
                                              shouldContinue: () -> Bool) -> Bool {
        guard xCount > 0, !pRows.isEmpty, d > 0 else { return true }
        let rowBytes = d * E.size
        // P chunk: about 1 MiB of float32, a multiple of the 8-row tile.
        let chunkRows = max(8, min((pRows.count + 7) & ~7, ((1 << 20) / (4 * d)) & ~7))
        let pbuf = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * d)
        let pidx = UnsafeMutablePointer<Int32>.allocate(capacity: chunkRows)
        defer { pbuf.deallocate(); pidx.deallocate() }
        let blocks = (xCount + 15) / 16
        let workers = max(1, min(chunks, blocks))
        var start = 0
        while start < pRows.count {
            if start > 0 && !shouldContinue() { return false }
            let real = min(chunkRows, pRows.count - start)
            let padded = (real + 7) & ~7
            for r in 0 ..< padded {
                let src = pRows[start + min(r, real - 1)]      // pad by repeating the last row
                let row = base + src * rowBytes
                for j in 0 ..< d { pbuf[r * d + j] = E.load1(row, j) }
                pidx[r] = Int32(truncatingIfNeeded: src)
            }
            nonisolated(unsafe) let pb = UnsafePointer(pbuf)   // read-only during the parallel section
            nonisolated(unsafe) let pi = UnsafePointer(pidx)
            nonisolated(unsafe) let mm = m                     // workers write disjoint block ranges
            nonisolated(unsafe) let xr = xRowOf
            nonisolated(unsafe) let xb = base                  // the matrix is read-only here
            let body: @Sendable (Int) -> Void = { t in
                let b0 = blocks * t / workers, b1 = blocks * (t + 1) / workers
                initWorker(E.self, base: xb, d: d, rowBytes: rowBytes, xRowOf: xr, xCount: xCount,
                           pb: pb, pi: pi, tiles: padded / 8, m: mm, excludeSelf: excludeSelf,
                           b0: b0, b1: b1)
            }
            if workers == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
            start += real
        }
        return true
    }

    static func initWorker<E: RowElement>(_: E.Type, base: UnsafeRawPointer, d: Int, rowBytes: Int,
                                          xRowOf: UnsafePointer<UInt32>?, xCount: Int,
                                          pb: UnsafePointer<Float>, pi: UnsafePointer<Int32>, tiles: Int,
                                          m: UnsafeMutablePointer<Float>, excludeSelf: Bool,
                                          b0: Int, b1: Int) {
        guard b0 < b1 else { return }
        let panel = UnsafeMutableRawPointer.allocate(byteCount: d * 64, alignment: 64)
        defer { panel.deallocate() }
        let xT = panel.assumingMemoryBound(to: Float.self)
        for b in b0 ..< b1 {
            let first = b * 16
            let valid = min(16, xCount - first)
            var xIdx = SIMD16<Int32>(repeating: -1)
            for l in 0 ..< 16 {
                if l < valid {
                    let r = xRowOf.map { Int($0[first + l]) } ?? (first + l)
                    xIdx[l] = Int32(truncatingIfNeeded: r)
                    let row = base + r * rowBytes
                    for j in 0 ..< d { xT[j * 16 + l] = E.load1(row, j) }
                } else {
                    for j in 0 ..< d { xT[j * 16 + l] = 0 }
                }
            }
            var mv = SIMD16<Float>(repeating: .infinity)
            for t in 0 ..< tiles {
                let p = pb + t * 8 * d
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
                for j in 0 ..< d {
                    let xv = UnsafeRawPointer(panel).load(fromByteOffset: j &* 64, as: SIMD16<Float>.self)
                    let e0 = xv - SIMD16(repeating: p[j]); a0 = addSquare(a0, e0)
                    let e1 = xv - SIMD16(repeating: p[d &+ j]); a1 = addSquare(a1, e1)
                    let e2 = xv - SIMD16(repeating: p[2 &* d &+ j]); a2 = addSquare(a2, e2)
                    let e3 = xv - SIMD16(repeating: p[3 &* d &+ j]); a3 = addSquare(a3, e3)
                    let e4 = xv - SIMD16(repeating: p[4 &* d &+ j]); a4 = addSquare(a4, e4)
                    let e5 = xv - SIMD16(repeating: p[5 &* d &+ j]); a5 = addSquare(a5, e5)
                    let e6 = xv - SIMD16(repeating: p[6 &* d &+ j]); a6 = addSquare(a6, e6)
                    let e7 = xv - SIMD16(repeating: p[7 &* d &+ j]); a7 = addSquare(a7, e7)
                }
                if excludeSelf {
                    let q = pi + t * 8
                    let inf = SIMD16<Float>(repeating: .infinity)
                    a0.replace(with: inf, where: xIdx .== SIMD16(repeating: q[0]))
                    a1.replace(with: inf, where: xIdx .== SIMD16(repeating: q[1]))
                    a2.replace(with: inf, where: xIdx .== SIMD16(repeating: q[2]))
                    a3.replace(with: inf, where: xIdx .== SIMD16(repeating: q[3]))
                    a4.replace(with: inf, where: xIdx .== SIMD16(repeating: q[4]))
                    a5.replace(with: inf, where: xIdx .== SIMD16(repeating: q[5]))
                    a6.replace(with: inf, where: xIdx .== SIMD16(repeating: q[6]))
                    a7.replace(with: inf, where: xIdx .== SIMD16(repeating: q[7]))
                }
                let lo = pointwiseMin(pointwiseMin(a0, a1), pointwiseMin(a2, a3))
                let hi = pointwiseMin(pointwiseMin(a4, a5), pointwiseMin(a6, a7))
                mv = pointwiseMin(mv, pointwiseMin(lo, hi))
            }
            for l in 0 ..< valid where mv[l] < m[first + l] { m[first + l] = mv[l] }
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
