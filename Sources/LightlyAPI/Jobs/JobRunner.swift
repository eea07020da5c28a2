import LightlyCore
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Logging
import LightlyStorage
import LightlyWire
import Synchronization

/// A job failure whose message is meant for the user (it becomes `JobStatusData.error`).
public struct JobFailure: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Thrown by an executor when the runner is stopping; the job stays RUNNING in the database
/// and is re-run after the next start.
public struct JobInterrupted: Error {}

/// Lets a running job report progress and notice a shutdown.
public struct JobProgress: Sendable {
    let report: @Sendable (_ processed: Int, _ total: Int) -> Bool
    var recordPhases: @Sendable (JobPhases) -> Void = { _ in }
    /// Records progress; returns false when the job should stop (the server is shutting down).
    @discardableResult
    public func update(processed: Int, total: Int) -> Bool { report(processed, total) }
    /// Records where the job's time went (shown in the job's log line and status answer).
    public func record(_ phases: JobPhases) { recordPhases(phases) }
}

/// Where a job's time went and what its sampler did, as ordered `name=value` items (times in
/// milliseconds), e.g. `pickup=2 inputs=31 load=0 cached=1 select=548 write=9 rows_read=4400
/// plain_passes=0`. The runner logs them with "job finished" and keeps those of recent jobs
/// for the `X-Lightly-Job-Phases` header of the status answer.
public struct JobPhases: Sendable, Equatable {
    /// One measurement.
    public struct Item: Sendable, Equatable {
        public var name: String
        public var value: String
    }
    /// The measurements in the order they were added.
    public private(set) var items: [Item] = []

    public init() {}

    /// Adds `name=value`.
    public mutating func add(_ name: String, _ value: some CustomStringConvertible) {
        items.append(Item(name: name, value: value.description))
    }

    /// Adds `name=<milliseconds since start>` and returns the current monotonic time, so
    /// consecutive phases chain: `t = phases.lap("load", since: t)`.
    @discardableResult
    public mutating func lap(_ name: String, since start: UInt64) -> UInt64 {
        let now = JobPhases.monotonicNanos()
        add(name, (now &- start) / 1_000_000)
        return now
    }

    /// `name=value` items separated by spaces.
    public var summary: String { items.map { "\($0.name)=\($0.value)" }.joined(separator: " ") }

    /// Nanoseconds of a clock that never goes back.
    public static func monotonicNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// Runs one kind of job. `run` must store its result and call `JobStore.markFinished` in
/// one write transaction, so that a crash never leaves a result without a FINISHED job (or
/// the reverse); it throws ``JobFailure`` for an error the user should see.
public protocol JobExecutor: Sendable {
    func run(_ job: JobRecord, progress: JobProgress) throws
}

/// The background worker of asynchronous jobs (sampling, 2-D embeddings).
///
/// - WAITING jobs run in creation order, at most one at a time per dataset, and at most
///   `maxConcurrentJobs` at a time overall (default 1: the host has 2 cores and a sampling
///   pass already uses both).
/// - Jobs run on their own Dispatch queue, never on the HTTP worker pool. A request only
///   inserts a WAITING row and calls ``kick()``.
/// - ``start()`` puts jobs left RUNNING by a crash back to WAITING and runs everything that
///   waits: results are deterministic, so re-running gives the same answer.
/// - ``stop()`` lets no new job start, asks running ones to stop at their next progress
///   report, and waits a bounded time for them.
///
/// ```swift
/// let runner = JobRunner(database: db, executors: [.sampling: sampling], logger: logger)
/// try runner.start()
/// // …after inserting a job:
/// runner.kick()
/// ```
public final class JobRunner: Sendable {
    private struct State {
        var started = false
        var stopping = false
        /// ``pause(timeout:)`` calls not yet matched by ``resume()``: nothing new starts.
        var paused = 0
        /// Running jobs told to give up (by ``pause(timeout:)``); they write nothing more.
        var cancelled: Set<String> = []
        var running: [String: String] = [:]          // job id → dataset id ("" when none)
        var progress: [String: (processed: Int, total: Int)] = [:]
        /// Phases of recent jobs, oldest first in `phaseOrder` (at most `keptPhases`).
        var phases: [String: JobPhases] = [:]
        var phaseOrder: [String] = []
    }
    /// How many recent jobs' phases are kept in memory.
    static let keptPhases = 256

    private let database: any SQLDatabase
    private let executors: [JobResultType: any JobExecutor]
    private let logger: Logger
    /// Jobs running at the same time, over all datasets.
    public let maxConcurrentJobs: Int
    private let state = Mutex(State())
    private let scheduler = DispatchQueue(label: "lightly.jobs.scheduler")
    private let workers = DispatchQueue(label: "lightly.jobs.worker", qos: .utility, attributes: .concurrent)
    private let group = DispatchGroup()
    private let endObserver = Mutex<(@Sendable (JobRecord, JobState, Double) -> Void)?>(nil)
    private let faultSource = Mutex<(@Sendable (JobResultType) -> JobFaultAction?)?>(nil)

    public init(database: any SQLDatabase, executors: [JobResultType: any JobExecutor], maxConcurrentJobs: Int = 1,
                logger: Logger = Logger(label: "lightly.jobs")) {
        self.database = database
        self.executors = executors
        self.maxConcurrentJobs = max(1, maxConcurrentJobs)
        self.logger = logger
    }

    /// Requeues interrupted jobs and starts running the waiting ones.
    public func start() throws {
        let requeued = try database.write { conn in try JobStore.requeueInterrupted(conn) }
        state.withLock { $0.started = true; $0.stopping = false }
        if requeued > 0 { logger.info("requeued interrupted jobs", metadata: ["jobs.count": "\(requeued)"]) }
        kick()
    }

    /// Stops scheduling, asks running jobs to stop, and waits up to `timeout` seconds for them.
    public func stop(timeout: Double = 10) {
        state.withLock { $0.stopping = true }
        _ = group.wait(timeout: .now() + timeout)
        state.withLock { $0.started = false }
    }

    /// Sets the source of injected job faults (the admin API's job rules): asked once per job
    /// before it runs.
    public func injectFaults(_ source: @escaping @Sendable (JobResultType) -> JobFaultAction?) {
        faultSource.withLock { $0 = source }
    }

    /// Lets no job start and tells every running job to give up at its next progress report
    /// (a cancelled job is neither marked FAILED nor FINISHED by the runner; its executor's
    /// final write checks that the job row is still RUNNING). Waits up to `timeout` seconds
    /// for the running jobs to return. Call ``resume()`` afterwards, once per call.
    /// - Returns: whether no job runs any more.
    @discardableResult
    public func pause(timeout: Double = 30) -> Bool {
        state.withLock { $0.paused += 1 }
        // A scheduling pass in progress ends first, so a job it is starting is seen below.
        scheduler.sync {}
        state.withLock { s in s.cancelled.formUnion(s.running.keys) }
        return group.wait(timeout: .now() + timeout) == .success
    }

    /// Undoes one ``pause(timeout:)`` and looks for waiting jobs.
    public func resume() {
        state.withLock { s in s.paused = max(0, s.paused - 1) }
        kick()
    }

    /// Looks for runnable jobs. Cheap; call it after inserting a job.
    public func kick() {
        scheduler.async { [self] in schedule() }
    }

    /// In-memory progress of a RUNNING job (not persisted: cheap to update every iteration).
    public func progress(of jobId: String) -> (processed: Int, total: Int)? {
        state.withLock { $0.progress[jobId] }
    }

    /// Calls `observer` after every job that ran to an end, with its final state (FINISHED or
    /// FAILED, read back from the store) and its running time in seconds (for metrics).
    public func onJobEnded(_ observer: @escaping @Sendable (_ job: JobRecord, _ state: JobState, _ seconds: Double) -> Void) {
        endObserver.withLock { $0 = observer }
    }

    private func reportEnd(_ job: JobRecord, startedAt: UInt64) {
        guard let observer = endObserver.withLock({ $0 }) else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- startedAt) / 1e9
        guard let now = try? database.read({ conn in try JobStore.get(id: job.id, conn) }),
              now.status == .finished || now.status == .failed else { return }
        observer(job, now.status, seconds)
    }

    /// Where a recent job's time went (kept in memory for the last 256 jobs run by this
    /// process; nil for older jobs and before a job has finished its phases).
    public func phases(of jobId: String) -> JobPhases? {
        state.withLock { $0.phases[jobId] }
    }

    /// True while nothing runs (for tests and graceful shutdown).
    public var isIdle: Bool { state.withLock { $0.running.isEmpty } }

    // MARK: - Scheduling (on `scheduler`)

    private func schedule() {
        while true {
            let (canRun, busy): (Bool, Set<String>) = state.withLock { s in
                (s.started && !s.stopping && s.paused == 0 && s.running.count < maxConcurrentJobs, Set(s.running.values))
            }
            guard canRun else { return }
            let next: JobRecord?
            do {
                next = try database.write { conn -> JobRecord? in
                    for job in try JobStore.waiting(limit: 64, conn) where !busy.contains(job.datasetId ?? "") || job.datasetId == nil {
                        if try JobStore.markRunning(id: job.id, now: jobsNowMillis(), conn) {
                            var j = job
                            j.status = .running
                            return j
                        }
                    }
                    return nil
                }
            } catch {
                logger.error("cannot read the job queue", metadata: ["error": "\(error)"])
                return
            }
            guard let job = next else { return }
            state.withLock { $0.running[job.id] = job.datasetId ?? "" }
            group.enter()
            workers.async { [self] in
                execute(job)
                state.withLock { s in
                    s.running.removeValue(forKey: job.id)
                    s.progress.removeValue(forKey: job.id)
                    s.cancelled.remove(job.id)
                }
                group.leave()
                kick()
            }
        }
    }

    // MARK: - Running (on `workers`)

    private func execute(_ job: JobRecord) {
        let log = logger.with(metadata: ["job.id": "\(job.id)", "job.type": "\(job.type)"])
        // From the trigger (wall clock, as stored) to this worker picking the job up.
        let pickup = max(0, jobsNowMillis() - job.createdAt)
        log.info("job started")
        let startedAt = DispatchTime.now().uptimeNanoseconds
        defer { reportEnd(job, startedAt: startedAt) }
        guard let executor = executors[job.type] else {
            fail(job, "no executor for job type \(job.type)", log)
            return
        }
        var progress = JobProgress { [self] processed, total in
            state.withLock { s in
                s.progress[job.id] = (processed, total)
                return !s.stopping && !s.cancelled.contains(job.id)
            }
        }
        func cancelled() -> Bool { state.withLock { $0.cancelled.contains(job.id) } }
        if let action = faultSource.withLock({ $0 })?(job.type) {
            // An injected fault (admin API): wait while RUNNING, then fail or run as usual.
            var waited = 0
            while waited < action.delayMs, !cancelled(), !state.withLock({ $0.stopping }) {
                usleep(10_000)
                waited += 10
            }
            if cancelled() || state.withLock({ $0.stopping }) { return }
            if let message = action.fail {
                fail(job, message, log)
                return
            }
        }
        progress.recordPhases = { [self] reported in
            var phases = JobPhases()
            phases.add("pickup", pickup)
            for item in reported.items { phases.add(item.name, item.value) }
            state.withLock { s in
                if s.phases.updateValue(phases, forKey: job.id) == nil { s.phaseOrder.append(job.id) }
                if s.phaseOrder.count > Self.keptPhases { s.phases.removeValue(forKey: s.phaseOrder.removeFirst()) }
            }
        }
        do {
            try executor.run(job, progress: progress)
            if let phases = phases(of: job.id) {
                log.info("job finished", metadata: ["job.phases": "\(phases.summary)"])
            } else {
                log.info("job finished")
            }
        } catch _ where cancelled() {
            log.info("job cancelled (admin reset)")
        } catch is JobInterrupted {
            log.info("job interrupted by shutdown; it will run again after the next start")
        } catch let failure as JobFailure {
            fail(job, failure.message, log)
        } catch {
            if state.withLock({ $0.stopping }) {
                log.info("job interrupted by shutdown; it will run again after the next start")
                return
            }
            if APIError.isDiskFull(error) {
                fail(job, "the server's storage is full; free space and run the job again", log)
                return
            }
            fail(job, "internal error: \(error)", log)
        }
    }

    private func fail(_ job: JobRecord, _ message: String, _ log: Logger) {
        log.info("job failed", metadata: ["job.error": "\(message)"])
        do {
            try database.write { conn in try JobStore.markFailed(id: job.id, error: message, now: jobsNowMillis(), conn) }
        } catch {
            log.error("cannot mark job failed", metadata: ["error": "\(error)"])
        }
    }
}

private extension Logger {
    func with(metadata: Logger.Metadata) -> Logger {
        var l = self
        for (k, v) in metadata { l[metadataKey: k] = v }
        return l
    }
}
