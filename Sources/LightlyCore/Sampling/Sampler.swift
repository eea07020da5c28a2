#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The server-side selection algorithms of docs/selection.md.
///
/// ```swift
/// let x = EmbeddingMatrix(rows: 4, dimension: 1, values: [0, 1, 5, 6])
/// let r = try Sampler.select(SamplingRequest(method: .coreset, nSamples: 2), embeddings: x)
/// r.selected   // [0, 3]: the lowest index first, then the farthest point
/// ```
public enum Sampler {
    /// Problems with fewer elements (|C|·d) than this run their passes on one thread. Below
    /// about 1M elements (4 MB, ≈ 0.1 ms per pass) the fork/join of `concurrentPerform` per
    /// pick costs more than it saves, and much more on a loaded host where one of the two
    /// workers may be descheduled (measured with `sampling-bench`: 10k×32 took 0.039 s on
    /// one thread vs 0.060 s on two under load; see benchmarks/README.md).
    public static let parallelThreshold = 1 << 20

    /// How often (in picks) the progress callback is called during the greedy loop.
    public static let progressInterval = 64

    /// Runs one selection.
    ///
    /// - RANDOM: partial Fisher–Yates over the candidates in index order with xoshiro256**
    ///   and Lemire's bounded integers. O(|C|) time and memory.
    /// - CORESET: exact greedy k-center, farthest-first traversal (Gonzalez 1985, "Clustering
    ///   to minimize the maximum intercluster distance"; used for active learning by Sener &
    ///   Savarese 2018, "Active Learning for Convolutional Neural Networks: A Core-Set
    ///   Approach"). One fused pass per pick updates the min-distance array and finds the
    ///   next argmax; the preselected set is applied by a register-blocked kernel.
    /// - CORAL: greedy argmax of `(W_S + w_c)^α · (D_S + m_c)^β` (Lightly's product rule,
    ///   docs/selection.md §5), fused into the same pass; falls back to CORESET without weights.
    /// - ACTIVE_LEARNING: the `need` candidates with the largest weights, ties by index.
    ///
    /// Ties always go to the lowest sample index, and the result does not depend on
    /// `threads`.
    ///
    /// - Parameters:
    ///   - request: what to select (validated here; see ``SamplingRequest``).
    ///   - embeddings: the n×d matrix; row i is sample i.
    ///   - progress: called with (picks done, picks wanted) between P chunks of the
    ///     initialisation, every ``progressInterval`` picks and between row blocks when lazy
    ///     steps bring every row up to date; return false to cancel.
    /// - Returns: the preselected samples (ascending) and the picks in pick order.
    /// - Throws: ``SamplingError`` for invalid requests, never traps on request data;
    ///   `.cancelled` when `progress` returns false.
    /// - Complexity: CORESET/CORAL O(need·|C|·d + |C|·|P|·d (+|P|²·d for CORAL)) time,
    ///   at most 20 B per candidate (CORAL; 4–12 B for CORESET) plus
    ///   O((need + |P| + threads·16)·d) extra memory
    ///   (no n×k, n×|P| or n×d temporaries); RANDOM O(|C|); ACTIVE_LEARNING O(|C| log |C|).
    public static func select(_ request: SamplingRequest, embeddings: EmbeddingMatrix,
                              progress: (@Sendable (_ done: Int, _ total: Int) -> Bool)? = nil) throws -> SamplingResult {
        let plan = try Plan(request, rows: embeddings.rows)
        let pre = plan.preselected
        guard plan.need > 0 else { return SamplingResult(preselected: pre, picked: []) }
        switch request.method {
        case .random:
            var rng = Xoshiro256StarStar(seed: request.seed ?? 0)
            var a = plan.candidateArray()
            for t in 0 ..< plan.need {
                let j = t + Int(rng.uniformBelow(UInt64(a.count - t)))
                a.swapAt(t, j)
            }
            return SamplingResult(preselected: pre, picked: Array(a[0 ..< plan.need]))
        case .activeLearning:
            guard let w = request.weights else { throw SamplingError.weightsRequired }
            let c = plan.candidateArray()
            let order = c.sorted { w[$0] > w[$1] || (w[$0] == w[$1] && $0 < $1) }
            return SamplingResult(preselected: pre, picked: Array(order[0 ..< plan.need]))
        case .coreset, .coral:
            guard embeddings.dimension > 0 else { throw SamplingError.dimensionMismatch }
            guard embeddings.allFinite else { throw SamplingError.nonFinite }
            let useWeights = request.method == .coral && request.weights != nil
            var greedy = GreedySelection(plan: plan, matrix: embeddings,
                                         weights: useWeights ? request.weights : nil,
                                         request: request)
            return try greedy.run(progress: progress)
        }
    }
}

// MARK: - Request normalisation (docs/selection.md §2)

/// A validated request: P, C and `need`.
struct Plan {
    let rows: Int
    /// De-duplicated, ascending.
    let preselected: [Int]
    /// Candidates C = Q \ P ascending; nil means all rows (Q = all and P = ∅). UInt32 keeps
    /// the job at ≤ 24 B per sample (rows are limited to 2^31 − 1).
    let candidates: [UInt32]?
    let need: Int
    let minDistance: Double
    /// Σ of the weights of the preselected samples that are in Q (others weigh 0).
    let preselectedWeight: Double
    let threads: Int

    init(_ r: SamplingRequest, rows n: Int) throws {
        guard !r.nSamples.isNaN else { throw SamplingError.invalidParameter("nSamples is NaN") }
        guard !r.minDistance.isNaN else { throw SamplingError.invalidParameter("minDistance is NaN") }
        guard r.threads >= 0 else { throw SamplingError.invalidParameter("threads must be ≥ 0") }
        guard n < Int(Int32.max) else { throw SamplingError.invalidParameter("at most 2^31 − 2 samples") }
        let s = r.coralStrengths
        guard s.scores.isFinite, s.diversity.isFinite, s.scores >= 0, s.diversity >= 0 else {
            throw SamplingError.invalidParameter("CORAL strengths must be finite and ≥ 0")
        }
        if r.method == .activeLearning && r.weights == nil { throw SamplingError.weightsRequired }
        if let w = r.weights, r.method == .coral || r.method == .activeLearning {
            guard w.count == n else {
                throw SamplingError.invalidWeights("expected \(n) weights, got \(w.count)")
            }
            for (i, v) in w.enumerated() where !(v.isFinite && v >= 0) {
                throw SamplingError.invalidWeights("weight of sample \(i) is \(v); weights must be finite and ≥ 0")
            }
        }
        for i in r.preselected where i < 0 || i >= n { throw SamplingError.indexOutOfRange(i) }
        let pre = Array(Set(r.preselected)).sorted()
        var query: [Int]? = nil
        if let q = r.query {
            for i in q where i < 0 || i >= n { throw SamplingError.indexOutOfRange(i) }
            query = Array(Set(q)).sorted()
        }
        // C = Q \ P by a merge of two ascending lists.
        var cand: [UInt32]? = nil
        if query != nil || !pre.isEmpty {
            var c: [UInt32] = []
            c.reserveCapacity((query?.count ?? n) - min(pre.count, query?.count ?? n))
            var pi = 0
            func add(_ i: Int) {
                while pi < pre.count && pre[pi] < i { pi += 1 }
                if pi < pre.count && pre[pi] == i { return }
                c.append(UInt32(i))
            }
            if let q = query { for i in q { add(i) } } else { for i in 0 ..< n { add(i) } }
            cand = c
        }
        let candCount = cand?.count ?? n

        // k: ≥ 1 absolute (fraction dropped), (0, 1) fraction of N, ≤ 0 unlimited.
        let k: Int
        if r.nSamples >= 1 {
            k = r.nSamples >= 9.0e18 ? Int.max : Int(r.nSamples)
        } else if r.nSamples > 0 {
            k = Int((r.nSamples * Double(n)).rounded(.toNearestOrAwayFromZero))
        } else {
            k = Int.max
        }
        need = min(k == Int.max ? Int.max : k - pre.count, candCount)

        var pw = 0.0
        if let w = r.weights {
            for p in pre {
                let inQ = query.map { q in Self.contains(q, p) } ?? true
                if inQ { pw += w[p] }
            }
        }
        rows = n
        preselected = pre
        candidates = cand
        minDistance = r.minDistance
        preselectedWeight = pw
        threads = r.threads == 0 ? max(1, ProcessInfo.processInfo.activeProcessorCount) : r.threads
    }

    static func contains(_ sorted: [Int], _ x: Int) -> Bool {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] == x
    }

    var candidateCount: Int { candidates?.count ?? rows }
    func candidateArray() -> [Int] { candidates.map { $0.map(Int.init) } ?? Array(0 ..< rows) }
}
