// The files behind request and response bodies: a large request body spills to a temporary
// file (SpillFile); a file response body streams from disk (FileStream).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A request body being spilled to a temporary file.
final class SpillFile {
    let path: String
    private var fd: Int32
    private(set) var count = 0

    init(directory: String) throws(SocketError) {
        var template = Array("\(directory)/httpkit-body-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { p -> Int32 in
            guard let base = p.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else { throw .last("mkstemp") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        self.fd = fd
        self.path = template.withUnsafeBufferPointer { p in
            p.baseAddress.map { String(cString: $0) } ?? ""
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(SocketError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = systemWrite(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw .last("write")
            }
            p += n
            left -= n
            count += n
        }
    }

    func closeDescriptor() {
        if fd >= 0 { _ = systemClose(fd); fd = -1 }
    }

    /// Closes and deletes the file (request abandoned).
    func remove() {
        closeDescriptor()
        removeFile(path)
    }

    deinit { closeDescriptor() }
}

/// A response body streamed from disk through one 256 KiB buffer.
final class FileStream {
    static let chunkSize = 256 * 1024
    private let fd: Int32
    private var offset: Int
    private var remaining: Int
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0

    init(path: String, offset: Int, count: Int) throws(SocketError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("open") }
        var st = stat()
        guard fstat(fd, &st) == 0, offset >= 0, count >= 0, Int(st.st_size) >= offset + count else {
            _ = systemClose(fd)
            throw SocketError(call: "open (file shorter than response count)", code: EINVAL)
        }
        self.fd = fd
        self.offset = offset
        self.remaining = count
        self.buffer = .allocate(byteCount: min(Self.chunkSize, max(count, 1)), alignment: 16)
    }

    var isFinished: Bool { remaining == 0 && start == end }
    var pending: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[start..<end]) }

    /// Reads the next chunk; false if the file ended early or could not be read.
    func fill() -> Bool {
        guard let base = buffer.baseAddress else { return false }
        let want = min(buffer.count, remaining)
        while true {
            let n = pread(fd, base, want, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
            remaining -= n
            start = 0
            end = n
            return true
        }
    }

    func consume(_ n: Int) { start += n }

    deinit {
        buffer.deallocate()
        _ = systemClose(fd)
    }
}

@inline(__always) private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, p, n)
    #elseif canImport(Musl)
    Musl.write(fd, p, n)
    #else
    Darwin.write(fd, p, n)
    #endif
}
