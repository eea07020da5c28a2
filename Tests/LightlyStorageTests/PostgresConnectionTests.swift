import Foundation
import Testing
@testable import LightlyStorage
import PostgresTestSupport

/// `PostgresConnection` and the PostgreSQL migrations against a real server
/// (`PostgresTestServer`), each test in its own fresh database.
@Suite(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
struct PostgresConnectionTests {
    @Test func valuesRoundTripThroughArgumentsAndRows() throws {
        let pg = try PostgresConnection(url: try PostgresTestServer.shared().makeDatabase())
        defer { pg.close() }
        try pg.execute("CREATE TABLE t (i bigint, s smallint, d double precision, x text, b bytea, f boolean)")
        let allBytes = (0...255).map(UInt8.init) + [0, 0]
        let text = "zoë \"quoted\" 'single' \\ back; DROP TABLE t; -- 🦆"
        #expect(try pg.run("INSERT INTO t VALUES ($1, $2, $3, $4, $5, true)",
                           Int64.min, 1, 0.1, text, allBytes) == 1)
        try pg.run("INSERT INTO t VALUES ($1, $2, $3, $4, $5, false)", nil, nil, Double.infinity, "", [UInt8]())
        let rows = try pg.query("SELECT i, s, d, x, b, f FROM t ORDER BY i NULLS LAST")
        #expect(rows.count == 2)
        #expect(try rows[0].int64("i") == Int64.min)
        #expect(try rows[0].int("s") == 1)
        #expect(try rows[0].double("d") == 0.1)
        #expect(try rows[0].string("x") == text)
        #expect(try rows[0].blob("b") == allBytes)
        #expect(try rows[0].bool("f") == true)
        #expect(rows[1]["i"] == .null && rows[1]["s"] == .null)
        #expect(try rows[1].double("d") == .infinity)
        #expect(try rows[1].string("x") == "")
        #expect(try rows[1].blob("b") == [])
        #expect(try rows[1].bool("f") == false)
        // Aggregates: count is bigint, sum of bigint is numeric.
        let agg = try #require(try pg.queryOne("SELECT count(*), sum(s), max(x) FROM t"))
        #expect(try agg.int(0) == 2 && agg.int(1) == 1)
        #expect(try pg.queryOne("SELECT 1 WHERE false") == nil)
        #expect(try pg.run("UPDATE t SET s = 7") == 2)
    }

    @Test func uniqueViolationIsAConflictNotBusy() throws {
        let pg = try PostgresConnection(url: try PostgresTestServer.shared().makeDatabase())
        defer { pg.close() }
        try pg.execute("CREATE TABLE u (name text UNIQUE, parent text REFERENCES u(name))")
        try pg.run("INSERT INTO u(name) VALUES ($1)", "secret-name")
        let e = try #require(throws: StorageError.self) { try pg.run("INSERT INTO u(name) VALUES ($1)", "secret-name") }
        #expect(e.kind == .postgres && e.sqlState == "23505")
        #expect(e.isUniqueViolation && e.isConstraintViolation && !e.isBusy && !e.isForeignKeyViolation)
        #expect(!e.description.contains("secret-name"), "no values in messages")
        let fk = try #require(throws: StorageError.self) { try pg.run("INSERT INTO u VALUES ($1, $2)", "b", "missing") }
        #expect(fk.isForeignKeyViolation && !fk.isUniqueViolation)
        // A value that does not fit its type: the message does not quote it.
        let bad = try #require(throws: StorageError.self) { try pg.run("SELECT $1::bigint", "not-a-number-secret") }
        #expect(bad.sqlState == "22P02" && !bad.description.contains("secret"))
        // Text with a NUL would be cut short by the protocol: refused before sending.
        let nul = try #require(throws: StorageError.self) { try pg.run("INSERT INTO u(name) VALUES ($1)", "a\u{0}b") }
        #expect(nul.kind == .invalidArgument)
        // The connection is still usable after errors.
        #expect(try pg.queryOne("SELECT count(*) FROM u")?.int(0) == 1)
    }

    @Test func serializationFailureIsBusy() throws {
        let url = try PostgresTestServer.shared().makeDatabase()
        let a = try PostgresConnection(url: url), b = try PostgresConnection(url: url)
        defer { a.close(); b.close() }
        try a.execute("CREATE TABLE c (id int PRIMARY KEY, n int NOT NULL); INSERT INTO c VALUES (1, 0)")
        let e = try #require(throws: StorageError.self) {
            try a.transaction(.repeatableRead) { a in
                _ = try a.query("SELECT n FROM c WHERE id = 1")      // takes the snapshot
                try b.run("UPDATE c SET n = n + 1 WHERE id = 1")       // commits meanwhile
                try a.run("UPDATE c SET n = n + 10 WHERE id = 1")      // conflicts
            }
        }
        #expect(e.sqlState == "40001" && e.isBusy && !e.isUniqueViolation)
        #expect(!a.isInTransaction)
        #expect(try a.queryOne("SELECT n FROM c")?.int(0) == 1)
        // A lock wait past lock_timeout is busy too.
        try a.execute("SET lock_timeout = '50ms'")
        let timeout = try #require(throws: StorageError.self) {
            try b.transaction { b in
                try b.run("UPDATE c SET n = 5 WHERE id = 1")
                try a.run("UPDATE c SET n = 6 WHERE id = 1")
            }
        }
        #expect(timeout.sqlState == "55P03" && timeout.isBusy)
    }

    @Test func transactionsCommitRollBackAndRefuseAnAbortedCommit() throws {
        let pg = try PostgresConnection(url: try PostgresTestServer.shared().makeDatabase())
        defer { pg.close() }
        try pg.execute("CREATE TABLE t (x int PRIMARY KEY)")
        let v = try pg.transaction { pg in try pg.run("INSERT INTO t VALUES (1)") }
        #expect(v == 1)
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try pg.transaction { pg in
                try pg.run("INSERT INTO t VALUES (2)")
                throw Boom()
            }
        }
        // A failed statement whose error the body swallowed: the commit must not pretend.
        let e = try #require(throws: StorageError.self) {
            try pg.transaction { pg in
                try pg.run("INSERT INTO t VALUES (3)")
                _ = try? pg.run("INSERT INTO t VALUES (1)")     // unique violation, swallowed
            }
        }
        #expect(e.sqlState == "25P02")
        #expect(try pg.query("SELECT x FROM t ORDER BY x").map { try $0.int(0) } == [1])
        let nested = try #require(throws: StorageError.self) { try pg.transaction { pg in try pg.transaction { _ in } } }
        #expect(nested.kind == .reentrantTransaction)
    }

    @Test func badURLsAndUnreachableServersAreClearErrors() throws {
        let wrong = try #require(throws: StorageError.self) { try PostgresConnection(url: "mysql://127.0.0.1/x") }
        #expect(wrong.kind == .invalidArgument)
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let server = try PostgresTestServer.shared()
        let refused = try #require(throws: StorageError.self) {
            try PostgresConnection(url: "postgresql://postgres@127.0.0.1:1/postgres", connectTimeout: 2)
        }
        #expect(refused.kind == .postgres && refused.description.contains("cannot connect"))
        let badPassword = try #require(throws: StorageError.self) {
            try PostgresConnection(url: "postgresql://postgres:wrong@127.0.0.1:\(server.port)/postgres")
        }
        #expect(badPassword.kind == .postgres && badPassword.description.contains("password"))
        let closed = try PostgresConnection(url: try server.makeDatabase())
        closed.close()
        #expect(throws: StorageError.self) { try closed.execute("SELECT 1") }
    }
}

/// `?` placeholders become `$n` outside literals, quoted names, dollar quotes and comments.
@Suite struct PlaceholderTests {
    @Test(arguments: [
        ("SELECT 1", "SELECT 1"),
        ("SELECT ?, ?", "SELECT $1, $2"),
        ("UPDATE t SET a = ? WHERE b = '?' AND c = ?", "UPDATE t SET a = $1 WHERE b = '?' AND c = $2"),
        ("SELECT 'it''s ?', \"odd?name\", ? -- why?\n, ?", "SELECT 'it''s ?', \"odd?name\", $1 -- why?\n, $2"),
        ("SELECT /* ? */ ? , $$ ? $$, $q$ ? $q$, ?", "SELECT /* ? */ $1 , $$ ? $$, $q$ ? $q$, $2"),
        ("SELECT $1, $2", "SELECT $1, $2"),
        ("SELECT 'unterminated ?", "SELECT 'unterminated ?"),
        ("INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?)", "INSERT INTO t VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"),
    ])
    func numbersQuestionMarks(sql: String, expected: String) throws {
        #expect(try Placeholders.numbered(sql).sql == expected)
    }

    @Test func mixingBothStylesIsRefused() {
        #expect(throws: StorageError.self) { try Placeholders.numbered("SELECT ?, $1") }
    }

    @Test(.enabled(if: PostgresTestServer.isAvailable, PostgresTestServer.skipReason))
    func sqliteStyleSQLRunsOnPostgres() throws {
        let pg = try PostgresConnection(url: try PostgresTestServer.shared().makeDatabase())
        defer { pg.close() }
        try pg.execute("CREATE TABLE t (id text PRIMARY KEY, note text)")
        try pg.run("INSERT INTO t(id, note) VALUES (?, ?)", "a", "what?")
        #expect(try pg.queryOne("SELECT note FROM t WHERE id = ? AND note <> '?'", "a")?.string(0) == "what?")
    }
}
