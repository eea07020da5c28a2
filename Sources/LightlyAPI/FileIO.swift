#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An I/O failure: the call, the path and `errno`.
public struct FileIOError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let path: String
    public let code: Int32
    public var description: String { "\(call)(\(path)): \(String(cString: strerror(code))) (\(code))" }
    static func last(_ call: String, _ path: String) -> FileIOError { FileIOError(call: call, path: path, code: errno) }
}

/// Small POSIX file helpers: every libc call qualified, loops on EINTR and short writes.
enum FileIO {
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o600) throws -> Int32 {
        while true {
            #if canImport(Glibc)
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            #else
            let fd = Darwin.open(path, flags | O_CLOEXEC, mode)
            #endif
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw FileIOError.last("open", path)
        }
    }

    static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var off = 0
        while off < bytes.count {
            guard let base = bytes.baseAddress else { return }
            #if canImport(Glibc)
            let n = Glibc.write(fd, base + off, bytes.count - off)
            #else
            let n = Darwin.write(fd, base + off, bytes.count - off)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError.last("write", path)
            }
            off += n
        }
    }

    static func fsync(_ fd: Int32, path: String) throws {
        #if canImport(Glibc)
        let rc = Glibc.fsync(fd)
        #else
        let rc = Darwin.fsync(fd)
        #endif
        if rc != 0 { throw FileIOError.last("fsync", path) }
    }

    /// fsync a directory so a rename into it is durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    static func rename(_ from: String, _ to: String) throws {
        #if canImport(Glibc)
        let rc = Glibc.rename(from, to)
        #else
        let rc = Darwin.rename(from, to)
        #endif
        if rc != 0 { throw FileIOError.last("rename", from) }
    }

    /// Removes a file; a missing file is not an error.
    static func unlink(_ path: String) {
        #if canImport(Glibc)
        _ = Glibc.unlink(path)
        #else
        _ = Darwin.unlink(path)
        #endif
    }

    /// mkdir -p (mode 0700).
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            #if canImport(Glibc)
            let rc = Glibc.mkdir(current, 0o700)
            #else
            let rc = Darwin.mkdir(current, 0o700)
            #endif
            if rc != 0 && errno != EEXIST { throw FileIOError.last("mkdir", current) }
        }
    }

    static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    static func readAll(path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var out: [UInt8] = []
        if let n = fileSize(path) { out.reserveCapacity(n) }
        try readChunks(fd, path: path, chunkSize: 1 << 16) { out.append(contentsOf: $0) }
        return out
    }

    /// One `read` into `buffer`, retrying on EINTR. - Returns: bytes read, 0 at the end.
    static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        while true {
            #if canImport(Glibc)
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            #else
            let n = Darwin.read(fd, buffer.baseAddress, buffer.count)
            #endif
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FileIOError.last("read", path)
        }
    }

    /// Copies `from` into the open descriptor `fd` (used when a rename crosses filesystems).
    static func copy(from: String, to fd: Int32, toPath: String) throws -> Int {
        let src = try open(from, O_RDONLY)
        defer { close(src) }
        var total = 0
        try readChunks(src, path: from, chunkSize: 1 << 20) { chunk in
            try writeAll(fd, chunk, path: toPath)
            total += chunk.count
        }
        return total
    }

    /// Reads `fd` to its end in chunks of at most `chunkSize` bytes, retrying on EINTR, and
    /// hands each chunk to `body` (valid only during the call).
    private static func readChunks(_ fd: Int32, path: String, chunkSize: Int,
                                   _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withUnsafeTemporaryAllocation(byteCount: chunkSize, alignment: 16) { buf in
            while true {
                let n = try readSome(fd, into: buf, path: path)
                if n == 0 { break }
                try body(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            }
        }
    }
}
