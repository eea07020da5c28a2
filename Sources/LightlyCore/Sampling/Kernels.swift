// Hot loops of the greedy samplers: fused distance/min/argmax passes and the blocked
// preselected-set initialisation. Everything works on raw pointers into the 64-byte-aligned
// embedding storage; no allocation proportional to n·d happens here.
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
    /// The same distance before its horizontal reduction: `dist2 == Kernels.hsum(v) + tail`.
    static func rowAcc(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int,
                       scratch: UnsafeMutablePointer<Float>) -> (v: SIMD16<Float>, tail: Float)
}

/// `acc + a·b`, fused when the build targets a CPU with FMA (`LIGHTLY_FMA`, set with
/// LIGHTLY_TARGET_CPU in Package.swift). Used only in the blocked init kernel, where the
/// generated code was checked to be one vfmadd per tile row and dimension.
@inline(__always) func fusedMulAdd(_ acc: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    #if LIGHTLY_FMA
    return acc.addingProduct(a, b)
    #else
    return acc + a * b
    #endif
}

/// `acc + e·e` as a multiply and an add, deliberately not `addingProduct`: the stdlib's
/// SIMD `addingProduct` is a lane loop that LLVM re-vectorises only sometimes; inside the
/// unrolled row kernel it was split into 2-lane pieces (measured 3× slower). The row kernel
/// is memory-bound at DRAM sizes anyway.
@inline(__always) func addSquare(_ acc: SIMD16<Float>, _ e: SIMD16<Float>) -> SIMD16<Float> {
    acc + e * e
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
        let (v, t) = Kernels.rowAcc(F32Row.self, x, c, d)
        return Kernels.hsum(v) + t
    }
    @inline(__always) @usableFromInline static func rowAcc(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int,
                                                           scratch: UnsafeMutablePointer<Float>) -> (v: SIMD16<Float>, tail: Float) {
        Kernels.rowAcc(F32Row.self, x, c, d)
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
        let (v, t) = rowAcc(x, c, d, scratch: scratch)
        return Kernels.hsum(v) + t
    }
    @inline(__always) @usableFromInline static func rowAcc(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int,
                                                           scratch: UnsafeMutablePointer<Float>) -> (v: SIMD16<Float>, tail: Float) {
        convertRow(x, scratch, d)
        return Kernels.rowAcc(F32Row.self, UnsafeRawPointer(scratch), c, d)
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
        let (v, t) = rowAcc(x, c, d, scratch: scratch)
        return Kernels.hsum(v) + t
    }
    @inline(__always) @usableFromInline static func rowAcc(_ x: UnsafeRawPointer, _ c: UnsafePointer<Float>, _ d: Int,
                                                           scratch: UnsafeMutablePointer<Float>) -> (v: SIMD16<Float>, tail: Float) {
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
        // A 16-element remainder (plain lane order in the center) goes to a vector
        // accumulator, so `tail` is 0 whenever d % 16 == 0: the 16-row block reduction in
        // `passChunk` ignores tails then (it dropped these 16 dimensions before).
        if j &+ 16 <= d {
            let h = x.loadUnaligned(fromByteOffset: j &* 2, as: SIMD16<UInt16>.self)
            a6 = addSquare(a6, convert(SIMD16<UInt32>(truncatingIfNeeded: h))
                               - cr.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self))
            j &+= 16
        }
        var tail: Float = 0
        while j < d {
            let e = load1(x, j) - c[j]
            tail += e * e
            j &+= 1
        }
        return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)), tail)
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

    /// Whether the C kernels (`lk_dist16_f32`, `lk_pass_diversity_f32`; AVX-512) run on this
    /// CPU; checked once.
    static let cDist16Available: Bool = lk_dist16_available() != 0

    /// Which C kernel serves rows of `E` with dimension `d`, or nil for the Swift loop.
    ///
    /// The C kernels need AVX-512F (checked at run time) and d % 16 == 0. float32 rows always
    /// take them then (one thread, 100k×128: 0.79 s against 1.17 s for the Swift loop; 10k×32
    /// equal). float16 rows take them only in builds where the Swift float16 path converts
    /// each row to float32 first (LIGHTLY_FMA), so that both paths give bit-identical
    /// distances; the portable build's float16 summation order differs.
    /// `policy` is for tests: `.never` forces the Swift loop, `.force` the C kernel wherever
    /// the CPU and d allow it (for float16 also in builds whose Swift order differs).
    static func cKernel<E: RowElement>(_: E.Type, d: Int, policy: CKernelPolicy = .auto) -> CKernelElement? {
        guard policy != .never, cDist16Available, d > 0, d & 15 == 0 else { return nil }
        if E.self == F32Row.self { return .f32 }
        if policy == .force && E.self == F16Row.self { return .f16 }
        #if LIGHTLY_FMA
        if E.self == F16Row.self { return .f16 }
        #endif
        return nil
    }

    /// The C kernel's 16 distances for float32 rows `p ..< p+16` (nil without AVX-512 or when
    /// d % 16 ≠ 0). For tests: they must equal `F32Row.dist2` bit for bit.
    static func cDist16(_ base: UnsafePointer<Float>, rowOf: UnsafePointer<UInt32>?, p: Int,
                        center: UnsafePointer<Float>, d: Int) -> SIMD16<Float>? {
        cDist16(d: d) { lk_dist16_f32(base, rowOf, p, center, d, $0) }
    }

    /// The same for float16 rows (equal to float32 rows holding the converted values).
    static func cDist16(_ base: UnsafePointer<UInt16>, rowOf: UnsafePointer<UInt32>?, p: Int,
                        center: UnsafePointer<Float>, d: Int) -> SIMD16<Float>? {
        cDist16(d: d) { lk_dist16_f16(base, rowOf, p, center, d, $0) }
    }

    private static func cDist16(d: Int, _ kernel: (UnsafeMutablePointer<Float>) -> Void) -> SIMD16<Float>? {
        guard cDist16Available, d > 0, d & 15 == 0 else { return nil }
        var out = SIMD16<Float>()
        withUnsafeMutableBytes(of: &out) { raw in
            kernel(raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: Float.self))   // a local, never nil
        }
        return out
    }

    // MARK: - Fused pass

    /// Element type of a C kernel call.
    enum CKernelElement { case f32, f16 }
    /// Whether a pass may use the C kernels (tests compare both paths).
    enum CKernelPolicy { case auto, never, force }

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
            // The AVX-512 C kernels where they apply (same arithmetic; see `cKernel`).
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

    // MARK: - Blocked min-distance initialisation

    /// For every X position i: `m[i] = min(m[i], min_p dist2(x_i, x_p))` over the rows `pRows`,
    /// optionally excluding p == row(i) (for the preselected set's own nearest-other distance).
    ///
    /// Register-blocked GEMM-style kernel: 16 X rows are packed dimension-major into a
    /// 16-lane panel, P is processed in L2-sized chunks of float32 rows, and each 16×8 tile
    /// keeps its 8 SIMD16 dot-product accumulators in registers (`acc_u += x_j · p_uj`, one
    /// broadcast per P row and dimension). Distances use ‖x‖² + ‖p‖² − 2x·p (docs/selection.md §10),
    /// clamped at 0; when the result is within 1e-4·(‖x‖² + ‖p‖²) of 0 the pair is
    /// recomputed directly, so duplicates get exactly 0 and near-duplicates are exact.
    /// Elsewhere the value may differ from the direct dist2 in the last bits (≈1e-7
    /// relative), which only matters for near-ties (docs/selection.md §10).
    /// No n×|P| matrix is formed and X is read once per P chunk, so |P| = 10k costs ≈ 5
    /// reads of X instead of 10k passes.
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
        let pnorm = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows)
        defer { pbuf.deallocate(); pidx.deallocate(); pnorm.deallocate() }
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
                var nrm: Float = 0
                for j in 0 ..< d { nrm += pbuf[r * d + j] * pbuf[r * d + j] }
                pnorm[r] = nrm
            }
            nonisolated(unsafe) let pb = UnsafePointer(pbuf)   // read-only during the parallel section
            nonisolated(unsafe) let pi = UnsafePointer(pidx)
            nonisolated(unsafe) let pnn = UnsafePointer(pnorm)
            nonisolated(unsafe) let mm = m                     // workers write disjoint block ranges
            nonisolated(unsafe) let xr = xRowOf
            nonisolated(unsafe) let xb = base                  // the matrix is read-only here
            let body: @Sendable (Int) -> Void = { t in
                let b0 = blocks * t / workers, b1 = blocks * (t + 1) / workers
                initWorker(E.self, base: xb, d: d, rowBytes: rowBytes, xRowOf: xr, xCount: xCount,
                           pb: pb, pi: pi, pn: pnn, tiles: padded / 8, m: mm, excludeSelf: excludeSelf,
                           b0: b0, b1: b1)
            }
            if workers == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
            start += real
        }
        return true
    }

    static func initWorker<E: RowElement>(_: E.Type, base: UnsafeRawPointer, d: Int, rowBytes: Int,
                                          xRowOf: UnsafePointer<UInt32>?, xCount: Int,
                                          pb: UnsafePointer<Float>, pi: UnsafePointer<Int32>,
                                          pn: UnsafePointer<Float>, tiles: Int,
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
            var xn = SIMD16<Float>()
            for j in 0 ..< d {
                let xv = UnsafeRawPointer(panel).load(fromByteOffset: j &* 64, as: SIMD16<Float>.self)
                xn = fusedMulAdd(xn, xv, xv)
            }
            var mv = SIMD16<Float>(repeating: .infinity)
            let inf = SIMD16<Float>(repeating: .infinity)
            for t in 0 ..< tiles {
                let p = pb + t * 8 * d
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
                for j in 0 ..< d {
                    let xv = UnsafeRawPointer(panel).load(fromByteOffset: j &* 64, as: SIMD16<Float>.self)
                    a0 = fusedMulAdd(a0, xv, SIMD16(repeating: p[j]))
                    a1 = fusedMulAdd(a1, xv, SIMD16(repeating: p[d &+ j]))
                    a2 = fusedMulAdd(a2, xv, SIMD16(repeating: p[2 &* d &+ j]))
                    a3 = fusedMulAdd(a3, xv, SIMD16(repeating: p[3 &* d &+ j]))
                    a4 = fusedMulAdd(a4, xv, SIMD16(repeating: p[4 &* d &+ j]))
                    a5 = fusedMulAdd(a5, xv, SIMD16(repeating: p[5 &* d &+ j]))
                    a6 = fusedMulAdd(a6, xv, SIMD16(repeating: p[6 &* d &+ j]))
                    a7 = fusedMulAdd(a7, xv, SIMD16(repeating: p[7 &* d &+ j]))
                }
                var acc = (a0, a1, a2, a3, a4, a5, a6, a7)
                withUnsafeMutableBytes(of: &acc) { raw in
                    let a = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: SIMD16<Float>.self)   // a tuple, never nil
                    for u in 0 ..< 8 {
                        let pu = pn[t &* 8 &+ u]
                        let sum = xn + SIMD16(repeating: pu)
                        var d2 = pointwiseMax(sum - 2 * a[u], SIMD16<Float>())
                        // Cancellation guard: near-duplicates are recomputed exactly.
                        let near = d2 .< sum * SIMD16(repeating: 1e-4)
                        if any(near) {
                            for l in 0 ..< 16 where near[l] {
                                var e2: Float = 0
                                for j in 0 ..< d { let e = xT[j &* 16 &+ l] - p[u &* d &+ j]; e2 += e * e }
                                d2[l] = e2
                            }
                        }
                        if excludeSelf { d2.replace(with: inf, where: xIdx .== SIMD16(repeating: pi[t &* 8 &+ u])) }
                        mv = pointwiseMin(mv, d2)
                    }
                }
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
