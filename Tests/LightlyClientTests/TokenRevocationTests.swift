import Foundation
import Testing

/// A token revoked by the `token revoke` command (another process writing the same database
/// file) stops working on a running server within a second, although the server caches
/// successful authentications.
@Suite(.serialized) struct TokenRevocationTests {
    @Test(.timeLimit(.minutes(2)))
    func revokedByTheCLIIsRefusedWithinASecond() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lightly-revoke-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = ServerProcess(dataDir: dir)
        try server.start()
        defer { server.stop() }
        let cli = try LiveServer.binary("lightly-server")
        let (created, token) = runCommand(cli, ["token", "create", "--data-dir", dir, "--name", "ci"])
        #expect(created == 0)
        let ciToken = token.split(separator: "\n").first { $0.hasPrefix("lt_") }.map(String.init) ?? ""
        let datasets = server.url + "/v1/datasets?token=" + ciToken
        // Several requests, so the token is surely in the server's cache.
        for _ in 0..<5 { #expect(await server.call("GET", datasets).status == 200) }

        let (revoked, _) = runCommand(cli, ["token", "revoke", "--data-dir", dir, "ci"])
        #expect(revoked == 0)
        // Committed by now. One second later every request must be refused.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        for _ in 0..<3 { #expect(await server.call("GET", datasets).status == 401) }
        // The server's own token is unaffected.
        #expect(await server.call("GET", "/v1/datasets").status == 200)
    }
}
