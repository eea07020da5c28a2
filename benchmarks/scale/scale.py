#!/usr/bin/env python3
"""Sizes real teams have, through the API (issue #16 item 5): ingest of an embedding CSV and
sampling jobs on it, with the server's peak RSS, against pandas and numpy in the same run.

One run (the `run_*.sh` scripts call this with their size):

1. Starts the release `lightly-server` on a fresh data folder under the data directory
   (`--memory-budget` as given, `auto` by default; the budget is printed), creates a dataset and
   PUTs the CSV to the signed `writeCSVUrl` of `GET …/embeddings/writeCSVUrl` (what the
   `lightly` client's `upload_embeddings` does; docs/protocol.md §8). The upload creates the
   samples. "ingest" runs from the last body byte to the 200 (parse, validate, create the
   samples and the initial tag, store the float32 matrix and the CSV, commit); the server's
   own phases come from its log line.
2. For CORAL, posts scores (uniform [0, 1), seeded) on the initial tag.
3. Triggers each method with nSamples k and polls `GET /v1/jobs/{id}` every 50 ms: trigger →
   FINISHED, the phases of the `X-Lightly-Job-Phases` header (load, select, write in ms;
   rows_read, distances) and rows read per pick = rows_read / k.
4. All along, samples `/proc/<pid>/status` every 0.25 s: VmRSS and VmHWM (peak), per phase
   (the peak is reset with `clear_refs` at each phase start when allowed), and RSS at each
   10 % of the upload and every ~5 s of the ingest.
5. Stops the server, then the references in one Python process (the venv with pandas):
   `pandas.read_csv` (C engine, float32 embedding columns) of the same file, in chunks of
   200k rows copied into one preallocated n×d float32 array (a whole-file read would need
   the parsed frame and the array at once: ~2× the matrix on a shared 24 GiB machine); then
   numpy's exact greedy on that array (BLAS GEMV with squared norms, the `normtrick` of
   benchmarks/sampling/reference.py; CORAL's product objective in float64) for
   `--ref-steps` steps, extrapolated linearly to k (each step costs the same: one pass over
   X). The numpy picks must be among the job's (same start, exact greedy).

usage: scale.py --server BIN --csv FILE --rows N --dim D --k K --methods CORESET,CORAL
                --python VENV_PYTHON [--memory-budget SIZE] [--ref-steps 20]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import ApiCaller, Server  # noqa: E402


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def status_kb(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Memory:
    """Samples a process's VmRSS/VmHWM; `phase(name)` starts a new phase (peak reset)."""

    def __init__(self, pid):
        self.pid, self.name, self.peaks, self.samples = pid, "start", {}, []
        self.stop_flag = False
        self.whole_peak = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def phase(self, name):
        self.sample()
        self.name = name
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self.sample()

    def sample(self):
        rss, hwm = status_kb(self.pid, "VmRSS"), status_kb(self.pid, "VmHWM")
        p = self.peaks.setdefault(self.name, [0, 0])
        p[0], p[1] = max(p[0], rss), max(p[1], hwm)
        self.whole_peak = max(self.whole_peak, hwm, rss)
        self.samples.append((time.monotonic(), self.name, rss))
        return rss

    def run(self):
        while not self.stop_flag:
            self.sample()
            time.sleep(0.25)

    def stop(self):
        self.stop_flag = True
        self.thread.join()


def mib(kb):
    return f"{kb / 1024:,.0f} MiB"


REFERENCE = r'''
import json, sys, time
import numpy as np, pandas as pd
a = json.loads(sys.argv[1])
n, d, k = a["rows"], a["dim"], a["k"]
out = {}
cols = {f"embedding_{j}": np.float32 for j in range(d)}
X = np.empty((n, d), dtype=np.float32)
t = time.perf_counter()
row = 0
for chunk in pd.read_csv(a["csv"], dtype=cols, chunksize=200_000, engine="c"):
    m = len(chunk)
    X[row:row + m] = chunk[[f"embedding_{j}" for j in range(d)]].to_numpy(dtype=np.float32)
    row += m
out["pandas_s"] = time.perf_counter() - t
assert row == n, (row, n)

sq = np.einsum("ij,ij->i", X, X)
for method in a["methods"]:
    steps = min(a["steps"], k)
    t = time.perf_counter()
    if method == "CORESET":
        m = np.full(n, np.inf, dtype=np.float32)
        c = 0
        picks = []
        while True:
            picks.append(c)
            if len(picks) == steps:
                break
            np.minimum(m, sq + sq[c] - 2.0 * (X @ X[c]), out=m)
            m[c] = -1.0
            c = int(np.argmax(m))
    else:  # CORAL: argmax (W + w_c)(D + m_c) in float64, D = sum of each member's nearest-other distance
        w = np.random.default_rng(a["score_seed"]).random(n)
        m = np.full(n, np.inf, dtype=np.float32)
        taken = np.zeros(n, dtype=bool)
        c = int(np.argmax(w))
        picks, nn, W = [], np.zeros(0), 0.0
        while True:
            picks.append(c)
            taken[c] = True
            W += w[c]
            if len(picks) == steps:
                break
            dc = np.maximum(sq + sq[c] - 2.0 * (X @ X[c]), 0)
            if len(picks) > 1:   # earlier members may now have c as their nearest; c's nearest is m[c]
                nn = np.append(np.minimum(nn, dc[np.array(picks[:-1])]), m[c])
            else:
                nn = np.array([np.inf])
            np.minimum(m, dc, out=m)
            D = 0.0 if len(picks) < 2 else float(nn.sum())
            obj = (W + w) * (D + m.astype(np.float64))
            obj[taken] = -np.inf
            c = int(np.argmax(obj))
    dt = time.perf_counter() - t
    out[method] = {"steps": steps, "s": dt, "extrapolated_s": dt / steps * k, "picks": picks}
json.dump(out, open(a["out"], "w"))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--k", type=int, default=10_000)
    ap.add_argument("--methods", default="CORESET")
    ap.add_argument("--python", required=True, help="a python with numpy and pandas")
    ap.add_argument("--memory-budget", default="auto")
    ap.add_argument("--ref-steps", type=int, default=20)
    ap.add_argument("--score-seed", type=int, default=11)
    ap.add_argument("--work", required=True, help="folder for the server's data (removed at the end)")
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    methods = [m.strip().upper() for m in args.methods.split(",") if m.strip()]
    size = os.path.getsize(args.csv)
    matrix = args.rows * args.dim * 4
    target_kb = (1.3 * matrix + 200e6) / 1024
    print(f"== {args.rows:,} x {args.dim} float32 = {matrix / 1e9:.2f} GB matrix, CSV {size / 1e9:.2f} GB; "
          f"k = {args.k}; {os.cpu_count()} cores; load {load()}")

    data = tempfile.mkdtemp(prefix="lightly-scale-", dir=args.work)
    server = Server(args.server, data, ["--log-level", "info", "--job-poll-wait", "0",
                                        "--max-dataset-samples", str(max(args.rows, 1_000_000)),
                                        "--max-body-bytes", str(size + (1 << 30)),
                                        "--memory-budget", args.memory_budget])
    results = {"jobs": {}}
    try:
        server.start()
        budget = [l for l in server.log if "memory budget" in l]
        print(f"server: {budget[-1].strip() if budget else '(no budget line)'}")
        mem = Memory(server.pid)
        token = server.token
        call = ApiCaller(server, token, timeout=7200)

        ds = call("POST", "/v1/datasets", {"name": "scale"})["id"]
        w = call("GET", f"/v1/datasets/{ds}/embeddings/writeCSVUrl", query={"name": "emb"})
        signed = urllib.parse.urlsplit(w["signedWriteUrl"])
        eid = w["embeddingId"]

        # Upload (body transfer, spooled by the server) then ingest (last byte -> 200).
        mem.phase("upload")
        up = http.client.HTTPConnection(server.host, server.port, timeout=7200)
        t0 = time.monotonic()
        up.putrequest("PUT", signed.path + ("?" + signed.query if signed.query else ""))
        up.putheader("Content-Length", str(size))
        up.putheader("Content-Type", "text/csv")
        up.endheaders()
        sent, marks, next_mark = 0, [], 0.1
        with open(args.csv, "rb") as f:
            while chunk := f.read(4 << 20):
                up.send(chunk)
                sent += len(chunk)
                if sent >= next_mark * size:
                    marks.append((round(next_mark * 100), mem.sample()))
                    next_mark += 0.1
        t1 = time.monotonic()
        mem.phase("ingest")
        r = up.getresponse()
        text = r.read()
        t2 = time.monotonic()
        up.close()
        if r.status != 200:
            raise SystemExit(f"PUT: {r.status} {text[:500]!r}")
        mem.sample()
        ingest_rss = [(round(ts - t1), rss) for ts, name, rss in mem.samples if name == "ingest"]
        step = max(1, len(ingest_rss) // 12)
        time.sleep(0.3)
        stored = [l for l in server.log if "embedding CSV stored" in l]
        m = re.search(r"embedding\.phases=(.*?)( \w+\.\w+=|$)", stored[-1]) if stored else None
        results["upload_s"], results["ingest_s"] = t1 - t0, t2 - t1
        print(f"upload (body transfer) {t1 - t0:.1f} s ({size / (t1 - t0) / 1e6:.0f} MB/s); "
              f"server-side ingest {t2 - t1:.1f} s ({size / (t2 - t1) / 1e6:.0f} MB/s); load {load()}")
        print(f"  server phases (ms): {m.group(1) if m else '-'}")
        print("  RSS during the upload (% of the file sent: RSS): " + ", ".join(f"{p}%: {mib(k)}" for p, k in marks))
        print("  RSS during the ingest (s after the last byte: RSS): "
              + ", ".join(f"{s}s: {mib(k)}" for s, k in ingest_rss[::step]) + f", end: {mib(ingest_rss[-1][1])}")
        print(f"  peak RSS: upload {mib(mem.peaks['upload'][1])}, ingest {mib(mem.peaks['ingest'][1])}")

        initial = [t for t in call("GET", f"/v1/datasets/{ds}/tags") if t["name"] == "initial-tag"]
        if "CORAL" in methods:
            import random
            rng = random.Random(args.score_seed)
            # numpy's default_rng differs from `random`: the scores are written by numpy below
            # when available, so the reference sees the same ones.
            try:
                import numpy as np
                scores = np.random.default_rng(args.score_seed).random(args.rows).tolist()
            except ImportError:
                scores = [rng.random() for _ in range(args.rows)]
            body = json.dumps({"scoreType": "uncertainty_margin", "scores": scores}).encode()
            call("POST", f"/v1/datasets/{ds}/tags/{initial[0]['id']}/scores", raw=body)
            del scores, body

        for method in methods:
            mem.phase(f"job {method}")
            t0 = time.monotonic()
            job = call("POST", f"/v1/datasets/{ds}/embeddings/{eid}/sampling", {
                "newTagName": f"{method.lower()}-{args.k}", "method": method,
                "config": {"stoppingCondition": {"nSamples": args.k, "minDistance": -1}}})["jobId"]
            while True:
                s, phases = call("GET", f"/v1/jobs/{job}", want_headers=True)
                if s["status"] in ("FINISHED", "FAILED"):
                    break
                time.sleep(0.05)
            wall = time.monotonic() - t0
            if s["status"] != "FINISHED":
                raise SystemExit(f"job failed: {s}")
            if not phases:
                _, phases = call("GET", f"/v1/jobs/{job}", want_headers=True)
            mem.sample()
            ph = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(-?\d+)", phases or ""))
            tag = call("GET", f"/v1/datasets/{ds}/tags/{s['result']['data']}")
            mask = int(tag["bitMaskData"], 16)
            bits = bin(mask)[2:][::-1]
            picks = {i for i, c in enumerate(bits) if c == "1"}
            logline = [l for l in server.log if job in l and "phases" in l]
            results["jobs"][method] = {"wall": wall, "phases": ph, "picks": picks}
            rpp = ph.get("rows_read", 0) / max(1, len(picks))
            print(f"{method} k = {args.k}: trigger -> FINISHED {wall:.1f} s; phases [{phases}]; "
                  f"{len(picks)} picks, rows read per pick {rpp:,.0f} ({rpp / args.rows:.4f} of n), "
                  f"distances per pick {ph.get('distances', 0) / max(1, len(picks)):,.0f}; "
                  f"peak RSS {mib(mem.peaks[f'job {method}'][1])}; load {load()}")
            if logline:
                print(f"  log: {logline[-1].strip()[:400]}")
        mem.stop()
        results["peak_kb"] = mem.whole_peak
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)

    print(f"server peak RSS (VmHWM, whole run) {mib(results['peak_kb'])} = "
          f"{results['peak_kb'] * 1024 / matrix:.2f}x the matrix; target 1.3x + 200 MB = {mib(target_kb)}: "
          f"{'met' if results['peak_kb'] <= target_kb else 'MISSED'}")
    if args.no_reference:
        return
    free = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.splitlines()[1]
    print(f"references (pandas in chunks of 200k rows, numpy {args.ref_steps} steps); free -g: {free}; load {load()}")
    out = os.path.join(args.work, "reference.json")
    ref_args = {"csv": args.csv, "rows": args.rows, "dim": args.dim, "k": args.k, "methods": methods,
                "steps": args.ref_steps, "score_seed": args.score_seed, "out": out}
    p = subprocess.Popen([args.python, "-c", REFERENCE, json.dumps(ref_args)])
    ref_peak = 0
    while p.poll() is None:
        ref_peak = max(ref_peak, status_kb(p.pid, "VmHWM"))
        time.sleep(0.5)
    if p.returncode != 0:
        raise SystemExit("reference failed")
    ref = json.load(open(out))
    os.remove(out)
    pd_s = ref["pandas_s"]
    print(f"pandas.read_csv {pd_s:.1f} s ({size / pd_s / 1e6:.0f} MB/s); reference process peak RSS {mib(ref_peak)}")
    print(f"SUMMARY {args.rows}x{args.dim} ingest: server-side {results['ingest_s']:.1f} s ({size / results['ingest_s'] / 1e6:.0f} MB/s), "
          f"pandas.read_csv {pd_s:.1f} s: ingest is {pd_s / results['ingest_s']:.2f}x pandas' speed; "
          f"server peak RSS {mib(results['peak_kb'])} (target {mib(target_kb)}); load {load()}")
    for method in methods:
        r, j = ref[method], results["jobs"][method]
        inside = sum(1 for c in r["picks"] if c in j["picks"])
        print(f"SUMMARY {args.rows}x{args.dim} {method} k = {args.k}: trigger -> FINISHED {j['wall']:.1f} s "
              f"(select {j['phases'].get('select', 0) / 1000:.1f} s), numpy exact greedy {r['s']:.1f} s for {r['steps']} steps "
              f"-> {r['extrapolated_s']:.0f} s extrapolated to k = {args.k}: numpy / server = {r['extrapolated_s'] / j['wall']:.1f}x; "
              f"rows read per pick {j['phases'].get('rows_read', 0) / args.k:,.0f} of {args.rows:,}; "
              f"numpy's first {r['steps']} picks in the job's tag: {inside}/{len(r['picks'])}; load {load()}")


if __name__ == "__main__":
    main()
