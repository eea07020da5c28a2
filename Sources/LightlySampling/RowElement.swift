// How the sampling kernels read one stored row element (float32 or float16) as float32.

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
    @inline(__always) @usableFromInline static func load16(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
        var r = SIMD16<Float>()
        for l in 0 ..< 16 { r[l] = load1(p, i &+ l) }
        return r
    }
    @inline(__always) @usableFromInline static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(p.loadUnaligned(fromByteOffset: i &* 2, as: Float16.self))
    }
    // Rows are converted to float32 (exactly) and then use the float32 kernel unchanged, so a
    // float16 row gives the same distances as its float32 conversion on every CPU and in every
    // build, and the C kernels (`lk_*_f16`) can serve float16 rows with the same results.
    @inline(__always) @usableFromInline static func loadCenter(_ src: UnsafeRawPointer, _ d: Int, into c: UnsafeMutablePointer<Float>) {
        convertRow(src, c, d)
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
    /// turns the 16-lane loop into a single vcvtph2ps (builds for a CPU with F16C,
    /// LIGHTLY_TARGET_CPU), which it fails to do once inlined into the large pass loop. The
    /// portable build converts with integer operations (`convert`); both are exact.
    @inline(never) static func convertRow(_ p: UnsafeRawPointer, _ q: UnsafeMutablePointer<Float>, _ n: Int) {
        let qr = UnsafeMutableRawPointer(q)
        var i = 0
        while i &+ 16 <= n {
            #if LIGHTLY_FMA
            var r = SIMD16<Float>()
            for l in 0 ..< 16 { r[l] = Float(p.loadUnaligned(fromByteOffset: (i &+ l) &* 2, as: Float16.self)) }
            #else
            let h = p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD16<UInt16>.self)
            let r = convert(SIMD16<UInt32>(truncatingIfNeeded: h))
            #endif
            qr.storeBytes(of: r, toByteOffset: i &* 4, as: SIMD16<Float>.self)
            i &+= 16
        }
        while i < n { q[i] = load1(p, i); i &+= 1 }
    }
    /// True when no element is ±Inf or NaN (exponent bits all ones).
    static func allFinite(_ p: UnsafeRawPointer, count: Int) -> Bool {
        let h = p.assumingMemoryBound(to: UInt16.self)
        var bad: UInt16 = 0
        for i in 0 ..< count { bad |= ((h[i] & 0x7c00) == 0x7c00) ? 1 : 0 }
        return bad == 0
    }
}
