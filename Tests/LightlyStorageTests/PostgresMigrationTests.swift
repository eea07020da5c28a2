import Foundation
import Testing
@testable import LightlyStorage
import PostgresTestSupport

/// PostgreSQL's migrations: they apply, re-applying is a no-op, concurrent appliers apply each
/// migration once, and the schema matches SQLite's.
@Suite(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
struct PostgresMigrationTests {
    @Test func migrationsApplyOnceAndRecordTheirVersions() throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let pg = try PostgresConnection(url: url)
        defer { pg.close() }
        #expect(try pg.schemaVersion() == 0)
        #expect(try pg.migrate() == Migration.embeddedPostgres.map(\.name))
        #expect(try pg.migrate().isEmpty)
        #expect(try pg.schemaVersion() == Migration.embeddedPostgres.count)
        // A new connection (a restarted server) finds nothing to do either.
        let again = try PostgresConnection(url: url)
        defer { again.close() }
        #expect(try again.migrate().isEmpty)
        let rows = try again.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        #expect(try rows.map { try $0.string("name") } == Migration.embeddedPostgres.map(\.name))
        #expect(try rows.allSatisfy { try $0.int64(2) > 0 })
        // The lock is released: another session can take it at once.
        #expect(try again.queryOne("SELECT pg_try_advisory_lock($1)", PostgresConnection.migrationLockKey)?.bool(0) == true)
    }

    @Test func concurrentAppliersApplyEachMigrationOnce() throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let appliers = 4
        let connections = try (0..<appliers).map { _ in try PostgresConnection(url: url) }
        let results = Locked<[Result<[String], any Error>]>([])
        let start = DispatchSemaphore(value: 0), done = DispatchGroup()
        for conn in connections {
            let box = UncheckedBox(conn)
            done.enter()
            Thread.detachNewThread {
                start.wait()
                let result = Result { try box.value.migrate() }
                results.withLock { $0.append(result) }
                done.leave()
            }
        }
        for _ in 0..<appliers { start.signal() }
        #expect(done.wait(timeout: .now() + 120) == .success)
        let applied = try results.withLock { try $0.map { try $0.get() } }
        #expect(applied.count == appliers)
        #expect(applied.flatMap { $0 }.sorted() == Migration.embeddedPostgres.map(\.name).sorted(),
                "each migration applied exactly once across all appliers")
        let pg = try PostgresConnection(url: url)
        defer { pg.close() }
        #expect(try pg.queryOne("SELECT count(*) FROM schema_migrations")?.int(0) == Migration.embeddedPostgres.count)
        for conn in connections { conn.close() }
    }

    @Test func failingMigrationLeavesNothingAndNewerSchemaIsRefused() throws {
        let pg = try PostgresConnection(url: try PostgresTestServer.shared().makeDatabase())
        defer { pg.close() }
        let v1 = Migration(version: 1, name: "0001_a", sql: "CREATE TABLE a(x int);")
        let bad = Migration(version: 2, name: "0002_bad", sql: "CREATE TABLE c(x int); CREATE TABLE a(y int);")
        #expect(try pg.migrate([v1]) == ["0001_a"])
        let e = try #require(throws: StorageError.self) { try pg.migrate([v1, bad]) }
        #expect(e.kind == .postgres && e.sqlState == "42P07")
        #expect(try pg.queryOne("SELECT to_regclass('c') IS NULL")?.bool(0) == true, "no table c left behind")
        #expect(try pg.schemaVersion() == 1)
        let renamed = try #require(throws: StorageError.self) {
            try pg.migrate([Migration(version: 1, name: "0001_other", sql: "")])
        }
        #expect(renamed.kind == .migrationMismatch)
        try pg.run("INSERT INTO schema_migrations(version, name, applied_at) VALUES (7, '0007_future', 1)")
        let tooNew = try #require(throws: StorageError.self) { try pg.migrate([v1]) }
        #expect(tooNew.kind == .schemaTooNew(found: 7, known: 1))
    }

    /// The translation is faithful: the same tables, the same columns, the same NOT NULLs.
    @Test func schemaMatchesSQLite() throws {
        let sqlite = try makeMemoryDatabase()
        let sqliteColumns = try sqlite.read { conn in
            try conn.query("""
                SELECT m.name, p.name, p."notnull" OR p.pk > 0 FROM sqlite_master m, pragma_table_info(m.name) p
                WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2
                """).map { "\(try $0.string(0)).\(try $0.string(1)) \(try $0.bool(2) ? "NOT NULL" : "NULL")" }
        }
        let pg = try PostgresConnection(url: try PostgresTestServer.shared().makeDatabase())
        defer { pg.close() }
        try pg.migrate()
        let pgColumns = try pg.query("""
            SELECT table_name, column_name, is_nullable = 'NO' FROM information_schema.columns
            WHERE table_schema = 'public' ORDER BY table_name::text COLLATE "C", column_name::text COLLATE "C"
            """).map { "\(try $0.string(0)).\(try $0.string(1)) \(try $0.bool(2) ? "NOT NULL" : "NULL")" }
        #expect(!pgColumns.isEmpty)
        #expect(pgColumns == sqliteColumns)
        // The same indexes besides primary keys (UNIQUE constraints and CREATE INDEX), and the
        // same number of unique ones, per table.
        let sqliteIndexes = try sqlite.read { conn in
            try conn.query("""
                SELECT m.name, count(*), sum(i."unique") FROM sqlite_master m, pragma_index_list(m.name) i
                WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND i.origin != 'pk' GROUP BY 1 ORDER BY 1
                """).map { "\(try $0.string(0)) \(try $0.int(1)) \(try $0.int(2))" }
        }
        let pgIndexes = try pg.query("""
            SELECT c.relname, count(*), sum(i.indisunique::int) FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND NOT i.indisprimary GROUP BY 1 ORDER BY c.relname::text COLLATE "C"
            """).map { "\(try $0.string(0)) \(try $0.int(1)) \(try $0.int(2))" }
        #expect(!pgIndexes.isEmpty)
        #expect(pgIndexes == sqliteIndexes)
    }
}

/// Hands a non-Sendable value to exactly one other thread.
final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
