// A shard worker: owns rows lo ..< hi of the matrix and answers the coordinator's frames on
// stdin/stdout until `Q` or end of input.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LightlyCore

/// Test hooks: make shard `shard` fail on purpose at its `round`-th `P` frame.
struct FailureHook {
    enum Kind: String { case kill, stall }
    var kind: Kind
    var shard: Int
    var round: Int
}

enum Worker {
    /// Runs shard `index` of `count` until told to quit. Returns the exit status.
    static func run(index: Int, count: Int, source: DataSource, picks: Int, threads: Int,
                    lazy: LazyEvaluation, hook: FailureHook?) -> Int32 {
        // The protocol owns the original stdout; anything printed by accident goes to stderr.
        let out = dup(1)
        dup2(2, 1)
        let ch = Channel(inFD: 0, outFD: out)
        let lo = source.rows * index / count, hi = source.rows * (index + 1) / count
        let t0 = monotonicSeconds()
        let matrix: EmbeddingMatrix
        do { matrix = try source.load(lo: lo, hi: hi) } catch {
            printError("shard \(index): \(error)")
            return 2
        }
        // As the single-host sampler: distances over NaN or ±Inf have no order.
        guard matrix.allFinite else {
            printError("shard \(index): rows \(lo) ..< \(hi) contain NaN or ±Inf")
            return 2
        }
        var hello = Payload()
        hello.put(Int64(lo)); hello.put(Int64(hi)); hello.put(monotonicSeconds() - t0)
        do { try ch.send(Frame.hello, hello.bytes) } catch { return 3 }
        let shard = GreedyShard(matrix: matrix, picks: picks, threads: threads, lazy: lazy)
        var rounds = 0
        do {
            while true {
                let (type, payload) = try ch.receive(deadline: nil)
                var r = Reader(payload)
                switch type {
                case Frame.getRow:
                    let g = Int(try r.get(Int64.self))
                    guard g >= lo && g < hi else { throw ShardError.protocolError("row \(g) is not in shard \(index)") }
                    try ch.send(Frame.row, shard.rowBytes(g - lo))
                case Frame.pick:
                    rounds += 1
                    if let hook, hook.shard == index, hook.round == rounds {
                        switch hook.kind {
                        case .kill: kill(getpid(), SIGKILL)
                        case .stall: while true { sleep(60) }
                        }
                    }
                    let g = Int(try r.get(Int64.self))
                    let center = try r.take(shard.rowByteCount)
                    let c0 = monotonicSeconds()
                    if g >= lo && g < hi { shard.take(g - lo) }
                    let best = center.withUnsafeBytes { b in shard.apply(center: b.baseAddress.unsafelyUnwrapped) }
                    let ns = UInt64((monotonicSeconds() - c0) * 1e9)
                    var p = Payload()
                    if let best {
                        p.put(Int64(lo + best.row)); p.put(best.squaredDistance); p.put(ns)
                        p.put(bytes: shard.rowBytes(best.row))
                    } else {
                        p.put(Int64(-1)); p.put(Float(-1)); p.put(ns)
                    }
                    try ch.send(Frame.best, p.bytes)
                case Frame.localGreedy:
                    let k = Int(try r.get(UInt32.self))
                    let c0 = monotonicSeconds()
                    let result = try Sampler.select(SamplingRequest(method: .coreset, nSamples: Double(k), threads: threads),
                                                    embeddings: matrix)
                    let ns = UInt64((monotonicSeconds() - c0) * 1e9)
                    var p = Payload()
                    p.put(UInt32(result.picked.count))
                    for row in result.picked { p.put(Int64(lo + row)) }
                    for row in result.picked { p.put(bytes: shard.rowBytes(row)) }
                    p.put(ns)
                    try ch.send(Frame.centers, p.bytes)
                case Frame.evaluate:
                    let n = Int(try r.get(UInt32.self))
                    let c0 = monotonicSeconds()
                    // A fresh state: apply every center, take none; the last answer is the
                    // largest distance from a row of this shard to the set.
                    let eval = GreedyShard(matrix: matrix, picks: n, threads: threads, lazy: lazy)
                    var worst: Float = 0
                    for _ in 0 ..< n {
                        let c = try r.take(shard.rowByteCount)
                        let b = c.withUnsafeBytes { eval.apply(center: $0.baseAddress.unsafelyUnwrapped) }
                        worst = b?.squaredDistance ?? 0
                    }
                    var p = Payload()
                    p.put(worst); p.put(UInt64((monotonicSeconds() - c0) * 1e9))
                    try ch.send(Frame.maxDistance, p.bytes)
                case Frame.quit:
                    return 0
                default:
                    throw ShardError.protocolError("unknown frame type \(type)")
                }
            }
        } catch Channel.Failure.closed {
            return 0          // the coordinator is gone: nothing left to do
        } catch {
            printError("shard \(index): \(error)")
            return 4
        }
    }
}
