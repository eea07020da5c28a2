import HTTPKit

/// The `pageSize` / `pageOffset` query parameters of a paged list route.
///
/// Every `lightly` release that pages (1.2.29+) sends `pageOffset = k * pageSize`: the offset
/// counts *items*, not pages. Releases up to 1.4.7 keep asking until a page is empty; 1.4.8+
/// also stop at a page shorter than `pageSize`. So a route that pages must honour both
/// parameters exactly, answer an empty page past the end, and never ignore them: a malformed
/// or negative value is a 400, not "the whole list again" (which loops such a client forever).
public struct PageRequest: Sendable, Equatable {
    /// Items to skip (≥ 0).
    public var offset: Int
    /// Items to return at most, or nil for "all from `offset`" (releases that do not page).
    public var size: Int?

    public init(offset: Int = 0, size: Int? = nil) {
        self.offset = offset
        self.size = size
    }

    /// No paging parameters: the whole list.
    public static let all = PageRequest()

    /// The range of `0..<count` this page covers (empty past the end).
    public func range(count: Int) -> Range<Int> {
        let start = min(offset, count)
        guard let size else { return start..<count }
        let (end, overflow) = start.addingReportingOverflow(size)
        return start..<(overflow ? count : min(end, count))
    }

    /// The page of `items`.
    public func slice<C: RandomAccessCollection>(_ items: C) -> [C.Element] where C.Index == Int {
        let r = range(count: items.count)
        return Array(items[(items.startIndex + r.lowerBound)..<(items.startIndex + r.upperBound)])
    }

    /// `LIMIT ? OFFSET ?` values (no page size: `Int64.max`, which both SQLite and PostgreSQL
    /// take as "no limit"; PostgreSQL refuses SQLite's `LIMIT -1`).
    public var sqlLimitOffset: (limit: Int64, offset: Int64) {
        (size.map(Int64.init) ?? Int64.max, Int64(offset))
    }
}

extension RequestContext {
    /// The paging parameters of this request.
    /// - Throws: 400 `MALFORMED_REQUEST` if `pageSize` is not an integer ≥ 1 or `pageOffset` not
    ///   an integer ≥ 0.
    public func paging() throws -> PageRequest {
        var page = PageRequest()
        if let raw = query("pageOffset") {
            guard let v = Int(raw), v >= 0 else {
                throw APIError.malformed("pageOffset must be an integer ≥ 0, got \"\(raw)\"")
            }
            page.offset = v
        }
        if let raw = query("pageSize") {
            guard let v = Int(raw), v >= 1 else {
                throw APIError.malformed("pageSize must be an integer ≥ 1, got \"\(raw)\"")
            }
            page.size = v
        }
        return page
    }
}
