import Foundation
import Testing
@testable import LightlyCore

@Suite struct PCA2DTests {
    /// Points a·u + b·w + c with orthonormal u, w and var(a) > var(b): the axes are ±u, ±w
    /// and the coordinates are (a − mean a, b − mean b) up to the normalised sign.
    @Test func analyticPlane() {
        let u: [Double] = [2 / 3.0, 2 / 3.0, 1 / 3.0]                 // largest entry positive
        let w: [Double] = [1 / 5.0.squareRoot(), 0, -2 / 5.0.squareRoot()] // ⟂ u; largest |entry| negative
        let offset: [Double] = [5, -3, 1]
        // Centred, uncorrelated (Σ a·b = 0) and var(a) > var(b).
        let a: [Double] = [-3, -1, 1, 3, -3, -1, 1, 3]
        let b: [Double] = [0.5, -0.5, -0.5, 0.5, -0.25, 0.25, 0.25, -0.25]
        let n = a.count
        var values: [Float] = []
        for i in 0..<n { for j in 0..<3 { values.append(Float(a[i] * u[j] + b[i] * w[j] + offset[j])) } }
        let xy = PCA2D.project(values: values, rows: n, dimension: 3)
        for i in 0..<n {
            #expect(abs(Double(xy[2 * i]) - a[i]) < 1e-5)
            // w's largest-magnitude entry is negative, so the normalised axis is −w.
            #expect(abs(Double(xy[2 * i + 1]) + b[i]) < 1e-5)
        }
    }

    @Test func degenerateInputsGiveZerosNotNaN() {
        #expect(PCA2D.project(values: [], rows: 0, dimension: 4) == [])
        #expect(PCA2D.project(values: [1, 2, 3], rows: 1, dimension: 3) == [0, 0])
        #expect(PCA2D.project(values: [Float](repeating: 7, count: 40), rows: 10, dimension: 4) == [Float](repeating: 0, count: 20))
        // d = 1: the first coordinate is the centred value, the second is 0.
        let one = PCA2D.project(values: [1, 2, 6], rows: 3, dimension: 1)
        #expect(one == [-2, 0, -1, 0, 3, 0])
        // Rank 1 in 3-D: the second coordinate is exactly 0.
        let line = PCA2D.project(values: [0, 0, 0, 1, 2, 2, 2, 4, 4], rows: 3, dimension: 3)
        #expect(line.allSatisfy { $0.isFinite })
        #expect([line[1], line[3], line[5]] == [0, 0, 0])
        #expect(abs(line[4] - 3) < 1e-5 && abs(line[0] + 3) < 1e-5)
    }

    @Test func deterministic() {
        var rng = TestRNG(seed: 8)
        let values = (0..<(200 * 16)).map { _ in Float(Double(rng.next() % 10_000) / 1000) }
        #expect(PCA2D.project(values: values, rows: 200, dimension: 16) == PCA2D.project(values: values, rows: 200, dimension: 16))
    }

    /// Against numpy: eigh of the covariance, top two axes with the same sign rule.
    @Test(.enabled(if: Python.hasNumpy, "needs python3 with numpy"), arguments: [(300, 10), (50, 3), (40, 80)])
    func matchesNumpy(n: Int, d: Int) throws {
        var rng = TestRNG(seed: UInt64(n * 1000 + d))
        var values: [Float] = []
        for _ in 0..<n {
            for j in 0..<d {
                let g = Double(rng.next() % 2_000_001) / 1_000_000 - 1
                values.append(Float(g * 3 / Double(j + 1) + Double(j)))
            }
        }
        let input = "\(n) \(d)\n" + values.map { String($0.bitPattern) }.joined(separator: " ") + "\n"
        let script = """
        import sys, numpy as np
        n, d = map(int, sys.stdin.readline().split())
        x = np.array([int(t) for t in sys.stdin.readline().split()], dtype=np.uint32).view(np.float32).astype(np.float64).reshape(n, d)
        xc = x - x.mean(axis=0)
        w, v = np.linalg.eigh(xc.T @ xc)
        v = v[:, np.argsort(w)[::-1][:2]]
        for k in range(2):
            i = np.argmax(np.abs(v[:, k]))
            if v[i, k] < 0: v[:, k] = -v[:, k]
        print(" ".join(repr(float(t)) for t in (xc @ v).ravel()))
        """
        let output = try #require(runPython(script, input: input), "the numpy script failed")
        let expected = output.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(expected.count == n * 2)
        let scale = expected.map(abs).max() ?? 1
        // Both the explicit covariance and the implicit operator (used for large n·d²).
        for budget in [2_000_000_000, 0] {
            let ours = PCA2D.project(values: values, rows: n, dimension: d, explicitCovarianceBudget: budget)
            for i in 0..<(n * 2) {
                #expect(abs(Double(ours[i]) - expected[i]) <= 1e-4 * scale, "\(i) budget \(budget)")
            }
        }
    }
}
