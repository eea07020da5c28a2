#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    /// Tag exports: the samples of a tag, in mapping order, as file names, signed read URLs,
    /// Label Studio tasks or Labelbox data rows. Every export is paged (`pageSize`,
    /// `pageOffset` over the tag's samples); read URLs are this server's signed GET URLs of the
    /// full image, valid for `expiresIn` seconds (default `settings.signedURLTTL`).
    func registerExportRoutes(_ r: inout Router) {
        let base = "/v1/datasets/:datasetId/tags/:tagId/export"
        // Text, one entry per line (1.2.21+).
        r.get(base + "/basic/filenames") { ctx in try ctx.app.exportBasicFilenames(ctx) }
        // `[{fileName, readUrl}]` (1.2.29–1.2.41).
        r.get(base + "/basic/filenamesAndReadUrls") { ctx in
            try ctx.app.export(ctx) { item in FilenameAndReadUrl(fileName: item.fileName, readUrl: item.readURL()) }
        }
        // Label Studio: `export/LabelStudio/tasks` from 1.2.14, `export/LabelStudioTasks` before.
        for path in ["/LabelStudio/tasks", "/LabelStudioTasks"] {
            r.get(base + path) { ctx in
                try ctx.app.export(ctx) { item in
                    LabelStudioTask(id: item.index, data: LabelStudioTaskData(
                        image: item.readURL(), lightlyFileName: item.fileName, lightlyMetaInfo: try item.metaInfo()))
                }
            }
        }
        // Labelbox v3: `export/LabelBox/datarows` from 1.2.14, `export/LabelBoxDataRows` before.
        for path in ["/LabelBox/datarows", "/LabelBoxDataRows"] {
            r.get(base + path) { ctx in
                try ctx.app.export(ctx) { item in LabelBoxDataRow(externalId: item.fileName, imageUrl: item.readURL()) }
            }
        }
        // Labelbox v4 (1.3.2+).
        r.get(base + "/LabelBoxV4/datarows") { ctx in
            try ctx.app.export(ctx) { item in
                LabelBoxV4DataRow(rowData: item.readURL(), globalKey: item.fileName, mediaType: "IMAGE")
            }
        }
    }

    /// One sample of an export page.
    struct ExportItem {
        /// Position in the mapping order (Label Studio's task id).
        let index: Int
        let sampleId: String
        let fileName: String
        let readURL: () -> String
        /// The sample (strict `SampleData`) when `includeMetaData=True`, else nil.
        let metaInfo: () throws -> SampleData?
    }

    /// The page of the tag's samples an export request selects, after the ownership checks and
    /// the validation of every parameter the clients send (`expiresIn`, `accessControl`,
    /// `fileNameFormat`, `includeMetaData`, `format`, `previewExample`, paging).
    private func exportItems(_ ctx: RequestContext) throws -> [ExportItem] {
        let ds = try ctx.params.require("datasetId")
        let tid = try ctx.params.require("tagId")
        var page = try ctx.paging()
        let ttl: Int
        if let raw = ctx.query("expiresIn") {
            guard let v = Int(raw), v >= 1, v <= 7 * 24 * 3600 else {
                throw APIError.malformed("expiresIn must be an integer number of seconds in 1…604800, got \"\(raw)\"")
            }
            ttl = v
        } else {
            ttl = settings.signedURLTTL
        }
        if let f = ctx.query("format"), f != "JSON", f != "PLAIN" {
            throw APIError.malformed("format must be JSON or PLAIN, got \"\(f)\"")
        }
        let includeMeta = try ctx.queryBool("includeMetaData", default: false)
        // A preview is the first sample only.
        if try ctx.queryBool("previewExample", default: false) {
            page = PageRequest(offset: page.offset == 0 ? 0 : Int.max, size: 1)
        }
        let (tag, mapping) = try ctx.readDataset { conn, _ in
            return (try requireTag(tid, datasetId: ds, conn: conn), try mappings.mapping(ds, conn: conn))
        }
        let positions = page.slice(tag.bitmask.indices.filter { $0 < mapping.count })
        var samples: [String: SampleData] = [:]
        if includeMeta, !positions.isEmpty {
            let ids = positions.map { mapping.sampleIds[$0] }
            let rows = try database.read { conn in try SampleStore.rows(ids: ids, datasetId: ds, conn) }
            for s in rows { samples[s.id] = s.wire.strictMetaData }
        }
        let base = ctx.baseURL
        let signer = self.signer
        return positions.map { i in
            let id = mapping.sampleIds[i]
            return ExportItem(
                index: i, sampleId: id, fileName: mapping.fileNames[i],
                readURL: {
                    signer.url(base: base, method: .GET,
                               target: SignedTarget(kind: "sample", datasetId: ds, objectId: id, variant: "full"), ttl: ttl)
                },
                metaInfo: { includeMeta ? samples[id] : nil })
        }
    }

    /// A JSON list export.
    private func export<T: Encodable>(_ ctx: RequestContext, _ make: (ExportItem) throws -> T) throws -> HTTPResponse {
        try .json(exportItems(ctx).map(make))
    }

    /// `…/export/basic/filenames`: text/plain, one entry per line; `fileNameFormat` picks file
    /// names (`NAME`, default), signed read URLs (`REDIRECTED_READ_URL`) or the datasource path
    /// (`DATASOURCE_FULL`: the file name here). Past the end: an empty body, which ends the
    /// client's paging. `format=JSON` answers a JSON list of the same strings.
    private func exportBasicFilenames(_ ctx: RequestContext) throws -> HTTPResponse {
        let format = FileNameFormat(rawValue: ctx.query("fileNameFormat") ?? "NAME")
        guard FileNameFormat.known.contains(format) else {
            throw APIError.malformed("fileNameFormat must be NAME, REDIRECTED_READ_URL or DATASOURCE_FULL, got \"\(format.rawValue)\"")
        }
        let lines = try exportItems(ctx).map { format == .redirectedReadURL ? $0.readURL() : $0.fileName }
        if ctx.query("format") == "JSON" { return try .json(lines) }
        return HTTPResponse(status: .ok, contentType: "text/plain; charset=utf-8",
                            body: Data(lines.joined(separator: "\n").utf8))
    }
}
