#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Consecutive validated rows handed out by ``EmbeddingCSV/parseStream(limits:threads:windowBytes:seen:read:header:rows:)``.
public struct EmbeddingCSVBatch: Sendable {
    /// The 1-based data row of `filenames[0]` (the header is row 0).
    public var firstRow: Int
    /// One per row, in file order.
    public var filenames: [String]
    /// `count × dimension` floats, row-major, file order; all finite.
    public var values: [Float]
    /// One per row when the header has a `labels` column, else empty.
    public var labels: [Int]
    /// `extraValues[c][i]` for `header.extraColumns[c]`.
    public var extraValues: [[String]]
    /// Rows in the batch.
    public var count: Int { filenames.count }
}

extension EmbeddingCSV {
    /// Parses and validates an embedding CSV read piece by piece, with memory bounded by the
    /// window instead of the file: the input is read into a window of about `windowBytes`,
    /// cut at the last complete row (quote-aware), parsed (on `threads` threads when the
    /// window is large enough) and handed to `rows` as a batch; the window then moves on.
    ///
    /// Validation, error messages and their order are those of `parse` (the first problem in
    /// file order, with its row and line), with one difference by design: rows before the
    /// problem have already been handed to `rows`. Callers must therefore treat batches as
    /// provisional and commit nothing until this function returns.
    ///
    /// ```swift
    /// var seen: [String: Int] = [:]
    /// let n = try EmbeddingCSV.parseStream(seen: &seen, read: { try file.read(into: $0) },
    ///                                      header: { h in d = h.embeddingColumns.count },
    ///                                      rows: { batch in copy(batch.values, to: batch.firstRow - 1) })
    /// ```
    ///
    /// - Parameters:
    ///   - limits: as for `parse`.
    ///   - threads: parallelism inside a window (1 = sequential); results are identical.
    ///   - windowBytes: initial window size; it grows (up to 256 MiB) only for a longer row.
    ///   - seen: records each filename and rejects duplicates (see ``EmbeddingCSVFilenameIndex``).
    ///   - read: fills a buffer from the start, returns the bytes read, 0 at the end of input.
    ///   - header: called once with the validated header, before the first batch.
    ///   - rows: called with consecutive batches in file order.
    /// - Returns: the number of data rows (0 when there is only a header).
    /// - Throws: `EmbeddingCSVError` for invalid input; whatever `read`, `header` or `rows` throw.
    /// - Complexity: O(input size) time, O(window + n) memory for `seen`.
    public static func parseStream<Seen: EmbeddingCSVFilenameIndex>(
        limits: Limits = .default, threads: Int = 1, windowBytes: Int = 16 << 20, seen: inout Seen,
        read: (UnsafeMutableRawBufferPointer) throws -> Int,
        header: (EmbeddingCSVHeader) throws -> Void,
        rows: (EmbeddingCSVBatch) throws -> Void
    ) throws -> Int {
        try parseStream(limits: limits, threads: threads, windowBytes: windowBytes, minParallelBytes: 1 << 20,
                        seen: &seen, read: read, header: header, rows: rows)
    }

    /// `parseStream` with the smallest window segment parsed in parallel made explicit (tests use 0).
    static func parseStream<Seen: EmbeddingCSVFilenameIndex>(
        limits: Limits, threads: Int, windowBytes: Int, minParallelBytes: Int, seen: inout Seen,
        read: (UnsafeMutableRawBufferPointer) throws -> Int,
        header: (EmbeddingCSVHeader) throws -> Void,
        rows: (EmbeddingCSVBatch) throws -> Void
    ) throws -> Int {
        var w = StreamWindow(capacity: max(windowBytes, 16))
        defer { w.deallocate() }
        try w.fill(read)
        if w.filled == 0 { throw EmbeddingCSVError(kind: .empty, message: "the embedding CSV is empty") }
        if w.filled >= 3, w.base[0] == 0xEF, w.base[1] == 0xBB, w.base[2] == 0xBF { w.pos = 3 }

        // The header: its whole line must be in the window.
        var headerEnd: Int
        while true {
            if CSVParse.onlyLineBreaks(w.base + w.pos, w.base + w.filled) {
                if w.eof { throw EmbeddingCSVError(kind: .empty, message: "the embedding CSV is empty") }
                try w.makeRoom(limits: limits, row: 0, line: 1)
                try w.fill(read)
                continue
            }
            if let e = StreamWindow.firstRowEnd(w.base, from: w.pos, to: w.filled) { headerEnd = e; break }
            if w.eof { headerEnd = w.filled; break }
            try w.makeRoom(limits: limits, row: 0, line: 1)
            try w.fill(read)
        }
        var hc = RowCursor(p: UnsafePointer(w.base + w.pos), end: UnsafePointer(w.base + headerEnd), line: 1, row: 0, limits: limits)
        let layout = try hc.readHeader()
        w.pos = UnsafePointer(w.base).distance(to: hc.p)
        try header(layout.header)

        var line = hc.line, row = 0
        while true {
            let cut: Int
            if w.eof {
                cut = w.filled
            } else if let c = StreamWindow.lastRowEnd(w.base, from: w.pos, to: w.filled) {
                cut = c
            } else {
                try w.makeRoom(limits: limits, row: row + 1, line: line)
                try w.fill(read)
                continue
            }
            if cut > w.pos {
                let isLast = w.eof && cut == w.filled
                try parseWindow(UnsafePointer(w.base + w.pos), UnsafePointer(w.base + cut), isLast: isLast, layout: layout,
                                limits: limits, threads: threads, minParallelBytes: minParallelBytes,
                                line: &line, row: &row, seen: &seen, rows)
                w.pos = cut
            }
            if w.eof && w.pos == w.filled { break }
            w.compact()
            try w.fill(read)
        }
        return row
    }

    /// One window segment `[s, e)` of whole rows: in parallel pieces when it is large, else
    /// (or when a piece fails, so the error is the sequential one) sequentially.
    private static func parseWindow<Seen: EmbeddingCSVFilenameIndex>(
        _ s: UnsafePointer<UInt8>, _ e: UnsafePointer<UInt8>, isLast: Bool, layout: CSVLayout, limits: Limits,
        threads: Int, minParallelBytes: Int, line: inout Int, row: inout Int, seen: inout Seen,
        _ emit: (EmbeddingCSVBatch) throws -> Void
    ) throws {
        let nExtra = layout.header.extraColumns.count
        func batch(_ r: CSVRows, first: Int) -> EmbeddingCSVBatch {
            EmbeddingCSVBatch(firstRow: first, filenames: r.filenames, values: r.values, labels: r.labels, extraValues: r.extra)
        }
        if threads > 1, e - s >= max(minParallelBytes, 1) {
            let splits = CSVParse.splitPoints(s, e, parts: threads)
            if splits.count > 1, let parts = parallelParts(layout: layout, splits: splits, end: e, isLast: isLast, limits: limits) {
                let total = parts.reduce(0) { $0 + $1.rows.filenames.count }
                var ok = row + total <= limits.maxRows && (row + total) * layout.dimension <= limits.maxValues
                var inserted = 0
                if ok {
                    outer: for part in parts {
                        for name in part.rows.filenames {
                            if seen.insert(name, row: row + inserted + 1) != nil { ok = false; break outer }
                            inserted += 1
                        }
                    }
                }
                if ok {
                    var first = row + 1
                    for part in parts {
                        try emit(batch(part.rows, first: first))
                        first += part.rows.filenames.count
                        line += part.lines
                    }
                    row += total
                    return
                }
                // Undo, then let the sequential parse report the first problem exactly.
                var undone = 0
                outer: for part in parts {
                    for name in part.rows.filenames {
                        if undone == inserted { break outer }
                        seen.remove(name)
                        undone += 1
                    }
                }
            }
        }
        var cursor = RowCursor(p: s, end: e, line: line, row: row, limits: limits)
        var rows = CSVRows()
        rows.extra = Array(repeating: [], count: nExtra)
        try cursor.readRows(layout: layout, into: &rows, isLast: isLast, seen: &seen)
        let first = row + 1
        line = cursor.line
        row = cursor.row
        if !rows.filenames.isEmpty { try emit(batch(rows, first: first)) }
    }

    /// Parses the pieces on their own threads (no duplicate check); nil if any piece fails.
    private static func parallelParts(layout: CSVLayout, splits: [UnsafePointer<UInt8>], end: UnsafePointer<UInt8>,
                                      isLast: Bool, limits: Limits) -> [(rows: CSVRows, lines: Int)]? {
        let k = splits.count
        let results = ParallelSlots<(rows: CSVRows, lines: Int)>(count: k)
        // Each piece writes only its own slot; the pointers stay valid for the whole call.
        nonisolated(unsafe) let bounds = splits.enumerated().map { i, s in (s, i + 1 < k ? splits[i + 1] : end) }
        concurrentPerformFixed(k) { i in
            let (s, e) = bounds[i]
            // Line 1 relative to the piece, so the cursor counts the piece's line breaks.
            var cursor = RowCursor(p: s, end: e, line: 1, row: 0, limits: limits)
            var rows = CSVRows()
            rows.extra = Array(repeating: [], count: layout.header.extraColumns.count)
            var noSeen: [String: Int] = [:]
            do throws(EmbeddingCSVError) {
                try cursor.readRows(layout: layout, into: &rows, isLast: isLast && i == k - 1, seen: &noSeen, checkDuplicates: false)
                results.set(i, (rows, cursor.line - 1))
            } catch {
                results.set(i, nil)
            }
        }
        var out: [(rows: CSVRows, lines: Int)] = []
        out.reserveCapacity(k)
        for i in 0 ..< k {
            guard let r = results.get(i) else { return nil }
            out.append(r)
        }
        return out
    }
}

/// The read window of `parseStream`: `[pos, filled)` is unparsed input.
struct StreamWindow {
    var base: UnsafeMutablePointer<UInt8>
    var capacity: Int
    var pos = 0
    var filled = 0
    var eof = false
    /// The longest row (the window's limit) accepted.
    static let maxCapacity = 256 << 20

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    func deallocate() { base.deallocate() }

    /// Reads until the window is full or the input ends.
    mutating func fill(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        while filled < capacity && !eof {
            let n = try read(UnsafeMutableRawBufferPointer(start: base + filled, count: capacity - filled))
            if n <= 0 { eof = true } else { filled += n }
        }
    }

    /// Moves the unparsed bytes to the start.
    mutating func compact() {
        if pos == 0 { return }
        let rest = filled - pos
        if rest > 0 { UnsafeMutableRawPointer(base).copyMemory(from: base + pos, byteCount: rest) }
        filled = rest
        pos = 0
    }

    /// Frees space for more input when no complete row fits: compacts, or doubles the window.
    mutating func makeRoom(limits: EmbeddingCSV.Limits, row: Int, line: Int) throws(EmbeddingCSVError) {
        if pos > 0 { compact(); return }
        guard capacity < StreamWindow.maxCapacity else {
            let at = line > 0 ? "row \(row) (line \(line))" : "row \(row)"
            throw EmbeddingCSVError(kind: .limit, line: line > 0 ? line : nil, row: row,
                                    message: "\(at): a row longer than \(StreamWindow.maxCapacity >> 20) MiB")
        }
        let bigger = min(capacity * 2, StreamWindow.maxCapacity)
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: bigger)
        b.update(from: base, count: filled)
        base.deallocate()
        base = b
        capacity = bigger
    }

    /// Offset just past the first line feed outside quotes in `[from, to)`.
    static func firstRowEnd(_ b: UnsafeMutablePointer<UInt8>, from: Int, to: Int) -> Int? {
        var inQuotes = false
        var i = from
        while i < to {
            let c = b[i]
            if c == UInt8(ascii: "\"") { inQuotes.toggle() } else if c == UInt8(ascii: "\n") && !inQuotes { return i + 1 }
            i += 1
        }
        return nil
    }

    /// Where to cut `[from, to)` (which starts at a row boundary) so that only whole rows
    /// are parsed: just past the last row's line break outside quotes. A run of empty lines
    /// at the cut stays in the window: at the end of input they are allowed, before more rows
    /// they are an error, and only the next read tells which. nil: no complete row yet.
    static func lastRowEnd(_ b: UnsafeMutablePointer<UInt8>, from: Int, to: Int) -> Int? {
        let lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r"), quote = UInt8(ascii: "\"")
        var last: Int? = nil
        if CSVParse.countQuotes(UnsafePointer(b + from), UnsafePointer(b + to)) == 0 {
            var i = to - 1
            while i >= from { if b[i] == lf { last = i; break }; i -= 1 }
        } else {
            var inQuotes = false
            var i = from
            while i < to {
                let c = b[i]
                if c == quote { inQuotes.toggle() } else if c == lf && !inQuotes { last = i }
                i += 1
            }
        }
        guard let lfAt = last else { return nil }
        var runStart = lfAt
        while runStart > from && (b[runStart - 1] == lf || b[runStart - 1] == cr) { runStart -= 1 }
        if runStart == from { return nil }      // only line breaks so far: wait for more input
        if b[runStart] == lf { return runStart + 1 }
        if b[runStart] == cr && runStart + 1 < to && b[runStart + 1] == lf { return runStart + 2 }
        return lfAt + 1                           // a bare CR: the parser reports it
    }
}
