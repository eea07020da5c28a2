#!/usr/bin/env python3
"""numpy references for the greedy k-center benchmark (benchmarks/README.md).

  numpy-direct    : Google-style incremental loop, diff = X - X[c], einsum, minimum, argmax
                    (one thread, n×d temporary per iteration).
  numpy-normtrick : BLAS GEMV X @ X[c] with precomputed squared norms, minimum, argmax.

Reads a raw float32 n×d file, optionally a raw int64 preselected file, and writes JSON
{"time": s, "iters": i, "extrapolated": bool, "init_time": s, "picks": [...]}. If a run
exceeds --budget seconds after at least 15 iterations, the remaining iterations are
extrapolated linearly (each iteration costs the same), as benchmarks/README.md explains (marked *).
First center: index 0 when nothing is preselected, else the argmax of the initial m.
"""
import argparse, json, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--n", type=int, required=True)
ap.add_argument("--d", type=int, required=True)
ap.add_argument("--k", type=int, required=True, help="total picks wanted (excluding preselected)")
ap.add_argument("--method", choices=["direct", "normtrick"], required=True)
ap.add_argument("--pre", default=None)
ap.add_argument("--budget", type=float, default=1e9)
ap.add_argument("--out", required=True)
a = ap.parse_args()

X = np.fromfile(a.data, dtype=np.float32).reshape(a.n, a.d)
pre = np.fromfile(a.pre, dtype=np.int64) if a.pre else np.zeros(0, dtype=np.int64)

t0 = time.perf_counter()
m = np.full(a.n, np.inf, dtype=np.float32)
sq = np.einsum("ij,ij->i", X, X) if a.method == "normtrick" else None
if len(pre):
    P = X[pre]
    if a.method == "normtrick":
        psq = np.einsum("ij,ij->i", P, P)
        for s in range(0, a.n, 16384):
            blk = sq[s:s + 16384, None] + psq[None, :] - 2.0 * (X[s:s + 16384] @ P.T)
            m[s:s + 16384] = np.maximum(blk.min(axis=1), 0)
    else:
        for p in pre:
            diff = X - X[p]
            np.minimum(m, np.einsum("ij,ij->i", diff, diff), out=m)
    m[pre] = -1.0
    c = int(np.argmax(m))
else:
    c = 0
init_time = time.perf_counter() - t0

picks = []
t1 = time.perf_counter()
extrapolated = False
while True:
    picks.append(c)
    if len(picks) == a.k:
        break
    if a.method == "direct":
        diff = X - X[c]
        d2 = np.einsum("ij,ij->i", diff, diff)
    else:
        d2 = sq + sq[c] - 2.0 * (X @ X[c])
    np.minimum(m, d2, out=m)
    m[c] = -1.0
    c = int(np.argmax(m))
    if len(picks) >= 15 and time.perf_counter() - t1 > a.budget:
        extrapolated = True
        break
loop = time.perf_counter() - t1
iters = len(picks)
if extrapolated:
    loop = loop / iters * a.k
json.dump({"time": init_time + loop, "init_time": init_time, "iters": iters,
           "extrapolated": extrapolated, "picks": picks}, open(a.out, "w"))
