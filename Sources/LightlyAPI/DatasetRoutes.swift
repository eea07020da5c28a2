import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    /// Datasets (docs/openapi.yaml).
    func registerDatasetRoutes(_ r: inout Router) {
        r.get("/v1/datasets") { ctx in try ctx.app.listDatasets(ctx) }
        r.get("/v1/datasets/enriched") { ctx in try ctx.app.listDatasets(ctx) }
        // `dataset_name_exists`, `get_datasets_by_name`, `set_dataset_id_by_name` (1.2.36+):
        // always a list, `[]` when nothing matches (a 404 breaks `create_dataset`).
        r.get("/v1/datasets/query/name/:datasetName") { ctx in try ctx.app.queryDatasetsByName(ctx) }
        // `/v1/datasets/` (1.1.0–1.1.16) collapses to the same path segments.
        r.post("/v1/datasets") { ctx in try ctx.app.createDataset(ctx) }
        r.get("/v1/datasets/:datasetId") { ctx in
            let user = try ctx.requireUser()
            let id = try ctx.params.require("datasetId")
            let ds = try ctx.app.database.read { conn in try ctx.app.requireDataset(id, for: user, conn: conn) }
            return try .json(ds.wire)
        }
        r.put("/v1/datasets/:datasetId") { ctx in try ctx.app.renameDataset(ctx) }
        r.delete("/v1/datasets/:datasetId") { ctx in try ctx.app.deleteDataset(ctx) }
        r.get("/v1/datasets/:datasetId/datasource") { ctx in
            // 1.2.10+ tolerate a 404 here and assume a Lightly-hosted datasource (docs/COVERAGE.md).
            let user = try ctx.requireUser()
            let id = try ctx.params.require("datasetId")
            _ = try ctx.app.database.read { conn in try ctx.app.requireDataset(id, for: user, conn: conn) }
            throw APIError.notFound(.datasetDatasourceUnknown, "dataset \(id) has no datasource configured")
        }
    }

    /// Which of the caller's datasets a list request covers. This server has no sharing and no
    /// teams: `shared=True` and `getAssetsOfTeam=True` ("the team's rather than the user's")
    /// list nothing; `getAssetsOfTeamInclusiveSelf=True` lists the caller's own. Every flag
    /// is validated (400 on a bad spelling), and `excludePlayground` changes nothing.
    private func ownsListing(_ ctx: RequestContext) throws -> Bool {
        let shared = try ctx.queryBool("shared", default: false)
        let team = try ctx.queryBool("getAssetsOfTeam", default: false)
        _ = try ctx.queryBool("getAssetsOfTeamInclusiveSelf", default: false)
        _ = try ctx.queryBool("excludePlayground", default: false)
        return !shared && !team
    }

    /// `GET /v1/datasets` (and `/enriched`): own datasets by (createdAt, id), paged.
    private func listDatasets(_ ctx: RequestContext) throws -> HTTPResponse {
        let user = try ctx.requireUser()
        var page = try ctx.paging()
        // `/enriched` of 1.1.x also knows a deprecated `limit` (= pageSize).
        if page.size == nil, let raw = ctx.query("limit") {
            guard let v = Int(raw), v >= 1 else { throw APIError.malformed("limit must be an integer ≥ 1, got \"\(raw)\"") }
            page.size = v
        }
        guard try ownsListing(ctx) else { return try .json([DatasetData]()) }
        let (limit, offset) = page.sqlLimitOffset
        let rows = try database.read { conn in
            try conn.query("SELECT \(DatasetRow.columns) FROM datasets WHERE user_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
                           user.id, limit, offset)
        }
        return try .json(rows.map { try DatasetRow(row: $0).wire })
    }

    /// `GET /v1/datasets/query/name/{datasetName}`: `exact=True` → the dataset with exactly
    /// that name; otherwise every dataset whose name starts with it (what
    /// `create_new_dataset_with_unique_name` relies on). Paged like the list.
    private func queryDatasetsByName(_ ctx: RequestContext) throws -> HTTPResponse {
        let user = try ctx.requireUser()
        let name = try ctx.params.require("datasetName")
        let exact = try ctx.queryBool("exact", default: false)
        let page = try ctx.paging()
        guard try ownsListing(ctx) else { return try .json([DatasetData]()) }
        let (limit, offset) = page.sqlLimitOffset
        let rows = try database.read { conn in
            if exact {
                return try conn.query("SELECT \(DatasetRow.columns) FROM datasets WHERE user_id = ? AND name = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
                                      user.id, name, limit, offset)
            }
            // Prefix match without LIKE's wildcards: compare the leading characters.
            return try conn.query("""
                SELECT \(DatasetRow.columns) FROM datasets WHERE user_id = ? AND substr(name, 1, length(?)) = ?
                ORDER BY created_at, id LIMIT ? OFFSET ?
                """, user.id, name, name, limit, offset)
        }
        return try .json(rows.map { try DatasetRow(row: $0).wire })
    }

    private func createDataset(_ ctx: RequestContext) throws -> HTTPResponse {
        let user = try ctx.requireUser()
        let req = try ctx.decode(DatasetCreateRequest.self)
        let name = try validName(req.name, what: "dataset")
        if let t = req.imgType, !ImageType.known.contains(t) {
            throw APIError.malformed("imgType must be one of full, thumbnail, meta")
        }
        let id = newID()
        let now = Timestamp.now()
        do {
            try database.write { conn in
                try conn.run("""
                    INSERT INTO datasets (id, user_id, name, type, img_type, n_samples, size_in_bytes, created_at, last_modified_at)
                    VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)
                    """, id, user.id, name, (req.type ?? .images).rawValue, req.imgType?.rawValue, now, now)
            }
        } catch let e as StorageError where e.isUniqueViolation {
            throw APIError.conflict(.datasetNameExists, "a dataset named \"\(name)\" already exists")
        }
        return try .json(CreateEntityResponse(id: id), status: .created)
    }

    private func renameDataset(_ ctx: RequestContext) throws -> HTTPResponse {
        let user = try ctx.requireUser()
        let id = try ctx.params.require("datasetId")
        let req = try ctx.decode(DatasetUpdateRequest.self)
        let name = try validName(req.name, what: "dataset")
        do {
            try database.write { conn in
                _ = try requireDataset(id, for: user, conn: conn)
                try conn.run("UPDATE datasets SET name = ?, last_modified_at = ? WHERE id = ?", name, Timestamp.now(), id)
            }
        } catch let e as StorageError where e.isUniqueViolation {
            throw APIError.conflict(.datasetNameExists, "a dataset named \"\(name)\" already exists")
        }
        return .emptyObject()
    }

    /// Deletes the dataset with its samples, tags, embeddings, scores, jobs (FK cascades) and
    /// then its blob files.
    private func deleteDataset(_ ctx: RequestContext) throws -> HTTPResponse {
        let user = try ctx.requireUser()
        let id = try ctx.params.require("datasetId")
        let blobIds = try database.write { conn -> [String] in
            _ = try requireDataset(id, for: user, conn: conn)
            let ids = try conn.query("SELECT id FROM blobs WHERE dataset_id = ?", id).map { try $0.string(0) }
            try conn.run("DELETE FROM datasets WHERE id = ?", id)
            mappings.invalidate(id)
            return ids
        }
        mappings.invalidate(id)
        blobs.remove(blobIds)
        return .emptyObject()
    }

    /// A non-empty name of at most 1000 characters without line breaks (kept as sent).
    func validName(_ raw: String, what: String) throws -> String {
        guard !raw.isEmpty, raw.count <= 1000, !raw.contains(where: { $0.isNewline }) else {
            throw APIError.malformed("\(what) name must be 1–1000 characters without line breaks")
        }
        return raw
    }
}
