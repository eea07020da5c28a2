import Foundation
import Testing
@testable import LightlyStorage
import PostgresTestSupport

/// A PostgreSQL URL's password stays out of what we print and log.
struct PostgresURLTests {
    @Test(arguments: [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u:p@ss:w@rd@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"),
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://h/db?sslmode=require&password=pw", "postgresql://h/db?sslmode=require&password=***"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql:///db?host=%2Fvar%2Frun", "postgresql:///db?host=%2Fvar%2Frun"),
    ])
    func redactsPasswords(url: String, shown: String) {
        #expect(PostgresDatabase.redacted(url: url) == shown)
    }

    @Test func scrubRemovesThePasswordFromAMessage() {
        let url = "postgresql://u:s3cret-pw@h/db"
        #expect(PostgresURL.scrub("invalid URI: postgresql://u:s3cret-pw@h/db", url: url) == "invalid URI: postgresql://u:***@h/db")
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func aRefusedLoginDoesNotEchoThePassword() throws {
        let server = try PostgresTestServer.shared()
        let secret = "wrong-\(UInt32.random(in: 0...UInt32.max))"
        let url = "postgresql://postgres:\(secret)@127.0.0.1:\(server.port)/postgres"
        let error = try #require(throws: StorageError.self) { try PostgresDatabase(url: url) }
        #expect(!"\(error)".contains(secret))
        #expect("\(error)".contains("password authentication failed"))
    }
}
