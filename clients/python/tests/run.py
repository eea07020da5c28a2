#!/usr/bin/env python3
"""Runs the pytest plugin's own tests (this folder) with the real `lightly` client.

For each client version: create (or reuse) a venv under .build/conformance/plugin-venvs/<version>
with the client (torch stubbed, as in the conformance suite: Tests/conformance/run.py),
pytest and setuptools; `pip install` this package into it (from a copy, so no build files land
in the repository); run pytest on this folder against `--server-binary`.

    python3 clients/python/tests/run.py --server-binary .build/debug/lightly-server
    python3 clients/python/tests/run.py --server-binary ... --versions 1.5.26 -- -k polling

Closing line: `plugin tests: N passed, M failed` (exit status 1 if M > 0 or on setup errors).
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PACKAGE))
sys.path.insert(0, os.path.join(REPO, "Tests", "conformance"))

from lightly_harness import pip_requirements  # noqa: E402
from run import ensure_venv, venv_python  # noqa: E402  (Tests/conformance/run.py)

# 1.5.26: the last release, strict (pydantic) models, retries a failed signed PUT.
# 1.2.14: an old one (SelectionConfig era), gives up on a failed PUT at once.
DEFAULT_VERSIONS = ["1.5.26", "1.2.14"]


def install_plugin(venv: str) -> None:
    """`pip install` the package from a scratch copy (setuptools writes egg-info next to the
    sources). --no-build-isolation: the venv's setuptools builds it, nothing is downloaded."""
    with tempfile.TemporaryDirectory(prefix="lightly-plugin-src-") as tmp:
        src = os.path.join(tmp, "python")
        shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", "build"))
        cmd = [venv_python(venv), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
               "--no-build-isolation", "--force-reinstall", src]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"pip install of the plugin failed:\n{res.stdout}\n{res.stderr}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server-binary")
    p.add_argument("--versions", nargs="+", default=DEFAULT_VERSIONS)
    p.add_argument("--venv-root", default=os.path.join(REPO, ".build", "conformance", "plugin-venvs"))
    p.add_argument("--python", default=sys.executable, help="interpreter for the venvs (default: this one)")
    p.add_argument("--setup-only", action="store_true", help="only create the venvs and install the plugin")
    p.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = p.parse_args(argv)
    if not args.setup_only and not args.server_binary:
        p.error("--server-binary is required (unless --setup-only)")
    binary = os.path.abspath(args.server_binary or ".")
    passed = failed = 0
    for version in args.versions:
        started = time.monotonic()
        try:
            steps = pip_requirements(version) + [["pytest>=7", "setuptools>=70.1"]]
            venv = ensure_venv(version, os.path.abspath(args.venv_root), args.python, steps=steps)
            install_plugin(venv)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            print(f"[{version}] setup failed: {e}", flush=True)
            failed += 1
            continue
        setup = time.monotonic() - started
        if args.setup_only:
            print(f"[{version}] venv ready: {venv} ({setup:.1f} s)", flush=True)
            passed += 1
            continue
        env = dict(os.environ, LIGHTLY_SERVER_BIN=binary, PYTHONDONTWRITEBYTECODE="1")
        for k in ("LIGHTLY_SERVER_LOCATION", "LIGHTLY_TOKEN"):
            env.pop(k, None)
        cmd = [venv_python(venv), "-m", "pytest", HERE, "-p", "no:cacheprovider", "-q", "-rs", *args.pytest_args]
        res = subprocess.run(cmd, env=env, cwd=HERE, stdin=subprocess.DEVNULL)
        took = time.monotonic() - started
        status = "passed" if res.returncode == 0 else "FAILED"
        print(f"[{version}] {status} (setup {setup:.1f} s, total {took:.1f} s)", flush=True)
        if res.returncode == 0:
            passed += 1
        else:
            failed += 1
    print(f"plugin tests: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
