import Foundation
import ServerConfig
import Testing

/// The admin API's settings: off by default, layered like every setting, validated without
/// echoing the secret.
@Suite struct AdminSettingsTests {
    @Test func adminTokenIsOffByDefaultAndLayered() throws {
        #expect(ServerSettings.defaults.adminToken == nil)
        let file = try ConfigFile.parse(#"admin_token = "from-the-file""#)
        #expect(try ServerSettings.resolve(file: file).adminToken == "from-the-file")
        let env = ["LIGHTLY_SERVER_ADMIN_TOKEN": "from-the-environment"]
        #expect(try ServerSettings.resolve(file: file, environment: env).adminToken == "from-the-environment")
        #expect(try ServerSettings.resolve(file: file, environment: env, flags: [.adminToken: "from-the-flag"]).adminToken == "from-the-flag")
        // Empty turns it off again.
        #expect(try ServerSettings.resolve(file: file, flags: [.adminToken: ""]).adminToken == nil)
        #expect(ServerSettings.Key.adminToken.flagName == "--admin-token")
        #expect(ServerSettings.Key.adminToken.isSecret)
    }

    @Test(arguments: ["short", "has space inside", String(repeating: "x", count: 257), "tab\there1"])
    func badAdminTokensAreRejectedWithoutEchoingThem(token: String) throws {
        let e = try #require(throws: ConfigError.self) { try ServerSettings.resolve(flags: [.adminToken: token]) }
        #expect(e.source == "option --admin-token")
        #expect(!e.description.contains(token))
    }
}
