import Foundation
import Synchronization
import Testing
@testable import LightlyStorage

@Suite struct DatabaseTests {
    @Test func pragmasAreSetOnFileDatabases() throws {
        try withFileDatabase { db, _ in
            let (mode, fk, sync) = try db.write { c in
                (try c.queryOne("PRAGMA journal_mode")?.string(0),
                 try c.queryOne("PRAGMA foreign_keys")?.int(0),
                 try c.queryOne("PRAGMA synchronous")?.int(0))
            }
            #expect(mode == "wal")
            #expect(fk == 1)
            #expect(sync == 2)   // FULL
            let readerFK = try db.read { try $0.queryOne("PRAGMA foreign_keys")?.int(0) }
            #expect(readerFK == 1)
        }
    }

    @Test func uniqueViolationIsRecognized() throws {
        let db = try makeMemoryDatabase()
        try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u1", "alice", 1) }
        let error = try #require(throws: StorageError.self) {
            try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u2", "alice", 2) }
        }
        #expect(error.isUniqueViolation)
        #expect(error.isConstraintViolation)
        #expect(!error.isForeignKeyViolation)
        #expect(error.code == SQLiteCode.constraintUnique)
        #expect(error.sql?.contains("INSERT INTO users") == true)
        // Primary key duplicates count as unique violations too.
        let pk = try #require(throws: StorageError.self) {
            try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u1", "bob", 2) }
        }
        #expect(pk.isUniqueViolation)
    }

    @Test func foreignKeysAreEnforced() throws {
        let db = try makeMemoryDatabase()
        let error = try #require(throws: StorageError.self) {
            try db.write {
                try $0.run("INSERT INTO datasets(id, user_id, name, created_at, last_modified_at) VALUES (?, ?, ?, ?, ?)",
                           "d1", "nobody", "ds", 1, 1)
            }
        }
        #expect(error.isForeignKeyViolation)
        #expect(error.isConstraintViolation)
        #expect(!error.isUniqueViolation)
        // ON DELETE CASCADE works because foreign_keys is on.
        try db.write { c in
            try c.run("INSERT INTO users(id, name, created_at) VALUES ('u', 'u', 1)")
            try c.run("INSERT INTO datasets(id, user_id, name, created_at, last_modified_at) VALUES ('d', 'u', 'ds', 1, 1)")
            try c.run("DELETE FROM users WHERE id = 'u'")
        }
        #expect(try db.read { try $0.queryOne("SELECT count(*) FROM datasets")?.int(0) } == 0)
    }

    struct Boom: Error {}

    @Test func writeRollsBackOnThrow() throws {
        try withFileDatabase { db, _ in
            #expect(throws: Boom.self) {
                try db.write { c in
                    try c.run("INSERT INTO users(id, name, created_at) VALUES ('u1', 'alice', 1)")
                    throw Boom()
                }
            }
            #expect(try db.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) } == 0)
            // The connection is usable afterwards (no transaction left open).
            try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u1', 'alice', 1)") }
            #expect(try db.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) } == 1)
        }
    }

    @Test func readersCannotWrite() throws {
        for db in [try makeMemoryDatabase()] {
            let e = try #require(throws: StorageError.self) {
                try db.read { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u1', 'alice', 1)") }
            }
            #expect(e.primaryCode == SQLiteCode.readOnly)
            // …and the in-memory writer is writable again afterwards.
            try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u1', 'alice', 1)") }
        }
        try withFileDatabase { db, _ in
            #expect(throws: StorageError.self) {
                try db.read { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u1', 'alice', 1)") }
            }
        }
    }

    @Test func nestedWriteThrowsInsteadOfDeadlocking() throws {
        let db = try makeMemoryDatabase()
        let e = try #require(throws: StorageError.self) {
            try db.write { _ in try db.write { _ in 1 } }
        }
        #expect(e.kind == .reentrantTransaction)
    }

    @Test func readersSeeASnapshotWhileWriting() throws {
        try withFileDatabase { db, _ in
            try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u0', 'zero', 1)") }
            // A reader inside its transaction keeps its snapshot while the writer commits.
            let (before, after) = try db.read { r -> (Int, Int) in
                let before = try r.queryOne("SELECT count(*) FROM users")?.int(0) ?? -1
                try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u1', 'one', 1)") }
                let after = try r.queryOne("SELECT count(*) FROM users")?.int(0) ?? -1
                return (before, after)
            }
            #expect(before == 1 && after == 1)
            #expect(try db.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) } == 2)
        }
    }

    @Test func concurrentReadersWhileWriting() throws {
        try withFileDatabase { db, _ in
            let writes = 200
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                if worker == 0 {
                    for i in 0..<writes {
                        _ = try? db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u\(i)", "n\(i)", i) }
                    }
                } else {
                    var last = 0
                    for _ in 0..<300 {
                        let n = (try? db.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) ?? 0 }) ?? -1
                        #expect(n >= last)        // snapshots only move forward
                        last = n
                    }
                }
            }
            let total = try db.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) }
            #expect(total == writes)
        }
    }

    @Test func valuesRoundTrip() throws {
        let db = try makeMemoryDatabase()
        let row = try db.write { c in
            try c.queryOne("SELECT ?, ?, ?, ?, ?, ?, ?, ?", 42, Int64.max, 2.5, "héllo\0x", true, [UInt8]([0, 1, 255]), Optional<Int>.none, [UInt8]())
        }
        let r = try #require(row)
        #expect(try r.int(0) == 42)
        #expect(try r.int64(1) == Int64.max)
        #expect(try r.double(2) == 2.5)
        #expect(try r.string(3) == "héllo\0x")
        #expect(try r.bool(4))
        #expect(try r.blob(5) == [0, 1, 255])
        #expect(try r.intOrNil(6) == nil)
        #expect(r[6] == .null)
        #expect(try r.blob(7) == [])
        #expect(throws: StorageError.self) { try r.int(3) }
        #expect(throws: StorageError.self) { try r.string(6) }
    }

    @Test func columnsByName() throws {
        let db = try makeMemoryDatabase()
        try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u1', 'alice', 7)") }
        let r = try #require(try db.read { try $0.queryOne("SELECT id, name, created_at FROM users") })
        #expect(try r.string("name") == "alice")
        #expect(try r.int("CREATED_AT") == 7)
        #expect(r["id"] == .text("u1"))
        #expect(throws: StorageError.self) { try r.string("missing") }
    }

    @Test func blobRoundTripZeroCopy() throws {
        try withFileDatabase { db, _ in
            let n = 10_000, d = 128
            let floats = (0..<(n * d)).map { Float($0 % 1000) * 0.5 }
            try db.write { c in
                try c.run("INSERT INTO users(id, name, created_at) VALUES ('u', 'u', 1)")
                try c.run("INSERT INTO datasets(id, user_id, name, created_at, last_modified_at) VALUES ('d', 'u', 'ds', 1, 1)")
                try c.run("INSERT INTO embeddings(id, dataset_id, seq, name, created_at) VALUES ('e', 'd', 0, 'emb', 1)")
                try floats.withUnsafeBytes { raw in
                    try c.run("INSERT INTO embedding_chunks(embedding_id, chunk, first_row, row_count, data) VALUES (?, ?, ?, ?, ?)",
                              arguments: [.text("e"), .integer(0), .integer(0), .integer(Int64(n)), .null], blob: raw, at: 5)
                }
            }
            let back: [Float] = try db.read { c in
                try c.withCursor("SELECT data FROM embedding_chunks WHERE embedding_id = ? AND chunk = 0", arguments: [.text("e")]) { rows in
                    guard try rows.next() else { return [] }
                    return try rows.withBlob(at: 0) { raw in
                        [Float](unsafeUninitializedCapacity: raw.count / 4) { buf, count in
                            _ = raw.copyBytes(to: UnsafeMutableRawBufferPointer(buf))
                            count = raw.count / 4
                        }
                    }
                }
            }
            #expect(back == floats)
        }
    }

    @Test func preparedStatementsAreCached() throws {
        let db = try makeMemoryDatabase()
        try db.write { c in
            let c = try #require(c as? SQLiteConnection)
            let a = try c.prepare("SELECT 1")
            let b = try c.prepare("SELECT 1")
            #expect(a === b)
            #expect(throws: StorageError.self) { try c.prepare("SELECT 1; SELECT 2") }
            #expect(throws: StorageError.self) { try c.run("SELECT ?", 1, 2) }   // argument count
        }
    }

    @Test func lastInsertRowIDAndChanges() throws {
        let db = try makeMemoryDatabase()
        try db.write { c in
            let c = try #require(c as? SQLiteConnection)
            try c.run("INSERT INTO users(id, name, created_at) VALUES ('u', 'u', 1)")
            try c.run("INSERT INTO datasets(id, user_id, name, created_at, last_modified_at) VALUES ('d', 'u', 'ds', 1, 1)")
            try c.run("INSERT INTO dataset_uploads(dataset_id, meta, created_at) VALUES ('d', '{}', 1)")
            #expect(c.lastInsertRowID == 1)
            try c.run("INSERT INTO dataset_uploads(dataset_id, meta, created_at) VALUES ('d', '{}', 1)")
            #expect(c.lastInsertRowID == 2)
            #expect(try c.run("UPDATE dataset_uploads SET meta = '[]'") == 2)
        }
    }

    @Test func backupProducesAReadableCopy() throws {
        try withFileDatabase { db, dir in
            try db.write { c in
                for i in 0..<100 { try c.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u\(i)", "n\(i)", i) }
            }
            let copyPath = dir + "/backup.sqlite3"
            try db.backup(to: copyPath)
            // Backing up again over the old copy replaces it.
            try db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('x', 'x', 1)") }
            try db.backup(to: copyPath)
            let copy = try Database(path: copyPath)
            defer { copy.close() }
            #expect(try copy.migrate().isEmpty)
            #expect(try copy.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) } == 101)
            #expect(try copy.read { try $0.queryOne("PRAGMA integrity_check")?.string(0) } == "ok")
            #expect(!FileManager.default.fileExists(atPath: copyPath + ".tmp-\(getpid())"))
        }
    }

    @Test func closedDatabaseThrows() throws {
        let db = try makeMemoryDatabase()
        db.close()
        db.close()
        let e = try #require(throws: StorageError.self) { try db.read { _ in 1 } }
        #expect(e.kind == .closed)
    }

    @Test func busyWhenAnotherProcessHoldsTheWriteLock() throws {
        try withTempDir { dir in
            let path = dir + "/busy.sqlite3"
            let a = try Database(path: path, busyTimeout: 5)
            let b = try Database(path: path, busyTimeout: 0.05)
            defer { a.close(); b.close() }
            try a.migrate()
            let e = try #require(throws: StorageError.self) {
                try a.write { _ in try b.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES ('u', 'u', 1)") } }
            }
            #expect(e.isBusy)
        }
    }

    @Test func concurrentWritersAreSerialized() throws {
        try withFileDatabase { db, _ in
            let failures = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: 4) { w in
                for i in 0..<50 {
                    do {
                        try db.write { c in
                            let n = try c.queryOne("SELECT count(*) FROM users")?.int(0) ?? 0
                            try c.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "w\(w)-\(i)", "n\(w)-\(i)", n)
                        }
                    } catch { failures.add(1, ordering: .relaxed) }
                }
            }
            #expect(failures.load(ordering: .relaxed) == 0)
            // Each insert saw all earlier ones: created_at (the count seen) is 0…199 without gaps.
            let seen = try db.read { try $0.query("SELECT created_at FROM users ORDER BY created_at").map { try $0.int(0) } }
            #expect(seen == Array(0..<200))
        }
    }

    /// Holds the writer inside a write on its own thread, queues `count` writes behind it
    /// (each `write(i)` on its own thread), then lets everything run. Returns each queued
    /// write's outcome and how many transactions committed from the moment the writer was held.
    func queueBehindABusyWriter(_ db: Database, count: Int,
                                _ write: @escaping @Sendable (Int) throws -> String) throws -> (results: [Int: Result<String, any Error>], commits: Int) {
        let entered = DispatchSemaphore(value: 0), gate = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        let results = Outcomes()
        done.enter()
        Thread {
            _ = try? db.write { c in
                entered.signal()
                gate.wait()
                try c.run("INSERT INTO users(id, name, created_at) VALUES ('first', 'first', 0)")
            }
            done.leave()
        }.start()
        entered.wait()
        let before = db.commits.load(ordering: .relaxed)
        for i in 0..<count {
            done.enter()
            Thread {
                let r = Result { try write(i) }
                results.value.withLock { $0[i] = r }
                done.leave()
            }.start()
        }
        let deadline = Date().addingTimeInterval(30)
        while db.queuedWrites < count, Date() < deadline { usleep(1000) }
        #expect(db.queuedWrites == count)
        gate.signal()
        #expect(done.wait(timeout: .now() + 30) == .success)
        return (results.value.withLock { $0 }, db.commits.load(ordering: .relaxed) - before)
    }

    final class Outcomes: Sendable {
        let value = Mutex<[Int: Result<String, any Error>]>([:])
    }

    /// Writes that queue while another commits share one transaction; each caller gets its
    /// own result, and one that throws rolls back only its own changes.
    @Test func queuedWritesShareOneCommitAndFailAlone() throws {
        try withFileDatabase { db, _ in
            let (results, commits) = try queueBehindABusyWriter(db, count: 8) { i in
                try db.write { c in
                    try c.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u\(i)", "n\(i)", i)
                    if i == 3 { throw Boom() }
                    return try c.queryOne("SELECT name FROM users WHERE rowid = last_insert_rowid()")?.string(0) ?? ""
                }
            }
            #expect(commits == 2, "the held write, then all 8 queued ones together")
            for i in 0..<8 where i != 3 { #expect((try? results[i]?.get()) == "n\(i)") }
            #expect(throws: Boom.self) { try results[3]?.get() }
            let names = try db.read { try $0.query("SELECT name FROM users ORDER BY name").map { try $0.string(0) } }
            #expect(names == ["first", "n0", "n1", "n2", "n4", "n5", "n6", "n7"])
        }
    }

    /// A grouped write whose failure ends the whole transaction (here: it rolls it back itself,
    /// as SQLite does on e.g. a full disk) fails alone: the writes that had run in that
    /// transaction run again, the others after them.
    @Test func aWriteThatAbortsTheGroupFailsAlone() throws {
        try withFileDatabase { db, _ in
            let (results, commits) = try queueBehindABusyWriter(db, count: 6) { i in
                try db.write { c in
                    try c.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u\(i)", "n\(i)", i)
                    if i == 2 {
                        try c.execute("ROLLBACK")
                        throw Boom()
                    }
                    return "n\(i)"
                }
            }
            #expect(commits == 2)
            for i in 0..<6 where i != 2 { #expect((try? results[i]?.get()) == "n\(i)") }
            #expect(throws: Boom.self) { try results[2]?.get() }
            let names = try db.read { try $0.query("SELECT name FROM users ORDER BY name").map { try $0.string(0) } }
            #expect(names == ["first", "n0", "n1", "n3", "n4", "n5"])
        }
    }

    /// A nested write inside a grouped body still throws instead of deadlocking.
    @Test func nestedWriteInAGroupThrows() throws {
        try withFileDatabase { db, _ in
            let (results, _) = try queueBehindABusyWriter(db, count: 3) { i in
                try db.write { c in
                    if i == 1 { try db.write { _ in } }
                    try c.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", "u\(i)", "n\(i)", i)
                    return "n\(i)"
                }
            }
            #expect((try? results[0]?.get()) == "n0")
            #expect((try? results[2]?.get()) == "n2")
            let e = try #require(throws: StorageError.self) { try results[1]?.get() }
            #expect(e.kind == .reentrantTransaction)
        }
    }

    /// Two Database objects on one file behave like two processes (e.g. `token create` while
    /// `serve` runs): the busy timeout makes the second writer wait instead of failing.
    @Test func twoProcessesShareTheFileThroughTheBusyTimeout() throws {
        try withTempDir { dir in
            let path = dir + "/shared.sqlite3"
            let a = try Database(path: path), b = try Database(path: path)
            defer { a.close(); b.close() }
            try a.migrate()
            #expect(try b.migrate().isEmpty)
            DispatchQueue.concurrentPerform(iterations: 2) { w in
                let db = w == 0 ? a : b
                for i in 0..<50 {
                    _ = try? db.write { try $0.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, 1)", "p\(w)-\(i)", "p\(w)-\(i)") }
                }
            }
            #expect(try a.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) } == 100)
            #expect(try b.read { try $0.queryOne("SELECT count(*) FROM users")?.int(0) } == 100)
        }
    }

    @Test func statementCacheIsBounded() throws {
        let db = try makeMemoryDatabase()
        try db.write { c in
            let c = try #require(c as? SQLiteConnection)
            let held = try c.prepare("SELECT 42")
            for i in 0..<(SQLiteConnection.statementCacheLimit + 10) { _ = try c.queryOne("SELECT \(i)") }
            // A statement the caller still holds survives the cache being dropped.
            #expect(try held.step())
            #expect(try held.row().int(0) == 42)
            held.reset()
        }
    }

    @Test func backupWhileWritingIsConsistent() throws {
        try withFileDatabase { db, dir in
            let copyPath = dir + "/hot.sqlite3"
            DispatchQueue.concurrentPerform(iterations: 2) { w in
                if w == 0 {
                    for i in 0..<300 {
                        _ = try? db.write { c in
                            try c.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, 1)", "u\(i)", "n\(i)")
                            try c.run("INSERT INTO tokens(user_id, name, token_hash, created_at) VALUES (?, ?, ?, 1)", "u\(i)", "t\(i)", [UInt8](repeating: UInt8(i % 256), count: 32) + [UInt8(i / 256)])
                        }
                    }
                } else {
                    for _ in 0..<5 { try? db.backup(to: copyPath) }
                }
            }
            let copy = try Database(path: copyPath)
            defer { copy.close() }
            let (check, users, tokens) = try copy.read { c in
                (try c.queryOne("PRAGMA integrity_check")?.string(0),
                 try c.queryOne("SELECT count(*) FROM users")?.int(0),
                 try c.queryOne("SELECT count(*) FROM tokens")?.int(0))
            }
            #expect(check == "ok")
            #expect(users == tokens)   // a snapshot: never a user without its token
        }
    }
}
