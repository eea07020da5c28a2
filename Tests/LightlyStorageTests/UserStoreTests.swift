import Foundation
@testable import LightlyStorage
import Testing

/// Users with an e-mail and their tokens, in the store (the `lightly-server user` and
/// `token create --user` commands are tested in LightlyServerTests/UserCommandTests.swift).
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
}
