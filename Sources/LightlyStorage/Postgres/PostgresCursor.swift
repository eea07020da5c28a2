import CLibPQ

// MARK: - PostgresCursor

/// Steps through a PostgreSQL result fetched in binary form (see
/// `PostgresConnection.withCursor`). Values decode from PostgreSQL's binary wire format:
/// `smallint`/`integer`/`bigint`/`boolean` as `.integer`, `real`/`double precision` as `.real`,
/// `bytea` as `.blob` (or, through `withBlob`, straight from libpq's buffer), other types as their
/// bytes in `.text` (right for `text`, `varchar` and `json`). `numeric` is refused: select it
/// through `query`, or cast it.
final class PostgresCursor: SQLCursor {
    private var result: OpaquePointer?
    private let rowCount: Int32
    private let columnCount: Int32
    private var current: Int32 = -1
    private let sql: String
    private lazy var names: [String] = (0..<columnCount).map { c in
        result.flatMap { PQfname($0, c) }.map { String(cString: $0) } ?? ""
    }

    init(result: OpaquePointer, sql: String) {
        self.result = result
        self.rowCount = PQntuples(result)
        self.columnCount = PQnfields(result)
        self.sql = sql
    }

    /// Called when the result is freed: later use throws.
    func invalidate() { result = nil }

    func next() throws -> Bool {
        guard result != nil else { throw StorageError.closed }
        guard current < rowCount else { return false }
        current += 1
        return current < rowCount
    }

    /// The result, positioned on a row, and the column index checked.
    private func cell(_ index: Int) throws -> (OpaquePointer, Int32) {
        guard let result else { throw StorageError.closed }
        guard current >= 0, current < rowCount else {
            throw StorageError.conversion("the cursor is not on a row (call next() first)")
        }
        guard index >= 0, index < Int(columnCount) else {
            throw StorageError.conversion("column index \(index) out of range (row has \(columnCount) columns)")
        }
        return (result, Int32(index))
    }

    func withBlob<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let (result, c) = try cell(index)
        guard PQgetisnull(result, current, c) == 0, let raw = PQgetvalue(result, current, c) else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let length = Int(PQgetlength(result, current, c))
        return try body(UnsafeRawBufferPointer(start: length > 0 ? UnsafeRawPointer(raw) : nil, count: length))
    }

    func value(at index: Int) throws -> SQLValue {
        let (result, c) = try cell(index)
        guard PQgetisnull(result, current, c) == 0, let raw = PQgetvalue(result, current, c) else { return .null }
        let length = Int(PQgetlength(result, current, c))
        let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(raw), count: length)
        return try Self.decodeBinary(bytes, type: PQftype(result, c), column: names[index])
    }

    func row() throws -> Row {
        var values: [SQLValue] = []
        values.reserveCapacity(Int(columnCount))
        for c in 0..<Int(columnCount) { values.append(try value(at: c)) }
        return Row(values: values, columnNames: names)
    }

    /// One value in PostgreSQL's binary form (big-endian integers and IEEE floats).
    static func decodeBinary(_ bytes: UnsafeRawBufferPointer, type: Oid, column: String) throws -> SQLValue {
        func bad() -> StorageError { .conversion("column '\(column)': cannot read PostgreSQL type \(type) in binary form") }
        func bigEndian<I: FixedWidthInteger>(_: I.Type) throws -> I {
            guard bytes.count == MemoryLayout<I>.size else { throw bad() }
            var v: I = 0
            withUnsafeMutableBytes(of: &v) { $0.copyMemory(from: bytes) }
            return I(bigEndian: v)
        }
        switch type {
        case PostgresConnection.int2Oid: return .integer(Int64(try bigEndian(Int16.self)))
        case PostgresConnection.int4Oid: return .integer(Int64(try bigEndian(Int32.self)))
        case PostgresConnection.oidOid: return .integer(Int64(try bigEndian(UInt32.self)))
        case PostgresConnection.int8Oid: return .integer(try bigEndian(Int64.self))
        case PostgresConnection.boolOid:
            guard bytes.count == 1 else { throw bad() }
            return .integer(bytes[0] == 0 ? 0 : 1)
        case PostgresConnection.float4Oid: return .real(Double(Float(bitPattern: try bigEndian(UInt32.self))))
        case PostgresConnection.float8Oid: return .real(Double(bitPattern: try bigEndian(UInt64.self)))
        case PostgresConnection.byteaOid: return .blob([UInt8](bytes))
        case PostgresConnection.numericOid: throw bad()
        default: return .text(String(decoding: bytes, as: UTF8.self))
        }
    }
}

@available(*, unavailable)
extension PostgresCursor: Sendable {}
