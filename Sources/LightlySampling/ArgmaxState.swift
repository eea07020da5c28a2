// The running argmax of the pruned pass, with the plain pass's tie rules.

/// Running argmax of a pass objective over ascending position windows, with the plain pass's
/// rules (`Kernels.passChunk`): untaken rows only (m ≥ 0), larger value wins, the lowest
/// position wins ties; CORESET maximises m, CORAL its objective in float64 (the product form
/// vectorised with the same operations, the log form scalar).
struct ArgmaxState {
    var bV = SIMD16<Float>(repeating: -1)
    var bI = SIMD16<Int32>(repeating: -1)
    var oLo = SIMD8<Double>(repeating: -.infinity), oHi = SIMD8<Double>(repeating: -.infinity)
    var iLo = SIMD8<Int64>(repeating: -1), iHi = SIMD8<Int64>(repeating: -1)
    // Scalar candidate (tails and the log form).
    var sPos = -1
    var sM: Float = -1
    var sObj = -Double.infinity

    @inline(__always) mutating func scan(_ objective: Objective, _ ctx: PassContext, lo: Int, hi: Int) {
        let m = ctx.m
        let mr = UnsafeRawPointer(m)
        var p = lo
        switch objective {
        case .diversity:
            let lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            while p &+ 16 <= hi {
                let mv = mr.loadUnaligned(fromByteOffset: p &* 4, as: SIMD16<Float>.self)
                let better = mv .> bV
                bV.replace(with: mv, where: better)
                bI.replace(with: SIMD16(repeating: Int32(truncatingIfNeeded: p)) &+ lane, where: better)
                p &+= 16
            }
            while p < hi {
                let mv = m[p]
                if mv >= 0 && (sPos < 0 || mv > sM) { sM = mv; sPos = p }
                p &+= 1
            }
        case let .product(W, D):
            let wr = UnsafeRawPointer(ctx.w.unsafelyUnwrapped)
            while p &+ 16 <= hi {
                let mv = mr.loadUnaligned(fromByteOffset: p &* 4, as: SIMD16<Float>.self)
                Kernels.productLanes(mv, w: wr, p: p, W: W, D: D, oLo: &oLo, oHi: &oHi, iLo: &iLo, iHi: &iHi)
                p &+= 16
            }
            while p < hi {
                let mv = m[p]
                if mv >= 0 {
                    let o = (W + ctx.w.unsafelyUnwrapped[p]) * (D + Double(mv))
                    if sPos < 0 || o > sObj { sObj = o; sPos = p }
                }
                p &+= 1
            }
        case let .logs(W, D, alpha, beta):
            while p < hi {
                let mv = m[p]
                if mv >= 0 {
                    let o = Kernels.logTerm(alpha, W + ctx.w.unsafelyUnwrapped[p]) + Kernels.logTerm(beta, D + Double(mv))
                    if sPos < 0 || o > sObj { sObj = o; sPos = p }
                }
                p &+= 1
            }
        }
    }

    /// The winner over everything scanned: larger value, then lower position.
    func result(_ objective: Objective, _ m: UnsafeMutablePointer<Float>) -> ChunkBest {
        var best = ChunkBest()
        var bestM: Float = -1, bestObj = -Double.infinity, bestPos = -1
        switch objective {
        case .diversity:
            for l in 0 ..< 16 where bI[l] >= 0 {
                let v = bV[l], i = Int(bI[l])
                if bestPos < 0 || v > bestM || (v == bestM && i < bestPos) { bestM = v; bestPos = i }
            }
            if sPos >= 0 && (bestPos < 0 || sM > bestM || (sM == bestM && sPos < bestPos)) { bestPos = sPos }
        case .product, .logs:
            for l in 0 ..< 16 {
                let i = Int(l < 8 ? iLo[l] : iHi[l - 8]), v = l < 8 ? oLo[l] : oHi[l - 8]
                if i >= 0 && (bestPos < 0 || v > bestObj || (v == bestObj && i < bestPos)) { bestObj = v; bestPos = i }
            }
            if sPos >= 0 && (bestPos < 0 || sObj > bestObj || (sObj == bestObj && sPos < bestPos)) {
                bestObj = sObj; bestPos = sPos
            }
        }
        best.pos = bestPos
        best.m = bestPos >= 0 ? m[bestPos] : -1
        best.obj = bestObj
        return best
    }
}
