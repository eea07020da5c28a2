#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: - SQLValue

/// One SQLite value, in the five storage classes SQLite has (https://sqlite.org/datatype3.html).
///
/// ```swift
/// try conn.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", id, "alice", nowMillis)
/// ```
public enum SQLValue: Sendable, Equatable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// True for `.null`.
    public var isNull: Bool { if case .null = self { true } else { false } }
}

extension SQLValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let s): "'\(s)'"
        case .blob(let b): "<blob \(b.count) bytes>"
        }
    }
}

// MARK: - SQLValueConvertible

/// A Swift value that can be bound as a statement argument.
///
/// Conformances: `Int`, `Int64`, `Int32`, `Double`, `Float`, `String`, `Substring`, `Bool` (0/1),
/// `[UInt8]` and `Data` (blobs), `SQLValue` itself, and `Optional` of any of these (`nil` binds NULL).
public protocol SQLValueConvertible {
    /// The value to bind.
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLValueConvertible { public var sqlValue: SQLValue { self } }
extension Int: SQLValueConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLValueConvertible { public var sqlValue: SQLValue { .integer(self) } }
extension Int32: SQLValueConvertible { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Double: SQLValueConvertible { public var sqlValue: SQLValue { .real(self) } }
extension Float: SQLValueConvertible { public var sqlValue: SQLValue { .real(Double(self)) } }
extension String: SQLValueConvertible { public var sqlValue: SQLValue { .text(self) } }
extension Substring: SQLValueConvertible { public var sqlValue: SQLValue { .text(String(self)) } }
extension Bool: SQLValueConvertible { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Array: SQLValueConvertible where Element == UInt8 { public var sqlValue: SQLValue { .blob(self) } }
extension Data: SQLValueConvertible { public var sqlValue: SQLValue { .blob([UInt8](self)) } }
extension Optional: SQLValueConvertible where Wrapped: SQLValueConvertible {
    /// The wrapped value, or `.null` for `nil`.
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

extension SQLValue {
    /// The SQLite type name: `NULL`, `INTEGER`, `REAL`, `TEXT` or `BLOB` (never the value itself,
    /// so error messages cannot leak data).
    public var typeName: String {
        switch self {
        case .null: "NULL"
        case .integer: "INTEGER"
        case .real: "REAL"
        case .text: "TEXT"
        case .blob: "BLOB"
        }
    }
}
