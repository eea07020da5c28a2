#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HTTPKit

extension HTTPRequestBody {
    /// Runs `body` over the whole request body without copying it: `.bytes` directly,
    /// `.file` through a read-only `mmap` of the temporary file (unmapped afterwards).
    /// - Throws: 413 above `limit`; `FileIOError` if the file cannot be opened or mapped.
    func withMappedBytes<R>(limit: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard count <= limit else { throw APIError.tooLarge("request body exceeds \(limit) bytes") }
        switch self {
        case .empty:
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        case .bytes(let data):
            return try data.withUnsafeBytes { try body($0) }
        case .file(let path, _):
            let fd = try FileIO.open(path, O_RDONLY)
            defer { FileIO.close(fd) }
            // The size on disk, not the declared count: a short file must not be over-read.
            let size = FileIO.fileSize(path) ?? 0
            guard size > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
            #if canImport(Glibc)
            let p = Glibc.mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            #else
            let p = Darwin.mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            #endif
            guard let p, p != MAP_FAILED else { throw FileIOError.last("mmap", path) }
            #if canImport(Glibc)
            defer { _ = Glibc.munmap(p, size) }
            #else
            defer { _ = Darwin.munmap(p, size) }
            #endif
            return try body(UnsafeRawBufferPointer(start: p, count: size))
        }
    }
}
