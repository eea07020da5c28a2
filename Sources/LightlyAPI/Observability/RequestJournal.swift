#if canImport(Glibc)
import Glibc
#endif
import HTTPKit
import Synchronization

/// One request as `GET /_admin/requests` reports it.
public struct JournalEntry: Codable, Sendable, Equatable {
    /// When the request head had arrived, Unix epoch milliseconds (the real clock).
    public var time: Int64
    public var method: String
    /// The route pattern that answered, e.g. `/v1/datasets/:datasetId`; absent when no route
    /// matched (404) or the HTTP layer answered by itself (malformed request, timeout).
    public var route: String?
    /// The request target with secrets hidden, as in the access log.
    public var path: String
    public var status: Int
    /// From the complete request head to the last byte of the response.
    public var milliseconds: Double
    /// The `X-Request-Id` the response carried (absent for answers of the HTTP layer).
    public var requestId: String?
    /// Response body bytes; absent when the client went away before the response was complete.
    public var bytes: Int?
}

/// The last `capacity` requests, in a fixed-size ring in memory (nothing on disk; a restart
/// empties it). Appending is O(1) under a lock held for a few instructions.
public final class RequestJournal: Sendable {
    private struct Ring {
        var slots: [JournalEntry] = []
        var next = 0   // where the next entry goes once `slots` is full
    }
    private let ring = Mutex(Ring())
    /// The most entries kept; older ones are overwritten.
    public let capacity: Int

    /// - Parameter capacity: entries kept (at least 1).
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Adds an entry, dropping the oldest when full.
    public func append(_ entry: JournalEntry) {
        ring.withLock { r in
            if r.slots.count < capacity {
                r.slots.append(entry)
            } else {
                r.slots[r.next] = entry
                r.next = (r.next + 1) % capacity
            }
        }
    }

    /// The newest `limit` entries, newest first.
    public func latest(_ limit: Int) -> [JournalEntry] {
        ring.withLock { r in
            let n = min(max(0, limit), r.slots.count)
            var out: [JournalEntry] = []
            out.reserveCapacity(n)
            // The newest sits just before `next` (or at the end while the ring is filling).
            var i = r.slots.count < capacity ? r.slots.count - 1 : (r.next - 1 + capacity) % capacity
            for _ in 0..<n {
                out.append(r.slots[i])
                i = (i - 1 + r.slots.count) % r.slots.count
            }
            return out
        }
    }

    /// Forgets every entry.
    public func removeAll() {
        ring.withLock { $0 = Ring() }
    }
}

extension LightlyApplication {
    /// `HTTPResponse.annotations` keys the app sets for ``requestCompleted(_:)``.
    enum Annotation {
        static let route = "route"
        static let requestID = "request.id"
    }

    /// Marks a response with the route that answered and the request id, for the journal.
    static func annotate(_ response: inout HTTPResponse, route: String?, requestID: String) {
        response.annotations[Annotation.requestID] = requestID
        if let route { response.annotations[Annotation.route] = route }
    }

    /// Called by the HTTP server when a request is done (where the access log line is written):
    /// counts it in ``metrics`` and records it in ``journal``. The admin API's own requests are left out: they are the test
    /// harness, not the client under test.
    func requestCompleted(_ record: HTTPRequestRecord) {
        metrics.recordRequest(route: record.annotations[Annotation.route], method: record.method.rawValue,
                              status: record.status, seconds: Double(record.durationNanoseconds) / 1e9)
        if record.target.hasPrefix("/_admin/") || record.target == "/_admin" { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nowMs = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        let ms = Double(record.durationNanoseconds / 1000) / 1000
        journal.append(JournalEntry(
            time: nowMs - Int64(record.durationNanoseconds / 1_000_000), method: record.method.rawValue,
            route: record.annotations[Annotation.route], path: record.target, status: record.status,
            milliseconds: ms, requestId: record.annotations[Annotation.requestID], bytes: record.bytes))
    }

    /// `GET /_admin/requests` (an admin route: Bearer admin token, 404 while the admin API is off).
    func registerRequestJournalRoutes(_ r: inout Router) {
        r.admin(.GET, "/_admin/requests") { ctx in try ctx.app.requestJournalResponse(ctx) }
    }

    /// `GET /_admin/requests?limit=N` (N from 1 to the journal's capacity, default 100; larger
    /// values are capped): the newest requests first.
    func requestJournalResponse(_ ctx: RequestContext) throws -> HTTPResponse {
        var limit = Self.defaultJournalLimit
        if let text = ctx.query("limit") {
            guard let n = Int(text), n >= 1 else {
                throw APIError.malformed("limit must be a whole number of at least 1, got '\(text)'")
            }
            limit = n
        }
        return try .json(journal.latest(min(limit, journal.capacity)))
    }

    /// Entries `GET /_admin/requests` answers without `limit`.
    static let defaultJournalLimit = 100
}
