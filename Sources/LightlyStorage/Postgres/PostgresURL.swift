#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: - PostgresURL

/// Keeps a PostgreSQL URL's password out of logs, errors and printed settings.
enum PostgresURL {
    /// `url` with every password (`user:PASSWORD@host`, `?password=PASSWORD`) replaced by `***`.
    static func redacted(_ url: String) -> String {
        var out = url
        for range in passwordRanges(in: url).reversed() { out.replaceSubrange(range, with: "***") }
        return out
    }

    /// `text` (e.g. libpq's error message for `url`) with the URL's passwords replaced by `***`.
    static func scrub(_ text: String, url: String) -> String {
        var out = text
        for range in passwordRanges(in: url) {
            let secret = String(url[range])
            guard !secret.isEmpty else { continue }
            out = out.replacingAll(secret, with: "***")
        }
        return out
    }

    /// Where the passwords are in `url`, in order.
    private static func passwordRanges(in url: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        guard let schemeEnd = url.firstRange(of: "://") else { return ranges }
        let queryStart = url[schemeEnd.upperBound...].firstIndex(of: "?") ?? url.endIndex
        // The user part ends at the last '@' before the query (a raw '@' in a password happens).
        if let at = url[schemeEnd.upperBound..<queryStart].lastIndex(of: "@"),
           let colon = url[schemeEnd.upperBound..<at].firstIndex(of: ":") {
            ranges.append(url.index(after: colon)..<at)
        }
        // libpq takes every connection keyword as a parameter, `password` among them.
        if queryStart < url.endIndex {
            var i = url.index(after: queryStart)
            while i < url.endIndex {
                let end = url[i...].firstIndex(of: "&") ?? url.endIndex
                let pair = url[i..<end]
                if pair.hasPrefix("password="), let eq = pair.firstIndex(of: "=") {
                    ranges.append(url.index(after: eq)..<end)
                }
                i = end == url.endIndex ? end : url.index(after: end)
            }
        }
        return ranges
    }
}

extension String {
    /// Every occurrence of `needle` replaced (no Foundation needed).
    fileprivate func replacingAll(_ needle: String, with replacement: String) -> String {
        guard !needle.isEmpty else { return self }
        var out = "", rest = self[...]
        while let r = rest.firstRange(of: needle) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
