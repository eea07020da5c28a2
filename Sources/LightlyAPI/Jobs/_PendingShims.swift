// TEMPORARY SHIMS until the `samplers` and `csv` branches land. Delete this file after merging them.
// The types mirror the names agreed in the brief; the implementations are naive.

public enum SamplingMethod: String, Sendable, Codable, CaseIterable {
    /// Seeded uniform sampling without replacement (design §2.2).
    case random = "RANDOM"
    /// Exact greedy k-center on squared Euclidean distances (design §2.3).
    case coreset = "CORESET"
    /// Lightly's product rule of scores and diversity (design §2.4).
    case coral = "CORAL"
    /// Top-`need` candidates by score, stable by index (design §2.4, last bullet).
    case activeLearning = "ACTIVE_LEARNING"
}

/// Exponents of the CORAL product objective `(W_S + w_c)^scores · (D_S + m_c)^diversity`.
///
/// Both must be finite and ≥ 0. Equal strengths (the default 1, 1) select exactly like the
/// plain product and take a fast path; unequal strengths evaluate the log form per row.
public struct CoralStrengths: Sendable, Equatable, Hashable {
    public var scores: Double
    public var diversity: Double
    public init(scores: Double = 1, diversity: Double = 1) {
        self.scores = scores
        self.diversity = diversity
    }
}

/// One sampling job: what to select from an ``EmbeddingMatrix`` (design §2.1).
///
/// ```swift
/// let request = SamplingRequest(method: .coreset, nSamples: 100, preselected: labeled)
/// let result = try Sampler.select(request, embeddings: matrix)
/// ```
public struct SamplingRequest: Sendable, Equatable {
    public var method: SamplingMethod
    /// ≥ 1: the total size after selection, preselected included (the fraction part is
    /// dropped). In (0, 1): a fraction of N, rounded half away from zero. ≤ 0: no count limit.
    public var nSamples: Double
    /// Euclidean (not squared) stopping distance; ≤ 0 disables it. RANDOM and
    /// ACTIVE_LEARNING ignore it.
    public var minDistance: Double
    /// Preselected (already labeled) sample indices; any order, duplicates allowed.
    public var preselected: [Int]
    /// The query set (candidates ∪ possibly some preselected); `nil` means all samples.
    public var query: [Int]?
    /// Per-sample scores, length N, indexed by sample; finite and ≥ 0. CORAL without
    /// weights falls back to CORESET; ACTIVE_LEARNING requires them. Preselected samples
    /// outside the query set weigh 0.
    public var weights: [Double]?
    /// RANDOM seed (default 0). CORESET with no preselected samples: the first center is a
    /// seeded random candidate when non-nil, otherwise the lowest index.
    public var seed: UInt64?
    public var coralStrengths: CoralStrengths
    /// Worker threads; 0 = all cores. Results do not depend on it.
    public var threads: Int

    public init(method: SamplingMethod, nSamples: Double = -1, minDistance: Double = 0,
                preselected: [Int] = [], query: [Int]? = nil, weights: [Double]? = nil,
                seed: UInt64? = nil, coralStrengths: CoralStrengths = CoralStrengths(),
                threads: Int = 0) {
        self.method = method
        self.nSamples = nSamples
        self.minDistance = minDistance
        self.preselected = preselected
        self.query = query
        self.weights = weights
        self.seed = seed
        self.coralStrengths = coralStrengths
        self.threads = threads
    }
}

/// The outcome of a selection: the preselected set plus the new picks in pick order.
public struct SamplingResult: Sendable, Equatable {
    /// The preselected samples, de-duplicated and ascending.
    public var preselected: [Int]
    /// The newly selected samples, in the order they were picked.
    public var picked: [Int]
    /// `preselected + picked`: the content of the new tag.
    public var selected: [Int] { preselected + picked }
    /// True when the selection ended because the chosen candidate was closer than
    /// `minDistance` to the selected set (before reaching `nSamples`).
    public var stoppedByMinDistance: Bool

    public init(preselected: [Int], picked: [Int], stoppedByMinDistance: Bool = false) {
        self.preselected = preselected
        self.picked = picked
        self.stoppedByMinDistance = stoppedByMinDistance
    }
}

/// Why a sampling request was rejected. All are client errors (400) except `cancelled`.
public enum SamplingError: Error, Equatable, Sendable {
    /// A preselected or query index is outside `0 ..< N`.
    case indexOutOfRange(Int)
    /// ACTIVE_LEARNING without weights.
    case weightsRequired
    /// Weights of the wrong length, negative or non-finite (the message says which).
    case invalidWeights(String)
    /// The embedding matrix has dimension 0 but a distance-based method was requested.
    case dimensionMismatch
    /// The embeddings contain NaN or ±Inf.
    case nonFinite
    /// `nSamples`, `minDistance`, `threads` or the CORAL strengths are NaN or out of range.
    case invalidParameter(String)
    /// The progress callback returned false.
    case cancelled
}

public final class EmbeddingMatrix: @unchecked Sendable {
    public let rows: Int
    public let dimension: Int
    let base: UnsafeMutableBufferPointer<Float>
    public init(rows: Int, dimension: Int) {
        self.rows = rows
        self.dimension = dimension
        base = .allocate(capacity: max(1, rows * dimension))
        base.initialize(repeating: 0)
    }
    public convenience init(rows: Int, dimension: Int, values: [Float]) {
        self.init(rows: rows, dimension: dimension)
        for i in values.indices { base[i] = values[i] }
    }
    deinit { base.deallocate() }
    public var byteCount: Int { rows * dimension * 4 }
    public func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(rebasing: base[0 ..< rows * dimension]))
    }
    public func row(_ i: Int) -> [Float] { Array(base[(i * dimension) ..< ((i + 1) * dimension)]) }
}

public enum Sampler {
    public static func select(_ r: SamplingRequest, embeddings m: EmbeddingMatrix,
                              progress: (Int, Int) -> Bool = { _, _ in true }) throws -> SamplingResult {
        let n = m.rows
        let p = Array(Set(r.preselected)).sorted()
        let pSet = Set(p)
        let cand = (r.query ?? Array(0 ..< n)).filter { !pSet.contains($0) }.sorted()
        var k = Int.max
        if r.nSamples >= 1 { k = Int(r.nSamples) } else if r.nSamples > 0 { k = Int((r.nSamples * Double(n)).rounded()) }
        let need = min(k == Int.max ? cand.count : max(0, k - p.count), cand.count)
        guard need > 0 else { return SamplingResult(preselected: p, picked: []) }
        switch r.method {
        case .random:
            return SamplingResult(preselected: p, picked: Array(cand.prefix(need)))
        case .activeLearning:
            guard let w = r.weights else { throw SamplingError.weightsRequired }
            let sorted = cand.sorted { w[$0] != w[$1] ? w[$0] > w[$1] : $0 < $1 }
            return SamplingResult(preselected: p, picked: Array(sorted.prefix(need)))
        case .coreset, .coral:
            func d2(_ a: Int, _ b: Int) -> Float {
                var s: Float = 0
                for j in 0 ..< m.dimension { let d = m.base[a * m.dimension + j] - m.base[b * m.dimension + j]; s += d * d }
                return s
            }
            var minD = [Float](repeating: .infinity, count: n)
            var taken = Set<Int>()
            var picked: [Int] = []
            for c in cand { for q in p { minD[c] = min(minD[c], d2(c, q)) } }
            if p.isEmpty { picked.append(cand[0]); taken.insert(cand[0]); for c in cand { minD[c] = min(minD[c], d2(c, cand[0])) } }
            while picked.count < need {
                var best = -1
                for c in cand where !taken.contains(c) { if best < 0 || minD[c] > minD[best] { best = c } }
                if r.minDistance > 0 && Double(minD[best]).squareRoot() < r.minDistance {
                    return SamplingResult(preselected: p, picked: picked, stoppedByMinDistance: true)
                }
                picked.append(best); taken.insert(best)
                for c in cand { minD[c] = min(minD[c], d2(c, best)) }
                guard progress(picked.count, need) else { throw SamplingError.cancelled }
            }
            return SamplingResult(preselected: p, picked: picked)
        }
    }
}

