// MARK: - Row

/// One result row, copied out of the statement (so it outlives `step()`).
///
/// Typed accessors throw `StorageError` (kind `.conversion`) when the column holds another type or NULL;
/// the `…OrNil` variants return `nil` for NULL and still throw for a wrong type. Integers are not
/// silently truncated: `int(_:)` throws when the value does not fit an `Int`.
///
/// ```swift
/// for row in try conn.query("SELECT id, name FROM users") {
///     let id = try row.string(0), name = try row.string("name")
/// }
/// ```
public struct Row: Sendable, Equatable {
    /// The column values, in select order.
    public let values: [SQLValue]
    /// The column names, in select order (shared by every row of one query).
    public let columnNames: [String]

    /// A row made of values and names (mostly for tests).
    public init(values: [SQLValue], columnNames: [String]) {
        self.values = values
        self.columnNames = columnNames
    }

    /// The number of columns.
    public var count: Int { values.count }

    /// The value at column `i` (0-based); `.null` when out of range.
    public subscript(_ i: Int) -> SQLValue { values.indices.contains(i) ? values[i] : .null }

    /// The value of the column named `name` (case-insensitive, first match); `.null` if absent.
    public subscript(_ name: String) -> SQLValue {
        guard let i = index(of: name) else { return .null }
        return values[i]
    }

    /// The index of the column named `name` (ASCII case-insensitive, as SQLite compares names).
    public func index(of name: String) -> Int? {
        if let i = columnNames.firstIndex(of: name) { return i }
        let lower = name.lowercased()
        return columnNames.firstIndex { $0.lowercased() == lower }
    }

    // MARK: By index

    /// The column as an `Int`. - Throws: `StorageError` if NULL, not an integer, or out of range.
    public func int(_ i: Int) throws -> Int { try require(intOrNil(i), i) }
    /// The column as an `Int64`. - Throws: `StorageError` if NULL or not an integer.
    public func int64(_ i: Int) throws -> Int64 { try require(int64OrNil(i), i) }
    /// The column as a `Double` (integers convert). - Throws: `StorageError` if NULL or not numeric.
    public func double(_ i: Int) throws -> Double { try require(doubleOrNil(i), i) }
    /// The column as a `String`. - Throws: `StorageError` if NULL or not text.
    public func string(_ i: Int) throws -> String { try require(stringOrNil(i), i) }
    /// The column as a `Bool` (integer, non-zero is true). - Throws: `StorageError` if NULL or not an integer.
    public func bool(_ i: Int) throws -> Bool { try require(boolOrNil(i), i) }
    /// The column as bytes. - Throws: `StorageError` if NULL or not a blob (text converts to its UTF-8).
    public func blob(_ i: Int) throws -> [UInt8] { try require(blobOrNil(i), i) }

    /// The column as an `Int`, `nil` for NULL.
    public func intOrNil(_ i: Int) throws -> Int? {
        guard let v = try int64OrNil(i) else { return nil }
        guard let n = Int(exactly: v) else { throw conversion(i, "Int") }
        return n
    }
    /// The column as an `Int64`, `nil` for NULL.
    public func int64OrNil(_ i: Int) throws -> Int64? {
        switch self[i] {
        case .null: return nil
        case .integer(let v): return v
        case .real(let d):
            guard let v = Int64(exactly: d) else { throw conversion(i, "Int64") }
            return v
        default: throw conversion(i, "Int64")
        }
    }
    /// The column as a `Double`, `nil` for NULL.
    public func doubleOrNil(_ i: Int) throws -> Double? {
        switch self[i] {
        case .null: return nil
        case .real(let d): return d
        case .integer(let v): return Double(v)
        default: throw conversion(i, "Double")
        }
    }
    /// The column as a `String`, `nil` for NULL.
    public func stringOrNil(_ i: Int) throws -> String? {
        switch self[i] {
        case .null: return nil
        case .text(let s): return s
        default: throw conversion(i, "String")
        }
    }
    /// The column as a `Bool`, `nil` for NULL.
    public func boolOrNil(_ i: Int) throws -> Bool? {
        guard let v = try int64OrNil(i) else { return nil }
        return v != 0
    }
    /// The column as bytes, `nil` for NULL.
    public func blobOrNil(_ i: Int) throws -> [UInt8]? {
        switch self[i] {
        case .null: return nil
        case .blob(let b): return b
        case .text(let s): return Array(s.utf8)
        default: throw conversion(i, "blob")
        }
    }

    // MARK: By name

    /// The named column as an `Int`.
    public func int(_ name: String) throws -> Int { try int(column(name)) }
    /// The named column as an `Int64`.
    public func int64(_ name: String) throws -> Int64 { try int64(column(name)) }
    /// The named column as a `Double`.
    public func double(_ name: String) throws -> Double { try double(column(name)) }
    /// The named column as a `String`.
    public func string(_ name: String) throws -> String { try string(column(name)) }
    /// The named column as a `Bool`.
    public func bool(_ name: String) throws -> Bool { try bool(column(name)) }
    /// The named column as bytes.
    public func blob(_ name: String) throws -> [UInt8] { try blob(column(name)) }
    /// The named column as an `Int`, `nil` for NULL.
    public func intOrNil(_ name: String) throws -> Int? { try intOrNil(column(name)) }
    /// The named column as an `Int64`, `nil` for NULL.
    public func int64OrNil(_ name: String) throws -> Int64? { try int64OrNil(column(name)) }
    /// The named column as a `Double`, `nil` for NULL.
    public func doubleOrNil(_ name: String) throws -> Double? { try doubleOrNil(column(name)) }
    /// The named column as a `String`, `nil` for NULL.
    public func stringOrNil(_ name: String) throws -> String? { try stringOrNil(column(name)) }
    /// The named column as a `Bool`, `nil` for NULL.
    public func boolOrNil(_ name: String) throws -> Bool? { try boolOrNil(column(name)) }
    /// The named column as bytes, `nil` for NULL.
    public func blobOrNil(_ name: String) throws -> [UInt8]? { try blobOrNil(column(name)) }

    // MARK: Helpers

    private func column(_ name: String) throws -> Int {
        guard let i = index(of: name) else {
            throw StorageError.conversion("no column named '\(name)' (have: \(columnNames.joined(separator: ", ")))")
        }
        return i
    }

    private func require<T>(_ value: T?, _ i: Int) throws -> T {
        guard let value else { throw conversion(i, "non-NULL value") }
        return value
    }

    private func conversion(_ i: Int, _ type: String) -> StorageError {
        let name = columnNames.indices.contains(i) ? " '\(columnNames[i])'" : ""
        guard values.indices.contains(i) else {
            return .conversion("column index \(i) out of range (row has \(values.count) columns)")
        }
        return .conversion("column \(i)\(name) holds \(self[i].typeName), expected \(type)")
    }
}
