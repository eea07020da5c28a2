import CSQLite

// MARK: - Connection

/// One SQLite connection, the SQLite side of `SQLConnection`. Not `Sendable`: you get one inside
/// `Database.write { conn in … }` or `Database.read { conn in … }` and must not keep it past the
/// closure. Besides the protocol it offers SQLite's own tools: `prepare` (statements cached per
/// connection), `lastInsertRowID`, `changes`.
///
/// It is opened with `SQLITE_OPEN_NOMUTEX` because `Database` already guarantees that one thread at a
/// time uses it (https://sqlite.org/threadsafe.html, "multi-thread" mode).
///
/// ```swift
/// try db.write { conn in
///     try conn.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", id, name, now)
///     let n = try conn.queryOne("SELECT count(*) FROM users")?.int(0) ?? 0
/// }
/// ```
public final class SQLiteConnection: SQLConnection {
    let handle: OpaquePointer
    private var cache: [String: Statement] = [:]
    /// Most statements kept in the per-connection cache.
    static let statementCacheLimit = 256
    /// The path the connection was opened on.
    public let path: String

    /// Opens a connection with the project's settings: NOMUTEX, extended result codes, foreign keys
    /// on, a busy timeout, and (for files) WAL + synchronous=FULL.
    init(path: String, readOnly: Bool = false, busyTimeoutMillis: Int32 = 5000) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let err = StorageError.sqlite(rc, db, sql: nil)
            sqlite3_close_v2(db)
            throw StorageError(code: err.code, message: "cannot open database at \(path): \(err.message)")
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMillis)
        do {
            if path != ":memory:" && !path.hasPrefix("file::memory:") {
                if !readOnly {
                    // journal_mode answers with the mode in force; anything but "wal" means the
                    // file system cannot do WAL (e.g. some network mounts) and we refuse to run.
                    let mode = try queryOne("PRAGMA journal_mode=WAL")?.stringOrNil(0)?.lowercased()
                    guard mode == "wal" else {
                        throw StorageError(code: SQLITE_ERROR, message: "cannot switch \(path) to WAL mode (got \(mode ?? "nil"))")
                    }
                }
                try execute("PRAGMA synchronous=FULL")
                // Big embedding uploads grow the WAL; truncate it back to 64 MiB after checkpoints.
                if !readOnly { try execute("PRAGMA journal_size_limit=67108864") }
            }
            try execute("PRAGMA foreign_keys=ON")
            if readOnly { try execute("PRAGMA query_only=ON") }
        } catch {
            cache.removeAll()
            sqlite3_close_v2(db)
            throw error
        }
    }

    /// Finalizes cached statements and closes the handle. Idempotent through `isClosed`.
    private(set) var isClosed = false
    func close() {
        guard !isClosed else { return }
        isClosed = true
        cache.removeAll()        // finalizes (Statement.deinit) before close
        sqlite3_close_v2(handle)
    }

    deinit { close() }

    // MARK: Running SQL

    /// Runs one or more `;`-separated statements that take no arguments (DDL, PRAGMAs, migrations).
    /// - Throws: `StorageError` with the extended code and the failing SQL.
    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let message = err.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(err)
            throw StorageError(kind: .sqlite, code: sqlite3_extended_errcode(handle) != 0 ? sqlite3_extended_errcode(handle) : rc,
                               message: message, sql: sql)
        }
    }

    /// `SQLDialect.sqlite`.
    public var dialect: SQLDialect { .sqlite }

    /// Runs one statement with positional arguments (`?`).
    /// - Returns: the number of rows changed (`sqlite3_changes64`; meaningful for INSERT, UPDATE
    ///   and DELETE only).
    /// - Throws: `StorageError`; `isUniqueViolation` etc. tell constraint failures apart.
    @discardableResult
    public func run(_ sql: String, arguments: [SQLValue]) throws -> Int {
        let stmt = try prepare(sql)
        defer { stmt.reset() }
        try stmt.bind(arguments)
        while try stmt.step() {}
        return Int(sqlite3_changes64(handle))
    }

    /// Runs one statement with argument `parameter` bound to `bytes` without copying
    /// (`SQLITE_STATIC`; the binding is cleared before this returns).
    @discardableResult
    public func run(_ sql: String, arguments: [SQLValue], blob bytes: UnsafeRawBufferPointer, at parameter: Int) throws -> Int {
        let stmt = try prepare(sql)
        defer { stmt.reset() }
        try stmt.bind(arguments)
        try stmt.bindBlob(Int32(parameter), bytes)
        while try stmt.step() {}
        return Int(sqlite3_changes64(handle))
    }

    /// Runs a query and copies every row out.
    /// - Complexity: O(rows × columns) copies; use `withCursor` to stream big blobs.
    public func query(_ sql: String, arguments: [SQLValue]) throws -> [Row] {
        let stmt = try prepare(sql)
        defer { stmt.reset() }
        try stmt.bind(arguments)
        var rows: [Row] = []
        while try stmt.step() { rows.append(stmt.row()) }
        return rows
    }

    /// Steps the cached prepared statement of `sql`; blobs are read straight from SQLite's buffer.
    public func withCursor<R>(_ sql: String, arguments: [SQLValue], _ body: (any SQLCursor) throws -> R) throws -> R {
        let stmt = try prepare(sql)
        defer { stmt.reset() }
        try stmt.bind(arguments)
        return try body(stmt)
    }

    /// A prepared statement for `sql`, cached per connection (keyed by the exact text).
    ///
    /// The cached statement is reset (and its bindings cleared) before it is returned, so do not
    /// prepare the same SQL again while you are still stepping the first one.
    public func prepare(_ sql: String) throws -> Statement {
        guard !isClosed else { throw StorageError.closed }
        if let stmt = cache[sql] {
            stmt.reset()
            return stmt
        }
        let stmt = try Statement(connection: self, sql: sql)
        // SQL built at run time (e.g. `IN (?, ?, …)` of varying length) would grow the cache without
        // bound. Dropping it is safe: a statement still in a caller's hands lives until released.
        if cache.count >= Self.statementCacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[sql] = stmt
        return stmt
    }

    /// A statement that is not cached (for one-off SQL built at run time).
    public func prepareUncached(_ sql: String) throws -> Statement {
        guard !isClosed else { throw StorageError.closed }
        return try Statement(connection: self, sql: sql)
    }

    /// The rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last INSERT/UPDATE/DELETE.
    public var changes: Int { Int(sqlite3_changes64(handle)) }

    /// True while a transaction is open on this connection.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}
