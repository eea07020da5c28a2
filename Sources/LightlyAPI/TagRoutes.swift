import HTTPKit
import LightlyCore
import LightlyStorage
import LightlyWire

/// The name the client looks up (docs/protocol.md §5).
public let initialTagName = "initial-tag"

extension LightlyApplication {
    /// Tags (docs/protocol.md §5) and bitmask rules (docs/protocol.md §5).
    func registerTagRoutes(_ r: inout Router) {
        r.get("/v1/datasets/:datasetId/tags") { ctx in try ctx.app.listTags(ctx) }
        r.post("/v1/datasets/:datasetId/tags") { ctx in try ctx.app.createTag(ctx) }
        r.post("/v1/datasets/:datasetId/tags/initial") { ctx in try ctx.app.createInitialTag(ctx) }
        r.post("/v1/datasets/:datasetId/tags/upsize") { ctx in try ctx.app.upsizeTags(ctx) }
        r.post("/v1/datasets/:datasetId/tags/arithmetics") { ctx in try ctx.app.tagArithmetics(ctx) }
        r.post("/v1/datasets/:datasetId/tags/arithmetics/bitmask") { ctx in try ctx.app.tagArithmeticsBitmask(ctx) }
        r.get("/v1/datasets/:datasetId/tags/:tagId") { ctx in
            let (ds, tag) = try ctx.app.ownedTag(ctx)
            var wire = tag.wire
            wire.totSize = ds.nSamples
            return try .json(wire)
        }
        r.put("/v1/datasets/:datasetId/tags/:tagId") { ctx in try ctx.app.renameTag(ctx) }
        r.delete("/v1/datasets/:datasetId/tags/:tagId") { ctx in try ctx.app.deleteTag(ctx) }
        r.get("/v1/datasets/:datasetId/tags/:tagId/filenames") { ctx in
            let ds = try ctx.params.require("datasetId")
            let tid = try ctx.params.require("tagId")
            let (tag, mapping) = try ctx.readDataset { conn, _ in
                return (try ctx.app.requireTag(tid, datasetId: ds, conn: conn), try ctx.app.mappings.mapping(ds, conn: conn))
            }
            let names = tag.bitmask.indices.lazy.filter { $0 < mapping.count }.map { mapping.fileNames[$0] }
            return try .json(Array(names))
        }
    }

    // MARK: - Shared helpers (also for the jobs module)

    /// Tags of a dataset in creation order.
    public func tags(of datasetId: String, conn: Connection) throws -> [TagRow] {
        try TagStore.list(datasetId: datasetId, conn)
    }

    /// The dataset's `initial-tag`, if any.
    public func initialTag(of datasetId: String, conn: Connection) throws -> TagRow? {
        try TagStore.named(initialTagName, datasetId: datasetId, conn)
    }

    /// Parses a client bitmask (docs/protocol.md §5: `0x` optional, any case) and rejects bits ≥ `width`.
    /// - Throws: 400 `BAD_REQUEST` naming the field.
    public func parseBitMask(_ hex: String, width: Int, field: String = "bitMaskData") throws -> BitMask {
        guard let m = BitMask(hex: hex) else { throw APIError.malformed("\(field) is not a hexadecimal bitmask") }
        guard m.bitWidth <= width else {
            throw APIError.badRequest("\(field) sets bit \(m.bitWidth - 1) but the dataset has only \(width) samples",
                                      code: .datasetTagInvalid)
        }
        return m
    }

    /// Inserts a tag at the end of the dataset's creation order and bumps the dataset's
    /// `lastModifiedAt`. Call inside a write transaction. See ``LightlyApplication/insertTag(conn:datasetId:name:prevTagId:queryTagId:preselectedTagId:bitmask:totSize:creator:changes:now:)``.
    @discardableResult
    public func insertTag(conn: Connection, datasetId: String, name: String, prevTagId: String?,
                          queryTagId: String? = nil, preselectedTagId: String? = nil,
                          bitmask: BitMask, totSize: Int, creator: TagCreator?, changes: JSONValue? = nil) throws -> String {
        try Self.insertTag(conn: conn, datasetId: datasetId, name: name, prevTagId: prevTagId, queryTagId: queryTagId,
                           preselectedTagId: preselectedTagId, bitmask: bitmask, totSize: totSize, creator: creator,
                           changes: changes)
    }

    /// The same without an application (for the job runner): appends the tag in creation
    /// order (`seq`), stores `changes` verbatim and bumps the dataset's `lastModifiedAt`.
    /// - Returns: The new tag id.
    /// - Throws: 409 `TAG_NAME_EXISTS` if the name is taken in this dataset.
    @discardableResult
    public static func insertTag(conn: Connection, datasetId: String, name: String, prevTagId: String?,
                                 queryTagId: String? = nil, preselectedTagId: String? = nil,
                                 bitmask: BitMask, totSize: Int, creator: TagCreator?, changes: JSONValue? = nil,
                                 now: Int64 = Timestamp.now()) throws -> String {
        if try TagStore.nameExists(name, datasetId: datasetId, conn) {
            throw APIError.conflict(.tagNameExists, "a tag named \"\(name)\" already exists in dataset \(datasetId)")
        }
        let id = ObjectID.generate(seconds: UInt32(truncatingIfNeeded: now / 1000))
        try TagStore.insert(id: id, datasetId: datasetId, name: name, prevTagId: prevTagId, queryTagId: queryTagId,
                            preselectedTagId: preselectedTagId, bitmask: bitmask, totSize: totSize, creator: creator,
                            changes: changes, now: now, conn)
        try touchDataset(datasetId, conn: conn, now: now)
        return id
    }

    // MARK: - Handlers

    private func ownedTag(_ ctx: RequestContext) throws -> (DatasetRow, TagRow) {
        let ds = try ctx.params.require("datasetId")
        let tid = try ctx.params.require("tagId")
        return try ctx.readDataset { conn, d in
            return (d, try requireTag(tid, datasetId: ds, conn: conn))
        }
    }

    /// Creation order, initial tag first; every tag reports `totSize` = the current N. No
    /// release pages this list, but `pageSize` / `pageOffset` are honoured, not ignored.
    private func listTags(_ ctx: RequestContext) throws -> HTTPResponse {
        let page = try ctx.paging()
        let (d, rows) = try ctx.readDataset { conn, d in (d, try tags(of: d.id, conn: conn)) }
        return try .json(page.slice(rows).map { t -> TagData in
            var w = t.wire
            w.totSize = d.nSamples
            return w
        })
    }

    /// `initial-tag` with all current samples; sets the dataset's `imgType` (docs/protocol.md §5).
    private func createInitialTag(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let req = try ctx.decode(InitialTagCreateRequest.self)
        guard ImageType.known.contains(req.imgType) else {
            throw APIError.malformed("imgType must be one of full, thumbnail, meta, got \"\(req.imgType.rawValue)\"")
        }
        let id = try ctx.writeDataset { conn, d -> String in
            if try initialTag(of: ds, conn: conn) != nil {
                throw APIError.conflict(.tagInitialExists, "dataset \(ds) already has an initial tag")
            }
            let id = try insertTag(conn: conn, datasetId: ds, name: initialTagName, prevTagId: nil,
                                   bitmask: .full(count: d.nSamples), totSize: d.nSamples, creator: req.creator)
            try DatasetStore.setImageType(req.imgType.rawValue, id: ds, conn)
            return id
        }
        return try .json(CreateEntityResponse(id: id), status: .created)
    }

    /// Upsize (docs/protocol.md §5): `totSize = N` on all tags, the initial tag extended to all N samples, and a
    /// new tag with bits N_old … N−1 whose `prevTagId` is the initial tag.
    private func upsizeTags(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let req = try ctx.decode(TagUpsizeRequest.self)
        let name = try validName(req.upsizeTagName, what: "tag")
        let id = try ctx.writeDataset { conn, d -> String in
            guard let initial = try initialTag(of: ds, conn: conn) else {
                throw APIError.badRequest("dataset \(ds) has no initial tag to upsize", code: .tagNoTagInDataset)
            }
            let n = d.nSamples
            let oldN = min(initial.totSize, n)
            let now = Timestamp.now()
            try TagStore.setTotSize(n, datasetId: ds, now: now, conn)
            try TagStore.setBitmask(.full(count: n), id: initial.id, conn)
            let added = BitMask.full(count: n).subtracting(.full(count: oldN))
            return try insertTag(conn: conn, datasetId: ds, name: name, prevTagId: initial.id,
                                 bitmask: added, totSize: n, creator: req.upsizeTagCreator)
        }
        return try .json(CreateEntityResponse(id: id), status: .created)
    }

    /// UNION / INTERSECTION / DIFFERENCE (docs/protocol.md §5). The strict releases (1.4.8+,
    /// told by their `User-Agent`, ``ClientRelease/isStrict(userAgent:)``) parse a oneOf and
    /// get exactly one shape: `{id}` when a tag was created, `{bitMaskData}` otherwise. Every
    /// other client gets both fields (1.1.6–1.1.18 read `bitMaskData`, 1.1.19+ read `id`).
    private func tagArithmetics(_ ctx: RequestContext) throws -> HTTPResponse {
        let (mask, id, created) = try arithmetics(ctx, storeNewTag: true)
        let status: HTTPStatus = created ? .created : .ok
        guard ClientRelease.isStrict(userAgent: ctx.request.headers["User-Agent"]) else {
            return try .json(TagArithmeticsResponse(bitMaskData: mask.hexString, id: id), status: status)
        }
        return created ? try .json(CreateEntityResponse(id: id), status: status)
                       : try .json(TagBitMaskResponse(bitMaskData: mask.hexString), status: status)
    }

    /// `POST .../tags/arithmetics/bitmask` (1.2.1+, `get_filenames_in_tag(exclude_parent_tag=True)`):
    /// the same arithmetic, answered as `TagBitMaskResponse`; never creates a tag.
    private func tagArithmeticsBitmask(_ ctx: RequestContext) throws -> HTTPResponse {
        let (mask, _, _) = try arithmetics(ctx, storeNewTag: false)
        return try .json(TagBitMaskResponse(bitMaskData: mask.hexString))
    }

    /// UNION / INTERSECTION / DIFFERENCE of two tags of the dataset; with `newTagName` (and
    /// `storeNewTag`) the result is stored as a tag whose parent is `tagId1`.
    /// - Returns: the bitmask, the new tag's id (a fresh unused id when none was created), and
    ///   whether a tag was created.
    private func arithmetics(_ ctx: RequestContext, storeNewTag: Bool) throws -> (BitMask, String, Bool) {
        let ds = try ctx.params.require("datasetId")
        let req = try ctx.decode(TagArithmeticsRequest.self)
        let compute: (BitMask, BitMask) throws -> BitMask
        switch req.operation {
        case .union: compute = { $0.union($1) }
        case .intersection: compute = { $0.intersection($1) }
        case .difference: compute = { $0.subtracting($1) }
        default: throw APIError.malformed("operation must be UNION, INTERSECTION or DIFFERENCE, got \"\(req.operation.rawValue)\"")
        }
        let newName = storeNewTag ? req.newTagName : nil
        if let n = newName { _ = try validName(n, what: "tag") }
        let work = { (conn: Connection, d: DatasetRow) throws -> (BitMask, String, Bool) in
            let t1 = try self.requireTag(req.tagId1, datasetId: ds, conn: conn)
            let t2 = try self.requireTag(req.tagId2, datasetId: ds, conn: conn)
            let result = try compute(t1.bitmask, t2.bitmask)
            guard let newName else { return (result, self.newID(), false) }
            let id = try Self.insertTag(conn: conn, datasetId: ds, name: newName, prevTagId: t1.id, bitmask: result,
                                        totSize: d.nSamples, creator: req.creator ?? .unknown)
            return (result, id, true)
        }
        return newName == nil ? try ctx.readDataset(work) : try ctx.writeDataset(work)
    }

    /// `POST .../tags` (TagCreateRequest; used by 1.2.x).
    private func createTag(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let req = try ctx.decode(TagCreateRequest.self)
        let name = try validName(req.name, what: "tag")
        let id = try ctx.writeDataset { conn, d -> String in
            guard try TagStore.exists(id: req.prevTagId, datasetId: ds, conn) else {
                throw APIError.badRequest("prevTagId \(req.prevTagId) is not a tag of dataset \(ds)", code: .tagPrevtagNotInDataset)
            }
            if let q = req.queryTagId, try !TagStore.exists(id: q, datasetId: ds, conn) {
                throw APIError.badRequest("queryTagId \(q) is not a tag of dataset \(ds)", code: .tagQuerytagNotInDataset)
            }
            if let p = req.preselectedTagId, try !TagStore.exists(id: p, datasetId: ds, conn) {
                throw APIError.badRequest("preselectedTagId \(p) is not a tag of dataset \(ds)", code: .tagPreselectedtagNotInDataset)
            }
            let mask = try parseBitMask(req.bitMaskData, width: d.nSamples)
            return try insertTag(conn: conn, datasetId: ds, name: name, prevTagId: req.prevTagId,
                                 queryTagId: req.queryTagId, preselectedTagId: req.preselectedTagId,
                                 bitmask: mask, totSize: d.nSamples, creator: req.creator, changes: req.changes)
        }
        return try .json(CreateEntityResponse(id: id), status: .created)
    }

    private func renameTag(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let tid = try ctx.params.require("tagId")
        let req = try ctx.decode(TagUpdateRequest.self)
        let name = try validName(req.name, what: "tag")
        try ctx.writeDataset { conn, _ in
            let tag = try requireTag(tid, datasetId: ds, conn: conn)
            guard tag.name != name else { return }
            guard tag.name != initialTagName, name != initialTagName else {
                throw APIError.badRequest("the initial tag cannot be renamed, and no tag can take its name")
            }
            if try TagStore.nameExists(name, datasetId: ds, conn) {
                throw APIError.conflict(.tagNameExists, "a tag named \"\(name)\" already exists in dataset \(ds)")
            }
            let now = Timestamp.now()
            try TagStore.rename(id: tid, to: name, now: now, conn)
            try touchDataset(ds, conn: conn, now: now)
        }
        return .emptyObject()
    }

    /// Deletes a leaf tag that is not the initial tag (its scores go with it).
    private func deleteTag(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let tid = try ctx.params.require("tagId")
        try ctx.writeDataset { conn, _ in
            let tag = try requireTag(tid, datasetId: ds, conn: conn)
            if tag.name == initialTagName {
                throw APIError.badRequest("the initial tag cannot be deleted", code: .tagUndeletableIsInitial)
            }
            if try TagStore.hasChildren(tid, datasetId: ds, conn) {
                throw APIError.badRequest("tag \(tid) has child tags and cannot be deleted", code: .tagUndeletableNotALeaf)
            }
            try TagStore.delete(id: tid, conn)
            try touchDataset(ds, conn: conn)
        }
        return .emptyObject()
    }
}
