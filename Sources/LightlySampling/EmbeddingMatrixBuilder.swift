#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLightlyKernels

/// Builds a float32 ``EmbeddingMatrix`` row by row, in place, when rows arrive out of order
/// or their number is known only at the end (a streamed CSV upload).
///
/// The storage is one anonymous mapping reserved for `capacityRows` rows. Pages cost memory
/// only once written, so an over-estimated capacity is free; untouched rows read as zero.
/// ``finish(rows:)`` returns the unused tail to the system and hands the mapping to the
/// matrix without copying it.
///
/// ```swift
/// let b = try EmbeddingMatrixBuilder(dimension: 128, capacityRows: 1_000_000)
/// b.row(41).update(from: values, count: 128)
/// let m = b.finish(rows: 1_000_000)
/// ```
public final class EmbeddingMatrixBuilder: @unchecked Sendable {
    public let dimension: Int
    public let capacityRows: Int
    private var base: UnsafeMutableRawPointer?
    private var mappedBytes: Int

    /// - Throws: ``EmbeddingMatrixBuilderError`` when the address space cannot be reserved.
    public init(dimension: Int, capacityRows: Int) throws {
        precondition(dimension > 0 && capacityRows >= 0, "EmbeddingMatrixBuilder: bad shape")
        let (elements, o1) = dimension.multipliedReportingOverflow(by: max(capacityRows, 1))
        let (bytes, o2) = elements.multipliedReportingOverflow(by: 4)
        guard !o1, !o2 else { throw EmbeddingMatrixBuilderError(bytes: Int.max, code: EOVERFLOW) }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let size = (bytes + page - 1) / page * page
        self.dimension = dimension
        self.capacityRows = capacityRows
        #if canImport(Glibc)
        let p = Glibc.mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        #else
        let p = Darwin.mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0)
        #endif
        guard let p, p != MAP_FAILED else { throw EmbeddingMatrixBuilderError(bytes: size, code: errno) }
        base = p
        mappedBytes = size
    }

    deinit { if let base { EmbeddingMatrixBuilder.unmap(base, mappedBytes) } }

    /// The `dimension` floats of row `i` (`i < capacityRows`).
    @inline(__always)
    public func row(_ i: Int) -> UnsafeMutablePointer<Float> {
        precondition(i >= 0 && i < capacityRows, "EmbeddingMatrixBuilder: row out of range")
        // `base` is nil only after `finish`, which ends the builder's use.
        return base.unsafelyUnwrapped.assumingMemoryBound(to: Float.self) + i * dimension
    }

    /// The first `rows` rows as a matrix; the builder must not be used afterwards.
    public func finish(rows: Int) -> EmbeddingMatrix {
        precondition(rows >= 0 && rows <= capacityRows, "EmbeddingMatrixBuilder: rows above capacity")
        guard let p = base else { preconditionFailure("EmbeddingMatrixBuilder: finish called twice") }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let keep = max(page, (rows * dimension * 4 + page - 1) / page * page)
        if keep < mappedBytes { EmbeddingMatrixBuilder.unmap(p + keep, mappedBytes - keep) }
        base = nil
        let m = EmbeddingMatrix(adoptingMapping: p, mappedBytes: min(keep, mappedBytes), rows: rows, dimension: dimension)
        mappedBytes = 0
        return m
    }

    static func unmap(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
        #if canImport(Glibc)
        _ = Glibc.munmap(p, bytes)
        #else
        _ = Darwin.munmap(p, bytes)
        #endif
    }
}

/// The address space for a matrix could not be reserved.
public struct EmbeddingMatrixBuilderError: Error, CustomStringConvertible {
    public let bytes: Int
    public let code: Int32
    public var description: String { "cannot reserve \(bytes) bytes for an embedding matrix: \(String(cString: strerror(code)))" }
}

/// Returns freed heap memory to the system (glibc `malloc_trim`): call after a burst of many
/// small allocations (an embedding upload's filename index) so that the process's RSS goes
/// back down before the next large one (a sampling job's matrix).
public func releaseFreedHeap() { lightly_release_free_heap() }
