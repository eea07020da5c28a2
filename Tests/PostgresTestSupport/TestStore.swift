import Foundation
import LightlyStorage
import Testing

/// Which store the in-process API tests run on: SQLite (default) or, with
/// `LIGHTLY_TEST_STORE=postgres`, a fresh database on the process's `PostgresTestServer`.
///
/// ```swift
/// let store = try TestStore.make(sqlitePath: dir + "/db.sqlite")   // migrated, either engine
/// defer { store.close() }
/// let app = try LightlyApplication(database: store.database, …)
/// ```
public final class TestStore: Sendable {
    /// The environment variable that selects the store.
    public static let environmentVariable = "LIGHTLY_TEST_STORE"

    /// True when this test process runs the API tests on PostgreSQL.
    public static var isPostgres: Bool { ProcessInfo.processInfo.environment[environmentVariable] == "postgres" }

    /// Why a SQLite-only test is skipped on PostgreSQL: `.enabled(if: !TestStore.isPostgres, TestStore.sqliteOnly("…"))`.
    public static func sqliteOnly(_ why: String) -> Comment { Comment(rawValue: "SQLite-only: \(why)") }

    /// The migrated store.
    public let database: any SQLDatabase
    private let postgresName: String?
    /// The PostgreSQL database's URL (nil on SQLite): a second connection pool on the same
    /// store plays another server.
    public let postgresURL: String?

    private init(database: any SQLDatabase, postgresName: String?, postgresURL: String? = nil) {
        self.database = database
        self.postgresName = postgresName
        self.postgresURL = postgresURL
    }

    /// A migrated store: a SQLite file at `sqlitePath`, or (with `LIGHTLY_TEST_STORE=postgres`)
    /// a new PostgreSQL database copied from a migrated template.
    public static func make(sqlitePath: String) throws -> TestStore {
        guard isPostgres else {
            let db = try Database(path: sqlitePath)
            try db.migrate()
            return TestStore(database: db, postgresName: nil)
        }
        let server = try PostgresTestServer.shared()
        let (url, name) = try server.makeMigratedDatabase()
        return TestStore(database: try PostgresDatabase(url: url, maxConnections: 4), postgresName: name, postgresURL: url)
    }

    /// Closes the store and drops a PostgreSQL database.
    public func close() {
        database.close()
        if let postgresName, let server = try? PostgresTestServer.shared() { server.dropDatabase(postgresName) }
    }

    deinit { close() }
}
