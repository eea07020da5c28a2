#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Database as an SQLDatabase

extension Database: SQLDatabase {
    /// `SQLDialect.sqlite`.
    public var dialect: SQLDialect { .sqlite }

    /// The file's path (or `:memory:`).
    public var displayLocation: String { path }

    /// Runs `SELECT 1` on a reader connection.
    public func checkReachable() throws {
        _ = try read { conn in try conn.queryOne("SELECT 1") }
    }

    /// The database file plus its WAL and shared-memory files (0 for an in-memory database).
    public func sizeInBytes() -> Int64? {
        [path, path + "-wal", path + "-shm"].reduce(Int64(0)) { total, p in
            var st = stat()
            return stat(p, &st) == 0 ? total + Int64(st.st_size) : total
        }
    }
}
