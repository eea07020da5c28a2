// sampling-bench: times the greedy samplers against the numpy references of
// benchmarks/README.md on the same seeded data, and against this machine's read bandwidth.
//
//   swift run -c release sampling-bench              # standard table (10k×32, 100k×128, 1M×128; k = 1000)
//   swift run -c release sampling-bench --big        # + 1M×128, k = 10 000, |P| = 1 000
//   swift run -c release sampling-bench --help
import Foundation
import Dispatch
import LightlyCore
import CLightlyKernels

// MARK: - Options

struct Options {
    var sizes: [(n: Int, d: Int)] = [(10_000, 32), (100_000, 128), (1_000_000, 128)]
    var k = 1000
    var big = false
    var python = true
    var initBench = true
    var fp16 = true
    var coral = true
    var oneThread = true
    var budget = 25.0           // seconds per numpy run before extrapolating
    var repeats: Int? = nil      // default: 5 below 10M elements, 3 below 100M, else 1
    var threads = 0
    var bandwidth = true
    var initN = 1_000_000, initP = 10_000
    var only = false            // skip the main table (with --init-only)
    var prune: PruneOptions? = nil   // --prune: only the cluster-skipping (S1) comparison
    var pruning: ClusterPruning = .auto   // --pruning auto|on|off for the main table
    var lazy: LazyEvaluation = .auto      // --lazy auto|on|off for the main table
    var plain = true                      // --no-plain: skip the plain-pass columns
    var csv: CSVBenchOptions? = nil       // --csv FILE: only CORESET on that file (FromCSV.swift)
}

func parseOptions() -> Options {
    var o = Options()
    var it = CommandLine.arguments.dropFirst().makeIterator()
    while let a = it.next() {
        switch a {
        case "--sizes":
            o.sizes = (it.next() ?? "").split(separator: ",").compactMap { s in
                let p = s.split(separator: "x")
                guard p.count == 2, let n = Int(p[0]), let d = Int(p[1]) else { return nil }
                return (n, d)
            }
        case "--k": o.k = Int(it.next() ?? "") ?? o.k
        case "--big": o.big = true
        case "--no-python": o.python = false
        case "--no-init": o.initBench = false
        case "--no-fp16": o.fp16 = false
        case "--no-coral": o.coral = false
        case "--no-1t": o.oneThread = false
        case "--no-plain": o.plain = false
        case "--no-bandwidth": o.bandwidth = false
        case "--budget": o.budget = Double(it.next() ?? "") ?? o.budget
        case "--repeats": o.repeats = Int(it.next() ?? "")
        case "--threads": o.threads = Int(it.next() ?? "") ?? 0
        case "--init-n": o.initN = Int(it.next() ?? "") ?? o.initN
        case "--init-p": o.initP = Int(it.next() ?? "") ?? o.initP
        case "--init-only": o.only = true; o.bandwidth = false
        case "--quick": o.sizes = [(10_000, 32), (100_000, 128)]; o.initBench = false
        // Cluster skipping (Prune.swift): --prune [--prune-size 100000x128] [--prune-k 3000]
        // [--prune-intrinsic 16] [--prune-clusters 100] [--prune-coral]
        case "--pruning": o.pruning = ClusterPruning(rawValue: it.next() ?? "") ?? o.pruning
        case "--lazy": o.lazy = LazyEvaluation(rawValue: it.next() ?? "") ?? o.lazy
        case "--prune": o.prune = o.prune ?? PruneOptions()
        case "--prune-size":
            o.prune = o.prune ?? PruneOptions()
            let p = (it.next() ?? "").split(separator: "x")
            if p.count == 2, let n = Int(p[0]), let d = Int(p[1]) { o.prune?.n = n; o.prune?.d = d }
        case "--prune-k": o.prune = o.prune ?? PruneOptions(); o.prune?.k = Int(it.next() ?? "") ?? 3000
        case "--prune-intrinsic": o.prune = o.prune ?? PruneOptions(); o.prune?.intrinsic = Int(it.next() ?? "") ?? 16
        case "--prune-clusters": o.prune = o.prune ?? PruneOptions(); o.prune?.clusters = Int(it.next() ?? "") ?? 100
        case "--prune-coral": o.prune = o.prune ?? PruneOptions(); o.prune?.coral = true
        // In-process reference of benchmarks/job: --csv FILE [--k 1000] [--repeats 3] [--picks-out FILE]
        case "--csv": o.csv = o.csv ?? CSVBenchOptions(); o.csv?.path = it.next() ?? ""
        case "--picks-out": o.csv = o.csv ?? CSVBenchOptions(); o.csv?.picksOut = it.next()
        default:
            print("""
            usage: sampling-bench [--sizes 10000x32,100000x128,...] [--k 1000] [--big] [--quick]
                                  [--no-python] [--no-init] [--no-fp16] [--no-coral] [--no-1t]
                                  [--no-bandwidth] [--no-plain] [--budget s] [--repeats r] [--threads t]
                                  [--pruning auto|on|off] [--lazy auto|on|off]
                                  [--prune [--prune-size 100000x128] [--prune-k 3000] [--prune-intrinsic 16]
                                           [--prune-clusters 100] [--prune-coral]]
                                  [--csv FILE [--picks-out FILE]]
            """)
            exit(a == "--help" || a == "-h" ? 0 : 2)
        }
    }
    return o
}

// MARK: - Helpers

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func maxRSSMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

/// Peak RSS since the last `resetPeakRSS()` (VmHWM), or nil where /proc does not have it.
func peakRSSSinceResetMiB() -> Double? {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return nil }
    return kb / 1024
}

/// Resets VmHWM to the current RSS (Linux: `echo 5 > /proc/self/clear_refs`).
func resetPeakRSS() -> Bool {
    FileManager.default.createFile(atPath: "/proc/self/clear_refs", contents: Data("5".utf8))
}

func currentRSSMiB() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let f = s.split(separator: " ")
    return f.count > 1 ? (Double(f[1]) ?? 0) * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576 : 0
}

/// User + system CPU seconds of the whole process.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

func fmt(_ x: Double, _ digits: Int = 3) -> String {
    guard x.isFinite else { return "–" }
    if x >= 100 { return String(format: "%.0f", x) }
    if x >= 10 { return String(format: "%.1f", x) }
    if x >= 1 { return String(format: "%.2f", x) }
    return String(format: "%.\(digits)f", x)
}

/// Seeded standard-normal rows (Box–Muller on xoshiro256**), normalised to unit length.
/// Rows are generated in fixed blocks of 4096, each with its own stream, so the data do not
/// depend on the thread count.
func makeData(n: Int, d: Int, seed: UInt64, storage: EmbeddingStorage = .float32) -> EmbeddingMatrix {
    let x = EmbeddingMatrix(rows: n, dimension: d, storage: .float32)
    x.withUnsafeMutableFloats { buf in
        nonisolated(unsafe) let p = buf.baseAddress!
        let blocks = (n + 4095) / 4096
        DispatchQueue.concurrentPerform(iterations: blocks) { b in
            var rng = Xoshiro256StarStar(seed: seed &* 0x9E37_79B9 &+ UInt64(b))
            for i in b * 4096 ..< min(n, (b + 1) * 4096) {
                let row = p + i * d
                var j = 0
                while j < d {
                    let u1 = (Double(rng.next() >> 11) + 0.5) * 0x1p-53
                    let u2 = Double(rng.next() >> 11) * 0x1p-53
                    let r = (-2 * log(u1)).squareRoot()
                    row[j] = Float(r * cos(2 * .pi * u2))
                    if j + 1 < d { row[j + 1] = Float(r * sin(2 * .pi * u2)) }
                    j += 2
                }
                var s = 0.0
                for j in 0 ..< d { s += Double(row[j]) * Double(row[j]) }
                let inv = Float(1 / s.squareRoot())
                for j in 0 ..< d { row[j] *= inv }
            }
        }
    }
    if storage == .float32 { return x }
    let h = EmbeddingMatrix(rows: n, dimension: d, storage: storage)
    x.withUnsafeMutableFloats { src in
        for i in 0 ..< n { h.setRow(i, from: UnsafeBufferPointer(rebasing: src[i * d ..< (i + 1) * d])) }
    }
    return h
}

/// Best-of-`runs` multi-threaded read bandwidth over a 1 GiB buffer (SIMD16 sums, 8 accumulators).
func measureBandwidth(threads: Int, runs: Int = 5) -> Double {
    let bytes = 1 << 30
    let count = bytes / 4
    let buf = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { buf.deallocate() }
    buf.initialize(repeating: 1, count: count)
    nonisolated(unsafe) let p = UnsafeRawPointer(buf)
    var best = 0.0
    let sink = UnsafeMutablePointer<Float>.allocate(capacity: threads)
    defer { sink.deallocate() }
    nonisolated(unsafe) let sk = sink
    for _ in 0 ..< runs {
        let t0 = now()
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = count / threads * t, hi = t == threads - 1 ? count : count / threads * (t + 1)
            var a0 = SIMD16<Float>(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
            var i = lo
            while i + 128 <= hi {
                a0 += p.load(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                a1 += p.load(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
                a2 += p.load(fromByteOffset: i * 4 + 128, as: SIMD16<Float>.self)
                a3 += p.load(fromByteOffset: i * 4 + 192, as: SIMD16<Float>.self)
                a4 += p.load(fromByteOffset: i * 4 + 256, as: SIMD16<Float>.self)
                a5 += p.load(fromByteOffset: i * 4 + 320, as: SIMD16<Float>.self)
                a6 += p.load(fromByteOffset: i * 4 + 384, as: SIMD16<Float>.self)
                a7 += p.load(fromByteOffset: i * 4 + 448, as: SIMD16<Float>.self)
                i += 128
            }
            sk[t] = ((a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7)).sum()
        }
        best = max(best, Double(bytes) / (now() - t0))
    }
    return best
}

/// Runs the sampler `repeats` times; returns the median time and the last result.
/// Also records the median CPU time in `lastCPU` (useful on a loaded machine: for one
/// thread, CPU time ≈ the time the job would take on an idle core).
nonisolated(unsafe) var lastCPU = 0.0
func timeSampler(_ req: SamplingRequest, _ x: EmbeddingMatrix, repeats: Int) -> (Double, SamplingResult?) {
    var ts: [Double] = [], cs: [Double] = []
    var res: SamplingResult?
    for _ in 0 ..< repeats {
        let t0 = now(), c0 = cpuSeconds()
        do { res = try Sampler.select(req, embeddings: x) } catch { print("sampler error: \(error)"); return (.nan, nil) }
        ts.append(now() - t0)
        cs.append(cpuSeconds() - c0)
    }
    lastCPU = median(cs)
    return (median(ts), res)
}

struct RefResult { var time: Double; var extrapolated: Bool; var picks: [Int] }

let scriptDir: String = {
    // benchmarks/sampling-bench/main.swift → benchmarks/sampling/reference.py
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    return here.appendingPathComponent("sampling").path
}()

func runReference(method: String, dataPath: String, n: Int, d: Int, k: Int, pre: String?, budget: Double,
                  tmp: URL) -> RefResult? {
    let out = tmp.appendingPathComponent("ref-\(method).json").path
    var args = ["\(scriptDir)/reference.py", "--data", dataPath, "--n", "\(n)", "--d", "\(d)",
                "--k", "\(k)", "--method", method, "--budget", "\(budget)", "--out", out]
    if let pre { args += ["--pre", pre] }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3"] + args
    do { try p.run() } catch { print("python3 failed to start: \(error)"); return nil }
    p.waitUntilExit()
    guard p.terminationStatus == 0, let data = FileManager.default.contents(atPath: out),
          let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let t = obj["time"] as? Double, let picks = obj["picks"] as? [Int] else {
        print("reference \(method) failed (status \(p.terminationStatus))")
        return nil
    }
    return RefResult(time: t, extrapolated: (obj["extrapolated"] as? Bool) ?? false, picks: picks)
}

func writeRaw(_ x: EmbeddingMatrix, to path: String) {
    x.withUnsafeMutableFloats { buf in
        let data = Data(bytesNoCopy: buf.baseAddress!, count: buf.count * 4, deallocator: .none)
        _ = FileManager.default.createFile(atPath: path, contents: data)
    }
}

/// Compares our picks with a reference: "= k" if identical (over the reference's
/// iterations), else where they diverge, with the exact (float64) distances of both choices
/// to the common selected prefix: a relative gap below 1e-5 is a near-tie (docs/selection.md §10).
func compare(_ ours: [Int], _ ref: [Int], x: EmbeddingMatrix, pre: [Int]) -> String {
    let l = zip(ours, ref).prefix { $0 == $1 }.count
    if l == ref.count && (l == ours.count || ref.count < ours.count) {
        return ref.count < ours.count ? "=\(l)/\(ours.count)" : "= \(l)"
    }
    guard l < ours.count, l < ref.count else { return "≠ @\(l)" }
    let centers = pre + ours[0 ..< l]
    func m(_ i: Int) -> Double {
        let a = x.row(i)
        var best = Double.infinity
        for c in centers {
            let b = x.row(c)
            var s = 0.0
            for j in 0 ..< a.count { let e = Double(a[j]) - Double(b[j]); s += e * e }
            best = min(best, s)
        }
        return best
    }
    let mo = m(ours[l]), mr = m(ref[l])
    let gap = abs(mo - mr) / max(mo, mr)
    return "≠ @\(l) (exact m: ours \(String(format: "%.9g", mo)), ref \(String(format: "%.9g", mr)); rel gap \(String(format: "%.1e", gap))\(gap < 1e-5 ? ", near-tie" : ""))"
}

// MARK: - Main

func run() {
    let o = parseOptions()
    let threads = o.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : o.threads
    // What code runs: the default build is portable; LIGHTLY_TARGET_CPU=native opts in.
    print("sampler build: \(SamplingBuildInfo.summary)")
    if let p = o.prune {
        runPruneBench(p, threads: o.threads, repeats: o.repeats)
        return
    }
    if var c = o.csv {
        c.k = o.k
        c.repeats = o.repeats ?? c.repeats
        runCSVBench(c)
        return
    }
    print("sampling-bench: \(threads) threads, load average \(loadAverage()), k = \(o.k)")
    // The bandwidth test runs after the cases (its 1 GiB buffer would otherwise dominate
    // the peak-RSS readings); the ratio columns are filled in afterwards.
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sampling-bench-\(getpid())")
    try? FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: tmp) }

    var rows: [String] = []
    var initLine = ""
    var pending: [(label: String, bytes: Double, passes: Double, t2: Double, rest: String, head: String, plain: Double)] = []
    var cpuRows: [String] = []
    var cases: [(n: Int, d: Int, k: Int, pre: Int)] = o.sizes.map { ($0.n, $0.d, o.k, 0) }
    if o.big { cases.append((1_000_000, 128, 10_000, 1000)) }
    if o.only { cases = [] }
    for c in cases {
        let elements = c.n * c.d
        let repeats = o.repeats ?? (elements < 10_000_000 ? 5 : elements < 100_000_000 ? 3 : 1)
        let x = makeData(n: c.n, d: c.d, seed: 42)
        let xBytes = Double(x.byteCount)
        let passes = Double(c.pre > 0 ? c.k - c.pre : c.k)
        let pre = c.pre > 0 ? (0 ..< c.pre).map { $0 * (c.n / c.pre) } : []
        var req = SamplingRequest(method: .coreset, nSamples: Double(c.k), preselected: pre, threads: o.threads)
        req.pruning = o.pruning
        req.lazy = o.lazy
        // CORAL's scores are an input of the job, like X: made before the RSS baseline.
        var wrng = Xoshiro256StarStar(seed: 7)
        let coralWeights = o.coral && c.pre == 0 ? (0 ..< c.n).map { _ in Double(wrng.next() >> 11) * 0x1p-53 } : []
        // Job memory = growth of the peak RSS over this case (VmHWM reset here when the
        // kernel allows it; otherwise the process peak, which earlier cases may mask).
        lightly_release_free_heap()   // earlier cases' freed heap would otherwise hide this job's growth
        let resettable = resetPeakRSS() && peakRSSSinceResetMiB() != nil
        let rss0 = resettable ? currentRSSMiB() : max(currentRSSMiB(), maxRSSMiB())
        func peakNow() -> Double { resettable ? (peakRSSSinceResetMiB() ?? maxRSSMiB()) : maxRSSMiB() }
        let (t2, r2) = timeSampler(req, x, repeats: repeats)
        var t1 = Double.nan, cpu1 = Double.nan
        if o.oneThread && threads > 1 && c.pre == 0 {
            req.threads = 1
            let (t, r1) = timeSampler(req, x, repeats: repeats)
            t1 = t
            cpu1 = lastCPU
            if r1 != r2 { print("!! 1-thread result differs from \(threads)-thread result") }
            req.threads = o.threads
        }
        // The plain fused pass (every center applied to every row): the streaming kernel that
        // the bandwidth bound (P1) and the fp16 ratio (P5) are about.
        var tp = Double.nan, cpup = Double.nan, tph = Double.nan, cpuph = Double.nan
        var plainReq = req
        plainReq.lazy = .off
        plainReq.pruning = .off
        if o.plain && c.pre == 0 {
            let (t, rp) = timeSampler(plainReq, x, repeats: repeats)
            tp = t
            if rp != r2 { print("!! plain-pass result differs from the default (lazy) result") }
            if o.oneThread {
                var p1 = plainReq
                p1.threads = 1
                _ = timeSampler(p1, x, repeats: repeats)
                cpup = lastCPU
            }
        }
        var tc = Double.nan, cpuc = Double.nan
        if o.coral && c.pre == 0 {
            var cr = req
            cr.method = .coral
            cr.weights = coralWeights
            cr.threads = 1
            _ = timeSampler(cr, x, repeats: repeats)
            cpuc = lastCPU
            cr.threads = o.threads
            tc = timeSampler(cr, x, repeats: repeats).0
        }
        let extra = max(0, peakNow() - rss0)   // CORESET and CORAL jobs (CORAL holds more)
        var th = Double.nan, cpuh = Double.nan
        if o.fp16 && c.pre == 0 {
            let h = makeData(n: c.n, d: c.d, seed: 42, storage: .float16)
            th = timeSampler(req, h, repeats: repeats).0
            var r1 = req
            r1.threads = 1
            _ = timeSampler(r1, h, repeats: repeats)
            cpuh = lastCPU
            if o.plain {
                tph = timeSampler(plainReq, h, repeats: repeats).0
                if o.oneThread {
                    var p1 = plainReq
                    p1.threads = 1
                    _ = timeSampler(p1, h, repeats: repeats)
                    cpuph = lastCPU
                }
            }
        }
        if c.pre == 0 { cpuRows.append("| \(c.n / 1000)k×\(c.d) | \(fmt(cpu1)) | \(fmt(cpuc)) (\(fmt(cpuc / cpu1, 2))) | \(fmt(cpuh)) (\(fmt(cpuh / cpu1, 2))) | \(fmt(cpup)) | \(fmt(cpuph)) (\(fmt(cpuph / cpup, 2))) |") }
        var direct: RefResult? = nil, normtrick: RefResult? = nil
        if o.python {
            let path = tmp.appendingPathComponent("x.f32").path
            writeRaw(x, to: path)
            var prePath: String? = nil
            if !pre.isEmpty {
                prePath = tmp.appendingPathComponent("pre.i64").path
                let data = pre.map { Int64($0) }.withUnsafeBytes { Data($0) }
                _ = FileManager.default.createFile(atPath: prePath!, contents: data)
            }
            let refK = c.k - c.pre
            if c.pre == 0 {
                direct = runReference(method: "direct", dataPath: path, n: c.n, d: c.d, k: refK, pre: prePath,
                                      budget: o.budget, tmp: tmp)
            }
            normtrick = runReference(method: "normtrick", dataPath: path, n: c.n, d: c.d, k: refK, pre: prePath,
                                     budget: o.budget, tmp: tmp)
            try? FileManager.default.removeItem(atPath: path)
        }
        let ours = r2?.picked ?? []
        func refCell(_ r: RefResult?) -> String {
            guard let r else { return "–" }
            return fmt(r.time) + (r.extrapolated ? "*" : "")
        }
        func ratio(_ r: RefResult?) -> String { r.map { fmt($0.time / t2, 2) + "×" } ?? "–" }
        let match = [direct, normtrick].compactMap { $0 }.map { compare(ours, $0.picks, x: x, pre: pre) }.joined(separator: " ")
        let label = "\(c.n / 1000)k×\(c.d) k=\(c.k)" + (c.pre > 0 ? " |P|=\(c.pre)" : "")
        let coralRatio = tc.isFinite ? fmt(tc / t2, 2) : "–"
        let fp16Ratio = th.isFinite ? fmt(th / t2, 2) : "–"
        let plainFp16Ratio = tph.isFinite ? fmt(tph / tp, 2) : "–"
        let st = r2?.stats ?? SamplingStats()
        let work = st.lazyPasses > 0
            ? "\(fmt(100 * st.scannedFraction, 2)) % / \(fmt(100 * Double(st.distances) / Double(max(1, st.passes * st.candidates)), 1)) %"
              + (st.lazyStoppedAtPass.map { " (plain from pass \($0))" } ?? "")
            : "plain"
        let rest = "| \(work) | \(refCell(direct)) | \(ratio(direct)) | \(refCell(normtrick)) | \(ratio(normtrick)) | \(fmt(tc)) (\(coralRatio)) | \(fmt(th)) (\(fp16Ratio)) | \(fmt(tph)) (\(plainFp16Ratio)) | \(fmt(extra, 1)) | \(match.isEmpty ? "–" : match) |"
        pending.append((label, xBytes, passes, t2, rest, "| \(label) | \(fmt(xBytes / 1e6, 1)) MB", tp))
        print("\(label): ours \(fmt(t2)) s (1T \(fmt(t1))), plain pass \(fmt(tp)) s \(rest)")
    }
    if o.initBench {
        let n = o.initN, d = 128, p = o.initP
        let x = makeData(n: n, d: d, seed: 43)
        let pre = (0 ..< p).map { $0 * (n / p) }
        let req = SamplingRequest(method: .coreset, nSamples: Double(p + 1), preselected: pre, threads: o.threads)
        let t = timeSampler(req, x, repeats: 1).0
        let flop = 2.0 * Double(n - p) * Double(p) * Double(d)
        initLine = "preselected init: |P| = \(p) at \(n / 1000)k×\(d): \(fmt(t)) s (\(fmt(flop / t / 1e9, 1)) GEMM-equivalent GFLOP/s, 2·n·|P|·d; CPU \(fmt(lastCPU)) s), target ≤ 30 s"
    }
    var bw = 40e9
    if o.bandwidth {
        bw = measureBandwidth(threads: threads)
        print("measured DRAM read bandwidth (1 GiB, \(threads) threads, best of 5): \(fmt(bw / 1e9)) GB/s")
    }
    for p in pending {
        let bound = p.passes * p.bytes / bw
        rows.append("\(p.head) | \(fmt(bound)) | \(fmt(p.plain)) | \(fmt(p.plain / bound, 2))× | \(fmt(p.t2)) \(p.rest)")
    }
    print("")
    print("| case | X | bound s | plain pass \(threads)T s | plain/bound | ours \(threads)T s | rows read / distances | numpy-direct s | speed-up | numpy-normtrick s | speed-up | CORAL s (÷CORESET) | fp16 s (÷fp32) | plain fp16 s (÷plain fp32) | job peak ΔRSS MiB | picks vs refs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows { print(r) }
    print("")
    print("single-thread CPU seconds (robust to a loaded machine):")
    print("| case | CORESET fp32 | CORAL (÷CORESET) | CORESET fp16 (÷fp32) | plain pass fp32 | plain pass fp16 (÷fp32) |")
    print("|---|---|---|---|---|---|")
    for r in cpuRows { print(r) }
    print("ours = the default (lazy steps, LazyGreedy.swift); plain pass = every center applied to every row (--lazy off --pruning off)")
    print("rows read / distances = share of the plain passes' row reads and row–center distances that ours needed")
    print("bound = k·n·d·4 B / \(fmt(bw / 1e9)) GB/s (measured); * = extrapolated from ≥ 15 iterations; '= k' = identical picks")

    if !initLine.isEmpty { print(initLine) }
    print("process peak RSS: \(fmt(maxRSSMiB(), 1)) MiB")
}

func loadAverage() -> String {
    var l = [Double](repeating: 0, count: 3)
    return getloadavg(&l, 3) == 3 ? l.map { String(format: "%.2f", $0) }.joined(separator: " ") : "?"
}

run()
