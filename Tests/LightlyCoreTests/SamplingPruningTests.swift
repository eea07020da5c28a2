import Testing
@testable import LightlySampling

/// Cluster skipping (PrunedGreedy.swift) must pick exactly what the plain pass picks, in the
/// same order, and must really skip rows on clustered data.
@Suite struct SamplingPruningTests {
    // MARK: - Data

    /// Low-rank clustered rows: `clusters` Gaussian blobs in an `intrinsic`-dimensional latent
    /// space (centers spread ×4, radii 0.2–1), mapped linearly to d dimensions. Rows come in
    /// random cluster order, so clusters are scattered in memory.
    static func clustered(n: Int, d: Int, intrinsic: Int, clusters: Int, seed: UInt64,
                          storage: EmbeddingStorage = .float32) -> EmbeddingMatrix {
        var rng = Xoshiro256StarStar(seed: seed)
        func normal() -> Double {
            let u1 = (Double(rng.next() >> 11) + 0.5) * 0x1p-53
            let u2 = Double(rng.next() >> 11) * 0x1p-53
            return (-2 * _log(u1)).squareRoot() * SamplingTestData.cosApprox(2 * Double.pi * u2)
        }
        let scale = 1 / Double(intrinsic).squareRoot()
        let a = (0 ..< intrinsic * d).map { _ in normal() * scale }
        let mu = (0 ..< clusters * intrinsic).map { _ in normal() * 4 }
        let sigma = (0 ..< clusters).map { _ in 0.2 + 0.8 * Double(rng.next() >> 11) * 0x1p-53 }
        var v = [Float](repeating: 0, count: n * d)
        var z = [Double](repeating: 0, count: intrinsic)
        for i in 0 ..< n {
            let c = Int(rng.uniformBelow(UInt64(clusters)))
            for t in 0 ..< intrinsic { z[t] = mu[c * intrinsic + t] + sigma[c] * normal() }
            for j in 0 ..< d {
                var s = 0.0
                for t in 0 ..< intrinsic { s += a[t * d + j] * z[t] }
                v[i * d + j] = Float(s)
            }
        }
        return EmbeddingMatrix(rows: n, dimension: d, values: v, storage: storage)
    }

    /// Points of a small integer grid (exact distances, hence many exact ties), each repeated
    /// a few times (duplicates), padded with zero columns to d.
    static func gridWithDuplicates(side: Int, repeats: Int, d: Int) -> EmbeddingMatrix {
        var v: [Float] = []
        for r in 0 ..< repeats {
            for i in 0 ..< side * side {
                // Interleave copies so duplicates are far apart in memory.
                let q = (i * 7 + r * 3) % (side * side)
                var row = [Float](repeating: 0, count: d)
                row[0] = Float(q % side)
                row[1] = Float(q / side)
                if d > 2 { row[2] = Float((q * 5) % 3) }
                v += row
            }
        }
        return EmbeddingMatrix(rows: side * side * repeats, dimension: d, values: v)
    }

    /// Runs `request` with pruning forced on and forced off; expects identical selections.
    @discardableResult
    static func both(_ request: SamplingRequest, _ x: EmbeddingMatrix,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> (on: SamplingResult, off: SamplingResult) {
        let (on, off) = try SameSelection.run(request, x, plain: { $0.pruning = .off }, variant: { $0.pruning = .on },
                                              sourceLocation: sourceLocation)
        #expect(off.stats.prunedPasses == 0, sourceLocation: sourceLocation)
        #expect(on.stats.prunedPasses == on.stats.passes, sourceLocation: sourceLocation)
        #expect(off.stats.rowsScanned == off.stats.passes * off.stats.candidates, sourceLocation: sourceLocation)
        return (on, off)
    }

    // MARK: - Exactness

    @Test(arguments: [(24, 3), (32, 2), (128, 4)])
    func clusteredCoresetIdenticalAndSkips(d: Int, intrinsic: Int) throws {
        let x = Self.clustered(n: 3000, d: d, intrinsic: intrinsic, clusters: 40, seed: UInt64(d))
        let (on, off) = try Self.both(SamplingRequest(method: .coreset, nSamples: 400, threads: 1), x)
        #expect(on.picked.count == 400)
        // Fails if pruning silently never skips: on this data most rows are skipped.
        #expect(on.stats.scannedFraction < 0.5, "scanned \(on.stats.scannedFraction)")
        #expect(on.stats.readReduction > 2, "reduction \(on.stats.readReduction)")
        #expect(off.stats.readReduction == 1)
        // Seeded first center.
        try Self.both(SamplingRequest(method: .coreset, nSamples: 200, seed: 17, threads: 1), x)
    }

    @Test func isotropicIdentical() throws {
        let x = SamplingTestData.gaussian(n: 2000, d: 16, seed: 3, normalise: true)
        try Self.both(SamplingRequest(method: .coreset, nSamples: 300, threads: 1), x)
        try Self.both(SamplingRequest(method: .coral, nSamples: 300,
                                      weights: SamplingTestData.weights(n: 2000, seed: 4), threads: 1), x)
    }

    @Test(arguments: [2, 3, 16])
    func duplicatesAndTiesIdentical(d: Int) throws {
        let x = Self.gridWithDuplicates(side: 12, repeats: 3, d: d)   // 432 rows, 144 distinct
        // All rows: ties everywhere, duplicates picked last.
        let (on, _) = try Self.both(SamplingRequest(method: .coreset, nSamples: -1, threads: 1), x)
        #expect(on.picked.count == x.rows)
        #expect(on.stats.scannedFraction < 1)
        try Self.both(SamplingRequest(method: .coreset, nSamples: -1, minDistance: 1e-6, threads: 1), x)
        try Self.both(SamplingRequest(method: .coreset, nSamples: 300, preselected: [0, 5, 77], threads: 1), x)
        let w = (0 ..< x.rows).map { Double(($0 * 37) % 5) }   // tied weights too
        try Self.both(SamplingRequest(method: .coral, nSamples: -1, weights: w, threads: 1), x)
    }

    @Test func preselectedAndCandidateSubset() throws {
        let n = 3000
        let x = Self.clustered(n: n, d: 32, intrinsic: 3, clusters: 30, seed: 9)
        let pre = [3, 400, 401, 2999, 1200]
        let (on, _) = try Self.both(SamplingRequest(method: .coreset, nSamples: 400, preselected: pre, threads: 1), x)
        #expect(on.stats.scannedFraction < 0.7, "scanned \(on.stats.scannedFraction)")
        let query = Array(stride(from: 0, to: n, by: 3)) + [400, 401]
        try Self.both(SamplingRequest(method: .coreset, nSamples: 300, query: query, threads: 1), x)
        try Self.both(SamplingRequest(method: .coreset, nSamples: 300, preselected: pre, query: query, threads: 1), x)
        // Many preselected rows (the blocked init's m; those rows start unassigned).
        let many = Array(stride(from: 1, to: n, by: 11))
        try Self.both(SamplingRequest(method: .coreset, nSamples: Double(many.count + 250), preselected: many,
                                      threads: 1), x)
    }

    @Test(arguments: [CoralStrengths(), CoralStrengths(scores: 0.5, diversity: 2), CoralStrengths(scores: 0, diversity: 1)])
    func coralIdentical(strengths: CoralStrengths) throws {
        let n = 3000
        let x = Self.clustered(n: n, d: 40, intrinsic: 3, clusters: 30, seed: 21)
        let w = SamplingTestData.weights(n: n, seed: 22)
        let (on, _) = try Self.both(SamplingRequest(method: .coral, nSamples: 400, weights: w,
                                                    coralStrengths: strengths, threads: 1), x)
        #expect(on.stats.scannedFraction < 0.6, "scanned \(on.stats.scannedFraction)")
        try Self.both(SamplingRequest(method: .coral, nSamples: 300, preselected: [10, 20, 30], query: Array(0 ..< 2500),
                                      weights: w, coralStrengths: strengths, threads: 1), x)
        // All weights zero: the pure-diversity fallback.
        try Self.both(SamplingRequest(method: .coral, nSamples: 200, weights: [Double](repeating: 0, count: n),
                                      coralStrengths: strengths, threads: 1), x)
    }

    @Test func float16Identical() throws {
        let x = Self.clustered(n: 3000, d: 48, intrinsic: 3, clusters: 30, seed: 31, storage: .float16)
        let (on, _) = try Self.both(SamplingRequest(method: .coreset, nSamples: 400, threads: 1), x)
        #expect(on.stats.scannedFraction < 0.5, "scanned \(on.stats.scannedFraction)")
        try Self.both(SamplingRequest(method: .coral, nSamples: 300, preselected: [1, 2],
                                      weights: SamplingTestData.weights(n: 3000, seed: 32), threads: 1), x)
    }

    @Test func minDistanceIdentical() throws {
        let x = Self.clustered(n: 3000, d: 32, intrinsic: 3, clusters: 30, seed: 41)
        // A stopping distance reached part-way: the plain run decides where.
        let all = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 600, threads: 1), embeddings: x)
        #expect(all.picked.count == 600)
        let c = all.picked[300]
        let md = all.picked.prefix(300).map { Oracle.dist2(x, c, $0) }.min().map { $0.squareRoot() } ?? 0
        #expect(md > 0)
        let (on, _) = try Self.both(SamplingRequest(method: .coreset, nSamples: -1, minDistance: md, threads: 1), x)
        #expect(on.stoppedByMinDistance)
        #expect(on.picked.count > 100 && on.picked.count < 1000)
        try Self.both(SamplingRequest(method: .coral, nSamples: -1, minDistance: md,
                                      weights: SamplingTestData.weights(n: 3000, seed: 42), threads: 1), x)
    }

    /// |C|·d ≥ parallelThreshold, so 2 threads really split the pruned passes.
    @Test(arguments: [SamplingMethod.coreset, .coral])
    func oneAndTwoThreadsIdentical(method: SamplingMethod) throws {
        let n = 16_384, d = 64
        #expect(n * d >= Sampler.parallelThreshold)
        let x = Self.clustered(n: n, d: d, intrinsic: 2, clusters: 50, seed: 51)
        let w = SamplingTestData.weights(n: n, seed: 52)
        var r = SamplingRequest(method: method, nSamples: 150, weights: w, threads: 1)
        let (on1, _) = try Self.both(r, x)
        r.pruning = .on
        for t in [2, 3] {
            r.threads = t
            let on = try Sampler.select(r, embeddings: x)
            #expect(on.picked == on1.picked, "threads=\(t)")
            #expect(on.stats == on1.stats, "threads=\(t)")   // the counters are thread-independent too
        }
        #expect(on1.stats.scannedFraction < 0.8, "scanned \(on1.stats.scannedFraction)")
    }

    // MARK: - Modes

    @Test func autoStaysPlainForSmallJobs() throws {
        let x = Self.clustered(n: 3000, d: 32, intrinsic: 3, clusters: 30, seed: 61)
        var request = SamplingRequest(method: .coreset, nSamples: 400, threads: 1)
        request.lazy = .off
        let r = try Sampler.select(request, embeddings: x)
        #expect(r.stats.prunedPasses == 0)
        #expect(r.stats.passes == 399)
        #expect(r.stats.readReduction == 1)
    }
}
