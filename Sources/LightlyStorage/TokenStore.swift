#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore
import Synchronization

// MARK: - User

/// An authenticated principal. Every token belongs to the user with the token's name.
public struct User: Sendable, Equatable, Hashable {
    /// The user id (24 lowercase hex characters, docs/protocol.md §3).
    public var id: String
    /// The user (and token) name.
    public var name: String

    /// A user.
    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// What `TokenStore.list()` shows about a token. Never the token itself.
public struct TokenInfo: Sendable, Equatable {
    /// The token's (and its user's) name.
    public var name: String
    /// The owning user's id.
    public var userID: String
    /// When the token was created.
    public var createdAt: Date
    /// When the token last authenticated a request (updated at most once a minute), or `nil`.
    public var lastUsedAt: Date?
    /// When the token was revoked, or `nil` while it is active.
    public var revokedAt: Date?

    /// True while the token is not revoked.
    public var isActive: Bool { revokedAt == nil }
}

// MARK: - TokenStore

/// API tokens. A token is `lt_` followed by 64 hex digits (32 random bytes); only its SHA-256
/// digest is stored, so a stolen database file yields no usable token.
///
/// ```swift
/// let tokens = TokenStore(database: db)
/// let plaintext = try tokens.create(name: "default")   // show it once
/// if let user = try tokens.authenticate(plaintext) { … }
/// ```
public struct TokenStore: Sendable {
    /// The prefix of every token this store issues.
    public static let prefix = "lt_"
    /// Tokens longer than this are rejected before hashing.
    static let maxTokenLength = 256
    /// `last_used_at` is written at most this often per token.
    public static let lastUsedInterval: Int64 = 60_000

    private let database: Database
    private let clock: @Sendable () -> Int64
    private let lastWrites: LastUsedThrottle

    /// A store over `database` (which must be migrated).
    public init(database: Database) {
        self.init(database: database, clock: { Database.nowMillis() })
    }

    /// A store with an injected clock in Unix milliseconds (for tests of the `last_used_at` throttle).
    public init(database: Database, clock: @escaping @Sendable () -> Int64) {
        self.database = database
        self.clock = clock
        self.lastWrites = LastUsedThrottle()
    }

    /// Creates a token named `name` for the user named `name` (creating the user if needed).
    ///
    /// A revoked token's name may be reused: the user and its data are kept and a fresh token is
    /// issued for them.
    /// - Returns: The plaintext token. It is not stored anywhere; show it once.
    /// - Throws: `StorageError` with `isUniqueViolation` if an active token has this name;
    ///   kind `.invalidArgument` for an empty, overlong or non-ASCII name.
    public func create(name: String) throws -> String {
        try Self.validate(name: name)
        let token = Self.prefix + Crypto.hex(try Crypto.secureRandomBytes(32))
        let digest = Crypto.sha256(Array(token.utf8))
        let now = clock()
        try database.write { conn in
            if let row = try conn.queryOne("SELECT id, revoked_at FROM tokens WHERE name = ?", name) {
                guard try row.int64OrNil(1) != nil else {
                    throw StorageError(code: SQLiteCode.constraintUnique,
                                       message: "a token named '\(name)' already exists")
                }
                try conn.run("UPDATE tokens SET token_hash = ?, created_at = ?, last_used_at = NULL, revoked_at = NULL WHERE id = ?",
                             digest, now, try row.int64(0))
                return
            }
            let userID: String
            if let row = try conn.queryOne("SELECT id FROM users WHERE name = ?", name) {
                userID = try row.string(0)
            } else {
                userID = ObjectID.generate(seconds: UInt32(truncatingIfNeeded: now / 1000))
                try conn.run("INSERT INTO users(id, name, created_at) VALUES (?, ?, ?)", userID, name, now)
            }
            try conn.run("INSERT INTO tokens(user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                         userID, name, digest, now)
        }
        return token
    }

    /// The user a token belongs to, or `nil` for an unknown or revoked token.
    ///
    /// The lookup is by digest; the stored digest is then compared with `CRYPTO_memcmp`, so timing
    /// reveals nothing about the plaintext. `last_used_at` is written at most once a minute per
    /// token (an in-memory throttle), so authentication is a read on the hot path.
    public func authenticate(_ token: String) throws -> User? {
        guard token.hasPrefix(Self.prefix), token.utf8.count <= Self.maxTokenLength else { return nil }
        let digest = Crypto.sha256(Array(token.utf8))
        let found = try database.read { conn -> (tokenID: Int64, hash: [UInt8], user: User)? in
            guard let row = try conn.queryOne("""
                SELECT t.id, t.token_hash, u.id, u.name FROM tokens t JOIN users u ON u.id = t.user_id
                WHERE t.token_hash = ? AND t.revoked_at IS NULL
                """, digest) else { return nil }
            return (try row.int64(0), try row.blob(1), User(id: try row.string(2), name: try row.string(3)))
        }
        guard let found, Crypto.constantTimeEquals(found.hash, digest) else { return nil }
        let now = clock()
        if lastWrites.shouldWrite(tokenID: found.tokenID, now: now, interval: Self.lastUsedInterval) {
            do {
                try database.write { conn in
                    try conn.run("UPDATE tokens SET last_used_at = ? WHERE id = ?", now, found.tokenID)
                }
            } catch let e as StorageError where e.isBusy {
                // Bookkeeping only: a busy database must not fail the request. Retry next time.
                lastWrites.forget(tokenID: found.tokenID)
            }
        }
        return found.user
    }

    /// Every token (active and revoked), oldest first. Never includes the token or its digest.
    public func list() throws -> [TokenInfo] {
        try database.read { conn in
            try conn.query("""
                SELECT t.name, t.user_id, t.created_at, t.last_used_at, t.revoked_at
                FROM tokens t ORDER BY t.created_at, t.id
                """).map { row in
                TokenInfo(name: try row.string(0), userID: try row.string(1),
                          createdAt: Self.date(try row.int64(2)),
                          lastUsedAt: try row.int64OrNil(3).map(Self.date),
                          revokedAt: try row.int64OrNil(4).map(Self.date))
            }
        }
    }

    /// Revokes the active token named `name`. The user and its data stay.
    /// - Returns: `false` if there is no active token with that name.
    @discardableResult
    public func revoke(name: String) throws -> Bool {
        let now = clock()
        return try database.write { conn in
            try conn.run("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", now, name) > 0
        }
    }

    /// True when no token was ever created (revoked ones count), i.e. a brand-new data folder.
    public func isEmpty() throws -> Bool {
        try database.read { conn in try conn.queryOne("SELECT 1 FROM tokens LIMIT 1") == nil }
    }

    // MARK: Helpers

    static func validate(name: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 64 && name.unicodeScalars.allSatisfy {
            ($0.properties.isAlphabetic || $0.properties.numericType != nil || "-_.@".unicodeScalars.contains($0)) && $0.isASCII
        }
        guard ok else {
            throw StorageError.invalidArgument("token names are 1-64 characters of A-Z a-z 0-9 - _ . @")
        }
    }

    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}

/// Remembers when `last_used_at` was last written per token, so authentication does not write on
/// every request.
final class LastUsedThrottle: Sendable {
    private let state = Mutex<[Int64: Int64]>([:])

    func shouldWrite(tokenID: Int64, now: Int64, interval: Int64) -> Bool {
        state.withLock { last in
            if let t = last[tokenID], now - t < interval { return false }
            last[tokenID] = now
            return true
        }
    }

    func forget(tokenID: Int64) {
        state.withLock { _ = $0.removeValue(forKey: tokenID) }
    }
}
