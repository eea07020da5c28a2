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
    static func write(header: EmbeddingCSVHeader, filenames: [String], values: [Float], labels: [Int]?,
                      extraValues: [[String]]) -> [UInt8] {
        let n = filenames.count
        let d = header.embeddingColumns.count
        let ncols = header.names.count
        // What each column holds: ≥ 0 embedding slot, -1 filename, -2 label, -3-c extra c.
        var roles = [Int](repeating: -1, count: ncols)
        for (slot, c) in header.embeddingColumns.enumerated() { roles[c] = slot }
        roles[header.filenameColumn] = -1
        if let lc = header.labelColumn { roles[lc] = -2 }
        for (i, c) in header.extraColumns.enumerated() { roles[c] = -3 - i }

        var out: [UInt8] = []
        out.reserveCapacity(64 + ncols * 16 + n * (d * 20 + 48))
        for (c, name) in header.names.enumerated() {
            if c > 0 { out.append(UInt8(ascii: ",")) }
            appendField(name, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        PythonFloatRepr.powersOfFive.withUnsafeBufferPointer { p5buf in
            values.withUnsafeBufferPointer { vbuf in
                guard let p5 = p5buf.baseAddress else { return }
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 48) { scratch in
                    guard let tmp = scratch.baseAddress else { return }
                    for r in 0..<n {
                        for c in 0..<ncols {
                            if c > 0 { out.append(UInt8(ascii: ",")) }
                            let role = roles[c]
                            if role >= 0 {
                                let len = PythonFloatRepr.format(vbuf[r * d + role], into: tmp, pow5: p5)
                                out.append(contentsOf: UnsafeBufferPointer(start: tmp, count: len))
                            } else if role == -1 {
                                appendField(filenames[r], to: &out)
                            } else if role == -2 {
                                out.append(contentsOf: String(labels?[r] ?? 0).utf8)
                            } else {
                                appendField(extraValues[-3 - role][r], to: &out)
                            }
                        }
                        out.append(UInt8(ascii: "\n"))
                    }
                }
            }
        }
        return out
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

// MARK: - Reordering

extension ParsedEmbeddingCSV {
    /// The same data with rows in the dataset's mapping order (spec §4.1): row i of the result
    /// is the sample `fileNames[i]`.
    ///
    /// The filename sets must be equal. (A dataset with no samples yet has no order to impose:
    /// use the CSV order, `filenames`, as is.)
    ///
    /// ```swift
    /// let ordered = try parsed.reordered(toMapping: ["b.jpg", "a.jpg"])
    /// ordered.filenames  // ["b.jpg", "a.jpg"]
    /// ```
    ///
    /// - Parameter fileNames: the dataset's sample file names in mapping order.
    /// - Returns: rows permuted (values, labels and extra columns alike).
    /// - Throws: `EmbeddingCSVError` of kind `.mappingMismatch` naming the first CSV filename
    ///   that is not a sample, the first sample without a row, and both counts.
    /// - Complexity: O(n·d) plus O(n) hashing.
    public func reordered(toMapping fileNames: [String]) throws(EmbeddingCSVError) -> ParsedEmbeddingCSV {
        var rowOf: [String: Int] = [:]
        rowOf.reserveCapacity(filenames.count)
        for (i, name) in filenames.enumerated() { rowOf[name] = i }
        var order: [Int] = []
        order.reserveCapacity(fileNames.count)
        var used = [Bool](repeating: false, count: filenames.count)
        var ok = fileNames.count == filenames.count
        if ok {
            for name in fileNames {
                guard let r = rowOf[name], !used[r] else { ok = false; break }
                used[r] = true
                order.append(r)
            }
        }
        if !ok { throw mismatch(fileNames, rowOf: rowOf) }
        if order.elementsEqual(0..<order.count) { return self }

        let d = dimension
        let n = order.count
        let newValues = [Float](unsafeUninitializedCapacity: n * d) { dst, count in
            values.withUnsafeBufferPointer { src in
                guard let s = src.baseAddress, let t = dst.baseAddress else { return }
                for (i, r) in order.enumerated() {
                    (t + i * d).initialize(from: s + r * d, count: d)
                }
            }
            count = n * d
        }
        var copy = self
        copy.values = newValues
        copy.filenames = order.map { filenames[$0] }
        if let labels { copy.labels = order.map { labels[$0] } }
        copy.extraValues = extraValues.map { column in order.map { column[$0] } }
        return copy
    }

    private func mismatch(_ fileNames: [String], rowOf: [String: Int]) -> EmbeddingCSVError {
        var inMapping = Set<String>()
        inMapping.reserveCapacity(fileNames.count)
        var duplicateSample: String? = nil
        for name in fileNames where !inMapping.insert(name).inserted { duplicateSample = duplicateSample ?? name }
        var unknown = 0, firstUnknown: (String, Int)? = nil
        for (i, name) in filenames.enumerated() where !inMapping.contains(name) {
            unknown += 1
            if firstUnknown == nil { firstUnknown = (name, i + 1) }
        }
        var missing = 0, firstMissing: String? = nil
        for name in fileNames where rowOf[name] == nil {
            missing += 1
            if firstMissing == nil { firstMissing = name }
        }
        var parts = ["the CSV has \(filenames.count) rows, the dataset has \(fileNames.count) samples"]
        if let (name, row) = firstUnknown {
            parts.append("\(unknown) CSV filename(s) are not samples of the dataset (first: \"\(name)\" in row \(row))")
        }
        if let name = firstMissing {
            parts.append("\(missing) sample(s) have no row in the CSV (first: \"\(name)\")")
        }
        if let name = duplicateSample {
            parts.append("the dataset lists \"\(name)\" more than once")
        }
        return EmbeddingCSVError(kind: .mappingMismatch, line: nil, row: firstUnknown?.1,
                                 message: "embedding CSV does not match the dataset: " + parts.joined(separator: "; "))
    }
}
