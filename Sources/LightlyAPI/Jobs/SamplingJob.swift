#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore
import LightlyStorage
import LightlyWire

/// What a sampling job row stores in `jobs.request`.
public struct SamplingJobInput: Codable, Sendable, Equatable {
    public var datasetId: String
    public var embeddingId: String
    public var request: SamplingCreateRequest
    public init(datasetId: String, embeddingId: String, request: SamplingCreateRequest) {
        self.datasetId = datasetId
        self.embeddingId = embeddingId
        self.request = request
    }
}

/// Runs sampling jobs (docs/selection.md).
///
/// 1. Reads the dataset size N, the embedding, the query tag Q (or all N), the preselected tag
///    P (or ∅) and, for CORAL / ACTIVE_LEARNING, the scores aligned by docs/selection.md §7.
/// 2. Loads the matrix through the ``EmbeddingCache``.
/// 3. Runs `Sampler.select` (seed: RANDOM uses ``randomSeed``; CORESET keeps `nil`, so the
///    first center without preselected samples is the lowest index, like Lightly's engine).
/// 4. In one write transaction: creates the tag `newTagName` with bits P ∪ picked,
///    `totSize` N, `prevTagId` = `preselectedTagId` or the initial tag, creator
///    `SAMPLER_<METHOD>`, and marks the job FINISHED with the tag id. A name taken in the
///    meantime fails the job.
public struct SamplingJobExecutor: JobExecutor {
    let database: any SQLDatabase
    let cache: EmbeddingCache
    /// Seed of RANDOM (fixed, so results are reproducible).
    public var randomSeed: UInt64 = 0
    /// Sampler worker threads (0 = all cores).
    public var threads: Int = 0
    /// Seconds a job waits for uploads and other jobs to free the memory budget before it
    /// fails (a matrix larger than the whole budget fails at once).
    public var budgetWait: Double = 600

    public init(database: any SQLDatabase, cache: EmbeddingCache, randomSeed: UInt64 = 0, threads: Int = 0) {
        self.database = database
        self.cache = cache
        self.randomSeed = randomSeed
        self.threads = threads
    }

    struct Inputs {
        var n: Int
        var embedding: EmbeddingRecord
        var initialTagId: String?
        var query: [Int]?
        var queryTagForScores: (id: String, scores: [StoredScore])?
        var preselected: [Int]
        var preselectedTag: (id: String, scores: [StoredScore])?
    }

    public func run(_ job: JobRecord, progress: JobProgress) throws {
        let input = try job.decodedRequest(SamplingJobInput.self, what: "sampling")
        let req = input.request
        guard let method = SamplingMethod(rawValue: req.method) else {
            throw JobFailure("unknown sampling method \(req.method)")
        }
        let needsScores = method == .coral || method == .activeLearning
        var phases = JobPhases()
        var t = JobPhases.monotonicNanos()
        let inputs = try database.read { conn in try readInputs(input, needsScores: needsScores, conn) }

        var weights: [Double]? = nil
        if needsScores {
            let aligned = ScoreAlignment.align(
                n: inputs.n, query: inputs.query ?? Array(0 ..< inputs.n), preselected: inputs.preselected,
                queryTag: inputs.queryTagForScores, preselectedTag: inputs.preselectedTag,
                preferredTypes: ScoreAlignment.preferredTypes(requested: req.scoreType))
            switch aligned {
            case .weights(let w, _, _): weights = w
            case .none(let reason):
                if method == .activeLearning { throw JobFailure("ACTIVE_LEARNING needs scores: \(reason)") }
                // CORAL without usable scores is CORESET (docs/selection.md §7 rule 3).
            }
        }
        let effective: SamplingMethod = (method == .coral && weights == nil) ? .coreset : method

        let embedding = inputs.embedding
        guard let dim = embedding.dimension, let rows = embedding.rowCount else {
            throw JobFailure("embedding \(embedding.id) is not processed")
        }
        t = phases.lap("inputs", since: t)
        let samplingRequest = SamplingRequest(
            method: effective, nSamples: req.config.stoppingCondition.nSamples ?? -1,
            minDistance: req.config.stoppingCondition.minDistance ?? -1, preselected: inputs.preselected,
            query: inputs.query, weights: weights, seed: effective == .random ? randomSeed : nil, threads: threads)
        // The job selects on the cached matrix itself (pinned, never copied); a matrix that is
        // not cached is loaded only when the memory budget can hold it.
        let result: SamplingResult = try withCurrentMatrix(cache, embedding, rows: rows, dimension: dim,
                                                           database: database, wait: budgetWait) { matrix, loaded in
            t = phases.lap("load", since: t)
            phases.add("cached", loaded ? 0 : 1)
            do {
                return try Sampler.select(samplingRequest, embeddings: matrix) { processed, total in
                    progress.update(processed: processed, total: total)
                }
            } catch SamplingError.cancelled {
                throw JobInterrupted()
            } catch let e as SamplingError {
                throw JobFailure("sampling failed: \(e)")
            }
        }
        t = phases.lap("select", since: t)

        let bits = BitMask(indices: result.preselected).union(BitMask(indices: result.picked))
        try database.write { conn in
            guard try JobStore.isStillRunning(job, conn) else { return }
            let n = try SamplingJobExecutor.sampleCount(datasetId: input.datasetId, conn)
            guard n == inputs.n else {
                throw JobFailure("the dataset changed while sampling (\(inputs.n) → \(n) samples); trigger the sampling again")
            }
            if try TagStore.nameExists(req.newTagName, datasetId: input.datasetId, conn) {
                throw JobFailure("a tag named \(req.newTagName) already exists in dataset \(input.datasetId)")
            }
            let now = jobsNowMillis()
            let tagId = try LightlyApplication.insertTag(
                conn: conn, datasetId: input.datasetId, name: req.newTagName,
                prevTagId: req.preselectedTagId ?? inputs.initialTagId,
                queryTagId: req.queryTagId, preselectedTagId: req.preselectedTagId,
                bitmask: bits, totSize: n, creator: TagCreator(rawValue: "SAMPLER_\(method.rawValue)"), now: Int64(now))
            try JobStore.markFinished(id: job.id, result: tagId, total: result.picked.count, now: now, conn)
        }
        phases.lap("write", since: t)
        let stats = result.stats
        phases.add("rows_read", stats.rowsScanned)
        phases.add("distances", stats.distances)
        phases.add("plain_passes", stats.passes - stats.lazyPasses - stats.prunedPasses)
        progress.record(phases)
    }

    func readInputs(_ input: SamplingJobInput, needsScores: Bool, _ conn: Connection) throws -> Inputs {
        let req = input.request
        let n = try SamplingJobExecutor.sampleCount(datasetId: input.datasetId, conn)
        guard let embedding = try EmbeddingStore.get(id: input.embeddingId, datasetId: input.datasetId, conn) else {
            throw JobFailure("embedding \(input.embeddingId) no longer exists in dataset \(input.datasetId)")
        }
        guard embedding.isProcessed, let rows = embedding.rowCount else {
            throw JobFailure("embedding \(embedding.id) has no uploaded CSV")
        }
        guard rows == n else {
            throw JobFailure("embedding \(embedding.id) has \(rows) rows but the dataset has \(n) samples; upload embeddings for all samples")
        }
        let initialTagId = try TagStore.id(named: initialTagName, datasetId: input.datasetId, conn)

        func tagBits(_ id: String, role: String) throws -> [Int] {
            guard let mask = try TagStore.bitmask(id: id, datasetId: input.datasetId, conn) else {
                throw JobFailure("\(role) tag \(id) no longer exists in dataset \(input.datasetId)")
            }
            return mask.indices.filter { $0 < n }
        }
        func scores(_ tagId: String) throws -> [StoredScore] {
            try ScoreStore.list(tagId: tagId, conn)
        }

        let query = try req.queryTagId.map { try tagBits($0, role: "query") }
        let preselected = try req.preselectedTagId.map { try tagBits($0, role: "preselected") } ?? []
        var queryTagForScores: (id: String, scores: [StoredScore])? = nil
        var preselectedTag: (id: String, scores: [StoredScore])? = nil
        if needsScores {
            if let id = req.queryTagId ?? initialTagId { queryTagForScores = (id, try scores(id)) }
            if let id = req.preselectedTagId { preselectedTag = (id, try scores(id)) }
        }
        return Inputs(n: n, embedding: embedding, initialTagId: initialTagId, query: query,
                      queryTagForScores: queryTagForScores, preselected: preselected, preselectedTag: preselectedTag)
    }

    /// N: the number of samples of the dataset (the mapping length), from `datasets.n_samples`:
    /// counting 1M sample rows took ≈ 30–100 ms, and a job asks three times (trigger, inputs,
    /// result).
    static func sampleCount(datasetId: String, _ conn: Connection) throws -> Int {
        try DatasetStore.sampleCount(id: datasetId, conn)
    }
}


/// Runs `body` with the matrix of `embedding` as the store holds it now (the version the job
/// read), held within the memory budget (``EmbeddingCache/withMatrix(for:version:bytes:wait:load:_:)``).
/// First drops cache entries the store says are stale (re-uploaded, possibly through another
/// server, or deleted); then answers from the cache or loads the chunks. A matrix the budget
/// cannot hold fails the job with a message that names the sizes and the `memory_budget`
/// setting, instead of the process running out of memory.
/// - Throws: `JobFailure` when the budget cannot hold the matrix, or the embedding was uploaded
///   again between the job's read of its inputs and the load; storage errors.
func withCurrentMatrix<R>(_ cache: EmbeddingCache, _ embedding: EmbeddingRecord, rows: Int, dimension: Int,
                          database: any SQLDatabase, wait: Double,
                          _ body: (EmbeddingMatrix, _ loaded: Bool) throws -> R) throws -> R {
    try cache.revalidate { ids in try database.read { conn in try EmbeddingStore.versions(ids: ids, conn) } }
    let (values, o1) = rows.multipliedReportingOverflow(by: dimension)
    let (bytes, o2) = values.multipliedReportingOverflow(by: 4)
    let embeddingId = embedding.id
    do {
        return try cache.withMatrix(for: embeddingId, version: embedding.version, bytes: o1 || o2 ? Int.max : bytes, wait: wait, load: {
            try database.read { conn in
                guard try EmbeddingStore.versions(ids: [embeddingId], conn)[embeddingId] == embedding.version else {
                    throw JobFailure("embedding \(embeddingId) was uploaded again while the job started; trigger it again")
                }
                return try EmbeddingStore.loadMatrix(embeddingId: embeddingId, rows: rows, dimension: dimension, conn)
            }
        }, body)
    } catch let e as MemoryBudgetError {
        switch e {
        case .exceedsBudget:
            throw JobFailure("embedding \(embeddingId) (\(rows) × \(dimension)) cannot be loaded: \(e); raise memory_budget or upload fewer rows or dimensions")
        case .busy:
            throw JobFailure("embedding \(embeddingId) (\(rows) × \(dimension)) cannot be loaded: \(e)")
        }
    }
}
