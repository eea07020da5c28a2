#!/usr/bin/env python3
"""Requests/s and job throughput of 1 and 2 servers on one PostgreSQL database, against 1 server
on SQLite, in the same run on the same machine.

For each setup (sqlite-1, pg-1, pg-2) the release `lightly-server` processes start on a fresh
data folder (shared by both servers of pg-2) and, for PostgreSQL, a fresh database of a
PostgreSQL server this script starts (initdb in a temporary folder, 127.0.0.1, a free port,
durable settings: fsync and synchronous_commit on, like SQLite's synchronous=FULL). Then:

- GET: `wrk` with `--connections` keep-alive connections doing authenticated
  `GET /v1/datasets/{id}` (split evenly over the servers: one wrk per server, rates summed);
- POST: the same with `samples.lua` here (each request creates a sample, as in
  `benchmarks/writes/`, with names unique over the wrk processes; answered
  only once durable), first all into one dataset, then each server's connections into a
  dataset of their own;
- jobs: `--datasets` datasets with an `--rows` x `--dim` embedding each, then `--jobs` CORESET
  selections (k = `--k`) triggered round-robin over the datasets and the servers as fast as
  the answers come; jobs/s from the first trigger to the last FINISHED. Each server runs one
  job at a time, and one dataset runs one job at a time over all servers.

Prints each setup's figures with the load average before and after, then the ratios
pg-1 / sqlite-1 and pg-2 / pg-1. On a 2-core machine two servers share the same two cores,
so pg-2 shows what a second process costs or gains here, not what a second host would add.

usage: run.py [--duration 10] [--connections 64] [--rows 20000] [--dim 64] [--k 200]
              [--datasets 4] [--jobs 16] [--setups sqlite-1,pg-1,pg-2]
"""
import argparse
import glob
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
from serverproc import Server  # noqa: E402


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# MARK: - PostgreSQL


def pg_bindir():
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if os.path.exists(os.path.join(out, "initdb")):
            return out
    except (OSError, subprocess.CalledProcessError):
        pass
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    w = shutil.which("initdb")
    return os.path.dirname(w) if w else None


class Postgres:
    """A throwaway PostgreSQL server (as `nobody` when run as root: PostgreSQL refuses root)."""

    def __init__(self):
        self.bindir = pg_bindir()
        if not self.bindir:
            sys.exit("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.folder = tempfile.mkdtemp(prefix="lightly-multi-pg-")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            os.chmod(self.folder, 0o777)
            self.as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        data = os.path.join(self.folder, "data")
        subprocess.run(self.as_user + [os.path.join(self.bindir, "initdb"), "-D", data, "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--no-instructions"],
                       check=True, stdout=subprocess.DEVNULL)
        self.proc = subprocess.Popen(
            self.as_user + [os.path.join(self.bindir, "postgres"), "-D", data, "-p", str(self.port),
                            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}",
                            "-c", "max_connections=200", "-c", "fsync=on", "-c", "synchronous_commit=on"],
            stdout=open(os.path.join(self.folder, "server.log"), "w"), stderr=subprocess.STDOUT)
        for _ in range(300):
            if subprocess.run([os.path.join(self.bindir, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        sys.exit("PostgreSQL did not start")

    def new_database(self, name):
        subprocess.run([os.path.join(self.bindir, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-q", "-c", f"CREATE DATABASE {name}"], check=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(2)   # SIGINT: fast shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


# MARK: - HTTP


class Client:
    def __init__(self, server, token):
        self.server, self.token = server, token
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=600)

    def call(self, method, path, body=None, raw=None):
        sep = "&" if "?" in path else "?"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, f"{path}{sep}token={self.token}", body=data, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path} -> {r.status} {text[:300]!r}")
        return json.loads(text) if text and text[:1] in (b"{", b"[", b'"') else text

    def put_url(self, url, raw):
        u = urllib.parse.urlsplit(url)
        self.conn.request("PUT", f"{u.path}?{u.query}", body=raw)
        r = self.conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"PUT {u.path} -> {r.status}")


def wrk(urls, connections, duration, lua=None):
    """One wrk per URL, in parallel, connections split evenly; returns (req/s summed, non-2xx, errors)."""
    per = max(1, connections // len(urls))
    procs = []
    for i, u in enumerate(urls):
        cmd = ["wrk", "-t", "1", "-c", str(per), "-d", f"{duration}s"] + (["-s", lua] if lua else []) + [u]
        if lua:
            cmd += ["--", f"w{i}"]   # distinct file names per wrk
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    rate, bad, errors = 0.0, 0, 0
    for p in procs:
        out = p.communicate()[0]
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        rate += float(m.group(1)) if m else 0.0
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        bad += int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        errors += sum(int(x) for x in m.groups()) if m else 0
    return rate, bad, errors


def embeddings_csv(rows, dim, seed):
    rng = random.Random(seed)
    lines = ["filenames," + ",".join(f"embedding_{j}" for j in range(dim)) + ",labels"]
    for i in range(rows):
        lines.append(f"img_{i:07d}.jpg," + ",".join(f"{rng.uniform(-1, 1):.5f}" for _ in range(dim)) + ",0")
    return ("\n".join(lines) + "\n").encode()


# MARK: - One setup


def run_setup(name, binary, servers_n, database_url, args):
    data = tempfile.mkdtemp(prefix=f"lightly-multi-{name}-")
    extra = ["--log-level", "warning", "--max-dataset-samples", "100000000", "--job-poll-wait", "0"]
    if database_url:
        extra += ["--database", database_url]
    servers = []
    try:
        for _ in range(servers_n):
            s = Server(binary, data, extra)
            s.start()
            servers.append(s)
        token = servers[0].token
        clients = [Client(s, token) for s in servers]
        ds = clients[0].call("POST", "/v1/datasets", {"name": "bench"})["id"]
        print(f"[{name}] {servers_n} server(s), load before: {load()} (cores: {os.cpu_count()})", flush=True)

        get_urls = [f"{s.url}/v1/datasets/{ds}?token={token}" for s in servers]
        get_rate, get_bad, get_err = wrk(get_urls, args.connections, args.duration)
        print(f"[{name}] GET dataset:    {get_rate:10.0f} req/s  non-2xx={get_bad} socket-errors={get_err}", flush=True)
        lua = os.path.join(HERE, "samples.lua")
        post_urls = [f"{s.url}/v1/datasets/{ds}/samples?token={token}" for s in servers]
        post_rate, post_bad, post_err = wrk(post_urls, args.connections, args.duration, lua=lua)
        print(f"[{name}] POST sample, one dataset:        {post_rate:10.0f} req/s  non-2xx={post_bad} "
              f"socket-errors={post_err}", flush=True)
        # Each server's clients write to their own dataset (many users, each with a dataset).
        own = [c.call("POST", "/v1/datasets", {"name": f"writes-{i}"})["id"] for i, c in enumerate(clients)]
        own_urls = [f"{s.url}/v1/datasets/{d}/samples?token={token}" for s, d in zip(servers, own)]
        own_rate, own_bad, own_err = wrk(own_urls, args.connections, args.duration, lua=lua)
        print(f"[{name}] POST sample, a dataset per server: {own_rate:10.0f} req/s  non-2xx={own_bad} "
              f"socket-errors={own_err}", flush=True)
        post_bad += own_bad
        post_err += own_err

        # Jobs: datasets whose samples come from the CSV upload (row i = sample i).
        prepared = []
        for d in range(args.datasets):
            c = clients[d % len(clients)]
            dsj = c.call("POST", "/v1/datasets", {"name": f"jobs-{d}"})["id"]
            w = c.call("GET", f"/v1/datasets/{dsj}/embeddings/writeCSVUrl?name=emb")
            c.put_url(w["signedWriteUrl"], embeddings_csv(args.rows, args.dim, seed=d))
            prepared.append((dsj, w["embeddingId"]))
        t0 = time.monotonic()
        jobs = []
        for j in range(args.jobs):
            dsj, eid = prepared[j % len(prepared)]
            c = clients[j % len(clients)]
            jobs.append((c, c.call("POST", f"/v1/datasets/{dsj}/embeddings/{eid}/sampling", {
                "newTagName": f"coreset-{j}", "method": "CORESET",
                "config": {"stoppingCondition": {"nSamples": args.k, "minDistance": -1}}})["jobId"]))
        failed = 0
        for i, (_, job) in enumerate(jobs):
            c = clients[i % len(clients)]
            while True:
                st = c.call("GET", f"/v1/jobs/{job}")["status"]
                if st in ("FINISHED", "FAILED"):
                    failed += st == "FAILED"
                    break
                time.sleep(0.02)
        seconds = time.monotonic() - t0
        job_rate = args.jobs / seconds
        print(f"[{name}] jobs:           {job_rate:10.2f} jobs/s  ({args.jobs} CORESET k={args.k} on "
              f"{args.rows}x{args.dim}, {args.datasets} datasets, {seconds:.1f} s, failed={failed})", flush=True)
        print(f"[{name}] load after:  {load()}", flush=True)
        return {"get": get_rate, "post": post_rate, "own": own_rate, "jobs": job_rate,
                "bad": get_bad + post_bad + get_err + post_err + failed}
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=200)
    ap.add_argument("--datasets", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--setups", default="sqlite-1,pg-1,pg-2")
    ap.add_argument("--server", help="lightly-server binary (default: a release build of this checkout)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    binary = args.server
    if not binary:
        subprocess.run(["swift", "build", "-c", "release", "--product", "lightly-server"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        binary = os.path.join(subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                             capture_output=True, text=True, check=True).stdout.strip(), "lightly-server")
    setups = args.setups.split(",")
    pg = Postgres() if any(s.startswith("pg-") for s in setups) else None
    results = {}
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}  {os.cpu_count()} cores  load {load()}", flush=True)
    try:
        for i, setup in enumerate(setups):
            kind, n = setup.split("-")
            url = pg.new_database(f"bench_{i}") if kind == "pg" else None
            results[setup] = run_setup(setup, binary, int(n), url, args)
    finally:
        if pg:
            pg.stop()

    def ratio(a, b, key):
        if a in results and b in results and results[b][key] > 0:
            return f"{results[a][key] / results[b][key]:.2f}"
        return "-"
    print("\nratios            GET  POST-1ds  POST-own  jobs")
    for a, b in (("pg-1", "sqlite-1"), ("pg-2", "pg-1"), ("pg-2", "sqlite-1")):
        print(f"{a:>5} / {b:<9} {ratio(a, b, 'get'):>5} {ratio(a, b, 'post'):>9} {ratio(a, b, 'own'):>9} {ratio(a, b, 'jobs'):>5}")
    if any(r["bad"] for r in results.values()):
        print("WARNING: some requests failed (see non-2xx / socket errors / failed jobs above)")


if __name__ == "__main__":
    main()
