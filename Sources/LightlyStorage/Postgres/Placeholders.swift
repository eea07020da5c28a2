// MARK: - Placeholders

/// Rewrites SQLite-style positional placeholders (`?`) into PostgreSQL's numbered ones (`$1`,
/// `$2`, …), so the stores' SQL can run on both engines.
///
/// A `?` inside a string literal (`'…'`), a quoted identifier (`"…"`), a dollar-quoted string
/// (`$$…$$`, `$tag$…$tag$`) or a comment (`-- …`, `/* … */`) is left alone. Escape-string
/// literals (`E'…\'…'`) are not understood; the stores do not use them.
enum Placeholders {
    /// The SQL with every `?` numbered, and how many there were.
    /// - Throws: `StorageError.invalidArgument` when the SQL mixes `?` with `$n`.
    static func numbered(_ sql: String) throws -> (sql: String, count: Int) {
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var count = 0, sawNumbered = false
        var i = 0
        func copy(until end: Int) {
            out.append(contentsOf: bytes[i..<end])
            i = end
        }
        /// The index just past the first occurrence of `needle` at or after `from` (or the end).
        func past(_ needle: [UInt8], from: Int) -> Int {
            var j = from
            while j + needle.count <= bytes.count {
                if bytes[j..<j + needle.count].elementsEqual(needle) { return j + needle.count }
                j += 1
            }
            return bytes.count
        }
        while i < bytes.count {
            let c = bytes[i]
            let next: UInt8? = i + 1 < bytes.count ? bytes[i + 1] : nil
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                // A doubled quote inside ('it''s') just closes and reopens: same result.
                copy(until: past([c], from: i + 1))
            case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
                copy(until: past([UInt8(ascii: "\n")], from: i + 2))
            case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
                copy(until: past(Array("*/".utf8), from: i + 2))
            case UInt8(ascii: "$"):
                if let n = next, n >= UInt8(ascii: "0") && n <= UInt8(ascii: "9") {
                    sawNumbered = true
                    copy(until: i + 1)
                } else if let tagEnd = dollarTagEnd(bytes, from: i) {
                    let tag = Array(bytes[i..<tagEnd])
                    copy(until: past(tag, from: tagEnd))
                } else {
                    copy(until: i + 1)
                }
            case UInt8(ascii: "?"):
                count += 1
                out.append(UInt8(ascii: "$"))
                out.append(contentsOf: String(count).utf8)
                i += 1
            default:
                copy(until: i + 1)
            }
        }
        if count > 0 && sawNumbered {
            throw StorageError.invalidArgument("SQL mixes ? and $n placeholders")
        }
        return (count == 0 ? sql : String(decoding: out, as: UTF8.self), count)
    }

    /// For a dollar quote's opening tag (`$$` or `$name$`) at `from`, the index past it.
    private static func dollarTagEnd(_ bytes: [UInt8], from: Int) -> Int? {
        var j = from + 1
        while j < bytes.count {
            let c = bytes[j]
            if c == UInt8(ascii: "$") { return j + 1 }
            let letter = (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || c == UInt8(ascii: "_") || c >= 0x80
            let digit = c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
            guard letter || (digit && j > from + 1) else { return nil }
            j += 1
        }
        return nil
    }
}
