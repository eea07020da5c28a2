import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    /// Datasets (docs/openapi.yaml).
    func registerDatasetRoutes(_ r: inout Router) {
        r.get("/v1/datasets") { ctx in try ctx.app.listDatasets(ctx) }
        r.get("/v1/datasets/enriched") { ctx in try ctx.app.listDatasets(ctx, enriched: true) }
        // `dataset_name_exists`, `get_datasets_by_name`, `set_dataset_id_by_name` (1.2.36+):
        // always a list, `[]` when nothing matches (a 404 breaks `create_dataset`).
        r.get("/v1/datasets/query/name/:datasetName") { ctx in try ctx.app.queryDatasetsByName(ctx) }
        // `/v1/datasets/` (1.1.0–1.1.16) collapses to the same path segments.
        r.post("/v1/datasets") { ctx in try ctx.app.createDataset(ctx) }
        r.get("/v1/datasets/:datasetId") { ctx in
            try .json(ctx.readDataset { _, dataset in dataset }.wire)
        }
        r.put("/v1/datasets/:datasetId") { ctx in try ctx.app.renameDataset(ctx) }
        r.delete("/v1/datasets/:datasetId") { ctx in try ctx.app.deleteDataset(ctx) }
        r.get("/v1/datasets/:datasetId/datasource") { ctx in
            // 1.2.10+ tolerate a 404 here and assume a Lightly-hosted datasource (docs/COVERAGE.md).
            let id = try ctx.readDataset { _, dataset in dataset.id }
            throw APIError.notFound(.datasetDatasourceUnknown, "dataset \(id) has no datasource configured")
        }
    }

    /// Which datasets a list request covers. `shared=True` lists the datasets other users
    /// shared with the caller; `getAssetsOfTeam=True` ("the team's rather than the user's")
    /// lists nothing, as this server has no teams; otherwise the caller's own
    /// (`getAssetsOfTeamInclusiveSelf=True` included). Every flag is validated (400 on a bad
    /// spelling), and `excludePlayground` changes nothing.
    enum Listing { case own, sharedWithMe, nothing }

    func listing(_ ctx: RequestContext) throws -> Listing {
        let shared = try ctx.queryBool("shared", default: false)
        let team = try ctx.queryBool("getAssetsOfTeam", default: false)
        _ = try ctx.queryBool("getAssetsOfTeamInclusiveSelf", default: false)
        _ = try ctx.queryBool("excludePlayground", default: false)
        if team { return .nothing }
        return shared ? .sharedWithMe : .own
    }

    /// The datasets `listing` covers for `user`, with an extra SQL condition on `d` (and its
    /// bindings), by (createdAt, id), one page.
    private func datasets(_ listing: Listing, user: User, where extra: String = "1 = 1", _ extraArgs: [SQLValue] = [],
                          page: PageRequest) throws -> [DatasetData] {
        try datasets(listing, user: user, where: extra, extraArgs, page: page) { ds, _ in ds }
    }

    /// The same page, each dataset turned by `transform` inside the same read transaction.
    func datasets<T>(_ listing: Listing, user: User, where extra: String = "1 = 1", _ extraArgs: [SQLValue] = [],
                             page: PageRequest, _ transform: (DatasetData, Connection) throws -> T) throws -> [T] {
        let scope: String, scopeArgs: [SQLValue]
        switch listing {
        case .nothing: return []
        case .own: (scope, scopeArgs) = ("d.user_id = ?", [.text(user.id)])
        case .sharedWithMe:
            (scope, scopeArgs) = ("d.user_id <> ? AND \(Self.datasetVisibleSQL)", [.text(user.id), .text(user.id), .text(user.id)])
        }
        let (limit, offset) = page.sqlLimitOffset
        return try database.read { conn in
            try DatasetStore.list(where: "\(scope) AND (\(extra))", arguments: scopeArgs + extraArgs,
                                  limit: limit, offset: offset, conn)
                .map { try transform($0.wire, conn) }
        }
    }

    /// `GET /v1/datasets` (and `/enriched`): by (createdAt, id), paged. `/enriched` answers
    /// `DatasetDataEnriched`: each dataset with its sample ids (mapping order) and its numbers
    /// of tags and embeddings.
    private func listDatasets(_ ctx: RequestContext, enriched: Bool = false) throws -> HTTPResponse {
        let user = try ctx.requireUser()
        var page = try ctx.paging()
        // `/enriched` of 1.1.x also knows a deprecated `limit` (= pageSize).
        if page.size == nil, let raw = ctx.query("limit") {
            guard let v = Int(raw), v >= 1 else { throw APIError.malformed("limit must be an integer ≥ 1, got \"\(raw)\"") }
            page.size = v
        }
        guard enriched else { return try .json(datasets(listing(ctx), user: user, page: page)) }
        return try .json(datasets(listing(ctx), user: user, page: page) { ds, conn in
            let nTags = try TagStore.count(datasetId: ds.id, conn)
            let nEmbeddings = try EmbeddingStore.count(datasetId: ds.id, conn)
            return DatasetDataEnriched(ds, samples: try mappings.mapping(ds.id, conn: conn).sampleIds,
                                       nTags: nTags, nEmbeddings: nEmbeddings)
        })
    }

    /// `GET /v1/datasets/query/name/{datasetName}`: `exact=True` → the datasets with exactly
    /// that name; otherwise every dataset whose name starts with it (what
    /// `create_new_dataset_with_unique_name` relies on). Paged like the list.
    private func queryDatasetsByName(_ ctx: RequestContext) throws -> HTTPResponse {
        let user = try ctx.requireUser()
        let name = try ctx.params.require("datasetName")
        let exact = try ctx.queryBool("exact", default: false)
        let page = try ctx.paging()
        // Prefix match without LIKE's wildcards: compare the leading characters.
        let (condition, args): (String, [SQLValue]) = exact
            ? ("d.name = ?", [.text(name)])
            : ("substr(d.name, 1, length(?)) = ?", [.text(name), .text(name)])
        return try .json(datasets(listing(ctx), user: user, where: condition, args, page: page))
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
                try DatasetStore.insert(id: id, userId: user.id, name: name, type: (req.type ?? .images).rawValue,
                                        imgType: req.imgType?.rawValue, now: now, conn)
            }
        } catch let e as StorageError where e.isUniqueViolation {
            throw APIError.conflict(.datasetNameExists, "a dataset named \"\(name)\" already exists")
        }
        return try .json(CreateEntityResponse(id: id), status: .created)
    }

    private func renameDataset(_ ctx: RequestContext) throws -> HTTPResponse {
        let id = try ctx.params.require("datasetId")
        let req = try ctx.decode(DatasetUpdateRequest.self)
        let name = try validName(req.name, what: "dataset")
        do {
            try ctx.writeOwnedDataset { conn, _ in
                try DatasetStore.rename(id: id, to: name, now: Timestamp.now(), conn)
            }
        } catch let e as StorageError where e.isUniqueViolation {
            throw APIError.conflict(.datasetNameExists, "a dataset named \"\(name)\" already exists")
        }
        return .emptyObject()
    }

    /// Deletes the dataset with its samples, tags, embeddings, scores, jobs (FK cascades) and
    /// then its blob files.
    private func deleteDataset(_ ctx: RequestContext) throws -> HTTPResponse {
        let id = try ctx.params.require("datasetId")
        let blobIds = try ctx.writeOwnedDataset { conn, _ -> [String] in
            let ids = try DatasetStore.blobIds(datasetId: id, conn)
            try DatasetStore.delete(id: id, conn)
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
