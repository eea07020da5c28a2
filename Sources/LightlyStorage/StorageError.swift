import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Result codes

/// SQLite result codes Swift cannot import: the extended codes are `(BASE | (n << 8))` macros.
/// Values from https://sqlite.org/rescode.html.
public enum SQLiteCode {
    /// Success.
    public static let ok: Int32 = SQLITE_OK
    /// The database file is locked (another connection or process).
    public static let busy: Int32 = SQLITE_BUSY
    /// A table is locked (shared-cache conflicts).
    public static let locked: Int32 = SQLITE_LOCKED
    /// Primary code of every constraint failure.
    public static let constraint: Int32 = SQLITE_CONSTRAINT
    /// The library was used incorrectly.
    public static let misuse: Int32 = SQLITE_MISUSE
    /// A write was attempted on a read-only (or `query_only`) connection.
    public static let readOnly: Int32 = SQLITE_READONLY
    /// Generic SQL error.
    public static let error: Int32 = SQLITE_ERROR
    /// `SQLITE_CONSTRAINT_CHECK`: a CHECK constraint failed.
    public static let constraintCheck: Int32 = SQLITE_CONSTRAINT | (1 << 8)
    /// `SQLITE_CONSTRAINT_FOREIGNKEY`: a foreign key constraint failed.
    public static let constraintForeignKey: Int32 = SQLITE_CONSTRAINT | (3 << 8)
    /// `SQLITE_CONSTRAINT_NOTNULL`: a NOT NULL constraint failed.
    public static let constraintNotNull: Int32 = SQLITE_CONSTRAINT | (5 << 8)
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`: a PRIMARY KEY was duplicated.
    public static let constraintPrimaryKey: Int32 = SQLITE_CONSTRAINT | (6 << 8)
    /// `SQLITE_CONSTRAINT_UNIQUE`: a UNIQUE constraint failed.
    public static let constraintUnique: Int32 = SQLITE_CONSTRAINT | (8 << 8)
}

// MARK: - StorageError

/// Every error the storage layer throws: an SQLite failure (extended result code, message, SQL),
/// a PostgreSQL failure (SQLSTATE, message, SQL) or one of the storage layer's own conditions
/// (`kind`).
///
/// The API maps `isUniqueViolation` to 409, `isBusy` to 503, `isDiskFull` to 507, everything
/// else to 500.
///
/// ```swift
/// do { try conn.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", id, name, now) }
/// catch let e as StorageError where e.isUniqueViolation { throw APIError.conflict(...) }
/// ```
public struct StorageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, beyond the SQLite code.
    public enum Kind: Sendable, Equatable {
        /// SQLite returned an error; `code` is the extended result code.
        case sqlite
        /// PostgreSQL (or libpq) returned an error; `sqlState` holds its five-character SQLSTATE
        /// when the server sent one (none when the connection itself failed).
        case postgres
        /// The database records schema version `found`, newer than the newest this binary knows.
        case schemaTooNew(found: Int, known: Int)
        /// An applied migration's name differs from the embedded one with the same version.
        case migrationMismatch
        /// A row value could not be converted to the requested Swift type.
        case conversion
        /// `write`/`read` was called inside a `write` on the same thread (it would deadlock).
        case reentrantTransaction
        /// The database was closed.
        case closed
        /// A file-system operation failed (`code` is `errno`).
        case io
        /// A domain row that was looked up does not exist.
        case notFound
        /// An argument was rejected before touching the database (e.g. an invalid token name).
        case invalidArgument
    }

    /// What went wrong.
    public var kind: Kind
    /// The SQLite extended result code (`kind == .sqlite`), `errno` (`.io`), or 0.
    public var code: Int32
    /// A human-readable message. Never contains bound argument values.
    public var message: String
    /// The SQL that failed, if any.
    public var sql: String?
    /// `errno` of the system call behind an SQLite I/O error (`sqlite3_system_errno`), or 0.
    public var systemErrno: Int32
    /// PostgreSQL's SQLSTATE (`23505` unique violation, `40001` serialization failure, …) for
    /// kind `.postgres`, or nil.
    public var sqlState: String?

    /// A new error.
    public init(kind: Kind = .sqlite, code: Int32, message: String, sql: String? = nil, systemErrno: Int32 = 0,
                sqlState: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.sql = sql
        self.systemErrno = systemErrno
        self.sqlState = sqlState
    }

    /// The primary result code (the low byte of the extended code).
    public var primaryCode: Int32 { kind == .sqlite ? code & 0xff : 0 }
    /// A UNIQUE or PRIMARY KEY constraint failed (the API answers 409).
    public var isUniqueViolation: Bool {
        (kind == .sqlite && (code == SQLiteCode.constraintUnique || code == SQLiteCode.constraintPrimaryKey))
            || postgresState == "23505"
    }
    /// A FOREIGN KEY constraint failed.
    public var isForeignKeyViolation: Bool {
        (kind == .sqlite && code == SQLiteCode.constraintForeignKey) || postgresState == "23503"
    }
    /// Any constraint failed (UNIQUE, FOREIGN KEY, NOT NULL, CHECK, …).
    public var isConstraintViolation: Bool {
        primaryCode == SQLITE_CONSTRAINT || postgresState?.hasPrefix("23") == true
    }
    /// The database stayed locked by another connection past the busy timeout, or (PostgreSQL)
    /// the transaction lost a serialization conflict or a deadlock, a lock or statement timed
    /// out, the server takes no more connections right now, or the connection to it broke:
    /// worth retrying later (the API answers 503).
    public var isBusy: Bool {
        primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED
            || postgresState.map(StorageError.postgresBusyStates.contains) == true
    }

    /// SQLSTATEs that mean "busy, retry later": serialization_failure, deadlock_detected,
    /// lock_not_available, query_canceled (a statement or lock timeout), too_many_connections,
    /// cannot_connect_now (the server is starting or shutting down), admin_shutdown (the
    /// server ended this session), connection_failure (the connection broke).
    static let postgresBusyStates: Set<String> = ["40001", "40P01", "55P03", "57014", "53300", "57P03", "57P01", "08006"]

    /// `sqlState` when this is a PostgreSQL error.
    private var postgresState: String? { kind == .postgres ? sqlState : nil }
    /// The disk or the quota is full: `SQLITE_FULL`, an SQLite I/O error whose system call failed
    /// with `ENOSPC`/`EDQUOT` (or `EFBIG`: a file-size limit), a file operation of this layer
    /// that did, or PostgreSQL's disk_full (the API answers 507).
    /// `errno` values that mean "no space": `ENOSPC`, `EDQUOT`, and `EFBIG` (RLIMIT_FSIZE).
    public static let diskFullErrnos: Set<Int32> = [ENOSPC, EDQUOT, EFBIG]

    public var isDiskFull: Bool {
        switch kind {
        case .sqlite:
            return primaryCode == SQLITE_FULL
                || (primaryCode == SQLITE_IOERR && StorageError.diskFullErrnos.contains(systemErrno))
        case .io:
            return StorageError.diskFullErrnos.contains(code)
        case .postgres:
            return sqlState == "53100"      // disk_full
        default:
            return false
        }
    }

    public var description: String {
        var s: String
        switch kind {
        case .sqlite: s = "SQLite error \(code): \(message)"
        case .postgres: s = "PostgreSQL error\(sqlState.map { " \($0)" } ?? ""): \(message)"
        case .io: s = "I/O error (errno \(code)): \(message)"
        default: s = message
        }
        if let sql { s += " [SQL: \(sql)]" }
        return s
    }

    // MARK: Factories

    static func sqlite(_ code: Int32, _ db: OpaquePointer?, sql: String? = nil) -> StorageError {
        let msg: String
        if let db, let c = sqlite3_errmsg(db) { msg = String(cString: c) }
        else if let c = sqlite3_errstr(code) { msg = String(cString: c) }
        else { msg = "unknown error" }
        return StorageError(kind: .sqlite, code: code, message: msg, sql: sql,
                            systemErrno: db.map { sqlite3_system_errno($0) } ?? 0)
    }

    static func conversion(_ message: String) -> StorageError {
        StorageError(kind: .conversion, code: 0, message: message)
    }

    static func schemaTooNew(found: Int, known: Int) -> StorageError {
        StorageError(kind: .schemaTooNew(found: found, known: known), code: 0,
                     message: "database schema version \(found) is newer than this lightly-server (knows up to \(known)); upgrade the binary")
    }

    static let closed = StorageError(kind: .closed, code: SQLITE_MISUSE, message: "the database is closed")
    static let reentrant = StorageError(kind: .reentrantTransaction, code: SQLITE_MISUSE,
        message: "Database.write (or, for an in-memory database, read) called inside a Database.write or in-memory read on the same thread; use the Connection you were given")

    static func io(_ what: String, errno e: Int32) -> StorageError {
        StorageError(kind: .io, code: e, message: "\(what): \(String(cString: strerror(e)))")
    }

    /// An "invalid argument" error.
    public static func invalidArgument(_ message: String) -> StorageError {
        StorageError(kind: .invalidArgument, code: 0, message: message)
    }

    /// A "not found" error for a domain lookup.
    public static func notFound(_ message: String) -> StorageError {
        StorageError(kind: .notFound, code: 0, message: message)
    }
}
