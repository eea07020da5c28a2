#!/usr/bin/env python3
"""Runs conformance scenarios against EVERY lightly release 1.1.0-1.5.26 (129 releases on PyPI;
there is no 1.4.9), one release at a time, and records the result per release.

    nice -n 10 python3 Tests/conformance/sweep.py --server-binary .build/debug/lightly-server \
        --scenario classic --scenario strict --out .build/conformance/sweep.jsonl
    python3 Tests/conformance/sweep.py --markdown .build/conformance/sweep.jsonl   # table rows

Each release's venv is created by run.py as usual; venvs of releases outside run.py's
DEFAULT_VERSIONS are deleted again after the release ran (about 150 MB each). A release
already in the --out file is skipped, so an interrupted sweep resumes where it stopped.
Takes long (roughly half a minute per release and scenario): run it in the background.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import DEFAULT_VERSIONS, REPO  # noqa: E402

RELEASES = ([f"1.1.{i}" for i in range(24)] + [f"1.2.{i}" for i in range(48)] + [f"1.3.{i}" for i in range(4)]
            + [f"1.4.{i}" for i in range(27) if i != 9] + [f"1.5.{i}" for i in range(27)])
_LINE = re.compile(r"^(ok|FAIL|known|skip)\s+(\d+\.\d+\.\d+) (\w+)")


def sweep(args) -> int:
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as f:
            done = {json.loads(line)["version"] for line in f if line.strip()}
    venv_root = os.path.join(REPO, ".build", "conformance", "venvs")
    for version in RELEASES:
        if version in done:
            continue
        t0 = time.monotonic()
        cmd = [sys.executable, os.path.join(HERE, "run.py"), "--server-binary", args.server_binary,
               "--versions", version]
        for s in args.scenario or []:
            cmd += ["--scenario", s]
        res = subprocess.run(cmd, capture_output=True, text=True)
        results, known = {}, []
        for line in res.stdout.splitlines():
            m = _LINE.match(line)
            if m and m.group(2) == version:
                results[m.group(3)] = {"ok": "ok", "FAIL": "FAIL", "known": "known", "skip": "-"}[m.group(1)]
            if line.startswith("known issue (not counted"):
                known.append(line.split(": ", 1)[1])
            if line.startswith(f"FAIL {version} setup"):
                results["setup"] = "FAIL"
        failures = [line for line in res.stdout.splitlines() if line.startswith("FAIL ")]
        record = {"version": version, "results": results, "known": known, "exit": res.returncode,
                  "seconds": round(time.monotonic() - t0, 1), "failures": failures,
                  "tail": res.stdout.splitlines()[-3:]}
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"{version}: {results} ({record['seconds']}s)", flush=True)
        if version not in DEFAULT_VERSIONS:
            shutil.rmtree(os.path.join(venv_root, version), ignore_errors=True)
    return 0


def markdown(path) -> int:
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    for r in records:
        res = r["results"]
        passed = [s for s, v in res.items() if v == "ok"]
        known = [s for s, v in res.items() if v == "known"]
        failed = [s for s, v in res.items() if v == "FAIL"]
        notes = "; ".join(sorted({k.split(": ", 1)[1] for k in r["known"] if ": " in k}))
        print(f"| {r['version']} | {', '.join(passed) or '–'} | {', '.join(failed + known) or '–'} | {notes} |")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server-binary")
    p.add_argument("--scenario", action="append")
    p.add_argument("--out", default=os.path.join(REPO, ".build", "conformance", "sweep.jsonl"))
    p.add_argument("--markdown", metavar="JSONL", help="print the results as table rows and exit")
    args = p.parse_args(argv)
    if args.markdown:
        return markdown(args.markdown)
    if not args.server_binary:
        p.error("--server-binary is required")
    return sweep(args)


if __name__ == "__main__":
    sys.exit(main())
