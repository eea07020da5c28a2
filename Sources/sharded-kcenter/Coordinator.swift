// The coordinator: starts S shard workers (copies of this executable), drives the exact
// greedy rounds or the composable-coreset run, and collects the per-round figures.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LightlyCore

/// One running shard worker.
struct ShardProcess {
    let index: Int
    let pid: Int32
    let channel: Channel
    var lo = 0, hi = 0
    var loadSeconds = 0.0
    /// Set once `waitpid` has collected it (its pid may then belong to another process).
    var reaped = false
}

/// What one exact run measured.
struct ExactRun {
    var picks: [Int] = []
    /// The covering radius after the last pick (Euclidean), nil when every row was picked.
    var radius: Double?
    /// Wall seconds of each round (send the pick to all shards, receive all answers).
    var roundSeconds: [Double] = []
    /// Per round, the slowest shard's compute seconds.
    var computeSeconds: [Double] = []
    var framesPerRound = 0.0
    var bytesPerRound = 0.0
    /// From the first request to the last answer (excludes starting and loading).
    var totalSeconds = 0.0
}

/// What one composable-coreset run measured.
struct ComposableRun {
    var picks: [Int] = []
    var radius = 0.0
    var localSeconds = 0.0       // slowest shard's local greedy
    var unionSeconds = 0.0       // greedy over the union on the coordinator
    var totalSeconds = 0.0       // L round + union greedy (evaluation excluded)
    var bytes = 0
    var frames = 0
}

final class Coordinator {
    let source: DataSource
    let k: Int
    let roundTimeout: Double
    let startupTimeout: Double
    private(set) var shards: [ShardProcess] = []

    init(source: DataSource, k: Int, roundTimeout: Double, startupTimeout: Double) {
        self.source = source
        self.k = k
        self.roundTimeout = roundTimeout
        self.startupTimeout = startupTimeout
    }

    /// The path of this executable (workers are copies of it).
    static func selfPath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        if n > 0 { return String(decoding: buf[0 ..< n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CommandLine.arguments[0]
    }

    /// Starts `count` workers and waits for each one's hello (its rows are loaded).
    func start(count: Int, threads: Int, lazy: LazyEvaluation, hook: FailureHook?) throws {
        signal(SIGPIPE, SIG_IGN)
        let exe = Self.selfPath()
        for i in 0 ..< count {
            var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
            // Close-on-exec: a worker must not hold another worker's pipes, or that worker's
            // death would not show as end of file here.
            guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else {
                throw ShardError.spawn("pipe: \(String(cString: strerror(errno)))")
            }
            for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            var args = [exe, "worker", "--shard", "\(i)", "--of", "\(count)", "--k", "\(k)",
                        "--shard-threads", "\(threads)", "--lazy", lazy.rawValue] + source.arguments
            if let hook { args += ["--fail", hook.kind.rawValue, "--fail-shard", "\(hook.shard)", "--fail-round", "\(hook.round)"] }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
            posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
            let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
            defer { for p in argv { free(p) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, exe, &actions, nil, argv, environ)
            close(toChild[0]); close(fromChild[1])
            guard rc == 0 else {
                close(toChild[1]); close(fromChild[0])
                throw ShardError.spawn("\(exe): \(String(cString: strerror(rc)))")
            }
            shards.append(ShardProcess(index: i, pid: pid, channel: Channel(inFD: fromChild[0], outFD: toChild[1])))
        }
        let deadline = monotonicSeconds() + startupTimeout
        for i in shards.indices {
            var r = Reader(try receive(i, Frame.hello, deadline: deadline, during: "start-up"))
            shards[i].lo = Int(try r.get(Int64.self))
            shards[i].hi = Int(try r.get(Int64.self))
            shards[i].loadSeconds = try r.double()
        }
    }

    /// Sends a frame to shard `i`, turning a closed pipe into a clear error.
    private func send(_ i: Int, _ type: UInt8, _ payload: [UInt8], during: String) throws {
        do { try shards[i].channel.send(type, payload) } catch { throw died(i, during: during) }
    }

    /// Receives the frame of `type` from shard `i` by `deadline`.
    private func receive(_ i: Int, _ type: UInt8, deadline: Double, during: String) throws -> [UInt8] {
        let got: (type: UInt8, payload: [UInt8])
        do { got = try shards[i].channel.receive(deadline: deadline) } catch {
            switch error {   // Channel.Failure (typed throws)
            case .closed: throw died(i, during: during)
            case .timedOut:
                throw ShardError.timeout(shard: i, pid: shards[i].pid, seconds: roundTimeoutFor(during), during: during)
            }
        }
        guard got.type == type else {
            throw ShardError.protocolError("shard \(i) answered frame \(got.type), expected \(type)")
        }
        return got.payload
    }

    private func roundTimeoutFor(_ during: String) -> Double { during == "start-up" ? startupTimeout : roundTimeout }

    /// The error for a shard whose pipe closed: how it ended (waits up to 2 s to find out).
    private func died(_ i: Int, during: String) -> ShardError {
        let pid = shards[i].pid
        var status: Int32 = 0
        var how = "closed its pipe"
        let until = monotonicSeconds() + 2
        while monotonicSeconds() < until {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                shards[i].reaped = true
                let sig = status & 0x7f
                how = sig == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(sig)"
                break
            }
            if r < 0 { break }
            usleep(10_000)
        }
        return .died(shard: i, pid: pid, how: how, during: during)
    }

    /// The shard that owns global row `g`.
    private func owner(_ g: Int) -> Int {
        shards.firstIndex { g >= $0.lo && g < $0.hi } ?? 0
    }

    /// Exact greedy k-center: the first center by the single-host rule (the lowest row, or a
    /// seeded random row), then one round per pick, and one last round for the radius.
    func exact(firstSeed: UInt64?) throws -> ExactRun {
        var run = ExactRun()
        let n = source.rows
        let need = min(k, n)
        guard need > 0 else { return run }
        let rowBytes = source.dim * source.storage.elementSize
        let start = monotonicSeconds()
        var first = 0
        if let s = firstSeed { var rng = Xoshiro256StarStar(seed: s); first = Int(rng.uniformBelow(UInt64(n))) }
        let o = owner(first)
        var q = Payload(); q.put(Int64(first))
        try send(o, Frame.getRow, q.bytes, during: "round 0")
        var center = try receive(o, Frame.row, deadline: monotonicSeconds() + roundTimeout, during: "round 0")
        guard center.count == rowBytes else { throw ShardError.protocolError("row of \(center.count) bytes") }
        run.picks = [first]
        let bytes0 = shards.reduce(0) { $0 + $1.channel.bytesSent + $1.channel.bytesReceived }
        let frames0 = shards.reduce(0) { $0 + $1.channel.framesSent + $1.channel.framesReceived }
        var round = 0
        while true {
            round += 1
            let during = "round \(round)"
            let t0 = monotonicSeconds()
            var p = Payload(); p.put(Int64(run.picks[run.picks.count - 1])); p.put(bytes: center)
            for i in shards.indices { try send(i, Frame.pick, p.bytes, during: during) }
            let deadline = monotonicSeconds() + roundTimeout
            var bestRow = -1, bestM: Float = -1, bestBytes: [UInt8] = []
            var slowest = 0.0
            for i in shards.indices {
                var r = Reader(try receive(i, Frame.best, deadline: deadline, during: during))
                let row = Int(try r.get(Int64.self)), m = try r.float()
                slowest = max(slowest, Double(try r.get(UInt64.self)) * 1e-9)
                guard row >= 0 else { continue }
                // The largest distance wins; equal distances go to the lowest global row.
                if bestRow < 0 || m > bestM || (m == bestM && row < bestRow) {
                    bestRow = row; bestM = m; bestBytes = try r.take(rowBytes)
                }
            }
            run.roundSeconds.append(monotonicSeconds() - t0)
            run.computeSeconds.append(slowest)
            if run.picks.count >= need || bestRow < 0 {
                run.radius = bestRow >= 0 ? Double(bestM).squareRoot() : nil
                break
            }
            run.picks.append(bestRow)
            center = bestBytes
        }
        run.totalSeconds = monotonicSeconds() - start
        let bytes = shards.reduce(0) { $0 + $1.channel.bytesSent + $1.channel.bytesReceived } - bytes0
        let frames = shards.reduce(0) { $0 + $1.channel.framesSent + $1.channel.framesReceived } - frames0
        run.bytesPerRound = Double(bytes) / Double(round)
        run.framesPerRound = Double(frames) / Double(round)
        return run
    }

    /// Composable coreset: every shard runs greedy k-center over its own rows (`localK`
    /// centers, its first row first), the coordinator runs greedy over the union of the S·localK
    /// centers (shard order, so the first center is global row 0, as in the exact run).
    func composable(localK: Int, threads: Int) throws -> ComposableRun {
        var run = ComposableRun()
        let rowBytes = source.dim * source.storage.elementSize
        let b0 = shards.reduce(0) { $0 + $1.channel.bytesSent + $1.channel.bytesReceived }
        let f0 = shards.reduce(0) { $0 + $1.channel.framesSent + $1.channel.framesReceived }
        let start = monotonicSeconds()
        var q = Payload(); q.put(UInt32(localK))
        for i in shards.indices { try send(i, Frame.localGreedy, q.bytes, during: "local greedy") }
        let deadline = monotonicSeconds() + roundTimeout
        var rows: [Int] = [], vectors: [[UInt8]] = []
        for i in shards.indices {
            var r = Reader(try receive(i, Frame.centers, deadline: deadline, during: "local greedy"))
            let c = Int(try r.get(UInt32.self))
            let rs = try (0 ..< c).map { _ in Int(try r.get(Int64.self)) }
            let vs = try (0 ..< c).map { _ in try r.take(rowBytes) }
            run.localSeconds = max(run.localSeconds, Double(try r.get(UInt64.self)) * 1e-9)
            rows += rs; vectors += vs
        }
        let u0 = monotonicSeconds()
        let union = Self.matrix(vectors, dim: source.dim, storage: source.storage)
        let result = try Sampler.select(SamplingRequest(method: .coreset, nSamples: Double(k), threads: threads),
                                        embeddings: union)
        run.unionSeconds = monotonicSeconds() - u0
        run.totalSeconds = monotonicSeconds() - start
        run.picks = result.picked.map { rows[$0] }
        run.bytes = shards.reduce(0) { $0 + $1.channel.bytesSent + $1.channel.bytesReceived } - b0
        run.frames = shards.reduce(0) { $0 + $1.channel.framesSent + $1.channel.framesReceived } - f0
        run.radius = try radius(ofCenters: result.picked.map { vectors[$0] })
        return run
    }

    /// The covering radius of a set of centers over all rows: max over rows of the distance to
    /// the nearest center (each shard computes its part).
    func radius(ofCenters centers: [[UInt8]]) throws -> Double {
        var p = Payload(); p.put(UInt32(centers.count))
        for c in centers { p.put(bytes: c) }
        for i in shards.indices { try send(i, Frame.evaluate, p.bytes, during: "radius evaluation") }
        let deadline = monotonicSeconds() + roundTimeout
        var worst: Float = 0
        for i in shards.indices {
            var r = Reader(try receive(i, Frame.maxDistance, deadline: deadline, during: "radius evaluation"))
            worst = max(worst, try r.float())
        }
        return Double(worst).squareRoot()
    }

    /// The stored bytes of global rows (fetched from their owners).
    func rowBytes(_ rows: [Int]) throws -> [[UInt8]] {
        try rows.map { g in
            let o = owner(g)
            var q = Payload(); q.put(Int64(g))
            try send(o, Frame.getRow, q.bytes, during: "row fetch")
            return try receive(o, Frame.row, deadline: monotonicSeconds() + roundTimeout, during: "row fetch")
        }
    }

    /// A matrix of stored rows (float16 rows are converted exactly through float32).
    static func matrix(_ rows: [[UInt8]], dim: Int, storage: EmbeddingStorage) -> EmbeddingMatrix {
        var values = [Float](repeating: 0, count: rows.count * dim)
        for (i, r) in rows.enumerated() {
            r.withUnsafeBytes { b in
                for j in 0 ..< dim {
                    values[i * dim + j] = storage == .float32
                        ? b.loadUnaligned(fromByteOffset: j * 4, as: Float.self)
                        : Float(Float16(bitPattern: b.loadUnaligned(fromByteOffset: j * 2, as: UInt16.self)))
                }
            }
        }
        return EmbeddingMatrix(rows: rows.count, dimension: dim, values: values, storage: storage)
    }

    /// Tells every worker to quit and reaps it; a worker that does not exit within 5 s is killed.
    func stop() {
        for s in shards { try? s.channel.send(Frame.quit) }
        let until = monotonicSeconds() + 5
        for s in shards {
            var status: Int32 = 0
            while waitpid(s.pid, &status, WNOHANG) == 0 {
                if monotonicSeconds() > until { kill(s.pid, SIGKILL); waitpid(s.pid, &status, 0); break }
                usleep(5_000)
            }
            close(s.channel.inFD); close(s.channel.outFD)
        }
        shards = []
    }

    /// Kills every worker at once (after an error) and reaps them.
    func abort() {
        for s in shards where !s.reaped { kill(s.pid, SIGKILL) }
        for s in shards {
            var status: Int32 = 0
            if !s.reaped { waitpid(s.pid, &status, 0) }
            close(s.channel.inFD); close(s.channel.outFD)
        }
        shards = []
    }
}
