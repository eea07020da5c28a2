#!/usr/bin/env python3
"""Trigger -> FINISHED of a sampling job through the API against the sampler's own time.

Starts the release `lightly-server` (temp data dir, port 0), creates a dataset and uploads the
CSV through the signed-URL flow of the `lightly` client (the upload creates the samples, so
row i of the CSV is sample i). Restarts the server, so the first job loads the matrix from
SQLite, then triggers CORESET k `--jobs` times on the same embedding (later jobs hit the
embedding cache). Each job is polled on one keep-alive connection every `--poll` seconds
(the `lightly` client sleeps `waitTimeTillNextPoll` between polls; that interval is the
client's, not the server's): "trigger -> FINISHED" runs from sending the POST to the answer
that says FINISHED. The server's phases (load, select, write in ms) come from the status
answer's `X-Lightly-Job-Phases` header when the server sends one.

The reference, in the same run on the same file: `sampling-bench --csv` parses the CSV with
the server's parser and times `Sampler.select` (CORESET k, all cores, the job's defaults)
in-process; its picks must equal the job's tag.

With `--baseline BIN2` the jobs run twice on the same data folder, first by BIN2 (e.g. a
build of main) and then by BIN, each after its own restart, and the summary gives both.

usage: run.py --server BIN --bench SAMPLING_BENCH --csv FILE --rows N [--k 1000] [--jobs 4]
              [--baseline BIN2]
"""
import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import ApiCaller, Server  # noqa: E402


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def run_jobs(label, call, ds, eid, args):
    """Triggers CORESET `args.jobs` times; returns (index, wall s, server ms, phases, polls, tag id)."""
    results = []
    for j in range(args.jobs):
        name = f"coreset-{label}-{j}"
        t0 = time.monotonic()
        job = call("POST", f"/v1/datasets/{ds}/embeddings/{eid}/sampling", {
            "newTagName": name, "method": "CORESET",
            "config": {"stoppingCondition": {"nSamples": args.k, "minDistance": -1}}})["jobId"]
        polls = 0
        while True:
            s, phases = call("GET", f"/v1/jobs/{job}", want_headers=True)
            polls += 1
            if s["status"] in ("FINISHED", "FAILED"):
                break
            time.sleep(args.poll)
        wall = time.monotonic() - t0
        if s["status"] != "FINISHED":
            raise SystemExit(f"job failed: {s}")
        if not phases:   # recorded just after the commit that made the job FINISHED
            _, phases = call("GET", f"/v1/jobs/{job}", want_headers=True)
        server_ms = s["finishedAt"] - s["createdAt"]
        results.append((j, wall, server_ms, phases or "-", polls, s["result"]["data"]))
        print(f"[{label}] job {j} ({'first after restart' if j == 0 else 'cached matrix'}): trigger -> FINISHED "
              f"{wall:.3f} s, server createdAt -> finishedAt {server_ms} ms, phases [{phases or '-'}], "
              f"{polls} polls (load {load()})")

    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--bench", required=True, help="the sampling-bench binary (release)")
    ap.add_argument("--csv", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=4, help="jobs after the restart (the first one loads)")
    ap.add_argument("--poll", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=3, help="in-process reference repeats")
    ap.add_argument("--baseline", help="another lightly-server binary to run the same jobs first")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="lightly-jobbench-")
    server = Server(args.server, data, ["--job-poll-wait", "0", "--max-dataset-samples", str(max(args.rows, 1_000_000))])
    picks_file = os.path.join(data, "picks.txt")
    try:
        server.start()
        token = subprocess.run([args.server, "token", "create", "--data-dir", data, "--name", "jobbench"],
                               check=True, capture_output=True, text=True).stdout.strip()
        call = ApiCaller(server, token, timeout=3600)

        ds = call("POST", "/v1/datasets", {"name": "jobbench"})["id"]
        w = call("GET", f"/v1/datasets/{ds}/embeddings/writeCSVUrl", query={"name": "emb"})
        signed = urllib.parse.urlsplit(w["signedWriteUrl"])
        size = os.path.getsize(args.csv)
        t0 = time.monotonic()
        up = http.client.HTTPConnection(server.host, server.port, timeout=3600)
        up.putrequest("PUT", signed.path + ("?" + signed.query if signed.query else ""))
        up.putheader("Content-Length", str(size))
        up.putheader("Content-Type", "text/csv")
        up.endheaders()
        with open(args.csv, "rb") as f:
            while chunk := f.read(1 << 20):
                up.send(chunk)
        r = up.getresponse()
        text = r.read()
        up.close()
        if r.status != 200:
            raise SystemExit(f"PUT: {r.status} {text[:500]!r}")
        print(f"upload + ingest of {size / 1e6:.0f} MB: {time.monotonic() - t0:.1f} s (load {load()})")
        eid = w["embeddingId"]

        runs = {}
        for label, binary in ([("baseline", args.baseline)] if args.baseline else []) + [("this", args.server)]:
            server.stop()
            call.close()
            server.binary = binary
            server.start()
            print(f"[{label}] {binary}")
            runs[label] = run_jobs(label, call, ds, eid, args)
        results = runs["this"]

        tag = call("GET", f"/v1/datasets/{ds}/tags/{results[-1][5]}")
        mask = int(tag["bitMaskData"], 16)
        job_picks = {i for i in range(args.rows) if mask >> i & 1} if args.rows <= 200_000 else None
        if job_picks is None:
            bits = bin(mask)[2:][::-1]
            job_picks = {i for i, c in enumerate(bits) if c == "1"}
    finally:
        server.stop()

    try:
        print(f"in-process reference (load {load()}):")
        ref = subprocess.run([args.bench, "--csv", args.csv, "--k", str(args.k), "--repeats", str(args.repeats),
                              "--picks-out", picks_file], capture_output=True, text=True)
        print(ref.stdout.rstrip())
        m = re.search(r"median ([0-9.]+) s", ref.stdout)
        if not m:
            raise SystemExit(f"reference failed: {ref.stdout} {ref.stderr}")
        ref_s = float(m.group(1))
        ref_picks = {int(x) for x in open(picks_file).read().split()}
        same = "identical" if ref_picks == job_picks else f"DIFFERENT ({len(ref_picks ^ job_picks)} differ)"
        print(f"picks of the job's tag vs in-process: {same}")
        for label, res in runs.items():
            cached = sorted(r[1] for r in res[1:])
            med = cached[len(cached) // 2] if cached else float("nan")
            own = []   # trigger -> FINISHED / the job's own select phase (same process, same data)
            for r in res[1:]:
                m = re.search(r"select=(\d+)", r[3])
                if m and int(m.group(1)) > 0:
                    own.append(r[1] * 1000 / int(m.group(1)))
            own.sort()
            if own:
                print(f"SUMMARY [{label}] cached-matrix jobs: trigger -> FINISHED / the job's select phase: "
                      f"median {own[len(own) // 2]:.3f}x of {', '.join(f'{o:.3f}' for o in own)}")
            print(f"SUMMARY [{label}] rows={args.rows} k={args.k}: in-process select {ref_s:.3f} s; "
                  f"first job after restart {res[0][1]:.3f} s ({res[0][1] / ref_s:.2f}x); "
                  f"cached-matrix jobs median {med:.3f} s ({med / ref_s:.2f}x) of {', '.join(f'{c:.3f}' for c in cached)}; "
                  f"load {load()}")
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
