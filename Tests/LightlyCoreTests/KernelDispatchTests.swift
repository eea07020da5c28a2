import CLightlyKernels
import Testing
@testable import LightlySampling

/// The AVX2 kernels (CPUs without AVX-512) must give the same bits as the AVX-512 kernels, which
/// the other kernel tests compare with the Swift loops. Runs both families on the same input in
/// one process; needs an AVX-512 CPU (elsewhere the normal tests run the AVX2 family directly).
@Suite(.serialized) struct KernelDispatchTests {
    static let hasAVX512 = SamplingBuildInfo.runtimeISA == "avx512f"

    /// Runs `body` with the AVX2 kernels, then the AVX-512 ones, and returns both results.
    static func both<R>(_ body: () -> R) -> (avx2: R, avx512: R) {
        let before = lk_kernels_set_isa_for_tests(1)
        #expect(SamplingBuildInfo.runtimeISA == "avx2+fma")
        let a = body()
        _ = lk_kernels_set_isa_for_tests(2)
        #expect(SamplingBuildInfo.runtimeISA == "avx512f")
        let b = body()
        _ = lk_kernels_set_isa_for_tests(before)
        return (a, b)
    }

    static func data(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0 ..< count).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 4 - 2) }
    }

    @Test(.enabled(if: hasAVX512, "needs an AVX-512 CPU to compare both kernel families"),
          arguments: [16, 32, 48, 64, 128, 144])
    func passesAndDistancesAgreeBitForBit(d: Int) {
        let n = 96
        let x = Self.data(n * d, seed: UInt64(d))
        let h = x.map { Float16($0).bitPattern }
        let c = Self.data(d, seed: 1000 + UInt64(d))
        let w = Self.data(n, seed: 77).map { Double(abs($0)) }
        let rowOf: [UInt32] = (0 ..< UInt32(n)).reversed()
        for mapped in [false, true] {
            func run(_ half: Bool, _ product: Bool) -> [UInt64] {
                var m = [Float](repeating: .infinity, count: n)
                m[5] = -1   // a taken row
                var out: [UInt64] = []
                x.withUnsafeBufferPointer { xp in h.withUnsafeBufferPointer { hp in
                    c.withUnsafeBufferPointer { cp in w.withUnsafeBufferPointer { wp in
                        rowOf.withUnsafeBufferPointer { rp in
                            let ro = mapped ? rp.baseAddress : nil
                            if product {
                                var bo = [Double](repeating: -.infinity, count: 16), bi = [Int64](repeating: -1, count: 16)
                                let end = half
                                    ? lk_pass_product_f16(hp.baseAddress, ro, cp.baseAddress, d, &m, wp.baseAddress, 0.5, 2, 0, n, &bo, &bi)
                                    : lk_pass_product_f32(xp.baseAddress, ro, cp.baseAddress, d, &m, wp.baseAddress, 0.5, 2, 0, n, &bo, &bi)
                                out += [UInt64(end)] + bo.map(\.bitPattern) + bi.map { UInt64(bitPattern: $0) }
                            } else {
                                var bv = [Float](repeating: -1, count: 16), bi = [Int32](repeating: -1, count: 16)
                                let end = half
                                    ? lk_pass_diversity_f16(hp.baseAddress, ro, cp.baseAddress, d, &m, 0, n, &bv, &bi)
                                    : lk_pass_diversity_f32(xp.baseAddress, ro, cp.baseAddress, d, &m, 0, n, &bv, &bi)
                                out += [UInt64(end)] + bv.map { UInt64($0.bitPattern) } + bi.map { UInt64(UInt32(bitPattern: $0)) }
                            }
                            var dist = [Float](repeating: 0, count: 16)
                            if half { lk_dist16_f16(hp.baseAddress, ro, 16, cp.baseAddress, d, &dist) }
                            else { lk_dist16_f32(xp.baseAddress, ro, 16, cp.baseAddress, d, &dist) }
                            out += dist.map { UInt64($0.bitPattern) }
                            for lim in [1, 7, 16] {
                                out.append(UInt64(lk_min_dist16_f32(xp.baseAddress, 32, cp.baseAddress, d, lim).bitPattern))
                            }
                        }
                    } }
                } }
                return out + m.map { UInt64($0.bitPattern) }
            }
            for half in [false, true] {
                for product in [false, true] {
                    let (a, b) = Self.both { run(half, product) }
                    #expect(a == b, "d=\(d) mapped=\(mapped) float16=\(half) product=\(product)")
                }
            }
        }
    }

    @Test(.enabled(if: hasAVX512, "needs an AVX-512 CPU to compare both kernel families"),
          arguments: [1, 16, 100, 128])
    func preselectedInitTileAgreesBitForBit(d: Int) {
        let panel = Self.data(16 * d, seed: 5 + UInt64(d))
        let p = Self.data(8 * d, seed: 9 + UInt64(d))
        let (a, b) = Self.both { () -> [UInt32] in
            var acc = [Float](repeating: 0, count: 128), norms = [Float](repeating: 0, count: 16)
            lk_init_tile16x8(panel, p, d, &acc)
            lk_init_norms16(panel, d, &norms)
            return (acc + norms).map(\.bitPattern)
        }
        #expect(a == b)
        // And both equal a scalar fused multiply-add per lane.
        for u in 0 ..< 8 {
            for l in 0 ..< 16 {
                var s: Float = 0
                for j in 0 ..< d { s = s.addingProduct(panel[16 * j + l], p[u * d + j]) }
                #expect(a[16 * u + l] == s.bitPattern, "u=\(u) l=\(l)")
            }
        }
    }

    @Test(.enabled(if: hasAVX512, "needs an AVX-512 CPU to compare both kernel families"),
          arguments: [1, 16, 100, 128])
    func preselectedInitBlockAgreesBitForBit(d: Int) {
        let panel = Self.data(16 * d, seed: 21 + UInt64(d))
        var p = Self.data(24 * d, seed: 23 + UInt64(d))
        // P row 4 is panel row 2 exactly, P row 9 nearly panel row 5: both take the exact path.
        for j in 0 ..< d { p[4 * d + j] = panel[16 * j + 2]; p[9 * d + j] = panel[16 * j + 5] + 1e-6 }
        let pn = (0 ..< 24).map { u in (0 ..< d).reduce(Float(0)) { $0 + p[u * d + $1] * p[u * d + $1] } }
        let pi = (0 ..< 24).map { Int32(100 + $0) }
        let xi = (0 ..< 16).map { Int32(100 + 2 * $0) }   // panel row l has the id of P row 2l
        for exclude in [false, true] {
            let start = (0 ..< 16).map { $0 == 7 ? Float(0.25) : .infinity }
            let (a, b) = Self.both { () -> [Float] in
                var m = start
                lk_init_block16(panel, d, p, pn, pi, 3, xi, exclude ? 1 : 0, 13, &m)
                return m
            }
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "d=\(d) exclude=\(exclude)")
            // Both equal the formula with fused dot products (the Swift code this replaced).
            var want = start
            for l in 0 ..< 13 {
                let xn = (0 ..< d).reduce(Float(0)) { $0.addingProduct(panel[16 * $1 + l], panel[16 * $1 + l]) }
                var mv = Float.infinity
                for u in 0 ..< 24 {
                    let dot = (0 ..< d).reduce(Float(0)) { $0.addingProduct(panel[16 * $1 + l], p[u * d + $1]) }
                    let sum = xn + pn[u]
                    var d2 = Float.maximum(sum - 2 * dot, 0)
                    if d2 < sum * 1e-4 {
                        d2 = 0
                        for j in 0 ..< d { let e = panel[16 * j + l] - p[u * d + j]; d2 += e * e }
                    }
                    if exclude && xi[l] == pi[u] { d2 = .infinity }
                    mv = Float.minimum(mv, d2)
                }
                if mv < want[l] { want[l] = mv }
            }
            #expect(a.map(\.bitPattern) == want.map(\.bitPattern), "d=\(d) exclude=\(exclude)")
            if d > 1 && !exclude { #expect(a[2] == 0) }   // the exact duplicate
        }
    }
}
