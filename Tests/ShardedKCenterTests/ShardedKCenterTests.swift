import Foundation
import LightlySampling
import Testing

/// Exact greedy k-center over row shards (`sharded-kcenter`, GreedyShard): the picks must be
/// the single-host sampler's, and a worker that fails must fail the run with a clear error
/// within a bounded time. The process tests run the real binary: a coordinator and its
/// worker processes talking over pipes.
@Suite struct ShardedKCenterTests {
    // MARK: - Data

    /// n×d float32 rows, deterministic. `grid` rows take values in {0, 1, 2} so that many
    /// squared distances tie exactly (integers), which exercises the lowest-row tie rule.
    static func rows(_ n: Int, _ d: Int, seed: UInt64, grid: Bool = false) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0 ..< n * d).map { _ in
            grid ? Float(rng.next() % 3) : Float(Double(rng.next() >> 11) * 0x1p-53 * 2 - 1)
        }
    }

    /// Writes `values` as raw little-endian float32 into a new temporary file.
    static func writeRaw(_ values: [Float]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sharded-kcenter-\(UUID().uuidString).f32")
        let data = values.withUnsafeBufferPointer { Data(buffer: $0) }
        try data.write(to: url)
        return url
    }

    // MARK: - In process

    /// S GreedyShards driven by a coordinator loop in this process give the sampler's picks.
    @Test(arguments: [1, 2, 3, 7])
    func shardsInProcessPickLikeTheSampler(shards s: Int) throws {
        let n = 3000, d = 32, k = 60
        for grid in [false, true] {
            let values = Self.rows(n, d, seed: 11, grid: grid)
            let whole = EmbeddingMatrix(rows: n, dimension: d, values: values)
            let expected = try Sampler.select(SamplingRequest(method: .coreset, nSamples: Double(k), threads: 1),
                                              embeddings: whole).picked
            let bounds = (0 ... s).map { n * $0 / s }
            let parts = (0 ..< s).map { i in
                GreedyShard(matrix: EmbeddingMatrix(rows: bounds[i + 1] - bounds[i], dimension: d,
                                                    values: Array(values[bounds[i] * d ..< bounds[i + 1] * d])),
                            picks: k)
            }
            var picks = [0]
            while picks.count < k {
                let g = picks[picks.count - 1]
                let center = Array(values[g * d ..< (g + 1) * d])
                var best: (row: Int, m: Float)? = nil
                for (i, p) in parts.enumerated() {
                    if g >= bounds[i] && g < bounds[i + 1] { p.take(g - bounds[i]) }
                    guard let b = center.withUnsafeBytes({ p.apply(center: $0.baseAddress!) }) else { continue }
                    let row = bounds[i] + b.row
                    if best == nil || b.squaredDistance > best!.m || (b.squaredDistance == best!.m && row < best!.row) {
                        best = (row, b.squaredDistance)
                    }
                }
                guard let best else { break }
                picks.append(best.row)
            }
            #expect(picks == expected, "grid \(grid), \(s) shards")
        }
    }

    // MARK: - Real processes

    /// `.build/<config>/sharded-kcenter`, next to the running test bundle.
    static let binary: String? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0 ..< 4 {
            let candidate = dir.appendingPathComponent("sharded-kcenter").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        /// True when the watchdog had to kill the coordinator.
        var killed: Bool
    }

    /// Runs the binary; kills it (and fails) if it has not finished after `limit` seconds.
    static func run(_ args: [String], limit: Double = 120) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(binary))
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let killed = LockedFlag()
        let pid = p.processIdentifier
        let watchdog = DispatchWorkItem {
            killed.set()
            kill(pid, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: watchdog)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        watchdog.cancel()
        return Outcome(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                       stderr: String(decoding: e, as: UTF8.self), killed: killed.value)
    }

    final class LockedFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var flag = false
        func set() { lock.lock(); flag = true; lock.unlock() }
        var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
    }

    /// The picks printed on the line that starts with `prefix`.
    static func picks(_ stdout: String, _ prefix: String) -> [Int]? {
        stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }
            .map { $0.dropFirst(prefix.count).split(separator: " ").compactMap { Int($0) } }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var storage: EmbeddingStorage
        var firstSeed: UInt64?
        var grid: Bool
        var lazy: String
        var testDescription: String { "\(storage), first seed \(firstSeed.map(String.init) ?? "none"), grid \(grid), lazy \(lazy)" }
    }

    /// 5k×32, k = 50, S = 3 worker processes: the picks equal the in-process sampler's.
    @Test(.enabled(if: ShardedKCenterTests.binary != nil, "needs the built sharded-kcenter binary"),
          arguments: [Case(storage: .float32, firstSeed: nil, grid: false, lazy: "auto"),
                      Case(storage: .float32, firstSeed: nil, grid: true, lazy: "auto"),
                      Case(storage: .float16, firstSeed: 7, grid: false, lazy: "off")])
    func workerProcessesPickLikeTheSampler(_ c: Case) throws {
        let n = 5000, d = 32, k = 50
        let values = Self.rows(n, d, seed: 5, grid: c.grid)
        let file = try Self.writeRaw(values)
        defer { try? FileManager.default.removeItem(at: file) }
        var args = ["run", "--data", "file", "--file", file.path, "--dim", "\(d)", "--k", "\(k)", "--shards", "3",
                    "--storage", c.storage == .float16 ? "float16" : "float32", "--lazy", c.lazy, "--print-picks"]
        if let s = c.firstSeed { args += ["--first-seed", "\(s)"] }
        let r = try Self.run(args)
        #expect(!r.killed)
        #expect(r.status == 0, "\(r.stderr)")
        let sharded = try #require(Self.picks(r.stdout, "picks S=3: "), "\(r.stdout)")
        let x = EmbeddingMatrix(rows: n, dimension: d, values: values, storage: c.storage)
        let expected = try Sampler.select(SamplingRequest(method: .coreset, nSamples: Double(k), seed: c.firstSeed),
                                          embeddings: x).picked
        #expect(sharded.count == k)
        #expect(sharded == expected)
        #expect(r.stdout.contains("per round: 6.0 frames"))   // 2·S frames per round
    }

    /// The composable coreset with one shard is greedy over all rows: the exact picks.
    @Test(.enabled(if: ShardedKCenterTests.binary != nil, "needs the built sharded-kcenter binary"))
    func composableWithOneShardIsExact() throws {
        let r = try Self.run(["run", "--rows", "4000", "--dim", "16", "--k", "40", "--shards", "1,3",
                              "--composable", "--print-picks", "--data", "mix", "--components", "20"])
        #expect(!r.killed)
        #expect(r.status == 0, "\(r.stderr)")
        let exact = try #require(Self.picks(r.stdout, "picks S=1: "))
        #expect(Self.picks(r.stdout, "picks composable S=1: ") == exact)
        #expect(Self.picks(r.stdout, "picks S=3: ") == exact)
        #expect(Self.picks(r.stdout, "picks composable S=3: ")?.count == 40)
    }

    /// Rows with NaN are refused at start-up, as the single-host sampler refuses them.
    @Test(.enabled(if: ShardedKCenterTests.binary != nil, "needs the built sharded-kcenter binary"))
    func nonFiniteRowsFailAtStartUp() throws {
        var values = Self.rows(300, 16, seed: 3)
        values[250 * 16 + 4] = .nan
        let file = try Self.writeRaw(values)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try Self.run(["run", "--data", "file", "--file", file.path, "--dim", "16", "--k", "5", "--shards", "2"],
                             limit: 60)
        #expect(!r.killed)
        #expect(r.status == 1)
        #expect(r.stderr.contains("shard 1: rows 150 ..< 300 contain NaN or ±Inf"), "\(r.stderr)")
        #expect(r.stderr.contains("exited with status 2 during start-up"), "\(r.stderr)")
    }

    /// A worker killed mid-run: the coordinator stops with an error naming the shard and the
    /// signal, and leaves no worker behind.
    @Test(.enabled(if: ShardedKCenterTests.binary != nil, "needs the built sharded-kcenter binary"))
    func aDeadWorkerFailsTheRunClearly() throws {
        let r = try Self.run(["run", "--rows", "5000", "--dim", "32", "--k", "50", "--shards", "3",
                              "--fail", "kill", "--fail-shard", "1", "--fail-round", "10"], limit: 60)
        #expect(!r.killed)
        #expect(r.status == 1)
        #expect(r.stderr.contains("shard 1 (pid"), "\(r.stderr)")
        #expect(r.stderr.contains("was killed by signal 9 during round 10"), "\(r.stderr)")
        #expect(!r.stdout.contains("picks vs single host"))
    }

    /// A worker that stops answering: the run fails after the round timeout, and the
    /// coordinator kills the silent worker.
    @Test(.enabled(if: ShardedKCenterTests.binary != nil, "needs the built sharded-kcenter binary"))
    func aSilentWorkerFailsTheRunAfterTheTimeout() throws {
        let r = try Self.run(["run", "--rows", "5000", "--dim", "32", "--k", "50", "--shards", "3",
                              "--fail", "stall", "--fail-shard", "2", "--fail-round", "5", "--round-timeout", "2"], limit: 60)
        #expect(!r.killed)
        #expect(r.status == 1)
        #expect(r.stderr.contains("did not answer within 2.0 s during round 5"), "\(r.stderr)")
        let pidText = try #require(r.stderr.firstMatch(of: /shard 2 \(pid (\d+)\)/)?.1, "\(r.stderr)")
        let pid = try #require(Int32(pidText))
        #expect(kill(pid, 0) != 0 && errno == ESRCH)    // gone, and reaped
    }
}
