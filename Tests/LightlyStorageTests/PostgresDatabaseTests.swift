import Foundation
import Testing
@testable import LightlyStorage
import PostgresTestSupport

/// `PostgresDatabase`: serializable writes that retry conflicts, read-only snapshots, a bounded pool.
@Suite(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
struct PostgresDatabaseTests {
    /// The stores' "read the maximum, insert the next number" pattern, from many threads at once:
    /// SQLite serializes it with one writer; here SERIALIZABLE plus retries must give the same
    /// dense, duplicate-free numbers. Every write conflicts with every other one here (with a
    /// single attempt this test fails on SQLSTATE 40001), hence more attempts than the default.
    @Test func concurrentReadThenInsertWritesStayDense() throws {
        let db = try PostgresDatabase(url: try PostgresTestServer.shared().makeDatabase(), maxConnections: 4, writeAttempts: 50,
                                      serializeWrites: false)   // the retries alone keep it dense
        defer { db.close() }
        try db.write { pg in try pg.execute("CREATE TABLE seqs (seq bigint PRIMARY KEY)") }
        let threads = 4, perThread = 10
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<perThread {
                do {
                    try db.write { pg in
                        let next = try pg.queryOne("SELECT coalesce(max(seq), 0) + 1 FROM seqs")?.int(0) ?? 1
                        try pg.run("INSERT INTO seqs(seq) VALUES (?)", next)
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let seqs = try db.read { pg in try pg.query("SELECT seq FROM seqs ORDER BY seq").map { try $0.int(0) } }
        #expect(seqs == Array(1...(threads * perThread)))
    }

    @Test func readsAreReadOnlyAndErrorsRollBack() throws {
        let db = try PostgresDatabase(url: try PostgresTestServer.shared().makeDatabase())
        defer { db.close() }
        try db.migrate()
        let e = try #require(throws: StorageError.self) {
            try db.read { pg in try pg.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u1", "alice", 1) }
        }
        #expect(e.sqlState == "25006")
        try db.write { pg in try pg.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u1", "alice", 1) }
        let dup = try #require(throws: StorageError.self) {
            try db.write { pg in
                try pg.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u2", "bob", 2)
                try pg.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u3", "alice", 3)
            }
        }
        #expect(dup.isUniqueViolation)
        #expect(try db.read { pg in try pg.query("SELECT id FROM users").map { try $0.string(0) } } == ["u1"])
    }

    @Test func aFullPoolAnswersBusyInsteadOfWaitingForever() throws {
        let db = try PostgresDatabase(url: try PostgresTestServer.shared().makeDatabase(), maxConnections: 1, acquireTimeout: 0.2)
        defer { db.close() }
        let inner = try #require(throws: StorageError.self) {
            try db.read { _ in try db.read { _ in } }    // the only connection is taken
        }
        #expect(inner.isBusy)
        #expect(try db.read { pg in try pg.queryOne("SELECT 1")?.int(0) } == 1)
    }

    /// A connection the server ended (restart, failover, pg_terminate_backend) answers busy
    /// once, and the pool replaces it: the next request works.
    @Test func aBrokenConnectionIsBusyOnceThenReplaced() throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let db = try PostgresDatabase(url: url, maxConnections: 1)
        defer { db.close() }
        let pid = try db.read { pg in try pg.queryOne("SELECT pg_backend_pid()")?.int(0) }
        let admin = try PostgresConnection(url: url)
        defer { admin.close() }
        #expect(try admin.queryOne("SELECT pg_terminate_backend(?::int)", pid)?.bool(0) == true)
        let e = try #require(throws: StorageError.self) { try db.read { pg in try pg.queryOne("SELECT 1") } }
        #expect(e.isBusy, "\(e)")
        let newPid = try db.read { pg in try pg.queryOne("SELECT pg_backend_pid()")?.int(0) }
        #expect(newPid != nil && newPid != pid)
    }
}
