// The blocked min-distance initialisation of the greedy samplers (the preselected set).
#if canImport(Dispatch)
import Dispatch
#endif
import CLightlyKernels

extension Kernels {
    // MARK: - Blocked min-distance initialisation

    /// For every X position i: `m[i] = min(m[i], min_p dist2(x_i, x_p))` over the rows `pRows`,
    /// optionally excluding p == row(i) (for the preselected set's own nearest-other distance).
    ///
    /// Register-blocked GEMM-style kernel: 16 X rows are packed dimension-major into a
    /// 16-lane panel, P is processed in L2-sized chunks of float32 rows, and each 16×8 tile
    /// keeps its 8 SIMD16 dot-product accumulators in registers (`acc_u += x_j · p_uj`, one
    /// broadcast per P row and dimension). Distances use ‖x‖² + ‖p‖² − 2x·p (docs/selection.md §10),
    /// clamped at 0; when the result is within 1e-4·(‖x‖² + ‖p‖²) of 0 the pair is
    /// recomputed directly, so duplicates get exactly 0 and near-duplicates are exact.
    /// Elsewhere the value may differ from the direct dist2 in the last bits (≈1e-7
    /// relative), which only matters for near-ties (docs/selection.md §10).
    /// No n×|P| matrix is formed and X is read once per P chunk, so |P| = 10k costs ≈ 5
    /// reads of X instead of 10k passes.
    ///
    /// - Complexity: O(|X|·|P|·d) time, O(chunk·d + threads·16·d) extra memory.
    /// - Returns: false if `shouldContinue` asked to stop (checked between P chunks).
    static func blockedMinInit<E: RowElement>(_: E.Type, base: UnsafeRawPointer, d: Int,
                                              xRowOf: UnsafePointer<UInt32>?, xCount: Int,
                                              pRows: [Int], m: UnsafeMutablePointer<Float>,
                                              excludeSelf: Bool, chunks: Int,
                                              shouldContinue: () -> Bool) -> Bool {
        guard xCount > 0, !pRows.isEmpty, d > 0 else { return true }
        let rowBytes = d * E.size
        // P chunk: about 1 MiB of float32, a multiple of the 8-row tile.
        let chunkRows = max(8, min((pRows.count + 7) & ~7, ((1 << 20) / (4 * d)) & ~7))
        let pbuf = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * d)
        let pidx = UnsafeMutablePointer<Int32>.allocate(capacity: chunkRows)
        let pnorm = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows)
        defer { pbuf.deallocate(); pidx.deallocate(); pnorm.deallocate() }
        let blocks = (xCount + 15) / 16
        let workers = max(1, min(chunks, blocks))
        var start = 0
        while start < pRows.count {
            if start > 0 && !shouldContinue() { return false }
            let real = min(chunkRows, pRows.count - start)
            let padded = (real + 7) & ~7
            for r in 0 ..< padded {
                let src = pRows[start + min(r, real - 1)]      // pad by repeating the last row
                let row = base + src * rowBytes
                for j in 0 ..< d { pbuf[r * d + j] = E.load1(row, j) }
                pidx[r] = Int32(truncatingIfNeeded: src)
                var nrm: Float = 0
                for j in 0 ..< d { nrm += pbuf[r * d + j] * pbuf[r * d + j] }
                pnorm[r] = nrm
            }
            nonisolated(unsafe) let pb = UnsafePointer(pbuf)   // read-only during the parallel section
            nonisolated(unsafe) let pi = UnsafePointer(pidx)
            nonisolated(unsafe) let pnn = UnsafePointer(pnorm)
            nonisolated(unsafe) let mm = m                     // workers write disjoint block ranges
            nonisolated(unsafe) let xr = xRowOf
            nonisolated(unsafe) let xb = base                  // the matrix is read-only here
            let body: @Sendable (Int) -> Void = { t in
                let b0 = blocks * t / workers, b1 = blocks * (t + 1) / workers
                initWorker(E.self, base: xb, d: d, rowBytes: rowBytes, xRowOf: xr, xCount: xCount,
                           pb: pb, pi: pi, pn: pnn, tiles: padded / 8, m: mm, excludeSelf: excludeSelf,
                           b0: b0, b1: b1)
            }
            if workers == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
            start += real
        }
        return true
    }

    static func initWorker<E: RowElement>(_: E.Type, base: UnsafeRawPointer, d: Int, rowBytes: Int,
                                          xRowOf: UnsafePointer<UInt32>?, xCount: Int,
                                          pb: UnsafePointer<Float>, pi: UnsafePointer<Int32>,
                                          pn: UnsafePointer<Float>, tiles: Int,
                                          m: UnsafeMutablePointer<Float>, excludeSelf: Bool,
                                          b0: Int, b1: Int) {
        guard b0 < b1 else { return }
        let panel = UnsafeMutableRawPointer.allocate(byteCount: d * 64, alignment: 64)
        defer { panel.deallocate() }
        let xT = panel.assumingMemoryBound(to: Float.self)
        for b in b0 ..< b1 {
            let first = b * 16
            let valid = min(16, xCount - first)
            var xIdx = SIMD16<Int32>(repeating: -1)
            for l in 0 ..< 16 {
                if l < valid {
                    let r = xRowOf.map { Int($0[first + l]) } ?? (first + l)
                    xIdx[l] = Int32(truncatingIfNeeded: r)
                    let row = base + r * rowBytes
                    for j in 0 ..< d { xT[j * 16 + l] = E.load1(row, j) }
                } else {
                    for j in 0 ..< d { xT[j * 16 + l] = 0 }
                }
            }
            // The dot products run in C (`lk_init_tile16x8`), which picks AVX-512F, AVX2+FMA or
            // baseline code at run time: the portable build keeps the FMA speed of the CPU.
            var xn = SIMD16<Float>()
            withUnsafeMutableBytes(of: &xn) { raw in
                lk_init_norms16(xT, d, raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: Float.self))   // a local, never nil
            }
            var mv = SIMD16<Float>(repeating: .infinity)
            let inf = SIMD16<Float>(repeating: .infinity)
            for t in 0 ..< tiles {
                let p = pb + t * 8 * d
                var acc = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(),
                           SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
                withUnsafeMutableBytes(of: &acc) { raw in
                    let a = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: SIMD16<Float>.self)   // a tuple, never nil
                    lk_init_tile16x8(xT, p, d, UnsafeMutableRawPointer(a).assumingMemoryBound(to: Float.self))
                    for u in 0 ..< 8 {
                        let pu = pn[t &* 8 &+ u]
                        let sum = xn + SIMD16(repeating: pu)
                        var d2 = pointwiseMax(sum - 2 * a[u], SIMD16<Float>())
                        // Cancellation guard: near-duplicates are recomputed exactly.
                        let near = d2 .< sum * SIMD16(repeating: 1e-4)
                        if any(near) {
                            for l in 0 ..< 16 where near[l] {
                                var e2: Float = 0
                                for j in 0 ..< d { let e = xT[j &* 16 &+ l] - p[u &* d &+ j]; e2 += e * e }
                                d2[l] = e2
                            }
                        }
                        if excludeSelf { d2.replace(with: inf, where: xIdx .== SIMD16(repeating: pi[t &* 8 &+ u])) }
                        mv = pointwiseMin(mv, d2)
                    }
                }
            }
            for l in 0 ..< valid where mv[l] < m[first + l] { m[first + l] = mv[l] }
        }
    }
}
