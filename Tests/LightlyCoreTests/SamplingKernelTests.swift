import Testing
@testable import LightlyCore

/// The AVX-512 C kernel must reproduce the Swift row distance bit for bit (the greedy picks
/// are compared against fixtures, so a different summation order would change near-ties).
@Suite struct SamplingKernelTests {
    @Test(arguments: [16, 32, 48, 64, 128, 192, 256, 384, 512, 528])
    func cKernelMatchesSwiftDistanceBitForBit(d: Int) throws {
        var rng = SplitMix64(seed: UInt64(d))
        let rows = 48
        func value() -> Float { Float(Double(rng.next() >> 11) * 0x1p-53 * 8 - 4) }
        let x = (0 ..< rows * d).map { _ in value() }
        let c = (0 ..< d).map { _ in value() }
        let rowOf: [UInt32] = (0 ..< 16).map { UInt32(($0 * 7 + 5) % rows) }
        x.withUnsafeBufferPointer { xb in
            c.withUnsafeBufferPointer { cb in
                rowOf.withUnsafeBufferPointer { rb in
                    guard let xp = xb.baseAddress, let cp = cb.baseAddress else { return }
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
                    defer { scratch.deallocate() }
                    for (rowMap, p) in [(nil, 0), (nil, 16), (nil, 32), (rb.baseAddress, 0)] as [(UnsafePointer<UInt32>?, Int)] {
                        guard let got = Kernels.cDist16(xp, rowOf: rowMap, p: p, center: cp, d: d) else { return }   // no AVX-512
                        for l in 0 ..< 16 {
                            let r = rowMap.map { Int($0[l]) } ?? (p + l)
                            let want = F32Row.dist2(UnsafeRawPointer(xp + r * d), cp, d, scratch: scratch)
                            #expect(got[l].bitPattern == want.bitPattern, "d=\(d) row \(r): \(got[l]) vs \(want)")
                        }
                    }
                }
            }
        }
    }

    /// Regression (found while testing cluster skipping): with float16 storage and d ≡ 16 (mod 32),
    /// portable builds (no LIGHTLY_FMA, e.g. debug) put the last 16 dimensions in the scalar
    /// tail of `F16Row.rowAcc`, which the 16-row block reduction dropped for d % 16 == 0.
    /// Small integer data: every distance is exact in float16 and float32, so the plain pass
    /// must equal the brute-force oracle exactly (ties by index on both sides).
    @Test(arguments: [16, 48, 80])
    func float16PlainPassMatchesOracle(d: Int) throws {
        var rng = Xoshiro256StarStar(seed: UInt64(d))
        let n = 100
        let v = (0 ..< n * d).map { _ in Float(Int(rng.uniformBelow(17)) - 8) }
        let x = EmbeddingMatrix(rows: n, dimension: d, values: v, storage: .float16)
        let r = SamplingRequest(method: .coreset, nSamples: 30)
        #expect(try Sampler.select(r, embeddings: x).picked == Oracle.select(r, x))
    }
}
