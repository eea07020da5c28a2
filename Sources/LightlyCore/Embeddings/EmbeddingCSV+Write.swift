// MARK: - Writing

extension EmbeddingCSV {
    /// Writes a CSV in `save_embeddings` format: header `filenames,embedding_0,…,labels`,
    /// `\n` line endings, a line break after the last row, fields quoted only when needed.
    ///
    /// Floats are written as Python prints them once widened, `repr(float(np.float32(x)))`
    /// (e.g. `0.10000000149011612`, `1e-05`), so `parse(write(…))` restores every value
    /// bit-exactly.
    ///
    /// ```swift
    /// let csv = EmbeddingCSV.write(filenames: ["a.jpg"], values: [0.5, -1], dimension: 2, labels: [0])
    /// // "filenames,embedding_0,embedding_1,labels\na.jpg,0.5,-1.0,0\n"
    /// ```
    ///
    /// - Parameters:
    ///   - filenames: one per row.
    ///   - values: n×d, row-major; should be finite (non-finite values are written as
    ///     `inf`/`nan`, which `parse` rejects).
    ///   - dimension: d ≥ 1.
    ///   - labels: one per row, or nil to omit the `labels` column.
    /// - Returns: UTF-8 bytes.
    /// - Complexity: O(n·d).
    public static func write(filenames: [String], values: [Float], dimension: Int, labels: [Int]?) -> [UInt8] {
        precondition(dimension >= 1, "dimension must be at least 1")
        precondition(values.count == filenames.count * dimension, "values must be n×d")
        precondition(labels == nil || labels?.count == filenames.count, "one label per row")
        let header = EmbeddingCSVHeader.standard(dimension: dimension, hasLabels: labels != nil)
        return write(header: header, filenames: filenames, values: values, labels: labels, extraValues: [])
    }

    /// Writes rows under a given header (column names and positions as uploaded).
    /// - Parameter includeHeader: false writes only the rows (for a file written in batches).
    public static func write(header: EmbeddingCSVHeader, filenames: [String], values: [Float], labels: [Int]?,
                             extraValues: [[String]], includeHeader: Bool = true) -> [UInt8] {
        let n = filenames.count
        let d = header.embeddingColumns.count
        let ncols = header.names.count
        // What each column holds: ≥ 0 embedding slot, -1 filename, -2 label, -3-c extra c.
        var roles = [Int](repeating: -1, count: ncols)
        for (slot, c) in header.embeddingColumns.enumerated() { roles[c] = slot }
        roles[header.filenameColumn] = -1
        if let lc = header.labelColumn { roles[lc] = -2 }
        for (i, c) in header.extraColumns.enumerated() { roles[c] = -3 - i }

        // Exact upper bound: a float repr is at most 24 bytes, a label 20, a quoted field
        // 2·len + 2, plus separators and line breaks.
        var bound = 1
        for name in header.names { bound += 2 * name.utf8.count + 3 }
        bound += n * (ncols + 1) + n * d * 24 + (labels == nil ? 0 : n * 20)
        for name in filenames { bound += 2 * name.utf8.count + 2 }
        for column in extraValues { for v in column { bound += 2 * v.utf8.count + 2 } }

        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            guard let base = buffer.baseAddress else { count = 0; return }
            var w = base
            if includeHeader {
                for (c, name) in header.names.enumerated() {
                    if c > 0 { w.pointee = UInt8(ascii: ","); w += 1 }
                    w = writeField(name, at: w)
                }
                w.pointee = UInt8(ascii: "\n"); w += 1
            }
            PythonFloatRepr.powersOfFive.withUnsafeBufferPointer { p5buf in
                values.withUnsafeBufferPointer { vbuf in
                    guard let p5 = p5buf.baseAddress, let v = vbuf.baseAddress else { return }
                    for r in 0..<n {
                        let rowValues = v + r * d
                        for c in 0..<ncols {
                            if c > 0 { w.pointee = UInt8(ascii: ","); w += 1 }
                            let role = roles[c]
                            if role >= 0 {
                                w += PythonFloatRepr.format(rowValues[role], into: w, pow5: p5)
                            } else if role == -1 {
                                w = writeField(filenames[r], at: w)
                            } else if role == -2 {
                                w = writeInt(labels?[r] ?? 0, at: w)
                            } else {
                                w = writeField(extraValues[-3 - role][r], at: w)
                            }
                        }
                        w.pointee = UInt8(ascii: "\n"); w += 1
                    }
                }
            }
            count = w - base
        }
    }

    /// Writes a decimal integer; returns the position after it.
    static func writeInt(_ value: Int, at w: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = w
        var m = value.magnitude
        if value < 0 { p.pointee = UInt8(ascii: "-"); p += 1 }
        var digits = 0
        var t = m
        repeat { digits += 1; t /= 10 } while t != 0
        var q = p + digits
        repeat { q -= 1; q.pointee = UInt8(truncatingIfNeeded: m % 10) + 48; m /= 10 } while m != 0
        return p + digits
    }

    /// Writes a field quoted as Python's `csv.QUOTE_MINIMAL` does (see `appendField`).
    static func writeField(_ s: String, at w: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var bytes: [UInt8] = []
        appendField(s, to: &bytes)
        bytes.withUnsafeBufferPointer { b in
            if let src = b.baseAddress { w.update(from: src, count: b.count) }
        }
        return w + bytes.count
    }

    /// Appends a field, quoting it as Python's `csv.QUOTE_MINIMAL` does: when it contains
    /// `,`, `"`, `\r` or `\n` (quotes doubled), or when it is the empty sole field of a row
    /// (not reachable here: rows always have several columns).
    static func appendField(_ s: String, to out: inout [UInt8]) {
        var needsQuotes = false
        for b in s.utf8 where b == UInt8(ascii: ",") || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\r") || b == UInt8(ascii: "\n") {
            needsQuotes = true
            break
        }
        if !needsQuotes { out.append(contentsOf: s.utf8); return }
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            out.append(b)
            if b == UInt8(ascii: "\"") { out.append(b) }
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension ParsedEmbeddingCSV {
    /// The file as uploaded (same header, column order and extra columns) with the rows in
    /// their current order, `\n` line endings and Python `repr` floats. This is what
    /// `readCSVUrl` serves after `reordered(toMapping:)`.
    /// - Complexity: O(n·d).
    public func csvBytes() -> [UInt8] {
        EmbeddingCSV.write(header: header, filenames: filenames, values: values, labels: labels,
                           extraValues: extraValues)
    }
}
