/// Projection of embeddings onto their first two principal components, for the 2-D view
/// requested by `trigger2dEmbeddingsJob` with `"PCA"` (docs/protocol.md §8).
///
/// Deterministic: fixed start vectors and loop order, no threads. Components are
/// sign-normalised so that each eigenvector's largest-magnitude entry is positive (the first
/// such entry on ties), which makes results stable across runs and comparable with numpy.
public enum PCA2D {
    /// Projects n×d row-major data onto the top-2 principal axes.
    ///
    /// The data is centred; the eigenvectors of its covariance are found by block subspace
    /// iteration with Rayleigh–Ritz (Rutishauser 1970; Golub & Van Loan §8.2.4) on the d×d
    /// covariance in Double when n·d² is small enough, otherwise on the implicit operator
    /// Xᵀ(X·Q), which needs only O(d) extra memory. Components whose variance is negligible
    /// (constant data, n = 1, d = 1 for the second axis) project to exactly 0, never NaN.
    ///
    /// ```swift
    /// let xy = PCA2D.project(values: parsed.values, rows: parsed.rowCount, dimension: parsed.dimension)
    /// // xy[2*i], xy[2*i+1]: coordinates of row i
    /// ```
    ///
    /// - Parameters:
    ///   - values: n×d, row-major.
    ///   - rows: n ≥ 0.
    ///   - dimension: d ≥ 1.
    /// - Returns: n×2, row-major.
    /// - Complexity: O(n·d²) for the explicit covariance (d ≤ 512 and n·d² ≤ 2·10⁹),
    ///   otherwise O(n·d) per iteration for at most 300 iterations.
    public static func project(values: [Float], rows n: Int, dimension d: Int) -> [Float] {
        project(values: values, rows: n, dimension: d, explicitCovarianceBudget: 2_000_000_000)
    }

    /// `project` with the n·d² budget for the explicit covariance exposed (tests use 0 to
    /// exercise the implicit operator).
    static func project(values: [Float], rows n: Int, dimension d: Int, explicitCovarianceBudget: Int) -> [Float] {
        values.withUnsafeBufferPointer { x in
            project(values: x, rows: n, dimension: d, explicitCovarianceBudget: explicitCovarianceBudget)
        }
    }

    /// `project(values:rows:dimension:)` over values in place (an embedding matrix held by the
    /// server's cache), so a 2-D job does not copy the whole matrix.
    public static func project(values x: UnsafeBufferPointer<Float>, rows n: Int, dimension d: Int,
                               explicitCovarianceBudget: Int = 2_000_000_000) -> [Float] {
        precondition(d >= 1 && n >= 0 && x.count == n * d, "values must be rows × dimension")
        if n == 0 { return [] }
        let (mean, axes, variances) = principalAxes(x, n: n, d: d, explicitCovarianceBudget: explicitCovarianceBudget)
        var out = [Float](repeating: 0, count: n * 2)
        var total = 0.0
        for v in variances where v > 0 { total += v }
        for k in 0..<2 {
            // Negligible variance: the axis is arbitrary and the coordinates are noise.
            if variances[k] <= 1e-12 * total || variances[k] <= 0 { continue }
            let axis = axes[k]
            for r in 0..<n {
                var s = 0.0
                for j in 0..<d { s += (Double(x[r * d + j]) - mean[j]) * axis[j] }
                out[r * 2 + k] = Float(s)
            }
        }
        return out
    }

    /// The mean, the top two unit eigenvectors (sign-normalised) and their eigenvalues
    /// (variances ×(n−1), ≥ 0), for tests and reuse.
    static func principalAxes(_ x: UnsafeBufferPointer<Float>, n: Int, d: Int,
                              explicitCovarianceBudget: Int = 2_000_000_000) -> ([Double], [[Double]], [Double]) {
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<n { for j in 0..<d { mean[j] += Double(x[r * d + j]) } }
        for j in 0..<d { mean[j] /= Double(n) }

        let b = min(d, 6)                            // block size: top 2 plus 4 guard vectors
        let explicit = d <= 512 && n * d * d <= explicitCovarianceBudget
        var cov: [Double] = []
        var traceValue = 0.0
        var row = [Double](repeating: 0, count: d)
        if explicit {
            cov = [Double](repeating: 0, count: d * d)
            cov.withUnsafeMutableBufferPointer { c in
                for r in 0..<n {
                    for j in 0..<d { row[j] = Double(x[r * d + j]) - mean[j] }
                    for i in 0..<d {
                        let xi = row[i]
                        if xi == 0 { continue }
                        for j in i..<d { c[i * d + j] += xi * row[j] }
                    }
                }
                for i in 0..<d { for j in 0..<i { c[i * d + j] = c[j * d + i] } }
            }
            for i in 0..<d { traceValue += cov[i * d + i] }
        } else {
            for r in 0..<n { for j in 0..<d { let v = Double(x[r * d + j]) - mean[j]; traceValue += v * v } }
        }
        if traceValue <= 0 || !traceValue.isFinite {
            return (mean, [[Double](repeating: 0, count: d), [Double](repeating: 0, count: d)], [0, 0])
        }

        // Z = A·Q for the d×b block Q (column-major: Q[c*d + j]).
        func apply(_ q: [Double]) -> [Double] {
            var z = [Double](repeating: 0, count: d * b)
            if explicit {
                for c in 0..<b {
                    for i in 0..<d {
                        var s = 0.0
                        for j in 0..<d { s += cov[i * d + j] * q[c * d + j] }
                        z[c * d + i] = s
                    }
                }
            } else {
                var y = [Double](repeating: 0, count: b)
                for r in 0..<n {
                    for j in 0..<d { row[j] = Double(x[r * d + j]) - mean[j] }
                    for c in 0..<b {
                        var s = 0.0
                        for j in 0..<d { s += row[j] * q[c * d + j] }
                        y[c] = s
                    }
                    for c in 0..<b { let yc = y[c]; if yc != 0 { for j in 0..<d { z[c * d + j] += row[j] * yc } } }
                }
            }
            return z
        }

        // Deterministic start block (SplitMix64 with a fixed seed).
        var state: UInt64 = 0x5EED_0F_2D_9CA
        var q = [Double](repeating: 0, count: d * b)
        for i in 0..<(d * b) {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            q[i] = Double(z >> 11) / Double(1 << 53) - 0.5
        }
        orthonormalize(&q, d: d, b: b)

        var ritz = [Double](repeating: 0, count: b)
        var previous = [Double](repeating: -1, count: 2)
        let maxIterations = explicit ? 3000 : 300
        for _ in 0..<maxIterations {
            let z = apply(q)
            // Rayleigh–Ritz: T = Qᵀ A Q, eigen-decompose, rotate both blocks.
            var t = [Double](repeating: 0, count: b * b)
            for i in 0..<b { for j in 0..<b {
                var s = 0.0
                for k in 0..<d { s += q[i * d + k] * z[j * d + k] }
                t[i * b + j] = s
            } }
            for i in 0..<b { for j in (i + 1)..<max(i + 1, b) { let m = (t[i * b + j] + t[j * b + i]) / 2; t[i * b + j] = m; t[j * b + i] = m } }
            let (vals, vecs) = jacobiEigen(t, b)
            ritz = vals
            var qv = [Double](repeating: 0, count: d * b), zv = [Double](repeating: 0, count: d * b)
            for c in 0..<b { for k in 0..<b {
                let w = vecs[k * b + c]              // component k of eigenvector c
                if w == 0 { continue }
                for j in 0..<d { qv[c * d + j] += q[k * d + j] * w; zv[c * d + j] += z[k * d + j] * w }
            } }
            // Residual of the top two Ritz pairs.
            var converged = true
            for c in 0..<min(2, b) {
                var r2 = 0.0
                for j in 0..<d { let e = zv[c * d + j] - vals[c] * qv[c * d + j]; r2 += e * e }
                if r2.squareRoot() > 1e-10 * traceValue { converged = false }
            }
            let stable = abs(vals[0] - previous[0]) <= 1e-13 * traceValue
                && (b < 2 || abs(vals[1] - previous[1]) <= 1e-13 * traceValue)
            previous = [vals[0], b > 1 ? vals[1] : 0]
            if converged && stable { q = qv; break }
            q = zv
            orthonormalize(&q, d: d, b: b)
        }

        var axes: [[Double]] = []
        for c in 0..<2 {
            guard c < b else { axes.append([Double](repeating: 0, count: d)); continue }
            var v = Array(q[(c * d)..<((c + 1) * d)])
            var norm = 0.0
            for e in v { norm += e * e }
            norm = norm.squareRoot()
            if norm > 0 { for j in 0..<d { v[j] /= norm } }
            var best = 0
            for j in 0..<d where abs(v[j]) > abs(v[best]) { best = j }
            if v[best] < 0 { for j in 0..<d { v[j] = -v[j] } }
            axes.append(v)
        }
        let variances = [max(0, ritz[0]), b > 1 ? max(0, ritz[1]) : 0]
        return (mean, axes, variances)
    }

    /// Modified Gram–Schmidt on the columns of a d×b block (column-major). Columns that
    /// vanish (rank deficiency) are set to zero and stay zero.
    static func orthonormalize(_ q: inout [Double], d: Int, b: Int) {
        for c in 0..<b {
            for k in 0..<c {
                var s = 0.0
                for j in 0..<d { s += q[k * d + j] * q[c * d + j] }
                for j in 0..<d { q[c * d + j] -= s * q[k * d + j] }
            }
            var norm = 0.0
            for j in 0..<d { norm += q[c * d + j] * q[c * d + j] }
            norm = norm.squareRoot()
            if norm > 1e-300 && norm.isFinite {
                for j in 0..<d { q[c * d + j] /= norm }
            } else {
                for j in 0..<d { q[c * d + j] = 0 }
            }
        }
    }

    /// Cyclic Jacobi eigen-decomposition of a small symmetric m×m matrix (row-major).
    /// - Returns: eigenvalues in descending order and eigenvectors as columns (`v[k*m + c]`
    ///   is component k of eigenvector c).
    static func jacobiEigen(_ input: [Double], _ m: Int) -> ([Double], [Double]) {
        var a = input
        var v = [Double](repeating: 0, count: m * m)
        for i in 0..<m { v[i * m + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, diag = 0.0
            for i in 0..<m { diag += a[i * m + i] * a[i * m + i]; for j in 0..<m where j != i { off += a[i * m + j] * a[i * m + j] } }
            if off <= 1e-30 * diag || off == 0 { break }
            for p in 0..<m {
                for r in (p + 1)..<max(p + 1, m) {
                    let apr = a[p * m + r]
                    if apr == 0 { continue }
                    let theta = (a[r * m + r] - a[p * m + p]) / (2 * apr)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<m {
                        let akp = a[k * m + p], akr = a[k * m + r]
                        a[k * m + p] = c * akp - s * akr
                        a[k * m + r] = s * akp + c * akr
                    }
                    for k in 0..<m {
                        let apk = a[p * m + k], ark = a[r * m + k]
                        a[p * m + k] = c * apk - s * ark
                        a[r * m + k] = s * apk + c * ark
                    }
                    for k in 0..<m {
                        let vkp = v[k * m + p], vkr = v[k * m + r]
                        v[k * m + p] = c * vkp - s * vkr
                        v[k * m + r] = s * vkp + c * vkr
                    }
                }
            }
        }
        let order = (0..<m).sorted { a[$0 * m + $0] > a[$1 * m + $1] || (a[$0 * m + $0] == a[$1 * m + $1] && $0 < $1) }
        var vals = [Double](repeating: 0, count: m)
        var vecs = [Double](repeating: 0, count: m * m)
        for (c, src) in order.enumerated() {
            vals[c] = a[src * m + src]
            for k in 0..<m { vecs[k * m + c] = v[k * m + src] }
        }
        return (vals, vecs)
    }
}
