#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyCore
import LightlyStorage
import LightlyWire

/// The id of an embedding's 2-D projection: a 24-hex ObjectId, as the strict clients (1.4.8+)
/// require, derived deterministically from the embedding and the method (the first 24 hex
/// digits of SHA-256 over `embeddingId/method`), so it is stable across requests. Nothing
/// looks a projection up by this id.
func projection2DId(embeddingId: String, method: String) -> String {
    String(Crypto.hex(Crypto.sha256(Array("\(embeddingId)/\(method)".utf8))).prefix(24))
}

/// The signed-URL kind of embedding CSVs: `/signed/csv/<datasetId>/<embeddingId>/csv`.
let csvSignedKind = "csv"

extension LightlyApplication {
    /// Embedding routes (docs/protocol.md §8) and the signed `csv` kind.
    ///
    /// - `GET  …/embeddings`: oldest first.
    /// - `GET  …/embeddings/writeCSVUrl?name=`: creates the (unprocessed) embedding and a
    ///   signed PUT URL. A name may repeat (1.2.x appends under new rows); clients pick by
    ///   name or take the last one.
    /// - `PUT  <signed csv URL>`: validates and stores the CSV (``EmbeddingIngest``); exactly
    ///   200, or 400 `EMBEDDING_INVALID` with the row and reason and nothing changed; 413
    ///   `EMBEDDING_TOO_LARGE` when the float32 matrix exceeds the memory budget, 503 when
    ///   other uploads and jobs hold the budget (``EmbeddingCache``).
    /// - `GET  …/embeddings/{id}/readCSVUrl`: signed GET URL of the stored CSV (mapping order).
    /// - `POST …/embeddings/{id}/trigger2dEmbeddingsJob`: queues a 2-D projection job
    ///   (``Embedding2DJobExecutor``: PCA for every method) and answers `{"jobId"}` at once.
    /// - `GET  …/embeddings/{id}/2d`: the stored projections as ``Embedding2dData``.
    func registerEmbeddingRoutes(_ r: inout Router) {
        r.get("/v1/datasets/:datasetId/embeddings") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let (rows, with2D) = try ctx.readDataset { conn, _ in
                return (try EmbeddingStore.list(datasetId: datasetId, conn), try EmbeddingStore.idsWith2D(datasetId: datasetId, conn))
            }
            return try .json(rows.map { e in
                DatasetEmbeddingData(id: e.id, name: e.name, isProcessed: e.isProcessed, createdAt: Int64(e.createdAt),
                                     is2d: with2D.contains(e.id))
            })
        }

        r.get("/v1/datasets/:datasetId/embeddings/writeCSVUrl") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let name = try ctx.requireQuery("name")
            guard !name.isEmpty else { throw APIError.malformed("query parameter name must not be empty") }
            let embedding = try ctx.writeDataset { conn, _ in
                let now = Timestamp.now()
                let e = try EmbeddingStore.create(datasetId: datasetId, name: name, now: Int(now), conn)
                try ctx.app.touchDataset(datasetId, conn: conn, now: now)
                return e
            }
            let url = ctx.app.signedURL(.PUT, SignedTarget(kind: csvSignedKind, datasetId: datasetId, objectId: embedding.id, variant: "csv"), ctx: ctx)
            return try .json(WriteCSVUrlData(signedWriteUrl: url, embeddingId: embedding.id))
        }

        r.get("/v1/datasets/:datasetId/embeddings/:embeddingId/readCSVUrl") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let embeddingId = try ctx.params.require("embeddingId")
            let e = try ctx.readDataset { conn, _ in
                return try requireEmbedding(embeddingId, datasetId: datasetId, conn)
            }
            guard e.isProcessed, e.csvBlobId != nil else { throw notReady(e.id) }
            return .jsonString(ctx.app.signedURL(.GET, SignedTarget(kind: csvSignedKind, datasetId: datasetId, objectId: e.id, variant: "csv"), ctx: ctx))
        }

        r.post("/v1/datasets/:datasetId/embeddings/:embeddingId/trigger2dEmbeddingsJob") { ctx in
            let user = try ctx.requireUser()
            let datasetId = try ctx.params.require("datasetId")
            let embeddingId = try ctx.params.require("embeddingId")
            // The body and its field are optional (absent, `{}` or `null` mean PCA); a body that
            // is not a JSON object, or a method that is not a string, is a 400.
            var method = "PCA"
            if ctx.request.body.count > 0 {
                let body = try JSONValue.parse(try ctx.bodyBytes(limit: ctx.app.settings.maxJSONBodyBytes))
                switch body {
                case .null: break
                case .object:
                    switch body["dimensionalityReductionMethod"] {
                    case nil, .null?: break
                    case .string(let m)?: method = m
                    default: throw APIError.malformed("dimensionalityReductionMethod must be a string")
                    }
                default: throw APIError.malformed("the body must be a JSON object")
                }
            }
            guard ["PCA", "TSNE", "UMAP"].contains(method) else {
                throw APIError.badRequest("dimensionalityReductionMethod must be PCA, TSNE or UMAP, not \(method)")
            }
            let job = try ctx.writeDataset { conn, _ in
                let e = try requireEmbedding(embeddingId, datasetId: datasetId, conn)
                guard e.isProcessed else { throw notReady(e.id) }
                let input = Embedding2DJobInput(datasetId: datasetId, embeddingId: e.id, method: method)
                return try JobStore.insert(userId: user.id, datasetId: datasetId, type: .embeddings2D,
                                           request: String(decoding: try JSONEncoder().encode(input), as: UTF8.self),
                                           now: jobsNowMillis(), conn)
            }
            ctx.app.jobs.kick()
            return try .json(AsyncTaskData(jobId: job.id))
        }

        r.get("/v1/datasets/:datasetId/embeddings/:embeddingId/2d") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let embeddingId = try ctx.params.require("embeddingId")
            let (e, projections) = try ctx.readDataset { conn, _ in
                let e = try requireEmbedding(embeddingId, datasetId: datasetId, conn)
                return (e, try EmbeddingStore.list2D(embeddingId: e.id, conn))
            }
            return try .json(projections.map { p in
                var xs = [Float](), ys = [Float]()
                xs.reserveCapacity(p.points.count / 2)
                ys.reserveCapacity(p.points.count / 2)
                var i = 0
                while i + 1 < p.points.count { xs.append(p.points[i]); ys.append(p.points[i + 1]); i += 2 }
                return Embedding2dData(id: projection2DId(embeddingId: e.id, method: p.method), datasetId: datasetId, embeddingId: e.id,
                                       name: "\(e.name) (\(p.method))", createdAt: Int64(p.createdAt),
                                       dimensionalityReductionMethod: p.method, computedWith: "PCA",
                                       coordinatesDimension1: xs, coordinatesDimension2: ys)
            })
        }

        r.registerSignedHandler(kind: csvSignedKind,
                                put: { t, ctx in try ctx.app.putEmbeddingCSV(t, ctx) },
                                get: { t, ctx in try ctx.app.getEmbeddingCSV(t, ctx) })
    }

    /// Signed PUT of an embedding CSV: answers exactly 200 with an empty body.
    func putEmbeddingCSV(_ t: SignedTarget, _ ctx: RequestContext) throws -> HTTPResponse {
        guard t.variant == "csv" else { throw APIError.notFound(.notFound, "unknown CSV variant \(t.variant)") }
        var newBlob: String?
        do {
            guard ctx.request.body.count <= settings.maxCSVBytes else {
                throw APIError.tooLarge("request body exceeds \(settings.maxCSVBytes) bytes")
            }
            func ingest(_ source: EmbeddingCSVSource) throws -> EmbeddingIngestOutcome {
                try EmbeddingIngest.ingest(source: source, datasetId: t.datasetId, embeddingId: t.objectId, database: database,
                                           limits: settings.embeddingCSVLimits, parseThreads: 2,
                                           maxSamples: settings.maxDatasetSamples, now: Int(Timestamp.now()),
                                           scratchDirectory: blobs.tmpDirectory, budget: jobs.cache,
                                           commitTicket: { [jobs] in jobs.cache.nextTicket() }) { content, conn in
                    let stored: StoredBlob
                    switch content {
                    case .verbatim:
                        // Already in mapping order: keep the upload itself (a temp file is renamed).
                        stored = try blobs.store(ctx.request.body, maxBytes: settings.maxCSVBytes)
                    case .reorderedFile(let path):
                        stored = try blobs.store(movingFile: path)
                    }
                    newBlob = stored.id
                    try BlobRecords.insert(id: stored.id, datasetId: t.datasetId, kind: "csv", size: stored.size,
                                           now: Timestamp.now(), conn)
                    return stored.id
                }
            }
            // A spooled body is read in windows (neither mapped nor loaded whole).
            let outcome: EmbeddingIngestOutcome
            switch ctx.request.body {
            case .empty: outcome = try ingest(.bytes(UnsafeRawBufferPointer(start: nil, count: 0)))
            case .bytes(let data): outcome = try data.withUnsafeBytes { try ingest(.bytes($0)) }
            case .file(let path, _): outcome = try ingest(.file(path: path))
            }
            // The ingest's filename index and batches were many small allocations: give the freed
            // heap back now, before a sampling job loads the matrix (docs/selection.md §14).
            releaseFreedHeap()
            // After the commit: the new matrix replaces any cached one, the old CSV goes.
            jobs.embeddingStored(t.objectId, matrix: outcome.matrix, version: outcome.version, ticket: outcome.ticket, reservation: outcome.reservation)
            if outcome.createdSamples > 0 { mappings.invalidate(t.datasetId) }
            if let old = outcome.replacedCSVBlobId {
                _ = try? database.write { conn in try BlobRecords.delete(id: old, conn) }
                blobs.remove(old)
            }
            ctx.logger.info("embedding CSV stored", metadata: [
                "embedding.id": "\(t.objectId)", "embedding.rows": "\(outcome.rows)", "embedding.dim": "\(outcome.dimension)",
                "samples.created": "\(outcome.createdSamples)", "embedding.phases": "\(outcome.phases.summary)",
            ])
            return HTTPResponse(status: .ok)
        } catch let e as EmbeddingIngestError {
            if let newBlob { blobs.remove(newBlob) }
            switch e {
            case .invalid(let message): throw APIError.badRequest(message, code: .embeddingInvalid)
            case .unknownEmbedding(let id): throw APIError.notFound(.embeddingUnknown, "embedding \(id) not found in dataset \(t.datasetId)")
            case .memory(let m):
                switch m {
                case .exceedsBudget:
                    throw APIError(status: .contentTooLarge, code: .embeddingTooLarge, message: "\(m); nothing was stored")
                case .busy:
                    throw APIError(status: .serviceUnavailable, code: .serviceUnavailable, message: "\(m); nothing was stored",
                                   headers: ["Retry-After": "10"])
                }
            }
        } catch {
            if let newBlob { blobs.remove(newBlob) }
            throw error
        }
    }

    /// Signed GET of the stored CSV (mapping order), streamed from the blob file.
    func getEmbeddingCSV(_ t: SignedTarget, _ ctx: RequestContext) throws -> HTTPResponse {
        let e = try database.read { conn in try requireEmbedding(t.objectId, datasetId: t.datasetId, conn) }
        guard e.isProcessed, let blobId = e.csvBlobId, let path = blobs.path(for: blobId), let size = FileIO.fileSize(path) else {
            throw notReady(e.id)
        }
        return HTTPResponse(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
                            body: .file(path: path, offset: 0, count: size))
    }
}

/// The embedding of this dataset, or 404 `EMBEDDING_UNKNOWN`.
func requireEmbedding(_ id: String, datasetId: String, _ conn: Connection) throws -> EmbeddingRecord {
    guard let e = try EmbeddingStore.get(id: id, datasetId: datasetId, conn) else {
        throw APIError.notFound(.embeddingUnknown, "embedding \(id) not found in dataset \(datasetId)")
    }
    return e
}

/// 400 `EMBEDDING_NOT_READY`: the CSV of this embedding was never stored.
func notReady(_ id: String) -> APIError {
    APIError.badRequest("embedding \(id) has no processed CSV yet: PUT the CSV to its signedWriteUrl first", code: .embeddingNotReady)
}
