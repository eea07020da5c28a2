import CLibPQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: - PostgresConnection

/// One connection to a PostgreSQL server through libpq, with the same shape as the SQLite
/// `Connection`: `execute` for argument-less SQL (several statements at once), `run` and `query`
/// with positional arguments, and the same `Row` and `SQLValue` types.
///
/// Arguments are written `$1`, `$2`, … (PostgreSQL's own placeholders) or `?` as in SQLite
/// (numbered in order of appearance, outside literals and comments), and sent apart from the
/// SQL (`PQexecParams`), never spliced into it: integers as `bigint`, doubles as `double
/// precision`, text as an untyped literal the server types from its context, blobs as `bytea`
/// (so a function that takes an `integer` needs a cast: `pg_terminate_backend(?::int)`).
/// Result columns come back as `.integer` (`smallint`, `integer`, `bigint`, `boolean` as 0/1, a
/// whole `numeric` that fits), `.real` (`real`, `double precision`, other `numeric`), `.blob`
/// (`bytea`) or `.text` (every other type, in PostgreSQL's text form).
///
/// Text arguments containing NUL (which PostgreSQL's text cannot store) are refused with
/// `.invalidArgument`. Errors are `StorageError` of kind `.postgres` carrying the SQLSTATE, so the existing
/// predicates decide the answer: `isUniqueViolation` (409), `isBusy` (503: serialization
/// failures, deadlocks, lock and statement timeouts, too many connections), `isDiskFull` (507).
///
/// A connection is used by one thread at a time (libpq's rule); open one per thread.
///
/// ```swift
/// let pg = try PostgresConnection(url: "postgresql://lightly@127.0.0.1:5432/lightly")
/// try pg.transaction { pg in
///     try pg.run("INSERT INTO users(id, name, created_at) VALUES ($1, $2, $3)", id, "alice", now)
/// }
/// let rows = try pg.query("SELECT id, name FROM users WHERE created_at > $1", since)
/// ```
public final class PostgresConnection: SQLConnection {
    /// The libpq connection; nil once closed.
    private var handle: OpaquePointer?
    /// True between `BEGIN` and `COMMIT`/`ROLLBACK` of `transaction`.
    public private(set) var isInTransaction = false

    /// Connects to the server a `postgresql://` (or `postgres://`) URL names, e.g.
    /// `postgresql://user:password@host:5432/dbname?sslmode=require` or, for a Unix socket,
    /// `postgresql://user@%2Fvar%2Frun%2Fpostgresql/dbname`. Every libpq URL parameter works.
    /// - Parameter connectTimeout: seconds to wait for the server (libpq's `connect_timeout`,
    ///   unless the URL sets one).
    /// - Throws: `StorageError` (`.invalidArgument` for another kind of URL, `.postgres` when the
    ///   server cannot be reached or refuses the login).
    public init(url: String, connectTimeout: Int = 10) throws {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            throw StorageError.invalidArgument("a PostgreSQL URL starts with postgresql:// (or postgres://)")
        }
        // libpq expands the URL given as dbname (expand_dbname = 1); a later pair would override
        // what the URL sets, so the defaults go first and the URL last.
        let keys = ["connect_timeout", "application_name", "dbname"]
        let values = [String(max(1, connectTimeout)), "lightly-server", url]
        let conn = withCStrings(keys) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let conn else {
            throw StorageError(kind: .postgres, code: 0, message: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = PostgresURL.scrub(Self.trimmed(PQerrorMessage(conn)), url: url)
            PQfinish(conn)
            throw StorageError(kind: .postgres, code: 0, message: "cannot connect to PostgreSQL: \(message)")
        }
        // libpq prints the server's notices (NOTICE, WARNING) to stderr by default; a server's
        // log is no place for "relation already exists, skipping".
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        handle = conn
    }

    deinit { close() }

    /// Closes the connection (a transaction still open is rolled back by the server). Idempotent.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// False once closed or when the connection to the server broke.
    public var isHealthy: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The server's version number (150004 for 15.4), or 0 when closed.
    public var serverVersion: Int { handle.map { Int(PQserverVersion($0)) } ?? 0 }

    // MARK: Running SQL

    /// Runs one or more `;`-separated statements that take no arguments (DDL, migrations).
    /// - Throws: `StorageError` of kind `.postgres` with the SQLSTATE and the failing SQL.
    public func execute(_ sql: String) throws {
        let conn = try open()
        let result = PQexec(conn, sql)
        defer { PQclear(result) }
        try check(result, conn, sql: sql)
    }

    /// `SQLDialect.postgres`.
    public var dialect: SQLDialect { .postgres }

    /// Runs one statement with positional arguments (`$1`, `$2`, … or `?`).
    /// - Returns: the number of rows the statement inserted, updated or deleted (0 for others).
    /// - Throws: `StorageError`; `isUniqueViolation` etc. tell constraint failures apart.
    @discardableResult
    public func run(_ sql: String, arguments: [SQLValue]) throws -> Int {
        try withResult(sql, arguments) { result in Self.changedRows(result) }
    }

    /// Runs one statement with argument `parameter` sent as a `bytea` from `bytes` (libpq copies
    /// it onto the wire; no Swift array in between).
    @discardableResult
    public func run(_ sql: String, arguments: [SQLValue], blob bytes: UnsafeRawBufferPointer, at parameter: Int) throws -> Int {
        try withResult(sql, arguments, borrowed: (parameter, bytes)) { result in Self.changedRows(result) }
    }

    /// Runs a query and copies every row out.
    public func query(_ sql: String, arguments: [SQLValue]) throws -> [Row] {
        try withResult(sql, arguments) { result in try Self.rows(of: result) }
    }

    /// Runs a query and returns its first row (all rows are fetched; add `LIMIT 1` for big ones).
    public func queryOne(_ sql: String, arguments: [SQLValue]) throws -> Row? {
        try query(sql, arguments: arguments).first
    }

    /// Runs the query with results in binary form and steps through them; `withBlob` reads a
    /// `bytea` straight from libpq's result buffer. The whole result is held while `body` runs.
    public func withCursor<R>(_ sql: String, arguments: [SQLValue], _ body: (any SQLCursor) throws -> R) throws -> R {
        try withResult(sql, arguments, binary: true) { result in
            let cursor = PostgresCursor(result: result, sql: sql)
            defer { cursor.invalidate() }
            return try body(cursor)
        }
    }

    private static func changedRows(_ result: OpaquePointer) -> Int {
        guard let tuples = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: tuples)) ?? 0
    }

    // MARK: Transactions

    /// A transaction's isolation level (PostgreSQL's default is read committed).
    public enum Isolation: String, Sendable {
        /// Each statement sees what was committed before it started.
        case readCommitted = "READ COMMITTED"
        /// The whole transaction sees one snapshot; a conflicting write fails with SQLSTATE 40001.
        case repeatableRead = "REPEATABLE READ"
        /// As if the transactions ran one after another; a conflict fails with SQLSTATE 40001.
        case serializable = "SERIALIZABLE"
        /// Repeatable read that refuses writes (SQLSTATE 25006): a consistent snapshot to read.
        case repeatableReadOnly = "REPEATABLE READ READ ONLY"
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    ///
    /// A serialization failure or deadlock surfaces as a `StorageError` whose `isBusy` is true;
    /// the whole transaction may be retried. A transaction that PostgreSQL aborted because a
    /// statement failed inside it (even if `body` caught that error) is rolled back, never
    /// reported as committed.
    /// - Throws: `StorageError` of kind `.reentrantTransaction` when called inside `transaction`
    ///   on the same connection, the error of `body`, or the error of `BEGIN`/`COMMIT`.
    public func transaction<T>(_ isolation: Isolation = .readCommitted,
                               _ body: (PostgresConnection) throws -> T) throws -> T {
        guard !isInTransaction else {
            throw StorageError(kind: .reentrantTransaction, code: 0,
                               message: "PostgresConnection.transaction called inside a transaction on the same connection")
        }
        try execute("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        isInTransaction = true
        defer { isInTransaction = false }
        let value: T
        do {
            value = try body(self)
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        try commit()
        return value
    }

    /// `COMMIT`, refusing the case where PostgreSQL answers it with `ROLLBACK` (the transaction
    /// had already failed).
    private func commit() throws {
        let conn = try open()
        let result = PQexec(conn, "COMMIT")
        defer { PQclear(result) }
        try check(result, conn, sql: "COMMIT")
        if let tag = PQcmdStatus(result), String(cString: tag) == "ROLLBACK" {
            throw StorageError(kind: .postgres, code: 0,
                               message: "the transaction was rolled back: a statement in it had failed",
                               sql: "COMMIT", sqlState: "25P02")
        }
    }

    // MARK: Internals

    private func open() throws -> OpaquePointer {
        guard let handle else { throw StorageError.closed }
        return handle
    }

    /// Runs `sql` with `arguments` and hands the successful result to `body`. When `borrowed`
    /// is given, argument number `borrowed.parameter` (1-based) is sent as a `bytea` straight
    /// from `borrowed.bytes` (no copy on our side). `binary` asks for results in binary form.
    private func withResult<T>(_ sql: String, _ arguments: [SQLValue],
                               borrowed: (parameter: Int, bytes: UnsafeRawBufferPointer)? = nil, binary: Bool = false,
                               _ body: (OpaquePointer) throws -> T) throws -> T {
        let conn = try open()
        // Text travels NUL-terminated, and PostgreSQL's text cannot hold NUL: refuse rather than
        // store a truncated string.
        for case .text(let text) in arguments where text.utf8.contains(0) {
            throw StorageError(kind: .invalidArgument, code: 0, message: "text arguments cannot contain NUL characters", sql: sql)
        }
        let slot = borrowed.map { $0.parameter - 1 }
        if let slot, !arguments.indices.contains(slot) {
            throw StorageError.invalidArgument("blob parameter \(slot + 1) is not among the statement's \(arguments.count) arguments")
        }
        // Every argument's bytes, kept alive until PQexecParams returns.
        let buffers: [[UInt8]?] = arguments.enumerated().map { i, v in i == slot ? nil : Self.encode(v) }
        let types: [Oid] = arguments.enumerated().map { i, v in i == slot ? Self.byteaOid : Self.typeOid(v) }
        let formats: [Int32] = arguments.enumerated().map { i, v in
            if i == slot { return 1 }
            if case .blob = v { return 1 }
            return 0
        }
        let lengths: [Int32] = buffers.enumerated().map { i, b in
            i == slot ? Int32(clamping: borrowed?.bytes.count ?? 0) : Int32(clamping: b?.count ?? 0)
        }
        let text = sql.utf8.contains(UInt8(ascii: "?")) ? try Placeholders.numbered(sql).sql : sql
        let result = withPointers(buffers) { values -> OpaquePointer? in
            guard let slot, let borrowed else {
                return PQexecParams(conn, text, Int32(arguments.count), types, values, lengths, formats, binary ? 1 : 0)
            }
            // Point the blob's slot at the caller's bytes (a non-NULL pointer even when empty:
            // NULL would send SQL NULL).
            let patched = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: arguments.count)
            defer { patched.deallocate() }
            patched.initialize(from: values, count: arguments.count)
            let empty: UInt8 = 0
            return withUnsafePointer(to: empty) { emptyPointer in
                patched[slot] = UnsafeRawPointer(borrowed.bytes.baseAddress ?? UnsafeRawPointer(emptyPointer))
                    .assumingMemoryBound(to: CChar.self)
                return PQexecParams(conn, text, Int32(arguments.count), types, patched, lengths, formats, binary ? 1 : 0)
            }
        }
        defer { PQclear(result) }
        try check(result, conn, sql: sql)
        guard let result else { throw StorageError(kind: .postgres, code: 0, message: "no result", sql: sql) }
        return try body(result)
    }

    /// Throws unless `result` reports success.
    private func check(_ result: OpaquePointer?, _ conn: OpaquePointer, sql: String) throws {
        // The connection broke (server restarted, network gone, backend terminated): libpq then
        // has no SQLSTATE from the server; report connection_failure, which is worth a retry.
        let lost: String? = PQstatus(conn) == CONNECTION_BAD ? "08006" : nil
        guard let result else {
            // No result at all: out of memory, or the connection is gone.
            throw StorageError(kind: .postgres, code: 0, message: Self.trimmed(PQerrorMessage(conn)), sql: sql, sqlState: lost)
        }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY { return }
        let state = PQresultErrorField(result, Self.diagSQLState).map { String(cString: $0) } ?? lost
        var message = PQresultErrorField(result, Self.diagMessagePrimary).map { String(cString: $0) }
            ?? Self.trimmed(PQerrorMessage(conn))
        // Data exceptions (class 22) quote the offending value; keep values out of messages.
        if let state, state.hasPrefix("22") { message = "a value does not fit its column's type or range" }
        throw StorageError(kind: .postgres, code: 0, message: message, sql: sql, sqlState: state)
    }

    // PG_DIAG_SQLSTATE ('C') and PG_DIAG_MESSAGE_PRIMARY ('M') are character macros.
    private static let diagSQLState = Int32(UInt8(ascii: "C"))
    private static let diagMessagePrimary = Int32(UInt8(ascii: "M"))

    private static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown error" }
        let s = String(cString: text)
        let trimmed = s.split(whereSeparator: \.isNewline).joined(separator: " ")
        return trimmed.isEmpty ? "unknown error" : trimmed
    }

    // MARK: Values

    // Type OIDs from PostgreSQL's pg_type catalogue (stable across versions).
    static let boolOid: Oid = 16, byteaOid: Oid = 17, int8Oid: Oid = 20, int2Oid: Oid = 21
    static let int4Oid: Oid = 23, oidOid: Oid = 26, float4Oid: Oid = 700, float8Oid: Oid = 701
    static let numericOid: Oid = 1700

    /// The argument's declared type: 0 lets the server type text from its context.
    private static func typeOid(_ value: SQLValue) -> Oid {
        switch value {
        case .integer: int8Oid
        case .real: float8Oid
        case .blob: byteaOid
        case .null, .text: 0
        }
    }

    /// The argument's bytes (text form, NUL-terminated; blobs raw), nil for NULL.
    private static func encode(_ value: SQLValue) -> [UInt8]? {
        switch value {
        case .null: return nil
        case .integer(let v): return Array(String(v).utf8) + [0]
        case .real(let d):
            let text = d.isNaN ? "NaN" : d == .infinity ? "Infinity" : d == -.infinity ? "-Infinity" : String(d)
            return Array(text.utf8) + [0]
        case .text(let s): return Array(s.utf8) + [0]
        case .blob(let b): return b
        }
    }

    /// Copies every row of a successful result.
    private static func rows(of result: OpaquePointer) throws -> [Row] {
        let columns = Int(PQnfields(result)), count = Int(PQntuples(result))
        let names = (0..<columns).map { PQfname(result, Int32($0)).map { String(cString: $0) } ?? "" }
        let types = (0..<columns).map { PQftype(result, Int32($0)) }
        var rows: [Row] = []
        rows.reserveCapacity(count)
        for r in 0..<Int32(count) {
            var values: [SQLValue] = []
            values.reserveCapacity(columns)
            for c in 0..<Int32(columns) {
                guard PQgetisnull(result, r, c) == 0, let raw = PQgetvalue(result, r, c) else {
                    values.append(.null)
                    continue
                }
                let length = Int(PQgetlength(result, r, c))
                let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: length)
                values.append(try decode(bytes, type: types[Int(c)], column: names[Int(c)]))
            }
            rows.append(Row(values: values, columnNames: names))
        }
        return rows
    }

    /// One value in PostgreSQL's text output form, as an `SQLValue`.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, type: Oid, column: String) throws -> SQLValue {
        let text = String(decoding: bytes, as: UTF8.self)
        func bad() -> StorageError { .conversion("column '\(column)': cannot read PostgreSQL type \(type)") }
        switch type {
        case int2Oid, int4Oid, int8Oid, oidOid:
            guard let v = Int64(text) else { throw bad() }
            return .integer(v)
        case boolOid:
            return .integer(text == "t" ? 1 : 0)
        case float4Oid, float8Oid:
            switch text {
            case "NaN": return .real(.nan)
            case "Infinity": return .real(.infinity)
            case "-Infinity": return .real(-.infinity)
            default:
                guard let d = Double(text) else { throw bad() }
                return .real(d)
            }
        case numericOid:
            if let v = Int64(text) { return .integer(v) }
            guard let d = Double(text) else { throw bad() }
            return .real(d)
        case byteaOid:
            // libpq's own decoder for bytea's text form (PQgetvalue's text is NUL-terminated).
            var length = 0
            guard let raw = bytes.baseAddress, let decoded = PQunescapeBytea(raw, &length) else { throw bad() }
            defer { PQfreemem(decoded) }
            return .blob(Array(UnsafeBufferPointer(start: decoded, count: length)))
        default:
            return .text(text)
        }
    }
}

// MARK: - C string helpers

/// Calls `body` with a C array of NUL-terminated copies of `strings` (valid only inside `body`).
private func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    let buffers: [[UInt8]?] = strings.map { Array($0.utf8) + [0] }
    return withPointers(buffers) { pointers in
        pointers.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, buffers.count)) { body($0) }
    }
}

/// Calls `body` with a C array pointing at each buffer's bytes (NULL for nil), the buffers kept
/// alive and unmoved for the duration of the call.
private func withPointers<T>(_ buffers: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
    // Copy into one allocation so the pointers stay valid for the whole call.
    let total = buffers.reduce(0) { $0 + ($1?.count ?? 0) }
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, total), alignment: 1)
    defer { storage.deallocate() }
    var pointers: [UnsafePointer<CChar>?] = []
    pointers.reserveCapacity(buffers.count)
    var offset = 0
    for buffer in buffers {
        guard let buffer, let base = storage.baseAddress else { pointers.append(nil); continue }
        let start = base + offset
        buffer.withUnsafeBytes { bytes in
            if let src = bytes.baseAddress { start.copyMemory(from: src, byteCount: bytes.count) }
        }
        pointers.append(UnsafePointer(start.assumingMemoryBound(to: CChar.self)))
        offset += buffer.count
    }
    // The keyword/value arrays of PQconnectdbParams end with NULL; one more slot costs nothing.
    let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: pointers.count + 1)
    defer { array.deallocate() }
    array.initialize(from: pointers, count: pointers.count)
    (array + pointers.count).initialize(to: nil)
    return body(UnsafePointer(array))
}
