// The selection strategies, shared by the sampler, the wire types and the Swift client.

/// The selection strategies of the Lightly platform API (`SamplingCreateRequest.method`).
public enum SamplingMethod: String, Sendable, Codable, CaseIterable {
    /// Seeded uniform sampling without replacement.
    case random = "RANDOM"
    /// Exact greedy k-center on squared Euclidean distances.
    case coreset = "CORESET"
    /// Lightly's product rule of scores and diversity.
    case coral = "CORAL"
    /// Top-`need` candidates by score, stable by index.
    case activeLearning = "ACTIVE_LEARNING"
}
