import CSQLite

// MARK: - Statement

/// A prepared statement: owns its `sqlite3_stmt*` and finalizes it in `deinit`.
///
/// Not `Sendable` on purpose: a statement belongs to its connection, and a connection is used by
/// one thread at a time (it is opened with `SQLITE_OPEN_NOMUTEX`). Statements come from
/// `Connection.prepare(_:)`, which caches them per connection.
///
/// ```swift
/// let stmt = try conn.prepare("INSERT INTO embedding_chunks VALUES (?, ?, ?, ?, ?)")
/// for chunk in chunks {
///     try stmt.bind([.text(id), .integer(chunk.index), .integer(chunk.first), .integer(chunk.rows)])
///     try chunk.floats.withUnsafeBytes { bytes in
///         try stmt.bindBlob(5, bytes)       // zero-copy: valid only until step() returns
///         _ = try stmt.step()
///     }
///     stmt.reset()
/// }
/// ```
public final class Statement {
    let handle: OpaquePointer
    /// The connection's handle; safe to keep because connections close with `sqlite3_close_v2`,
    /// which defers the real close until the last statement is finalized.
    let db: OpaquePointer
    /// The SQL text this statement was prepared from.
    public let sql: String
    private var names: [String]?

    init(connection: SQLiteConnection, sql: String) throws {
        var stmt: OpaquePointer?
        var hasTrailingSQL = false
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(connection.handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, &tail)
            // The tail points into `text`, so inspect it here, inside withCString.
            if rc == SQLITE_OK, let tail, tail.pointee != 0 {
                hasTrailingSQL = !String(cString: tail).allSatisfy { $0.isWhitespace || $0 == ";" }
            }
            return rc
        }
        guard rc == SQLITE_OK, let stmt else {
            throw StorageError.sqlite(rc == SQLITE_OK ? SQLITE_MISUSE : rc, connection.handle, sql: sql)
        }
        if hasTrailingSQL {
            sqlite3_finalize(stmt)
            throw StorageError(code: SQLITE_MISUSE,
                               message: "prepare takes one statement; use execute for several", sql: sql)
        }
        self.handle = stmt
        self.db = connection.handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    // MARK: Binding

    /// The number of `?` parameters.
    public var parameterCount: Int32 { sqlite3_bind_parameter_count(handle) }

    /// Binds `values` to parameters 1…n (copies text and blobs).
    /// - Throws: `StorageError` if the count does not match or SQLite refuses a value.
    public func bind(_ values: [SQLValue]) throws {
        guard Int32(values.count) == parameterCount else {
            throw StorageError(code: SQLITE_RANGE,
                               message: "statement takes \(parameterCount) arguments, got \(values.count)", sql: sql)
        }
        for (i, v) in values.enumerated() { try bind(v, at: Int32(i + 1)) }
    }

    /// Binds one value to parameter `index` (1-based), copying text and blobs.
    public func bind(_ value: SQLValue, at index: Int32) throws {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, index)
        case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
        case .real(let d): rc = sqlite3_bind_double(handle, index, d)
        case .text(let s):
            // The String-to-pointer bridge yields a contiguous UTF-8 copy; pass the exact length so
            // embedded NULs survive.
            rc = sqlite3_bind_text64(handle, index, s, sqlite3_uint64(s.utf8.count), csqlite_transient(), UInt8(SQLITE_UTF8))
        case .blob(let b):
            rc = b.withUnsafeBytes { buf in
                // A NULL pointer would bind SQL NULL; an empty blob needs a non-NULL pointer.
                sqlite3_bind_blob64(handle, index, buf.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                    sqlite3_uint64(buf.count), csqlite_transient())
            }
        }
        try check(rc)
    }

    /// Binds `bytes` to parameter `index` (1-based) **without copying** (`SQLITE_STATIC`).
    ///
    /// The memory must stay valid until `step()` has returned for the last time on this binding;
    /// call it inside the `withUnsafeBytes` scope that also steps. `reset()` clears the binding.
    /// - Complexity: O(1); SQLite reads the bytes while stepping.
    public func bindBlob(_ index: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        let rc = sqlite3_bind_blob64(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                                     sqlite3_uint64(bytes.count), csqlite_static())
        try check(rc)
    }

    // MARK: Stepping

    /// Runs the statement one step.
    /// - Returns: `true` when a row is available (read it with `row()` or `columnBlob`), `false` when done.
    /// - Throws: `StorageError` with the extended result code (e.g. a constraint violation).
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            // sqlite3_reset returns the same error and makes the statement reusable.
            sqlite3_reset(handle)
            throw StorageError.sqlite(rc, db, sql: sql)
        }
    }

    /// Resets the statement so it can run again, and clears every binding (so no zero-copy
    /// binding outlives the memory it points to).
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Reading

    /// The number of result columns.
    public var columnCount: Int32 { sqlite3_column_count(handle) }

    /// The result column names.
    public var columnNames: [String] {
        if let names { return names }
        let n = (0..<columnCount).map { i in sqlite3_column_name(handle, i).map { String(cString: $0) } ?? "" }
        names = n
        return n
    }

    /// The current row, copied into Swift values.
    public func row() -> Row {
        let n = columnCount
        var values = [SQLValue]()
        values.reserveCapacity(Int(n))
        for i in 0..<n { values.append(value(at: i)) }
        return Row(values: values, columnNames: columnNames)
    }

    /// The value of column `i` (0-based) of the current row.
    public func value(at i: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, i))
        case SQLITE_TEXT:
            guard let p = sqlite3_column_text(handle, i) else { return .text("") }
            let n = Int(sqlite3_column_bytes(handle, i))
            return .text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(handle, i))
            guard n > 0, let p = sqlite3_column_blob(handle, i) else { return .blob([]) }
            return .blob([UInt8](UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }

    /// Reads column `i` (0-based) of the current row as raw bytes **without copying**.
    ///
    /// The buffer is valid only inside `body` (SQLite owns it until the next step/reset).
    /// NULL and empty blobs give an empty buffer.
    ///
    /// ```swift
    /// let floats = try stmt.columnBlob(0) { raw in Array(raw.bindMemory(to: Float.self)) }
    /// ```
    public func columnBlob<R>(_ i: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let p = sqlite3_column_blob(handle, i)   // must come before _bytes (sqlite.org/c3ref/column_blob.html)
        let n = Int(sqlite3_column_bytes(handle, i))
        return try body(UnsafeRawBufferPointer(start: n > 0 ? p : nil, count: n > 0 ? n : 0))
    }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else { throw StorageError.sqlite(rc, db, sql: sql) }
    }
}

@available(*, unavailable)
extension Statement: Sendable {}

// MARK: - Statement as a cursor

extension Statement: SQLCursor {
    /// `step()`.
    public func next() throws -> Bool { try step() }
    /// `value(at:)` with an `Int` index.
    public func value(at index: Int) throws -> SQLValue { value(at: Int32(index)) }
    /// `columnBlob(_:_:)`: SQLite's own buffer, no copy.
    public func withBlob<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try columnBlob(Int32(index), body)
    }
}
