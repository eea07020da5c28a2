import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import LightlyWire
import LightlyShared

/// The Swift counterpart of the Python client's `ApiWorkflowClient`: datasets, filenames,
/// embeddings, tags, scores, selection and exports against the Lightly API v1 — this server, or the
/// hosted platform, since both speak the same wire protocol.
///
/// ```swift
/// let client = try ApiWorkflowClient(token: token)          // LIGHTLY_SERVER_LOCATION or https://api.lightly.ai
/// try await client.createDataset(name: "pets")
/// try await client.uploadEmbeddings(csvFile: url, name: "default")
/// let tag = try await client.selection(SelectionConfig(method: .coreset, nSamples: 100, name: "coreset-100"))
/// print(try await client.exportFilenamesByTagName("coreset-100"))
/// ```
public final class ApiWorkflowClient: Sendable {
    /// The default API location when neither an argument nor `LIGHTLY_SERVER_LOCATION` says otherwise.
    public static let defaultServerLocation = "https://api.lightly.ai"

    public let serverLocation: URL
    let transport: Transport
    private let state: Mutex<State>

    struct State {
        var datasetId: String?
        var embeddingId: String?
        var filenames: [String]?
    }

    /// - Parameters:
    ///   - token: the API token (sent as `?token=` on every call, like the Python client).
    ///   - datasetId: the dataset to work on; can be set later with `createDataset` and friends.
    ///   - serverLocation: the API base URL; defaults to `LIGHTLY_SERVER_LOCATION`, then `https://api.lightly.ai`.
    ///   - retry: retries for connection errors and 5xx answers of idempotent calls.
    ///   - timeout: per-request timeout in seconds.
    public init(token: String, datasetId: String? = nil, serverLocation: String? = nil,
                session: URLSession = .shared, retry: RetryPolicy = RetryPolicy(), timeout: TimeInterval = 60) throws {
        let location = serverLocation
            ?? ProcessInfo.processInfo.environment["LIGHTLY_SERVER_LOCATION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Self.defaultServerLocation
        guard let url = URL(string: location), let scheme = url.scheme, scheme == "http" || scheme == "https", url.host != nil else {
            throw LightlyClientError.invalidArgument("invalid server location \"\(location)\": expected http(s)://host[:port]")
        }
        guard !token.isEmpty else { throw LightlyClientError.invalidArgument("the token is empty") }
        self.serverLocation = url
        self.transport = Transport(base: url, token: token, session: session, retry: retry, timeout: timeout)
        self.state = Mutex(State(datasetId: datasetId))
    }

    // MARK: - Identity

    /// The current dataset id, if one is set.
    public var datasetId: String? { state.withLock { $0.datasetId } }

    /// The current embedding id, if one is set.
    public var embeddingId: String? { state.withLock { $0.embeddingId } }

    /// Makes `id` the current dataset.
    public func setDatasetId(_ id: String) {
        state.withLock { $0 = State(datasetId: id) }
    }

    func requireDatasetId() throws -> String {
        guard let id = datasetId else {
            throw LightlyClientError.invalidArgument("no dataset selected: call createDataset(name:) or setDatasetId(_:) first")
        }
        return id
    }

    static func ds(_ id: String) -> String { "/v1/datasets/\(Transport.pathEncode(id))" }

    // MARK: - Versions

    /// `GET /v1/versions/pip/minimum` (no token).
    public func minimumVersion() async throws -> String {
        try await transport.getString("/v1/versions/pip/minimum", authenticated: false)
    }

    // MARK: - Datasets

    /// The datasets the token can see, fetched in pages as the Python client does.
    /// - Parameter shared: `false` (default) the user's own datasets; `true` those shared with
    ///   the user and the team's; `nil` all of them (duplicates removed).
    public func datasets(shared: Bool? = false) async throws -> [DatasetData] {
        var all: [DatasetData] = []
        if shared != true {
            all += try await paginate("/v1/datasets") { [("shared", Transport.pythonBool(false))] + $0 }
        }
        if shared != false {
            all += try await paginate("/v1/datasets") { [("shared", Transport.pythonBool(true))] + $0 }
            all += try await paginate("/v1/datasets") { [("getAssetsOfTeam", Transport.pythonBool(true))] + $0 }
        }
        return Self.uniqueById(all)
    }

    /// The datasets named exactly `name` (`GET /v1/datasets/query/name/{name}`, paged); empty
    /// when there is none. The Python client's `get_datasets_by_name`.
    /// - Parameter shared: as for `datasets(shared:)`; with the default `false` there is at most one.
    public func getDatasetsByName(_ name: String, shared: Bool? = false) async throws -> [DatasetData] {
        guard !name.isEmpty else { throw LightlyClientError.invalidArgument("the dataset name is empty") }
        let path = "/v1/datasets/query/name/\(Transport.pathEncode(name))"
        let exact = ("exact", Transport.pythonBool(true))
        var all: [DatasetData] = []
        if shared != true {
            all += try await paginate(path) { [("shared", Transport.pythonBool(false)), exact] + $0 }
        }
        if shared != false {
            all += try await paginate(path) { [("shared", Transport.pythonBool(true)), exact] + $0 }
            all += try await paginate(path) { [exact, ("getAssetsOfTeam", Transport.pythonBool(true))] + $0 }
        }
        return Self.uniqueById(all)
    }

    /// Whether a dataset named `name` exists (`dataset_name_exists`).
    public func datasetNameExists(_ name: String, shared: Bool? = false) async throws -> Bool {
        try await !getDatasetsByName(name, shared: shared).isEmpty
    }

    static func uniqueById(_ datasets: [DatasetData]) -> [DatasetData] {
        var seen = Set<String>()
        return datasets.filter { seen.insert($0.id).inserted }
    }

    /// Creates a dataset named `name` and makes it current.
    /// - Parameter reuseExisting: when a dataset of that name exists, use it instead of failing.
    /// - Returns: the dataset id.
    /// - Throws: `invalidArgument` if a dataset named `name` exists and `reuseExisting` is false
    ///   (the Python client 1.2.30+ raises then too; earlier releases reused it).
    @discardableResult
    public func createDataset(name: String, reuseExisting: Bool = false) async throws -> String {
        if let existing = try await getDatasetsByName(name).first {
            guard reuseExisting else {
                throw LightlyClientError.invalidArgument("a dataset named \"\(name)\" already exists (\(existing.id)); use setDatasetIdByName to reuse it")
            }
            setDatasetId(existing.id)
            return existing.id
        }
        return try await createDatasetWithoutCheck(name: name, reuseExisting: reuseExisting)
    }

    /// `POST /v1/datasets`. A 409 means another client created the name since it was looked
    /// up: reuse that dataset or fail as if the lookup had found it.
    func createDatasetWithoutCheck(name: String, reuseExisting: Bool = false) async throws -> String {
        let created: CreateEntityResponse
        do {
            created = try await transport.post("/v1/datasets", DatasetCreateRequest(name: name, type: .images))
        } catch let e as LightlyClientError where e.status == 409 {
            guard let existing = try await getDatasetsByName(name).first else { throw e }
            guard reuseExisting else {
                throw LightlyClientError.invalidArgument("a dataset named \"\(name)\" already exists (\(existing.id)); use setDatasetIdByName to reuse it")
            }
            setDatasetId(existing.id)
            return existing.id
        }
        setDatasetId(created.id)
        return created.id
    }

    /// Creates a dataset named `base`, or `base_1`, `base_2`, … if taken; makes it current.
    @discardableResult
    public func createNewDatasetWithUniqueName(_ base: String) async throws -> String {
        guard try await datasetNameExists(base) else { return try await createDatasetWithoutCheck(name: base) }
        // The prefix query (exact=False) lists every name starting with `base`.
        let path = "/v1/datasets/query/name/\(Transport.pathEncode(base))"
        let similar: [DatasetData] = try await paginate(path) {
            [("shared", Transport.pythonBool(false)), ("exact", Transport.pythonBool(false))] + $0
        }
        let names = Set(similar.map(\.name))
        var i = 1
        while names.contains("\(base)_\(i)") { i += 1 }
        return try await createDatasetWithoutCheck(name: "\(base)_\(i)")
    }

    /// Makes the dataset named `name` current (the first one if `shared` finds several).
    /// - Returns: its id.
    /// - Throws: `LightlyClientError.invalidArgument` if there is none.
    @discardableResult
    public func setDatasetIdByName(_ name: String, shared: Bool? = false) async throws -> String {
        guard let d = try await getDatasetsByName(name, shared: shared).first else {
            throw LightlyClientError.invalidArgument("no dataset named \"\(name)\"")
        }
        setDatasetId(d.id)
        return d.id
    }

    /// One dataset.
    public func dataset(id: String? = nil) async throws -> DatasetData {
        try await transport.get(Self.ds(try id ?? requireDatasetId()))
    }

    /// Deletes a dataset with everything in it.
    public func deleteDataset(id: String) async throws {
        _ = try await transport.send("DELETE", Self.ds(id), body: Data("{}".utf8))
        state.withLock { if $0.datasetId == id { $0 = State() } }
    }

    // MARK: - Filenames

    /// The filenames of the current dataset in mapping order (bit *i* of every tag ↔ element *i*).
    public func filenamesOnServer(refresh: Bool = false) async throws -> [String] {
        if !refresh, let cached = state.withLock({ $0.filenames }) { return cached }
        let names: [String] = try await paginate(Self.ds(try requireDatasetId()) + "/mappings", pageSize: Self.mappingsPageSize) {
            $0 + [("field", "fileName")]
        }
        state.withLock { $0.filenames = names }
        return names
    }

    /// The sample ids of the current dataset in mapping order.
    public func sampleIds() async throws -> [String] {
        try await paginate(Self.ds(try requireDatasetId()) + "/mappings", pageSize: Self.mappingsPageSize) { $0 + [("field", "_id")] }
    }

    // MARK: - Embeddings

    /// The embeddings of the current dataset, oldest first.
    public func embeddings() async throws -> [DatasetEmbeddingData] {
        try await transport.get(Self.ds(try requireDatasetId()) + "/embeddings")
    }

    /// Uploads an embeddings CSV (`filenames, embedding_0 … embedding_{d−1}, labels`) under `name`
    /// through a signed URL. When the dataset has samples, the CSV's filenames must equal them;
    /// when it has none, this server creates them from the CSV.
    /// - Returns: the embedding id, which becomes the current embedding.
    @discardableResult
    public func uploadEmbeddings(csv: Data, name: String, progress: UploadProgressHandler? = nil) async throws -> String {
        let dataset = try requireDatasetId()
        if let existing = try await embeddings().last(where: { $0.name == name }) {
            throw LightlyClientError.invalidArgument("an embedding named \"\(name)\" already exists (\(existing.id)); choose another name")
        }
        let write: WriteCSVUrlData = try await transport.get(Self.ds(dataset) + "/embeddings/writeCSVUrl", query: [("name", name)])
        guard let url = URL(string: write.signedWriteUrl) else {
            throw LightlyClientError.invalidResponse("signed write URL is not a URL: \(write.signedWriteUrl)")
        }
        if let progress {
            let (data, response) = try await ProgressUpload.put(url: url, body: csv, timeout: transport.timeout, progress: progress)
            guard response.statusCode == 200 else {
                throw Transport.apiError(status: response.statusCode, body: data, method: "PUT", path: url.path)
            }
        } else {
            _ = try await transport.sendRaw("PUT", url: url, body: csv, expectStatus: 200)
        }
        state.withLock { $0.embeddingId = write.embeddingId; $0.filenames = nil }
        return write.embeddingId
    }

    /// Uploads the CSV file at `csvFile`.
    @discardableResult
    public func uploadEmbeddings(csvFile: URL, name: String, progress: UploadProgressHandler? = nil) async throws -> String {
        let data: Data
        do { data = try Data(contentsOf: csvFile) } catch {
            throw LightlyClientError.invalidArgument("cannot read \(csvFile.path): \(error.localizedDescription)")
        }
        return try await uploadEmbeddings(csv: data, name: name, progress: progress)
    }

    /// Uploads a matrix (`rows` × `dimension`, one row per filename) as an embeddings CSV.
    @discardableResult
    public func uploadEmbeddings(_ embeddings: [[Float]], filenames: [String], labels: [Int]? = nil, name: String) async throws -> String {
        try await uploadEmbeddings(csv: Self.embeddingsCSV(embeddings, filenames: filenames, labels: labels), name: name)
    }

    /// The CSV format of `lightly.utils.save_embeddings`.
    public static func embeddingsCSV(_ embeddings: [[Float]], filenames: [String], labels: [Int]? = nil) throws -> Data {
        guard embeddings.count == filenames.count else {
            throw LightlyClientError.invalidArgument("\(embeddings.count) embeddings for \(filenames.count) filenames")
        }
        guard let d = embeddings.first?.count, d > 0, embeddings.allSatisfy({ $0.count == d }) else {
            throw LightlyClientError.invalidArgument("embeddings must be non-empty rows of one dimension")
        }
        if let labels, labels.count != filenames.count {
            throw LightlyClientError.invalidArgument("\(labels.count) labels for \(filenames.count) filenames")
        }
        var out = "filenames," + (0..<d).map { "embedding_\($0)" }.joined(separator: ",") + ",labels\n"
        for (i, row) in embeddings.enumerated() {
            guard row.allSatisfy(\.isFinite) else {
                throw LightlyClientError.invalidArgument("embedding of \(filenames[i]) has a non-finite value")
            }
            out += csvField(filenames[i])
            for v in row { out += ","; out += "\(Double(v))" }
            out += ",\(labels?[i] ?? 0)\n"
        }
        return Data(out.utf8)
    }

    public static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Makes the last embedding named `name` current.
    public func setEmbeddingIdByName(_ name: String? = nil) async throws {
        let all = try await embeddings()
        let pick = name.map { n in all.last { $0.name == n } } ?? all.last
        guard let e = pick else {
            throw LightlyClientError.invalidArgument(name.map { "no embedding named \"\($0)\"" } ?? "the dataset has no embeddings")
        }
        state.withLock { $0.embeddingId = e.id }
    }

    // MARK: - Tags

    /// The tags of the current dataset, in creation order.
    public func tags() async throws -> [TagData] {
        try await transport.get(Self.ds(try requireDatasetId()) + "/tags")
    }

    public func tag(id: String) async throws -> TagData {
        try await transport.get(Self.ds(try requireDatasetId()) + "/tags/\(Transport.pathEncode(id))")
    }

    /// The tag named `name`.
    public func tag(named name: String) async throws -> TagData {
        guard let t = try await tags().first(where: { $0.name == name }) else {
            throw LightlyClientError.invalidArgument("no tag named \"\(name)\"")
        }
        return t
    }

    /// The filenames of a tag's samples, in mapping order.
    public func filenames(of tag: TagData) async throws -> [String] {
        guard let mask = BitMask(hex: tag.bitMaskData) else {
            throw LightlyClientError.invalidResponse("tag \(tag.name) has an invalid bitmask")
        }
        let names = try await filenamesOnServer()
        return mask.indices.compactMap { $0 < names.count ? names[$0] : nil }
    }

    /// Creates a tag holding the samples with the given filenames.
    /// - Throws: `invalidArgument` naming the first filename that is not in the dataset.
    @discardableResult
    public func createTag(fromFilenames filenames: [String], name: String) async throws -> String {
        let all = try await filenamesOnServer(refresh: true)
        var position = [String: Int](minimumCapacity: all.count)
        for (i, f) in all.enumerated() { position[f] = i }
        var mask = BitMask()
        for f in filenames {
            guard let i = position[f] else { throw LightlyClientError.invalidArgument("\"\(f)\" is not a sample of the dataset") }
            mask.insert(i)
        }
        let tags = try await tags()
        guard let initial = tags.first(where: { $0.name == "initial-tag" }) ?? tags.first else {
            throw LightlyClientError.invalidArgument("the dataset has no tags yet")
        }
        let body = TagCreateRequest(name: name, prevTagId: initial.id, bitMaskData: mask.hexString,
                                    totSize: all.count, creator: "USER_PIP")
        let created: CreateEntityResponse = try await transport.post(Self.ds(try requireDatasetId()) + "/tags", body)
        return created.id
    }

    /// Union, intersection or difference of two tags; with `newTagName` the result is stored as a tag.
    /// - Returns: the resulting bitmask, and the new tag's id when one was created.
    public func tagArithmetics(_ operation: TagArithmeticsOperation, _ tagId1: String, _ tagId2: String,
                               newTagName: String? = nil) async throws -> (bitMask: BitMask, tagId: String?) {
        let body = TagArithmeticsRequest(tagId1: tagId1, tagId2: tagId2, operation: operation, newTagName: newTagName, creator: "USER_PIP")
        let r: TagArithmeticsResponse = try await transport.post(Self.ds(try requireDatasetId()) + "/tags/arithmetics", body)
        guard let mask = BitMask(hex: r.bitMaskData) else { throw LightlyClientError.invalidResponse("invalid bitmask \(r.bitMaskData)") }
        return (mask, newTagName == nil ? nil : r.id)
    }

    // MARK: - Scores and sampling

    /// Uploads active-learning scores for the samples of `queryTagId`, one
    /// `POST …/tags/{tagId}/scores` per score type (the Python client's `upload_scores`).
    /// - Parameter scores: score name → one value per sample of the tag, in mapping order.
    /// - Throws: `invalidArgument` for an empty score name or a value that is not finite
    ///   (JSON cannot carry NaN or infinity), before anything is sent.
    public func uploadScores(_ scores: [String: [Double]], queryTagId: String) async throws {
        let path = try tagPath(queryTagId) + "/scores"
        for (name, values) in scores {
            guard !name.isEmpty else { throw LightlyClientError.invalidArgument("a score name is empty") }
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw LightlyClientError.invalidArgument("score \(name) has a non-finite value (\(values[i])) at index \(i)")
            }
        }
        for name in scores.keys.sorted() {
            let _: CreateEntityResponse = try await transport.post(path, ActiveLearningScoreCreateRequest(scoreType: name, scores: scores[name] ?? []))
        }
    }

    /// Runs a selection on the server with the current embedding, waits for it and returns
    /// the new tag (the Python client's `selection`, 1.2.14+).
    /// - Parameters:
    ///   - preselectedTagId: samples that count as chosen already (e.g. labeled ones).
    ///   - queryTagId: the tag to choose from; nil lets the server use `initial-tag`.
    ///   - scoreType: the uploaded score to use for `ACTIVE_LEARNING` and `CORAL`; nil lets the server choose.
    ///   - timeout: give up after this long (the job keeps running on the server).
    /// - Throws: `invalidArgument` if a tag named `config.name` exists or the dataset has no
    ///   tags; `jobFailed` with the server's error text; `timeout`; `CancellationError` when
    ///   the task is cancelled.
    @discardableResult
    public func selection(_ config: SelectionConfig, preselectedTagId: String? = nil, queryTagId: String? = nil,
                          scoreType: String? = nil, timeout: Duration = .seconds(3600)) async throws -> TagData {
        let dataset = try requireDatasetId()
        let tags = try await tags()
        if tags.contains(where: { $0.name == config.name }) {
            throw LightlyClientError.invalidArgument("a tag named \"\(config.name)\" already exists")
        }
        guard !tags.isEmpty else { throw LightlyClientError.invalidArgument("the dataset has no tags: upload samples first") }
        if embeddingId == nil { try await setEmbeddingIdByName() }
        guard let embedding = embeddingId else { throw LightlyClientError.invalidArgument("no embedding") }
        let body = SamplingCreateRequest(
            newTagName: config.name, method: config.method.rawValue,
            config: SamplingConfig(stoppingCondition: SamplingStoppingCondition(nSamples: config.nSamples, minDistance: config.minDistance)),
            preselectedTagId: preselectedTagId, queryTagId: queryTagId, rowCount: Double(tags[0].totSize), scoreType: scoreType)
        let task: AsyncTaskData = try await transport.post(Self.ds(dataset) + "/embeddings/\(Transport.pathEncode(embedding))/sampling", body)
        let status = try await waitForJob(task.jobId, timeout: timeout)
        guard let tagId = status.result?.data else {
            throw LightlyClientError.invalidResponse("job \(task.jobId) finished without a result tag")
        }
        return try await tag(id: tagId)
    }

    /// `selection` under its name before the Python client 1.2.14 (`sampling`).
    @discardableResult
    public func sampling(_ config: SamplerConfig, preselectedTagId: String? = nil, queryTagId: String? = nil,
                         scoreType: String? = nil, timeout: Duration = .seconds(3600)) async throws -> TagData {
        try await selection(config, preselectedTagId: preselectedTagId, queryTagId: queryTagId, scoreType: scoreType, timeout: timeout)
    }

    /// Polls `GET /v1/jobs/{id}` honouring `waitTimeTillNextPoll` until the job ends.
    public func waitForJob(_ jobId: String, timeout: Duration = .seconds(3600)) async throws -> JobStatusData {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var wait = Duration.milliseconds(100)
        while true {
            let status: JobStatusData = try await transport.get("/v1/jobs/\(Transport.pathEncode(jobId))")
            switch status.status {
            case .finished: return status
            case .failed: throw LightlyClientError.jobFailed(jobId: jobId, error: status.error ?? "no error text")
            default: break
            }
            if clock.now + wait > deadline { throw LightlyClientError.timeout("job \(jobId) still \(status.status) after \(timeout)") }
            try await Task.sleep(for: wait)
            wait = status.waitTimeTillNextPoll > 0 ? .seconds(status.waitTimeTillNextPoll) : .milliseconds(100)
        }
    }
}
