import CSQLite
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Group commit

/// One write waiting for its group: the type-erased body, its outcome, and how its thread is
/// woken (to return, or to lead the next group).
final class GroupMember: @unchecked Sendable {
    // @unchecked: `body` and `error` are touched by the waiting thread before it submits and
    // after it is woken, and by the leader in between; the queue's mutex and the semaphore
    // order those accesses.
    /// The write; nil once its caller has returned.
    var body: ((SQLiteConnection) throws -> Void)?
    var error: (any Error)?
    var leads = false
    let wake = DispatchSemaphore(value: 0)
    init(_ body: @escaping (SQLiteConnection) throws -> Void) { self.body = body }
}

/// The queue of writes waiting for the next group commit. At most one thread leads at a
/// time: it takes everything queued (up to `Database.maxGroupSize`), commits it, wakes those
/// writers and hands leadership to the first writer still waiting, if any.
final class GroupCommitQueue: Sendable {
    private struct State {
        var waiting: [GroupMember] = []
        var leaderActive = false
    }
    private let state = Mutex(State())

    /// Writes waiting for a group (not counting one being committed).
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Returns once `member` has run and its group has committed; rethrows its error.
    func submit(_ member: GroupMember, database: Database) throws {
        let leads = state.withLock { s -> Bool in
            s.waiting.append(member)
            if s.leaderActive { return false }
            s.leaderActive = true
            return true
        }
        if !leads {
            member.wake.wait()
            guard member.leads else {
                if let e = member.error { throw e }
                return
            }
        }
        // Lead one group (it holds `member`: nobody took it since it was queued before the
        // leadership was handed to it, and the queue is FIFO).
        let group = state.withLock { s -> [GroupMember] in
            let n = min(s.waiting.count, Database.maxGroupSize)
            let g = Array(s.waiting.prefix(n))
            s.waiting.removeFirst(n)
            return g
        }
        database.commitGroup(group)
        let next = state.withLock { s -> GroupMember? in
            guard let first = s.waiting.first else { s.leaderActive = false; return nil }
            return first
        }
        for m in group where m !== member { m.wake.signal() }
        if let next {
            next.leads = true
            next.wake.signal()
        }
        if let e = member.error { throw e }
    }
}

// MARK: - Database

/// The SQLite database: one serialized writer connection and a small pool of reader connections
/// (the GRDB `DatabasePool` model). WAL mode lets readers run while the writer writes; each reader
/// sees a consistent snapshot for the length of its `read` closure.
///
/// `Connection`s are not `Sendable`; this class is `@unchecked Sendable` because every connection is
/// only ever touched under its lock (the writer `Mutex`, or a reader slot handed out by the pool).
///
/// ```swift
/// let db = try Database(path: dataDir + "/lightly.sqlite3")
/// _ = try db.migrate()
/// try db.write { conn in try conn.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", id, "alice", now) }
/// let names = try db.read { conn in try conn.query("SELECT name FROM users").map { try $0.string(0) } }
/// ```
public final class Database: @unchecked Sendable {
    /// The file path, or `:memory:`.
    public let path: String
    /// True for an in-memory database (readers share the writer connection).
    public let isInMemory: Bool

    private let writer: SQLiteConnection
    private let writerLock = Mutex<Void>(())
    /// `pthread_self()` of the thread inside `write`, 0 when none: turns a nested `write` (which
    /// would deadlock on the non-recursive lock) into a thrown error.
    private let writerOwner = Atomic<UInt>(0)

    private let readers: [SQLiteConnection]
    private let freeReaders: Mutex<[Int]>
    private let readerSlots: DispatchSemaphore
    private let closed = Atomic<Bool>(false)
    private let groups = GroupCommitQueue()
    /// Write transactions committed (a group commit counts once; for tests).
    let commits = Atomic<Int>(0)
    /// Writes queued for the next group (for tests).
    var queuedWrites: Int { groups.waitingCount }

    /// Opens (creating if needed) the database at `path`.
    ///
    /// - Parameters:
    ///   - path: A file path (opened in WAL mode with `synchronous=FULL`), or `":memory:"` for tests.
    ///   - readerCount: Reader connections in the pool (file databases only; at least 1). The default,
    ///     `max(4, cores)`, matches the HTTP worker pool so readers rarely wait for a connection.
    ///   - busyTimeout: How long a connection waits for a lock held by another process, in seconds.
    /// - Throws: `StorageError` if the file cannot be opened or put into WAL mode.
    public init(path: String, readerCount: Int = Database.defaultReaderCount, busyTimeout: Double = 5) throws {
        self.path = path
        self.isInMemory = path == ":memory:" || path.hasPrefix("file::memory:")
        let millis = Int32(max(0, min(busyTimeout * 1000, Double(Int32.max))))
        self.writer = try SQLiteConnection(path: path, readOnly: false, busyTimeoutMillis: millis)
        if isInMemory {
            self.readers = []
        } else {
            self.readers = try (0..<max(1, readerCount)).map { _ in try SQLiteConnection(path: path, readOnly: true, busyTimeoutMillis: millis) }
        }
        self.freeReaders = Mutex(Array(readers.indices))
        self.readerSlots = DispatchSemaphore(value: readers.count)
    }

    deinit { close() }

    /// `max(4, online cores)`.
    public static var defaultReaderCount: Int { max(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Reader connections in the pool (0 for an in-memory database).
    public var readerCount: Int { readers.count }

    // MARK: Transactions

    /// Runs `body` in a write transaction on the single writer connection and returns once that
    /// transaction is durably committed. Writers are serialized; if `body` throws, its changes are
    /// rolled back and the error rethrown.
    ///
    /// **Group commit.** Writes that arrive while another group is committing queue up, and the
    /// next group runs them all in one transaction (`BEGIN IMMEDIATE`, each body inside its own
    /// `SAVEPOINT`, one `COMMIT`): one fsync for many small writes. Each caller still returns
    /// only after the commit that holds its changes. A body that throws rolls back to its own
    /// savepoint and gets its error; the others are unaffected (if the error aborted the whole
    /// transaction, as SQLite does for e.g. a full disk, the bodies that had run are run again in
    /// a new transaction). A failing `COMMIT` fails every body of the group. Bodies run in
    /// arrival order, each on whichever thread leads the group, so a body must not depend on
    /// the calling thread. A lone write runs exactly as before (no savepoint).
    ///
    /// Do not call `write` or `read` from inside `body` on the same thread: use `conn`.
    /// - Returns: What `body` returns.
    /// - Throws: `StorageError` (`isBusy` if another process held the write lock past the busy
    ///   timeout), or whatever `body` throws.
    @discardableResult
    public func write<T>(_ body: (Connection) throws -> T) throws -> T {
        if writerOwner.load(ordering: .acquiring) == Self.currentThreadID() { throw StorageError.reentrant }
        return try withoutActuallyEscaping(body) { body in
            var result: T?
            let member = GroupMember { conn in result = try body(conn) }
            // The leader may still hold `member` after waking us: drop the closure (which
            // captures the non-escaping `body`) before this block returns.
            defer { member.body = nil }
            try groups.submit(member, database: self)
            guard let result else { throw StorageError.closed }   // unreachable: ran without error
            return result
        }
    }

    /// The most writes one group commit holds.
    static let maxGroupSize = 256

    /// Runs `members` (in order) in write transactions and records each one's outcome.
    /// Called by the group's leader only.
    fileprivate func commitGroup(_ members: [GroupMember]) {
        do {
            try withWriter { conn in
                if members.count == 1 {
                    let m = members[0]
                    do {
                        try conn.execute("BEGIN IMMEDIATE")
                        try finishTransaction(conn) { try m.body?($0) }
                        commits.add(1, ordering: .relaxed)
                    } catch { m.error = error }
                    return
                }
                var pending = members[...]
                while !pending.isEmpty {
                    var ran: [GroupMember] = []       // ran without error in this transaction
                    var lost = false                  // a failure ended the whole transaction
                    do {
                        try conn.execute("BEGIN IMMEDIATE")
                    } catch {
                        for m in pending { m.error = error }
                        return
                    }
                    while let m = pending.first, !lost {
                        pending = pending.dropFirst()
                        do {
                            try conn.execute("SAVEPOINT grouped")
                            do {
                                try m.body?(conn)
                                try conn.execute("RELEASE grouped")
                                ran.append(m)
                            } catch {
                                m.error = error
                                if conn.isInTransaction {
                                    try conn.execute("ROLLBACK TO grouped; RELEASE grouped")
                                } else {
                                    lost = true
                                }
                            }
                        } catch {
                            // The savepoint itself failed: nothing of this transaction is safe.
                            if m.error == nil { m.error = error }
                            lost = true
                        }
                    }
                    if lost {
                        if conn.isInTransaction { try? conn.execute("ROLLBACK") }
                        // Run the bodies that had succeeded again, ahead of the rest.
                        for m in ran { m.error = nil }
                        pending = (ran + pending)[...]
                        continue
                    }
                    do {
                        try conn.execute("COMMIT")
                        commits.add(1, ordering: .relaxed)
                    } catch {
                        if conn.isInTransaction { try? conn.execute("ROLLBACK") }
                        for m in ran { m.error = error }
                    }
                }
            }
        } catch {
            // `withWriter` failed (closed, or a nested write on this thread).
            for m in members where m.error == nil { m.error = error }
        }
    }

    /// Runs `body` in a read transaction on a pooled reader connection. Everything `body` reads
    /// comes from one snapshot, even while a writer commits. Reader connections are `query_only`.
    ///
    /// - Returns: What `body` returns.
    /// - Throws: `StorageError`, or whatever `body` throws.
    @discardableResult
    public func read<T>(_ body: (Connection) throws -> T) throws -> T {
        if isInMemory {
            // One connection: reads go through the writer lock (and still may not write).
            return try withWriter { conn in
                defer { try? conn.execute("PRAGMA query_only=OFF") }
                try conn.execute("PRAGMA query_only=ON; BEGIN DEFERRED")
                return try finishTransaction(conn, body)
            }
        }
        return try withReader { conn in
            try conn.execute("BEGIN DEFERRED")
            return try finishTransaction(conn, body)
        }
    }

    /// Runs `body` in the transaction just begun on `conn` and commits it; if `body` (or the
    /// commit) throws, rolls back and rethrows.
    private func finishTransaction<T>(_ conn: SQLiteConnection, _ body: (SQLiteConnection) throws -> T) throws -> T {
        do {
            let result = try body(conn)
            try conn.execute("COMMIT")
            return result
        } catch {
            if conn.isInTransaction { try? conn.execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: Connection access

    /// Runs `body` with exclusive use of the writer connection, outside any transaction.
    func withWriter<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let me = Self.currentThreadID()
        if writerOwner.load(ordering: .acquiring) == me { throw StorageError.reentrant }
        var result: T?
        try writerLock.withLock { (_: inout Void) throws -> Void in
            guard !closed.load(ordering: .acquiring) else { throw StorageError.closed }
            writerOwner.store(me, ordering: .releasing)
            defer { writerOwner.store(0, ordering: .releasing) }
            result = try body(writer)
        }
        guard let result else { throw StorageError.closed }   // unreachable: body returned or threw
        return result
    }

    /// Runs `body` with a reader connection from the pool, waiting for a free one.
    func withReader<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        readerSlots.wait()
        defer { readerSlots.signal() }
        guard !closed.load(ordering: .acquiring) else { throw StorageError.closed }
        guard let index = freeReaders.withLock({ $0.popLast() }) else { throw StorageError.closed }
        defer { freeReaders.withLock { $0.append(index) } }
        return try body(readers[index])
    }

    /// The calling thread's id, to tell whether a thread already holds a write (re-entrance).
    /// Shared with ``PostgresDatabase``.
    static func currentThreadID() -> UInt {
        #if os(Linux)
        return UInt(pthread_self())
        #else
        return UInt(bitPattern: pthread_self())
        #endif
    }

    // MARK: Backup

    /// Copies the whole database to `path` with SQLite's online backup API
    /// (https://sqlite.org/backup.html). Safe while serving: it reads one snapshot through a reader
    /// connection, so writers are not blocked (WAL). The copy is written next to `path` and renamed
    /// into place, so `path` is either the old file or a complete copy.
    /// - Throws: `StorageError` if the destination cannot be written.
    public func backup(to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        unlink(tmp)
        var dest: OpaquePointer?
        var rc = sqlite3_open_v2(tmp, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let dest else {
            let e = StorageError.sqlite(rc, dest)
            sqlite3_close_v2(dest)
            throw StorageError(code: e.code, message: "cannot create backup file \(tmp): \(e.message)")
        }
        var destClosed = false
        defer { if !destClosed { sqlite3_close_v2(dest); unlink(tmp) } }
        let copy = { (source: SQLiteConnection) throws -> Void in
            guard let b = sqlite3_backup_init(dest, "main", source.handle, "main") else {
                throw StorageError.sqlite(sqlite3_extended_errcode(dest), dest)
            }
            repeat {
                rc = sqlite3_backup_step(b, -1)   // -1: all pages, one consistent snapshot
                if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(20) }
            } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
            let finish = sqlite3_backup_finish(b)
            guard rc == SQLITE_DONE, finish == SQLITE_OK else {
                throw StorageError.sqlite(rc == SQLITE_DONE ? finish : rc, dest)
            }
        }
        if isInMemory { try withWriter(copy) } else { try withReader(copy) }
        rc = sqlite3_close_v2(dest)
        destClosed = true
        guard rc == SQLITE_OK else { unlink(tmp); throw StorageError.sqlite(rc, nil) }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw StorageError.io("rename \(tmp) to \(path)", errno: e)
        }
    }

    // MARK: Closing

    /// Closes every connection, after in-flight reads and the current write finish. The last close
    /// checkpoints the WAL into the main file. Later calls throw `StorageError` (kind `.closed`).
    /// Idempotent.
    public func close() {
        // Called from inside `write` on the same thread it would deadlock; the outer call owns
        // the connection, so leave closing to whoever opened the database.
        guard writerOwner.load(ordering: .acquiring) != Self.currentThreadID() else { return }
        writerLock.withLock { _ in
            guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
            for _ in readers.indices { readerSlots.wait() }       // wait for in-flight reads
            for r in readers { r.close() }
            for _ in readers.indices { readerSlots.signal() }     // waiting readers then see `closed`
            writer.close()
        }
    }

    /// True once `close()` has been called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }
}
