import HTTPKit
import LightlyStorage
import LightlyWire

extension LightlyApplication {
    /// Versions, health, ping, quota (docs/protocol.md §12, docs/openapi.yaml).
    func registerSystemRoutes(_ r: inout Router) {
        r.get("/v1/versions/pip/minimum", auth: .none) { ctx in
            .jsonString(ctx.app.settings.minimumClientVersion)
        }
        r.get("/v1/versions/pip/latest", auth: .none) { ctx in
            // Echo the caller's version (no "newer version" warning), else the minimum.
            let current = ctx.query("currentVersion") ?? ""
            return .jsonString(isThreePartVersion(current) ? current : ctx.app.settings.minimumClientVersion)
        }
        r.get("/health", auth: .none) { ctx in
            // PostgreSQL is another process that can be down or unreachable: then this server
            // cannot serve, and a load balancer should hear it (503) rather than "ok".
            if ctx.app.database.dialect == .postgres {
                do { try ctx.app.database.checkReachable() } catch { throw APIError.databaseUnavailable }
            }
            return try .json(HealthResponse())
        }
        r.get("/ping", auth: .none) { _ in .jsonString("pong") }
        r.get("/v1/quota") { ctx in .jsonString(String(ctx.app.settings.maxDatasetSamples)) }
        r.get("/users/quota") { ctx in try .json(LegacyQuotaResponse(maxDatasetSize: ctx.app.settings.maxDatasetSamples)) }
    }
}

/// `X.Y.Z` with three integer parts (the client asserts exactly three, docs/protocol.md §12).
func isThreePartVersion(_ s: String) -> Bool {
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && Int($0) != nil }
}
