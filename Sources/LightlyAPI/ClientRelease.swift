/// Which `lightly` client release sent a request, as far as its `User-Agent` header tells.
///
/// Only needed where no single answer suits every release (the tag-arithmetics answer). The
/// releases 1.4.8+ parse responses into strict models that reject unknown fields; they send
/// either `OpenAPI-Generator/1.0.0/python` (the bare generated client; older generated
/// clients send `Swagger-Codegen/…`) or, through the workflow client (1.2.30+),
/// `Lightly/<version> …`.
public enum ClientRelease {
    /// The first release whose generated models reject unknown fields.
    public static let firstStrict = (1, 4, 8)

    /// `true` when the `User-Agent` is that of a strict release (1.4.8+): any
    /// `OpenAPI-Generator/…` agent, or `Lightly/X.Y.Z…` with X.Y.Z ≥ 1.4.8. A missing or
    /// unrecognised agent is not strict.
    public static func isStrict(userAgent: String?) -> Bool {
        guard let ua = userAgent else { return false }
        if ua.hasPrefix("OpenAPI-Generator/") { return true }
        guard let v = lightlyVersion(userAgent: ua) else { return false }
        return v >= firstStrict
    }

    /// The version of a `Lightly/X.Y.Z …` (or `Lightly/X.Y.Z/python …`) agent, `nil` for any
    /// other agent. A missing patch number counts as 0; a suffix such as `rc1` or `.dev0` is
    /// ignored.
    public static func lightlyVersion(userAgent ua: String) -> (Int, Int, Int)? {
        guard ua.hasPrefix("Lightly/") else { return nil }
        let token = ua.dropFirst("Lightly/".count).prefix { $0 != " " && $0 != "/" && $0 != "(" }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).prefix(3).map { part in
            Int(part.prefix { $0.isASCII && $0.isNumber })
        }
        guard parts.count >= 2, let major = parts[0], let minor = parts[1] else { return nil }
        let patch = parts.count > 2 ? parts[2] ?? 0 : 0
        return (major, minor, patch)
    }
}
