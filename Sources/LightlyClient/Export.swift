import Foundation
import LightlyWire

/// One sample of a tag with the places its file can be read from, as
/// `export_filenames_and_read_urls_by_tag_*` returns them.
public struct ExportedFile: Codable, Hashable, Sendable {
    /// The sample's file name within the dataset.
    public var fileName: String
    /// A URL that reads the file (a redirect to a signed URL).
    public var readUrl: String
    /// The file's full location in its datasource.
    public var datasourceUrl: String

    public init(fileName: String, readUrl: String, datasourceUrl: String) {
        self.fileName = fileName; self.readUrl = readUrl; self.datasourceUrl = datasourceUrl
    }
}

extension ApiWorkflowClient {
    func tagPath(_ tagId: String) throws -> String {
        Self.ds(try requireDatasetId()) + "/tags/\(Transport.pathEncode(tagId))"
    }

    /// The file names of a tag's samples, one per line
    /// (`GET …/tags/{tagId}/export/basic/filenames`, `text/plain`, paged).
    /// - Parameter format: what each line holds; nil sends no `fileNameFormat` (the server's
    ///   default, the file name), as `export_filenames_by_tag_id` does.
    public func exportFilenamesByTagId(_ tagId: String, format: FileNameFormat? = nil) async throws -> String {
        let path = try tagPath(tagId) + "/export/basic/filenames"
        let pages = try await paginateText(path) { paging in
            (format.map { [("fileNameFormat", $0.rawValue)] } ?? []) + paging
        }
        return pages.joined(separator: "\n")
    }

    /// `exportFilenamesByTagId` for the tag named `tagName`.
    public func exportFilenamesByTagName(_ tagName: String) async throws -> String {
        try await exportFilenamesByTagId(tag(named: tagName).id)
    }

    /// File name, read URL and datasource URL of every sample of a tag, in the server's order.
    /// Three paged filenames exports (`NAME`, `REDIRECTED_READ_URL`, `DATASOURCE_FULL`) zipped
    /// line by line, as the Python client does.
    /// - Throws: `invalidResponse` if the three exports differ in length.
    public func exportFilenamesAndReadUrlsByTagId(_ tagId: String) async throws -> [ExportedFile] {
        let names = try await exportFilenamesByTagId(tagId, format: .name)
        let readUrls = try await exportFilenamesByTagId(tagId, format: .redirectedReadURL)
        let datasourceUrls = try await exportFilenamesByTagId(tagId, format: .datasourceFull)
        if names.isEmpty && readUrls.isEmpty && datasourceUrls.isEmpty { return [] }
        let n = names.split(separator: "\n", omittingEmptySubsequences: false)
        let r = readUrls.split(separator: "\n", omittingEmptySubsequences: false)
        let d = datasourceUrls.split(separator: "\n", omittingEmptySubsequences: false)
        guard n.count == r.count, n.count == d.count else {
            throw LightlyClientError.invalidResponse("the filenames export has \(n.count) names, \(r.count) read URLs and \(d.count) datasource URLs")
        }
        return (0..<n.count).map { ExportedFile(fileName: String(n[$0]), readUrl: String(r[$0]), datasourceUrl: String(d[$0])) }
    }

    /// `exportFilenamesAndReadUrlsByTagId` for the tag named `tagName`.
    public func exportFilenamesAndReadUrlsByTagName(_ tagName: String) async throws -> [ExportedFile] {
        try await exportFilenamesAndReadUrlsByTagId(tag(named: tagName).id)
    }

    /// A tag's samples as Label Studio tasks, `{"id": …, "data": {"image": <read URL>, …}}`
    /// (`GET …/tags/{tagId}/export/LabelStudio/tasks`, pages of 2500 as the Python client 1.5 asks for).
    public func exportLabelStudioTasksByTagId(_ tagId: String) async throws -> [LabelStudioTask] {
        try await paginate(try tagPath(tagId) + "/export/LabelStudio/tasks", pageSize: Self.labelStudioPageSize) { $0 }
    }

    /// `exportLabelStudioTasksByTagId` for the tag named `tagName`.
    public func exportLabelStudioTasksByTagName(_ tagName: String) async throws -> [LabelStudioTask] {
        try await exportLabelStudioTasksByTagId(tag(named: tagName).id)
    }
}
