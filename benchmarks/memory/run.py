#!/usr/bin/env python3
"""Peak RSS of a real lightly-server process through the embedding upload and a sampling job.

Starts `lightly-server serve` (temp data dir, port 0), creates a token and a dataset, and then,
through the real signed-URL flow of the `lightly` client (docs/protocol.md §8):

  1. upload A  - PUT of an in-order CSV to its signedWriteUrl (body transfer only)
     ingest A  - from the last body byte to the 200 (the server validates, creates the
                 samples of the empty dataset, stores the matrix and the CSV)
  2. upload B / ingest B - the same rows shuffled, as a second embedding: the server maps
                 every row to its sample and re-emits the CSV in mapping order
  3. job       - CORESET (k) on embedding B, polled until FINISHED

While it runs, /proc/<pid>/status is sampled every 20 ms; at each phase start the peak is
reset (`echo 5 > /proc/<pid>/clear_refs`) so VmHWM at the phase end is that phase's peak.
Needs only the standard library. See README.md next to this file.

usage: run.py --server BIN --csv-a IN_ORDER.csv --csv-b SHUFFLED.csv --rows N [--k 1000]
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


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Monitor(threading.Thread):
    """Samples VmRSS; phase peaks come from VmHWM (reset at each phase start)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.phase = None
        self.lock = threading.Lock()
        self.sampled = {}
        self.results = []   # (phase, seconds, hwm_kb, sampled_max_kb, rss_end_kb)
        self.stop_flag = False
        self.t0 = None

    def run(self):
        while not self.stop_flag:
            rss = status_kb(self.pid, "VmRSS")
            with self.lock:
                if self.phase and rss:
                    self.sampled[self.phase] = max(self.sampled.get(self.phase, 0), rss)
            time.sleep(0.02)

    def begin(self, phase):
        with self.lock:
            try:
                with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError as e:
                print(f"warning: cannot reset VmHWM ({e}); phase peaks are sampled only", file=sys.stderr)
            self.phase = phase
            self.t0 = time.monotonic()

    def end(self):
        with self.lock:
            hwm = status_kb(self.pid, "VmHWM") or 0
            rss = status_kb(self.pid, "VmRSS") or 0
            self.results.append((self.phase, time.monotonic() - self.t0, hwm, self.sampled.get(self.phase, 0), rss))
            self.phase = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--csv-a", required=True)
    ap.add_argument("--csv-b", required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--keep-data", action="store_true")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="lightly-membench-")
    proc = subprocess.Popen([args.server, "serve", "--data-dir", data, "--host", "127.0.0.1", "--port", "0",
                             "--max-dataset-samples", str(max(args.rows, 1_000_000))],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    log = []
    url_found = threading.Event()
    base = {}

    def pump():
        for line in proc.stdout:
            log.append(line.rstrip("\n"))
            m = re.search(r"listening on (https?://\S+)", line)
            if m and not url_found.is_set():
                base["url"] = m.group(1).rstrip("/")
                url_found.set()
    threading.Thread(target=pump, daemon=True).start()
    if not url_found.wait(30):
        proc.kill()
        sys.exit("server did not start:\n" + "\n".join(log[-30:]))
    try:
        token = subprocess.run([args.server, "token", "create", "--data-dir", data, "--name", "membench"],
                               check=True, capture_output=True, text=True).stdout.strip()
        u = urllib.parse.urlsplit(base["url"])
        host, port = u.hostname, u.port

        def call(method, path, body=None, query=None):
            q = dict(query or {})
            q["token"] = token
            conn = http.client.HTTPConnection(host, port, timeout=3600)
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path + "?" + urllib.parse.urlencode(q), body=payload,
                         headers={"Content-Type": "application/json"} if payload else {})
            r = conn.getresponse()
            text = r.read()
            conn.close()
            if r.status // 100 != 2:
                raise SystemExit(f"{method} {path}: {r.status} {text[:500]!r}")
            return json.loads(text) if text else None

        mon = Monitor(proc.pid)
        mon.start()
        mon.begin("idle")
        time.sleep(0.3)
        mon.end()
        ds = call("POST", "/v1/datasets", {"name": "membench"})["id"]

        def upload(tag, path, name):
            w = call("GET", f"/v1/datasets/{ds}/embeddings/writeCSVUrl", query={"name": name})
            signed = urllib.parse.urlsplit(w["signedWriteUrl"])
            size = os.path.getsize(path)
            mon.begin(f"upload {tag}")
            conn = http.client.HTTPConnection(host, port, timeout=3600)
            conn.putrequest("PUT", signed.path + ("?" + signed.query if signed.query else ""))
            conn.putheader("Content-Length", str(size))
            conn.putheader("Content-Type", "text/csv")
            conn.endheaders()
            with open(path, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    conn.send(chunk)
            mon.end()
            mon.begin(f"ingest {tag}")
            r = conn.getresponse()
            text = r.read()
            mon.end()
            conn.close()
            if r.status != 200:
                raise SystemExit(f"PUT {tag}: {r.status} {text[:500]!r}")
            return w["embeddingId"], size

        eid_a, size_a = upload("A (in order, creates samples)", args.csv_a, "mem-a")
        eid_b, size_b = upload("B (shuffled, reordered)", args.csv_b, "mem-b")

        mon.begin(f"job CORESET k={args.k}")
        job = call("POST", f"/v1/datasets/{ds}/embeddings/{eid_b}/sampling", {
            "newTagName": "coreset", "method": "CORESET",
            "config": {"stoppingCondition": {"nSamples": args.k, "minDistance": -1}}})["jobId"]
        while True:
            s = call("GET", f"/v1/jobs/{job}")
            if s["status"] in ("FINISHED", "FAILED"):
                break
            time.sleep(0.2)
        mon.end()
        if s["status"] != "FINISHED":
            raise SystemExit(f"job failed: {s}")
        mon.stop_flag = True

        mib = lambda kb: kb / 1024
        print(f"rows={args.rows} csv A {size_a / 1e6:.0f} MB, csv B {size_b / 1e6:.0f} MB, k={args.k}, "
              f"load average now {open('/proc/loadavg').read().split()[:3]}")
        print(f"{'phase':<40} {'seconds':>8} {'peak RSS MiB':>13} {'sampled max':>12} {'RSS at end':>11}")
        for phase, secs, hwm, sampled, rss in mon.results:
            print(f"{phase:<40} {secs:8.1f} {mib(hwm):13.0f} {mib(sampled):12.0f} {mib(rss):11.0f}")
        overall = max(r[2] for r in mon.results)
        print(f"overall peak RSS: {mib(overall):.0f} MiB ({overall * 1024 / 1e9:.2f} GB)")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if args.keep_data:
            print(f"data dir kept: {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
