import Foundation
@testable import LightlyStorage

/// A fresh temporary folder for one test, removed afterwards.
@discardableResult
func withTempDir<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array((NSTemporaryDirectory() + "/lightly-storage-test-XXXXXX").utf8CString)
    let dir = template.withUnsafeMutableBufferPointer { buf -> String? in
        guard let base = buf.baseAddress, let p = mkdtemp(base) else { return nil }
        return String(cString: p)
    }
    guard let dir else { throw StorageError.io("mkdtemp", errno: errno) }
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

/// A migrated file database in a temp folder.
@discardableResult
func withFileDatabase<T>(_ body: (Database, String) throws -> T) throws -> T {
    try withTempDir { dir in
        let db = try Database(path: dir + "/test.sqlite3")
        defer { db.close() }
        try db.migrate()
        return try body(db, dir)
    }
}

/// A migrated in-memory database.
func makeMemoryDatabase() throws -> Database {
    let db = try Database(path: ":memory:")
    try db.migrate()
    return db
}

func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
