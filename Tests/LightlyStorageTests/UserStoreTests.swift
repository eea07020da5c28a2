import Foundation
@testable import LightlyStorage
import Testing

/// Users with an e-mail and their tokens, in the store and through the `lightly-server user` /
/// `token create --user` commands.
@Suite struct UserStoreTests {
    @Test func emailsAreNormalisedAndChecked() throws {
        #expect(try UserStore.normalize(email: "Ann@Example.COM") == "ann@example.com")
        for bad in ["", "ann", "@example.com", "ann@", "a b@c.d", "a@b@c", String(repeating: "a", count: 250) + "@b.cd", "añn@b.c"] {
            #expect(throws: StorageError.self, "\(bad)") { try UserStore.normalize(email: bad) }
        }
    }

    @Test func createListAndTokensForAUserWithAnEmail() throws {
        try withFileDatabase { db, _ in
            let users = UserStore(database: db)
            let tokens = TokenStore(database: db)
            let id = try users.create(email: "Ann@Example.com")
            #expect(throws: StorageError.self) { try users.create(email: "ann@example.com", name: "other") }
            #expect(throws: StorageError.self) { try users.create(email: "x@example.com", name: "ann@example.com") }
            let token = try tokens.create(name: "ann-ci", forUserWithEmail: "ANN@example.com")
            #expect(try tokens.authenticate(token)?.id == id)
            #expect(throws: StorageError.self) { try tokens.create(name: "ann-ci", forUserWithEmail: "ann@example.com") }
            #expect(throws: StorageError.self) { try tokens.create(name: "t", forUserWithEmail: "nobody@example.com") }
            // A token name of another user's revoked token is not handed over.
            let other = try tokens.create(name: "bob")
            _ = other
            try tokens.revoke(name: "bob")
            #expect(throws: StorageError.self) { try tokens.create(name: "bob", forUserWithEmail: "ann@example.com") }
            // Revoked, then issued again for the same user.
            try tokens.revoke(name: "ann-ci")
            let again = try tokens.create(name: "ann-ci", forUserWithEmail: "ann@example.com")
            #expect(try tokens.authenticate(again)?.id == id)
            #expect(try tokens.authenticate(token) == nil)
            let list = try users.list()
            #expect(list.map(\.name) == ["ann@example.com", "bob"])
            #expect(list.map(\.email) == ["ann@example.com", nil])
            #expect(list.map(\.activeTokens) == [1, 0])
        }
    }

    @Test(.enabled(if: CLI.binary != nil, "lightly-server binary not built next to the test bundle"))
    func userCommands() throws {
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
