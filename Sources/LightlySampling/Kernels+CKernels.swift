// The C kernels (CLightlyKernels, AVX-512 or AVX2): whether they run on this CPU, which one
// serves a pass, and wrappers that tests compare with the Swift loops.
import CLightlyKernels

extension Kernels {
    /// Whether the C kernels (`lk_dist16_f32`, `lk_pass_diversity_f32`; AVX-512 or AVX2) run on this
    /// CPU; checked once.
    static let cDist16Available: Bool = lk_dist16_available() != 0

    /// Which C kernel serves rows of `E` with dimension `d`, or nil for the Swift loop.
    ///
    /// The C kernels need AVX-512F or AVX2+FMA+F16C (checked at run time) and d % 16 == 0; rows of both element
    /// types take them then (one thread, 100k×128 float32: 0.79 s against 1.17 s for the Swift
    /// loop; 10k×32 equal). The Swift float16 path converts each row to float32 first, exactly
    /// like the C kernel, so both paths give bit-identical distances.
    /// `policy` is for tests: `.never` forces the Swift loop, `.force` equals `.auto`.
    static func cKernel<E: RowElement>(_: E.Type, d: Int, policy: CKernelPolicy = .auto) -> CKernelElement? {
        guard policy != .never, cDist16Available, d > 0, d & 15 == 0 else { return nil }
        return E.self == F32Row.self ? .f32 : .f16
    }

    /// The C kernel's 16 distances for float32 rows `p ..< p+16` (nil without the C kernels or when
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

    /// Element type of a C kernel call.
    enum CKernelElement { case f32, f16 }
    /// Whether a pass may use the C kernels (tests compare both paths).
    enum CKernelPolicy { case auto, never, force }
}
