// The seed workflow of the Python client, in Swift, against a live server: create a dataset from
// embeddings alone, select an initial CORESET, then a CORAL round with classification scores.
// Reads LIGHTLY_SERVER_LOCATION and LIGHTLY_TOKEN; prints what it selected and exits 0, or
// prints the error and exits 1.
#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import LightlyClient

/// A small deterministic generator, so every run uploads the same embeddings.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

struct WorkflowError: Error, CustomStringConvertible {
    var description: String
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw WorkflowError(description: message()) }
}

func seedWorkflow() async throws {
    guard let token = ProcessInfo.processInfo.environment["LIGHTLY_TOKEN"], !token.isEmpty else {
        throw WorkflowError(description: "set LIGHTLY_TOKEN (and LIGHTLY_SERVER_LOCATION) first")
    }
    // api_workflow_client = ApiWorkflowClient(token=token)   (LIGHTLY_SERVER_LOCATION from the environment)
    let client = try ApiWorkflowClient(token: token)
    let datasetId = try await client.createNewDatasetWithUniqueName("seed-workflow-example")

    // 120 embeddings in 3 clusters; the CSV creates the samples and the `initial-tag`.
    var rng = SplitMix64(state: 42)
    let names = (0..<120).map { "img_\($0).jpg" }
    let rows: [[Float]] = (0..<120).map { i in
        (0..<16).map { j in (j == i % 3 ? 10 : 0) + Float(rng.unit() - 0.5) }
    }
    try await client.uploadEmbeddings(rows, filenames: names, name: "default")

    // al_agent = ActiveLearningAgent(api_workflow_client); al_agent.query(SamplerConfig(...))
    let agent = try await ActiveLearningAgent(client: client)
    try await agent.query(samplerConfig: SamplerConfig(method: .coreset, nSamples: 30, name: "initial-selection"))
    let labeled = try await agent.labeledSet
    try check(labeled.count == 30, "CORESET selected \(labeled.count) samples, expected 30")
    let clusters = Set(labeled.compactMap { names.firstIndex(of: $0).map { $0 % 3 } })
    try check(clusters.count == 3, "CORESET missed a cluster: \(clusters.sorted())")

    // scorer = ScorerClassification(predictions); al_agent.query(SamplerConfig(CORAL), scorer)
    let query = try await agent.querySet
    let predictions = query.map { _ -> [Double] in
        let raw = (0..<4).map { _ in rng.unit() + 0.01 }
        let sum = raw.reduce(0, +)
        return raw.map { $0 / sum }
    }
    let scorer = try ScorerClassification(modelOutput: predictions)
    try await agent.query(samplerConfig: SamplerConfig(method: .coral, nSamples: 60, name: "al-loop-1"), scorer: scorer)
    let after = try await agent.labeledSet
    try check(after.count == 60, "CORAL left \(after.count) labeled samples, expected 60")
    try check(Set(after).isSuperset(of: labeled), "CORAL dropped samples of the initial selection")

    print("seed workflow ok: dataset \(datasetId), CORESET \(labeled.count) (clusters \(clusters.sorted())), CORAL \(after.count)")
}

do {
    try await seedWorkflow()
} catch {
    print("seed workflow failed: \(error)")
    exit(1)
}
