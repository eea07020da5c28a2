// CORESET and CORAL: the greedy loop around the lazy steps or the fused pass (docs/selection.md §4, §5).

/// State of one greedy k-center / CORAL run. Owns its buffers (freed by `run`).
///
/// Per candidate it keeps `m` (4 B, squared distance to the selected set, −1 = taken), the
/// candidate's row (4 B, only when C is not all rows, plus the plan's 4 B list) and, for
/// CORAL, its weight (8 B): ≤ 20 B per sample; lazy steps or cluster skipping (never both)
/// add 4 B (≤ 24 B).
struct GreedySelection {
    let plan: Plan
    let matrix: EmbeddingMatrix
    let weights: [Double]?
    let request: SamplingRequest

    init(plan: Plan, matrix: EmbeddingMatrix, weights: [Double]?, request: SamplingRequest) {
        self.plan = plan
        self.matrix = matrix
        self.weights = weights
        self.request = request
    }

    mutating func run(progress: (@Sendable (Int, Int) -> Bool)?) throws -> SamplingResult {
        let n = plan.candidateCount
        let d = matrix.dimension
        precondition(matrix.rows < Int(Int32.max), "EmbeddingMatrix: 2^31 rows or more")
        let base = UnsafeRawPointer(matrix.base)
        let rowBytes = d * matrix.storage.elementSize
        let coral = weights != nil
        let need = plan.need
        let pre = plan.preselected

        // Buffers: O(n) each, never n×d.
        let m = UnsafeMutablePointer<Float>.allocate(capacity: n)
        m.initialize(repeating: .infinity, count: n)
        var rowOf: UnsafeMutablePointer<UInt32>? = nil
        if let c = plan.candidates {
            let r = UnsafeMutablePointer<UInt32>.allocate(capacity: max(n, 1))
            for (i, v) in c.enumerated() { r[i] = v }
            rowOf = r
        }
        var wpos: UnsafeMutablePointer<Double>? = nil
        var allCandidateWeightsZero = true
        if let w = weights {
            let b = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
            for i in 0 ..< n {
                let v = w[rowOf.map { Int($0[i]) } ?? i]
                b[i] = v
                if v != 0 { allCandidateWeightsZero = false }
            }
            wpos = b
        }
        let chunks = (plan.threads > 1 && n * d >= Sampler.parallelThreshold) ? min(plan.threads, max(1, n / 16)) : 1
        let results = UnsafeMutablePointer<ChunkBest>.allocate(capacity: chunks)
        results.initialize(repeating: ChunkBest(), count: chunks)
        let centerRaw = UnsafeMutableRawPointer.allocate(byteCount: max(64, ((d + 15) & ~15) * 4), alignment: 64)
        let center = centerRaw.assumingMemoryBound(to: Float.self)
        defer {
            m.deallocate(); rowOf?.deallocate(); wpos?.deallocate()
            results.deallocate(); centerRaw.deallocate()
        }
        let ctx = PassContext(base: base, d: d, rowOf: UnsafePointer(rowOf), m: m,
                              w: UnsafePointer(wpos), count: n, results: results)
        var stats = SamplingStats()
        stats.candidates = n
        stats.rowBytes = rowBytes
        stats.centerBytes = d * 4
        // Lazy steps (LazyGreedy.swift) when they apply, else cluster skipping or plain passes.
        // The objective's kind is fixed for the job: W changes only by weights of picks, and
        // those are all 0 when `allCandidateWeightsZero`.
        let alpha = request.coralStrengths.scores, beta = request.coralStrengths.diversity
        let objectiveKind: Objective = !coral || (plan.preselectedWeight == 0 && allCandidateWeightsZero) ? .diversity
            : alpha == beta && alpha > 0 ? .product(w: 0, d: 0) : .logs(w: 0, d: 0, alpha: alpha, beta: beta)
        let lazy = LazyGreedy.make(mode: request.lazy, pruning: request.pruning, objective: objectiveKind,
                                   candidates: n, dimension: d, need: need, storage: matrix.storage,
                                   threads: chunks > 1 ? plan.threads : 1, listCapacity: request.lazyListCapacity)
        // Cluster skipping (PrunedGreedy.swift, docs/selection.md §13) where lazy steps do not
        // apply; nil = plain passes.
        let pruner = lazy != nil ? nil : ClusterPruner.make(mode: request.pruning, candidates: n, dimension: d, need: need,
                                                            storage: matrix.storage, chunks: chunks)
        func rowAt(_ pos: Int) -> Int { ctx.row(pos) }

        let keepGoing: () -> Bool = { progress?(0, need) ?? true }
        func keepGoingAt(_ done: Int) -> () -> Bool { { progress?(done, need) ?? true } }

        // Preselected centers: one blocked pass instead of |P| streaming passes.
        if !pre.isEmpty {
            let ok: Bool
            switch matrix.storage {
            case .float32:
                ok = Kernels.blockedMinInit(F32Row.self, base: base, d: d, xRowOf: UnsafePointer(rowOf), xCount: n,
                                            pRows: pre, m: m, excludeSelf: false, chunks: plan.threads,
                                            shouldContinue: keepGoing)
            case .float16:
                ok = Kernels.blockedMinInit(F16Row.self, base: base, d: d, xRowOf: UnsafePointer(rowOf), xCount: n,
                                            pRows: pre, m: m, excludeSelf: false, chunks: plan.threads,
                                            shouldContinue: keepGoing)
            }
            if !ok { throw SamplingError.cancelled }
        }

        // CORAL set state: S in selection order, nu[s] = squared distance to the nearest
        // other member of S, W = Σ w_S, D = Σ nu.
        var selRows32: [UInt32] = []   // the rows of S, for the pass over S
        var nu: [Float] = []
        var W = plan.preselectedWeight
        var D = 0.0
        if coral {
            selRows32 = pre.map { UInt32(truncatingIfNeeded: $0) }
            nu = [Float](repeating: .infinity, count: pre.count)   // +inf until S has 2 members
            if pre.count >= 2 {
                let ok = selRows32.withUnsafeBufferPointer { pb in
                    nu.withUnsafeMutableBufferPointer { nb -> Bool in
                        guard let nbase = nb.baseAddress else { return true }   // non-empty: |P| ≥ 2
                        switch matrix.storage {
                        case .float32:
                            return Kernels.blockedMinInit(F32Row.self, base: base, d: d, xRowOf: pb.baseAddress, xCount: pre.count,
                                                          pRows: pre, m: nbase, excludeSelf: true,
                                                          chunks: plan.threads, shouldContinue: keepGoing)
                        case .float16:
                            return Kernels.blockedMinInit(F16Row.self, base: base, d: d, xRowOf: pb.baseAddress, xCount: pre.count,
                                                          pRows: pre, m: nbase, excludeSelf: true,
                                                          chunks: plan.threads, shouldContinue: keepGoing)
                        }
                    }
                }
                if !ok { throw SamplingError.cancelled }
            }
            if nu.count >= 2 { for v in nu { D += Double(v) } }
        }
        func objective() -> Objective {
            guard coral, !(W == 0 && allCandidateWeightsZero) else { return .diversity }
            if alpha == beta && alpha > 0 { return .product(w: W, d: D) }
            return .logs(w: W, d: D, alpha: alpha, beta: beta)
        }

        // First choice.
        var pos: Int
        if pre.isEmpty {
            if let w = wpos {
                pos = 0
                for i in 1 ..< max(n, 1) where w[i] > w[pos] { pos = i }
            } else if let seed = request.seed {
                var rng = Xoshiro256StarStar(seed: seed)
                pos = Int(rng.uniformBelow(UInt64(n)))
            } else {
                pos = 0
            }
        } else {
            let r = Kernels.pass(ctx, storage: matrix.storage, center: nil, objective: objective(), chunks: chunks)
            guard r.pos >= 0 else { return SamplingResult(preselected: pre, picked: [], stats: stats) }
            pos = r.pos
        }

        var picked: [Int] = []
        picked.reserveCapacity(need)
        var stopped = false
        let minDistance = plan.minDistance
        while true {
            let mc = m[pos]
            if minDistance > 0 && Double(mc).squareRoot() < minDistance { stopped = true; break }
            let row = rowAt(pos)
            picked.append(row)
            m[pos] = -1
            if picked.count >= need { break }
            if picked.count % Sampler.progressInterval == 0, let progress, !progress(picked.count, need) {
                throw SamplingError.cancelled
            }
            let src = base + row * rowBytes
            switch matrix.storage {
            case .float32: F32Row.loadCenter(src, d, into: center)
            case .float16: F16Row.loadCenter(src, d, into: center)
            }
            if coral {
                if let wp = wpos { W += wp[pos] }
                // nu[s] = min(nu[s], dist2(x_s, x_c)) for every earlier member: a fused pass
                // over S (same distances as the main pass, its argmax unused).
                selRows32.withUnsafeBufferPointer { rb in
                    nu.withUnsafeMutableBufferPointer { nb in
                        guard let nbase = nb.baseAddress else { return }   // S is empty before the first pick
                        let sctx = PassContext(base: base, d: d, rowOf: rb.baseAddress, m: nbase, w: nil,
                                               count: nb.count, results: results)
                        switch matrix.storage {
                        case .float32:
                            _ = Kernels.passDispatch(F32Row.self, sctx, center: center, objective: .diversity, lo: 0, hi: nb.count)
                        case .float16:
                            _ = Kernels.passDispatch(F16Row.self, sctx, center: center, objective: .diversity, lo: 0, hi: nb.count)
                        }
                    }
                }
                selRows32.append(UInt32(truncatingIfNeeded: row))
                nu.append(mc)                 // +inf for the very first member
                D = 0
                if nu.count >= 2 { for v in nu { D += Double(v) } }
            }
            let r: ChunkBest
            if let lazy, lazy.isActive(afterPicks: picked.count) {
                if lazy.isPaused { lazy.resume() }   // all rows are up to date after plain passes
                if !lazy.append(center) {
                    // The list is full: bring every row up to date and start an empty one.
                    guard lazy.settle(ctx, objective: objective(), stats: &stats, shouldContinue: keepGoingAt(picked.count))
                    else { throw SamplingError.cancelled }
                    lazy.resume()
                    _ = lazy.append(center)          // capacity ≥ 1
                }
                if !lazy.shouldGiveUp {
                    r = lazy.step(ctx, objective: objective(), stats: &stats)
                } else {
                    // Not saving: bring every row up to date (this center included) and run
                    // plain passes for a while (`pause`). Early picks on clustered data need
                    // nearly every row; later ones often very few.
                    guard lazy.settle(ctx, objective: objective(), stats: &stats, shouldContinue: keepGoingAt(picked.count))
                    else { throw SamplingError.cancelled }
                    lazy.pause(afterPicks: picked.count)
                    stats.lazyStoppedAtPass = stats.lazyStoppedAtPass ?? stats.passes + 1
                    r = Kernels.pass(ctx, storage: matrix.storage, center: nil, objective: objective(), chunks: chunks)
                    stats.passes += 1
                }
            } else if let pruner {
                r = pruner.pass(ctx, center: center, objective: objective(), chunks: chunks, stats: &stats)
            } else {
                r = Kernels.pass(ctx, storage: matrix.storage, center: center, objective: objective(), chunks: chunks)
                stats.passes += 1
                stats.rowsScanned += n
                stats.distances += n
            }
            guard r.pos >= 0 else { break }
            pos = r.pos
        }
        return SamplingResult(preselected: pre, picked: picked, stoppedByMinDistance: stopped, stats: stats)
    }
}
