import LightlyCore


/// SQL for the `samples` table (and the image rows of `blobs`). Every function runs on the
/// caller's connection, inside the caller's transaction.
public enum SampleStore {
    /// Sample `id` if it belongs to the dataset.
    public static func get(id: String, datasetId: String, _ conn: Connection) throws -> SampleRow? {
        try conn.queryOne("SELECT \(SampleRow.columns) FROM samples WHERE id = ? AND dataset_id = ?", id, datasetId)
            .map { try SampleRow(row: $0) }
    }

    /// N: the number of samples of the dataset (the mapping length).
    public static func count(datasetId: String, _ conn: Connection) throws -> Int {
        try conn.queryOne("SELECT count(*) FROM samples WHERE dataset_id = ?", datasetId)?.int(0) ?? 0
    }

    /// Ids and file names of the dataset's samples in mapping order (`idx`).
    public static func mapping(datasetId: String, _ conn: Connection) throws -> (ids: [String], fileNames: [String]) {
        let rows = try conn.query("SELECT id, file_name FROM samples WHERE dataset_id = ? ORDER BY idx", datasetId)
        var names = [String](); names.reserveCapacity(rows.count)
        var ids = [String](); ids.reserveCapacity(rows.count)
        for r in rows { ids.append(try r.string(0)); names.append(try r.string(1)) }
        return (ids, names)
    }

    /// The dataset's samples in mapping order (`idx`), optionally only those named `fileName`, one page.
    public static func list(datasetId: String, fileName: String?, limit: Int64, offset: Int64,
                            _ conn: Connection) throws -> [SampleRow] {
        let rows: [Row]
        if let fileName {
            rows = try conn.query("SELECT \(SampleRow.columns) FROM samples WHERE dataset_id = ? AND file_name = ? ORDER BY idx LIMIT ? OFFSET ?",
                                  datasetId, fileName, limit, offset)
        } else {
            rows = try conn.query("SELECT \(SampleRow.columns) FROM samples WHERE dataset_id = ? ORDER BY idx LIMIT ? OFFSET ?",
                                  datasetId, limit, offset)
        }
        return try rows.map { try SampleRow(row: $0) }
    }

    /// The samples of the dataset among `ids` (any order; unknown ids are skipped), queried in
    /// chunks below SQLite's bound-parameter limit.
    public static func rows(ids: [String], datasetId: String, _ conn: Connection) throws -> [SampleRow] {
        try rows(where: "id", ids.map { .text($0) }, datasetId: datasetId, conn)
    }

    /// The samples of the dataset at the mapping positions `indices` (any order; positions
    /// without a sample are skipped), through the `(dataset_id, idx)` index: a page of a large
    /// dataset costs the page, not the dataset (an `id IN (…)` lookup may scan the dataset).
    public static func rows(indices: [Int], datasetId: String, _ conn: Connection) throws -> [SampleRow] {
        try rows(where: "idx", indices.map { .integer(Int64($0)) }, datasetId: datasetId, conn)
    }

    /// `… WHERE dataset_id = ? AND <column> IN (values)` in chunks below SQLite's bound-parameter limit.
    private static func rows(where column: String, _ values: [SQLValue], datasetId: String, _ conn: Connection) throws -> [SampleRow] {
        var out: [SampleRow] = []
        for start in stride(from: 0, to: values.count, by: 500) {
            let chunk = values[start..<min(start + 500, values.count)]
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try conn.query("SELECT \(SampleRow.columns) FROM samples WHERE dataset_id = ? AND \(column) IN (\(marks))",
                                      arguments: [.text(datasetId)] + chunk)
            for row in rows { out.append(try SampleRow(row: row)) }
        }
        return out
    }

    /// Appends a sample at `idx` and counts it (and `size`) in the dataset.
    ///
    /// The dataset's row is updated first: when two servers append to one dataset at once
    /// (PostgreSQL), both computed the same `idx` from the same `n_samples`, and the later one
    /// must fail on that row as a serialization conflict (retried with the new count), not on
    /// the `(dataset_id, idx)` key as a unique violation (which would answer 409 as if the file
    /// name were taken).
    /// - Throws: a unique violation when the file name is taken in the dataset.
    public static func append(id: String, datasetId: String, idx: Int, fileName: String, thumbName: String?,
                              metaData: String?, exif: String?, customMetaData: String?, size: Int, now: Int64,
                              _ conn: Connection) throws {
        try conn.run("""
            UPDATE datasets SET n_samples = n_samples + 1, size_in_bytes = size_in_bytes + ?, last_modified_at = ?
            WHERE id = ?
            """, size, now, datasetId)
        try conn.run("""
            INSERT INTO samples (id, dataset_id, idx, file_name, thumb_name, meta_data, exif, custom_meta_data,
                                 size_in_bytes, created_at, last_modified_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, id, datasetId, idx, fileName, thumbName, metaData, exif, customMetaData, size, now, now)
    }

    /// Sets the given fields of sample `id` (nil = unchanged; JSON fields as text) and its
    /// `last_modified_at`. `metaData` comes with its `size_in_bytes`.
    /// - Throws: a unique violation when the new file name is taken.
    public static func update(id: String, fileName: String?, thumbName: String?, exif: String?, customMetaData: String?,
                              metaData: (json: String, size: Int)?, now: Int64, _ conn: Connection) throws {
        var sets: [String] = ["last_modified_at = ?"]
        var args: [SQLValue] = [.integer(now)]
        if let f = fileName { sets.append("file_name = ?"); args.append(.text(f)) }
        if let t = thumbName { sets.append("thumb_name = ?"); args.append(.text(t)) }
        if let e = exif { sets.append("exif = ?"); args.append(.text(e)) }
        if let c = customMetaData { sets.append("custom_meta_data = ?"); args.append(.text(c)) }
        if let m = metaData {
            sets.append("meta_data = ?"); args.append(.text(m.json))
            sets.append("size_in_bytes = ?"); args.append(.integer(Int64(m.size)))
        }
        args.append(.text(id))
        _ = try conn.run("UPDATE samples SET \(sets.joined(separator: ", ")) WHERE id = ?", arguments: args)
    }

    /// The columns of a sample's image variant: the blob id in `column` (`full_blob_id` or
    /// `thumb_blob_id`, never user input), file name and thumbnail name; nil when the sample
    /// is not in the dataset.
    public static func image(column: String, id: String, datasetId: String,
                             _ conn: Connection) throws -> (blobId: String?, fileName: String, thumbName: String?)? {
        guard let row = try conn.queryOne("SELECT \(column) AS blob, file_name, thumb_name FROM samples WHERE id = ? AND dataset_id = ?",
                                          id, datasetId) else { return nil }
        return (try row.stringOrNil("blob"), try row.string("file_name"), try row.stringOrNil("thumb_name"))
    }

    /// Points `column` of sample `id` at the new blob `blobId` (recording its row in `blobs`) and
    /// deletes the row of the blob it replaces.
    /// - Returns: `.some(previous blob id or nil)`, or nil (nothing changed) when the sample is not in the dataset.
    public static func replaceImage(column: String, id: String, datasetId: String, blobId: String, kind: String,
                                    size: Int, now: Int64, _ conn: Connection) throws -> String?? {
        guard let row = try conn.queryOne("SELECT \(column) AS blob FROM samples WHERE id = ? AND dataset_id = ?",
                                          id, datasetId) else { return nil }
        let previous = try row.stringOrNil("blob")
        try BlobRecords.insert(id: blobId, datasetId: datasetId, kind: kind, size: size, now: now, conn)
        try conn.run("UPDATE samples SET \(column) = ?, last_modified_at = ? WHERE id = ?", blobId, now, id)
        if let previous { try BlobRecords.delete(id: previous, conn) }
        return .some(previous)
    }

    /// Calls `body` with each file name of the dataset in mapping order, streaming (no array of rows).
    public static func forEachFileName(datasetId: String, _ conn: Connection, _ body: (String) throws -> Void) throws {
        try conn.withCursor("SELECT file_name FROM samples WHERE dataset_id = ? ORDER BY idx", arguments: [.text(datasetId)]) { rows in
            while try rows.next() {
                guard case .text(let name) = try rows.value(at: 0) else { continue }
                try body(name)
            }
        }
    }

    /// Rows per multi-row INSERT of ``insertFirst(fileNames:datasetId:now:_:)``: 6 bound
    /// parameters a row, 768 a statement, far below SQLite's limit of 32766 (and the 999 of
    /// old builds); one statement per 128 rows instead of per row is most of the win.
    public static let insertBatchRows = 128

    /// Inserts one bare sample per file name, in order, at `idx` 0, 1, … (the dataset's first
    /// samples, made by an embedding upload). Does not count them in the dataset
    /// (``DatasetStore/setSampleCount(_:id:now:_:)``).
    public static func insertFirst(fileNames names: [String], datasetId: String, now: Int64, _ conn: Connection) throws {
        let seconds = UInt32(truncatingIfNeeded: now / 1000)
        // Ascending ids: random ones land all over the primary-key index, and at 1M rows SQLite's
        // page cache then spills and re-reads index pages for every insert (most of the ingest).
        var ids = ObjectID.ascending(count: names.count, seconds: seconds)
        func statement(rows: Int) -> String {
            let tuple = "(?, ?, ?, ?, '{}', 0, ?, ?)"
            return "INSERT INTO samples(id, dataset_id, idx, file_name, meta_data, size_in_bytes, created_at, last_modified_at) VALUES "
                + Array(repeating: tuple, count: rows).joined(separator: ", ")
        }
        let batch = insertBatchRows
        let full = names.count / batch
        let rest = names.count % batch
        var arguments: [SQLValue] = []
        arguments.reserveCapacity(batch * 6)
        if full > 0 {
            let sql = statement(rows: batch)
            for b in 0 ..< full {
                try rowArguments(&arguments, names: names, from: b * batch, count: batch, ids: &ids, datasetId: datasetId, now: now)
                try conn.run(sql, arguments: arguments)
            }
        }
        if rest > 0 {
            try rowArguments(&arguments, names: names, from: full * batch, count: rest, ids: &ids, datasetId: datasetId, now: now)
            try conn.run(statement(rows: rest), arguments: arguments)
        }
    }

    /// Replaces `arguments` with those of rows `from ..< from + count` of an
    /// ``insertFirst(fileNames:datasetId:now:_:)`` statement (the array's storage is reused).
    private static func rowArguments(_ arguments: inout [SQLValue], names: [String], from: Int, count: Int,
                                     ids: inout ObjectID.AscendingIDs, datasetId: String, now: Int64) throws {
        arguments.removeAll(keepingCapacity: true)
        let dataset = SQLValue.text(datasetId), time = SQLValue.integer(now)
        for i in from ..< from + count {
            guard let id = ids.next() else { throw StorageError.invalidArgument("ran out of sample ids") }
            arguments.append(.text(id))
            arguments.append(dataset)
            arguments.append(.integer(Int64(i)))
            arguments.append(.text(names[i]))
            arguments.append(time)
            arguments.append(time)
        }
    }
}
