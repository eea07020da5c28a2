"""A `lightly-server serve` process for the Python benchmarks (memory, job, ingest).

    server = Server(binary, data_dir, ["--max-dataset-samples", "1000000"])
    server.start()            # waits for "listening on", sets host, port, url, token, pid
    ...
    server.stop()

    call = ApiCaller(server, token)   # JSON calls on one kept-alive connection
    ds = call("POST", "/v1/datasets", {"name": "bench"})["id"]
"""
import http.client
import json
import re
import subprocess
import sys
import threading
import urllib.parse


class Server:
    def __init__(self, binary, data, args=()):
        self.binary, self.data, self.args = binary, data, list(args)
        self.proc = None
        self.log = []
        self.token = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=60):
        """Starts `serve --port 0` on the data folder; the output goes to `self.log`. A first
        start prints the token (`self.token`); later starts keep the earlier one."""
        self.log = []
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data-dir", self.data, "--host", "127.0.0.1", "--port", "0"] + self.args,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        found, where = threading.Event(), {}

        def pump():
            for line in self.proc.stdout:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"export LIGHTLY_TOKEN=(\S+)", line)
                if m:
                    self.token = m.group(1)
                m = re.search(r"listening on (https?://\S+)", line)
                if m and not found.is_set():
                    where["url"] = m.group(1).rstrip("/")
                    found.set()
        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(timeout):
            self.proc.kill()
            sys.exit("server did not start:\n" + "\n".join(self.log[-30:]))
        self.url = where["url"]
        u = urllib.parse.urlsplit(self.url)
        self.host, self.port = u.hostname, u.port

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


class ApiCaller:
    """Authenticated JSON calls to the API over one kept-alive connection, reopened once when the
    server dropped it. A non-2xx answer ends the benchmark (`SystemExit` with status and body).
    The address is read from `server` when a connection opens, so it follows a restart on a new
    port (call `close()` after stopping the server)."""

    def __init__(self, server, token, timeout=3600):
        self.server, self.token, self.timeout = server, token, timeout
        self.conn = None

    def __call__(self, method, path, body=None, query=None, want_headers=False, raw=None):
        """The decoded JSON answer (None for an empty body); with `want_headers`, also the
        `X-Lightly-Job-Phases` header. `raw` sends those bytes instead of `body` as JSON."""
        q = dict(query or {}, token=self.token)
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=self.timeout)
            try:
                self.conn.request(method, path + "?" + urllib.parse.urlencode(q), body=payload,
                                  headers={"Content-Type": "application/json"} if payload else {})
                r = self.conn.getresponse()
                text = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.status // 100 != 2:
            raise SystemExit(f"{method} {path}: {r.status} {text[:500]!r}")
        out = json.loads(text) if text else None
        return (out, r.getheader("X-Lightly-Job-Phases")) if want_headers else out

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
