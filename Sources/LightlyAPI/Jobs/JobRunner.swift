#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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
/// **Several servers on one store.** A job is claimed with a lease: `lease_owner` (this
/// runner's ``owner``) and `lease_expires_at`, ``leaseSeconds`` ahead. While the job runs the
/// runner renews the lease every `leaseSeconds / 3`. A job whose server died keeps its stale
/// lease; once it expires any server's runner claims the job again and runs it to the same
/// result. Every runner also looks for claimable jobs every `min(1 s, leaseSeconds / 3)`, so
/// jobs queued through another server and jobs of dead servers are found without a request.
/// With `sharedStore` (PostgreSQL) ``start()`` requeues only jobs whose lease expired;
/// otherwise (SQLite, one server) it requeues every RUNNING job. With `lockRows`
/// (PostgreSQL) the claim reads `FOR UPDATE SKIP LOCKED`. A runner that loses a lease (it could not renew in time and
/// another server took the job) stops that job at its next progress report, and its final
/// write stores nothing.
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
    /// This runner's name in `jobs.lease_owner`: host, process id and a random part.
    public let owner: String
    /// How long a claimed job stays this runner's without a renewal, in seconds.
    public let leaseSeconds: Double
    /// Whether other servers share the store: ``start()`` then requeues only expired leases.
    public let sharedStore: Bool
    /// Whether claims read `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has no row locks and
    /// needs none: one writer at a time).
    public let lockRows: Bool
    /// Renews leases and looks for claimable jobs (see the type's documentation).
    private let ticker = Mutex<LeaseTicker?>(nil)
    private let tickQueue = DispatchQueue(label: "lightly.jobs.lease")

    /// The default lease: 30 s (renewed every 10 s; a dead server's job waits at most this long).
    public static let defaultLeaseSeconds = 30.0

    /// - Parameters:
    ///   - leaseSeconds: the lease of a claimed job (at least 0.3 s).
    ///   - sharedStore: true when other servers may use the same store (PostgreSQL).
    ///   - lockRows: true on PostgreSQL (claims read `FOR UPDATE SKIP LOCKED`).
    public init(database: any SQLDatabase, executors: [JobResultType: any JobExecutor], maxConcurrentJobs: Int = 1,
                leaseSeconds: Double = JobRunner.defaultLeaseSeconds, sharedStore: Bool = false, lockRows: Bool = false,
                logger: Logger = Logger(label: "lightly.jobs")) {
        self.database = database
        self.executors = executors
        self.maxConcurrentJobs = max(1, maxConcurrentJobs)
        self.leaseSeconds = max(0.3, leaseSeconds)
        self.sharedStore = sharedStore
        self.lockRows = lockRows
        self.logger = logger
        var host = [CChar](repeating: 0, count: 256)
        let hostName = gethostname(&host, host.count - 1) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "host"
        self.owner = "\(hostName)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    private var leaseMillis: Int { Int(leaseSeconds * 1000) }

    /// Requeues interrupted jobs and starts running the waiting ones.
    /// - Parameter othersMayRun: another server may be running jobs on this store right now
    ///   (e.g. it holds the data folder too): like `sharedStore`, only jobs whose lease expired
    ///   are requeued.
    public func start(othersMayRun: Bool = false) throws {
        let requeued = try database.write { conn in
            try JobStore.leaseIsolation(conn)
            return sharedStore || othersMayRun
                ? try JobStore.requeueExpired(now: leaseNowMillis(), conn) : try JobStore.requeueInterrupted(conn)
        }

        state.withLock { $0.started = true; $0.stopping = false }
        if requeued > 0 { logger.info("requeued interrupted jobs", metadata: ["jobs.count": "\(requeued)"]) }
        let interval = min(1.0, leaseSeconds / 3)
        let renewEvery = max(1, Int((leaseSeconds / 3 / interval).rounded(.down)))
        let timer = DispatchSource.makeTimerSource(queue: tickQueue)
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
        let ticks = Mutex(0)
        timer.setEventHandler { [self] in
            let n = ticks.withLock { t -> Int in t += 1; return t }
            if n % renewEvery == 0 { renewLeases() }
            kick()
        }
        let old = ticker.withLock { t -> LeaseTicker? in defer { t = LeaseTicker(timer: timer) }; return t }
        old?.timer.cancel()
        timer.resume()
        kick()
    }

    /// Stops scheduling, asks running jobs to stop, and waits up to `timeout` seconds for them.
    /// Jobs that did not finish go back to WAITING at once (not after their lease), so another
    /// server on the same store, or this one after a restart, runs them again.
    public func stop(timeout: Double = 10) {
        state.withLock { $0.stopping = true }
        ticker.withLock { t -> LeaseTicker? in defer { t = nil }; return t }?.timer.cancel()
        _ = group.wait(timeout: .now() + timeout)
        state.withLock { $0.started = false }
        do {
            let released = try database.write { conn in
                try JobStore.leaseIsolation(conn)
                return try JobStore.releaseLeases(owner: owner, conn)
            }
            if released > 0 { logger.info("released the leases of interrupted jobs", metadata: ["jobs.count": "\(released)"]) }
        } catch {
            logger.warning("cannot release job leases; they expire by themselves", metadata: ["error": "\(error)"])
        }
    }

    /// Extends the lease of every job this runner runs; a job whose lease another server took
    /// is told to stop.
    private func renewLeases() {
        let ids = state.withLock { Array($0.running.keys) }
        guard !ids.isEmpty else { return }
        let expires = leaseNowMillis() + leaseMillis
        do {
            let lost = try database.write { conn -> [String] in
                try JobStore.leaseIsolation(conn)
                var lost: [String] = []
                for id in ids where !(try JobStore.renewLease(id: id, owner: owner, expiresAt: expires, conn)) { lost.append(id) }
                return lost
            }
            // A job that just ended is not RUNNING any more either: only one still running here was lost.
            let stillHere = state.withLock { s -> [String] in
                let here = lost.filter { s.running[$0] != nil }
                s.cancelled.formUnion(here)
                return here
            }
            for id in stillHere { logger.warning("job lease went to another server; stopping the job here", metadata: ["job.id": "\(id)"]) }
        } catch {
            logger.warning("cannot renew job leases", metadata: ["error": "\(error)"])
        }
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
                let now = leaseNowMillis()
                // A cheap read first: most looks (the periodic ones) find nothing.
                guard try database.read({ conn in try JobStore.hasClaimable(now: now, conn) }) else { return }
                next = try database.write { conn -> JobRecord? in
                    try JobStore.leaseIsolation(conn)
                    for job in
 try JobStore.claimCandidates(now: now, limit: 64, lockRows: lockRows, conn)
                    where job.datasetId == nil || !busy.contains(job.datasetId ?? "") {
                        if try JobStore.claim(id: job.id, owner: owner, now: now, leaseMillis: leaseMillis, conn) {
                            var j = job
                            j.status = .running
                            j.leaseOwner = owner
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
            log.info("job cancelled (admin reset, or its lease went to another server)")
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
            try database.write { conn in
                // Not when the job is no longer this runner's (another server took it over).
                guard try JobStore.isStillRunning(job, conn) else { return }
                try JobStore.markFailed(id: job.id, error: message, now: jobsNowMillis(), conn)
            }
        } catch {
            log.error("cannot mark job failed", metadata: ["error": "\(error)"])
        }
    }
}

/// The runner's timer; a dispatch source is thread-safe, though not marked `Sendable`.
private struct LeaseTicker: @unchecked Sendable {
    let timer: any DispatchSourceTimer
}

/// The real time in Unix epoch milliseconds (never the `--clock` of stored timestamps, which
/// may stand still): leases compare it across servers, so their clocks must agree (NTP).
func leaseNowMillis() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
}

private extension Logger {

    func with(metadata: Logger.Metadata) -> Logger {
        var l = self
        for (k, v) in metadata { l[metadataKey: k] = v }
        return l
    }
}

extension JobRecord {
    /// The job's `request` JSON as `T` (what the route stored, e.g. ``SamplingJobInput``).
    /// - Throws: `JobFailure` "unreadable `what` request" when it does not decode.
    func decodedRequest<T: Decodable>(_: T.Type, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(request.utf8))
        } catch {
            throw JobFailure("unreadable \(what) request: \(error)")
        }
    }
}
