import CLightlyKernels
import Testing
@testable import LightlySampling

/// Lazy greedy steps (LazyGreedy.swift) must pick exactly what the plain pass picks, in the
/// same order, and must really read fewer rows where the data allows it.
@Suite struct SamplingLazyTests {
    /// Runs `request` lazily (forced) and with plain passes; expects identical selections.
    @discardableResult
    static func both(_ request: SamplingRequest, _ x: EmbeddingMatrix, expectLazy: Bool = true,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> (lazy: SamplingResult, plain: SamplingResult) {
        let (lazy, plain) = try SameSelection.run(request, x, plain: { $0.lazy = .off; $0.pruning = .off },
                                                  variant: { $0.lazy = .on; $0.pruning = .off },
                                                  sourceLocation: sourceLocation)
        #expect(plain.stats.lazyPasses == 0, sourceLocation: sourceLocation)
        #expect(plain.stats.distances == plain.stats.passes * plain.stats.candidates, sourceLocation: sourceLocation)
        if expectLazy {
            #expect(lazy.stats.lazyPasses == lazy.stats.passes, sourceLocation: sourceLocation)
            // Every (row, center) distance at most once: never more work than plain.
            #expect(lazy.stats.distances <= plain.stats.distances, sourceLocation: sourceLocation)
        } else {
            #expect(lazy.stats.lazyPasses == 0, sourceLocation: sourceLocation)
        }
        return (lazy, plain)
    }

    // MARK: - Exactness

    /// The 16-center kernel of the refresh, with the row as the "center", must give the
    /// plain pass's distance (row − center) bit for bit, for every lane count.
    @Test(.enabled(if: Kernels.cDist16Available, "needs the AVX2 or AVX-512 kernels (without them the Swift path runs)"),
          arguments: [16, 32, 48, 64, 128, 144, 528])
    func minDist16MatchesPlainDistanceBitForBit(d: Int) throws {
        var rng = SplitMix64(seed: 90 + UInt64(d))
        func value() -> Float { Float(Double(rng.next() >> 11) * 0x1p-53 * 8 - 4) }
        let centers = (0 ..< 40 * d).map { _ in value() }
        let x = (0 ..< d).map { _ in value() }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: d)
        defer { scratch.deallocate() }
        centers.withUnsafeBufferPointer { cb in
            x.withUnsafeBufferPointer { xb in
                guard let cp = cb.baseAddress, let xp = xb.baseAddress else { return }
                for j in [0, 3, 24] {
                    for lim in 1 ... 16 {
                        let got = lk_min_dist16_f32(cp, j, xp, d, lim)
                        // The plain pass: x is the stored row, the center is what loadCenter made.
                        let want = (j ..< j + lim).map { F32Row.dist2(UnsafeRawPointer(xp), cp + $0 * d, d, scratch: scratch) }.min()
                        #expect(got.bitPattern == want?.bitPattern, "d=\(d) j=\(j) lim=\(lim)")
                    }
                }
            }
        }
    }

    /// d = 32 and 128 take the AVX-512 16-center kernel where the CPU has it; 24 and 40 the
    /// Swift distance (and its scalar tail).
    @Test(arguments: [24, 32, 40, 128])
    func isotropicCoresetIdenticalAndReadsLess(d: Int) throws {
        let x = SamplingTestData.gaussian(n: 3000, d: d, seed: UInt64(d), normalise: true)
        let (lazy, _) = try Self.both(SamplingRequest(method: .coreset, nSamples: 400, threads: 1), x)
        #expect(lazy.picked.count == 400)
        // Fails if the steps silently update every row: here few rows can win each step.
        #expect(lazy.stats.scannedFraction < 0.1, "rows read \(lazy.stats.scannedFraction)")
        #expect(Double(lazy.stats.distances) < 0.6 * Double(lazy.stats.passes * lazy.stats.candidates))
        try Self.both(SamplingRequest(method: .coreset, nSamples: 300, seed: 17, threads: 1), x)
    }

    @Test(arguments: [24, 32, 128])
    func coralIdenticalAndReadsLess(d: Int) throws {
        let n = 3000
        let x = SamplingTestData.gaussian(n: n, d: d, seed: 100 + UInt64(d), normalise: true)
        let w = SamplingTestData.weights(n: n, seed: 7)
        let (lazy, _) = try Self.both(SamplingRequest(method: .coral, nSamples: 400, weights: w, threads: 1), x)
        #expect(lazy.stats.scannedFraction < 0.1, "rows read \(lazy.stats.scannedFraction)")
        try Self.both(SamplingRequest(method: .coral, nSamples: 300, preselected: [10, 20, 30], query: Array(0 ..< 2500),
                                      weights: w, threads: 1), x)
        // A preselected sample outside the query set, and clients that send no score for P.
        var w2 = w
        for p in [5, 2999] { w2[p] = 0 }
        try Self.both(SamplingRequest(method: .coral, nSamples: 200, preselected: [5, 2999], query: Array(0 ..< 2000),
                                      weights: w2, threads: 1), x)
        // All weights zero: the pure-diversity fallback runs lazily too.
        try Self.both(SamplingRequest(method: .coral, nSamples: 200, weights: [Double](repeating: 0, count: n),
                                      threads: 1), x)
        // Scaled strengths stay on the product (equal strengths); unequal ones use plain passes.
        try Self.both(SamplingRequest(method: .coral, nSamples: 200, weights: w,
                                      coralStrengths: CoralStrengths(scores: 2, diversity: 2), threads: 1), x)
        try Self.both(SamplingRequest(method: .coral, nSamples: 200, weights: w,
                                      coralStrengths: CoralStrengths(scores: 0.5, diversity: 2), threads: 1), x,
                      expectLazy: false)
    }

    /// Exact ties (integer grid) and duplicates: the lowest position must still win, and
    /// duplicates (m = 0) come last.
    @Test(arguments: [2, 3, 16])
    func duplicatesAndTiesIdentical(d: Int) throws {
        let x = SamplingPruningTests.gridWithDuplicates(side: 12, repeats: 3, d: d)   // 432 rows, 144 distinct
        // 216 picks: all 144 distinct rows, then duplicates.
        let (lazy, _) = try Self.both(SamplingRequest(method: .coreset, nSamples: 216, threads: 1), x)
        #expect(lazy.picked.count == 216)
        try Self.both(SamplingRequest(method: .coreset, nSamples: 216, minDistance: 1e-6, threads: 1), x)
        try Self.both(SamplingRequest(method: .coreset, nSamples: 200, preselected: [0, 5, 77], threads: 1), x)
        let w = (0 ..< x.rows).map { Double(($0 * 37) % 5) }   // tied weights too
        try Self.both(SamplingRequest(method: .coral, nSamples: 216, weights: w, threads: 1), x)
    }

    @Test func preselectedAndCandidateSubset() throws {
        let n = 3000
        let x = SamplingPruningTests.clustered(n: n, d: 32, intrinsic: 3, clusters: 30, seed: 9)
        let pre = [3, 400, 401, 2999, 1200]
        try Self.both(SamplingRequest(method: .coreset, nSamples: 400, preselected: pre, threads: 1), x)
        let query = Array(stride(from: 0, to: n, by: 3)) + [400, 401]
        try Self.both(SamplingRequest(method: .coreset, nSamples: 300, query: query, threads: 1), x)
        try Self.both(SamplingRequest(method: .coreset, nSamples: 300, preselected: pre, query: query, threads: 1), x)
        // Many preselected rows (m from the blocked init).
        let many = Array(stride(from: 1, to: n, by: 11))
        try Self.both(SamplingRequest(method: .coreset, nSamples: Double(many.count + 250), preselected: many,
                                      threads: 1), x)
        try Self.both(SamplingRequest(method: .coral, nSamples: Double(many.count + 250), preselected: many,
                                      weights: SamplingTestData.weights(n: n, seed: 3), threads: 1), x)
    }

    /// float16 rows: d = 48 runs the Swift distance, d = 64 the C kernel (on AVX-512 CPUs).
    @Test(arguments: [48, 64])
    func float16Identical(d: Int) throws {
        let x = SamplingTestData.gaussian(n: 3000, d: d, seed: 31, normalise: true, storage: .float16)
        try Self.both(SamplingRequest(method: .coreset, nSamples: 400, threads: 1), x)
        try Self.both(SamplingRequest(method: .coral, nSamples: 300, preselected: [1, 2],
                                      weights: SamplingTestData.weights(n: 3000, seed: 32), threads: 1), x)
    }

    @Test func minDistanceIdentical() throws {
        let x = SamplingPruningTests.clustered(n: 3000, d: 32, intrinsic: 3, clusters: 30, seed: 41)
        let all = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 600, threads: 1), embeddings: x)
        let c = all.picked[300]
        let md = all.picked.prefix(300).map { Oracle.dist2(x, c, $0) }.min().map { $0.squareRoot() } ?? 0
        #expect(md > 0)
        // nSamples ≤ n/2 keeps lazy steps eligible; the distance stops it first.
        let (lazy, _) = try Self.both(SamplingRequest(method: .coreset, nSamples: 1500, minDistance: md, threads: 1), x)
        #expect(lazy.stoppedByMinDistance)
        #expect(lazy.picked.count > 100 && lazy.picked.count < 1000)
        try Self.both(SamplingRequest(method: .coral, nSamples: 1500, minDistance: md,
                                      weights: SamplingTestData.weights(n: 3000, seed: 42), threads: 1), x)
    }

    /// 2 × `rowsPerWorker` rows, so 2 and 3 threads really split the steps; the picks must
    /// not depend on it (the work counters may: each worker starts from the same floor).
    @Test(arguments: [SamplingMethod.coreset, .coral])
    func oneTwoThreeThreadsIdentical(method: SamplingMethod) throws {
        let n = 2 * LazyGreedy.rowsPerWorker + 77, d = 16
        let x = SamplingTestData.gaussian(n: n, d: d, seed: 51, normalise: true)
        let w = SamplingTestData.weights(n: n, seed: 52)
        var r = SamplingRequest(method: method, nSamples: 120, weights: w, threads: 1)
        let (one, _) = try Self.both(r, x)
        r.lazy = .on
        for t in [2, 3] {
            r.threads = t
            let lz = try Sampler.select(r, embeddings: x)
            #expect(lz.picked == one.picked, "threads=\(t)")
            #expect(lz.stats.lazyPasses == lz.stats.passes)
        }
    }

    /// Clustered data: the first picks (one per blob) need nearly every row, so `.auto`
    /// pauses lazy steps for plain passes, then resumes them with an empty center list once
    /// they pay again. The picks must not notice.
    @Test func autoPausesAndResumesOnClusteredData() throws {
        let x = SamplingPruningTests.clustered(n: 8000, d: 32, intrinsic: 8, clusters: 60, seed: 71)
        var r = SamplingRequest(method: .coreset, nSamples: 1200, threads: 1)
        let auto = try Sampler.select(r, embeddings: x)
        r.lazy = .off
        r.pruning = .off
        let plain = try Sampler.select(r, embeddings: x)
        #expect(auto.picked == plain.picked)
        let stopped = try #require(auto.stats.lazyStoppedAtPass)
        // Resumed: most passes after the pause are lazy again, and they saved most distances.
        #expect(auto.stats.lazyPasses > auto.stats.passes - stopped - 200, "\(auto.stats)")
        #expect(Double(auto.stats.distances) < 0.5 * Double(plain.stats.distances), "\(auto.stats)")
    }

    /// A small center list: each time it fills, every row is brought up to date and the
    /// list starts again; selecting most of the data goes through this many times.
    @Test(arguments: [1, 7, 64])
    func fullListIsFlushed(capacity: Int) throws {
        let x = SamplingTestData.gaussian(n: 1500, d: 32, seed: 81, normalise: true)
        var r = SamplingRequest(method: .coreset, nSamples: 300, threads: 1)
        r.lazyListCapacity = capacity
        let (lazy, _) = try Self.both(r, x)
        // Each flush reads (nearly) every untaken row: 299 steps flush 299/capacity times.
        #expect(lazy.stats.rowsScanned >= (299 / capacity) * 1000, "\(lazy.stats)")
        r.nSamples = -1   // all of them
        try Self.both(r, x)
        r.method = .coral
        r.weights = SamplingTestData.weights(n: 1500, seed: 82)
        r.nSamples = 1000
        try Self.both(r, x)
    }

    /// Bringing every row up to date can be long (a full list's worth of passes), so it asks
    /// the progress callback between row blocks and stops when told to.
    @Test func settleCanBeCancelled() throws {
        let n = LazyGreedy.settleBlock + 5000
        let x = SamplingTestData.gaussian(n: n, d: 16, seed: 91, normalise: true)
        var r = SamplingRequest(method: .coreset, nSamples: 40, threads: 1)
        r.lazyListCapacity = 4
        let calls = Calls()
        #expect(throws: SamplingError.cancelled) {
            _ = try Sampler.select(r, embeddings: x) { done, _ in
                calls.record(done)
                return done == 0   // the init may go on; the first settle (at 5 picks) stops
            }
        }
        #expect(calls.values.contains(5), "\(calls.values)")
        #expect(calls.values.allSatisfy { $0 < Sampler.progressInterval })
    }

    // MARK: - Modes

    @Test func autoIsLazyByDefault() throws {
        let x = SamplingTestData.gaussian(n: 3000, d: 32, seed: 61, normalise: true)
        let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 400, threads: 1), embeddings: x)
        #expect(r.stats.lazyPasses == 399)
        #expect(r.stats.lazyStoppedAtPass == nil)
        // An explicit pruning mode asks for that pass.
        var p = SamplingRequest(method: .coreset, nSamples: 400, threads: 1)
        p.pruning = .off
        #expect(try Sampler.select(p, embeddings: x).stats.lazyPasses == 0)
    }

    /// Where every row ties with the best (one-hot rows: all pairs at distance √2), every
    /// step must update every row: `.auto` switches to plain passes, with the same picks.
    @Test func autoGivesUpWhenNothingIsSaved() throws {
        let n = 400
        var v = [Float](repeating: 0, count: n * n)
        for i in 0 ..< n { v[i * n + (i * 7) % n] = 1 }
        let x = EmbeddingMatrix(rows: n, dimension: n, values: v)
        var r = SamplingRequest(method: .coreset, nSamples: 200, threads: 1)
        let auto = try Sampler.select(r, embeddings: x)
        #expect(auto.stats.lazyStoppedAtPass != nil)
        #expect(auto.stats.lazyPasses > 0 && auto.stats.lazyPasses < auto.stats.passes)
        r.lazy = .off
        r.pruning = .off
        let plain = try Sampler.select(r, embeddings: x)
        #expect(auto.picked == plain.picked)
        #expect(auto.picked == Array(0 ..< 200))   // all tied: the lowest index wins each time
        try Self.both(SamplingRequest(method: .coreset, nSamples: 200, threads: 1), x)
    }
}

/// Progress values seen by a callback (called from the sampling thread only).
private final class Calls: @unchecked Sendable {
    private(set) var values: [Int] = []
    func record(_ v: Int) { values.append(v) }
}
