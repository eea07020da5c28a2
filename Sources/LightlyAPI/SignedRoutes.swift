#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    /// `PUT|GET /signed/:kind/:datasetId/:objectId/:variant` (docs/protocol.md §6): no token; the
    /// signature is verified here, then the handler registered for `kind` runs.
    func registerSignedRoutes(_ r: inout Router) {
        let pattern = "/signed/:kind/:datasetId/:objectId/:variant"
        r.put(pattern, auth: .none) { ctx in try ctx.app.dispatchSigned(ctx, method: .PUT) }
        r.get(pattern, auth: .none) { ctx in try ctx.app.dispatchSigned(ctx, method: .GET) }
        r.registerSignedHandler(kind: "sample",
                                put: { t, ctx in try ctx.app.putSampleImage(t, ctx) },
                                get: { t, ctx in try ctx.app.getSampleImage(t, ctx) })
    }

    private func dispatchSigned(_ ctx: RequestContext, method: HTTPMethod) throws -> HTTPResponse {
        let target = SignedTarget(kind: try ctx.params.require("kind"), datasetId: try ctx.params.require("datasetId"),
                                  objectId: try ctx.params.require("objectId"), variant: try ctx.params.require("variant"))
        // Sign the canonical path, so `//` or a trailing slash in the request still verifies.
        try signer.verify(method: method == .HEAD ? .GET : method, path: target.path,
                          expires: ctx.query("expires"), sig: ctx.query("sig"))
        guard let kind = router.signedHandlers[target.kind] else {
            throw APIError.notFound(.notFound, "unknown signed URL kind \(target.kind)")
        }
        switch method {
        case .PUT:
            guard let put = kind.put else { throw APIError(status: .methodNotAllowed, code: .methodNotAllowed, message: "PUT not allowed") }
            return try put(target, ctx)
        default:
            guard let get = kind.get else { throw APIError(status: .methodNotAllowed, code: .methodNotAllowed, message: "GET not allowed") }
            return try get(target, ctx)
        }
    }

    /// A signed URL for `target`, valid for `settings.signedURLTTL`.
    public func signedURL(_ method: HTTPMethod, _ target: SignedTarget, ctx: RequestContext) -> String {
        signer.url(base: ctx.baseURL, method: method, target: target, ttl: settings.signedURLTTL)
    }

    // MARK: - Sample images (kind "sample", variants "full" / "thumbnail")

    static func sampleVariantColumn(_ variant: String) throws -> String {
        switch variant {
        case "full": return "full_blob_id"
        case "thumbnail": return "thumb_blob_id"
        default: throw APIError.notFound(.notFound, "unknown image variant \(variant)")
        }
    }

    /// Signed PUT of a full image or thumbnail: answers exactly 200 with an empty body. A
    /// repeated PUT replaces the blob atomically (the old file is removed after commit).
    func putSampleImage(_ t: SignedTarget, _ ctx: RequestContext) throws -> HTTPResponse {
        let column = try Self.sampleVariantColumn(t.variant)
        let blob = try blobs.store(ctx.request.body, maxBytes: settings.maxUploadBytes)
        let old: String?
        do {
            old = try database.write { conn -> String? in
                guard let row = try conn.queryOne("SELECT \(column) AS blob FROM samples WHERE id = ? AND dataset_id = ?",
                                                  t.objectId, t.datasetId) else {
                    throw APIError.sampleUnknown(t.objectId, dataset: t.datasetId)
                }
                let previous = try row.stringOrNil("blob")
                let now = Timestamp.now()
                try conn.run("INSERT INTO blobs (id, dataset_id, kind, size, created_at) VALUES (?, ?, ?, ?, ?)",
                             blob.id, t.datasetId, t.variant, blob.size, now)
                try conn.run("UPDATE samples SET \(column) = ?, last_modified_at = ? WHERE id = ?", blob.id, now, t.objectId)
                if let previous { try conn.run("DELETE FROM blobs WHERE id = ?", previous) }
                try touchDataset(t.datasetId, conn: conn, now: now)
                return previous
            }
        } catch {
            blobs.remove(blob.id)
            throw error
        }
        if let old { blobs.remove(old) }
        return HTTPResponse(status: .ok, headers: HTTPHeaders(), body: .bytes(Data()))
    }

    /// Signed GET: streams the stored file with a Content-Type from the file extension.
    func getSampleImage(_ t: SignedTarget, _ ctx: RequestContext) throws -> HTTPResponse {
        let column = try Self.sampleVariantColumn(t.variant)
        let (blobId, name) = try database.read { conn -> (String?, String) in
            guard let row = try conn.queryOne("SELECT \(column) AS blob, file_name, thumb_name FROM samples WHERE id = ? AND dataset_id = ?",
                                              t.objectId, t.datasetId) else {
                throw APIError.sampleUnknown(t.objectId, dataset: t.datasetId)
            }
            let name = t.variant == "full" ? try row.string("file_name") : (try row.stringOrNil("thumb_name") ?? "thumbnail.webp")
            return (try row.stringOrNil("blob"), name)
        }
        guard let blobId, let path = blobs.path(for: blobId), let size = FileIO.fileSize(path) else {
            throw APIError.notFound(t.variant == "full" ? .notFound : .sampleThumbnameUnknown,
                                    "no \(t.variant) image was uploaded for sample \(t.objectId)")
        }
        return HTTPResponse(status: .ok, headers: [.contentType: contentType(forFileName: name)],
                            body: .file(path: path, offset: 0, count: size))
    }
}

/// A Content-Type from a file name's extension.
public func contentType(forFileName name: String) -> String {
    guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
    switch name[name.index(after: dot)...].lowercased() {
    case "png": return "image/png"
    case "jpg", "jpeg": return "image/jpeg"
    case "webp": return "image/webp"
    case "gif": return "image/gif"
    case "bmp": return "image/bmp"
    case "tif", "tiff": return "image/tiff"
    case "csv": return "text/csv"
    case "json": return "application/json"
    default: return "application/octet-stream"
    }
}
