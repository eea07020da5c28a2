// The embedding CSV data rows: the row loop with its fast number scan, the slow path for
// fields it does not accept, and integer fields.

extension RowCursor {
    // MARK: Rows

    /// Parses data rows until the end, appending to `rows`.
    /// - Parameters:
    ///   - isLast: whether `end` is the end of the file (trailing empty lines are allowed).
    ///   - checkDuplicates: detect duplicate filenames with `seen` (off for parallel chunks,
    ///     which are checked when merged).
    mutating func readRows<Seen: EmbeddingCSVFilenameIndex>(layout: CSVLayout, into rows: inout CSVRows, isLast: Bool,
                           seen: inout Seen, checkDuplicates: Bool = true) throws(EmbeddingCSVError) {
        let d = layout.dimension
        let ncols = layout.roles.count
        let names = layout.header.names
        let rowBuffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: d)
        defer { rowBuffer.deallocate() }
        rowBuffer.initialize(repeating: 0)
        let pow10 = DecimalFloat.powersOfTen
        try layout.roles.withUnsafeBufferPointer { (roles) throws(EmbeddingCSVError) in
            try pow10.withUnsafeBufferPointer { (p10buf) throws(EmbeddingCSVError) in
                guard let p10 = p10buf.baseAddress, let rb = rowBuffer.baseAddress else { return }
                let dataStart = p
                while p < end {
                    let c0 = p.pointee
                    let r = row + 1
                    let l = line
                    if c0 == lf || c0 == cr {
                        if isLast && CSVParse.onlyLineBreaks(p, end) { p = end; break }
                        throw error(.columnCount, row: r, line: l, column: nil, "empty line")
                    }
                    if r > limits.maxRows { throw error(.limit, row: r, line: l, column: nil, "more than \(limits.maxRows) rows") }
                    if r &* d > limits.maxValues {
                        throw error(.limit, row: r, line: l, column: nil, "more than \(limits.maxValues) values")
                    }
                    let rowStart = p
                    var filename = ""
                    var label = 0
                    for c in 0..<ncols {
                        let role = roles[c]
                        if role >= 0 {
                            let (status, v, next) = DecimalFloat.scan(p, end, pow10: p10)
                            if status == .ok && next - p <= limits.maxFieldLength
                                && (next == end || next.pointee == comma || next.pointee == lf || next.pointee == cr) {
                                rb[Int(role)] = v
                                p = next
                            } else {
                                rb[Int(role)] = try slowNumber(row: r, line: l, column: names[c])
                            }
                        } else if role == roleFilename {
                            let f = try readField(row: r, line: l, column: names[c])
                            if f.count == 0 { throw error(.filename, row: r, line: l, column: names[c], "empty filename") }
                            guard let s = f.string() else {
                                throw error(.encoding, row: r, line: l, column: names[c], "filename is not valid UTF-8")
                            }
                            filename = s
                        } else if role == roleLabel {
                            let f = try readField(row: r, line: l, column: names[c])
                            guard let v = parseInt(f) else {
                                throw error(.label, row: r, line: l, column: names[c], "\"\(f.preview())\" is not an integer")
                            }
                            label = v
                        } else {
                            let f = try readField(row: r, line: l, column: names[c])
                            guard let s = f.string() else {
                                throw error(.encoding, row: r, line: l, column: names[c], "value is not valid UTF-8")
                            }
                            rows.extra[Int(roleExtraBase - role)].append(s)
                        }
                        if c + 1 < ncols {
                            if p < end && p.pointee == comma {
                                p += 1
                            } else if p < end && p.pointee == cr && !(p + 1 < end && p[1] == lf) {
                                throw error(.quoting, row: r, line: l, column: nil, "a carriage return not followed by a line feed")
                            } else {
                                throw error(.columnCount, row: r, line: l, column: nil,
                                            "\(c + 1) columns, the header has \(ncols)")
                            }
                        }
                    }
                    try endRow(row: r, lineAtStart: l)
                    if checkDuplicates {
                        if let prev = seen.insert(filename, row: r) {
                            throw error(.duplicateFilename, row: r, line: l, column: nil,
                                        "duplicate filename \"\(filename)\" (also in row \(prev))")
                        }
                    }
                    if r == 1 {
                        // Reserve for the whole input from the first row's size.
                        let estimate = min((end - dataStart) / max(1, p - rowStart) + 16, limits.maxRows,
                                           limits.maxValues / max(1, d))
                        rows.values.reserveCapacity(estimate * d)
                        rows.filenames.reserveCapacity(estimate)
                        if layout.header.labelColumn != nil { rows.labels.reserveCapacity(estimate) }
                        if checkDuplicates { seen.reserve(estimate) }
                    }
                    rows.filenames.append(filename)
                    rows.values.append(contentsOf: UnsafeBufferPointer(rowBuffer))
                    if layout.header.labelColumn != nil { rows.labels.append(label) }
                    row = r
                }
            }
        }
    }

    /// An embedding field the fast scan did not accept: quoted, malformed or not finite.
    mutating func slowNumber(row r: Int, line l: Int, column: String) throws(EmbeddingCSVError) -> Float {
        let f = try readField(row: r, line: l, column: column)
        let content = f.bytes()
        let (status, value) = content.withUnsafeBufferPointer { DecimalFloat.parse($0) }
        switch status {
        case .ok:
            return value
        case .nonFinite:
            throw error(.nonFinite, row: r, line: l, column: column,
                        "\"\(f.preview())\" is out of the float32 range (not finite)")
        case .invalid:
            var t = f.preview().lowercased()
            if t.hasPrefix("-") || t.hasPrefix("+") { t.removeFirst() }
            if ["inf", "infinity", "nan"].contains(t) {
                throw error(.nonFinite, row: r, line: l, column: column, "\"\(f.preview())\" is not a finite number")
            }
            throw error(.number, row: r, line: l, column: column, "\"\(f.preview())\" is not a number")
        }
    }

    /// A decimal integer (optional sign) that fits in Int.
    func parseInt(_ f: CSVField) -> Int? {
        if f.escaped { return nil }
        let b = UnsafeBufferPointer(start: f.start, count: f.count)
        var i = 0
        var negative = false
        if i < b.count && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) { negative = b[i] == UInt8(ascii: "-"); i += 1 }
        if i == b.count { return nil }
        var v = 0
        while i < b.count {
            let d = b[i] &- 48
            if d >= 10 { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int(d)) : m.addingReportingOverflow(Int(d))
            if o1 || o2 { return nil }
            v = s
            i += 1
        }
        return v
    }
}
