#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - SigningKeyStore

/// The HMAC key of signed URLs, kept in the database (`server_secrets`, migration 0004) so
/// that every server on one database signs and checks URLs with the same key: a URL minted by
/// one server is accepted by the others behind the same load balancer.
///
/// The first server to start makes the key; one that starts at the same moment finds it
/// (`INSERT … ON CONFLICT DO NOTHING` in a write transaction, then read back), so all agree.
/// A data folder from before the key moved into the database holds `signing.key`; its key is
/// imported instead of making a new one, so URLs signed before the upgrade keep working.
///
/// ```swift
/// let key = try SigningKeyStore.key(db, importing: DataDirectory(path: "data").signingKeyPath)
/// ```
public enum SigningKeyStore {
    /// The row of `server_secrets` holding the key.
    static let name = "signing_key"
    /// The key's length in bytes.
    public static let keyBytes = 32

    /// The shared key: the stored one, or (first start) the key of `legacyFile` if that file
    /// exists, or 32 new random bytes, stored so that every later call, in any process, gets
    /// the same key.
    /// - Parameter legacyFile: path of an older `signing.key` to import (nil: none).
    /// - Throws: `StorageError` when the store fails, or (kind `.io`) when `legacyFile` exists
    ///   but cannot be read or does not hold 32 bytes (the key is then not guessed: delete the
    ///   file to make a new one, and URLs signed earlier expire).
    public static func key(_ database: any SQLDatabase, importing legacyFile: String?) throws -> [UInt8] {
        if let stored = try database.read({ conn in try storedKey(conn) }) { return stored }
        let candidate = try legacyFile.flatMap(readLegacy) ?? Crypto.secureRandomBytes(keyBytes)
        return try database.write { conn in
            try conn.run("INSERT INTO server_secrets(name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                         name, candidate, Database.nowMillis())
            guard let stored = try storedKey(conn) else {
                throw StorageError(kind: .io, code: 0, message: "the signing key was stored but cannot be read back")
            }
            return stored
        }
    }

    /// The stored key, or nil when there is none yet.
    /// - Throws: `StorageError` when the stored value is not 32 bytes (a damaged database).
    static func storedKey(_ conn: Connection) throws -> [UInt8]? {
        guard let row = try conn.queryOne("SELECT value FROM server_secrets WHERE name = ?", name) else { return nil }
        let key = try row.blob(0)
        guard key.count == keyBytes else {
            throw StorageError(kind: .io, code: 0,
                               message: "the stored signing key holds \(key.count) bytes, expected \(keyBytes)")
        }
        return key
    }

    /// The key in an older data folder's `signing.key`, or nil when there is no such file.
    static func readLegacy(_ path: String) throws -> [UInt8]? {
        guard access(path, F_OK) == 0 else { return nil }
        let key = try DataDirectory.readFile(path, max: 4096)
        guard key.count == keyBytes else {
            throw StorageError(kind: .io, code: 0,
                               message: "\(path) holds \(key.count) bytes, expected \(keyBytes) (delete it to make a new key; signed URLs then expire)")
        }
        return key
    }
}
