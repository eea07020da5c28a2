import CSQLite
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    private let writer: Connection
    private let writerLock = Mutex<Void>(())
    /// `pthread_self()` of the thread inside `write`, 0 when none: turns a nested `write` (which
    /// would deadlock on the non-recursive lock) into a thrown error.
    private let writerOwner = Atomic<UInt>(0)

    private let readers: [Connection]
    private let freeReaders: Mutex<[Int]>
    private let readerSlots: DispatchSemaphore
    private let closed = Atomic<Bool>(false)

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
        self.writer = try Connection(path: path, readOnly: false, busyTimeoutMillis: millis)
        if isInMemory {
            self.readers = []
        } else {
            self.readers = try (0..<max(1, readerCount)).map { _ in try Connection(path: path, readOnly: true, busyTimeoutMillis: millis) }
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

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE … COMMIT`) on the single writer
    /// connection. Writers are serialized; if `body` throws, the transaction is rolled back and the
    /// error rethrown.
    ///
    /// Do not call `write` or `read` from inside `body` on the same thread: use `conn`.
    /// - Returns: What `body` returns.
    /// - Throws: `StorageError` (`isBusy` if another process held the write lock past the busy
    ///   timeout), or whatever `body` throws.
    @discardableResult
    public func write<T>(_ body: (Connection) throws -> T) throws -> T {
        try withWriter { conn in
            try conn.execute("BEGIN IMMEDIATE")
            return try finishTransaction(conn, body)
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
    private func finishTransaction<T>(_ conn: Connection, _ body: (Connection) throws -> T) throws -> T {
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
    func withWriter<T>(_ body: (Connection) throws -> T) throws -> T {
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
    func withReader<T>(_ body: (Connection) throws -> T) throws -> T {
        readerSlots.wait()
        defer { readerSlots.signal() }
        guard !closed.load(ordering: .acquiring) else { throw StorageError.closed }
        guard let index = freeReaders.withLock({ $0.popLast() }) else { throw StorageError.closed }
        defer { freeReaders.withLock { $0.append(index) } }
        return try body(readers[index])
    }

    private static func currentThreadID() -> UInt {
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
        let copy = { (source: Connection) throws -> Void in
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
