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
        let xIdx = UnsafeMutablePointer<Int32>.allocate(capacity: 16)
        defer { panel.deallocate(); xIdx.deallocate() }
        let xT = panel.assumingMemoryBound(to: Float.self)
        for b in b0 ..< b1 {
            let first = b * 16
            let valid = min(16, xCount - first)
            for l in 0 ..< 16 {
                if l < valid {
                    let r = xRowOf.map { Int($0[first + l]) } ?? (first + l)
                    xIdx[l] = Int32(truncatingIfNeeded: r)
                    let row = base + r * rowBytes
                    for j in 0 ..< d { xT[j * 16 + l] = E.load1(row, j) }
                } else {
                    xIdx[l] = -1
                    for j in 0 ..< d { xT[j * 16 + l] = 0 }
                }
            }
            // The tiles run in C (`lk_init_block16`: dot products, distance from the norms,
            // near-duplicate guard, minimum), which picks AVX-512F, AVX2+FMA or baseline code at
            // run time: the portable build keeps the speed of the CPU.
            lk_init_block16(xT, d, pb, pn, pi, tiles, xIdx, excludeSelf ? 1 : 0, valid, m + first)
        }
    }
}
