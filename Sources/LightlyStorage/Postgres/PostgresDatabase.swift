import Dispatch
import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - PostgresDatabase

/// A PostgreSQL database through a bounded pool of `PostgresConnection`s, with the same `write`
/// and `read` shape as the SQLite `Database`.
///
/// The SQLite `Database` runs one writer at a time, and the stores rely on that (read a maximum,
/// then insert the next number). Here many servers and threads write at once, so `write` runs
/// `SERIALIZABLE`: PostgreSQL then guarantees the outcome of some one-at-a-time order, and a
/// transaction that conflicts fails with a serialization failure. `write` retries those (and
/// deadlocks) a few times; only after the last attempt does the caller see a busy error (503).
/// Because of the retries, `body` may run more than once: it must do nothing outside the
/// database that cannot be repeated.
///
/// Within one process, writes take turns by default (`serializeWrites`), as on SQLite: threads
/// of one server that all write to one dataset would otherwise keep failing each other's
/// transactions and see busy errors, while the conflicts with other servers stay rare enough
/// for the retries. Reads and the transactions of other processes are not held up.
///
/// `read` runs `REPEATABLE READ READ ONLY`: one snapshot for the whole closure, as on SQLite.
///
/// ```swift
/// let db = try PostgresDatabase(url: "postgresql://lightly@db.internal/lightly")
/// try db.migrate()
/// try db.write { pg in try pg.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", id, name, now) }
/// ```
public final class PostgresDatabase: SQLDatabase, @unchecked Sendable {
    /// The URL connections are opened with.
    private let url: String
    /// Most connections open at once.
    public let maxConnections: Int
    /// Attempts of a `write` that keeps losing serialization conflicts.
    public let writeAttempts: Int
    /// How long `write`/`read` waits for a free connection before answering busy, in seconds.
    public let acquireTimeout: Double

    /// Idle connections. Every connection is used by one thread at a time: the one that took it.
    private let idle = Mutex<[UncheckedConnection]>([])
    private let slots: DispatchSemaphore
    /// Whether this process's writes take turns.
    public let serializeWrites: Bool
    /// Held by the thread inside `write` when `serializeWrites`.
    private let writerLock = Mutex<Void>(())
    /// `pthread_self()` of that thread, 0 when none: a nested `write` throws instead of deadlocking.
    private let writerOwner = Atomic<UInt>(0)
    private let closed = Atomic<Bool>(false)

    /// Opens the pool and checks the URL by opening its first connection.
    /// - Throws: `StorageError` when the server cannot be reached or refuses the login.
    /// - Parameter serializeWrites: one `write` at a time in this process (see above); `false`
    ///   lets them run concurrently and rely on the retries alone.
    public init(url: String, maxConnections: Int = 8, writeAttempts: Int = 5, acquireTimeout: Double = 10,
                serializeWrites: Bool = true) throws {
        self.url = url
        self.serializeWrites = serializeWrites
        self.maxConnections = max(1, maxConnections)
        self.writeAttempts = max(1, writeAttempts)
        self.acquireTimeout = acquireTimeout
        self.slots = DispatchSemaphore(value: self.maxConnections)
        let first = try PostgresConnection(url: url)
        idle.withLock { $0.append(UncheckedConnection(first)) }
    }

    /// Runs `body` in a `SERIALIZABLE` transaction, committed when it returns; retried after a
    /// serialization failure or deadlock, up to `writeAttempts` times in all.
    /// - Throws: `StorageError` (`isBusy` when every attempt lost a conflict or no connection
    ///   became free in time), or whatever `body` throws (not retried).
    @discardableResult
    public func write<T>(_ body: (Connection) throws -> T) throws -> T {
        guard serializeWrites else { return try writeAttempting(body) }
        let me = Database.currentThreadID()
        if writerOwner.load(ordering: .acquiring) == me { throw StorageError.reentrant }
        var result: T?
        try writerLock.withLock { (_: inout Void) throws -> Void in
            writerOwner.store(me, ordering: .releasing)
            defer { writerOwner.store(0, ordering: .releasing) }
            result = try writeAttempting(body)
        }
        guard let result else { throw StorageError.closed }   // unreachable: body returned or threw
        return result
    }

    /// `write` without the process-wide turn.
    private func writeAttempting<T>(_ body: (Connection) throws -> T) throws -> T {
        try withConnection { pg in
            var attempt = 1
            while true {
                do {
                    return try pg.transaction(.serializable, body)
                } catch let error as StorageError where Self.isRetryable(error) && attempt < writeAttempts {
                    attempt += 1
                    // Back off a little, with jitter, so the conflicting writers spread out.
                    usleep(UInt32.random(in: 1_000...(5_000 * UInt32(attempt))))
                }
            }
        }
    }

    /// Runs `body` in a read-only `REPEATABLE READ` transaction: one snapshot throughout.
    /// - Throws: `StorageError` (a write inside fails with SQLSTATE 25006), or what `body` throws.
    @discardableResult
    public func read<T>(_ body: (Connection) throws -> T) throws -> T {
        try withConnection { pg in try pg.transaction(.repeatableReadOnly, body) }
    }

    /// Applies the embedded PostgreSQL migrations (see `PostgresConnection.migrate()`).
    @discardableResult
    public func migrate() throws -> [String] {
        try withConnection { pg in try pg.migrate() }
    }

    /// The highest applied migration version (0 for a new database).
    public func schemaVersion() throws -> Int {
        try withConnection { pg in try pg.schemaVersion() }
    }

    /// `SQLDialect.postgres`.
    public var dialect: SQLDialect { .postgres }

    /// The URL with its password replaced by `***`.
    public var displayLocation: String { Self.redacted(url: url) }

    /// Runs `SELECT 1` on a pooled connection (opening one if none is idle). An idle connection
    /// the server ended meanwhile (a restart, a failover) is replaced and the check tried once
    /// more, so only a server that does not answer now fails it.
    public func checkReachable() throws {
        do {
            _ = try withConnection { pg in try pg.queryOne("SELECT 1") }
        } catch let error as StorageError where error.sqlState == "08006" {
            _ = try withConnection { pg in try pg.queryOne("SELECT 1") }
        }
    }

    /// `pg_database_size(current_database())`, or nil when the server does not answer.
    public func sizeInBytes() -> Int64? {
        try? withConnection { pg in try pg.queryOne("SELECT pg_database_size(current_database())")?.int64OrNil(0) } ?? nil
    }

    /// Closes the idle connections (those in use close when returned); later `write`/`read`
    /// calls throw `StorageError.closed`. Idempotent.
    public func close() {
        closed.store(true, ordering: .releasing)
        let connections = idle.withLock { all -> [UncheckedConnection] in defer { all.removeAll() }; return all }
        for c in connections { c.connection.close() }
    }

    /// True once `close()` has been called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// `url` with the password (of the user part, or a `password=` parameter) replaced by `***`,
    /// for logs, errors and printed settings.
    public static func redacted(url: String) -> String { PostgresURL.redacted(url) }

    static func isRetryable(_ error: StorageError) -> Bool {
        error.kind == .postgres && (error.sqlState == "40001" || error.sqlState == "40P01")
    }

    /// Takes an idle connection (or opens one), runs `body`, and gives it back unless it broke.
    private func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + acquireTimeout) == .success else {
            throw StorageError(kind: .postgres, code: 0,
                               message: "all \(maxConnections) PostgreSQL connections stayed in use for \(acquireTimeout) s",
                               sqlState: "53300")
        }
        defer { slots.signal() }
        guard !closed.load(ordering: .acquiring) else { throw StorageError.closed }
        let pg = try idle.withLock { $0.popLast() }?.connection ?? PostgresConnection(url: url)
        defer {
            if pg.isHealthy && !closed.load(ordering: .acquiring) { idle.withLock { $0.append(UncheckedConnection(pg)) } } else { pg.close() }
        }
        return try body(pg)
    }
}

/// A connection parked in the pool; only the thread that takes it out uses it.
private struct UncheckedConnection: @unchecked Sendable {
    let connection: PostgresConnection
    init(_ connection: PostgresConnection) { self.connection = connection }
}
