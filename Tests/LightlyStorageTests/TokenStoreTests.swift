import Foundation
import Synchronization
import Testing
@testable import LightlyStorage

@Suite struct TokenStoreTests {
    @Test func onlyTheDigestIsOnDisk() throws {
        try withTempDir { dir in
            let path = dir + "/t.sqlite3"
            let db = try Database(path: path)
            try db.migrate()
            let store = TokenStore(database: db)
            let token = try store.create(name: "default")
            #expect(token.hasPrefix("lt_") && token.utf8.count == 3 + 64)
            db.close()   // checkpoints the WAL into the main file
            let bytes = try #require(FileManager.default.contents(atPath: path))
            #expect(bytes.range(of: Data(token.utf8)) == nil)
            #expect(bytes.range(of: Data(token.dropFirst(3).utf8)) == nil)
            let hexDigest = Crypto.hex(Crypto.sha256(Array(token.utf8)))
            #expect(bytes.range(of: Data(hexDigest.utf8)) == nil)                   // stored as a BLOB…
            #expect(bytes.range(of: Data(Crypto.sha256(Array(token.utf8)))) != nil) // …the raw digest
            for suffix in ["-wal", "-shm"] {
                if let side = FileManager.default.contents(atPath: path + suffix) {
                    #expect(side.range(of: Data(token.utf8)) == nil)
                }
            }
        }
    }

    @Test func authenticateRevokeList() throws {
        let db = try makeMemoryDatabase()
        let store = TokenStore(database: db)
        #expect(try store.isEmpty())
        let a = try store.create(name: "alice")
        let b = try store.create(name: "bob")
        #expect(a != b)
        #expect(!(try store.isEmpty()))
        let alice = try #require(try store.authenticate(a))
        #expect(alice.name == "alice" && alice.id.count == 24)
        #expect(try store.authenticate(b)?.name == "bob")
        #expect(try store.authenticate("lt_" + String(repeating: "0", count: 64)) == nil)
        #expect(try store.authenticate("") == nil)
        #expect(try store.authenticate(String(a.dropLast())) == nil)
        #expect(try store.authenticate(String(repeating: "x", count: 10_000)) == nil)

        let infos = try store.list()
        #expect(infos.map(\.name) == ["alice", "bob"])
        #expect(infos.allSatisfy { $0.isActive })
        #expect(infos[0].lastUsedAt != nil)

        #expect(try store.revoke(name: "alice"))
        #expect(!(try store.revoke(name: "alice")))
        #expect(!(try store.revoke(name: "nobody")))
        #expect(try store.authenticate(a) == nil)
        #expect(try store.authenticate(b)?.name == "bob")
        #expect(try store.list().first { $0.name == "alice" }?.isActive == false)
        #expect(!(try store.isEmpty()))   // a revoked token still means "not a new folder"
    }

    @Test func duplicateNamesAreRejectedButRevokedNamesCanBeReissued() throws {
        let db = try makeMemoryDatabase()
        let store = TokenStore(database: db)
        let first = try store.create(name: "ci")
        let user = try #require(try store.authenticate(first))
        let e = try #require(throws: StorageError.self) { try store.create(name: "ci") }
        #expect(e.isUniqueViolation)
        try store.revoke(name: "ci")
        let second = try store.create(name: "ci")
        #expect(try store.authenticate(first) == nil)
        #expect(try store.authenticate(second) == user)   // same user, same data
    }

    @Test(arguments: ["", "has space", "ünï", String(repeating: "a", count: 65), "a/b"])
    func invalidNamesAreRejected(name: String) throws {
        let store = TokenStore(database: try makeMemoryDatabase())
        let e = try #require(throws: StorageError.self) { try store.create(name: name) }
        #expect(e.kind == .invalidArgument)
    }

    @Test func lastUsedIsThrottledToOncePerMinute() throws {
        let db = try makeMemoryDatabase()
        let clock = Clock()
        let store = TokenStore(database: db, clock: { clock.now })
        let token = try store.create(name: "t")
        func lastUsed() throws -> Int64? {
            try db.read { try $0.queryOne("SELECT last_used_at FROM tokens WHERE name = 't'")?.int64OrNil(0) }
        }
        #expect(try lastUsed() == nil)
        clock.now = 1_000_000
        _ = try store.authenticate(token)
        #expect(try lastUsed() == 1_000_000)
        clock.now = 1_030_000
        _ = try store.authenticate(token)
        #expect(try lastUsed() == 1_000_000)   // within the minute: no write
        clock.now = 1_060_000
        _ = try store.authenticate(token)
        #expect(try lastUsed() == 1_060_000)
    }

    /// The token cache answers from memory for less than its TTL and then asks the database
    /// again, so a revocation written through another connection (as the `token revoke`
    /// command's process does) is honoured within `cacheTTLMillis` (< 1 s).
    @Test func revocationByAnotherConnectionIsSeenWithinTheTTL() throws {
        try withTempDir { dir in
            let path = dir + "/t.sqlite3"
            let serving = try Database(path: path)
            try serving.migrate()
            let other = try Database(path: path)   // stands in for the CLI's process
            defer { serving.close(); other.close() }
            let cacheClock = Clock()
            let store = TokenStore(database: serving, clock: { Database.nowMillis() },
                                   cacheClock: { cacheClock.now }, cacheCapacity: 16)
            let token = try store.create(name: "ci")
            let user = try #require(try store.authenticate(token))
            #expect(store.cache.count == 1)

            #expect(try TokenStore(database: other).revoke(name: "ci"))
            cacheClock.now += TokenStore.cacheTTLMillis - 1
            #expect(try store.authenticate(token) == user, "still within the TTL: served from the cache")
            cacheClock.now += 1
            #expect(try store.authenticate(token) == nil, "expired: the database says revoked")
            #expect(store.cache.count == 0)
            #expect(TokenStore.cacheTTLMillis <= 1000)
        }
    }

    /// Revoking or reissuing through the serving store drops the cached entry at once.
    @Test func revocationThroughTheSameStoreIsImmediate() throws {
        let db = try makeMemoryDatabase()
        let cacheClock = Clock()
        let store = TokenStore(database: db, clock: { Database.nowMillis() },
                               cacheClock: { cacheClock.now }, cacheCapacity: 16)
        let first = try store.create(name: "ci")
        #expect(try store.authenticate(first) != nil)
        try store.revoke(name: "ci")
        #expect(try store.authenticate(first) == nil)   // same cache clock: no expiry involved
        let second = try store.create(name: "ci")
        #expect(try store.authenticate(second) != nil)
        #expect(try store.authenticate(first) == nil)
    }

    /// The cache never holds more than its capacity, evicts expired entries first, and never
    /// caches unknown tokens.
    @Test func cacheIsBounded() throws {
        let db = try makeMemoryDatabase()
        let cacheClock = Clock()
        let store = TokenStore(database: db, clock: { Database.nowMillis() },
                               cacheClock: { cacheClock.now }, cacheCapacity: 4)
        let tokens = try (0..<10).map { try store.create(name: "t\($0)") }
        for (i, t) in tokens.enumerated() {
            #expect(try store.authenticate(t)?.name == "t\(i)")
            #expect(store.cache.count <= 4)
        }
        #expect(store.cache.count == 4)
        for _ in 0..<100 { _ = try store.authenticate("lt_" + Crypto.hex(try Crypto.secureRandomBytes(32))) }
        #expect(store.cache.count == 4)
        cacheClock.now += TokenStore.cacheTTLMillis
        let fresh = try store.create(name: "fresh")   // surely not cached yet
        #expect(try store.authenticate(fresh)?.name == "fresh")
        #expect(store.cache.count == 1, "the expired entries were dropped to make room")
    }

    final class Clock: Sendable {
        private let value = Atomic<Int64>(1)
        var now: Int64 {
            get { value.load(ordering: .relaxed) }
            set { value.store(newValue, ordering: .relaxed) }
        }
    }
}

@Suite struct CryptoTests {
    @Test func sha256KnownAnswer() {
        #expect(Crypto.hex(Crypto.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Crypto.hex(Crypto.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func hmacKnownAnswer() {
        // RFC 4231 test case 2.
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Crypto.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(Crypto.hmacSHA256(key: [], message: []).count == 32)
    }

    @Test func randomAndCompare() throws {
        let a = Crypto.randomBytes(32), b = Crypto.randomBytes(32)
        #expect(a.count == 32 && a != b)
        #expect(Crypto.randomBytes(0).isEmpty)
        #expect(Crypto.constantTimeEquals(a, a))
        #expect(!Crypto.constantTimeEquals(a, b))
        #expect(!Crypto.constantTimeEquals(a, Array(a.dropLast())))
        #expect(Crypto.constantTimeEquals([], []))
        #expect(Crypto.unhex(Crypto.hex(a)) == a)
        #expect(Crypto.unhex("abc") == nil && Crypto.unhex("zz") == nil)
    }
}

@Suite struct DataDirectoryTests {
    @Test func prepareCreatesPrivateFoldersAndAStableKey() throws {
        try withTempDir { dir in
            let data = DataDirectory(path: dir + "/nested/data/")
            try data.prepare()
            try data.prepare()   // idempotent
            for p in [data.path, data.blobsPath, data.tmpPath] {
                let attrs = try FileManager.default.attributesOfItem(atPath: p)
                #expect((attrs[.posixPermissions] as? Int) == 0o700, "\(p)")
            }
            #expect(data.isPrivate)
            chmod(data.path, 0o755)
            #expect(!data.isPrivate)
            chmod(data.path, 0o700)
            #expect(!DataDirectory(path: dir + "/missing").isPrivate)
            let key = try data.signingKey()
            #expect(key.count == 32)
            #expect(try data.signingKey() == key)
            let attrs = try FileManager.default.attributesOfItem(atPath: data.signingKeyPath)
            #expect((attrs[.posixPermissions] as? Int) == 0o600)
            let db = try data.openDatabase()
            defer { db.close() }
            #expect(try db.migrate().count == Migration.embedded.count)
        }
    }
}
