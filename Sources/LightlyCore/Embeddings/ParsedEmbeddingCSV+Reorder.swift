// MARK: - Reordering

extension ParsedEmbeddingCSV {
    /// The same data with rows in the dataset's mapping order (docs/protocol.md §5): row i of the result
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
