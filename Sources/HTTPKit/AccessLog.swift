/// Hides secrets in a request target before it is logged, so neither `token`/`sig` values nor
/// anything shaped like a token or signature ever reaches a log line.
///
/// Two rules, both applied to the whole target (path, query and anything after a `#`):
///
/// 1. **Named parameters.** The target is cut into pieces at `?`, `&`, `;`, `#` and `/`. A piece
///    `name=value` whose name, after percent-decoding, case-folding and dropping everything but
///    letters and digits, equals one of `names` (folded the same way) gets its value replaced. So
///    `TOKEN=`, `Token=`, `to%6Ben=`, `token%00=`, `token[]=` and `??token=` are all caught.
/// 2. **Secret-shaped runs.** Looking through percent-escapes (`%61` counts as `a`), a run of
///    32 or more hex digits (our tokens carry 64, signatures are 64) and `lt_` followed by
///    letters or digits (the token prefix) are replaced wherever they stand.
///
/// Everything else is kept byte for byte; each hidden stretch becomes `REDACTED`. With no
/// `names`, only rule 2 applies: that way any text bound for a log (an error's description)
/// can be cleaned too.
///
/// ```swift
/// redactQuery(target: "/v1/x?token=abc&a=1", names: ["token"])  // "/v1/x?token=REDACTED&a=1"
/// redactQuery(target: "/v1/x?TOKEN=abc", names: ["token"])      // "/v1/x?TOKEN=REDACTED"
/// ```
///
/// - Parameters:
///   - target: A request target, e.g. `/path?x=1`.
///   - names: Parameter names whose values to hide.
/// - Returns: The target with those values and secret-shaped stretches replaced.
/// - Complexity: O(n) in the length of `target`.
public func redactQuery(target: String, names: Set<String>) -> String {
    RedactionRules(names: names).redact(target)
}

/// ``redactQuery(target:names:)`` with the parameter names folded once, for the access log
/// (one line per request): nothing is allocated for a target without anything to hide, and
/// only the result for one that has.
struct RedactionRules: Sendable {
    /// The names, folded (``foldParameterName(_:)``) to their UTF-8 bytes; empty ones left out.
    let folded: [[UInt8]]

    init(names: Set<String>) {
        folded = Array(Set(names.map { foldParameterName(Substring($0)) }.filter { !$0.isEmpty })).map { Array($0.utf8) }
    }

    /// The target with every secret replaced by `REDACTED` (the two rules of ``redactQuery(target:names:)``).
    func redact(_ target: String) -> String {
        var target = target
        return target.withUTF8 { bytes in
            let hide = hiddenRanges(bytes)
            guard !hide.isEmpty else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var pos = 0
            var lastHiddenEnd = -1
            for r in hide {
                if r.upperBound <= pos { continue }
                let from = max(r.lowerBound, pos)
                if from > pos { out += UnsafeBufferPointer(rebasing: bytes[pos..<from]) }
                // Stretches that touch or overlap become one REDACTED.
                if from != lastHiddenEnd { out += "REDACTED".utf8 }
                pos = r.upperBound
                lastHiddenEnd = pos
            }
            out += UnsafeBufferPointer(rebasing: bytes[pos...])
            return String(decoding: out, as: UTF8.self)
        } ?? target
    }

    /// The byte ranges to hide, sorted by their start.
    private func hiddenRanges(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var hide: [Range<Int>] = []
        var hasEscape = false

        // Rule 1: named parameters, in every piece of the target.
        var start = 0
        var name: [UInt8] = []
        for i in 0...bytes.count {
            if i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "%") { hasEscape = true }
                guard isPieceDelimiter(c) else { continue }
            }
            if !folded.isEmpty, let eq = bytes[start..<i].firstIndex(of: UInt8(ascii: "=")) {
                Self.fold(UnsafeBufferPointer(rebasing: bytes[start..<eq]), into: &name)
                if folded.contains(name) { hide.append((eq + 1)..<i) }
            }
            start = i + 1
        }

        // Rule 2: secret-shaped runs, seen through percent-escapes. Without a `%` every unit
        // is one byte, so the units are the bytes themselves.
        if hasEscape {
            var units: [(value: UInt8, range: Range<Int>)] = []
            units.reserveCapacity(bytes.count)
            var i = 0
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
                   let h = hexDigitValue(bytes[i + 1]), let l = hexDigitValue(bytes[i + 2]) {
                    units.append((h << 4 | l, i..<(i + 3)))
                    i += 3
                } else {
                    units.append((bytes[i], i..<(i + 1)))
                    i += 1
                }
            }
            Self.secretRuns(count: units.count, value: { units[$0].value }, range: { units[$0].range }, into: &hide)
        } else {
            Self.secretRuns(count: bytes.count, value: { bytes[$0] }, range: { $0..<($0 + 1) }, into: &hide)
        }
        if hide.count > 1 { hide.sort { $0.lowerBound < $1.lowerBound } }
        return hide
    }

    /// Rule 2 over `count` units: runs of 32 or more hex digits, and `lt_` followed by letters
    /// or digits; appends the byte range of each.
    @inline(__always)
    private static func secretRuns(count: Int, value: (Int) -> UInt8, range: (Int) -> Range<Int>,
                                   into hide: inout [Range<Int>]) {
        var u = 0
        while u < count {
            if hexDigitValue(value(u)) != nil {
                var end = u
                while end < count, hexDigitValue(value(end)) != nil { end += 1 }
                if end - u >= 32 { hide.append(range(u).lowerBound..<range(end - 1).upperBound) }
                u = end
                continue
            }
            if u + 3 < count, value(u) | 0x20 == UInt8(ascii: "l"), value(u + 1) | 0x20 == UInt8(ascii: "t"),
               value(u + 2) == UInt8(ascii: "_"), isAlphanumeric(value(u + 3)) {
                var end = u + 3
                while end < count, isAlphanumeric(value(end)) { end += 1 }
                hide.append(range(u).lowerBound..<range(end - 1).upperBound)
                u = end
                continue
            }
            u += 1
        }
    }

    /// ``foldParameterName(_:)`` on bytes: percent-decoded, ASCII letters lower-cased, only
    /// letters and digits kept (a decoded non-ASCII byte is never a letter or digit, so decoding
    /// to a String first would keep the same bytes).
    static func fold(_ name: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var i = 0
        while i < name.count {
            var c = name[i]
            if c == UInt8(ascii: "%"), i + 2 < name.count,
               let h = hexDigitValue(name[i + 1]), let l = hexDigitValue(name[i + 2]) {
                c = h << 4 | l
                i += 3
            } else {
                i += 1
            }
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): out.append(c)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): out.append(c | 0x20)
            default: break
            }
        }
    }
}

/// A parameter name as compared for redaction: percent-decoded, lower-cased, letters and digits only.
func foldParameterName(_ name: Substring) -> String {
    let decoded = HTTPRequest.percentDecode(name, plusIsSpace: true)
    return String(decoding: decoded.utf8.compactMap { c -> UInt8? in
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): c
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c | 0x20
        default: nil
        }
    }, as: UTF8.self)
}

private func isPieceDelimiter(_ c: UInt8) -> Bool {
    c == UInt8(ascii: "?") || c == UInt8(ascii: "&") || c == UInt8(ascii: ";") || c == UInt8(ascii: "#") || c == UInt8(ascii: "/")
}

private func isAlphanumeric(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
}

private func hexDigitValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}
