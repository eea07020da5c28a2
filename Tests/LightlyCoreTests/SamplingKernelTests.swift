import Testing
@testable import LightlySampling

/// The AVX-512 C kernel must reproduce the Swift row distance bit for bit (the greedy picks
/// are compared against fixtures, so a different summation order would change near-ties).
@Suite struct SamplingKernelTests {
    @Test(.enabled(if: Kernels.cDist16Available, "needs the AVX2 or AVX-512 kernels"),
          arguments: [16, 32, 48, 64, 128, 192, 256, 384, 512, 528])
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
                        guard let got = Kernels.cDist16(xp, rowOf: rowMap, p: p, center: cp, d: d) else {
                            Issue.record("no AVX-512 kernel for d=\(d)"); return
                        }
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
    /// an earlier float16 path put the last 16 dimensions in the scalar tail of
    /// `F16Row.rowAcc`, which the 16-row block reduction dropped for d % 16 == 0.
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

/// The fused passes of the C kernels (CORESET and CORAL's product objective; float32 and
/// float16 rows) against the Swift loop: same m array bit for bit, same winner, same
/// objective, with taken rows, exact ties, a row map and a partial tail block.
@Suite struct SamplingKernelPassTests {
    struct Case {
        var n: Int, d: Int
        var x: [Float], c: [Float], m: [Float], w: [Double]
        var rowOf: [UInt32]?
    }

    enum Ties: CaseIterable {
        /// Grid values: many exact ties among distances and weights.
        case some
        /// Every row equals row 0 and every weight is 1: all untaken rows tie for the maximum,
        /// so the lowest position must win.
        case all
        /// Identical rows, weights 1 + j·2⁻⁴⁰: objectives differ only in the last bits.
        case near
    }

    static func makeCase(n: Int, d: Int, mapped: Bool, seed: UInt64, ties: Ties = .some) -> Case {
        var rng = SplitMix64(seed: seed)
        // Values on a coarse grid, so many squared distances tie exactly.
        func value() -> Float { Float(Int(rng.next() % 9)) * 0.25 - 1 }
        var x = (0 ..< n * d).map { _ in value() }
        for r in stride(from: 5, to: n, by: 11) { for j in 0 ..< d { x[r * d + j] = x[j] } }  // duplicates of row 0
        let c = (0 ..< d).map { _ in value() }
        var m = [Float](repeating: .infinity, count: n)
        for i in 0 ..< n where i % 7 == 3 { m[i] = -1 }                          // taken
        for i in 0 ..< n where i % 13 == 1 { m[i] = Float(rng.next() % 8) }      // earlier centers
        // Weights with ties (a few distinct values) so objectives tie too.
        let w = (0 ..< n).map { _ in Double(rng.next() % 4) * 0.5 }
        if ties != .some {
            for r in 1 ..< n { for j in 0 ..< d { x[r * d + j] = x[j] } }
            let w2 = ties == .all ? w.map { _ in 1.0 } : w.map { _ in 1 + Double(rng.next() % 64) * 0x1p-40 }
            return Case(n: n, d: d, x: x, c: c, m: m.map { $0 < 0 ? -1 : .infinity }, w: w2,
                        rowOf: mapped ? (0 ..< n).map { UInt32(($0 * 17 + 3) % n) } : nil)
        }
        let rowOf: [UInt32]? = mapped ? (0 ..< n).map { UInt32(($0 * 17 + 3) % n) } : nil
        return Case(n: n, d: d, x: x, c: c, m: m, w: w, rowOf: rowOf)
    }

    /// Runs one pass over all positions; returns the winner and the updated m.
    static func run<E: RowElement>(_: E.Type, rows: UnsafeRawPointer, _ k: Case, objective: Objective,
                                   policy: Kernels.CKernelPolicy) -> (ChunkBest, [Float]) {
        var m = k.m
        let results = UnsafeMutablePointer<ChunkBest>.allocate(capacity: 1)
        defer { results.deallocate() }
        let best = m.withUnsafeMutableBufferPointer { mb in
            k.w.withUnsafeBufferPointer { wb in
                k.c.withUnsafeBufferPointer { cb in
                    (k.rowOf ?? []).withUnsafeBufferPointer { rb in
                        let ctx = PassContext(base: rows, d: k.d, rowOf: k.rowOf == nil ? nil : rb.baseAddress,
                                              m: mb.baseAddress!, w: wb.baseAddress, count: k.n, results: results)
                        return Kernels.passChunk(E.self, ctx, d: k.d, center: cb.baseAddress!, objective: objective,
                                                 lo: 0, hi: k.n, cPolicy: policy)
                    }
                }
            }
        }
        return (best, m)
    }

    /// The kernel's pass (`got`) equals the Swift loop's (`want`) bit for bit: every m, the
    /// winner, its m and its objective.
    static func expectSame(_ got: (ChunkBest, [Float]), _ want: (ChunkBest, [Float]), _ label: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let (g, gm) = got, (w, wm) = want
        let diff = gm.indices.first { gm[$0].bitPattern != wm[$0].bitPattern }
        #expect(diff == nil, "\(label): m differs at \(diff ?? -1)", sourceLocation: sourceLocation)
        #expect(g.pos == w.pos && g.m.bitPattern == w.m.bitPattern && g.obj.bitPattern == w.obj.bitPattern,
                "\(label): \(g) vs \(w)", sourceLocation: sourceLocation)
    }

    static let objectives: [Objective] = [.diversity, .product(w: 1.5, d: 12.25), .product(w: 0, d: 0)]

    @Test(.enabled(if: Kernels.cDist16Available, "needs the AVX2 or AVX-512 kernels"),
          arguments: [16, 32, 48, 64, 128, 144], [false, true])
    func float32PassMatchesSwift(d: Int, mapped: Bool) throws {
        try #require(Kernels.cKernel(F32Row.self, d: d, policy: .force) != nil)
        for ties in Ties.allCases {
        let k = Self.makeCase(n: 16 * 9 + 5, d: d, mapped: mapped, seed: UInt64(d), ties: ties)
        for objective in Self.objectives {
            k.x.withUnsafeBytes { xb in
                Self.expectSame(Self.run(F32Row.self, rows: xb.baseAddress!, k, objective: objective, policy: .force),
                                Self.run(F32Row.self, rows: xb.baseAddress!, k, objective: objective, policy: .never),
                                "d=\(d) \(objective)")
            }
        }
        }
    }

    /// float16 rows through the C kernel equal float32 rows holding the same values through
    /// the Swift loop (the float16 semantics of every build).
    @Test(.enabled(if: Kernels.cDist16Available, "needs the AVX2 or AVX-512 kernels"),
          arguments: [16, 32, 64, 128, 144], [false, true])
    func float16PassMatchesSwiftOnConvertedRows(d: Int, mapped: Bool) throws {
        try #require(Kernels.cKernel(F16Row.self, d: d, policy: .force) != nil)
        for ties in Ties.allCases {
        var k = Self.makeCase(n: 16 * 9, d: d, mapped: mapped, seed: UInt64(d) &+ 99, ties: ties)
        var rng = SplitMix64(seed: 7)
        let halves = ties != .some ? k.x.map { Float16($0) } : k.x.map { Float16($0 + Float(rng.next() % 1000) * 0x1p-12) }
        k.x = halves.map { Float($0) }
        for objective in Self.objectives {
            k.x.withUnsafeBytes { xb in
                halves.withUnsafeBytes { hb in
                    Self.expectSame(Self.run(F16Row.self, rows: hb.baseAddress!, k, objective: objective, policy: .force),
                                    Self.run(F32Row.self, rows: xb.baseAddress!, k, objective: objective, policy: .never),
                                    "d=\(d) \(objective)")
                }
            }
        }
        }
    }

    @Test(.enabled(if: Kernels.cDist16Available, "needs the AVX2 or AVX-512 kernels"),
          arguments: [16, 32, 48, 64, 128, 256])
    func float16DistanceMatchesFloat32OfConvertedRows(d: Int) throws {
        var rng = SplitMix64(seed: UInt64(d) &* 3)
        let rows = 32
        let h = (0 ..< rows * d).map { _ in Float16(Float(Double(rng.next() >> 11) * 0x1p-53 * 8 - 4)) }
        let x = h.map { Float($0) }
        let c = (0 ..< d).map { _ in Float(Double(rng.next() >> 11) * 0x1p-53 * 8 - 4) }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { scratch.deallocate() }
        h.withUnsafeBytes { hb in
            x.withUnsafeBufferPointer { xb in
                c.withUnsafeBufferPointer { cb in
                    for p in [0, 16] {
                        guard let got = Kernels.cDist16(hb.baseAddress!.assumingMemoryBound(to: UInt16.self), rowOf: nil,
                                                        p: p, center: cb.baseAddress!, d: d) else {
                            Issue.record("no AVX-512 kernel for d=\(d)"); return
                        }
                        for l in 0 ..< 16 {
                            let want = F32Row.dist2(UnsafeRawPointer(xb.baseAddress! + (p + l) * d), cb.baseAddress!, d,
                                                    scratch: scratch)
                            #expect(got[l].bitPattern == want.bitPattern, "d=\(d) row \(p + l)")
                        }
                    }
                }
            }
        }
    }
}
