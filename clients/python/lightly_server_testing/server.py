"""A `lightly-server serve --ephemeral --port 0` process with the admin API on, and that API."""

from __future__ import annotations

import collections
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

_LISTEN = re.compile(r"listening on (https?://\S+)")
_TOKEN = re.compile(r"^export LIGHTLY_TOKEN=(\S+)$")


class LightlyServerError(RuntimeError):
    """The server could not be started, or its admin API answered with an error."""

    def __init__(self, message: str, status: Optional[int] = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


def find_binary() -> str:
    """Where the `lightly-server` executable is, in this order:

    1. `$LIGHTLY_SERVER_BIN`;
    2. `lightly-server` on `$PATH`;
    3. `.build/release/lightly-server`, then `.build/debug/lightly-server`, in the Swift package
       this file belongs to (a checkout of the repository) or in the current directory or one
       of its parents.
    """
    env = os.environ.get("LIGHTLY_SERVER_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise LightlyServerError(f"LIGHTLY_SERVER_BIN={env} is not an executable file")
        return env
    on_path = shutil.which("lightly-server")
    if on_path:
        return on_path
    roots: List[Path] = []
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        roots.extend([start, *start.parents])
    for root in roots:
        if not (root / "Package.swift").is_file():
            continue
        for config in ("release", "debug"):
            candidate = root / ".build" / config / "lightly-server"
            if os.access(candidate, os.X_OK):
                return str(candidate)
    raise LightlyServerError(
        "lightly-server not found: set LIGHTLY_SERVER_BIN, put it on PATH, or build it "
        "(`swift build -c release`) in the repository you run from")


class LightlyServer:
    """One running server with its data in a temporary folder that the server removes on exit.

    Attributes: `url` (e.g. `http://127.0.0.1:40123`), `token` (the API token of the user
    `default`), `admin_token`, `environment` (the two variables the lightly client reads).
    """

    def __init__(self, process: subprocess.Popen, url: str, token: str, admin_token: str,
                 output: "collections.deque[str]"):
        self.process = process
        self.url = url
        self.token = token
        self.admin_token = admin_token
        self._output = output

    # -- lifecycle

    @classmethod
    def start(cls, binary: Optional[str] = None, extra_args: Iterable[str] = (),
              timeout: float = 30.0) -> "LightlyServer":
        """Starts `binary` (default `find_binary()`) with `serve --ephemeral --host 127.0.0.1
        --port 0` plus `extra_args` and a random admin token, and waits up to `timeout` seconds
        for its `listening on` line. The admin token goes in through the environment
        (`LIGHTLY_SERVER_ADMIN_TOKEN`, the same setting as `--admin-token`), where other users
        of the machine cannot read it, unlike a command line."""
        binary = binary or find_binary()
        admin_token = secrets.token_urlsafe(24)
        cmd = [binary, "serve", "--ephemeral", "--host", "127.0.0.1", "--port", "0", *extra_args]
        env = dict(os.environ, LIGHTLY_SERVER_ADMIN_TOKEN=admin_token)
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
        output: "collections.deque[str]" = collections.deque(maxlen=200)
        found: Dict[str, str] = {}
        ready = threading.Event()

        def pump() -> None:
            # Keeps reading for the server's whole life, so a full pipe never blocks it.
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                token = _TOKEN.match(line)
                if token:
                    found["token"] = token.group(1)
                    line = "export LIGHTLY_TOKEN=<hidden>"
                output.append(line)
                listen = _LISTEN.search(line)
                if listen and "url" not in found:
                    found["url"] = listen.group(1).rstrip("/")
                    ready.set()
            ready.set()

        threading.Thread(target=pump, name="lightly-server-output", daemon=True).start()
        if not ready.wait(timeout) or "url" not in found or "token" not in found:
            cls._terminate(proc)
            raise LightlyServerError(
                f"lightly-server did not start (command: {' '.join(cmd[:6])} ...):\n" + "\n".join(output))
        return cls(proc, found["url"], found["token"], admin_token, output)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait (SIGKILL after `timeout`). Returns the exit status."""
        return self._terminate(self.process, timeout)

    @staticmethod
    def _terminate(proc: subprocess.Popen, timeout: float = 15.0) -> int:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def __enter__(self) -> "LightlyServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def environment(self) -> Dict[str, str]:
        """`LIGHTLY_SERVER_LOCATION` and `LIGHTLY_TOKEN` for the lightly client."""
        return {"LIGHTLY_SERVER_LOCATION": self.url, "LIGHTLY_TOKEN": self.token}

    @property
    def output(self) -> str:
        """The server's last lines of output (stdout and stderr), token hidden."""
        return "\n".join(self._output)

    # -- the admin API

    def admin(self, method: str, path: str, body: Any = None, query: Optional[Dict[str, Any]] = None,
              timeout: float = 60.0) -> Any:
        """Calls `/_admin/<path>` with the admin token; returns the decoded JSON answer (None
        for an empty one). Raises `LightlyServerError` for any status but 2xx."""
        url = f"{self.url}/_admin/{path.lstrip('/')}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.admin_token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                detail: Any = json.loads(raw)
            except ValueError:
                detail = raw.decode(errors="replace")
            raise LightlyServerError(f"{method} /_admin/{path} answered {e.code}: {detail}", e.code, detail) from None
        return json.loads(raw) if raw.strip() else None

    def reset(self, users: bool = False) -> Any:
        """Removes every dataset, sample, tag, embedding, score, job and blob and cancels
        running jobs. Users and tokens stay (so `token` keeps working) unless `users=True`."""
        return self.admin("POST", "reset", query={"users": "true"} if users else None)

    def seed(self, document: Dict[str, Any]) -> Any:
        """Creates the state described by `document` (the format `snapshot()` returns)."""
        return self.admin("POST", "seed", body=document)

    def snapshot(self) -> Dict[str, Any]:
        """The current state, in the format `seed()` takes."""
        return self.admin("GET", "snapshot")

    def faults(self, *rules: Dict[str, Any], seed: Optional[int] = None) -> List[Dict[str, Any]]:
        """With rules: replaces the fault rules (`PUT /_admin/faults`; `seed` seeds the random
        source of `probability`), e.g.
        `faults({"method": "PUT", "path": "/signed/**", "status": 500, "times": 1})` or
        `faults({"job": "SAMPLING", "delayMs": 2000})`. Without: reads them. Returns the rules
        in force, with their remaining `times` (a rule is gone once used up)."""
        if rules:
            body: Dict[str, Any] = {"rules": list(rules)}
            if seed is not None:
                body["seed"] = seed
            return self.admin("PUT", "faults", body=body)["rules"]
        return self.admin("GET", "faults")["rules"]

    def clear_faults(self) -> Any:
        """Removes every fault rule."""
        return self.admin("DELETE", "faults")

    def requests(self, limit: int = 100) -> List[Dict[str, Any]]:
        """The last `limit` requests the server answered, newest first: `time`, `method`,
        `route` (the route pattern), `path` (secrets hidden), `status`, `milliseconds`,
        `requestId`, `bytes`. The admin API's own calls are not listed."""
        return self.admin("GET", "requests", query={"limit": limit})

    def wait_for_request(self, predicate, timeout: float = 5.0) -> Dict[str, Any]:
        """The newest journalled request that satisfies `predicate` (polls; a request shows up
        once its response was sent)."""
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.requests(limit=1000):
                if predicate(entry):
                    return entry
            if time.monotonic() > deadline:
                raise LightlyServerError("no matching request in the journal")
            time.sleep(0.05)
