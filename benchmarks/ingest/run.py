#!/usr/bin/env python3
"""Server side of an embedding CSV upload against pandas.read_csv on the same file, same run.

Starts the release `lightly-server` on a fresh data folder, creates a dataset and PUTs the CSV
to its signedWriteUrl (the `lightly` client's flow; the upload creates the samples). "upload"
is the body transfer (HTTPKit spools it to <data>/tmp); "ingest" runs from the last body byte
to the 200 (parse + validate, samples created, matrix and CSV stored in one transaction):
the server side the issue's 300 MB/s target is about. Then `pandas.read_csv` (C engine,
float32 embedding columns) reads the same file. With --baseline BIN2 the upload runs first
against BIN2 (e.g. a build of main). --profile SECONDS records `perf record -g` of the server
during the ingest (needs perf) and prints the top symbols.

usage: run.py --server BIN --csv FILE --rows N [--baseline BIN2] [--python PY] [--profile S]
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
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import Server  # noqa: E402


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def peak_rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def ingest(binary, csv, rows, profile):
    data = tempfile.mkdtemp(prefix="lightly-ingestbench-")
    server = Server(binary, data, ["--log-level", "info", "--max-dataset-samples", str(max(rows, 1_000_000))])
    log = server.log
    try:
        server.start()
        log = server.log
        host, port, token = server.host, server.port, server.token

        def call(method, path, body=None, query=None):
            q = dict(query or {}, token=token)
            c = http.client.HTTPConnection(host, port, timeout=3600)
            c.request(method, path + "?" + urllib.parse.urlencode(q),
                      body=json.dumps(body).encode() if body is not None else None,
                      headers={"Content-Type": "application/json"} if body is not None else {})
            r = c.getresponse()
            text = r.read()
            c.close()
            if r.status // 100 != 2:
                sys.exit(f"{method} {path}: {r.status} {text[:300]!r}")
            return json.loads(text)

        ds = call("POST", "/v1/datasets", {"name": "ingest"})["id"]
        w = call("GET", f"/v1/datasets/{ds}/embeddings/writeCSVUrl", query={"name": "emb"})
        signed = urllib.parse.urlsplit(w["signedWriteUrl"])
        size = os.path.getsize(csv)
        c = http.client.HTTPConnection(host, port, timeout=3600)
        t0 = time.monotonic()
        c.putrequest("PUT", signed.path + ("?" + signed.query if signed.query else ""))
        c.putheader("Content-Length", str(size))
        c.putheader("Content-Type", "text/csv")
        c.endheaders()
        with open(csv, "rb") as f:
            while chunk := f.read(1 << 20):
                c.send(chunk)
        t1 = time.monotonic()
        perf = None
        if profile:
            perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(server.pid), "-o",
                                     os.path.join(data, "perf.data"), "--", "sleep", str(profile)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = c.getresponse()
        text = r.read()
        t2 = time.monotonic()
        if r.status != 200:
            sys.exit(f"PUT: {r.status} {text[:300]!r}")
        if perf:
            perf.wait()
            rep = subprocess.run(["perf", "report", "-i", os.path.join(data, "perf.data"), "--children",
                                  "--sort", "symbol", "--stdio", "-g", "none"], capture_output=True, text=True)
            lines = [l for l in rep.stdout.splitlines() if "%" in l and not l.startswith("#")]
            print("\n".join(l[:150] for l in lines[:60]))
        time.sleep(0.2)
        phases = [re.search(r"embedding\.phases=([^\]]*?) (?:embedding|samples)\.", l) for l in log if "embedding CSV stored" in l]
        phases = [m.group(1) for m in phases if m]
        if phases:
            print(f"server phases (ms): {phases[-1]}")
        return t1 - t0, t2 - t1, size, peak_rss_kb(server.pid)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--baseline")
    ap.add_argument("--python", default=sys.executable, help="a python with pandas")
    ap.add_argument("--profile", type=float, default=0)
    args = ap.parse_args()

    results = {}
    for label, binary in ([("baseline", args.baseline)] if args.baseline else []) + [("this", args.server)]:
        print(f"[{label}] {binary} (load {load()})")
        up, ing, size, rss = ingest(binary, args.csv, args.rows, args.profile if label == "this" else 0)
        results[label] = ing
        print(f"[{label}] upload {up:.1f} s ({size / up / 1e6:.0f} MB/s), server-side ingest {ing:.1f} s "
              f"({size / ing / 1e6:.0f} MB/s), server peak RSS {rss / 1024:.0f} MiB (load {load()})")
    code = ("import time, numpy as np, pandas as pd, sys\n"
            "p = sys.argv[1]\n"
            "h = open(p).readline().strip().split(',')\n"
            "t = time.perf_counter()\n"
            "df = pd.read_csv(p, dtype={c: np.float32 for c in h if c.startswith('embedding_')})\n"
            "print(time.perf_counter() - t)\n")
    print(f"pandas.read_csv (load {load()}):")
    out = subprocess.run([args.python, "-c", code, args.csv], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"pandas failed: {out.stderr[-500:]}")
    pd_s = float(out.stdout.strip().splitlines()[-1])
    size = os.path.getsize(args.csv)
    print(f"pandas.read_csv {pd_s:.1f} s ({size / pd_s / 1e6:.0f} MB/s)")
    for label, ing in results.items():
        print(f"SUMMARY [{label}] {size / 1e6:.0f} MB: server-side ingest {ing:.1f} s ({size / ing / 1e6:.0f} MB/s), "
              f"pandas.read_csv {pd_s:.1f} s: ingest is {pd_s / ing:.2f}x pandas' speed; load {load()}")


if __name__ == "__main__":
    main()
