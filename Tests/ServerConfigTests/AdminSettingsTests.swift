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

    @Test func reproducibilitySettings() throws {
        #expect(ServerSettings.defaults.deterministicIds == nil && ServerSettings.defaults.clock == "system")
        let env = ["LIGHTLY_SERVER_DETERMINISTIC_IDS": "42", "LIGHTLY_SERVER_CLOCK": "fixed:1700000000000"]
        let s = try ServerSettings.resolve(environment: env)
        #expect(s.deterministicIds == 42 && s.clock == "fixed:1700000000000")
        #expect(try ServerSettings.resolve(environment: env, flags: [.clock: "step:0:10"]).clock == "step:0:10")
        #expect(ServerSettings.Key.deterministicIds.flagName == "--deterministic-ids")
        for bad in ["fixed", "fixed:-1", "fixed:1:2", "step:1", "step:a:b", "sometimes", "fixed:\(Int64.max)"] {
            #expect(throws: ConfigError.self, "\(bad)") { try ServerSettings.resolve(flags: [.clock: bad]) }
        }
        #expect(throws: ConfigError.self) { try ServerSettings.resolve(flags: [.deterministicIds: "-1"]) }
        #expect(throws: ConfigError.self) { try ServerSettings.resolve(flags: [.deterministicIds: "seed"]) }
    }
}
