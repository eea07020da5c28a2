#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore

// MARK: - Migration

/// One numbered schema migration, `migrations/NNNN_name.sql`, embedded into the binary at build
/// time by the `EmbedMigrations` build-tool plugin (see `EmbeddedMigrations.all`).
public struct Migration: Sendable, Equatable {
    /// The number from the file name (`0001_initial.sql` → 1).
    public var version: Int
    /// The file name without extension (`0001_initial`).
    public var name: String
    /// The SQL text, run with `Connection.execute` inside the migration's transaction.
    public var sql: String

    /// A migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The migrations compiled into this binary, sorted by version.
    public static var embedded: [Migration] { EmbeddedMigrations.all.sorted { $0.version < $1.version } }
}

// MARK: - Migrating

extension Database {
    /// Applies every embedded migration that the database has not recorded yet.
    ///
    /// Each migration runs in its own `BEGIN IMMEDIATE` transaction together with its row in
    /// `schema_migrations(version, name, applied_at)`, so a crash leaves either all or none of it.
    /// Two processes migrating at once are safe: the second re-checks under the write lock.
    /// - Returns: The names of the migrations applied now (empty when up to date).
    /// - Throws: `StorageError` with kind `.schemaTooNew` when the database records a version newer
    ///   than this binary knows ("database schema version 7 is newer than this lightly-server
    ///   (knows up to 3); upgrade the binary"), `.migrationMismatch` when an applied version has
    ///   another name, or the SQLite error of a failing migration.
    @discardableResult
    public func migrate() throws -> [String] {
        try migrate(Migration.embedded)
    }

    /// `migrate()` with an explicit migration list (for tests).
    @discardableResult
    public func migrate(_ migrations: [Migration]) throws -> [String] {
        let migrations = migrations.sorted { $0.version < $1.version }
        let known = migrations.last?.version ?? 0
        try write { conn in
            try conn.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version     INTEGER PRIMARY KEY,
                    name        TEXT NOT NULL,
                    applied_at  INTEGER NOT NULL
                )
                """)
        }
        var applied: [String] = []
        for m in migrations {
            let didApply = try write { conn -> Bool in
                let recorded = try Self.recordedMigrations(conn)
                if let newest = recorded.keys.max(), newest > known {
                    throw StorageError.schemaTooNew(found: newest, known: known)
                }
                if let name = recorded[m.version] {
                    guard name == m.name else {
                        throw StorageError(kind: .migrationMismatch, code: 0,
                            message: "database records migration \(m.version) as '\(name)' but this lightly-server has '\(m.name)'")
                    }
                    return false
                }
                try conn.execute(m.sql)
                try conn.run("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                             m.version, m.name, Self.nowMillis())
                return true
            }
            if didApply { applied.append(m.name) }
        }
        // Also refuse a too-new database when there was nothing to apply.
        let newest = try read { conn in try Self.recordedMigrations(conn).keys.max() ?? 0 }
        if newest > known { throw StorageError.schemaTooNew(found: newest, known: known) }
        return applied
    }

    /// The highest applied migration version (0 for a new database).
    public func schemaVersion() throws -> Int {
        try read { conn in
            guard try conn.queryOne("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'") != nil
            else { return 0 }
            return try conn.queryOne("SELECT coalesce(max(version), 0) FROM schema_migrations")?.int(0) ?? 0
        }
    }

    static func recordedMigrations(_ conn: Connection) throws -> [Int: String] {
        var out: [Int: String] = [:]
        for row in try conn.query("SELECT version, name FROM schema_migrations") {
            out[try row.int(0)] = try row.string(1)
        }
        return out
    }

    /// `ServerClock` (LightlyCore): the system clock unless `--clock` fixed or steps it.
    static func nowMillis() -> Int64 { ServerClock.nowMillis() }
}
