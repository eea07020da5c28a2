// MARK: - The store seam

/// The SQL engine behind a connection, for the few places where the stores' SQL must differ.
public enum SQLDialect: String, Sendable {
    /// SQLite through the system libsqlite3 (the default store: one file under the data folder).
    case sqlite
    /// PostgreSQL through libpq (`serve --database postgresql://…`).
    case postgres

    /// The scalar function that returns the larger of its arguments (`max(a, b)` on SQLite,
    /// `GREATEST(a, b)` on PostgreSQL; both give NULL-free arguments the same answer).
    public var greatest: String {
        switch self {
        case .sqlite: "max"
        case .postgres: "GREATEST"
        }
    }
}

/// One connection of a store, as the stores see it: SQL with positional `?` arguments, rows
/// copied out as `Row`s or streamed through an `SQLCursor`, and blobs bound from borrowed memory.
/// `SQLiteConnection` and `PostgresConnection` implement it.
///
/// You get one inside `SQLDatabase.write { conn in … }` or `read { conn in … }` and must not keep
/// it past the closure. The variadic conveniences (`run(sql, a, b)`, `query`, `queryOne`) live in
/// an extension.
///
/// ```swift
/// try db.write { conn in
///     try conn.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", id, name, now)
///     let n = try conn.queryOne("SELECT count(*) FROM users")?.int(0) ?? 0
/// }
/// ```
public protocol SQLConnection: AnyObject {
    /// The engine, for SQL that must be written differently on each.
    var dialect: SQLDialect { get }

    /// Runs one or more `;`-separated statements that take no arguments (DDL, migrations).
    func execute(_ sql: String) throws

    /// Runs one statement with positional arguments (`?`).
    /// - Returns: the number of rows inserted, updated or deleted.
    @discardableResult
    func run(_ sql: String, arguments: [SQLValue]) throws -> Int

    /// Runs one statement whose argument number `parameter` (1-based) is `bytes`, bound as a
    /// blob **without copying** where the engine allows it; `arguments` holds every argument,
    /// with any value (usually `.null`) in that position. `bytes` need only be valid during the call.
    /// - Returns: the number of rows inserted, updated or deleted.
    @discardableResult
    func run(_ sql: String, arguments: [SQLValue], blob bytes: UnsafeRawBufferPointer, at parameter: Int) throws -> Int

    /// Runs a query and copies every row out.
    func query(_ sql: String, arguments: [SQLValue]) throws -> [Row]

    /// Runs a query and returns its first row, or `nil` when there is none. (The default steps a
    /// cursor once.)
    func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row?

    /// Runs a query and hands `body` a cursor that steps through its rows one at a time, so big
    /// results (embedding chunks) are not copied into `Row`s. The cursor is valid only inside `body`.
    func withCursor<R>(_ sql: String, arguments: [SQLValue], _ body: (any SQLCursor) throws -> R) throws -> R
}

/// A forward-only cursor over a query's rows (see `SQLConnection.withCursor`).
///
/// ```swift
/// try conn.withCursor("SELECT first_row, data FROM embedding_chunks WHERE embedding_id = ?", arguments: [.text(id)]) { rows in
///     while try rows.next() {
///         let first = try rows.value(at: 0)
///         try rows.withBlob(at: 1) { raw in /* copy out of the engine's buffer */ }
///     }
/// }
/// ```
public protocol SQLCursor: AnyObject {
    /// Moves to the next row. - Returns: `false` when there is none.
    func next() throws -> Bool
    /// The value of column `index` (0-based) of the current row.
    func value(at index: Int) throws -> SQLValue
    /// Calls `body` with the bytes of column `index` of the current row, without copying where the
    /// engine allows it. The buffer is valid only inside `body`; NULL gives an empty buffer.
    func withBlob<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
    /// The current row, copied into a `Row`.
    func row() throws -> Row
}

/// The connection type the stores are written against: either engine.
public typealias Connection = any SQLConnection

extension SQLConnection {
    /// `run(_:arguments:)` with variadic arguments (`nil` binds NULL).
    @discardableResult
    public func run(_ sql: String, _ args: SQLValueConvertible?...) throws -> Int {
        try run(sql, arguments: args.map { $0?.sqlValue ?? .null })
    }

    /// `query(_:arguments:)` with variadic arguments.
    public func query(_ sql: String, _ args: SQLValueConvertible?...) throws -> [Row] {
        try query(sql, arguments: args.map { $0?.sqlValue ?? .null })
    }

    /// Runs a query and returns its first row, or `nil` when there is none.
    public func queryOne(_ sql: String, _ args: SQLValueConvertible?...) throws -> Row? {
        try queryOne(sql, arguments: args.map { $0?.sqlValue ?? .null })
    }

    /// `queryOne(_:_:)` with an argument array.
    public func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row? {
        try withCursor(sql, arguments: arguments) { rows in try rows.next() ? try rows.row() : nil }
    }
}

// MARK: - SQLDatabase

/// A store: transactions on pooled connections of one engine. `Database` (SQLite) and
/// `PostgresDatabase` implement it; the application takes `any SQLDatabase`.
///
/// `write` runs `body` in a write transaction and returns once it is committed; `read` runs it in
/// a read-only transaction that sees one snapshot throughout. On PostgreSQL a `write` that loses
/// a serialization conflict is run again, so `body` must do nothing outside the database that
/// cannot be repeated.
public protocol SQLDatabase: AnyObject, Sendable {
    /// The engine.
    var dialect: SQLDialect { get }
    /// Where the data lives, safe to log and print: the SQLite file's path, or the PostgreSQL URL
    /// with its password replaced by `***`.
    var displayLocation: String { get }

    /// Runs `body` in a write transaction; rolled back if it throws.
    @discardableResult
    func write<T>(_ body: (Connection) throws -> T) throws -> T
    /// Runs `body` in a read-only transaction on one snapshot.
    @discardableResult
    func read<T>(_ body: (Connection) throws -> T) throws -> T

    /// Applies the embedded migrations the store has not recorded yet.
    /// - Returns: The names of the migrations applied now.
    @discardableResult
    func migrate() throws -> [String]
    /// The highest applied migration version (0 for a new store).
    func schemaVersion() throws -> Int

    /// Throws unless the store answers a trivial query now (for readiness checks).
    func checkReachable() throws
    /// The bytes the store takes on disk, if known cheaply (SQLite file + WAL; PostgreSQL's
    /// `pg_database_size`).
    func sizeInBytes() -> Int64?

    /// Closes every connection; later calls throw `StorageError.closed`. Idempotent.
    func close()
    /// True once `close()` has been called.
    var isClosed: Bool { get }
}
