#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore

import LightlyWire

/// One row of the `jobs` table (timestamps are epoch ms).
public struct JobRecord: Sendable, Equatable {
    public var id: String
    public var userId: String
    public var datasetId: String?
    public var type: JobResultType
    public var status: JobState
    /// JSON of what to run (``SamplingJobInput`` or ``Embedding2DJobInput``).
    public var request: String
    /// `JobStatusDataResult.data` once FINISHED (a tag id or an embedding id).
    public var result: String?
    public var error: String?
    public var processed: Int?
    public var total: Int?
    public var createdAt: Int
    public var startedAt: Int?
    public var finishedAt: Int?
    /// The server that claimed the job (``JobRunner/owner``), set on the record the claiming
    /// runner hands its executor (``JobStore/get(id:_:)`` leaves it nil).
    public var leaseOwner: String? = nil
}


/// SQL for the `jobs` table. Creation order is `(created_at, seq)` (migration 0003).
public enum JobStore {
    static let columns = "id, user_id, dataset_id, type, status, request, result, error, processed, total, created_at, started_at, finished_at"

    static func record(_ r: Row) throws -> JobRecord {
        JobRecord(id: try r.string(0), userId: try r.string(1), datasetId: try r.stringOrNil(2),
                  type: JobResultType(rawValue: try r.string(3)), status: JobState(rawValue: try r.string(4)),
                  request: try r.string(5), result: try r.stringOrNil(6), error: try r.stringOrNil(7),
                  processed: try r.intOrNil(8), total: try r.intOrNil(9), createdAt: try r.int(10),
                  startedAt: try r.intOrNil(11), finishedAt: try r.intOrNil(12))
    }

    /// Inserts a WAITING job and returns it.
    @discardableResult
    public static func insert(userId: String, datasetId: String?, type: JobResultType, request: String, now: Int,
                              _ conn: Connection) throws -> JobRecord {
        let id = ObjectID.generate(seconds: UInt32(truncatingIfNeeded: now / 1000))
        try conn.run("INSERT INTO jobs(id, user_id, dataset_id, type, status, request, created_at, seq) " +
                     "VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM jobs))",
                     id, userId, datasetId, type.rawValue, JobState.waiting.rawValue, request, now)
        return JobRecord(id: id, userId: userId, datasetId: datasetId, type: type, status: .waiting, request: request,
                         result: nil, error: nil, processed: nil, total: nil, createdAt: now, startedAt: nil, finishedAt: nil)
    }

    /// Runs `check` and, when it passes, inserts a WAITING job, in one write transaction of
    /// `database`: what `check` verified (for a sampling job: the tag name is free and no queued
    /// job will take it) still holds when the job is stored, whatever other requests do.
    /// - Throws: whatever `check` throws (nothing is stored then); storage errors.
    public static func enqueue(_ database: any SQLDatabase, userId: String, datasetId: String?, type: JobResultType,
                               request: String, check: (Connection) throws -> Void) throws -> JobRecord {
        try database.write { conn in
            try check(conn)
            // `createdAt` = when the trigger was accepted (wall clock, see `jobsNowMillis`).
            return try insert(userId: userId, datasetId: datasetId, type: type, request: request,
                              now: jobsNowMillis(), conn)
        }
    }

    /// Whether a waiting or running sampling job of the dataset will create a tag named `newTagName`.
    public static func samplingPending(newTagName: String, datasetId: String, _ conn: Connection) throws -> Bool {
        try conn.queryOne("""
            SELECT 1 FROM jobs WHERE dataset_id = ? AND type = 'SAMPLING' AND status IN ('WAITING', 'RUNNING')
              AND \(conn.dialect == .postgres ? "request::jsonb #>> '{request,newTagName}'" : "json_extract(request, '$.request.newTagName')") = ?
            """, datasetId, newTagName) != nil
    }

    /// The job `id`, whoever owns it (routes check `userId`).
    public static func get(id: String, _ conn: Connection) throws -> JobRecord? {
        try conn.queryOne("SELECT \(columns) FROM jobs WHERE id = ?", id).map(record)
    }

    /// The jobs of a user, oldest first.
    public static func list(userId: String, _ conn: Connection) throws -> [JobRecord] {
        try conn.query("SELECT \(columns) FROM jobs WHERE user_id = ? ORDER BY created_at, seq", userId).map(record)
    }

    /// WAITING jobs in creation order (at most `limit`).
    public static func waiting(limit: Int, _ conn: Connection) throws -> [JobRecord] {
        try conn.query("SELECT \(columns) FROM jobs WHERE status = 'WAITING' ORDER BY created_at, seq LIMIT ?", limit).map(record)
    }

    /// Puts jobs that were RUNNING when the process stopped back to WAITING (their results are
    /// deterministic, so running them again gives the same answer).
    /// - Returns: how many were requeued.
    @discardableResult
    public static func requeueInterrupted(_ conn: Connection) throws -> Int {
        try conn.run("UPDATE jobs SET status = 'WAITING', started_at = NULL, lease_owner = NULL, lease_expires_at = NULL WHERE status = 'RUNNING'")
    }

    /// WAITING → RUNNING. Returns false if the job was not WAITING any more.
    public static func markRunning(id: String, now: Int, _ conn: Connection) throws -> Bool {
        try conn.run("UPDATE jobs SET status = 'RUNNING', started_at = ? WHERE id = ? AND status = 'WAITING'", now, id) == 1
    }

    /// RUNNING → FINISHED with `result`. Call in the same transaction that stores the result:
    /// `finishedAt` is then when the result was stored (never before `createdAt`, even if the
    /// wall clock stepped back).
    public static func markFinished(id: String, result: String, total: Int?, now: Int, _ conn: Connection) throws {
        try conn.run("UPDATE jobs SET status = 'FINISHED', result = ?, error = NULL, processed = ?, total = ?, finished_at = \(conn.dialect.greatest)(?, created_at) WHERE id = ?",
                     result, total, total, now, id)
    }

    /// → FAILED with a message for the user.
    public static func markFailed(id: String, error: String, now: Int, _ conn: Connection) throws {
        try conn.run("UPDATE jobs SET status = 'FAILED', error = ?, finished_at = \(conn.dialect.greatest)(?, created_at) WHERE id = ?", error, now, id)
    }
}

// MARK: - Leases (several servers on one database)

extension JobStore {
    /// A job another server may take: WAITING, or RUNNING with a lease that expired before
    /// `now` (its server died or stopped renewing). `?` = now.
    static let claimable = "(j.status = 'WAITING' OR (j.status = 'RUNNING' AND coalesce(j.lease_expires_at, 0) < ?))"

    /// The next jobs this server may claim, oldest first (at most `limit`): claimable, and of
    /// a dataset no other live lease is running a job of (one job per dataset at a time, over
    /// all servers).
    ///
    /// With `lockRows` (PostgreSQL) the rows are read `FOR UPDATE SKIP LOCKED`: a row another
    /// server is claiming right now is skipped instead of waited for, and the rows returned
    /// stay locked until the transaction ends, so two servers never claim one job. SQLite has
    /// one writer at a time: its write transaction alone gives that guarantee.
    public static func claimCandidates(now: Int, limit: Int, lockRows: Bool, _ conn: Connection) throws -> [JobRecord] {
        let cols = columns.split(separator: ",").map { "j." + $0.filter { $0 != " " } }.joined(separator: ", ")
        let sql = """
            SELECT \(cols) FROM jobs j
            WHERE \(claimable)
              AND (j.dataset_id IS NULL OR NOT EXISTS (
                  SELECT 1 FROM jobs r WHERE r.dataset_id = j.dataset_id AND r.id <> j.id
                    AND r.status = 'RUNNING' AND coalesce(r.lease_expires_at, 0) >= ?))
            ORDER BY j.created_at, j.seq LIMIT ?
            """ + (lockRows ? " FOR UPDATE OF j SKIP LOCKED" : "")
        return try conn.query(sql, now, now, limit).map(record)
    }

    /// Whether any job is claimable at `now` (a cheap look before a claiming transaction).
    public static func hasClaimable(now: Int, _ conn: Connection) throws -> Bool {
        try conn.queryOne("SELECT 1 FROM jobs j WHERE \(claimable) LIMIT 1", now) != nil
    }

    /// Runs the rest of the transaction at READ COMMITTED on PostgreSQL (call it first in the
    /// write). Claims, renewals and releases only touch rows they lock (`FOR UPDATE`, or the
    /// row an `UPDATE … WHERE id = ?` locks), which is what READ COMMITTED with row locks is
    /// made for; under SERIALIZABLE every claim would also conflict with concurrent job
    /// inserts (which read the whole table for the next `seq`) and fail them. No-op on SQLite.
    public static func leaseIsolation(_ conn: Connection) throws {
        if conn.dialect == .postgres { try conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED") }
    }

    /// Claims the job `id` for `owner` until `now + leaseMillis`: → RUNNING. False when another

    /// server claimed it first (or it ended).
    public static func claim(id: String, owner: String, now: Int, leaseMillis: Int, _ conn: Connection) throws -> Bool {
        try conn.run("""
            UPDATE jobs SET status = 'RUNNING', started_at = ?, lease_owner = ?, lease_expires_at = ?
            WHERE id = ? AND (status = 'WAITING' OR (status = 'RUNNING' AND coalesce(lease_expires_at, 0) < ?))
            """, now, owner, now + leaseMillis, id, now) == 1
    }

    /// Extends `owner`'s lease on the RUNNING job `id` to `expiresAt`. False when the job is not
    /// `owner`'s any more (another server took it after the lease expired, or it ended).
    public static func renewLease(id: String, owner: String, expiresAt: Int, _ conn: Connection) throws -> Bool {
        try conn.run("UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND status = 'RUNNING' AND lease_owner = ?",
                     expiresAt, id, owner) == 1
    }

    /// Whether `job` is still RUNNING and, when this server claimed it with a lease, still
    /// this server's: an executor's final write stores its result only then.
    public static func isStillRunning(_ job: JobRecord, _ conn: Connection) throws -> Bool {
        guard let owner = job.leaseOwner else {
            return try conn.queryOne("SELECT 1 FROM jobs WHERE id = ? AND status = 'RUNNING'", job.id) != nil
        }
        return try conn.queryOne("SELECT 1 FROM jobs WHERE id = ? AND status = 'RUNNING' AND lease_owner = ?", job.id, owner) != nil
    }

    /// Puts `owner`'s RUNNING jobs back to WAITING (a runner stopping with jobs unfinished).
    /// - Returns: how many.
    @discardableResult
    public static func releaseLeases(owner: String, _ conn: Connection) throws -> Int {
        try conn.run("""
            UPDATE jobs SET status = 'WAITING', started_at = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE status = 'RUNNING' AND lease_owner = ?
            """, owner)
    }

    /// Puts RUNNING jobs whose lease expired before `now` back to WAITING (at start on a store
    /// shared by several servers: jobs another server still holds are left alone).
    /// - Returns: how many were requeued.
    @discardableResult
    public static func requeueExpired(now: Int, _ conn: Connection) throws -> Int {
        try conn.run("""
            UPDATE jobs SET status = 'WAITING', started_at = NULL, lease_owner = NULL, lease_expires_at = NULL
            WHERE status = 'RUNNING' AND coalesce(lease_expires_at, 0) < ?
            """, now)
    }
}

/// Current wall-clock time in Unix epoch milliseconds, for job `createdAt` / `finishedAt`:
/// unlike `Timestamp.now()` it is not pushed ahead by bursts of writes, so
/// `finishedAt − createdAt` is the job's real duration.
@inline(__always) public func jobsNowMillis() -> Int { Int(Timestamp.wallMillis()) }
