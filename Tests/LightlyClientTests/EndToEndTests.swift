import Foundation
import Testing
@testable import LightlyClient
import LightlyCore
import LightlyWire

/// The seed workflow in Swift against a real `lightly-server` process on port 0.
@Suite(.serialized) struct EndToEndTests {
    /// 300 samples in 3 well-separated clusters of 100, 8-d, with the CSV rows shuffled.
    static func dataset() -> (names: [String], rows: [[Float]]) {
        var rng = SplitMix64(seed: 7)
        var names = [String](), rows = [[Float]]()
        for i in 0..<300 {
            let c = Float(i % 3) * 10
            names.append("img_\(String(format: "%04d", i)).jpg")
            rows.append((0..<8).map { j in (j == i % 3 ? c : 0) + Float(rng.unit() - 0.5) })
        }
        return (names, rows)
    }

    @Test func seedWorkflowInSwift() async throws {
        let server = try LiveServer()
        defer { #expect(server.stop() == 0) }
        let client = try ApiWorkflowClient(token: server.token, serverLocation: server.url)
        #expect(try await client.minimumVersion() == "1.0.0")

        let datasetId = try await client.createDataset(name: "seed-swift")
        #expect(try await client.createDataset(name: "seed-swift", reuseExisting: true) == datasetId)
        let (names, rows) = Self.dataset()
        var order = Array(0..<names.count)
        var rng = SplitMix64(seed: 3)
        order.shuffle(using: &rng)
        try await client.uploadEmbeddings(order.map { rows[$0] }, filenames: order.map { names[$0] }, name: "default")
        // The CSV created the samples in CSV order, and an initial tag holding all of them.
        let mapping = try await client.filenamesOnServer(refresh: true)
        #expect(mapping == order.map { names[$0] })
        let tags = try await client.tags()
        #expect(tags.map(\.name) == ["initial-tag"])
        #expect(tags[0].totSize == 300)

        let agent = try await ActiveLearningAgent(client: client)
        #expect(try await agent.labeledSet.isEmpty)
        let first = try #require(try await agent.query(samplerConfig: SamplerConfig(method: .coreset, nSamples: 100, name: "coreset-100")))
        #expect(first.name == "coreset-100")
        #expect(try await agent.labeledSet.count == 100)
        let unlabeled = try await agent.unlabeledSet
        #expect(unlabeled.count == 200)

        // CORESET starts at mapping index 0 and then takes the farthest points: all 3 clusters appear.
        let labeled = try await agent.labeledSet
        let clusters = Set(labeled.compactMap { name -> Int? in names.firstIndex(of: name).map { $0 % 3 } })
        #expect(clusters == [0, 1, 2])

        // CORAL with classification scores for the whole query set (mapping order).
        let query = try await agent.querySet
        var prng = SplitMix64(seed: 11)
        let predictions = query.map { _ -> [Double] in
            let raw = (0..<4).map { _ in prng.unit() + 0.01 }
            let s = raw.reduce(0, +)
            return raw.map { $0 / s }
        }
        let scorer = try ScorerClassification(modelOutput: predictions)
        let second = try #require(try await agent.query(samplerConfig: SamplerConfig(method: .coral, nSamples: 200, name: "coral-200"), scorer: scorer))
        let secondSet = Set(try await client.filenames(of: second))
        #expect(secondSet.count == 200)
        #expect(secondSet.isSuperset(of: labeled))
        #expect(try await agent.addedSet.count == 100)
        #expect(second.preselectedTagId == first.id)

        // Re-initialising from the tag gives the same labeled set.
        let client2 = try ApiWorkflowClient(token: server.token, datasetId: datasetId, serverLocation: server.url)
        let agent2 = try await ActiveLearningAgent(client: client2, preselectedTagName: "coral-200")
        #expect(Set(try await agent2.labeledSet) == secondSet)
        #expect(try await agent2.unlabeledSet.count == 100)

        // Tag helpers: arithmetics and create-from-filenames.
        let diff = try await client.tagArithmetics(.difference, second.id, first.id)
        #expect(diff.bitMask.count == 100)
        let fromNames = try await client.createTag(fromFilenames: Array(labeled.prefix(5)), name: "five")
        #expect(try await client.filenames(of: client.tag(id: fromNames)) == Array(labeled.prefix(5)).sorted { a, b in
            mapping.firstIndex(of: a)! < mapping.firstIndex(of: b)! })
    }

    /// What the Python client 1.2.14–1.5.26 added: names queries, selection, scores, exports, paging.
    @Test func newerClientFlow() async throws {
        let server = try LiveServer()
        defer { #expect(server.stop() == 0) }
        let client = try ApiWorkflowClient(token: server.token, serverLocation: server.url)

        // Datasets by name: create fails on a taken name unless told to reuse it.
        let id = try await client.createDataset(name: "pets")
        let taken = await #expect(throws: LightlyClientError.self) { try await client.createDataset(name: "pets") }
        guard case .invalidArgument(let message)? = taken else { Issue.record("expected invalidArgument, got \(String(describing: taken))"); return }
        #expect(message.contains("already exists"))
        #expect(try await client.createDataset(name: "pets", reuseExisting: true) == id)
        #expect(try await client.getDatasetsByName("pets").map(\.id) == [id])
        #expect(try await client.getDatasetsByName("pet").isEmpty)               // exact, not a prefix
        #expect(try await client.getDatasetsByName("nope", shared: nil).isEmpty)
        #expect(try await client.datasetNameExists("pets"))
        // A name taken between the lookup and the create (the server answers 409).
        #expect(try await client.createDatasetWithoutCheck(name: "pets", reuseExisting: true) == id)
        let raced = await #expect(throws: LightlyClientError.self) { _ = try await client.createDatasetWithoutCheck(name: "pets") }
        guard case .invalidArgument? = raced else { Issue.record("expected invalidArgument, got \(String(describing: raced))"); return }
        // Names travel as one percent-encoded path segment.
        let odd = "a/b c?d&e=f%"
        let oddId = try await client.createDataset(name: odd)
        #expect(try await client.getDatasetsByName(odd).map(\.id) == [oddId])
        try await client.deleteDataset(id: oddId)
        let one = try await client.createNewDatasetWithUniqueName("pets")
        let two = try await client.createNewDatasetWithUniqueName("pets")
        #expect(try await client.dataset(id: one).name == "pets_1")
        #expect(try await client.dataset(id: two).name == "pets_2")
        #expect(try await client.setDatasetIdByName("pets") == id)
        #expect(client.datasetId == id)
        let missing = await #expect(throws: LightlyClientError.self) { try await client.setDatasetIdByName("nope") }
        #expect(missing.map { "\($0)".contains("nope") } == true)

        // Paging: the server honours pageSize/pageOffset, so small pages give the same list.
        for i in 0..<3 { try await client.createNewDatasetWithUniqueName("more-\(i)") }
        let all = try await client.datasets()
        #expect(all.count == 6)
        let paged: [DatasetData] = try await client.paginate("/v1/datasets", pageSize: 2) { [("shared", "False")] + $0 }
        #expect(paged == all)
        #expect(try await client.datasets(shared: nil).map(\.id) == all.map(\.id))

        // Selection with the new names.
        try await client.setDatasetIdByName("pets")
        let (names, rows) = Self.dataset()
        try await client.uploadEmbeddings(rows, filenames: names, name: "default")
        let mapping = try await client.filenamesOnServer(refresh: true)
        let pagedMapping: [String] = try await client.paginate(ApiWorkflowClient.ds(id) + "/mappings", pageSize: 7) { $0 + [("field", "fileName")] }
        #expect(pagedMapping == mapping)
        #expect(try await client.sampleIds().count == 300)

        let first = try await client.selection(SelectionConfig(method: .coreset, nSamples: 50, name: "first"))
        #expect(first.name == "first")
        let dup = await #expect(throws: LightlyClientError.self) {
            _ = try await client.selection(SelectionConfig(method: .random, nSamples: 5, name: "first"))
        }
        #expect(dup.map { "\($0)".contains("already exists") } == true)
        let initial = try await client.tag(named: "initial-tag")
        var rng = SplitMix64(seed: 5)
        try await client.uploadScores(["uncertainty_margin": mapping.map { _ in rng.unit() }], queryTagId: initial.id)
        let second = try await client.sampling(SamplerConfig(method: .coral, nSamples: 80, name: "second"),
                                               preselectedTagId: first.id, queryTagId: initial.id)
        let secondNames = try await client.filenames(of: second)
        #expect(secondNames.count == 80)
        #expect(Set(secondNames).isSuperset(of: try await client.filenames(of: first)))

        // Exports: file names (text/plain, paged), names with read URLs, Label Studio tasks.
        let text = try await client.exportFilenamesByTagName("second")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines == secondNames)                                              // mapping order
        let smallPages = try await client.paginateText(client.tagPath(second.id) + "/export/basic/filenames", pageSize: 7) { $0 }
        #expect(smallPages.joined(separator: "\n") == text)
        let withUrls = try await client.exportFilenamesAndReadUrlsByTagName("second")
        #expect(withUrls.map(\.fileName) == secondNames)
        #expect(withUrls.allSatisfy { !$0.readUrl.isEmpty && !$0.datasourceUrl.isEmpty })
        let tasks = try await client.exportLabelStudioTasksByTagName("second")
        #expect(tasks.count == 80)
        #expect(Set(tasks.map(\.id)).count == 80)
        #expect(tasks.allSatisfy { !$0.data.image.isEmpty })
        let taskNames = tasks.compactMap(\.data.lightlyFileName)                  // optional in the model
        #expect(taskNames.isEmpty || taskNames == secondNames)
        let pagedTasks: [LabelStudioTask] = try await client.paginate(client.tagPath(second.id) + "/export/LabelStudio/tasks", pageSize: 7) { $0 }
        // Same tasks; the signed image URLs may differ in their expiry second.
        #expect(pagedTasks.map(\.id) == tasks.map(\.id))
        #expect(pagedTasks.map(\.data.lightlyFileName) == tasks.map(\.data.lightlyFileName))
        let empty = try await client.tagArithmetics(.difference, first.id, second.id, newTagName: "empty")
        let emptyTag = try await client.tag(id: try #require(empty.tagId))
        #expect(try await client.exportFilenamesByTagId(emptyTag.id) == "")
        #expect(try await client.exportFilenamesAndReadUrlsByTagId(emptyTag.id).isEmpty)
        #expect(try await client.exportLabelStudioTasksByTagId(emptyTag.id).isEmpty)

        // A list the server does not page (embeddings) answers every page with everything:
        // the loop still ends, with each item once, whether the list is longer than a page or
        // exactly one page long.
        try await client.uploadEmbeddings(rows, filenames: names, name: "again")
        let embeddingList = try await client.embeddings()
        #expect(embeddingList.count == 2)
        for size in [1, embeddingList.count] {
            let e: [DatasetEmbeddingData] = try await client.paginate(ApiWorkflowClient.ds(id) + "/embeddings", pageSize: size) { $0 }
            #expect(e.map(\.id) == embeddingList.map(\.id), "pageSize \(size)")
        }
    }

    @Test func errorsAreTyped() async throws {
        let server = try LiveServer()
        defer { _ = server.stop() }
        let bad = try ApiWorkflowClient(token: "not-a-token", serverLocation: server.url)
        let e = await #expect(throws: LightlyClientError.self) { _ = try await bad.datasets() }
        #expect(e?.status == 401)
        #expect(e?.code == "UNAUTHORIZED")

        let client = try ApiWorkflowClient(token: server.token, datasetId: "000000000000000000000000", serverLocation: server.url)
        let unknown = await #expect(throws: LightlyClientError.self) { _ = try await client.tags() }
        #expect(unknown?.status == 404)
        #expect(unknown?.code == "DATASET_UNKNOWN")

        // Another user's dataset is invisible.
        let id = try await client.createDataset(name: "mine")
        let other = try ApiWorkflowClient(token: try server.createToken(name: "other"), datasetId: id, serverLocation: server.url)
        let hidden = await #expect(throws: LightlyClientError.self) { _ = try await other.dataset() }
        #expect(hidden?.status == 404)

        // A bad CSV: 400 with the row, and nothing stored.
        let csv = Data("filenames,embedding_0,labels\na.jpg,1.0,0\nb.jpg,nan,0\n".utf8)
        let invalid = await #expect(throws: LightlyClientError.self) { try await client.uploadEmbeddings(csv: csv, name: "bad") }
        #expect(invalid?.status == 400)
        #expect(invalid.map { "\($0)".contains("row 2") } == true)
        #expect(try await client.filenamesOnServer(refresh: true).isEmpty)

        // ACTIVE_LEARNING without scores: the job fails and says why.
        try await client.uploadEmbeddings([[0], [1], [2]], filenames: ["a", "b", "c"], name: "ok")
        let failed = await #expect(throws: LightlyClientError.self) {
            _ = try await client.sampling(SamplerConfig(method: .activeLearning, nSamples: 2, name: "al"))
        }
        guard case .jobFailed(_, let message)? = failed else { Issue.record("expected jobFailed, got \(String(describing: failed))"); return }
        #expect(message.contains("scores"))
    }

    @Test func serverDownIsATransportError() async throws {
        let client = try ApiWorkflowClient(token: "t", serverLocation: "http://127.0.0.1:1", retry: .init(maxAttempts: 2, initialDelay: .milliseconds(10)))
        let e = await #expect(throws: LightlyClientError.self) { _ = try await client.datasets() }
        guard case .transport? = e else { Issue.record("expected a transport error, got \(String(describing: e))"); return }
    }
}

extension SplitMix64 {
    /// A uniform Double in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
