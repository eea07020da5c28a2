/// Replaces the values of the named query parameters in a request target with `REDACTED`,
/// so secrets in signed URLs (`token`, `sig`) never reach the access log.
///
/// Everything else is kept byte for byte. Names are compared after form-decoding, so
/// `to%6Ben=x` is redacted like `token=x`.
///
/// ```swift
/// redactQuery(target: "/v1/x?token=abc&a=1", names: ["token"])  // "/v1/x?token=REDACTED&a=1"
/// ```
///
/// - Parameters:
///   - target: A request target, e.g. `/path?x=1`.
///   - names: Parameter names whose values to hide.
/// - Returns: The target with those values replaced.
/// - Complexity: O(n) in the length of `target`.
public func redactQuery(target: String, names: Set<String>) -> String {
    guard !names.isEmpty, let q = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
    let query = target[target.index(after: q)...]
    var out = String(target[...q])
    var changed = false
    var first = true
    for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
        if !first { out.append("&") }
        first = false
        if let eq = pair.firstIndex(of: "="),
           names.contains(HTTPRequest.percentDecode(pair[..<eq], plusIsSpace: true)) {
            out.append(contentsOf: pair[...eq])
            out.append("REDACTED")
            changed = true
        } else {
            out.append(contentsOf: pair)
        }
    }
    return changed ? out : target
}
