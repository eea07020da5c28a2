#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyCore
import LightlyStorage
import LightlyWire
import Logging

// `POST /_admin/seed` and `GET /_admin/snapshot` (docs/admin.md): one document format,
// docs/admin-seed.schema.json, read by `SeedDocument` and written by `snapshotDocument`.

extension LightlyApplication {
    /// `POST /_admin/seed`, `GET /_admin/snapshot`.
    func registerAdminSeedRoutes(_ r: inout Router) {
        r.admin(.POST, "/_admin/seed") { ctx in
            let doc = try SeedDocument(try ctx.adminDocument("seed document"))
            let created = try ctx.app.seed(doc, logger: ctx.logger)
            return .json(created, status: .created)
        }
        r.admin(.GET, "/_admin/snapshot") { ctx in
            let doc = try ctx.app.database.read { conn in try ctx.app.snapshotDocument(conn) }
            return .json(doc)
        }
    }

    // MARK: - Snapshot

    /// The whole state (users with token digests, datasets with samples, embeddings, tags and
    /// scores) as a seed document. Deterministic: the same state gives the same bytes.
    func snapshotDocument(_ conn: Connection) throws -> JSONValue {
        func ts(_ v: Int64?) -> JSONValue { v.map { .integer($0) } ?? .null }
        func str(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
        func json(_ text: String?) -> JSONValue { text.flatMap { try? JSONValue.parse($0) } ?? .null }
        let obj = jsonObject
        let users = try AdminStore.users(conn)
        let tokens = try AdminStore.tokens(conn)
        let userName = Dictionary(users.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var out: [(String, JSONValue)] = [("version", .integer(SeedDocument.version))]
        out.append(("users", .array(users.map { u in
            obj([("id", .string(u.id)), ("name", .string(u.name)), ("email", str(u.email)), ("createdAt", .integer(u.createdAt)),
                 ("tokens", .array(tokens.filter { $0.userId == u.id }.map { t in
                     obj([("name", .string(t.name)), ("sha256", .string(Crypto.hex(t.sha256))),
                          ("createdAt", .integer(t.createdAt)), ("revokedAt", ts(t.revokedAt))])
                 }))])
        })))
        var datasets: [JSONValue] = []
        for d in try AdminStore.datasets(conn) {
            let samples = try AdminStore.samples(datasetId: d.id, conn)
            let names = samples.map(\.fileName)
            let tags = try TagStore.list(datasetId: d.id, conn)
            let tagName = Dictionary(tags.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            var embeddings: [JSONValue] = []
            for e in try EmbeddingStore.list(datasetId: d.id, conn) {
                var m: [(String, JSONValue)] = [("id", .string(e.id)), ("name", .string(e.name)), ("createdAt", .integer(Int64(e.createdAt)))]
                if e.isProcessed, let rows = e.rowCount, let dim = e.dimension {
                    let matrix = try EmbeddingStore.loadMatrix(embeddingId: e.id, rows: rows, dimension: dim, conn)
                    let values: [JSONValue] = matrix.withUnsafeMutableFloats { f in
                        (0 ..< rows).map { i in
                            // The float's own shortest form: it reads back as the same float32.
                            .array((0 ..< dim).map { j in .double(Double("\(f[i * dim + j])") ?? Double(f[i * dim + j])) })
                        }
                    }
                    m.append(("rows", .array(values)))
                }
                embeddings.append(obj(m))
            }
            var tagValues: [JSONValue] = []
            for t in tags {
                let scores = try ScoreStore.list(tagId: t.id, conn)
                tagValues.append(obj([
                    ("id", .string(t.id)), ("name", .string(t.name)),
                    ("fileNames", .array(t.bitmask.indices.filter { $0 < names.count }.map { .string(names[$0]) })),
                    ("parent", str(t.prevTagId.flatMap { tagName[$0] })),
                    ("queryTag", str(t.queryTagId.flatMap { tagName[$0] })),
                    ("preselectedTag", str(t.preselectedTagId.flatMap { tagName[$0] })),
                    ("creator", str(t.creator)), ("changes", json(t.changes)), ("totSize", .integer(Int64(t.totSize))),
                    ("createdAt", .integer(t.createdAt)), ("lastModifiedAt", .integer(t.lastModifiedAt)),
                    ("scores", .array(scores.map { s in
                        obj([("id", .string(s.id)), ("scoreType", .string(s.scoreType)),
                             ("scores", .array(s.values.map { .double($0) })), ("createdAt", .integer(Int64(s.createdAt)))])
                    })),
                ]))
            }
            var share: JSONValue = .null
            if let s = try ShareStore.get(datasetId: d.id, conn) {
                share = obj([("id", .string(s.id)), ("emails", .array(s.users.map { .string($0) })),
                             ("createdAt", .integer(s.createdAt)), ("lastModifiedAt", .integer(s.lastModifiedAt))])
            }
            datasets.append(obj([
                ("id", .string(d.id)), ("owner", str(userName[d.userId])), ("name", .string(d.name)), ("type", .string(d.type)),
                ("imgType", str(d.imgType)), ("sizeInBytes", .integer(Int64(d.sizeInBytes))),
                ("createdAt", .integer(d.createdAt)), ("lastModifiedAt", .integer(d.lastModifiedAt)), ("share", share),
                ("samples", .array(samples.map { s in
                    obj([("id", .string(s.id)), ("fileName", .string(s.fileName)), ("thumbName", str(s.thumbName)),
                         ("metaData", json(s.metaData)), ("exif", json(s.exif)), ("customMetaData", json(s.customMetaData)),
                         ("sizeInBytes", .integer(Int64(s.sizeInBytes))), ("createdAt", .integer(s.createdAt)),
                         ("lastModifiedAt", .integer(s.lastModifiedAt))])
                })),
                ("embeddings", .array(embeddings)),
                ("tags", .array(tagValues)),
            ]))
        }
        out.append(("datasets", .array(datasets)))
        return obj(out)
    }

    // MARK: - Seed

    /// Creates the state a validated document describes, in one transaction (all or nothing).
    /// Users that already exist with the same name (and id, if given) are reused, and tokens
    /// that already exist with the same name, user and digest are kept, so a snapshot can be
    /// seeded again after a reset that kept the users.
    /// - Returns: the ids of what was created or matched: users by name, datasets with their
    ///   tags and embeddings.
    /// - Throws: 400 naming the document location of a bad reference, 409 for a conflict with
    ///   the stored state.
    func seed(_ doc: SeedDocument, logger: Logger) throws -> JSONValue {
        try admin.exclusive.withLock { _ in
            var written: [String] = []   // blob files to remove if the transaction fails
            do {
                let result = try database.write { conn in try AdminSeeder(app: self, conn: conn).run(doc, blobs: &written) }
                for d in doc.datasets { if let id = d.id { mappings.invalidate(id) } }
                logger.notice("admin seed", metadata: ["users": "\(doc.users.count)", "datasets": "\(doc.datasets.count)"])
                return result
            } catch {
                blobs.remove(written)
                throw error
            }
        }
    }
}

/// A JSON object with these members, in this order.
func jsonObject(_ members: [(String, JSONValue)]) -> JSONValue {
    .object(JSONObject(members: members.map { JSONObject.Member(key: $0.0, value: $0.1) }))
}

/// Writes a ``SeedDocument`` on one connection, inside the caller's transaction.
struct AdminSeeder {
    let app: LightlyApplication
    let conn: Connection

    func bad(_ path: String, _ message: String) -> APIError {
        APIError.malformed("seed document: \(path): \(message)")
    }
    func conflict(_ path: String, _ message: String) -> APIError {
        APIError.conflict(.badRequest, "seed document: \(path): \(message)")
    }

    /// A fresh id that no row of `table` has.
    func newID(_ table: String) throws -> String {
        while true {
            let id = app.newID()
            if try !AdminStore.idExists(id, in: table, conn) { return id }
        }
    }

    func run(_ doc: SeedDocument, blobs: inout [String]) throws -> JSONValue {
        var userIds: [String: String] = [:]
        var seenTokens = Set<String>()
        var created: [JSONObject.Member] = []
        for u in doc.users {
            guard userIds[u.name] == nil else { throw bad("\(u.path).name", "user \(u.name) is listed twice") }
            let email = try u.email.map { e -> String in
                do { return try UserStore.normalize(email: e) } catch { throw bad("\(u.path).email", "\(error)") }
            }
            let id: String
            if let existing = try AdminStore.user(named: u.name, conn) {
                if let want = u.id, want != existing.id {
                    throw conflict("\(u.path).id", "a user named \(u.name) exists with another id")
                }
                if let email, email != existing.email {
                    throw conflict("\(u.path).email", "a user named \(u.name) exists with another e-mail")
                }
                id = existing.id
            } else {
                id = try u.id ?? newID("users")
                if try AdminStore.idExists(id, in: "users", conn) { throw conflict("\(u.path).id", "another user has the id \(id)") }
                try AdminStore.insertUser(.init(id: id, name: u.name, email: email, createdAt: u.createdAt ?? Timestamp.now()), conn)
            }
            userIds[u.name] = id
            created.append(.init(key: u.name, value: .string(id)))
            for t in u.tokens {
                let name = t.name ?? u.name
                guard seenTokens.insert(name).inserted else { throw bad("\(t.path).name", "token \(name) is listed twice") }
                let digest = t.sha256 ?? Crypto.sha256(Array((t.token ?? "").utf8))
                if let existing = try AdminStore.token(named: name, orDigest: digest, conn) {
                    guard existing.name == name, existing.userId == id, existing.sha256 == digest else {
                        throw conflict(t.path, "a token with this name or value already exists")
                    }
                    continue
                }
                try AdminStore.insertToken(.init(userId: id, name: name, sha256: digest, createdAt: t.createdAt ?? Timestamp.now(),
                                                 revokedAt: t.revokedAt), conn)
            }
        }

        var datasetsOut: [JSONValue] = []
        var datasetKeys = Set<String>()
        var ids = Set<String>()
        func claim(_ id: String, _ path: String, table: String) throws {
            guard ids.insert(id).inserted else { throw bad(path, "the id \(id) is used twice") }
            if try AdminStore.idExists(id, in: table, conn) { throw conflict(path, "the id \(id) already exists") }
        }
        for d in doc.datasets {
            guard let owner = try userIds[d.owner] ?? AdminStore.user(named: d.owner, conn)?.id else {
                throw bad("\(d.path).owner", "no user named \(d.owner) (list it under users)")
            }
            guard datasetKeys.insert("\(owner)/\(d.name)").inserted,
                  try !AdminStore.datasetNameTaken(d.name, userId: owner, conn) else {
                throw conflict("\(d.path).name", "\(d.owner) already has a dataset named \(d.name)")
            }
            let datasetId = try d.id ?? newID("datasets")
            try claim(datasetId, "\(d.path).id", table: "datasets")
            guard d.samples.count <= app.settings.maxDatasetSamples else {
                throw bad("\(d.path).samples", "\(d.samples.count) samples; a dataset may hold at most \(app.settings.maxDatasetSamples)")
            }
            let createdAt = d.createdAt ?? Timestamp.now()
            var index: [String: Int] = [:]
            var total = 0
            for (i, s) in d.samples.enumerated() {
                guard index[s.fileName] == nil else { throw bad("\(s.path).fileName", "\(s.fileName) is listed twice") }
                index[s.fileName] = i
                total += s.sizeInBytes ?? LightlyApplication.sizeInBytes(s.metaData)
            }
            try AdminStore.insertDataset(id: datasetId, userId: owner, name: d.name, type: d.type ?? "Images", imgType: d.imgType,
                                         nSamples: d.samples.count, sizeInBytes: d.sizeInBytes ?? total,
                                         createdAt: createdAt, lastModifiedAt: d.lastModifiedAt ?? createdAt, conn)
            if let share = d.share {
                var emails: [String] = []
                for (i, e) in share.emails.enumerated() {
                    let n: String
                    do { n = try UserStore.normalize(email: e) } catch { throw bad("\(d.path).share.emails[\(i)]", "\(error)") }
                    guard !emails.contains(n) else { throw bad("\(d.path).share.emails[\(i)]", "\(n) is listed twice") }
                    emails.append(n)
                }
                let id = try share.id ?? newID("dataset_shares")
                try claim(id, "\(d.path).share.id", table: "dataset_shares")
                let at = share.createdAt ?? Timestamp.now()
                try AdminStore.insertShare(.init(id: id, users: emails, createdAt: at, lastModifiedAt: share.lastModifiedAt ?? at),
                                           datasetId: datasetId, conn)
            }
            for (i, s) in d.samples.enumerated() {
                let id = try s.id ?? newID("samples")
                try claim(id, "\(s.path).id", table: "samples")
                let at = s.createdAt ?? Timestamp.now()
                try AdminStore.insertSample(id: id, datasetId: datasetId, idx: i, fileName: s.fileName, thumbName: s.thumbName,
                                            metaData: (s.metaData ?? .object([:])).serialized(), exif: s.exif?.serialized(),
                                            customMetaData: s.customMetaData?.serialized(),
                                            sizeInBytes: s.sizeInBytes ?? LightlyApplication.sizeInBytes(s.metaData),
                                            createdAt: at, lastModifiedAt: s.lastModifiedAt ?? at, conn)
            }
            var embeddingsOut: [JSONValue] = []
            for (k, e) in d.embeddings.enumerated() {
                let id = try e.id ?? newID("embeddings")
                try claim(id, "\(e.path).id", table: "embeddings")
                let at = e.createdAt ?? Timestamp.now()
                try AdminStore.insertEmbedding(id: id, datasetId: datasetId, seq: k + 1, name: e.name, createdAt: at, conn)
                if let (values, dim) = try matrix(e, samples: d.samples, index: index) {
                    let n = d.samples.count
                    try EmbeddingStore.storeMatrix(embeddingId: id, rows: n, dimension: dim, conn) { i, dst in
                        for j in 0 ..< dim { dst[j] = values[i * dim + j] }
                    }
                    let csv = EmbeddingCSV.write(filenames: d.samples.map(\.fileName), values: values, dimension: dim,
                                                 labels: Array(repeating: 0, count: n))
                    let blob = try app.blobs.store(bytes: csv)
                    blobs.append(blob.id)
                    try BlobRecords.insert(id: blob.id, datasetId: datasetId, kind: "csv", size: blob.size, now: at, conn)
                    try EmbeddingStore.setCSVBlob(blob.id, embeddingId: id, conn)
                }
                embeddingsOut.append(jsonObject([("name", .string(e.name)), ("id", .string(id))]))
            }
            // Tags: ids first, so parents may be named in any order.
            var tagIds: [String: String] = [:]
            for t in d.tags {
                guard tagIds[t.name] == nil else { throw bad("\(t.path).name", "tag \(t.name) is listed twice in this dataset") }
                let id = try t.id ?? newID("tags")
                try claim(id, "\(t.path).id", table: "tags")
                tagIds[t.name] = id
            }
            var tagsOut: [JSONObject.Member] = []
            for (seq, t) in d.tags.enumerated() {
                func ref(_ name: String?, _ field: String) throws -> String? {
                    guard let name else { return nil }
                    guard let id = tagIds[name] else { throw bad("\(t.path).\(field)", "no tag named \(name) in this dataset") }
                    return id
                }
                var bits: [Int] = []
                for (i, f) in t.fileNames.enumerated() {
                    guard let idx = index[f] else { throw bad("\(t.path).fileNames[\(i)]", "no sample named \(f) in this dataset") }
                    bits.append(idx)
                }
                let totSize = t.totSize ?? d.samples.count
                guard (bits.max() ?? -1) < totSize else {
                    throw bad("\(t.path).totSize", "\(totSize) is smaller than the tag's samples need")
                }
                let id = tagIds[t.name] ?? ""
                let at = t.createdAt ?? Timestamp.now()
                try AdminStore.insertTag(id: id, datasetId: datasetId, seq: seq, name: t.name,
                                         prevTagId: try ref(t.parent, "parent"), queryTagId: try ref(t.queryTag, "queryTag"),
                                         preselectedTagId: try ref(t.preselectedTag, "preselectedTag"),
                                         bitmask: BitMask(indices: bits), totSize: totSize, creator: t.creator ?? "USER_PIP",
                                         changes: t.changes?.serialized(), createdAt: at, lastModifiedAt: t.lastModifiedAt ?? at, conn)
                var types = Set<String>()
                var lastScoreAt: Int64 = 0
                for s in t.scores {
                    guard types.insert(s.scoreType).inserted else { throw bad("\(s.path).scoreType", "\(s.scoreType) is listed twice on this tag") }
                    if let message = ScoreStore.validationError(scores: s.scores, n: d.samples.count) {
                        throw bad("\(s.path).scores", message)
                    }
                    let sid = try s.id ?? newID("scores")
                    try claim(sid, "\(s.path).id", table: "scores")
                    let sat = s.createdAt ?? max(Timestamp.now(), lastScoreAt + 1)
                    lastScoreAt = sat
                    try AdminStore.insertScore(id: sid, datasetId: datasetId, tagId: id, scoreType: s.scoreType, scores: s.scores,
                                               createdAt: sat, conn)
                }
                tagsOut.append(.init(key: t.name, value: .string(id)))
            }
            datasetsOut.append(jsonObject([
                ("owner", .string(d.owner)), ("name", .string(d.name)), ("id", .string(datasetId)),
                ("tags", .object(JSONObject(members: tagsOut))), ("embeddings", .array(embeddingsOut)),
            ]))
        }
        return jsonObject([("users", .object(JSONObject(members: created))), ("datasets", .array(datasetsOut))])
    }

    /// The matrix of an embedding in mapping order (row i = sample i), or nil when it has none.
    func matrix(_ e: SeedDocument.Embedding, samples: [SeedDocument.Sample], index: [String: Int]) throws -> ([Float], Int)? {
        let n = samples.count
        let limit = app.settings.embeddingCSVLimits.maxValues
        if let rows = e.rows {
            guard rows.count == n else { throw bad("\(e.path).rows", "\(rows.count) rows for \(n) samples (one row per sample, in order)") }
            guard let dim = rows.first?.count, dim > 0 else { throw bad("\(e.path).rows", "rows need at least one value") }
            guard n * dim <= limit else { throw bad("\(e.path).rows", "more than \(limit) values") }
            var values: [Float] = []
            values.reserveCapacity(n * dim)
            for (i, r) in rows.enumerated() {
                guard r.count == dim else { throw bad("\(e.path).rows[\(i)]", "\(r.count) values; row 0 has \(dim)") }
                values += r
            }
            return (values, dim)
        }
        guard let csv = e.csv else { return nil }
        let parsed: ParsedEmbeddingCSV
        do { parsed = try EmbeddingCSV.parse(Array(csv.utf8), limits: app.settings.embeddingCSVLimits) } catch {
            throw bad("\(e.path).csv", "\(error)")
        }
        guard parsed.rowCount == n else { throw bad("\(e.path).csv", "\(parsed.rowCount) rows for \(n) samples") }
        let dim = parsed.dimension
        var values = [Float](repeating: 0, count: n * dim)
        for (r, name) in parsed.filenames.enumerated() {
            guard let i = index[name] else { throw bad("\(e.path).csv", "row \(r + 1): no sample named \(name) in this dataset") }
            for j in 0 ..< dim { values[i * dim + j] = parsed.values[r * dim + j] }
        }
        return (values, dim)
    }
}
