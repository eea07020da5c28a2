#!/usr/bin/env python3
"""Runs conformance scenarios against EVERY lightly release 1.1.0-1.5.26 (129 releases on PyPI;
there is no 1.4.9), one release at a time, and records the result per release.

    nice -n 10 python3 Tests/conformance/sweep.py --server-binary .build/debug/lightly-server \
        --scenario classic --scenario strict --out .build/conformance/sweep.jsonl
    python3 Tests/conformance/sweep.py --markdown .build/conformance/sweep.jsonl   # table rows

To save an hour of pip on 129 releases, the sweep keeps one venv per dependency profile
(.build/conformance/sweep-venvs: before 1.4.8, 1.4.8-1.5.8 with pydantic<2, 1.5.9+) and only
swaps the `lightly` package in it (`pip install --no-deps lightly==X`) before handing it to
run.py as that release's venv. A release already in the --out file is skipped, so an
interrupted sweep resumes where it stopped. Takes long: run it in the background.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lightly_harness import pip_requirements  # noqa: E402
from run import REPO  # noqa: E402

RELEASES = ([f"1.1.{i}" for i in range(24)] + [f"1.2.{i}" for i in range(48)] + [f"1.3.{i}" for i in range(4)]
            + [f"1.4.{i}" for i in range(27) if i != 9] + [f"1.5.{i}" for i in range(27)])
_LINE = re.compile(r"^(ok|FAIL|known|skip)\s+(\d+\.\d+\.\d+) (\w+)")


def sweep(args) -> int:
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as f:
            done = {json.loads(line)["version"] for line in f if line.strip()}
    root = os.path.join(REPO, ".build", "conformance", "sweep-venvs")
    venv_root = os.path.join(root, "by-version")
    os.makedirs(venv_root, exist_ok=True)
    # every 4th release first, then the ones between: an interrupted sweep still spans all series
    order = [v for k in (0, 2, 1, 3) for i, v in enumerate(RELEASES) if i % 4 == k]
    for version in order:
        if version in done:
            continue
        t0 = time.monotonic()
        try:
            prepare_venv(version, root, venv_root)
        except RuntimeError as e:
            print(f"{version}: venv failed: {e}", flush=True)
        cmd = [sys.executable, os.path.join(HERE, "run.py"), "--server-binary", args.server_binary,
               "--venv-root", venv_root, "--versions", version]
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
        if failures:  # keep the evidence, minus the server's access log lines
            record["output"] = [line for line in res.stdout.splitlines() if "[err]" not in line][-80:]
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"{version}: {results} ({record['seconds']}s)", flush=True)
        os.unlink(os.path.join(venv_root, version))
    return 0


def prepare_venv(version, root, venv_root):
    """Point venv_root/version at the profile venv with lightly==version in it, and write the
    marker run.py checks, so run.py uses it as is."""
    steps = pip_requirements(version)
    base = steps[0]
    profile = os.path.join(root, "profile-" + hashlib.sha1(json.dumps(base).encode()).hexdigest()[:10])
    python = os.path.join(profile, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", profile], check=True)
        for step in (base, ["--no-deps", "lightly-utils==0.0.2"], ["pyyaml"]):
            _pip(python, step)
    _pip(python, ["--no-deps", "--force-reinstall", f"lightly=={version}"])
    link = os.path.join(venv_root, version)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(profile, link)
    with open(os.path.join(profile, ".conformance-ok"), "w") as f:
        f.write(json.dumps({"python": sys.executable, "steps": steps}, sort_keys=True))


def _pip(python, args):
    res = subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *args],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(args)}: {res.stderr[-500:]}")


def workarounds(version):
    """The client-side bugs and gaps the scenarios work around in this release."""
    v = tuple(int(x) for x in version.split("."))
    notes = []
    if v == (1, 2, 0):
        notes.append("exclude_parent_tag broken (skipped)")
    if v >= (1, 4, 7):
        notes.append("no agent: selection + upload_scores")
    if (1, 4, 8) <= v <= (1, 4, 12):
        notes.append("upload_dataset broken (argument order): samples via SamplesApi")
    if v >= (1, 4, 13):
        notes.append("no upload_dataset: samples via SamplesApi")
    return "; ".join(notes)


def markdown(path) -> int:
    with open(path) as f:
        records = {json.loads(line)["version"]: json.loads(line) for line in f if line.strip()}
    for version in RELEASES:
        r = records.get(version)
        if r is None:
            print(f"| {version} | not run | | {workarounds(version)} |")
            continue
        res = r["results"]
        passed = [s for s, v in res.items() if v == "ok"]
        other = [f"{s} ({v})" for s, v in res.items() if v in ("FAIL", "known")]
        known = len({k for k in r["known"]})
        notes = [workarounds(version), f"{known} known server issues (listed above the table)" if known else ""]
        print(f"| {version} | {', '.join(passed) or '–'} | {', '.join(other) or '–'} | "
              f"{'; '.join(n for n in notes if n)} |")
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
