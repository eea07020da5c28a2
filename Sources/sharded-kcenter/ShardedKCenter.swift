// sharded-kcenter: exact greedy k-center (CORESET) over a matrix split into row ranges held by
// separate processes, against the single-host sampler and the composable-coreset
// approximation (docs/scaling.md, "Matrices larger than one host's memory").
//
//   sharded-kcenter run --rows 1000000 --dim 128 --k 1000 --shards 1,2,4 --reference --composable
//   sharded-kcenter run --data file --file x.f32 --dim 32 --k 50 --shards 3 --print-picks
//
// The coordinator starts S workers (`sharded-kcenter worker …`, copies of this executable) and
// talks to them over pipes (Wire.swift). Each round it sends every shard the center just
// picked; each shard applies it to its min-distance array and answers its best row; the
// coordinator takes the maximum (ties to the lowest row). k rounds, 2·S frames and
// O(S·d) bytes per round, and the same picks as `Sampler.select` on one host.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import LightlyCore

extension DataKind: ExpressibleByArgument {}
extension LazyEvaluation: ExpressibleByArgument {}
extension FailureHook.Kind: ExpressibleByArgument {}

/// The options that describe the matrix (shared by `run` and `worker`).
struct DataOptions: ParsableArguments {
    @Option(help: "iso (unit-length Gaussian rows), mix (mixture of Gaussians) or file.")
    var data: DataKind = .iso
    @Option(help: "Rows (ignored for --data file: the file's size decides).")
    var rows: Int = 100_000
    @Option(help: "Dimension.")
    var dim: Int = 128
    @Option(help: "Seed of the generated rows.")
    var seed: UInt64 = 1
    @Option(help: "Components of --data mix.")
    var components: Int = 300
    @Option(help: "Raw little-endian float32 rows, row-major (--data file).")
    var file: String?
    @Option(help: "float32 or float16 storage (float16: rounded on load, as the sampler's float16 matrices).")
    var storage: String = "float32"

    func source() throws -> DataSource {
        guard dim > 0 else { throw ValidationError("--dim must be ≥ 1") }
        guard storage == "float32" || storage == "float16" else { throw ValidationError("--storage is float32 or float16") }
        guard components > 0 else { throw ValidationError("--components must be ≥ 1") }
        var n = rows
        if data == .file {
            guard let file else { throw ValidationError("--data file needs --file") }
            n = try DataSource.fileRows(file, dim: dim)
        }
        guard n >= 0, n < Int(Int32.max) else { throw ValidationError("--rows must be in 0 ..< 2^31 − 1") }
        return DataSource(kind: data, rows: n, dim: dim, seed: seed, components: components, file: file,
                          storage: storage == "float16" ? .float16 : .float32)
    }
}

/// Test hooks (hidden): make one worker fail on purpose.
struct FailureOptions: ParsableArguments {
    @Option(help: .hidden) var fail: FailureHook.Kind?
    @Option(help: .hidden) var failShard: Int = 0
    @Option(help: .hidden) var failRound: Int = 1
    var hook: FailureHook? { fail.map { FailureHook(kind: $0, shard: failShard, round: failRound) } }
}

@main
struct ShardedKCenter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sharded-kcenter",
        abstract: "Exact greedy k-center over row shards held by separate processes, and the composable-coreset approximation.",
        subcommands: [Run.self, WorkerCommand.self], defaultSubcommand: Run.self)
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Coordinate S shard processes.")

    @OptionGroup var dataOptions: DataOptions
    @Option(help: "Centers to pick.") var k: Int = 1000
    @Option(help: "Shard counts to run one after the other, e.g. 1,2,4.") var shards: String = "2"
    @Option(help: "First center: a seeded random row (CORESET's `seed`); default the lowest row.") var firstSeed: UInt64?
    @Option(help: "Threads of the single-host reference and the union greedy (0: all cores).") var threads: Int = 0
    @Option(help: "Threads per shard (0: max(1, cores / S)).") var shardThreads: Int = 0
    @Option(help: "Lazy steps in the shards: auto, on, off (the result does not depend on it).") var lazy: LazyEvaluation = .auto
    @Flag(help: "Also run the single-host sampler on the whole matrix in this process and compare the picks.") var reference = false
    @Flag(help: "Also run the composable-coreset approximation and compare covering radii.") var composable = false
    @Option(help: "Centers each shard keeps for the composable coreset (default: k).") var localK: Int?
    @Flag(help: "Print the picks (one line per run).") var printPicks = false
    @Option(help: "Seconds a shard may take to answer one round.") var roundTimeout: Double = 120
    @Option(help: "Seconds the shards may take to start and load their rows.") var startupTimeout: Double = 900
    @OptionGroup var failure: FailureOptions

    func run() throws {
        let source = try dataOptions.source()
        guard k >= 1 else { throw ValidationError("--k must be ≥ 1") }
        let counts = shards.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 && $0 <= 64 }) else {
            throw ValidationError("--shards is a list of shard counts in 1…64, e.g. 1,2,4")
        }
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        say("sharded-kcenter: \(source.kind.rawValue) \(source.rows)×\(source.dim) \(dataOptions.storage), k = \(k), "
              + "\(cores) cores, load average \(loadAverage())")

        var refPicks: [Int]? = nil
        if reference {
            let t0 = monotonicSeconds()
            let x = try source.load(lo: 0, hi: source.rows)
            let t1 = monotonicSeconds()
            var req = SamplingRequest(method: .coreset, nSamples: Double(k), seed: firstSeed, threads: threads)
            req.lazy = lazy
            let r = try Sampler.select(req, embeddings: x)
            let t2 = monotonicSeconds()
            refPicks = r.picked
            say("single host: \(r.picked.count) picks in \(f(t2 - t1, 3)) s (\(threads == 0 ? "all" : "\(threads)") threads; "
                  + "rows made in \(f(t1 - t0, 2)) s)")
            if printPicks { print("picks single: " + r.picked.map(String.init).joined(separator: " ")) }
        }

        var mismatch = false
        for s in counts {
            let threadsPerShard = shardThreads > 0 ? shardThreads : max(1, cores / s)
            let c = Coordinator(source: source, k: k, roundTimeout: roundTimeout, startupTimeout: startupTimeout)
            do {
                let t0 = monotonicSeconds()
                try c.start(count: s, threads: threadsPerShard, lazy: lazy, hook: failure.hook)
                let startSeconds = monotonicSeconds() - t0
                let e = try c.exact(firstSeed: firstSeed)
                let same = refPicks.map { $0 == e.picks }
                if same == false { mismatch = true }
                let lat = e.roundSeconds.sorted(), comp = e.computeSeconds
                let mean = lat.reduce(0, +) / Double(max(lat.count, 1))
                let meanCompute = comp.reduce(0, +) / Double(max(comp.count, 1))
                func pct(_ p: Double) -> Double { lat.isEmpty ? 0 : lat[min(lat.count - 1, Int(Double(lat.count) * p))] }
                let over = s * threadsPerShard > cores ? ", oversubscribed: \(s * threadsPerShard) threads on \(cores) cores" : ""
                say("S=\(s) exact: \(e.picks.count) picks in \(f(e.totalSeconds, 3)) s, \(lat.count) rounds "
                      + "(+ start and load \(f(startSeconds, 2)) s, \(threadsPerShard) thread(s) per shard\(over))")
                say(String(format: "  round: mean %.3f ms, p50 %.3f ms, p99 %.3f ms; slowest shard's compute %.3f ms mean; "
                             + "messaging and waiting %.3f ms mean", mean * 1e3, pct(0.5) * 1e3, pct(0.99) * 1e3,
                             meanCompute * 1e3, (mean - meanCompute) * 1e3))
                let radius = e.radius.map { f($0, 6) } ?? "0 (every row picked)"
                say("  per round: \(f(e.framesPerRound, 1)) frames, \(f(e.bytesPerRound, 0)) bytes; covering radius \(radius); "
                      + "picks vs single host: \(same.map { $0 ? "identical" : "DIFFERENT" } ?? "not compared")")
                if let ref = refPicks, ref != e.picks {
                    let at = (0 ..< min(ref.count, e.picks.count)).first { ref[$0] != e.picks[$0] } ?? min(ref.count, e.picks.count)
                    say("  first difference at pick \(at)")
                }
                if printPicks { print("picks S=\(s): " + e.picks.map(String.init).joined(separator: " ")) }
                if composable {
                    let lk = localK ?? k
                    let cr = try c.composable(localK: lk, threads: threads)
                    let exactRadius = try c.radius(ofCenters: c.rowBytes(e.picks))
                    say(String(format: "  composable coreset (%d local centers per shard): radius %.6f = %.3f× exact (%.6f); "
                                 + "%.3f s (slowest local greedy %.3f s, union greedy %.3f s), %d frames, %d bytes",
                                 lk, cr.radius, exactRadius > 0 ? cr.radius / exactRadius : 1, exactRadius,
                                 cr.totalSeconds, cr.localSeconds, cr.unionSeconds, cr.frames, cr.bytes))
                    if let r = e.radius, abs(r - exactRadius) > 0 {
                        say(String(format: "  note: the exact run's last round gave radius %.6f", r))
                    }
                    if printPicks { print("picks composable S=\(s): " + cr.picks.map(String.init).joined(separator: " ")) }
                }
                c.stop()
            } catch {
                c.abort()
                printError("sharded-kcenter: \(error)")
                throw ExitCode(1)
            }
        }
        say("load average at the end: \(loadAverage())")
        if mismatch {
            printError("sharded-kcenter: the sharded picks differ from the single-host picks")
            throw ExitCode(3)
        }
    }

    func f(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    func loadAverage() -> String {
        var l = [Double](repeating: 0, count: 3)
        return getloadavg(&l, 3) == 3 ? String(format: "%.2f %.2f %.2f", l[0], l[1], l[2]) : "unknown"
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "One shard (started by `run`; speaks the pipe protocol on stdin/stdout).",
        shouldDisplay: false)

    @OptionGroup var dataOptions: DataOptions
    @Option var shard: Int
    @Option var of: Int
    @Option var k: Int
    @Option var shardThreads: Int = 1
    @Option var lazy: LazyEvaluation = .auto
    @OptionGroup var failure: FailureOptions

    func run() throws {
        let source = try dataOptions.source()
        guard of >= 1, shard >= 0, shard < of else { throw ValidationError("--shard must be in 0 ..< --of") }
        let status = Worker.run(index: shard, count: of, source: source, picks: k, threads: shardThreads,
                                lazy: lazy, hook: failure.hook)
        if status != 0 { throw ExitCode(status) }
    }
}
