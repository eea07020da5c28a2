// Public request/response types of the server-side sampler (docs/selection.md).

/// The selection strategies of the Lightly platform API (`SamplingCreateRequest.method`).
public enum SamplingMethod: String, Sendable, Codable, CaseIterable {
    /// Seeded uniform sampling without replacement (docs/selection.md §3).
    case random = "RANDOM"
    /// Exact greedy k-center on squared Euclidean distances (docs/selection.md §4).
    case coreset = "CORESET"
    /// Lightly's product rule of scores and diversity (docs/selection.md §5).
    case coral = "CORAL"
    /// Top-`need` candidates by score, stable by index (docs/selection.md §6).
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

/// One sampling job: what to select from an ``EmbeddingMatrix`` (docs/selection.md §2).
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
    /// Cluster skipping in the CORESET/CORAL passes (PrunedGreedy.swift). Results do not
    /// depend on it; not part of the request JSON.
    public var pruning: ClusterPruning = .auto
    /// Lazy application of new centers in the CORESET/CORAL passes (LazyGreedy.swift).
    /// Results do not depend on it; not part of the request JSON.
    public var lazy: LazyEvaluation = .auto
    /// Tests: the most centers the lazy list holds before it is flushed (default: 32 MiB).
    var lazyListCapacity: Int? = nil

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
    /// Work counters of the greedy passes (zero for RANDOM/ACTIVE_LEARNING and no-ops).
    /// Not part of equality: two results are equal when they select the same samples.
    public var stats: SamplingStats

    public init(preselected: [Int], picked: [Int], stoppedByMinDistance: Bool = false,
                stats: SamplingStats = SamplingStats()) {
        self.preselected = preselected
        self.picked = picked
        self.stoppedByMinDistance = stoppedByMinDistance
        self.stats = stats
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.preselected == b.preselected && a.picked == b.picked && a.stoppedByMinDistance == b.stoppedByMinDistance
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
