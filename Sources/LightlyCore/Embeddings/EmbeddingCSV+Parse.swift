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
private let roleFilename: Int32 = -1
private let roleLabel: Int32 = -2
/// `roleExtraBase - c` is extra column c.
private let roleExtraBase: Int32 = -3

private let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""),
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

// MARK: - The cursor

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
