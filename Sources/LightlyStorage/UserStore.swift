#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore

/// What `UserStore.list()` shows about a user.
public struct UserInfo: Sendable, Equatable {
    /// The user id (24 lowercase hex characters).
    public var id: String
    /// The user name (tokens created with `--name` for this name belong to this user).
    public var name: String
    /// The lowercased e-mail, or `nil` for a user created by `token create --name` alone.
    public var email: String?
    /// When the user was created.
    public var createdAt: Date
    /// How many active (not revoked) tokens the user has.
    public var activeTokens: Int
}

/// Users with an e-mail, for sharing datasets between users ("team datasets"). A user made by
/// `TokenStore.create(name:)` has no e-mail; `create(email:name:)` makes one that has.
///
/// ```swift
/// let users = UserStore(database: db)
/// let id = try users.create(email: "Ann@Example.com", name: nil)   // name "ann@example.com"
/// let token = try TokenStore(database: db).create(name: "ann-laptop", forUserWithEmail: "ann@example.com")
/// ```
public struct UserStore: Sendable {
    private let database: any SQLDatabase

    /// A store over `database` (which must be migrated).
    public init(database: any SQLDatabase) { self.database = database }

    /// Lowercases and checks an e-mail address: 3–254 printable ASCII characters without spaces,
    /// one `@` with text on both sides.
    /// - Throws: `StorageError` of kind `.invalidArgument`.
    public static func normalize(email: String) throws -> String {
        let e = email.lowercased()
        let parts = e.split(separator: "@", omittingEmptySubsequences: false)
        let printable = e.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }
        guard e.utf8.count >= 3, e.utf8.count <= 254, printable, parts.count == 2,
              !parts[0].isEmpty, !parts[1].isEmpty else {
            throw StorageError.invalidArgument("'\(email)' is not an e-mail address (name@domain, at most 254 characters)")
        }
        return e
    }

    /// Creates a user with this e-mail. `name` defaults to the lowercased e-mail.
    /// - Returns: The new user's id.
    /// - Throws: `StorageError` with `isUniqueViolation` when the e-mail or the name is taken;
    ///   kind `.invalidArgument` for a malformed e-mail or name.
    @discardableResult
    public func create(email: String, name: String? = nil) throws -> String {
        let e = try Self.normalize(email: email)
        let n = name ?? e
        try TokenStore.validate(name: n)
        let now = Database.nowMillis()
        let id = ObjectID.generate(seconds: UInt32(truncatingIfNeeded: now / 1000))
        try database.write { conn in
            if try conn.queryOne("SELECT 1 FROM users WHERE email = ?", e) != nil {
                throw StorageError(code: SQLiteCode.constraintUnique, message: "a user with e-mail '\(e)' already exists")
            }
            if try conn.queryOne("SELECT 1 FROM users WHERE name = ?", n) != nil {
                throw StorageError(code: SQLiteCode.constraintUnique, message: "a user named '\(n)' already exists")
            }
            try conn.run("INSERT INTO users(id, name, email, created_at) VALUES (?, ?, ?, ?)", id, n, e, now)
        }
        return id
    }

    /// Every user, oldest first.
    public func list() throws -> [UserInfo] {
        try database.read { conn in
            try conn.query("""
                SELECT u.id, u.name, u.email, u.created_at,
                       (SELECT count(*) FROM tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL)
                FROM users u ORDER BY u.created_at, u.id
                """).map { row in
                UserInfo(id: try row.string(0), name: try row.string(1), email: try row.stringOrNil(2),
                         createdAt: TokenStore.date(try row.int64(3)), activeTokens: try row.int(4))
            }
        }
    }
}

extension TokenStore {
    /// Creates a token named `name` for the existing user with e-mail `email`.
    /// - Returns: The plaintext token (show it once).
    /// - Throws: `StorageError` of kind `.notFound` when no user has that e-mail,
    ///   `isUniqueViolation` when a token with that name exists (active, or revoked for another user),
    ///   `.invalidArgument` for a malformed name or e-mail.
    public func create(name: String, forUserWithEmail email: String) throws -> String {
        try Self.validate(name: name)
        let e = try UserStore.normalize(email: email)
        let token = Self.prefix + Crypto.hex(try Crypto.secureRandomBytes(32))
        let digest = Crypto.sha256(Array(token.utf8))
        let now = Database.nowMillis()
        defer { cache.remove(name: name) }
        try database.write { conn in
            guard let userID = try conn.queryOne("SELECT id FROM users WHERE email = ?", e)?.string(0) else {
                throw StorageError.notFound("no user with e-mail '\(e)' (create it with `lightly-server user create --email`)")
            }
            if let row = try conn.queryOne("SELECT id, revoked_at, user_id FROM tokens WHERE name = ?", name) {
                guard try row.int64OrNil(1) != nil, try row.string(2) == userID else {
                    throw StorageError(code: SQLiteCode.constraintUnique, message: "a token named '\(name)' already exists")
                }
                try conn.run("UPDATE tokens SET token_hash = ?, created_at = ?, last_used_at = NULL, revoked_at = NULL WHERE id = ?",
                             digest, now, try row.int64(0))
                return
            }
            try conn.run("INSERT INTO tokens(user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                         userID, name, digest, now)
        }
        return token
    }
}
