#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LightlyCore
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// How long a successful authentication is reused without asking the database again, in
    /// milliseconds. A token revoked by another process (the `token revoke` command writing the
    /// same database file) stops working at most this long after the revocation commits; one
    /// revoked through this store is dropped from its cache as soon as the revocation commits.
    public static let cacheTTLMillis: Int64 = 500
    /// At most this many tokens are cached.
    public static let defaultCacheCapacity = 1024

    let database: any SQLDatabase
    private let clock: @Sendable () -> Int64
    private let lastWrites: LastUsedThrottle
    let cache: TokenCache

    /// A store over `database` (which must be migrated).
    public init(database: any SQLDatabase) {
        self.init(database: database, clock: { Database.nowMillis() })
    }

    /// A store with an injected clock in Unix milliseconds (for tests of the `last_used_at` throttle).
    public init(database: any SQLDatabase, clock: @escaping @Sendable () -> Int64) {
        self.init(database: database, clock: clock, cacheClock: TokenCache.monotonicMillis,
                  cacheCapacity: Self.defaultCacheCapacity)
    }

    /// A store with injected clocks and cache size (for tests of the token cache).
    /// - Parameters:
    ///   - clock: Unix milliseconds, for `created_at`, `last_used_at` and `revoked_at`.
    ///   - cacheClock: A millisecond clock that never goes back, for the cache's expiry.
    ///   - cacheCapacity: At most this many tokens are cached (0 turns the cache off).
    init(database: any SQLDatabase, clock: @escaping @Sendable () -> Int64,
         cacheClock: @escaping @Sendable () -> Int64, cacheCapacity: Int) {
        self.database = database
        self.clock = clock
        self.lastWrites = LastUsedThrottle()
        self.cache = TokenCache(capacity: cacheCapacity, ttl: Self.cacheTTLMillis, clock: cacheClock)
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
        defer { cache.remove(name: name) }
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

    /// Forgets every cached lookup, so that tokens removed behind this store's back (an admin
    /// reset that deletes every user) stop working at once rather than after `cacheTTLMillis`.
    public func forgetCachedLookups() {
        cache.removeAll()
    }

    /// The user a token belongs to, or `nil` for an unknown or revoked token.
    ///
    /// The lookup is by digest; the stored digest is then compared with `CRYPTO_memcmp`, so timing
    /// reveals nothing about the plaintext. `last_used_at` is written at most once a minute per
    /// token (an in-memory throttle), so authentication is a read on the hot path.
    ///
    /// A successful lookup is cached by digest for `cacheTTLMillis` (bounded to the cache's
    /// capacity); unknown and revoked tokens are never cached, so they always reach the database.
    public func authenticate(_ token: String) throws -> User? {
        guard token.hasPrefix(Self.prefix), token.utf8.count <= Self.maxTokenLength else { return nil }
        let digest = Crypto.sha256(Array(token.utf8))
        let found: TokenCache.Entry
        if let hit = cache.lookup(digest) {
            found = hit
        } else {
            let checkedAt = cache.now()
            let row = try database.read { conn -> (tokenID: Int64, hash: [UInt8], name: String, user: User)? in
                guard let row = try conn.queryOne("""
                    SELECT t.id, t.token_hash, t.name, u.id, u.name FROM tokens t JOIN users u ON u.id = t.user_id
                    WHERE t.token_hash = ? AND t.revoked_at IS NULL
                    """, digest) else { return nil }
                return (try row.int64(0), try row.blob(1), try row.string(2),
                        User(id: try row.string(3), name: try row.string(4)))
            }
            guard let row, Crypto.constantTimeEquals(row.hash, digest) else { return nil }
            found = TokenCache.Entry(tokenID: row.tokenID, name: row.name, user: row.user, checkedAt: checkedAt)
            cache.insert(digest, found)
        }
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
        defer { cache.remove(name: name) }
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
///
/// One map is the authority; each thread shard (``ThreadShards``) keeps the times it learnt from
/// it, so on almost every request a thread only reads its own shard and the shared lock is taken
/// about once a minute per token and shard.
final class LastUsedThrottle: Sendable {
    private let state = Mutex<[Int64: Int64]>([:])
    private let seen = ThreadShards<[Int64: Int64]>([:])

    func shouldWrite(tokenID: Int64, now: Int64, interval: Int64) -> Bool {
        if seen.mine.lock.withLock({ last in last[tokenID].map { now - $0 >= 0 && now - $0 < interval } ?? false }) {
            return false
        }
        let (write, at) = state.withLock { last -> (Bool, Int64) in
            if let t = last[tokenID], now - t < interval { return (false, t) }
            last[tokenID] = now
            return (true, now)
        }
        seen.mine.lock.withLock { $0[tokenID] = at }
        return write
    }

    func forget(tokenID: Int64) {
        state.withLock { _ = $0.removeValue(forKey: tokenID) }
        for shard in seen.all { shard.lock.withLock { _ = $0.removeValue(forKey: tokenID) } }
    }
}

/// One `Mutex<Value>` per group of threads, picked by the calling thread: state that every request
/// reads (the token cache) is not one lock shared by all worker threads.
///
/// `Synchronization.Mutex` on Linux spins about 500 `pause` instructions before it blocks (a
/// priority-inheritance futex). With more worker threads than cores, the thread holding a lock is
/// often preempted, and every other worker that needs that lock spins, then sleeps in the kernel:
/// with 16 workers on 2 cores the token cache's single lock took 12 % of the server's CPU under
/// `GET /v1/datasets`. Threads rarely share a shard, so the shards' locks are almost never contended.
final class ThreadShards<Value: Sendable>: Sendable {
    /// One shard: a lock and the value it guards.
    final class Shard: Sendable {
        let lock: Mutex<Value>
        init(_ value: Value) { lock = Mutex(value) }
    }

    /// Shards; a power of two.
    static var count: Int { 32 }
    private let shards: [Shard]

    init(_ initial: Value) {
        shards = (0..<Self.count).map { _ in Shard(initial) }
    }

    /// The calling thread's shard.
    var mine: Shard {
        // pthread_t is the address of the thread's descriptor: mix its bits, keep the high ones.
        let id = UInt64(currentThreadAddress())
        return shards[Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 59) & (Self.count - 1)]
    }

    /// Every shard.
    var all: [Shard] { shards }
}

private func currentThreadAddress() -> UInt {
    #if os(Linux)
    return UInt(pthread_self())
    #else
    return UInt(bitPattern: pthread_self())
    #endif
}

/// Successful token lookups by digest, each trusted for `ttl` milliseconds after the database
/// confirmed it (the read started at `checkedAt`), at most `capacity` of them. Entries are not
/// refreshed in place: an expired one is looked up again, so a revocation committed by any
/// process is seen within `ttl`.
final class TokenCache: Sendable {
    /// One cached lookup.
    struct Entry: Sendable {
        var tokenID: Int64
        var name: String
        var user: User
        /// The cache clock when the confirming database read started.
        var checkedAt: Int64
    }

    /// A SHA-256 digest as four words (cheaper to hash and compare than `[UInt8]`).
    struct Key: Hashable, Sendable {
        var a: UInt64, b: UInt64, c: UInt64, d: UInt64
        init?(_ digest: [UInt8]) {
            guard digest.count == 32 else { return nil }
            func word(_ i: Int) -> UInt64 {
                var w: UInt64 = 0
                for j in 0..<8 { w = w << 8 | UInt64(digest[i * 8 + j]) }
                return w
            }
            a = word(0); b = word(1); c = word(2); d = word(3)
        }
    }

    let capacity: Int
    let ttl: Int64
    private let clock: @Sendable () -> Int64
    /// Per thread shard (``ThreadShards``), each holding at most `capacity` entries: a lookup
    /// takes only its own thread's lock. A token is looked up in the database once per shard
    /// that sees it, at most 32 times per `ttl`.
    private let entries = ThreadShards<[Key: Entry]>([:])

    init(capacity: Int, ttl: Int64, clock: @escaping @Sendable () -> Int64) {
        self.capacity = max(0, capacity)
        self.ttl = ttl
        self.clock = clock
    }

    /// Milliseconds of `CLOCK_MONOTONIC` (never goes back, unaffected by setting the time).
    static let monotonicMillis: @Sendable () -> Int64 = {
        Int64(truncatingIfNeeded: DispatchTime.now().uptimeNanoseconds / 1_000_000)
    }

    /// The cache clock.
    func now() -> Int64 { clock() }

    /// How many tokens are cached.
    var count: Int { entries.all.reduce(0) { n, shard in n + shard.lock.withLock { $0.count } } }

    /// The entry for `digest` if it is still fresh; drops it if it expired.
    func lookup(_ digest: [UInt8]) -> Entry? {
        guard capacity > 0, let key = Key(digest) else { return nil }
        let now = clock()
        return entries.mine.lock.withLock { map -> Entry? in
            guard let e = map[key] else { return nil }
            guard isFresh(e, now) else { map[key] = nil; return nil }
            return e
        }
    }

    /// Caches `entry`. When full, expired entries go first, then an arbitrary one.
    func insert(_ digest: [UInt8], _ entry: Entry) {
        guard capacity > 0, let key = Key(digest) else { return }
        let now = clock()
        entries.mine.lock.withLock { map in
            if map[key] == nil, map.count >= capacity {
                map = map.filter { isFresh($0.value, now) }
                if map.count >= capacity { map.remove(at: map.startIndex) }
            }
            map[key] = entry
        }
    }

    /// Forgets every entry (all tokens were removed, e.g. by an admin reset).
    func removeAll() {
        for shard in entries.all { shard.lock.withLock { map in map.removeAll() } }
    }

    /// Forgets every entry of the token named `name` (revoked or reissued by this process).
    func remove(name: String) {
        for shard in entries.all { shard.lock.withLock { map in map = map.filter { $0.value.name != name } } }
    }

    private func isFresh(_ e: Entry, _ now: Int64) -> Bool {
        let age = now - e.checkedAt
        return age >= 0 && age < ttl
    }
}
