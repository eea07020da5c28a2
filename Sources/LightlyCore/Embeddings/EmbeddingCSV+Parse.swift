// MARK: - Public entry points

extension EmbeddingCSV {
    /// Parses and fully validates an embedding CSV.
    ///
    /// Nothing is returned unless the whole file is valid: a header with one `filenames`
    /// column and at least one `embedding_<k>` column (an optional `labels` column and other
    /// columns are allowed, any order); every row with exactly the header's column count;
    /// every embedding value a finite decimal (Python `repr` syntax; `inf`/`nan` rejected);
    /// integer labels; non-empty, valid UTF-8, unique filenames. A UTF-8 BOM, `\r\n` or `\n`
    /// line endings (mixed too), quoted fields with commas, newlines and doubled quotes, and
    /// trailing empty lines are accepted.
    ///
    /// Values are rounded like Python's `np.float32(float(text))`.
    ///
    /// ```swift
    /// let parsed = try body.withUnsafeBytes { try EmbeddingCSV.parse($0) }
    /// parsed.dimension   // d
    /// parsed.values      // n×d, row-major, file order
    /// ```
    ///
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - limits: caps on columns, dimension, rows, field length and total values.
    ///   - threads: maximum parallelism (1 = sequential). Large inputs are split at row
    ///     boundaries found with a quote-aware pre-scan and parsed in fixed order; the result
    ///     and any error are identical to the sequential parse.
    /// - Returns: the validated matrix, filenames, labels and header.
    /// - Throws: `EmbeddingCSVError` naming the first problem in file order with its line and
    ///   row number.
    /// - Complexity: O(size of the input) plus O(n) hashing of filenames.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: Limits = .default,
                             threads: Int = 1) throws(EmbeddingCSVError) -> ParsedEmbeddingCSV {
        guard let raw = bytes.baseAddress, bytes.count > 0 else {
            throw EmbeddingCSVError(kind: .empty, message: "the embedding CSV is empty")
        }
        let base = raw.assumingMemoryBound(to: UInt8.self)
        return try CSVParse.run(base: base, end: base + bytes.count, limits: limits, threads: threads,
                                minParallelBytes: 8 << 20)
    }

    /// `parse` with the size above which threads are used made explicit (tests use 0).
    static func parse(_ bytes: [UInt8], limits: Limits = .default, threads: Int,
                      minParallelBytes: Int) throws(EmbeddingCSVError) -> ParsedEmbeddingCSV {
        let result: Result<ParsedEmbeddingCSV, EmbeddingCSVError> = bytes.withUnsafeBytes { raw in
            guard let b = raw.baseAddress, raw.count > 0 else {
                return .failure(EmbeddingCSVError(kind: .empty, message: "the embedding CSV is empty"))
            }
            let base = b.assumingMemoryBound(to: UInt8.self)
            do throws(EmbeddingCSVError) {
                return .success(try CSVParse.run(base: base, end: base + raw.count, limits: limits,
                                                 threads: threads, minParallelBytes: minParallelBytes))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses and validates an embedding CSV held in an array. See `parse(_:limits:threads:)`.
    public static func parse(_ bytes: [UInt8], limits: Limits = .default,
                             threads: Int = 1) throws(EmbeddingCSVError) -> ParsedEmbeddingCSV {
        let result: Result<ParsedEmbeddingCSV, EmbeddingCSVError> = bytes.withUnsafeBytes { raw in
            do throws(EmbeddingCSVError) { return .success(try parse(raw, limits: limits, threads: threads)) }
            catch { return .failure(error) }
        }
        return try result.get()
    }
}

// MARK: - Duplicate detection

/// Where the parser records each row's filename to reject duplicates. A dictionary
/// (filename → 1-based row) is the default; a caller that already holds an index of the
/// expected filenames (the dataset's samples) can use it instead of a second dictionary.
public protocol EmbeddingCSVFilenameIndex {
    /// Records `filename` at data row `row` (1-based).
    /// - Returns: the row that already holds `filename` (then nothing is recorded), or nil.
    mutating func insert(_ filename: String, row: Int) -> Int?
    /// Forgets `filename` (undoing an `insert` whose rows are parsed again).
    mutating func remove(_ filename: String)
    /// A hint: about `count` filenames will be inserted.
    mutating func reserve(_ count: Int)
}

extension Dictionary: EmbeddingCSVFilenameIndex where Key == String, Value == Int {
    @inline(__always)
    public mutating func insert(_ filename: String, row: Int) -> Int? { updateValue(row, forKey: filename) }
    public mutating func remove(_ filename: String) { removeValue(forKey: filename) }
    public mutating func reserve(_ count: Int) { if count > capacity { reserveCapacity(count) } }
}

// MARK: - Implementation

/// Column roles, encoded for the row loop: ≥ 0 is the embedding slot; the rest are below.
let roleFilename: Int32 = -1
let roleLabel: Int32 = -2
/// `roleExtraBase - c` is extra column c.
let roleExtraBase: Int32 = -3

/// The bytes the CSV parser looks for (internal: the row cursor in RowCursor*.swift uses them too).
let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""),
    lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")

/// A field as found in the buffer: content bytes (without the surrounding quotes).
struct CSVField {
    var start: UnsafePointer<UInt8>
    var count: Int
    var quoted: Bool
    /// Contains doubled quotes that must be collapsed.
    var escaped: Bool

    /// The content with `""` collapsed.
    func bytes() -> [UInt8] {
        let buf = UnsafeBufferPointer(start: start, count: count)
        if !escaped { return Array(buf) }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            out.append(buf[i])
            i += buf[i] == quote ? 2 : 1
        }
        return out
    }

    /// The content as a String; nil if it is not valid UTF-8.
    func string() -> String? {
        if !escaped { return String(validating: UnsafeBufferPointer(start: start, count: count), as: UTF8.self) }
        return bytes().withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) }
    }

    /// Content for error messages: lossy, shortened to 60 characters.
    func preview() -> String {
        let s = String(decoding: bytes(), as: UTF8.self)
        return s.count > 60 ? String(s.prefix(57)) + "..." : s
    }
}

/// The parsed header plus derived lookup tables.
struct CSVLayout {
    var header: EmbeddingCSVHeader
    /// Role of each column (see `roleFilename` …).
    var roles: [Int32]
    var dimension: Int { header.embeddingColumns.count }
}

/// Per-chunk output of the row loop.
struct CSVRows {
    var filenames: [String] = []
    var values: [Float] = []
    var labels: [Int] = []
    var extra: [[String]] = []
}

enum CSVParse {
    static func run(base: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, limits: EmbeddingCSV.Limits,
                    threads: Int, minParallelBytes: Int) throws(EmbeddingCSVError) -> ParsedEmbeddingCSV {
        var p = base
        if end - p >= 3, p[0] == 0xEF, p[1] == 0xBB, p[2] == 0xBF { p += 3 }
        if p == end || onlyLineBreaks(p, end) {
            throw EmbeddingCSVError(kind: .empty, message: "the embedding CSV is empty")
        }
        var cursor = RowCursor(p: p, end: end, line: 1, row: 0, limits: limits)
        let layout = try cursor.readHeader()
        let dataStart = cursor.p

        if threads > 1, end - dataStart >= minParallelBytes {
            let splits = splitPoints(dataStart, end, parts: threads)
            if splits.count > 1, let parsed = parallel(layout: layout, splits: splits, end: end, limits: limits) {
                return parsed
            }
            // Any error (or a split the quote scan could not place): the sequential parse
            // below reports the first problem in file order with exact line numbers.
        }
        var rows = CSVRows()
        rows.extra = Array(repeating: [], count: layout.header.extraColumns.count)
        var seen: [String: Int] = [:]
        try cursor.readRows(layout: layout, into: &rows, isLast: true, seen: &seen)
        return finish(layout: layout, rows: rows)
    }

    static func finish(layout: CSVLayout, rows: CSVRows) -> ParsedEmbeddingCSV {
        ParsedEmbeddingCSV(filenames: rows.filenames, dimension: layout.dimension, values: rows.values,
                           labels: layout.header.labelColumn == nil ? nil : rows.labels,
                           header: layout.header, extraValues: rows.extra)
    }

    static func onlyLineBreaks(_ p: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Bool {
        var q = p
        while q < end { if q.pointee != lf && q.pointee != cr { return false }; q += 1 }
        return true
    }

    // MARK: Parallel

    /// Row-start positions dividing `[start, end)` into about `parts` pieces: `[start, s1, …]`.
    /// Quote parity says whether a position is inside a quoted field (exact for files valid
    /// under the strict grammar; for others the chunk parse fails and we fall back).
    static func splitPoints(_ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>, parts: Int) -> [UnsafePointer<UInt8>] {
        var points = [start]
        var scanned = start
        var quotes = 0
        let total = end - start
        for i in 1..<parts {
            let target = start + total * i / parts
            if target <= scanned { continue }
            quotes &+= countQuotes(scanned, target)
            var q = target
            var inQuotes = quotes & 1 == 1
            while q < end {
                let c = q.pointee
                if c == quote { inQuotes.toggle(); quotes &+= 1 }
                else if c == lf && !inQuotes { q += 1; break }
                q += 1
            }
            scanned = q
            if q >= end { break }
            points.append(q)
        }
        return points
    }

    /// Number of `"` bytes in `[p, end)`, eight bytes at a time.
    static func countQuotes(_ p: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Int {
        var q = p
        var n = 0
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let pattern = ones &* UInt64(quote)
        while end - q >= 8 {
            let x = UnsafeRawPointer(q).loadUnaligned(as: UInt64.self) ^ pattern
            // Exact zero-byte mask (no borrow between bytes).
            let t = ((x & low7) &+ low7) | x
            n &+= (~t & ~low7).nonzeroBitCount
            q += 8
        }
        while q < end { if q.pointee == quote { n += 1 }; q += 1 }
        return n
    }

    static func parallel(layout: CSVLayout, splits: [UnsafePointer<UInt8>], end: UnsafePointer<UInt8>,
                         limits: EmbeddingCSV.Limits) -> ParsedEmbeddingCSV? {
        let k = splits.count
        let results = ParallelSlots<CSVRows?>(count: k)
        // Each chunk writes only its own slot; the pointers stay valid for the whole call.
        nonisolated(unsafe) let bounds = splits.enumerated().map { i, s in (s, i + 1 < k ? splits[i + 1] : end) }
        concurrentPerformFixed(k) { i in
            let (s, e) = bounds[i]
            var cursor = RowCursor(p: s, end: e, line: 0, row: 0, limits: limits)
            var rows = CSVRows()
            rows.extra = Array(repeating: [], count: layout.header.extraColumns.count)
            var noSeen: [String: Int] = [:]
            do throws(EmbeddingCSVError) {
                try cursor.readRows(layout: layout, into: &rows, isLast: i == k - 1, seen: &noSeen, checkDuplicates: false)
                results.set(i, rows)
            } catch {
                results.set(i, nil)
            }
        }
        var merged = CSVRows()
        var parts: [CSVRows] = []
        for i in 0..<k {
            guard let r = results.get(i) ?? nil else { return nil }
            parts.append(r)
        }
        let n = parts.reduce(0) { $0 + $1.filenames.count }
        if n > limits.maxRows || n * layout.dimension > limits.maxValues { return nil }
        merged.filenames.reserveCapacity(n)
        merged.values.reserveCapacity(n * layout.dimension)
        merged.extra = Array(repeating: [], count: layout.header.extraColumns.count)
        var seen: [String: Int] = [:]
        seen.reserveCapacity(n)
        for part in parts {
            for name in part.filenames {
                if seen.updateValue(merged.filenames.count, forKey: name) != nil { return nil }
                merged.filenames.append(name)
            }
            merged.values.append(contentsOf: part.values)
            merged.labels.append(contentsOf: part.labels)
            for c in part.extra.indices { merged.extra[c].append(contentsOf: part.extra[c]) }
        }
        return finish(layout: layout, rows: merged)
    }
}
