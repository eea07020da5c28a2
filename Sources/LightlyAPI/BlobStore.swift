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
import LightlyCore
import Synchronization

/// A stored blob: its id (also its file name) and size in bytes.
public struct StoredBlob: Sendable, Hashable {
    public let id: String
    public let size: Int
}

/// Content-addressed-by-id file storage under `<data>/blobs/xx/<blobId>`.
///
/// Writes go to `<data>/tmp/`, are fsynced, renamed into place, and the directory is
/// fsynced, so a blob is either complete or absent. File names are server ids, never user
/// file names. A request body that HTTPKit spooled to disk (`.file`) is moved by `rename`,
/// not copied (a copy happens only if the temp file lives on another filesystem).
///
/// The database row that points at a blob is written after the blob; if that transaction
/// fails the caller removes the blob again (`remove(_:)`).
public final class BlobStore: Sendable {
    public let blobsDirectory: String
    public let tmpDirectory: String
    private let counter = Atomic<UInt64>(0)

    /// Creates `blobs/` and `tmp/` under `dataDirectory` if needed.
    public init(dataDirectory: String) throws {
        blobsDirectory = dataDirectory + "/blobs"
        tmpDirectory = dataDirectory + "/tmp"
        try FileIO.makeDirectories(blobsDirectory)
        try FileIO.makeDirectories(tmpDirectory)
    }

    /// A fresh blob id (24 lowercase hex characters).
    public func newBlobID() -> String {
        ObjectID.generate(seconds: UInt32(truncatingIfNeeded: Timestamp.nowSeconds()))
    }

    /// The file of a blob. Ids are validated so a path can never escape `blobs/`.
    public func path(for id: String) -> String? {
        guard ObjectID.isValid(id) else { return nil }
        return "\(blobsDirectory)/\(id.suffix(2))/\(id)"
    }

    /// Stores a request body as a new blob.
    /// - Parameters:
    ///   - body: `.bytes` are written; `.file` is moved (renamed) into the store.
    ///   - maxBytes: larger bodies throw 413 before anything is written.
    /// - Returns: The new blob's id and size.
    public func store(_ body: HTTPRequestBody, maxBytes: Int) throws -> StoredBlob {
        guard body.count <= maxBytes else { throw APIError.tooLarge("upload exceeds \(maxBytes) bytes") }
        switch body {
        case .empty: return try store(bytes: [UInt8]())
        case .bytes(let d): return try store(bytes: d)
        case .file(let path, _): return try store(movingFile: path)
        }
    }

    /// Writes bytes as a new blob.
    public func store<C: Collection>(bytes: C) throws -> StoredBlob where C.Element == UInt8 {
        let id = newBlobID()
        let tmp = tmpPath()
        let fd = try FileIO.open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        do {
            let written: Int? = try bytes.withContiguousStorageIfAvailable { buf in
                try FileIO.writeAll(fd, UnsafeRawBufferPointer(buf), path: tmp)
                return buf.count
            }
            if written == nil {
                let a = Array(bytes)
                try a.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: tmp) }
            }
            try FileIO.fsync(fd, path: tmp)
            FileIO.close(fd)
        } catch {
            FileIO.close(fd)
            FileIO.unlink(tmp)
            throw error
        }
        return try publish(tmp: tmp, id: id, size: bytes.count)
    }

    /// Moves an existing file into the store (rename; copy only across filesystems).
    public func store(movingFile source: String) throws -> StoredBlob {
        let id = newBlobID()
        let tmp = tmpPath()
        var size = FileIO.fileSize(source) ?? 0
        #if canImport(Glibc)
        let renamed = Glibc.rename(source, tmp) == 0
        #else
        let renamed = Darwin.rename(source, tmp) == 0
        #endif
        if renamed {
            // Make the moved file's contents durable before it becomes visible.
            let fd = try FileIO.open(tmp, O_RDONLY)
            defer { FileIO.close(fd) }
            try FileIO.fsync(fd, path: tmp)
        } else if errno == EXDEV {
            let fd = try FileIO.open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            do {
                size = try FileIO.copy(from: source, to: fd, toPath: tmp)
                try FileIO.fsync(fd, path: tmp)
                FileIO.close(fd)
            } catch {
                FileIO.close(fd)
                FileIO.unlink(tmp)
                throw error
            }
        } else {
            throw FileIOError.last("rename", source)
        }
        return try publish(tmp: tmp, id: id, size: size)
    }

    /// Removes a blob file; missing files are ignored.
    public func remove(_ id: String) {
        if let p = path(for: id) { FileIO.unlink(p) }
    }

    /// Removes several blob files.
    public func remove<S: Sequence>(_ ids: S) where S.Element == String {
        for id in ids { remove(id) }
    }

    /// How the server's own files in `tmp/` begin: request bodies spooled by HTTPKit, blobs
    /// being written, re-ordered embedding CSVs. A sweep removes nothing else there.
    public static let temporaryFilePrefixes = ["httpkit-body-", "upload-", "embedding-"]

    /// Removes what a crash can leave behind: the server's own files in `tmp/`
    /// (``temporaryFilePrefixes``), and blob files that no `blobs` row references (written,
    /// then the process died before the transaction committed). Only regular files not
    /// modified for `minimumAge` seconds are touched, so uploads in flight are safe; `0`
    /// (nothing in flight: no other server uses the folder) removes them all.
    /// - Parameter isKnown: whether a blob id has a database row.
    /// - Returns: The number of files removed.
    @discardableResult
    public func sweep(minimumAge: Double = 3600, isKnown: (String) throws -> Bool) rethrows -> Int {
        let fm = FileManager.default
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let cutoff = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 - minimumAge
        func isOldRegularFile(_ path: String) -> Bool {
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
            return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9 <= cutoff
        }
        var removed = 0
        for name in (try? fm.contentsOfDirectory(atPath: tmpDirectory)) ?? []
        where Self.temporaryFilePrefixes.contains(where: { name.hasPrefix($0) }) {
            let p = "\(tmpDirectory)/\(name)"
            if isOldRegularFile(p) { FileIO.unlink(p); removed += 1 }
        }
        for dir in (try? fm.contentsOfDirectory(atPath: blobsDirectory)) ?? [] {
            for name in (try? fm.contentsOfDirectory(atPath: "\(blobsDirectory)/\(dir)")) ?? [] {
                let p = "\(blobsDirectory)/\(dir)/\(name)"
                guard ObjectID.isValid(name), isOldRegularFile(p), !(try isKnown(name)) else { continue }
                FileIO.unlink(p)
                removed += 1
            }
        }
        return removed
    }

    private func tmpPath() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        return "\(tmpDirectory)/upload-\(getpid())-\(n)-\(UInt32.random(in: 0...UInt32.max))"
    }

    private func publish(tmp: String, id: String, size: Int) throws -> StoredBlob {
        guard let final = path(for: id) else { FileIO.unlink(tmp); throw FileIOError(call: "path", path: id, code: EINVAL) }
        let dir = "\(blobsDirectory)/\(id.suffix(2))"
        do {
            try FileIO.makeDirectories(dir)
            try FileIO.rename(tmp, final)
            try FileIO.fsyncDirectory(dir)
        } catch {
            FileIO.unlink(tmp)
            throw error
        }
        return StoredBlob(id: id, size: size)
    }
}

