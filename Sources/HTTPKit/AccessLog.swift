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
    let bytes = Array(target.utf8)
    var hide: [Range<Int>] = []
    let folded = Set(names.map { foldParameterName(Substring($0)) }.filter { !$0.isEmpty })

    // Rule 1: named parameters, in every piece of the target.
    if !folded.isEmpty {
        var start = 0
        for i in 0...bytes.count where i == bytes.count || isPieceDelimiter(bytes[i]) {
            if let eq = bytes[start..<i].firstIndex(of: UInt8(ascii: "=")) {
                let name = String(decoding: bytes[start..<eq], as: UTF8.self)
                if folded.contains(foldParameterName(Substring(name))) { hide.append((eq + 1)..<i) }
            }
            start = i + 1
        }
    }

    // Rule 2: secret-shaped runs, seen through percent-escapes.
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
    var u = 0
    while u < units.count {
        if hexDigitValue(units[u].value) != nil {
            var end = u
            while end < units.count, hexDigitValue(units[end].value) != nil { end += 1 }
            if end - u >= 32 { hide.append(units[u].range.lowerBound..<units[end - 1].range.upperBound) }
            u = end
            continue
        }
        if u + 3 < units.count, units[u].value | 0x20 == UInt8(ascii: "l"), units[u + 1].value | 0x20 == UInt8(ascii: "t"),
           units[u + 2].value == UInt8(ascii: "_"), isAlphanumeric(units[u + 3].value) {
            var end = u + 3
            while end < units.count, isAlphanumeric(units[end].value) { end += 1 }
            hide.append(units[u].range.lowerBound..<units[end - 1].range.upperBound)
            u = end
            continue
        }
        u += 1
    }

    guard !hide.isEmpty else { return target }
    hide.sort { $0.lowerBound < $1.lowerBound }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var pos = 0
    var lastHiddenEnd = -1
    for r in hide {
        if r.upperBound <= pos { continue }
        let from = max(r.lowerBound, pos)
        if from > pos { out += bytes[pos..<from] }
        // Stretches that touch or overlap become one REDACTED.
        if from != lastHiddenEnd { out += "REDACTED".utf8 }
        pos = r.upperBound
        lastHiddenEnd = pos
    }
    out += bytes[pos...]
    return String(decoding: out, as: UTF8.self)
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
