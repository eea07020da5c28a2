#if canImport(FoundationEssentials)
import LightlyCore
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    /// Samples, signed image URLs, registerDatasetUpload, mappings (docs/protocol.md §7, §5).
    func registerSampleRoutes(_ r: inout Router) {
        r.post("/v1/datasets/:datasetId/samples") { ctx in try ctx.app.createSample(ctx) }
        r.get("/v1/datasets/:datasetId/samples") { ctx in try ctx.app.listSamples(ctx) }
        // Registered before `samples/:sampleId`, but it is the literal segment that wins
        // (Router: literal beats parameter), not the order.
        r.get("/v1/datasets/:datasetId/samples/partial") { ctx in try ctx.app.listSamplesPartial(ctx) }
        r.get("/v1/datasets/:datasetId/samples/:sampleId") { ctx in
            let (_, s) = try ctx.app.ownedSample(ctx)
            return try .json(s.wire)
        }
        r.put("/v1/datasets/:datasetId/samples/:sampleId") { ctx in try ctx.app.updateSample(ctx) }
        r.get("/v1/datasets/:datasetId/samples/:sampleId/writeurl") { ctx in
            let (ds, s) = try ctx.app.ownedSample(ctx)
            let thumb = try ctx.queryBool("isThumbnail", default: false)
            let target = SignedTarget(kind: "sample", datasetId: ds, objectId: s.id, variant: thumb ? "thumbnail" : "full")
            return .jsonString(ctx.app.signedURL(.PUT, target, ctx: ctx))
        }
        r.get("/v1/datasets/:datasetId/samples/:sampleId/writeurls") { ctx in
            let (ds, s) = try ctx.app.ownedSample(ctx)
            let full = SignedTarget(kind: "sample", datasetId: ds, objectId: s.id, variant: "full")
            let thumb = SignedTarget(kind: "sample", datasetId: ds, objectId: s.id, variant: "thumbnail")
            return try .json(SampleWriteUrls(full: ctx.app.signedURL(.PUT, full, ctx: ctx),
                                             thumb: ctx.app.signedURL(.PUT, thumb, ctx: ctx)))
        }
        r.get("/v1/datasets/:datasetId/samples/:sampleId/readurl") { ctx in
            let (ds, s) = try ctx.app.ownedSample(ctx)
            // Only `type=full` is sent by 1.1.x; anything else means the thumbnail (docs/protocol.md §7).
            let isFull = (ctx.query("type") ?? "full") == "full"
            if isFull {
                guard s.fullBlobId != nil else {
                    throw APIError.notFound(.notFound, "no full image was uploaded for sample \(s.id)")
                }
            } else if s.thumbBlobId == nil {
                throw APIError.notFound(.sampleThumbnameUnknown, "no thumbnail was uploaded for sample \(s.id)")
            }
            let target = SignedTarget(kind: "sample", datasetId: ds, objectId: s.id, variant: isFull ? "full" : "thumbnail")
            return .jsonString(ctx.app.signedURL(.GET, target, ctx: ctx))
        }
        r.put("/v1/datasets/:datasetId/registerDatasetUpload") { ctx in try ctx.app.registerDatasetUpload(ctx) }
        r.get("/v1/datasets/:datasetId/mappings") { ctx in try ctx.app.getMappings(ctx) }
    }

    /// The dataset id and the sample, after the ownership check.
    private func ownedSample(_ ctx: RequestContext) throws -> (String, SampleRow) {
        let ds = try ctx.params.require("datasetId")
        let sid = try ctx.params.require("sampleId")
        let sample = try ctx.readDataset { conn, _ in
            return try requireSample(sid, datasetId: ds, conn: conn)
        }
        return (ds, sample)
    }

    /// `metaData.sizeInBytes` as a non-negative integer, else 0.
    static func sizeInBytes(_ metaData: JSONValue?) -> Int {
        guard let v = metaData?["sizeInBytes"]?.intValue, v > 0, v < Int64(Int.max / 2) else { return 0 }
        return Int(v)
    }

    /// Appends a sample to the mapping order: `idx` = the dataset's `n_samples`, read and
    /// incremented inside one immediate write transaction, so concurrent uploads get dense,
    /// unique indices.
    private func createSample(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let req = try ctx.decode(SampleCreateRequest.self)
        guard !req.fileName.isEmpty else { throw APIError.malformed("fileName must not be empty") }
        let size = Self.sizeInBytes(req.metaData)
        let id = newID()
        do {
            try ctx.writeDataset { conn, dataset in
                guard dataset.nSamples < settings.maxDatasetSamples else {
                    throw APIError.badRequest("dataset \(ds) is at its maximum of \(settings.maxDatasetSamples) samples",
                                              code: .datasetAtMaxCapacity)
                }
                let now = Timestamp.now()
                try SampleStore.append(id: id, datasetId: ds, idx: dataset.nSamples, fileName: req.fileName,
                                       thumbName: req.thumbName, metaData: req.metaData?.serialized(),
                                       exif: req.exif?.serialized(), customMetaData: req.customMetaData?.serialized(),
                                       size: size, now: now, conn)
                mappings.invalidate(ds)
            }
        } catch let e as StorageError where e.isUniqueViolation {
            throw APIError.conflict(.sampleFileNameExists, "a sample named \"\(req.fileName)\" already exists in dataset \(ds)")
        }
        mappings.invalidate(ds)
        return try .json(CreateEntityResponse(id: id), status: .created)
    }

    /// The dataset's samples in mapping order, optionally only those named `fileName`, paged.
    private func sampleRows(_ ctx: RequestContext) throws -> [SampleRow] {
        let ds = try ctx.params.require("datasetId")
        let (limit, offset) = try ctx.paging().sqlLimitOffset
        return try ctx.readDataset { conn, _ -> [SampleRow] in
            return try SampleStore.list(datasetId: ds, fileName: ctx.query("fileName"), limit: limit, offset: offset, conn)
        }
    }

    /// `GET .../samples` (1.1.15–1.2.25): full `SampleData`; `mode` is ignored like the
    /// platform did for this route.
    private func listSamples(_ ctx: RequestContext) throws -> HTTPResponse {
        try .json(sampleRows(ctx).map(\.wire))
    }

    /// `GET .../samples/partial` (1.2.26+): `SampleDataModes` with the fields `mode` selects
    /// (`ids`, `fileNames`, `full`; default `full`).
    private func listSamplesPartial(_ ctx: RequestContext) throws -> HTTPResponse {
        let mode = SamplePartialMode(rawValue: ctx.query("mode") ?? "full")
        guard SamplePartialMode.known.contains(mode) else {
            throw APIError.malformed("mode must be one of ids, fileNames, full, got \"\(mode.rawValue)\"")
        }
        return try .json(sampleRows(ctx).map { SampleDataModes($0.wire.strictMetaData, mode: mode) })
    }

    /// Replaces the fields present in the body (the client sends only `customMetaData`).
    private func updateSample(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let sid = try ctx.params.require("sampleId")
        let req = try ctx.decode(SampleUpdateRequest.self)
        if let f = req.fileName, f.isEmpty { throw APIError.malformed("fileName must not be empty") }
        do {
            try ctx.writeDataset { conn, _ in
                let s = try requireSample(sid, datasetId: ds, conn: conn)
                let now = Timestamp.now()
                var meta: (json: String, size: Int)?
                if let m = req.metaData {
                    let size = Self.sizeInBytes(m)
                    meta = (m.serialized(), size)
                    try DatasetStore.addSize(size - s.sizeInBytes, id: ds, conn)
                }
                try SampleStore.update(id: sid, fileName: req.fileName, thumbName: req.thumbName,
                                       exif: req.exif?.serialized(), customMetaData: req.customMetaData?.serialized(),
                                       metaData: meta, now: now, conn)
                try touchDataset(ds, conn: conn, now: now)
                if req.fileName != nil { mappings.invalidate(ds) }
            }
        } catch let e as StorageError where e.isUniqueViolation {
            throw APIError.conflict(.sampleFileNameExists, "a sample named \"\(req.fileName ?? "")\" already exists in dataset \(ds)")
        }
        if req.fileName != nil { mappings.invalidate(ds) }
        return .emptyObject()
    }

    /// Stores the `JobStatusMeta` body; always 2xx for a valid request (1.1.22+ abort otherwise).
    private func registerDatasetUpload(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let bytes = try ctx.bodyBytes(limit: settings.maxJSONBodyBytes)
        let meta = bytes.isEmpty ? JSONValue.object([:]) : try JSONValue.parse(bytes)
        try ctx.writeDataset { conn, _ in
            try DatasetStore.recordUpload(datasetId: ds, meta: meta.serialized(), now: Timestamp.now(), conn)
        }
        return .emptyObject()
    }

    /// `field=fileName` → file names, `field=_id` → sample ids, in mapping order (docs/protocol.md §5).
    private func getMappings(_ ctx: RequestContext) throws -> HTTPResponse {
        let ds = try ctx.params.require("datasetId")
        let field = try ctx.requireQuery("field")
        guard field == "fileName" || field == "_id" else {
            throw APIError.malformed("field must be fileName or _id, got \"\(field)\"")
        }
        let page = try ctx.paging()
        let m = try ctx.readDataset { conn, _ in
            return try mappings.mapping(ds, conn: conn)
        }
        if page == .all {
            return HTTPResponse(status: .ok, contentType: "application/json",
                                body: Data(field == "_id" ? m.sampleIdsJSON : m.fileNamesJSON))
        }
        // Paged (1.5.0+): slice the cached lists.
        return try .json(page.slice(field == "_id" ? m.sampleIds : m.fileNames))
    }
}
