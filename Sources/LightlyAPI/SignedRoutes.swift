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
    /// `PUT|GET /signed/:kind/:datasetId/:objectId/:variant` (docs/protocol.md §6): no token; the
    /// signature is verified here, then the handler registered for `kind` runs.
    /// The route pattern of every signed URL.
    static let signedPattern = "/signed/:kind/:datasetId/:objectId/:variant"

    func registerSignedRoutes(_ r: inout Router) {
        r.put(Self.signedPattern, auth: .none) { ctx in try ctx.app.dispatchSigned(ctx, method: .PUT) }
        r.get(Self.signedPattern, auth: .none) { ctx in try ctx.app.dispatchSigned(ctx, method: .GET) }
        r.registerSignedHandler(kind: "sample",
                                put: { t, ctx in try ctx.app.putSampleImage(t, ctx) },
                                get: { t, ctx in try ctx.app.getSampleImage(t, ctx) })
    }

    private func dispatchSigned(_ ctx: RequestContext, method: HTTPMethod) throws -> HTTPResponse {
        let (target, handler) = try verifySigned(ctx.request, params: ctx.params, method: method)
        return try handler(target, ctx)
    }

    /// Checks a signed request (signature for this method, expiry, a handler for its kind and
    /// method) without reading its body; also run on the request head before an upload is read.
    /// - Throws: 403 for a bad or expired signature, 404 for an unknown kind, 405 when the
    ///   kind has no handler for the method.
    func verifySigned(_ request: HTTPRequest, params: Parameters, method: HTTPMethod) throws -> (SignedTarget, SignedHandler) {
        let target = SignedTarget(kind: try params.require("kind"), datasetId: try params.require("datasetId"),
                                  objectId: try params.require("objectId"), variant: try params.require("variant"))
        // Sign the canonical path, so `//` or a trailing slash in the request still verifies.
        try signer.verify(method: method == .HEAD ? .GET : method, path: target.path,
                          expires: request.query("expires"), sig: request.query("sig"))
        guard let kind = router.signedHandlers[target.kind] else {
            throw APIError.notFound(.notFound, "unknown signed URL kind \(target.kind)")
        }
        switch method {
        case .PUT:
            guard let put = kind.put else { throw APIError(status: .methodNotAllowed, code: .methodNotAllowed, message: "PUT not allowed") }
            return (target, put)
        default:
            guard let get = kind.get else { throw APIError(status: .methodNotAllowed, code: .methodNotAllowed, message: "GET not allowed") }
            return (target, get)
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
                let now = Timestamp.now()
                guard let previous = try SampleStore.replaceImage(column: column, id: t.objectId, datasetId: t.datasetId,
                                                                  blobId: blob.id, kind: t.variant, size: blob.size,
                                                                  now: now, conn) else {
                    throw APIError.sampleUnknown(t.objectId, dataset: t.datasetId)
                }
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
            guard let image = try SampleStore.image(column: column, id: t.objectId, datasetId: t.datasetId, conn) else {
                throw APIError.sampleUnknown(t.objectId, dataset: t.datasetId)
            }
            let name = t.variant == "full" ? image.fileName : (image.thumbName ?? "thumbnail.webp")
            return (image.blobId, name)
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
