"""A `lightly-server serve` process for the Python benchmarks (memory, job, ingest).

    server = Server(binary, data_dir, ["--max-dataset-samples", "1000000"])
    server.start()            # waits for "listening on", sets host, port, url, token, pid
    ...
    server.stop()
"""
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
