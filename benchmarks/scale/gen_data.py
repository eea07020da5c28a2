#!/usr/bin/env python3
"""Writes the scale benchmarks' embedding CSV deterministically (numpy, fixed seed).

Rows are a mixture of Gaussians (`--components`, default 300: centers N(0, 1) per dimension,
each component with its own spread 0.05–0.5 and weight) plus isotropic noise (`--noise`,
default 10 % of the rows drawn from N(0, 1.5²) in every dimension), because CORESET's lazy
steps depend on structure: clusters let most rows skip a step, noise does not. Chunks of
`--chunk` rows are drawn from `default_rng([seed, chunk])`, so a file depends only on
(rows, dim, seed, ...), and are formatted by `fmt_csv.c` (6 decimals, lightly's columns).

usage: gen_data.py --rows N --dim D --out FILE [--seed 7] [--fmt BIN]
"""
import argparse
import os
import subprocess
import sys

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, required=True)
ap.add_argument("--dim", type=int, required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--components", type=int, default=300)
ap.add_argument("--noise", type=float, default=0.10)
ap.add_argument("--chunk", type=int, default=50_000)
ap.add_argument("--fmt", required=True, help="the compiled fmt_csv")
a = ap.parse_args()

base = np.random.default_rng([a.seed, 0xC0FFEE])
centers = base.standard_normal((a.components, a.dim)).astype(np.float32)
spread = base.uniform(0.05, 0.5, a.components).astype(np.float32)
weights = base.dirichlet(np.full(a.components, 2.0))

tmp = a.out + ".part"
with open(tmp, "wb") as f:
    for c, start in enumerate(range(0, a.rows, a.chunk)):
        n = min(a.chunk, a.rows - start)
        rng = np.random.default_rng([a.seed, c])
        comp = rng.choice(a.components, size=n, p=weights)
        x = centers[comp] + spread[comp, None] * rng.standard_normal((n, a.dim), dtype=np.float32)
        noisy = rng.random(n) < a.noise
        x[noisy] = 1.5 * rng.standard_normal((int(noisy.sum()), a.dim), dtype=np.float32)
        f.flush()
        p = subprocess.Popen([a.fmt, str(a.dim), str(start), "1" if start == 0 else "0"], stdin=subprocess.PIPE, stdout=f)
        p.stdin.write(np.ascontiguousarray(x, dtype=np.float32).tobytes())
        p.stdin.close()
        if p.wait() != 0:
            sys.exit("fmt_csv failed")
        if c % 20 == 0:
            print(f"  {start + n:,} / {a.rows:,} rows", file=sys.stderr, flush=True)
os.replace(tmp, a.out)
