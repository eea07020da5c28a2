import Foundation
import Testing

/// `lightly-server user create|list` and `token create --user`, through the built binary.
@Suite(.enabled(if: CLI.binary != nil, "lightly-server binary not built next to the test bundle"))
struct UserCommandTests {
    @Test func userCommands() throws {
        try withTempDir { dir in
            let created = try CLI.run(["user", "create", "--data-dir", dir, "--email", "Ann@Example.com", "--name", "ann"])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout.contains("ann") && created.stdout.contains("<ann@example.com>"))
            #expect(try CLI.run(["user", "create", "--data-dir", dir, "--email", "ann@example.com"]).status != 0)
            let bad = try CLI.run(["user", "create", "--data-dir", dir, "--email", "nope"])
            #expect(bad.status != 0 && bad.stderr.contains("e-mail"))
            let token = try CLI.run(["token", "create", "--data-dir", dir, "--user", "ann@example.com"])
            #expect(token.status == 0 && token.stdout.hasPrefix("lt_"), "\(token.stderr)")
            let second = try CLI.run(["token", "create", "--data-dir", dir, "--user", "ann@example.com", "--name", "ann-laptop"])
            #expect(second.status == 0 && second.stdout.hasPrefix("lt_"))
            let unknown = try CLI.run(["token", "create", "--data-dir", dir, "--user", "zed@example.com"])
            #expect(unknown.status != 0 && unknown.stderr.contains("zed@example.com"))
            #expect(try CLI.run(["token", "create", "--data-dir", dir]).status != 0)
            let list = try CLI.run(["user", "list", "--data-dir", dir])
            #expect(list.status == 0 && list.stdout.contains("ann@example.com") && !list.stdout.contains("lt_"))
            let json = try CLI.run(["user", "list", "--data-dir", dir, "--json"])
            let items = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
            #expect(items?.first?["email"] as? String == "ann@example.com")
            #expect(items?.first?["activeTokens"] as? Int == 2)
        }
    }
}
