#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - DataDirectory

/// The server's data folder and the files in it:
///
/// ```
/// <data>/lightly.sqlite3   the database (+ -wal, -shm)
/// <data>/blobs/            uploaded files, named by id
/// <data>/tmp/              request bodies and partial uploads (same file system, so rename works)
/// <data>/signing.key       the HMAC key for signed URLs of versions before the key moved into
///                          the database (`SigningKeyStore` imports it once)
/// ```
/// Folders are created with mode 0700 and the key with 0600: the folder holds every user's data.
public struct DataDirectory: Sendable, Equatable {
    /// The folder path as given.
    public let path: String

    /// A data folder at `path` (nothing is created until `prepare()`).
    public init(path: String) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p.isEmpty ? "." : p
    }

    /// `<data>/lightly.sqlite3`.
    public var databasePath: String { path + "/lightly.sqlite3" }
    /// `<data>/blobs`.
    public var blobsPath: String { path + "/blobs" }
    /// `<data>/tmp`.
    public var tmpPath: String { path + "/tmp" }
    /// `<data>/signing.key`.
    public var signingKeyPath: String { path + "/signing.key" }

    /// Creates the folder (and its parents), `blobs/` and `tmp/`, each with mode 0700.
    /// An existing folder is kept as is (its mode is not changed).
    /// - Throws: `StorageError` (kind `.io`) naming the path and `errno`.
    public func prepare() throws {
        try Self.makeDirectory(path, parents: true)
        try Self.makeDirectory(blobsPath, parents: false)
        try Self.makeDirectory(tmpPath, parents: false)
    }

    /// Opens the database in this folder (after `prepare()`).
    public func openDatabase(readerCount: Int = 4) throws -> Database {
        try Database(path: databasePath, readerCount: readerCount)
    }

    /// The signed-URL key: read from `signing.key`, or created (32 random bytes, mode 0600) if absent.
    /// Creation uses `O_EXCL`, so two processes starting at once agree on one key.
    /// - Throws: `StorageError` (kind `.io`) if the file cannot be read or has the wrong size.
    public func signingKey() throws -> [UInt8] {
        let fd = open(signingKeyPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let key = try Crypto.secureRandomBytes(32)
            defer { close(fd) }
            let written = key.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == key.count, fsync(fd) == 0 else {
                let e = errno
                unlink(signingKeyPath)
                throw StorageError.io("write \(signingKeyPath)", errno: e)
            }
            return key
        }
        guard errno == EEXIST else { throw StorageError.io("create \(signingKeyPath)", errno: errno) }
        let key = try Self.readFile(signingKeyPath, max: 4096)
        guard key.count == 32 else {
            throw StorageError(kind: .io, code: 0,
                               message: "\(signingKeyPath) holds \(key.count) bytes, expected 32 (delete it to make a new key; signed URLs then expire)")
        }
        return key
    }

    /// True when the folder exists and grants nothing to group or others (mode `0700` or stricter).
    public var isPrivate: Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return st.st_mode & 0o077 == 0
    }

    // MARK: Helpers

    static func makeDirectory(_ path: String, parents: Bool) throws {
        if parents {
            var prefix = path.hasPrefix("/") ? "" : "."
            for part in path.split(separator: "/") {
                prefix += "/" + part
                if part == "." || part == ".." { continue }
                try makeOne(prefix)
            }
        } else {
            try makeOne(path)
        }
    }

    private static func makeOne(_ path: String) throws {
        if mkdir(path, 0o700) == 0 {
            chmod(path, 0o700)   // umask may have removed bits we asked for; never add any
            return
        }
        let e = errno
        var st = stat()
        guard e == EEXIST, stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
            throw StorageError.io("mkdir \(path)", errno: e == EEXIST ? ENOTDIR : e)
        }
    }

    static func readFile(_ path: String, max: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.io("open \(path)", errno: errno) }
        defer { close(fd) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while out.count <= max {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw StorageError.io("read \(path)", errno: errno) }
            if n == 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}
