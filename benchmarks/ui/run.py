#!/usr/bin/env python3
"""The web page's speed in headless Chromium against a real lightly-server (release build).

For each size (default 100 000 and 1 000 000 points): a dataset made through the API (an
embeddings CSV of N x 2 random points into an empty dataset creates the samples and the initial
tag; then the 2-D projection job), a RANDOM tag of N/10 for colouring, and in the browser:

- dataset page: navigation start -> first contentful paint, and -> the page rendered (tag tree
  and the first page of the samples grid: `performance.mark("dataset-rendered")`);
- map: navigation -> first map frame (points fetched, decoded, drawn), then 240 frames of
  panning (an arrow key per animation frame): frame interval (rAF to rAF) and the CPU time of
  one draw, median and 95th percentile;
- bytes on the wire per point: the compact points route vs the v1 JSON `…/2d` route (the
  reference, same run), and the tag bitmask in JSON (hex, 4 points per character).

    python3 benchmarks/ui/run.py [--server-binary .build/release/lightly-server] [--sizes 100000,1000000]

Uses the browser test's venv and Chromium setup (Tests/browser/run.py). Prints a Markdown table.
Headless Chromium paces animation frames at the display rate (60 Hz), so an interval of ~16.7 ms
means the frame fit; the draw time says how much of the frame it used.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


browser = _load("browser_run", os.path.join(REPO, "Tests", "browser", "run.py"))


def call(base, token, method, path, body=None, raw=False, content_type="application/json"):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=600) as r:
        payload = r.read()
    return payload if raw else json.loads(payload or b"null")


def make_dataset(base, token, n, seed=1):
    import random

    rng = random.Random(seed)
    ds = call(base, token, "POST", "/v1/datasets", {"name": f"bench-{n}"})["id"]
    lines = ["filenames,embedding_0,embedding_1,labels"]
    for i in range(n):
        c = i % 5
        lines.append(f"s_{i:07d}.png,{rng.gauss(c * 3, 1):.5f},{rng.gauss((c % 2) * 4, 1.2):.5f},0")
    csv = ("\n".join(lines) + "\n").encode()
    w = call(base, token, "GET", f"/v1/datasets/{ds}/embeddings/writeCSVUrl?name=bench")
    req = urllib.request.Request(w["signedWriteUrl"], data=csv, method="PUT", headers={"Content-Type": "text/csv"})
    urllib.request.urlopen(req, timeout=600).read()
    emb = w["embeddingId"]
    job = call(base, token, "POST", f"/v1/datasets/{ds}/embeddings/{emb}/trigger2dEmbeddingsJob", {})["jobId"]
    wait_job(base, token, job)
    tags = call(base, token, "GET", f"/v1/datasets/{ds}/tags")
    initial = [t for t in tags if t["name"] == "initial-tag"][0]
    body = {"newTagName": "random-10pct", "method": "RANDOM", "queryTagId": initial["id"],
            "config": {"stoppingCondition": {"nSamples": n // 10}}}
    wait_job(base, token, call(base, token, "POST", f"/v1/datasets/{ds}/embeddings/{emb}/sampling", body)["jobId"])
    return ds, emb


def wait_job(base, token, job):
    end = time.monotonic() + 900
    while time.monotonic() < end:
        s = call(base, token, "GET", f"/v1/jobs/{job}")
        if s["status"] == "FINISHED":
            return s
        if s["status"] == "FAILED":
            raise RuntimeError(s.get("error"))
        time.sleep(0.2)
    raise RuntimeError("job timed out")


PAN_SCRIPT = """
const done = arguments[arguments.length - 1];
const canvas = document.getElementById('map');
const frames = arguments[0];
const intervals = [], draws = [];
let last = null, k = 0;
function step(t) {
  if (last !== null) { intervals.push(t - last); draws.push(Number(canvas.dataset.drawMs)); }
  last = t;
  if (k++ >= frames) { done({intervals, draws}); return; }
  const key = (Math.floor(k / 30) % 2) ? 'ArrowLeft' : 'ArrowRight';
  canvas.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
  requestAnimationFrame(step);
}
requestAnimationFrame(step);
"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def measure(driver, base, token, ds, n, repeats=3):
    def wait(fn, timeout=300):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.02)
        raise RuntimeError("timed out")

    def entry(name):
        return driver.execute_script(
            "const m = performance.getEntriesByName(arguments[0]); return m.length ? m[0].startTime : null", name)

    def load(hash_, mark):
        """Milliseconds from navigation start to `mark`, median of `repeats` fresh loads, and
        the first contentful paint of those loads."""
        marks, paints = [], []
        for _ in range(repeats):
            driver.get("about:blank")
            driver.get(f"{base}/{hash_}")
            marks.append(wait(lambda: entry(mark)))
            paints.append(entry("first-contentful-paint"))
        return statistics.median(marks), statistics.median(paints)

    driver.get(base + "/")
    driver.execute_script("sessionStorage.setItem('lightly.token', arguments[0])", token)
    rendered, fcp = load(f"#/d/{ds}/samples/", "dataset-rendered")
    map_drawn, _ = load(f"#/d/{ds}/map/", "map-drawn")
    count = driver.execute_script("return document.getElementById('map').dataset.pointCount")
    assert int(count) == n, (count, n)
    driver.set_script_timeout(300)
    pan = driver.execute_async_script(PAN_SCRIPT, 240)
    return {
        "fcp_ms": fcp,
        "dataset_rendered_ms": rendered,
        "map_first_frame_ms": map_drawn,
        "frame_interval_median_ms": statistics.median(pan["intervals"]),
        "frame_interval_p95_ms": pct(pan["intervals"], 95),
        "draw_median_ms": statistics.median(pan["draws"]),
        "draw_p95_ms": pct(pan["draws"], 95),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server-binary", default=os.path.join(REPO, ".build", "release", "lightly-server"))
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.inside:
        sel, _ = browser.setup(args.python)
        if not os.access(args.server_binary, os.X_OK):
            ap.error(f"not an executable: {args.server_binary} (swift build -c release --product lightly-server)")
        return subprocess.run([browser.conformance.venv_python(sel), os.path.abspath(__file__), "--inside",
                               "--server-binary", os.path.abspath(args.server_binary), "--sizes", args.sizes]).returncode

    sizes = [int(s) for s in args.sizes.split(",")]
    server = browser.ServerProcess(args.server_binary)
    rows = []
    work = tempfile.mkdtemp(prefix="lightly-ui-bench-")
    try:
        server.start()
        token = server.create_token("bench")
        base = server.url
        driver = browser.make_driver(work)
        try:
            for n in sizes:
                t0 = time.monotonic()
                ds, emb = make_dataset(base, token, n)
                setup_s = time.monotonic() - t0
                points = call(base, token, "GET", f"/ui-api/datasets/{ds}/embeddings/{emb}/points", raw=True)
                json2d = call(base, token, "GET", f"/v1/datasets/{ds}/embeddings/{emb}/2d", raw=True)
                tags = call(base, token, "GET", f"/ui-api/datasets/{ds}/tags", raw=True)
                ntags = len(json.loads(tags))
                m = measure(driver, base, token, ds, n)
                m.update({"n": n, "setup_s": setup_s, "points_bytes_per_point": len(points) / n,
                          "json2d_bytes_per_point": len(json2d) / n, "tags_bytes_per_point_per_tag": len(tags) / n / ntags})
                print(json.dumps(m), flush=True)
                rows.append(m)
        finally:
            driver.quit()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| points | first paint | dataset page rendered | map first frame | pan frame interval median / p95 | draw median / p95 | bytes/point: points route | v1 JSON 2d (reference) | tag bitmask JSON per tag |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['fcp_ms']:.0f} ms | {r['dataset_rendered_ms']:.0f} ms | {r['map_first_frame_ms']:.0f} ms | "
              f"{r['frame_interval_median_ms']:.1f} / {r['frame_interval_p95_ms']:.1f} ms | {r['draw_median_ms']:.1f} / {r['draw_p95_ms']:.1f} ms | "
              f"{r['points_bytes_per_point']:.2f} | {r['json2d_bytes_per_point']:.2f} ({r['json2d_bytes_per_point'] / r['points_bytes_per_point']:.1f}x) | "
              f"{r['tags_bytes_per_point_per_tag']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
