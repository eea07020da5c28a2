// The embedding CSV header: column names, their roles, and the checks on them.

extension RowCursor {
    // MARK: Header

    mutating func readHeader() throws(EmbeddingCSVError) -> CSVLayout {
        if p < end && (p.pointee == lf || p.pointee == cr) {
            throw headerError(.header, "the header row is empty")
        }
        var names: [String] = []
        while true {
            let f: CSVField
            do throws(EmbeddingCSVError) { f = try readField(row: 0, line: 1, column: nil) }
            catch { throw headerError(error.kind, stripLocation(error.message)) }
            guard let name = f.string() else {
                throw headerError(.encoding, "column \(names.count + 1) name is not valid UTF-8")
            }
            names.append(name)
            if names.count > limits.maxColumns {
                throw headerError(.limit, "more than \(limits.maxColumns) columns")
            }
            if p < end && p.pointee == comma { p += 1; continue }
            break
        }
        try endRow(row: 0, lineAtStart: 1)

        var filenameColumn: Int? = nil, labelColumn: Int? = nil
        var embedding: [(k: Int, column: Int)] = []
        var extra: [Int] = []
        var seenK: [Int: Int] = [:]
        for (c, name) in names.enumerated() {
            if name == "filenames" {
                if let prev = filenameColumn {
                    throw headerError(.header, "two filenames columns (\(prev + 1) and \(c + 1))")
                }
                filenameColumn = c
            } else if name == "labels" {
                if let prev = labelColumn {
                    throw headerError(.header, "two labels columns (\(prev + 1) and \(c + 1))")
                }
                labelColumn = c
            } else if let k = try embeddingIndex(name) {
                if let prev = seenK[k] {
                    throw headerError(.header, "two \(name) columns (\(prev + 1) and \(c + 1))")
                }
                seenK[k] = c
                embedding.append((k, c))
            } else {
                extra.append(c)
            }
        }
        guard let fc = filenameColumn else { throw headerError(.header, "no filenames column") }
        if embedding.isEmpty { throw headerError(.header, "no embedding_<k> columns") }
        if embedding.count > limits.maxDimension {
            throw headerError(.limit, "more than \(limits.maxDimension) embedding columns")
        }
        embedding.sort { $0.k < $1.k }
        var roles = [Int32](repeating: 0, count: names.count)
        for (slot, e) in embedding.enumerated() { roles[e.column] = Int32(slot) }
        roles[fc] = roleFilename
        if let lc = labelColumn { roles[lc] = roleLabel }
        for (i, c) in extra.enumerated() { roles[c] = roleExtraBase - Int32(i) }
        let header = EmbeddingCSVHeader(names: names, filenameColumn: fc, labelColumn: labelColumn,
                                        embeddingColumns: embedding.map(\.column), extraColumns: extra)
        return CSVLayout(header: header, roles: roles)
    }

    /// k for `embedding_<k>`; nil for other names; an error for a non-canonical k.
    func embeddingIndex(_ name: String) throws(EmbeddingCSVError) -> Int? {
        let prefix = "embedding_"
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.utf8.dropFirst(prefix.utf8.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        if digits.count > 1 && digits.first == 48 {
            throw headerError(.header, "column name \(name) has a leading zero")
        }
        if digits.count > 9 { throw headerError(.limit, "\(name): index too large") }
        var k = 0
        for d in digits { k = k * 10 + Int(d - 48) }
        if k >= limits.maxDimension { throw headerError(.limit, "\(name): index above \(limits.maxDimension - 1)") }
        return k
    }

    func stripLocation(_ message: String) -> String {
        // Drop the "row 0 (line 1): " prefix that readField put on a header field error.
        let u = Array(message.utf8)
        var i = 0
        while i + 1 < u.count {
            if u[i] == UInt8(ascii: ":") && u[i + 1] == UInt8(ascii: " ") {
                return String(decoding: u[(i + 2)...], as: UTF8.self)
            }
            i += 1
        }
        return message
    }
}
