import Foundation
import Synchronization
import LightlyWire
import LightlyShared

/// The Swift counterpart of the Python `ActiveLearningAgent` (1.1.16+ semantics, canonical
/// bit order): keeps the query tag (the pool) and the preselected tag (the labeled set) and
/// asks the server for the next batch.
///
/// ```swift
/// let agent = try await ActiveLearningAgent(client: client)                  // query = initial-tag
/// try await agent.query(selectionConfig: SelectionConfig(method: .coreset, nSamples: 100, name: "coreset-100"))
/// let unlabeled = try await agent.unlabeledSet                               // train, predict on agent.querySet
/// try await agent.query(selectionConfig: SelectionConfig(method: .coral, nSamples: 200, name: "coral-200"),
///                       scorer: try ScorerClassification(modelOutput: predictions))
/// ```
public final class ActiveLearningAgent: Sendable {
    public let client: ApiWorkflowClient
    private let state: Mutex<State>

    struct State {
        var queryTag: TagData
        var preselectedTag: TagData?
        var previousPreselected: TagData?
    }

    /// - Parameters:
    ///   - queryTagName: the pool to select from (default `initial-tag`, the whole dataset).
    ///   - preselectedTagName: a tag whose samples count as labeled already.
    public init(client: ApiWorkflowClient, queryTagName: String = "initial-tag", preselectedTagName: String? = nil) async throws {
        self.client = client
        let tags = try await client.tags()
        guard let q = tags.first(where: { $0.name == queryTagName }) else {
            throw LightlyClientError.invalidArgument("no tag named \"\(queryTagName)\"")
        }
        var p: TagData?
        if let name = preselectedTagName {
            guard let t = tags.first(where: { $0.name == name }) else {
                throw LightlyClientError.invalidArgument("no tag named \"\(name)\"")
            }
            p = t
        }
        state = Mutex(State(queryTag: q, preselectedTag: p))
    }

    public var queryTag: TagData { state.withLock { $0.queryTag } }
    public var preselectedTag: TagData? { state.withLock { $0.preselectedTag } }

    /// Filenames of the labeled set (the preselected tag), in mapping order.
    public var labeledSet: [String] {
        get async throws {
            guard let p = preselectedTag else { return [] }
            return try await client.filenames(of: p)
        }
    }

    /// Filenames of the query tag, in mapping order: the order scores must follow.
    public var querySet: [String] {
        get async throws { try await client.filenames(of: queryTag) }
    }

    /// The query set minus the labeled set, in mapping order.
    public var unlabeledSet: [String] {
        get async throws {
            let labeled = Set(try await labeledSet)
            return try await querySet.filter { !labeled.contains($0) }
        }
    }

    /// What the last query added to the labeled set.
    public var addedSet: [String] {
        get async throws {
            let (now, before) = state.withLock { ($0.preselectedTag, $0.previousPreselected) }
            guard let now else { return [] }
            var old = Set<String>()
            if let before { old = Set(try await client.filenames(of: before)) }
            return try await client.filenames(of: now).filter { !old.contains($0) }
        }
    }

    /// Asks the server for the next batch; the new tag becomes the labeled set.
    /// - Parameters:
    ///   - scorer: scores for the samples of the query set (in `querySet` order); required for
    ///     `ACTIVE_LEARNING`, used by `CORAL`.
    /// - Returns: the new tag, or nil when `nSamples` is smaller than the labeled set (nothing asked, as in Python).
    @discardableResult
    public func query(selectionConfig: SelectionConfig, scorer: (any Scorer)? = nil,
                      timeout: Duration = .seconds(3600)) async throws -> TagData? {
        let labeledCount = try await labeledSet.count
        if selectionConfig.nSamples >= 1, Int(selectionConfig.nSamples) < labeledCount {
            return nil
        }
        let q = queryTag
        if let scorer {
            let scores = scorer.calculateScores()
            let n = try await querySet.count
            for (name, values) in scores where values.count != n {
                throw LightlyClientError.invalidArgument("score \(name) has \(values.count) values but the query set has \(n) samples")
            }
            try await client.uploadScores(scores, queryTagId: q.id)
        }
        let newTag = try await client.selection(selectionConfig, preselectedTagId: preselectedTag?.id, queryTagId: q.id, timeout: timeout)
        state.withLock { s in
            s.previousPreselected = s.preselectedTag
            s.preselectedTag = newTag
        }
        return newTag
    }

    /// `query(selectionConfig:)` under its argument label before the Python client 1.2.14.
    @discardableResult
    public func query(samplerConfig: SamplerConfig, scorer: (any Scorer)? = nil,
                      timeout: Duration = .seconds(3600)) async throws -> TagData? {
        try await query(selectionConfig: samplerConfig, scorer: scorer, timeout: timeout)
    }
}
