/// How an ``EmbeddingMatrix`` stores its values.
public enum EmbeddingStorage: Sendable, Equatable {
    /// Exact IEEE float32 (the reference semantics of the samplers).
    case float32
    /// IEEE binary16, converted to float32 on load. Halves memory and DRAM traffic.
    /// **Approximate:** values are rounded to 11 significant bits on store (relative
    /// distance error ≈ 1e-3), so the order of near-ties can differ from float32.
    case float16

    /// Bytes per stored element.
    public var elementSize: Int { self == .float32 ? 4 : 2 }
}

/// A row-major n×d embedding matrix in one 64-byte-aligned allocation.
///
/// Row *i* is sample *i* (mapping order). There is no row padding: element (i, j) lives at
/// linear offset `i·d + j`. The class is `@unchecked Sendable` because the storage is only
/// mutated through `setRow`/`withUnsafeMutableFloats`, which the caller must not run
/// concurrently with a selection on the same matrix (load first, then share).
///
/// ```swift
/// let m = EmbeddingMatrix(rows: 3, dimension: 2, values: [0, 0, 1, 0, 0, 1])
/// m.row(1)   // [1, 0]
/// ```
public final class EmbeddingMatrix: @unchecked Sendable {
    public let rows: Int
    public let dimension: Int
    public let storage: EmbeddingStorage
    /// 64-byte aligned; `rows·dimension·storage.elementSize` bytes (at least 64 allocated).
    @usableFromInline let base: UnsafeMutableRawPointer
    /// Non-zero when `base` is an anonymous mapping of this many bytes (``EmbeddingMatrixBuilder``).
    let mappedBytes: Int

    /// A zero-filled matrix.
    /// - Complexity: O(rows·dimension).
    public init(rows: Int, dimension: Int, storage: EmbeddingStorage = .float32) {
        precondition(rows >= 0 && dimension >= 0, "EmbeddingMatrix: negative shape")
        let (count, o1) = rows.multipliedReportingOverflow(by: dimension)
        let (bytes, o2) = count.multipliedReportingOverflow(by: storage.elementSize)
        precondition(!o1 && !o2, "EmbeddingMatrix: shape overflows")
        self.rows = rows
        self.dimension = dimension
        self.storage = storage
        let alloc = max(64, (bytes + 63) & ~63)
        base = UnsafeMutableRawPointer.allocate(byteCount: alloc, alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: alloc)
        mappedBytes = 0
    }

    /// Adopts a page-aligned anonymous mapping of `mappedBytes` (float32, unmapped in deinit).
    init(adoptingMapping base: UnsafeMutableRawPointer, mappedBytes: Int, rows: Int, dimension: Int) {
        self.rows = rows
        self.dimension = dimension
        self.storage = .float32
        self.base = base
        self.mappedBytes = mappedBytes
    }

    /// A matrix filled from `values` (row-major, `rows·dimension` floats).
    public convenience init(rows: Int, dimension: Int, values: [Float], storage: EmbeddingStorage = .float32) {
        precondition(values.count == rows * dimension, "EmbeddingMatrix: values.count != rows·dimension")
        self.init(rows: rows, dimension: dimension, storage: storage)
        values.withUnsafeBufferPointer { src in
            switch storage {
            case .float32:
                if let s = src.baseAddress, !src.isEmpty {
                    base.copyMemory(from: UnsafeRawPointer(s), byteCount: src.count * 4)
                }
            case .float16:
                let dst = base.assumingMemoryBound(to: Float16.self)
                for i in 0 ..< src.count { dst[i] = Float16(src[i]) }
            }
        }
    }

    deinit {
        if mappedBytes > 0 { EmbeddingMatrixBuilder.unmap(base, mappedBytes) } else { base.deallocate() }
    }

    /// Bytes of embedding storage (excluding the allocation's rounding).
    public var byteCount: Int { rows * dimension * storage.elementSize }

    /// Direct access to all `rows·dimension` floats, for loading.
    ///
    /// With `.float16` storage the body sees a temporary float32 copy, which is converted
    /// back (rounded) afterwards; that costs O(n·d) time and 4·n·d bytes for the call.
    public func withUnsafeMutableFloats<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        let count = rows * dimension
        switch storage {
        case .float32:
            return try body(UnsafeMutableBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count))
        case .float16:
            let tmp = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
            defer { tmp.deallocate() }
            let h = base.assumingMemoryBound(to: Float16.self)
            for i in 0 ..< count { tmp[i] = Float(h[i]) }
            let r = try body(UnsafeMutableBufferPointer(rebasing: tmp[0 ..< count]))
            for i in 0 ..< count { h[i] = Float16(tmp[i]) }
            return r
        }
    }

    /// Overwrites row `i` with `from` (exactly `dimension` values).
    public func setRow(_ i: Int, from: UnsafeBufferPointer<Float>) {
        precondition(i >= 0 && i < rows && from.count == dimension, "EmbeddingMatrix.setRow: bad row or length")
        switch storage {
        case .float32:
            let dst = base.assumingMemoryBound(to: Float.self) + i * dimension
            for j in 0 ..< dimension { dst[j] = from[j] }
        case .float16:
            let dst = base.assumingMemoryBound(to: Float16.self) + i * dimension
            for j in 0 ..< dimension { dst[j] = Float16(from[j]) }
        }
    }

    /// A copy of row `i` as float32 (converted when stored as float16).
    public func row(_ i: Int) -> [Float] {
        precondition(i >= 0 && i < rows, "EmbeddingMatrix.row: index out of range")
        return [Float](unsafeUninitializedCapacity: dimension) { buf, n in
            switch storage {
            case .float32:
                let src = base.assumingMemoryBound(to: Float.self) + i * dimension
                for j in 0 ..< dimension { buf[j] = src[j] }
            case .float16:
                let src = base.assumingMemoryBound(to: Float16.self) + i * dimension
                for j in 0 ..< dimension { buf[j] = Float(src[j]) }
            }
            n = dimension
        }
    }

    /// True when every stored value is finite.
    /// - Complexity: O(n·d), one sequential read.
    public var allFinite: Bool {
        switch storage {
        case .float32: return Kernels.allFinite(F32Row.self, base, count: rows * dimension)
        case .float16: return F16Row.allFinite(base, count: rows * dimension)
        }
    }
}
