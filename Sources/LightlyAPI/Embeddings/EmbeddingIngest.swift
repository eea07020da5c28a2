#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import LightlyCore
import LightlyStorage

/// Why an embedding CSV upload was refused: every case leaves the stored data unchanged.
public enum EmbeddingIngestError: Error, Equatable, CustomStringConvertible {
    /// The CSV is malformed or does not match the dataset (400 `EMBEDDING_INVALID`). The
    /// message names the row and the reason, e.g. `row 17 (line 18): … is not a number`.
    case invalid(String)
    /// The embedding the URL was minted for no longer exists (404 `EMBEDDING_UNKNOWN`).
    case unknownEmbedding(String)
    /// The matrix does not fit the memory budget: never (413 `EMBEDDING_TOO_LARGE`) or not
    /// while other uploads and jobs hold it (503, retry). Raised as soon as the rows parsed so
    /// far (or the dataset's size, known from the header on) exceed it.
    case memory(MemoryBudgetError)

    public var description: String {
        switch self {
        case .invalid(let m): m
        case .unknownEmbedding(let id): "embedding \(id) not found"
        case .memory(let e): e.description
        }
    }
}

/// What a successful upload stored.
public struct EmbeddingIngestOutcome: Sendable {
    public var rows: Int
    public var dimension: Int
    /// Samples created because the dataset had none (0 otherwise).
    public var createdSamples: Int
    /// The CSV blob that the new one replaced; delete its file after the commit.
    public var replacedCSVBlobId: String?
    /// The new CSV blob.
    public var csvBlobId: String
    /// The stored matrix (mapping order, float32), for the embedding cache.
    public var matrix: EmbeddingMatrix
    /// What `commitTicket` returned inside the committed transaction (0 without one).
    public var ticket: UInt64 = 0
    /// The part of the memory budget that holds `matrix` (nil without a budget): hand it to
    /// ``EmbeddingCache/store(_:matrix:ticket:reservation:)``.
    public var reservation: EmbeddingCache.Reservation? = nil
    /// The embedding's stored version after this upload (``EmbeddingRecord/version``).
    public var version: Int = 0
    /// Where the time went, in ms: `samples` (reading the dataset's filenames), `parse`
    /// (read, validate, build the matrix), `reorder` (re-emit a shuffled CSV), then in the
    /// write transaction `wait` (for the writer), `insert_samples` (an empty dataset's samples
    /// and initial tag), `insert_matrix` (the float32 chunks) and `commit` (the CSV blob, the
    /// rest of the transaction and its commit).
    public var phases = JobPhases()
}

/// Where an uploaded embedding CSV is read from.
public enum EmbeddingCSVSource {
    /// A body held in memory.
    case bytes(UnsafeRawBufferPointer)
    /// A body spooled to a file (read in windows, never mapped or loaded whole).
    case file(path: String)
}

/// The CSV to keep for `readCSVUrl` (docs/protocol.md §8: same header and columns, mapping order).
public enum EmbeddingCSVBlob {
    /// The upload was already in mapping order: keep it byte for byte.
    case verbatim
    /// The upload was shuffled: this temporary file holds it re-emitted in mapping order.
    /// Move it into the store; it is deleted after `storeCSV` returns if it is still there.
    case reorderedFile(String)
}

/// Stores an uploaded embedding CSV (the signed PUT of docs/protocol.md §8).
///
/// The whole file is validated before anything is stored: the CSV itself (header, one
/// dimension, finite floats, unique filenames: the rules of `EmbeddingCSV.parse`), then the
/// filenames against the dataset (each sample exactly once). Nothing is committed until the
/// whole file has been read, so a bad last row still changes nothing: the embedding is
/// marked processed, its float32 chunks written and the CSV kept for `readCSVUrl` in **one**
/// write transaction, and any violation throws before it or rolls it back.
///
/// **Memory**: at most ``maxConcurrentIngests`` uploads are ingested at once. The file is read in windows of 16 MiB
/// (`EmbeddingCSV.parseStream`) and each row is copied straight into its final, mapping-order
/// row of one float32 matrix (``EmbeddingMatrixBuilder``), so the peak is the n×d matrix plus
/// O(n) filename bookkeeping, not the file, a parsed copy and a reordered copy. A shuffled
/// upload is re-emitted in mapping order into a temporary file, a few thousand rows at a time.
///
/// **Empty datasets** (server choice): when the dataset has no samples yet, the CSV's
/// filenames become its samples, in CSV order, with `metaData` `{}` and size 0, and the
/// dataset gets its `initial-tag` over all of them (`imgType` `meta`). The mapping order is
/// then the CSV order. This serves users who keep their images offline: embeddings alone make
/// a dataset that the agent can select from.
public enum EmbeddingIngest {
    /// Ingests that may run at once; more wait. Each holds an n×d float32 matrix plus O(n)
    /// filenames, so this (not the HTTP worker count) bounds the memory of parallel uploads.
    public static let maxConcurrentIngests = 2

    private static let slots = DispatchSemaphore(value: maxConcurrentIngests)

    /// `ingest(source:…)` over bytes in memory.
    public static func ingest(_ bytes: UnsafeRawBufferPointer, datasetId: String, embeddingId: String,
                              database: any SQLDatabase, limits: EmbeddingCSV.Limits = .default, parseThreads: Int = 1,
                              maxSamples: Int = .max, now: Int, scratchDirectory: String = defaultScratchDirectory,
                              storeCSV: (EmbeddingCSVBlob, Connection) throws -> String) throws -> EmbeddingIngestOutcome {
        try ingest(source: .bytes(bytes), datasetId: datasetId, embeddingId: embeddingId, database: database,
                   limits: limits, parseThreads: parseThreads, maxSamples: maxSamples, now: now,
                   scratchDirectory: scratchDirectory, storeCSV: storeCSV)
    }

    /// `$TMPDIR` or `/tmp`: where tests put the reordered CSV (the server uses `<data>/tmp`).
    public static var defaultScratchDirectory: String {
        if let t = getenv("TMPDIR"), t.pointee != 0 { return String(cString: t) }
        return "/tmp"
    }

    /// - Parameters:
    ///   - source: the uploaded file.
    ///   - datasetId, embeddingId: what the signed URL was minted for.
    ///   - maxSamples: the dataset quota (only checked when samples are created).
    ///   - scratchDirectory: where a reordered CSV is written before `storeCSV` moves it.
    ///   - storeCSV: persists the CSV blob inside the transaction and returns its blob id
    ///     (it must insert the `blobs` row with `conn`).
    /// - Throws: ``EmbeddingIngestError``, or storage and I/O errors.
    /// - Complexity: O(file size + n·d) time; n·d·4 bytes for the matrix plus O(n) for the
    ///   filenames, independent of the file size.
    public static func ingest(source: EmbeddingCSVSource, datasetId: String, embeddingId: String,
                              database: any SQLDatabase, limits: EmbeddingCSV.Limits = .default, parseThreads: Int = 1,
                              maxSamples: Int = .max, now: Int, scratchDirectory: String = defaultScratchDirectory,
                              windowBytes: Int = 16 << 20,
                              budget: EmbeddingCache? = nil,
                              commitTicket: (() -> UInt64)? = nil,
                              storeCSV: (EmbeddingCSVBlob, Connection) throws -> String) throws -> EmbeddingIngestOutcome {
        slots.wait()
        defer { slots.signal() }
        var phases = JobPhases()
        var t = JobPhases.monotonicNanos()
        // The dataset's samples in mapping order (empty: the CSV will create them).
        let samples = try database.read { conn in try SampleSlots.load(datasetId: datasetId, conn) }
        t = phases.lap("samples", since: t)
        let parsed = try parse(source, samples: samples, limits: limits, threads: parseThreads, maxSamples: maxSamples,
                               windowBytes: windowBytes, budget: budget)
        t = phases.lap("parse", since: t)
        let n = parsed.rows, d = parsed.dimension
        let matrix = parsed.matrix

        // A shuffled upload is re-emitted in mapping order before the transaction.
        var reorderedPath: String? = nil
        defer { if let reorderedPath { FileIO.unlink(reorderedPath) } }
        if !parsed.inOrder {
            reorderedPath = try writeReordered(parsed, names: samples.names, directory: scratchDirectory)
        }
        t = phases.lap("reorder", since: t)

        var outcome = try database.write { conn in
            guard let embedding = try EmbeddingStore.get(id: embeddingId, datasetId: datasetId, conn) else {
                throw EmbeddingIngestError.unknownEmbedding(embeddingId)
            }
            let count = try DatasetStore.sampleCount(id: datasetId, conn)
            guard count == samples.names.count else {
                throw EmbeddingIngestError.invalid(
                    "the dataset's samples changed during the upload (\(samples.names.count) → \(count)); upload the embeddings again")
            }
            var created = 0
            if samples.names.isEmpty {
                // Tags of an empty dataset have totSize 0; new samples would break that invariant.
                if try TagStore.any(datasetId: datasetId, conn) {
                    throw EmbeddingIngestError.invalid("the dataset has tags but no samples; upload the samples before the embeddings")
                }
                guard n <= maxSamples else {
                    throw EmbeddingIngestError.invalid("the CSV has \(n) rows but a dataset may hold at most \(maxSamples) samples")
                }
                t = phases.lap("wait", since: t)
                try createSamples(parsed.createdNames, datasetId: datasetId, now: now, conn)
                t = phases.lap("insert_samples", since: t)
                // …and the initial tag over all of them (imgType `meta`: there are no images), so the
                // dataset is ready for an ActiveLearningAgent straight away.
                try LightlyApplication.insertTag(conn: conn, datasetId: datasetId, name: initialTagName, prevTagId: nil,
                                                 bitmask: .full(count: n), totSize: n, creator: "USER_PIP", now: Int64(now))
                try DatasetStore.setImageType("meta", id: datasetId, conn)
                created = n
            }
            if created == 0 { t = phases.lap("wait", since: t) }
            try matrix.withUnsafeMutableFloats { values in
                guard let base = values.baseAddress else { return }
                try EmbeddingStore.storeMatrix(embeddingId: embeddingId, rows: n, dimension: d, conn) { i, dst in
                    dst.baseAddress?.update(from: base + i * d, count: d)
                }
            }
            t = phases.lap("insert_matrix", since: t)
            let blobId = try storeCSV(reorderedPath.map { .reorderedFile($0) } ?? .verbatim, conn)
            try EmbeddingStore.setCSVBlob(blobId, embeddingId: embeddingId, conn)
            try DatasetStore.raiseLastModified(id: datasetId, to: Int64(now), conn)
            return EmbeddingIngestOutcome(rows: n, dimension: d, createdSamples: created,
                                          replacedCSVBlobId: embedding.csvBlobId, csvBlobId: blobId, matrix: matrix,
                                          ticket: commitTicket?() ?? 0,
                                          version: try EmbeddingStore.versions(ids: [embeddingId], conn)[embeddingId] ?? 0)

        }
        phases.lap("commit", since: t)
        outcome.phases = phases
        outcome.reservation = parsed.reservation
        return outcome
    }

    /// About how many rows the CSV holds, from the line breaks in its first 64 KiB (at most
    /// `cap`; 0 when unknown). Only a capacity hint: a wrong guess costs a rehash or unused
    /// address space, never a wrong result.
    static func estimatedRows(_ source: EmbeddingCSVSource, fd: Int32, totalBytes: Int, cap: Int) -> Int {
        let probe = min(totalBytes, 64 << 10)
        guard probe > 0 else { return 0 }
        var head = [UInt8](repeating: 0, count: probe)
        let got: Int = head.withUnsafeMutableBytes { dst in
            switch source {
            case .bytes(let b):
                guard let src = b.baseAddress, let d = dst.baseAddress else { return 0 }
                d.copyMemory(from: src, byteCount: probe)
                return probe
            case .file:
                return max(0, pread(fd, dst.baseAddress, probe, 0))
            }
        }
        let lines = head[..<got].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        guard got > 0, lines > 1 else { return 0 }
        let estimate = Double(totalBytes) * Double(lines) / Double(got) * 1.05
        return Int(min(Double(cap), estimate))
    }

    /// A fully validated upload: the matrix in mapping order and what the CSV re-emission needs.
    struct Parsed {
        var rows: Int
        var dimension: Int
        var matrix: EmbeddingMatrix
        var header: EmbeddingCSVHeader
        /// Row i of the CSV is sample i.
        var inOrder: Bool
        /// The CSV's filenames in order when it creates the samples (empty dataset), else empty.
        var createdNames: [String]
        /// Per sample (mapping order), when the CSV has such columns.
        var labels: [Int]
        var extraValues: [[String]]
        /// The memory budget held for `matrix` (nil without a budget).
        var reservation: EmbeddingCache.Reservation?
    }

    /// Streams the CSV into a mapping-order matrix, validating everything (file order first,
    /// then the mapping: the first unknown CSV filename, then the first sample without a row).
    static func parse(_ source: EmbeddingCSVSource, samples: SampleSlots, limits: EmbeddingCSV.Limits, threads: Int,
                      maxSamples: Int, windowBytes: Int, budget: EmbeddingCache? = nil) throws -> Parsed {
        let totalBytes: Int
        var fd: Int32 = -1
        var path = ""
        switch source {
        case .bytes(let b): totalBytes = b.count
        case .file(let p):
            path = p
            fd = try FileIO.open(p, O_RDONLY)
            totalBytes = FileIO.fileSize(p) ?? 0
        }
        defer { if fd >= 0 { FileIO.close(fd) } }
        var offset = 0
        func read(_ into: UnsafeMutableRawBufferPointer) throws -> Int {
            switch source {
            case .file: return try FileIO.readSome(fd, into: into, path: path)
            case .bytes(let b):
                let k = min(into.count, b.count - offset)
                if k > 0, let src = b.baseAddress, let dst = into.baseAddress { dst.copyMemory(from: src + offset, byteCount: k) }
                offset += k
                return k
            }
        }

        let creating = samples.names.isEmpty
        var header: EmbeddingCSVHeader? = nil
        var builder: EmbeddingMatrixBuilder? = nil
        var d = 0
        var hasLabels = false
        var inOrder = true
        var createdNames: [String] = []
        var labels: [Int] = []
        var extraValues: [[String]] = []
        var firstUnknown: String? = nil
        var index = samples        // becomes the duplicate detector when the dataset has samples
        // The batch handler runs while `parseStream` holds `index` inout: it reads this shared
        // (copy-on-write, never mutated) dictionary instead.
        let slotOf = samples.slotOf
        var seen: [String: Int] = [:]
        // The matrix's share of the memory budget: the whole n×d×4 bytes as soon as the header
        // gives d when the dataset's size n is known, else grown as rows arrive.
        var reservation: EmbeddingCache.Reservation? = nil
        var reservedRows = 0
        func reserveRows(_ rows: Int) throws {
            guard let budget, rows > reservedRows else { return }
            let bytes = { (r: Int) -> Int in
                let (v, o1) = r.multipliedReportingOverflow(by: d)
                let (b, o2) = v.multipliedReportingOverflow(by: 4)
                return o1 || o2 ? Int.max : b
            }
            if reservation == nil { reservation = try budget.reserve(0) }
            guard let r = reservation else { return }
            // Grow in steps of a quarter (fewer lock round trips), exactly when a step does not fit.
            let step = min(max(rows, reservedRows + reservedRows / 4 + 65_536), builder?.capacityRows ?? rows)
            do {
                try r.grow(to: bytes(max(step, rows)))
                reservedRows = max(step, rows)
            } catch {
                try r.grow(to: bytes(rows))
                reservedRows = rows
            }
        }

        func onHeader(_ h: EmbeddingCSVHeader) throws {
            header = h
            d = h.embeddingColumns.count
            hasLabels = h.labelColumn != nil
            let capacity: Int
            if creating {
                // A row is at least one byte per column plus its separators and line break, so
                // this bounds the rows; the pages of rows never written cost nothing.
                capacity = min(maxSamples, totalBytes / (h.names.count + d) + 1, limits.maxRows)
            } else {
                capacity = samples.names.count
            }
            if !creating { try reserveRows(capacity) }
            builder = try EmbeddingMatrixBuilder(dimension: d, capacityRows: capacity)
            let slots = creating ? 0 : capacity
            if h.labelColumn != nil { labels = [Int](repeating: 0, count: slots) }
            extraValues = Array(repeating: creating ? [] : [String](repeating: "", count: slots), count: h.extraColumns.count)
        }
        func onRows(_ batch: EmbeddingCSVBatch) throws {
            guard let b = builder else { return }
            if creating { try reserveRows(min(b.capacityRows, batch.firstRow - 1 + batch.count)) }
            batch.values.withUnsafeBufferPointer { v in
                guard let src = v.baseAddress else { return }
                for i in 0 ..< batch.count {
                    let r = batch.firstRow + i
                    let slot: Int
                    if creating {
                        slot = r - 1
                        createdNames.append(batch.filenames[i])
                        if hasLabels { labels.append(batch.labels[i]) }
                        for c in extraValues.indices { extraValues[c].append(batch.extraValues[c][i]) }
                        // Rows above the quota are counted but not kept; the quota error follows.
                        guard slot < b.capacityRows else { continue }
                    } else {
                        guard let s = slotOf[batch.filenames[i]].map({ Int($0) }) else {
                            if firstUnknown == nil {
                                firstUnknown = "row \(r): filename \"\(batch.filenames[i])\" is not a sample of this dataset"
                            }
                            inOrder = false
                            continue
                        }
                        slot = s
                        if !labels.isEmpty { labels[slot] = batch.labels[i] }
                        for c in extraValues.indices { extraValues[c][slot] = batch.extraValues[c][i] }
                    }
                    if slot != r - 1 { inOrder = false }
                    b.row(slot).update(from: src + i * d, count: d)
                }
            }
        }

        if creating {
            // The duplicate detector would otherwise grow by doubling, rehashing every name
            // about twice (12 % of a 1M-row ingest); size it from the first 64 KiB's rows.
            seen.reserveCapacity(Self.estimatedRows(source, fd: fd, totalBytes: totalBytes,
                                                    cap: min(maxSamples, limits.maxRows)))
        }

        let rows: Int
        do {
            if creating {
                rows = try EmbeddingCSV.parseStream(limits: limits, threads: threads, windowBytes: windowBytes, seen: &seen, read: read,
                                                    header: onHeader, rows: onRows)
            } else {
                rows = try EmbeddingCSV.parseStream(limits: limits, threads: threads, windowBytes: windowBytes, seen: &index, read: read,
                                                    header: onHeader, rows: onRows)
            }
        } catch let e as EmbeddingCSVError {
            throw EmbeddingIngestError.invalid(e.message)
        } catch let e as EmbeddingMatrixBuilderError {
            throw EmbeddingIngestError.invalid("the embedding matrix does not fit in memory: \(e)")
        } catch let e as MemoryBudgetError {
            throw EmbeddingIngestError.memory(e)
        }
        guard rows > 0, let header, let builder else {
            throw EmbeddingIngestError.invalid("the embedding CSV has a header but no rows")
        }
        if let firstUnknown { throw EmbeddingIngestError.invalid(firstUnknown) }
        if !creating, let missing = index.firstEmptySlot() {
            throw EmbeddingIngestError.invalid(
                "filename \"\(samples.names[missing])\" is missing: the CSV has \(rows) rows but the dataset has \(samples.names.count) samples, and every sample needs exactly one row")
        }
        guard rows <= builder.capacityRows || (creating && rows > maxSamples) else {
            throw EmbeddingIngestError.invalid("internal: \(rows) rows above the estimated \(builder.capacityRows)")
        }
        let kept = min(rows, builder.capacityRows)
        return Parsed(rows: creating ? rows : samples.names.count, dimension: d, matrix: builder.finish(rows: kept),
                      header: header, inOrder: inOrder, createdNames: createdNames, labels: labels, extraValues: extraValues,
                      reservation: reservation)
    }

    /// Writes the upload re-emitted in mapping order (header as uploaded, Python `repr`
    /// floats, `\n` line ends) to a new file in `directory`, a few thousand rows at a time.
    static func writeReordered(_ p: Parsed, names: [String], directory: String) throws -> String {
        // A scratch name, not an entity id: random even when ids are seeded.
        var rng = SystemRandomNumberGenerator()
        let path = "\(directory)/embedding-\(ObjectID.generate(seconds: 0, using: &rng)).csv"
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        do {
            let hasLabels = p.header.labelColumn != nil
            let head = EmbeddingCSV.write(header: p.header, filenames: [], values: [], labels: hasLabels ? [] : nil,
                                          extraValues: p.header.extraColumns.map { _ in [] })
            try head.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
            let step = max(1, (4 << 20) / max(1, p.dimension * 4))
            try p.matrix.withUnsafeMutableFloats { values in
                var a = 0
                while a < p.rows {
                    let b = min(p.rows, a + step)
                    let bytes = EmbeddingCSV.write(
                        header: p.header, filenames: Array(names[a ..< b]),
                        values: Array(values[(a * p.dimension) ..< (b * p.dimension)]),
                        labels: hasLabels ? Array(p.labels[a ..< b]) : nil,
                        extraValues: p.extraValues.map { Array($0[a ..< b]) }, includeHeader: false)
                    try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
                    a = b
                }
            }
            FileIO.close(fd)
        } catch {
            FileIO.close(fd)
            FileIO.unlink(path)
            throw error
        }
        return path
    }

    /// Creates one sample per filename, in order, as the dataset's first samples.
    static func createSamples(_ names: [String], datasetId: String, now: Int, _ conn: Connection) throws {
        try SampleStore.insertFirst(fileNames: names, datasetId: datasetId, now: Int64(now), conn)
        try DatasetStore.setSampleCount(names.count, id: datasetId, now: Int64(now), conn)
    }
}


/// The dataset's samples in mapping order, indexed by filename, and which CSV row claimed
/// each one: the duplicate detector of the streamed parse when the dataset has samples (so
/// the filenames are hashed once, not in a second dictionary).
struct SampleSlots: EmbeddingCSVFilenameIndex {
    /// File names in mapping order.
    var names: [String] = []
    var slotOf: [String: Int32] = [:]
    /// The 1-based CSV row of each sample, 0 when none yet.
    var rowOf: [Int32] = []
    /// CSV filenames that are not samples (only in uploads that will be refused).
    var unknown: [String: Int] = [:]

    static func load(datasetId: String, _ conn: Connection) throws -> SampleSlots {
        var s = SampleSlots()
        let n = try DatasetStore.sampleCount(id: datasetId, conn)
        s.names.reserveCapacity(n)
        s.slotOf.reserveCapacity(n)
        try SampleStore.forEachFileName(datasetId: datasetId, conn) { name in
            s.slotOf[name] = Int32(truncatingIfNeeded: s.names.count)
            s.names.append(name)
        }
        s.rowOf = [Int32](repeating: 0, count: s.names.count)
        return s
    }

    mutating func insert(_ filename: String, row: Int) -> Int? {
        guard let s = slotOf[filename] else { return unknown.updateValue(row, forKey: filename) }
        let prev = rowOf[Int(s)]
        if prev != 0 { return Int(prev) }
        rowOf[Int(s)] = Int32(truncatingIfNeeded: row)
        return nil
    }

    mutating func remove(_ filename: String) {
        if let s = slotOf[filename] { rowOf[Int(s)] = 0 } else { unknown.removeValue(forKey: filename) }
    }

    mutating func reserve(_ count: Int) {}

    func firstEmptySlot() -> Int? { rowOf.firstIndex(of: 0) }
}
