// MARK: - PostgreSQL migrations

extension Migration {
    /// PostgreSQL's migrations, `migrations/postgres/NNNN_name.sql`, compiled into this binary and
    /// sorted by version. They translate the SQLite migrations of the same number and name.
    public static var embeddedPostgres: [Migration] {
        EmbeddedPostgresMigrations.all.sorted { $0.version < $1.version }
    }
}

extension PostgresConnection {
    /// The key of the session-level advisory lock held while migrating (the ASCII bytes of
    /// "lightly"): servers starting together against one database take turns, so each migration
    /// is applied once. The server drops the lock when the holder's connection ends, even if its
    /// process dies.
    public static let migrationLockKey: Int64 = 0x6C_6967_6874_6C79

    /// Applies every embedded PostgreSQL migration the database has not recorded yet.
    ///
    /// Holds `pg_advisory_lock(migrationLockKey)` throughout, so a second server migrating at the
    /// same time waits and then finds nothing to do. Each migration runs in its own transaction
    /// together with its row in `schema_migrations(version, name, applied_at)`: PostgreSQL's DDL
    /// is transactional, so a failure leaves either all or none of it.
    /// - Returns: The names of the migrations applied now (empty when up to date).
    /// - Throws: `StorageError` with kind `.schemaTooNew` when the database records a version
    ///   newer than this binary knows, `.migrationMismatch` when an applied version has another
    ///   name, `.reentrantTransaction` inside a transaction, or the error of a failing migration.
    @discardableResult
    public func migrate() throws -> [String] {
        try migrate(Migration.embeddedPostgres)
    }

    /// `migrate()` with an explicit migration list (for tests).
    @discardableResult
    public func migrate(_ migrations: [Migration]) throws -> [String] {
        guard !isInTransaction else {
            throw StorageError(kind: .reentrantTransaction, code: 0,
                               message: "PostgresConnection.migrate called inside a transaction")
        }
        let migrations = migrations.sorted { $0.version < $1.version }
        let known = migrations.last?.version ?? 0
        try run("SELECT pg_advisory_lock($1)", Self.migrationLockKey)
        defer { _ = try? run("SELECT pg_advisory_unlock($1)", Self.migrationLockKey) }
        try execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     bigint PRIMARY KEY,
                name        text NOT NULL,
                applied_at  bigint NOT NULL
            )
            """)
        // Nobody else migrates while the lock is held, so one look at the record is enough.
        let recorded = try recordedMigrations()
        if let newest = recorded.keys.max(), newest > known {
            throw StorageError.schemaTooNew(found: newest, known: known)
        }
        var applied: [String] = []
        for m in migrations {
            if let name = recorded[m.version] {
                guard name == m.name else {
                    throw StorageError(kind: .migrationMismatch, code: 0,
                        message: "database records migration \(m.version) as '\(name)' but this lightly-server has '\(m.name)'")
                }
                continue
            }
            try transaction { conn in
                try conn.execute(m.sql)
                try conn.run("INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)",
                             m.version, m.name, Database.nowMillis())
            }
            applied.append(m.name)
        }
        return applied
    }

    /// The highest applied migration version (0 for a new database).
    public func schemaVersion() throws -> Int {
        guard try queryOne("SELECT to_regclass('schema_migrations') IS NOT NULL")?.bool(0) == true else { return 0 }
        return try queryOne("SELECT coalesce(max(version), 0) FROM schema_migrations")?.int(0) ?? 0
    }

    private func recordedMigrations() throws -> [Int: String] {
        var out: [Int: String] = [:]
        for row in try query("SELECT version, name FROM schema_migrations") {
            out[try row.int(0)] = try row.string(1)
        }
        return out
    }
}
