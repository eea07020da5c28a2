#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyStorage
import LightlyWire

/// The web page served at `/`: its files (from `webui/`, embedded at build time by the
/// `EmbedWebAssets` plugin) and the security headers every page response carries.
public enum WebUI {
    /// Every embedded asset by file name, decoded once.
    public static let assets: [String: Data] = {
        var out: [String: Data] = [:]
        for (name, text) in EmbeddedWebAssets.base64 { out[name] = Data(base64Encoded: text) ?? Data() }
        return out
    }()

    /// The Content-Security-Policy of the page: only this origin, no inline script or style,
    /// images also from `data:`/`blob:` URLs, never framed.
    public static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; "
        + "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// The Content-Type of an asset, from its extension.
    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last.map(String.init) ?? "" {
        case "html": return "text/html; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        case "woff2": return "font/woff2"
        case "txt", "md": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }

    /// An asset with the page's security headers. - Throws: 404 for an unknown name.
    static func response(for name: String) throws -> HTTPResponse {
        guard let data = assets[name] else { throw APIError.notFound(.notFound, "no web asset named \(name)") }
        var headers: HTTPHeaders = [.contentType: contentType(of: name)]
        addSecurityHeaders(&headers)
        // Revalidate every time: the binary and its assets change together on upgrade.
        headers[HTTPHeaderName("Cache-Control")] = "no-cache"
        return HTTPResponse(status: .ok, headers: headers, body: .bytes(data))
    }

    /// CSP, `nosniff`, `no-referrer` (so neither a signed URL nor a page address leaks).
    static func addSecurityHeaders(_ headers: inout HTTPHeaders) {
        headers[HTTPHeaderName("Content-Security-Policy")] = contentSecurityPolicy
        headers[HTTPHeaderName("X-Content-Type-Options")] = "nosniff"
        headers[HTTPHeaderName("Referrer-Policy")] = "no-referrer"
        headers[HTTPHeaderName("X-Frame-Options")] = "DENY"
    }
}

/// One sample of a tag page for the web page's grid (`GET /ui-api/…/tags/{tagId}/samples`).
struct UITagSample: Codable, Sendable {
    /// Position in the mapping order.
    var index: Int
    var id: String
    var fileName: String
    /// A signed GET URL of the thumbnail (of the full image when no thumbnail was uploaded),
    /// nil without any image. Carries a signature and expiry, never an API token.
    var imageUrl: String?
}

/// A dataset in the page's list: the numbers of `/v1/datasets/enriched` without its list of
/// every sample id (megabytes for a large dataset).
struct UIDataset: Codable, Sendable {
    var id: String
    var name: String
    var nSamples: Int
    var nTags: Int
    var nEmbeddings: Int
    var createdAt: Int64
    var lastModifiedAt: Int64
}

/// A tag as the page shows it: the v1 `TagData` leaves out `creator` (strict client releases
/// refuse it) and its `totSize` is the dataset's size, so the page gets both here.
struct UITag: Codable, Sendable {
    var id: String
    var name: String
    var prevTagId: String?
    var queryTagId: String?
    var preselectedTagId: String?
    /// Samples in the tag (set bits).
    var size: Int
    /// `SAMPLER_CORESET`, `USER_PIP`, … (absent when the creator did not say).
    var creator: String?
    var createdAt: Int64
    var bitMaskData: String
}

/// A page of a tag's samples with the tag's size.
struct UITagSamplePage: Codable, Sendable {
    var total: Int
    var samples: [UITagSample]
}

extension LightlyApplication {
    /// The web page and the two compact routes it needs beyond the v1 API.
    ///
    /// - `GET /`, `GET /ui/{file}`: the embedded page and its assets, no token (they hold no
    ///   data), with ``WebUI/contentSecurityPolicy`` and friends.
    /// - `GET /ui-api/datasets/{datasetId}/embeddings/{embeddingId}/points?method=PCA`: the
    ///   stored 2-D projection as raw little-endian Float32 `x, y` pairs in mapping order,
    ///   8 bytes per point (`X-Point-Count` says how many); membership comes from the tags'
    ///   `bitMaskData`, 1 bit per point.
    /// - `GET /ui-api/datasets`: the user's datasets with their numbers of samples, tags and
    ///   embeddings (paged like `/v1/datasets`).
    /// - `GET /ui-api/datasets/{datasetId}/tags`: the tags with their size and creator.
    /// - `GET /ui-api/datasets/{datasetId}/tags/{tagId}/samples?pageSize&pageOffset`: a page
    ///   of a tag's samples in mapping order with a signed image URL each.
    func registerWebUIRoutes(_ r: inout Router) {
        r.get("/", auth: .none) { _ in try WebUI.response(for: "index.html") }
        r.get("/ui/:file", auth: .none) { ctx in try WebUI.response(for: try ctx.params.require("file")) }

        r.get("/ui-api/datasets/:datasetId/embeddings/:embeddingId/points") { ctx in
            let datasetId = try ctx.params.require("datasetId")
            let embeddingId = try ctx.params.require("embeddingId")
            let projections = try ctx.readDataset { conn, _ in
                let e = try requireEmbedding(embeddingId, datasetId: datasetId, conn)
                return try EmbeddingStore.list2D(embeddingId: e.id, conn)
            }
            let method = ctx.query("method") ?? "PCA"
            guard let p = projections.first(where: { $0.method == method }) else {
                throw APIError.notFound(.notFound, "embedding \(embeddingId) has no \(method) 2-D projection (yet)")
            }
            #if _endian(little)
            let body = p.points.withUnsafeBytes { Data($0) }
            #else
            var body = Data(capacity: p.points.count * 4)
            for v in p.points { withUnsafeBytes(of: v.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            #endif
            return HTTPResponse(status: .ok, headers: [
                .contentType: "application/octet-stream",
                HTTPHeaderName("X-Point-Count"): String(p.points.count / 2),
                HTTPHeaderName("Cache-Control"): "no-store",
            ], body: .bytes(body))
        }

        r.get("/ui-api/datasets") { ctx in
            let user = try ctx.requireUser()
            let rows = try ctx.app.datasets(try ctx.app.listing(ctx), user: user, page: try ctx.paging()) { ds, conn in
                UIDataset(id: ds.id, name: ds.name, nSamples: ds.nSamples, nTags: try TagStore.count(datasetId: ds.id, conn),
                          nEmbeddings: try EmbeddingStore.count(datasetId: ds.id, conn), createdAt: ds.createdAt,
                          lastModifiedAt: ds.lastModifiedAt)
            }
            var response = try HTTPResponse.json(rows)
            response.headers[HTTPHeaderName("Cache-Control")] = "no-store"
            return response
        }

        r.get("/ui-api/datasets/:datasetId/tags") { ctx in
            let rows = try ctx.readDataset { conn, d in try ctx.app.tags(of: d.id, conn: conn) }
            var response = try HTTPResponse.json(rows.map { t in
                UITag(id: t.id, name: t.name, prevTagId: t.prevTagId, queryTagId: t.queryTagId, preselectedTagId: t.preselectedTagId,
                      size: t.bitmask.count, creator: t.creator, createdAt: t.createdAt, bitMaskData: t.bitmask.hexString)
            })
            response.headers[HTTPHeaderName("Cache-Control")] = "no-store"
            return response
        }

        r.get("/ui-api/datasets/:datasetId/tags/:tagId/samples") { ctx in
            let ds = try ctx.params.require("datasetId")
            let tid = try ctx.params.require("tagId")
            var page = try ctx.paging()
            if page.size == nil { page.size = 100 }
            page.size = min(page.size ?? 100, 1000)
            let (total, rows, picked) = try ctx.readDataset { conn, _ -> (Int, [SampleRow], [(index: Int, id: String)]) in
                let tag = try ctx.app.requireTag(tid, datasetId: ds, conn: conn)
                let mapping = try ctx.app.mappings.mapping(ds, conn: conn)
                let all = tag.bitmask.indices.filter { $0 < mapping.count }
                let picked = page.slice(all).map { (index: $0, id: mapping.sampleIds[$0]) }
                return (all.count, try SampleStore.rows(indices: picked.map(\.index), datasetId: ds, conn), picked)
            }
            let byId = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            let base = ctx.baseURL
            let samples: [UITagSample] = picked.compactMap { p in
                guard let row = byId[p.id] else { return nil }
                let variant = row.thumbBlobId != nil ? "thumbnail" : (row.fullBlobId != nil ? "full" : nil)
                let url = variant.map { v in
                    ctx.app.signer.url(base: base, method: .GET, target: SignedTarget(kind: "sample", datasetId: ds, objectId: row.id, variant: v),
                                       ttl: ctx.app.settings.signedURLTTL)
                }
                return UITagSample(index: p.index, id: row.id, fileName: row.fileName, imageUrl: url)
            }
            var response = try HTTPResponse.json(UITagSamplePage(total: total, samples: samples))
            response.headers[HTTPHeaderName("Cache-Control")] = "no-store"
            return response
        }
    }
}
