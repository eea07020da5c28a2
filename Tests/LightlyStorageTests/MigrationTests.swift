import Foundation
import Testing
@testable import LightlyStorage

@Suite struct MigrationTests {
    /// The folder next to Package.swift, found from this file's path.
    static var migrationsFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("migrations")
    }

    /// Both embedded sets: SQLite's `migrations/` and PostgreSQL's `migrations/postgres/`.
    @Test(arguments: ["", "postgres"])
    func embeddedSetEqualsTheMigrationsFolder(subfolder: String) throws {
        let folder = subfolder.isEmpty ? Self.migrationsFolder : Self.migrationsFolder.appendingPathComponent(subfolder)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(!files.isEmpty)
        let embedded = subfolder.isEmpty ? Migration.embedded : Migration.embeddedPostgres
        #expect(embedded.map { $0.name + ".sql" } == files, "stale build? `touch Package.swift` and rebuild")
        for m in embedded {
            let text = try String(contentsOf: folder.appendingPathComponent(m.name + ".sql"), encoding: .utf8)
            #expect(m.sql == text, "embedded \(m.name) differs from the file: `touch Package.swift` and rebuild")
            #expect(m.version == Int(m.name.prefix(4)))
        }
        #expect(embedded.map(\.version) == Array(1...embedded.count), "versions are dense from 1")
    }

    /// Every SQLite migration has its PostgreSQL translation under the same number and name.
    @Test func postgresMigrationsMirrorTheSQLiteOnes() {
        #expect(Migration.embeddedPostgres.map(\.name) == Migration.embedded.map(\.name))
    }

    @Test func migrationsApplyOnce() throws {
        try withTempDir { dir in
            let path = dir + "/m.sqlite3"
            let db = try Database(path: path)
            let first = try db.migrate()
            #expect(first == Migration.embedded.map(\.name))
            #expect(try db.migrate().isEmpty)
            #expect(try db.schemaVersion() == Migration.embedded.count)
            db.close()
            // A new process (a new Database) finds nothing to do either.
            let again = try Database(path: path)
            defer { again.close() }
            #expect(try again.migrate().isEmpty)
            let rows = try again.read { try $0.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version") }
            #expect(rows.count == Migration.embedded.count)
            #expect(try rows.allSatisfy { try $0.int64(2) > 0 })
        }
    }

    @Test func laterMigrationsApplyInOrderAndAtomically() throws {
        let db = try Database(path: ":memory:")
        let v1 = Migration(version: 1, name: "0001_a", sql: "CREATE TABLE a(x);")
        let v2 = Migration(version: 2, name: "0002_b", sql: "CREATE TABLE b(x); INSERT INTO a VALUES (1);")
        let bad = Migration(version: 3, name: "0003_bad", sql: "CREATE TABLE c(x); CREATE TABLE a(y);")
        #expect(try db.migrate([v1]) == ["0001_a"])
        #expect(try db.migrate([v2, v1]) == ["0002_b"])
        let e = try #require(throws: StorageError.self) { try db.migrate([v1, v2, bad]) }
        #expect(e.kind == .sqlite)
        // The failed migration left nothing behind: no table c, no record.
        #expect(try db.read { try $0.queryOne("SELECT 1 FROM sqlite_master WHERE name = 'c'") } == nil)
        #expect(try db.schemaVersion() == 2)
    }

    @Test func newerSchemaIsRefused() throws {
        try withTempDir { dir in
            let db = try Database(path: dir + "/new.sqlite3")
            defer { db.close() }
            try db.migrate()
            try db.write { try $0.run("INSERT INTO schema_migrations(version, name, applied_at) VALUES (7, '0007_future', 1)") }
            let e = try #require(throws: StorageError.self) { try db.migrate() }
            let known = Migration.embedded.count
            #expect(e.kind == .schemaTooNew(found: 7, known: known))
            #expect(e.description == "database schema version 7 is newer than this lightly-server (knows up to \(known)); upgrade the binary")
        }
    }

    @Test func renamedMigrationIsDetected() throws {
        let db = try Database(path: ":memory:")
        try db.migrate([Migration(version: 1, name: "0001_a", sql: "CREATE TABLE a(x);")])
        let e = try #require(throws: StorageError.self) {
            try db.migrate([Migration(version: 1, name: "0001_other", sql: "CREATE TABLE a(x);")])
        }
        #expect(e.kind == .migrationMismatch)
    }
}
