#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyCore
import LightlyStorage
import LightlyWire
import Logging

// The jobs module's entry points into `LightlyApplication` (agreed with the API core in this
// file): `JobSystem.init/start/stop` from the application's init/start/stop, and
// `registerJobRoutes(_:)` while the router is built.

/// The asynchronous part of the server: the ``JobRunner`` with its executors (sampling, 2-D
/// embeddings) and the ``EmbeddingCache`` they share.
///
/// Defaults: the embedding cache holds up to `settings.memoryBudget` (``EmbeddingCache``), one job at a time over all
/// datasets (the 2-core host; a sampling pass already uses both cores), RANDOM seed 0.
public final class JobSystem: Sendable {
    public let runner: JobRunner
    public let cache: EmbeddingCache
    let logger: Logger

    public init(database: any SQLDatabase, blobs: BlobStore, settings: APISettings, logger: Logger,
                cacheBytes: Int? = nil, maxConcurrentJobs: Int = 1) {
        let cache = EmbeddingCache(byteBudget: cacheBytes ?? settings.memoryBudget)
        self.cache = cache
        self.logger = logger
        self.runner = JobRunner(database: database, executors: [
            .sampling: SamplingJobExecutor(database: database, cache: cache),
            .embeddings2D: Embedding2DJobExecutor(database: database, cache: cache),
        ], maxConcurrentJobs: maxConcurrentJobs, leaseSeconds: settings.jobLeaseSeconds,
           sharedStore: settings.sharedStore, lockRows: settings.sharedStore, logger: logger)

    }

    /// Requeues jobs interrupted by a crash or restart and starts running waiting jobs.
    /// - Parameter alone: false when another server uses the same data folder (and store):
    ///   its running jobs are then left to their leases.
    public func start(alone: Bool = true) {
        do { try runner.start(othersMayRun: !alone) } catch {

            logger.error("job runner failed to start", metadata: ["error": "\(error)"])
        }
    }

    /// Stops the runner (waits up to 10 s for a running job to reach a stopping point; an
    /// interrupted job stays RUNNING and is re-run by the next `start`).
    public func stop() { runner.stop() }

    /// Wakes the runner after a job was inserted.
    public func kick() { runner.kick() }

    /// An embedding's matrix was replaced: forget the cached copy.
    public func embeddingChanged(_ embeddingId: String) { cache.invalidate(embeddingId) }

    /// An embedding's matrix was replaced by `matrix` (committed with `ticket` from
    /// `cache.nextTicket()`): cache it, so the next job does not read it back from SQLite.
    public func embeddingStored(_ embeddingId: String, matrix: EmbeddingMatrix, version: Int, ticket: UInt64,
                                reservation: EmbeddingCache.Reservation? = nil) {
        cache.store(embeddingId, matrix: matrix, version: version, ticket: ticket, reservation: reservation)
    }
}

extension LightlyApplication {
    /// Registers embeddings, scores, sampling, `/v1/jobs…` routes and the `csv` signed kind.
    func registerJobRoutes(_ router: inout Router) {
        registerEmbeddingRoutes(&router)
        registerScoreRoutes(&router)
        registerSamplingRoutes(&router)
    }

    /// `POST …/embeddings/{embeddingId}/sampling` (docs/protocol.md §10) and `GET /v1/jobs[/{jobId}]`
    /// (docs/protocol.md §10).
    func registerSamplingRoutes(_ r: inout Router) {
        r.post("/v1/datasets/:datasetId/embeddings/:embeddingId/sampling") { ctx in
            let user = try ctx.requireUser()
            let datasetId = try ctx.params.require("datasetId")
            let embeddingId = try ctx.params.require("embeddingId")
            let body = try ctx.decode(SamplingCreateRequest.self)
            let input = SamplingJobInput(datasetId: datasetId, embeddingId: embeddingId, request: body)
            let request = String(decoding: try JSONEncoder().encode(input), as: UTF8.self)
            let job = try JobStore.enqueue(ctx.app.database, userId: user.id, datasetId: datasetId, type: .sampling,
                                           request: request) { conn in
                try ctx.app.validateSampling(body, user: user, datasetId: datasetId, embeddingId: embeddingId, conn)
            }
            ctx.app.jobs.kick()
            ctx.logger.info("sampling job queued", metadata: ["job.id": "\(job.id)", "sampling.method": "\(body.method)"])
            return try .json(AsyncTaskData(jobId: job.id))
        }

        r.get("/v1/jobs/:jobId") { ctx in
            let user = try ctx.requireUser()
            let jobId = try ctx.params.require("jobId")
            let job = try ctx.app.database.read { conn in try JobStore.get(id: jobId, conn) }
            guard let job, job.userId == user.id else { throw APIError.notFound(.jobUnknown, "job \(jobId) not found") }
            var response = try HTTPResponse.json(ctx.app.jobStatus(job))
            // Where the job's time went. A header, not a body field: the strict clients'
            // `JobStatusData` rejects keys it does not define.
            if let phases = ctx.app.jobs.runner.phases(of: job.id) {
                response.headers[HTTPHeaderName("X-Lightly-Job-Phases")] = phases.summary
            }
            return response
        }

        r.get("/v1/jobs") { ctx in
            let user = try ctx.requireUser()
            let jobs = try ctx.app.database.read { conn in try JobStore.list(userId: user.id, conn) }
            return try .json(jobs.map {
                JobsData(id: $0.id, jobId: $0.id, jobType: $0.type, status: $0.status,
                         finishedAt: $0.finishedAt.map(Int64.init), createdAt: Int64($0.createdAt))
            })
        }
    }

    /// The synchronous checks of a sampling request (docs/protocol.md §10); throws the 4xx to answer.
    func validateSampling(_ body: SamplingCreateRequest, user: User, datasetId: String, embeddingId: String,
                          _ conn: Connection) throws {
        _ = try requireDataset(datasetId, for: user, conn: conn)
        let e = try requireEmbedding(embeddingId, datasetId: datasetId, conn)
        guard e.isProcessed, let rows = e.rowCount else { throw notReady(e.id) }
        guard SamplingMethod(rawValue: body.method) != nil else {
            throw APIError.badRequest("unknown sampling method \(body.method): expected RANDOM, CORESET, CORAL or ACTIVE_LEARNING")
        }
        let stop = body.config.stoppingCondition
        guard stop.nSamples?.isFinite ?? true, stop.minDistance?.isFinite ?? true else {
            throw APIError.badRequest("config.stoppingCondition.nSamples and minDistance must be finite numbers")
        }
        guard !body.newTagName.isEmpty else { throw APIError.badRequest("newTagName must not be empty") }
        let n = try SamplingJobExecutor.sampleCount(datasetId: datasetId, conn)
        guard rows == n else {
            throw APIError.badRequest("embedding \(e.id) has \(rows) rows but the dataset has \(n) samples; upload embeddings for all samples",
                                      code: .embeddingRowCountInvalid)
        }
        if let rc = body.rowCount, rc != Double(n) {
            throw APIError.badRequest("rowCount \(rc) does not match the dataset size \(n)", code: .embeddingRowCountInvalid)
        }
        for (id, role, code) in [(body.queryTagId, "queryTagId", ApiErrorCode.tagQuerytagNotInDataset),
                                 (body.preselectedTagId, "preselectedTagId", ApiErrorCode.tagPreselectedtagNotInDataset)] {
            guard let id else { continue }
            // A tag the user cannot see (another user's) answers exactly like an unknown one.
            guard let owner = try visibleTagDataset(id, for: user, conn: conn) else {
                throw APIError.notFound(.tagUnknown, "\(role) \(id): tag not found")
            }
            guard owner == datasetId else {
                throw APIError.badRequest("\(role) \(id) is a tag of another dataset, not of \(datasetId)", code: code)
            }
        }
        if try TagStore.nameExists(body.newTagName, datasetId: datasetId, conn) {
            throw APIError.conflict(.tagNameExists, "a tag named \(body.newTagName) already exists in dataset \(datasetId)")
        }
        // A queued job that will create the same name makes this one fail later: say so now.
        if try JobStore.samplingPending(newTagName: body.newTagName, datasetId: datasetId, conn) {
            throw APIError.conflict(.tagNameExists, "a sampling job creating a tag named \(body.newTagName) is already queued")
        }
    }

    /// The wire status of a job (docs/protocol.md §10): `waitTimeTillNextPoll` is `settings.jobPollWait`
    /// while the job waits or runs and 0 once it is done; FINISHED carries `result`.
    func jobStatus(_ job: JobRecord) -> JobStatusData {
        let done = job.status.isTerminal
        var meta: JobStatusMeta?
        if job.status == .running, let p = jobs.runner.progress(of: job.id) {
            meta = JobStatusMeta(total: p.total, processed: p.processed)
        } else if job.status == .finished, let total = job.total {
            meta = JobStatusMeta(total: total, processed: job.processed ?? total)
        }
        return JobStatusData(
            id: job.id, status: job.status, meta: meta,
            waitTimeTillNextPoll: done ? 0 : max(0, settings.jobPollWait),
            createdAt: Int64(job.createdAt), finishedAt: done ? job.finishedAt.map(Int64.init) : nil,
            error: job.status == .failed ? (job.error ?? "the job failed") : nil,
            result: job.status == .finished ? JobStatusDataResult(type: job.type, data: job.result) : nil)
    }
}
