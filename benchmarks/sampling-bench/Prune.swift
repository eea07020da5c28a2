// sampling-bench --prune: cluster skipping (docs/selection.md §13; target S1 in benchmarks/README.md).
// Runs the plain and the pruned greedy pass and the default (lazy steps) on the same data,
// checks that the picks are identical, and prints bytes read, the read reduction and times.
import Foundation
import Dispatch
import LightlyCore

/// Low-rank clustered rows (the S1 case): `clusters` Gaussian blobs in an
/// `intrinsic`-dimensional latent space (centers N(0, 4²), per-blob σ uniform in [0.2, 1]),
/// mapped to d dimensions by a fixed Gaussian matrix (entries N(0, 1/intrinsic)), then
/// normalised to unit length. Rows come in random blob order (blobs are scattered in memory).
/// Generated in blocks of 4096 rows with their own streams, so independent of thread count.
func makeClusteredData(n: Int, d: Int, intrinsic: Int, clusters: Int, seed: UInt64) -> EmbeddingMatrix {
    var rng = Xoshiro256StarStar(seed: seed)
    @Sendable func normal(_ g: inout Xoshiro256StarStar) -> Double {
        let u1 = (Double(g.next() >> 11) + 0.5) * 0x1p-53
        let u2 = Double(g.next() >> 11) * 0x1p-53
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    let scale = 1 / Double(intrinsic).squareRoot()
    let a = (0 ..< intrinsic * d).map { _ in normal(&rng) * scale }
    let mu = (0 ..< clusters * intrinsic).map { _ in normal(&rng) * 4 }
    let sigma = (0 ..< clusters).map { _ in 0.2 + 0.8 * Double(rng.next() >> 11) * 0x1p-53 }
    let x = EmbeddingMatrix(rows: n, dimension: d)
    x.withUnsafeMutableFloats { buf in
        guard let base = buf.baseAddress else { return }
        nonisolated(unsafe) let p = base
        let blocks = (n + 4095) / 4096
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            var g = Xoshiro256StarStar(seed: seed &* 0x9E37_79B9 &+ 1000 &+ UInt64(b))
            var z = [Double](repeating: 0, count: intrinsic)
            var row = [Double](repeating: 0, count: d)
            for i in b * 4096 ..< min(n, (b + 1) * 4096) {
                let c = Int(g.uniformBelow(UInt64(clusters)))
                for t in 0 ..< intrinsic { z[t] = mu[c * intrinsic + t] + sigma[c] * normal(&g) }
                var s = 0.0
                for j in 0 ..< d {
                    var v = 0.0
                    for t in 0 ..< intrinsic { v += a[t * d + j] * z[t] }
                    row[j] = v
                    s += v * v
                }
                let inv = s > 0 ? 1 / s.squareRoot() : 0
                for j in 0 ..< d { p[i * d + j] = Float(row[j] * inv) }
            }
        }
    }
    return x
}

struct PruneOptions {
    var n = 100_000, d = 128, k = 3000
    var intrinsic = 16, clusters = 100
    var coral = false
}

/// One dataset: plain (`.off`), forced pruning (`.on`) and the default (`.auto`, which runs
/// lazy steps, LazyGreedy.swift, where they apply).
func pruneCase(label: String, x: EmbeddingMatrix, k: Int, method: SamplingMethod, threads: Int,
               repeats: Int) -> String {
    var req = SamplingRequest(method: method, nSamples: Double(k), threads: threads)
    if method == .coral {
        var rng = Xoshiro256StarStar(seed: 7)
        req.weights = (0 ..< x.rows).map { _ in Double(rng.next() >> 11) * 0x1p-53 }
    }
    var results: [(ClusterPruning, Double, SamplingResult?)] = []
    var cpu: [Double] = []
    for mode in [ClusterPruning.off, .on, .auto] {
        req.pruning = mode
        let (t, r) = timeSampler(req, x, repeats: repeats)
        results.append((mode, t, r))
        cpu.append(lastCPU)
    }
    guard let plain = results[0].2 else { return "| \(label) | sampler failed |" }
    var cells: [String] = []
    for (i, (mode, t, r)) in results.enumerated().dropFirst() {
        guard let r else { cells.append("failed"); continue }
        let same = r.picked == plain.picked ? "identical" : "DIFFERENT"
        if r.picked != plain.picked { print("!! \(label): \(mode) picks differ from plain") }
        let s = r.stats
        var stop = s.pruningStoppedAtPass.map { ", off at pass \($0)" } ?? ""
        if s.lazyPasses > 0 {
            stop += ", lazy: distances \(fmt(100 * Double(s.distances) / Double(max(1, s.passes * s.candidates)), 1)) %"
                + (s.lazyStoppedAtPass.map { ", plain from pass \($0)" } ?? "")
        }
        cells.append("\(fmt(Double(s.bytesRead) / 1e9)) GB (\(fmt(s.readReduction, 2))×, scanned \(fmt(100 * s.scannedFraction, 1)) %\(stop)) \(fmt(t)) s (\(fmt(t / results[0].1, 2))×), CPU \(fmt(cpu[i])) s (\(fmt(cpu[i] / cpu[0], 2))×) \(same)")
    }
    let line = "| \(label) | \(fmt(Double(plain.stats.plainBytes) / 1e9)) GB \(fmt(results[0].1)) s, CPU \(fmt(cpu[0])) s | \(cells.joined(separator: " | ")) |"
    print(line)
    return line
}

func runPruneBench(_ p: PruneOptions, threads: Int, repeats: Int?) {
    let reps = repeats ?? 1
    print("cluster skipping (S1): \(p.n / 1000)k×\(p.d), k = \(p.k), \(threads) threads, load average \(loadAverage()), median of \(reps)")
    var lines: [String] = []
    let clustered = makeClusteredData(n: p.n, d: p.d, intrinsic: p.intrinsic, clusters: p.clusters, seed: 42)
    let cl = "clustered (intrinsic \(p.intrinsic), \(p.clusters) blobs)"
    lines.append(pruneCase(label: "\(cl) CORESET", x: clustered, k: p.k, method: .coreset, threads: threads, repeats: reps))
    if p.coral {
        lines.append(pruneCase(label: "\(cl) CORAL", x: clustered, k: p.k, method: .coral, threads: threads, repeats: reps))
    }
    let iso = makeData(n: p.n, d: p.d, seed: 42)
    lines.append(pruneCase(label: "isotropic Gaussian CORESET", x: iso, k: p.k, method: .coreset, threads: threads, repeats: reps))
    print("")
    print("| data | plain: bytes read, time, CPU | pruning .on: bytes read (reduction, scanned), time, CPU | default (.auto: lazy steps) |")
    print("|---|---|---|---|")
    for l in lines { print(l) }
    print("bytes read = scanned rows · d · 4 B + center copies (d · 4 B per center-to-center distance); plain = passes · n · d · 4 B")
}
