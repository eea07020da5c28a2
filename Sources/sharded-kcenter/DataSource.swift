// The matrix a run selects from: generated row by row from a seed (so that every shard makes
// exactly its own rows, and the single-host reference the same ones), or read from a file.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LightlyCore

/// What the rows look like.
enum DataKind: String, CaseIterable {
    /// Isotropic Gaussian rows scaled to unit length (the sampling benchmark's data).
    case iso
    /// A mixture of Gaussians: `components` centers N(0, I/d), each with its own spread σ in
    /// [0.05, 0.25] (noise N(0, σ²·I/d)), every row from a uniformly chosen component.
    case mix
    /// Raw little-endian float32 rows from a file (`--file`, `--dim`).
    case file
}

/// A deterministic description of an n×d matrix that any process can materialise in part.
struct DataSource {
    var kind: DataKind
    var rows: Int
    var dim: Int
    var seed: UInt64
    var components: Int
    var file: String?
    var storage: EmbeddingStorage

    /// Gaussian pairs by Box–Muller from the row's own generator.
    struct Gaussian {
        var rng: Xoshiro256StarStar
        var spare: Double? = nil
        mutating func next() -> Double {
            if let s = spare { spare = nil; return s }
            let u1 = (Double(rng.next() >> 11) + 1) * 0x1p-53      // (0, 1]
            let u2 = Double(rng.next() >> 11) * 0x1p-53            // [0, 1)
            let r = (-2 * log(u1)).squareRoot()
            spare = r * sin(2 * .pi * u2)
            return r * cos(2 * .pi * u2)
        }
    }

    /// The generator of global row `i` (independent of how rows are split over shards).
    static func rowRNG(_ seed: UInt64, _ i: Int) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: seed ^ (UInt64(i) &+ 1) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// The mixture's component centers (components × dim) and spreads.
    func mixture() -> (centers: [Float], sigma: [Double]) {
        var g = Gaussian(rng: Xoshiro256StarStar(seed: seed ^ 0xC0FF_EE00_D15E_A5E5))
        let scale = 1 / Double(dim).squareRoot()
        var centers = [Float](repeating: 0, count: components * dim)
        var sigma = [Double](repeating: 0, count: components)
        for c in 0 ..< components {
            for j in 0 ..< dim { centers[c * dim + j] = Float(g.next() * scale) }
            sigma[c] = 0.05 + 0.2 * Double(g.rng.next() >> 11) * 0x1p-53
        }
        return (centers, sigma)
    }

    /// Rows `lo ..< hi` as a matrix in `storage`.
    /// - Throws: ``ShardError/data`` when the file cannot be read or is too short.
    func load(lo: Int, hi: Int) throws -> EmbeddingMatrix {
        let count = hi - lo
        let x = EmbeddingMatrix(rows: count, dimension: dim, storage: storage)
        var row = [Float](repeating: 0, count: dim)
        switch kind {
        case .file:
            guard let path = file else { throw ShardError.data("--file is required for file data") }
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw ShardError.data("cannot open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let rowBytes = dim * 4
            let block = max(1, (1 << 20) / rowBytes)
            var buf = [UInt8](repeating: 0, count: block * rowBytes)
            var r = 0
            while r < count {
                let take = min(block, count - r)
                let want = take * rowBytes
                var got = 0
                try buf.withUnsafeMutableBytes { b in
                    guard let base = b.baseAddress else { return }   // want > 0: never empty
                    while got < want {
                        let k = pread(fd, base + got, want - got, off_t((lo + r) * rowBytes + got))
                        if k < 0 && errno == EINTR { continue }
                        guard k > 0 else { throw ShardError.data("\(path) ends before row \(lo + r + take)") }
                        got += k
                    }
                }
                buf.withUnsafeBytes { b in
                    for t in 0 ..< take {
                        for j in 0 ..< dim { row[j] = b.loadUnaligned(fromByteOffset: t * rowBytes + j * 4, as: Float.self) }
                        row.withUnsafeBufferPointer { x.setRow(r + t, from: $0) }
                    }
                }
                r += take
            }
        case .iso:
            for i in lo ..< hi {
                var g = Gaussian(rng: Self.rowRNG(seed, i))
                var s = 0.0
                for j in 0 ..< dim { let v = g.next(); row[j] = Float(v); s += v * v }
                let inv = Float(1 / max(s.squareRoot(), 1e-30))
                for j in 0 ..< dim { row[j] *= inv }
                row.withUnsafeBufferPointer { x.setRow(i - lo, from: $0) }
            }
        case .mix:
            let (centers, sigma) = mixture()
            let scale = 1 / Double(dim).squareRoot()
            for i in lo ..< hi {
                var g = Gaussian(rng: Self.rowRNG(seed, i))
                let c = Int(g.rng.uniformBelow(UInt64(components)))
                let s = sigma[c] * scale
                for j in 0 ..< dim { row[j] = centers[c * dim + j] + Float(g.next() * s) }
                row.withUnsafeBufferPointer { x.setRow(i - lo, from: $0) }
            }
        }
        return x
    }

    /// The number of rows of a file of raw float32 rows with `dim` columns.
    static func fileRows(_ path: String, dim: Int) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw ShardError.data("cannot stat \(path): \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        guard dim > 0, size % (dim * 4) == 0 else {
            throw ShardError.data("\(path) holds \(size) bytes, not a whole number of \(dim)-float32 rows")
        }
        return size / (dim * 4)
    }

    /// Arguments that make a worker rebuild this source.
    var arguments: [String] {
        var a = ["--data", kind.rawValue, "--rows", "\(rows)", "--dim", "\(dim)", "--seed", "\(seed)",
                 "--components", "\(components)", "--storage", storage == .float16 ? "float16" : "float32"]
        if let file { a += ["--file", file] }
        return a
    }
}
