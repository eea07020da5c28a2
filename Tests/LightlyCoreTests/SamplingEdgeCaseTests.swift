import Testing
@testable import LightlyCore

/// One test per row of docs/selection.md §11, plus request validation.
@Suite struct SamplingEdgeCaseTests {
    /// 1-D points 0, 1, 3, 6, 10 (exact float distances).
    static let line = SamplingTestData.matrix([[0], [1], [3], [6], [10]])

    @Test(arguments: SamplingMethod.allCases)
    func nSamplesAtMostPreselectedIsNoOp(method: SamplingMethod) throws {
        for k in [1.0, 2, 3] {
            let r = try Sampler.select(SamplingRequest(method: method, nSamples: k, preselected: [4, 2, 2, 0],
                                                       weights: [1, 1, 1, 1, 1]), embeddings: Self.line)
            #expect(r == SamplingResult(preselected: [0, 2, 4], picked: []))
        }
    }

    @Test(arguments: SamplingMethod.allCases)
    func nSamplesBeyondCandidatesSelectsAllOfC(method: SamplingMethod) throws {
        let r = try Sampler.select(SamplingRequest(method: method, nSamples: 100, preselected: [1],
                                                   weights: [1, 1, 1, 1, 1]), embeddings: Self.line)
        #expect(r.picked.sorted() == [0, 2, 3, 4])
        let unlimited = try Sampler.select(SamplingRequest(method: method, nSamples: -1, minDistance: 0,
                                                           weights: [1, 1, 1, 1, 1]), embeddings: Self.line)
        #expect(unlimited.picked.sorted() == [0, 1, 2, 3, 4])
    }

    @Test(arguments: SamplingMethod.allCases)
    func emptyCandidateSetReturnsP(method: SamplingMethod) throws {
        let r = try Sampler.select(SamplingRequest(method: method, nSamples: 10, preselected: [1, 3], query: [3, 1],
                                                   weights: [1, 1, 1, 1, 1]), embeddings: Self.line)
        #expect(r == SamplingResult(preselected: [1, 3], picked: []))
        let empty = EmbeddingMatrix(rows: 0, dimension: 4)
        #expect(try Sampler.select(SamplingRequest(method: method, nSamples: 5, weights: []), embeddings: empty).selected == [])
    }

    @Test func coresetFirstCenter() throws {
        let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 2), embeddings: Self.line)
        #expect(r.picked == [0, 4])
        let q = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 1, query: [2, 3]), embeddings: Self.line)
        #expect(q.picked == [2])
        var g = Xoshiro256StarStar(seed: 9)
        let expected = [0, 1, 2, 3, 4][Int(g.uniformBelow(5))]
        let s = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 1, seed: 9), embeddings: Self.line)
        #expect(s.picked == [expected])
    }

    @Test func coralFirstPickIsHighestScoreLowestIndexOnTies() throws {
        let r = try Sampler.select(SamplingRequest(method: .coral, nSamples: 1, weights: [0.1, 0.9, 0.2, 0.9, 0]),
                                   embeddings: Self.line)
        #expect(r.picked == [1])
        let zero = try Sampler.select(SamplingRequest(method: .coral, nSamples: 3, weights: [0, 0, 0, 0, 0]),
                                      embeddings: Self.line)
        // All scores 0: the product is 0 for everyone; fall back to pure diversity.
        #expect(zero.picked == [0, 4, 3])
    }

    @Test func duplicateRowsComeLastAndNeverWithMinDistance() throws {
        let x = SamplingTestData.matrix([[0, 0], [5, 0], [0, 0], [0, 5], [5, 0], [2, 2]])
        let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: -1), embeddings: x)
        #expect(r.picked == [0, 1, 3, 5, 2, 4])
        let s = try Sampler.select(SamplingRequest(method: .coreset, nSamples: -1, minDistance: 1e-9), embeddings: x)
        #expect(s.picked == [0, 1, 3, 5])
        #expect(s.stoppedByMinDistance)
        let c = try Sampler.select(SamplingRequest(method: .coral, nSamples: -1, minDistance: 1e-9,
                                                   weights: [1, 1, 1, 1, 1, 1]), embeddings: x)
        #expect(Set(c.picked) == [0, 1, 3, 5])
    }

    @Test func allCandidatesIdenticalToP() throws {
        let x = SamplingTestData.matrix([[1, 1], [1, 1], [1, 1], [1, 1]])
        let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 4, preselected: [2]), embeddings: x)
        #expect(r.picked == [0, 1, 3])
        let s = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 4, minDistance: 0.5, preselected: [2]),
                                   embeddings: x)
        #expect(s.picked == [] && s.stoppedByMinDistance)
    }

    @Test func minDistanceStopsAtChosenCandidateEqualAccepted() throws {
        // P = {0}: picks 4 (distance 10), 3 (4), 2 (3), 1 (1).
        let base = SamplingRequest(method: .coreset, nSamples: -1, preselected: [0])
        #expect(try Sampler.select(base, embeddings: Self.line).picked == [4, 3, 2, 1])
        var r = base
        r.minDistance = 3            // equal is accepted
        let a = try Sampler.select(r, embeddings: Self.line)
        #expect(a.picked == [4, 3, 2] && a.stoppedByMinDistance)
        r.minDistance = 3.0001
        let b = try Sampler.select(r, embeddings: Self.line)
        #expect(b.picked == [4, 3] && b.stoppedByMinDistance)
        r.minDistance = 0.5
        let c = try Sampler.select(r, embeddings: Self.line)
        #expect(c.picked == [4, 3, 2, 1] && !c.stoppedByMinDistance)
        // RANDOM and ACTIVE_LEARNING ignore it.
        for m in [SamplingMethod.random, .activeLearning] {
            let s = try Sampler.select(SamplingRequest(method: m, nSamples: -1, minDistance: 100, weights: [1, 2, 3, 4, 5]),
                                       embeddings: Self.line)
            #expect(s.picked.count == 5 && !s.stoppedByMinDistance)
        }
    }

    @Test func coralStopsEvenWhenAFartherCandidateExists() throws {
        // P = {0}; candidate 1 is near but heavy, 4 is far but weightless-ish.
        let r = try Sampler.select(SamplingRequest(method: .coral, nSamples: -1, minDistance: 2, preselected: [0],
                                                   weights: [0, 100, 0, 0, 0.001]), embeddings: Self.line)
        #expect(r.picked == [] && r.stoppedByMinDistance)
    }

    @Test func tiesGoToLowestIndex() throws {
        // Symmetric square: after 0, points 1 and 2 are equally far; 3 is farthest.
        let x = SamplingTestData.matrix([[0, 0], [1, 0], [0, 1], [1, 1], [0, 0]])
        let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: -1), embeddings: x)
        #expect(r.picked == [0, 3, 1, 2, 4])
        let al = try Sampler.select(SamplingRequest(method: .activeLearning, nSamples: 5, weights: [0.5, 0.7, 0.5, 0.7, 0.1]),
                                    embeddings: x)
        #expect(al.picked == [1, 3, 0, 2, 4])
    }

    @Test func fractionalNSamples() throws {
        let x = EmbeddingMatrix(rows: 10, dimension: 1, values: (0 ..< 10).map(Float.init))
        #expect(try Sampler.select(SamplingRequest(method: .random, nSamples: 0.25), embeddings: x).selected.count == 3)
        #expect(try Sampler.select(SamplingRequest(method: .coreset, nSamples: 0.5, preselected: [0, 1]), embeddings: x).selected.count == 5)
        #expect(try Sampler.select(SamplingRequest(method: .coreset, nSamples: 0.04), embeddings: x).selected.count == 0)
        #expect(try Sampler.select(SamplingRequest(method: .coreset, nSamples: 3.9), embeddings: x).selected.count == 3)
        #expect(try Sampler.select(SamplingRequest(method: .coreset, nSamples: .infinity), embeddings: x).selected.count == 10)
    }

    @Test func coralWithoutWeightsIsCoreset() throws {
        let x = SamplingTestData.gaussian(n: 200, d: 5, seed: 4)
        let a = try Sampler.select(SamplingRequest(method: .coral, nSamples: 20, preselected: [7]), embeddings: x)
        let b = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 20, preselected: [7]), embeddings: x)
        #expect(a == b)
    }

    @Test func preselectedOutsideQueryWeighZero() throws {
        let x = SamplingTestData.gaussian(n: 60, d: 3, seed: 8)
        var w = SamplingTestData.weights(n: 60, seed: 9)
        let r = SamplingRequest(method: .coral, nSamples: 10, preselected: [50, 55], query: Array(0 ..< 40), weights: w)
        let a = try Sampler.select(r, embeddings: x)
        w[50] = 1000; w[55] = 77
        var r2 = r
        r2.weights = w
        #expect(try Sampler.select(r2, embeddings: x) == a)
        #expect(a.picked == Oracle.select(r, x))
    }

    @Test func activeLearningIsTopScoreStable() throws {
        let r = try Sampler.select(SamplingRequest(method: .activeLearning, nSamples: 3, preselected: [4],
                                                   weights: [0.2, 0.9, 0.2, 0.3, 1.0]), embeddings: Self.line)
        #expect(r.picked == [1, 3])
    }

    // MARK: Validation: throws, never traps

    @Test func invalidRequestsThrow() {
        let x = Self.line
        #expect(throws: SamplingError.indexOutOfRange(5)) {
            try Sampler.select(SamplingRequest(method: .coreset, nSamples: 2, preselected: [5]), embeddings: x)
        }
        #expect(throws: SamplingError.indexOutOfRange(-1)) {
            try Sampler.select(SamplingRequest(method: .random, nSamples: 2, query: [0, -1]), embeddings: x)
        }
        #expect(throws: SamplingError.weightsRequired) {
            try Sampler.select(SamplingRequest(method: .activeLearning, nSamples: 2), embeddings: x)
        }
        for bad in [[1, 1, 1, 1], [1, -0.1, 1, 1, 1], [1, .nan, 1, 1, 1], [1, .infinity, 1, 1, 1]] as [[Double]] {
            #expect(throws: SamplingError.self) {
                try Sampler.select(SamplingRequest(method: .coral, nSamples: 2, weights: bad), embeddings: x)
            }
        }
        #expect(throws: SamplingError.invalidParameter("nSamples is NaN")) {
            try Sampler.select(SamplingRequest(method: .coreset, nSamples: .nan), embeddings: x)
        }
        #expect(throws: SamplingError.self) {
            try Sampler.select(SamplingRequest(method: .coreset, nSamples: 2, minDistance: .nan), embeddings: x)
        }
        #expect(throws: SamplingError.self) {
            try Sampler.select(SamplingRequest(method: .coral, nSamples: 2, weights: [1, 1, 1, 1, 1],
                                               coralStrengths: CoralStrengths(scores: -1, diversity: 1)), embeddings: x)
        }
        let nan = SamplingTestData.matrix([[0, 1], [.nan, 0], [1, 1]])
        #expect(throws: SamplingError.nonFinite) {
            try Sampler.select(SamplingRequest(method: .coreset, nSamples: 2), embeddings: nan)
        }
        let inf = SamplingTestData.matrix([[0, 1], [1, 0], [1, .infinity]])
        #expect(throws: SamplingError.nonFinite) {
            try Sampler.select(SamplingRequest(method: .coral, nSamples: 2, weights: [1, 1, 1]), embeddings: inf)
        }
        #expect(throws: SamplingError.dimensionMismatch) {
            try Sampler.select(SamplingRequest(method: .coreset, nSamples: 2), embeddings: EmbeddingMatrix(rows: 3, dimension: 0))
        }
    }

    @Test func progressCanCancel() throws {
        let x = SamplingTestData.gaussian(n: 500, d: 4, seed: 1)
        #expect(throws: SamplingError.cancelled) {
            try Sampler.select(SamplingRequest(method: .coreset, nSamples: 200), embeddings: x) { _, _ in false }
        }
        let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 200), embeddings: x) { done, total in
            done <= total
        }
        #expect(r.picked.count == 200)
    }
}
