// The row cursor of the embedding CSV parser: walks the buffer field by field, tracks line and
// row for error messages. The header is read in RowCursor+Header.swift, data rows and their
// numbers in RowCursor+Rows.swift.

/// Walks the buffer, tracking the physical line and data row for error messages.
struct RowCursor {
    var p: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>
    /// Current 1-based physical line (0 when unknown: a parallel chunk).
    var line: Int
    /// Data rows completed.
    var row: Int
    let limits: EmbeddingCSV.Limits

    init(p: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, line: Int, row: Int, limits: EmbeddingCSV.Limits) {
        self.p = p; self.end = end; self.line = line; self.row = row; self.limits = limits
    }

    // MARK: Errors

    func location(row r: Int, line l: Int) -> String {
        l > 0 ? "row \(r) (line \(l))" : "row \(r)"
    }

    func error(_ kind: EmbeddingCSVError.Kind, row r: Int, line l: Int, column: String?, _ text: String) -> EmbeddingCSVError {
        let col = column.map { "column \($0): " } ?? ""
        return EmbeddingCSVError(kind: kind, line: l > 0 ? l : nil, row: r,
                                 message: "\(location(row: r, line: l)): \(col)\(text)")
    }

    func headerError(_ kind: EmbeddingCSVError.Kind, _ text: String) -> EmbeddingCSVError {
        EmbeddingCSVError(kind: kind, line: 1, row: 0, message: "header (line 1): \(text)")
    }

    // MARK: Fields

    /// Reads one field at `p`; on return `p` is at the delimiter (`,`, `\r`, `\n`) or the end.
    mutating func readField(row r: Int, line l: Int, column: String?) throws(EmbeddingCSVError) -> CSVField {
        let s = p
        if p < end && p.pointee == quote {
            var q = p + 1
            var escaped = false
            let openLine = line
            while true {
                while q < end && q.pointee != quote {
                    if q.pointee == lf && line > 0 { line += 1 }
                    q += 1
                }
                if q == end {
                    let at = openLine > 0 ? " (opened on line \(openLine))" : ""
                    throw error(.quoting, row: r, line: l, column: column, "unterminated quoted field\(at)")
                }
                if q + 1 < end && q[1] == quote { escaped = true; q += 2; continue }
                break
            }
            let content = s + 1
            p = q + 1
            if p < end {
                let c = p.pointee
                if c != comma && c != lf && c != cr {
                    throw error(.quoting, row: r, line: l, column: column,
                                "unexpected character after a closing quote (quotes inside a quoted field must be doubled)")
                }
            }
            let field = CSVField(start: content, count: q - content, quoted: true, escaped: escaped)
            if field.count > limits.maxFieldLength { throw fieldTooLong(row: r, line: l, column: column) }
            return field
        }
        var q = p
        while q < end {
            let c = q.pointee
            if c == comma || c == lf || c == cr { break }
            if c == quote {
                throw error(.quoting, row: r, line: l, column: column,
                            "a quote inside an unquoted field (such a field must be quoted and the quote doubled)")
            }
            q += 1
        }
        p = q
        if q - s > limits.maxFieldLength { throw fieldTooLong(row: r, line: l, column: column) }
        return CSVField(start: s, count: q - s, quoted: false, escaped: false)
    }

    func fieldTooLong(row r: Int, line l: Int, column: String?) -> EmbeddingCSVError {
        error(.limit, row: r, line: l, column: column, "field longer than \(limits.maxFieldLength) bytes")
    }

    /// Consumes the line break ending a row (or accepts the end of input).
    @inline(__always)
    mutating func endRow(row r: Int, lineAtStart l: Int) throws(EmbeddingCSVError) {
        if p == end { return }
        let c = p.pointee
        if c == lf { p += 1; if line > 0 { line += 1 }; return }
        if c == cr && p + 1 < end && p[1] == lf { p += 2; if line > 0 { line += 1 }; return }
        if c == cr {
            throw r == 0 ? headerError(.quoting, "a carriage return not followed by a line feed")
                         : error(.quoting, row: r, line: l, column: nil, "a carriage return not followed by a line feed")
        }
        // A comma: more fields than the header has.
        var found = 0
        while p < end && p.pointee == comma {
            p += 1
            _ = try readField(row: r, line: l, column: nil)
            found += 1
        }
        throw error(.columnCount, row: r, line: l, column: nil, "more than the header's columns (\(found) extra)")
    }
}
