import Testing
@testable import LightlyCore

// MARK: - Helpers

enum SamplingTestData {
    /// Seeded standard-normal-ish rows (Box–Muller), optionally unit-normalised.
    static func gaussian(n: Int, d: Int, seed: UInt64, normalise: Bool = false,
                         storage: EmbeddingStorage = .float32) -> EmbeddingMatrix {
        var rng = Xoshiro256StarStar(seed: seed)
        var v = [Float](repeating: 0, count: n * d)
        for i in 0 ..< n {
            var s = 0.0
            for j in 0 ..< d {
                let u1 = (Double(rng.next() >> 11) + 0.5) * 0x1p-53
                let u2 = Double(rng.next() >> 11) * 0x1p-53
                let g = (-2 * _log(u1)).squareRoot() * cosApprox(2 * Double.pi * u2)
                v[i * d + j] = Float(g)
                s += g * g
            }
            if normalise { for j in 0 ..< d { v[i * d + j] /= Float(s.squareRoot()) } }
        }
        return EmbeddingMatrix(rows: n, dimension: d, values: v, storage: storage)
    }

    /// A cosine good enough for test data (Taylor on a reduced range); only determinism matters.
    static func cosApprox(_ x: Double) -> Double {
        var y = x.truncatingRemainder(dividingBy: 2 * .pi)
        if y > .pi { y -= 2 * .pi }
        var term = 1.0, sum = 1.0
        for k in 1 ..< 14 { term *= -y * y / Double((2 * k - 1) * (2 * k)); sum += term }
        return sum
    }

    static func weights(n: Int, seed: UInt64) -> [Double] {
        var rng = Xoshiro256StarStar(seed: seed)
        return (0 ..< n).map { _ in Double(rng.next() >> 11) * 0x1p-53 }
    }

    static func matrix(_ rows: [[Float]]) -> EmbeddingMatrix {
        EmbeddingMatrix(rows: rows.count, dimension: rows.first?.count ?? 0, values: rows.flatMap { $0 })
    }
}

/// Two runs of one request that differ only in how the work is done (pass strategy): the
/// selections must be identical, pick order included, with the same number of passes.
enum SameSelection {
    static func run(_ request: SamplingRequest, _ x: EmbeddingMatrix,
                    plain: (inout SamplingRequest) -> Void, variant: (inout SamplingRequest) -> Void,
                    sourceLocation: SourceLocation) throws -> (variant: SamplingResult, plain: SamplingResult) {
        var r = request
        plain(&r)
        let p = try Sampler.select(r, embeddings: x)
        r = request
        variant(&r)
        let v = try Sampler.select(r, embeddings: x)
        #expect(v.picked == p.picked, sourceLocation: sourceLocation)
        #expect(v.preselected == p.preselected, sourceLocation: sourceLocation)
        #expect(v.stoppedByMinDistance == p.stoppedByMinDistance, sourceLocation: sourceLocation)
        #expect(v.stats.passes == p.stats.passes, sourceLocation: sourceLocation)
        return (v, p)
    }
}

/// Brute-force oracle for tiny inputs: recomputes every distance from scratch in Double,
/// straight from docs/selection.md §4, §5 (no incremental state, no blocking, no threads).
enum Oracle {
    static func dist2(_ x: EmbeddingMatrix, _ a: Int, _ b: Int) -> Double {
        dist2(x.row(a).map(Double.init), x.row(b).map(Double.init))
    }

    static func dist2(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for j in 0 ..< a.count { let e = a[j] - b[j]; s += e * e }
        return s
    }

    static func rows(_ x: EmbeddingMatrix) -> [[Double]] { (0 ..< x.rows).map { x.row($0).map(Double.init) } }

    static func select(_ r: SamplingRequest, _ x: EmbeddingMatrix) -> [Int] {
        let n = x.rows
        let xr = rows(x)
        func dist2(_ x: EmbeddingMatrix, _ a: Int, _ b: Int) -> Double { Oracle.dist2(xr[a], xr[b]) }
        let pre = Array(Set(r.preselected)).sorted()
        let q = Set(r.query ?? Array(0 ..< n))
        let cands = (0 ..< n).filter { q.contains($0) && !pre.contains($0) }
        let k = r.nSamples >= 1 ? Int(r.nSamples) : (r.nSamples > 0 ? Int((r.nSamples * Double(n)).rounded()) : Int.max)
        let need = min(k == Int.max ? Int.max : k - pre.count, cands.count)
        guard need > 0 else { return [] }
        let coral = r.method == .coral && r.weights != nil
        let w: (Int) -> Double = { i in (q.contains(i) ? r.weights?[i] : 0) ?? 0 }
        var S = pre
        var picks: [Int] = []
        func m(_ c: Int) -> Double { S.map { dist2(x, c, $0) }.min() ?? .infinity }
        while picks.count < need {
            let free = cands.filter { !S.contains($0) }
            var best = -1
            if S.isEmpty {
                if coral { best = free.max { w($0) < w($1) || (w($0) == w($1) && $0 > $1) }! }
                else if let seed = r.seed { var g = Xoshiro256StarStar(seed: seed); best = free[Int(g.uniformBelow(UInt64(free.count)))] }
                else { best = free[0] }
            } else if coral && !(S.map(w).reduce(0, +) == 0 && free.allSatisfy { w($0) == 0 } && cands.allSatisfy { w($0) == 0 }) {
                let W = S.map(w).reduce(0, +)
                let D = S.count < 2 ? 0 : S.map { s in S.filter { $0 != s }.map { dist2(x, s, $0) }.min()! }.reduce(0, +)
                var bo = -Double.infinity
                for c in free {
                    let o = r.coralStrengths.scores * logOr(W + w(c)) + r.coralStrengths.diversity * logOr(D + m(c))
                    if best < 0 || o > bo { bo = o; best = c }
                }
            } else {
                var bm = -1.0
                for c in free { let v = m(c); if v > bm { bm = v; best = c } }
            }
            if r.minDistance > 0 && m(best).squareRoot() < r.minDistance { break }
            picks.append(best)
            S.append(best)
        }
        return picks
    }

    static func logOr(_ x: Double) -> Double { x == 0 ? -.infinity : _log(x) }

    /// max over `over` of the Euclidean distance to the nearest selected sample.
    static func coveringRadius(_ x: EmbeddingMatrix, selected: [Int], over: [Int]) -> Double {
        let xr = rows(x)
        return over.map { i in selected.map { dist2(xr[i], xr[$0]) }.min() ?? .infinity }.max()!.squareRoot()
    }
}

// MARK: - Oracle and reference equality

@Suite struct SamplingOracleTests {
    @Test(arguments: [(SamplingMethod.coreset, UInt64(1)), (.coreset, 2), (.coral, 3), (.coral, 4), (.coreset, 5)])
    func matchesBruteForce(method: SamplingMethod, seed: UInt64) throws {
        let n = 40, d = 5
        let x = SamplingTestData.gaussian(n: n, d: d, seed: seed)
        let w = SamplingTestData.weights(n: n, seed: seed + 100)
        let variants: [SamplingRequest] = [
            SamplingRequest(method: method, nSamples: 12, weights: w),
            SamplingRequest(method: method, nSamples: 15, preselected: [3, 7, 3], weights: w),
            SamplingRequest(method: method, nSamples: 10, preselected: [1, 30], query: Array(0 ..< 25), weights: w),
            SamplingRequest(method: method, nSamples: 10, weights: w, seed: seed),
            SamplingRequest(method: method, nSamples: -1, minDistance: 1.5, preselected: [0], weights: w),
            SamplingRequest(method: method, nSamples: 9, weights: w,
                            coralStrengths: CoralStrengths(scores: 2, diversity: 0.5)),
        ]
        for r in variants {
            let got = try Sampler.select(r, embeddings: x)
            #expect(got.picked == Oracle.select(r, x), "request \(r)")
        }
    }

    @Test func numpyFixtureCoreset() throws {
        let f = SamplingFixture.self
        let x = EmbeddingMatrix(rows: f.rows, dimension: f.dimension, values: f.values)
        let a = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 40), embeddings: x)
        #expect(a.picked == f.coresetK40)
        let b = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 40, preselected: f.preselected), embeddings: x)
        #expect(b.preselected == f.preselected)
        #expect(b.picked == f.coresetPreK40)
    }

    @Test func numpyFixtureCoral() throws {
        let f = SamplingFixture.self
        let x = EmbeddingMatrix(rows: f.rows, dimension: f.dimension, values: f.values)
        let a = try Sampler.select(SamplingRequest(method: .coral, nSamples: 30, weights: f.weights), embeddings: x)
        #expect(a.picked == f.coralK30)
        let b = try Sampler.select(SamplingRequest(method: .coral, nSamples: 30, preselected: f.preselected,
                                                   weights: f.weights), embeddings: x)
        #expect(b.picked == f.coralPreK30)
        // Unequal strengths take the log path; equal non-unit strengths the product path.
        let c = try Sampler.select(SamplingRequest(method: .coral, nSamples: 30, weights: f.weights,
                                                   coralStrengths: CoralStrengths(scores: 3, diversity: 3)), embeddings: x)
        #expect(c.picked == f.coralK30)
    }

    @Test func randomMatchesSpecifiedGenerator() throws {
        var g = Xoshiro256StarStar(seed: 0)
        #expect((0 ..< 4).map { _ in g.next() } == SamplingFixture.xoshiroSeed0First4)
        let x20 = EmbeddingMatrix(rows: 20, dimension: 1)
        let a = try Sampler.select(SamplingRequest(method: .random, nSamples: 5), embeddings: x20)
        #expect(a.picked == SamplingFixture.randomSeed0N20K5)
        let x1000 = EmbeddingMatrix(rows: 1000, dimension: 0)
        let b = try Sampler.select(SamplingRequest(method: .random, nSamples: 10, seed: 42), embeddings: x1000)
        #expect(b.picked == SamplingFixture.randomSeed42N1000K10)
    }

    /// Exact equality with a Double-precision incremental reference on larger data, up to
    /// the first near-tie (gap < 1e-5 relative; docs/selection.md §10 compares exact sequences only without near-ties).
    @Test func matchesDoubleReferenceWithoutNearTies() throws {
        let n = 3000, d = 24, k = 60
        let x = SamplingTestData.gaussian(n: n, d: d, seed: 77)
        let got = try Sampler.select(SamplingRequest(method: .coreset, nSamples: Double(k), threads: 2), embeddings: x)
        let xr = Oracle.rows(x)
        var m = [Double](repeating: .infinity, count: n)
        var taken = [Bool](repeating: false, count: n)
        var c = 0
        var ref: [Int] = []
        var clean = true
        while ref.count < k {
            ref.append(c); taken[c] = true
            for i in 0 ..< n { m[i] = min(m[i], Oracle.dist2(xr[i], xr[c])) }
            var best = -1, second = -1.0
            for i in 0 ..< n where !taken[i] {
                if best < 0 || m[i] > m[best] { if best >= 0 { second = max(second, m[best]) }; best = i }
                else { second = max(second, m[i]) }
            }
            if (m[best] - second) / m[best] < 1e-5 { clean = false; break }
            c = best
        }
        #expect(clean || ref.count >= 30, "too few picks before the first near-tie: \(ref.count)")
        #expect(Array(got.picked.prefix(ref.count)) == ref)
    }
}

// MARK: - Properties

@Suite struct SamplingPropertyTests {
    @Test(arguments: [SamplingMethod.random, .coreset, .coral, .activeLearning])
    func indicesUniqueInRangeAndSized(method: SamplingMethod) throws {
        let n = 500
        let x = SamplingTestData.gaussian(n: n, d: 7, seed: 9)
        let w = SamplingTestData.weights(n: n, seed: 10)
        let pre = [4, 4, 99, 250, 499]
        let query = Array(stride(from: 0, to: n, by: 2))
        for k in [1.0, 3, 5, 6, 50, 300, 1000, -1] {
            let r = SamplingRequest(method: method, nSamples: k, preselected: pre, query: query, weights: w, seed: 3)
            let res = try Sampler.select(r, embeddings: x)
            let sel = res.selected
            #expect(Set(sel).count == sel.count)
            #expect(sel.allSatisfy { $0 >= 0 && $0 < n })
            #expect(res.preselected == [4, 99, 250, 499])
            #expect(Set(res.preselected).isSubset(of: Set(sel)))
            let pUnionC = Set(query).union(pre).count
            let expected = k <= 0 ? pUnionC : min(max(Int(k), 4), pUnionC)
            #expect(sel.count == expected, "k=\(k)")
            #expect(res.picked.allSatisfy { query.contains($0) && !pre.contains($0) })
        }
    }

    @Test func coveringRadiusNeverGrowsAndPicksArePrefixes() throws {
        let x = SamplingTestData.gaussian(n: 300, d: 6, seed: 21)
        let all = Array(0 ..< 300)
        var last = Double.infinity
        var previous: [Int] = []
        for k in 1 ... 40 {
            let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: Double(k), preselected: [17]), embeddings: x)
            let radius = Oracle.coveringRadius(x, selected: r.selected, over: all)
            #expect(radius <= last)
            #expect(Array(r.picked.prefix(previous.count)) == previous)
            last = radius
            previous = r.picked
        }
    }

    /// Large enough (|C|·d ≥ parallelThreshold) that 2 threads really split the passes.
    @Test(arguments: [SamplingMethod.coreset, .coral])
    func sameResultForOneAndTwoThreads(method: SamplingMethod) throws {
        let n = 24_000, d = 48
        #expect(n * d >= Sampler.parallelThreshold)
        let x = SamplingTestData.gaussian(n: n, d: d, seed: 5, normalise: true)
        let w = SamplingTestData.weights(n: n, seed: 6)
        for pre in [[], [1, 2, 3000, 5999]] {
            var r = SamplingRequest(method: method, nSamples: 40, preselected: pre, weights: w, threads: 1)
            let one = try Sampler.select(r, embeddings: x)
            for t in [2, 3, 7] {
                r.threads = t
                #expect(try Sampler.select(r, embeddings: x) == one, "threads=\(t)")
            }
        }
    }

    @Test func float16StorageIsApproximateButValid() throws {
        let n = 2000, d = 32
        let x32 = SamplingTestData.gaussian(n: n, d: d, seed: 11, normalise: true)
        let x16 = SamplingTestData.gaussian(n: n, d: d, seed: 11, normalise: true, storage: .float16)
        #expect(x16.byteCount == n * d * 2)
        let r = SamplingRequest(method: .coreset, nSamples: 50, preselected: [5, 6])
        let a = try Sampler.select(r, embeddings: x32), b = try Sampler.select(r, embeddings: x16)
        #expect(Set(b.selected).count == 50)
        let all = Array(0 ..< n)
        let ra = Oracle.coveringRadius(x32, selected: a.selected, over: all)
        let rb = Oracle.coveringRadius(x32, selected: b.selected, over: all)
        #expect(abs(ra - rb) / ra < 0.05)
        // Well-separated points pick identically in float16.
        let grid = SamplingTestData.matrix((0 ..< 64).map { i in [Float(i % 8), Float(i / 8)] })
        let g16 = EmbeddingMatrix(rows: 64, dimension: 2, values: (0 ..< 64).flatMap { i in [Float(i % 8), Float(i / 8)] }, storage: .float16)
        let rg = SamplingRequest(method: .coreset, nSamples: 10)
        #expect(try Sampler.select(rg, embeddings: grid) == Sampler.select(rg, embeddings: g16))
    }

    @Test func matrixAccessors() {
        let m = EmbeddingMatrix(rows: 3, dimension: 2, values: [0, 0, 1, 0, 0, 1])
        #expect(m.row(1) == [1, 0])
        #expect(m.byteCount == 24)
        #expect(Int(bitPattern: m.base) % 64 == 0)
        [Float](arrayLiteral: 5, 6).withUnsafeBufferPointer { m.setRow(2, from: $0) }
        #expect(m.row(2) == [5, 6])
        let h = EmbeddingMatrix(rows: 2, dimension: 2, storage: .float16)
        h.withUnsafeMutableFloats { $0[3] = 0.5 }
        #expect(h.row(1) == [0, 0.5])
    }
}
