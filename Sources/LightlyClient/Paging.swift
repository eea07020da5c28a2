import Foundation

extension ApiWorkflowClient {
    /// Page size of the Python client's `paginate_endpoint` when a call names none.
    static let defaultPageSize = 5000
    /// Page size the Python client uses for `/mappings`.
    static let mappingsPageSize = 25000
    /// Page size the Python client 1.5 uses for the Label Studio export.
    static let labelStudioPageSize = 2500

    /// Fetches a list endpoint page by page the way the Python client's `paginate_endpoint`
    /// does: `pageSize` and `pageOffset` (0, pageSize, 2·pageSize, …) until a page comes back
    /// shorter than `pageSize` or empty.
    ///
    /// A server that ignores paging answers every request with the whole list: a page longer
    /// than `pageSize`, or one equal to the first, ends the loop instead of repeating forever.
    /// - Parameter query: builds the query of one request from the paging pair (`pageSize`,
    ///   `pageOffset`), so each call can put its own parameters where the Python client does.
    func paginate<T: Decodable & Equatable>(_ path: String, pageSize: Int = defaultPageSize,
                                            query: ([(String, String)]) -> [(String, String)]) async throws -> [T] {
        var all: [T] = []
        var first: [T]?
        var offset = 0
        while true {
            let paging = [("pageSize", String(pageSize)), ("pageOffset", String(offset))]
            let page: [T] = try await transport.get(path, query: query(paging))
            if page.isEmpty || (first != nil && page == first) { break }
            if first == nil { first = page }
            all += page
            if page.count != pageSize { break }
            offset += pageSize
        }
        return all
    }

    /// The paging of a text answer (the filenames export), as the Python client does it: the
    /// page's length in characters is compared with `pageSize`, so a page of fewer than
    /// `pageSize` lines but at least `pageSize` characters asks for one more (empty) page.
    /// - Returns: the non-empty pages, each without a trailing line break.
    func paginateText(_ path: String, pageSize: Int = defaultPageSize,
                      query: ([(String, String)]) -> [(String, String)]) async throws -> [String] {
        var pages: [String] = []
        var offset = 0
        while true {
            let paging = [("pageSize", String(pageSize)), ("pageOffset", String(offset))]
            let text = try await transport.getText(path, query: query(paging))
            // One trailing line break is not an empty last line.
            let page = text.hasSuffix("\n") ? String(text.dropLast()) : text
            if text.isEmpty || (!pages.isEmpty && page == pages[0]) { break }
            pages.append(page)
            if text.unicodeScalars.count < pageSize { break }
            // A server that ignores paging sends more lines than asked for: that was everything.
            if page.utf8.lazy.filter({ $0 == UInt8(ascii: "\n") }).count >= pageSize { break }
            offset += pageSize
        }
        return pages
    }
}
