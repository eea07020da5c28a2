import Foundation
import Testing

/// Team datasets end to end: users with an e-mail and their tokens made by the real
/// `lightly-server user create` / `token create --user` commands while a real server runs, then
/// sharing over HTTP exactly as the Python client's `share_dataset_only_with`,
/// `get_shared_users` and `get_datasets(shared=True)` call it.
@Suite struct TeamDatasetProcessTests {
    @Test(.timeLimit(.minutes(2)))
    func shareWithAUserCreatedByTheCLI() async throws {
        let dir = NSTemporaryDirectory() + "lightly-team-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = ServerProcess(dataDir: dir)
        try server.start()
        defer { server.stop() }
        let bin = try LiveServer.binary("lightly-server")
        let created = runCommand(bin, ["user", "create", "--data-dir", dir, "--email", "Bob@Example.com", "--name", "bob"])
        #expect(created.0 == 0, "\(created.1)")
        let (rc, out) = runCommand(bin, ["token", "create", "--data-dir", dir, "--user", "bob@example.com"])
        #expect(rc == 0)
        let bobToken = out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(bobToken.hasPrefix("lt_"))
        let list = runCommand(bin, ["user", "list", "--data-dir", dir])
        #expect(list.1.contains("bob@example.com"))

        // The first user (the serve token) owns a dataset and shares it with Bob.
        let ds = try #require(ServerProcess.id(await server.call("POST", "/v1/datasets", json: #"{"name":"team"}"#).body))
        let share = await server.call("POST", "/v1/datasets/\(ds)/collaboration/access",
                                      json: #"{"accessType":"WRITE","users":["bob@example.com"],"creator":"USER_PIP"}"#)
        #expect(share.status == 201)
        let configs = try JSONSerialization.jsonObject(with: await server.call("GET", "/v1/datasets/\(ds)/collaboration/access").body) as? [[String: Any]]
        #expect(configs?.first?["users"] as? [String] == ["bob@example.com"])

        func asBob(_ path: String) async -> (status: Int, body: Data) {
            await server.call("GET", server.url + path + (path.contains("?") ? "&" : "?") + "token=" + bobToken)
        }
        let shared = try JSONSerialization.jsonObject(with: await asBob("/v1/datasets?shared=True").body) as? [[String: Any]]
        #expect(shared?.compactMap { $0["id"] as? String } == [ds])
        #expect(await asBob("/v1/datasets/\(ds)").status == 200)
        #expect(await asBob("/v1/datasets/\(ds)/collaboration/access").status == 403)

        // Revoked: Bob is back to 404.
        #expect(await server.call("POST", "/v1/datasets/\(ds)/collaboration/access", json: #"{"accessType":"WRITE","users":[]}"#).status == 201)
        #expect(await asBob("/v1/datasets/\(ds)").status == 404)
    }
}
