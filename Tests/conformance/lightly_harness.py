"""Shared helpers for running the real `lightly` pip client against lightly-server.

Stdlib only at import time, so both the runner (any python3 >= 3.9) and the scripts that
run inside a client venv can import it. The API is deliberately small:

    install_torch_stubs()        -> None    make torch & co. importable as mocks
    import_lightly()             -> Lightly namespace of the client classes (calls the above);
                                    era-specific names resolved by what the release has
    client_version()             -> (major, minor, patch) of the installed lightly
    ServerProcess(binary, data_dir=None, extra_args=())
        .start() / .stop()       start `serve --port 0 [extra_args]`, read the port; SIGTERM, wait
        .url                     "http://127.0.0.1:<port>" (no trailing slash)
        .create_token(name)      `lightly-server token create --data-dir DIR --name NAME`
        .create_user_token(e)    `user create --email E`, then `token create --user E`
        .client_env(token)       env vars for a client subprocess (LIGHTLY_SERVER_LOCATION, NO_PROXY, ...)
        context manager          `with ServerProcess(bin) as s: ...` starts and stops
    pip_requirements(version)    -> list of pip arguments for a client venv

Nothing here knows about any particular test scenario.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types

__all__ = [
    "install_torch_stubs",
    "import_lightly",
    "client_version",
    "parse_version",
    "pip_requirements",
    "ServerProcess",
    "ServerError",
]

# ---------------------------------------------------------------------------------------------
# Client versions and their pip requirements


def parse_version(text: str) -> tuple:
    """'1.1.23' -> (1, 1, 23). Extra suffixes are ignored."""
    parts = re.findall(r"\d+", text)[:3]
    if len(parts) != 3:
        raise ValueError(f"not a X.Y.Z version: {text!r}")
    return tuple(int(p) for p in parts)


def pip_requirements(version: str) -> list:
    """The pip install steps for one client version, as a list of argument lists.

    Every step is run as `pip install <args>`; the client itself goes in with --no-deps so
    torch, torchvision, pytorch-lightning and hydra are never pulled in. The generated client
    of 1.4.8+ is built on pydantic (v1 API; `<2` until 1.5.8, which use `pydantic.v1` when
    they find v2) and aenum.
    """
    v = parse_version(version)
    base = ["numpy<2", "requests", "tqdm", "six", "python-dateutil", "urllib3", "certifi", "pillow"]
    if v >= (1, 4, 8):
        base += ["pydantic>=1.10.5,<2" if v < (1, 5, 9) else "pydantic>=1.10.17", "aenum>=3.1.11"]
    steps = [base, ["--no-deps", f"lightly=={version}"]]
    if v >= (1, 1, 8):
        steps.append(["--no-deps", "lightly-utils==0.0.2"])
    if v >= (1, 2, 11):  # the client module imports lightly.cli, which needs yaml
        steps.append(["pyyaml"])
    return steps


# ---------------------------------------------------------------------------------------------
# Importing lightly without torch

_STUBBED = ("torch", "torchvision", "pytorch_lightning", "lightning_utilities", "hydra", "omegaconf")
_STUB_VERSIONS = {"torch": "2.0.0", "torchvision": "0.15.0", "pytorch_lightning": "1.9.0", "hydra": "1.3.2",
                  "omegaconf": "2.3.0"}


def _stub_classes():
    """MagicMock with one addition: used as a base class (`class BYOL(nn.Module, Mixin)`, which
    lightly 1.2.11+ reach at import through lightly.cli) it stands in for a real, permissive
    class instead of causing a metaclass conflict (PEP 560 `__mro_entries__`)."""
    import abc
    from unittest import mock

    class StubMeta(abc.ABCMeta):
        def __getattr__(cls, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            return StubMock(name=f"{cls.__name__}.{name}")

    class StubBase(metaclass=StubMeta):
        def __init__(self, *args, **kwargs):
            pass

    class StubMock(mock.MagicMock):
        def __mro_entries__(self, bases):
            return (StubBase,)

    return StubMock


class _StubLoader(importlib.abc.Loader):
    _mock_class = None

    def create_module(self, spec):
        if _StubLoader._mock_class is None:
            _StubLoader._mock_class = _stub_classes()
        module = _StubLoader._mock_class(name=spec.name)
        module.__path__ = []
        module.__spec__ = spec
        module.__name__ = spec.name
        module.__loader__ = self
        # Some releases compare versions at import (1.2.3x: `hydra.__version__`).
        module.__version__ = _STUB_VERSIONS.get(spec.name, "0.0.0")
        return module

    def exec_module(self, module):
        pass


class _StubFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in _STUBBED:
            return importlib.machinery.ModuleSpec(fullname, _StubLoader(), is_package=True)
        return None


def install_torch_stubs() -> None:
    """Put a meta-path finder first that answers every torch/torchvision/pytorch_lightning/
    hydra/omegaconf import with an empty package-like MagicMock (one that can also serve as a
    base class), and set the builtin
    `__LIGHTLY_SETUP__` so `import lightly` skips its heavy sub-packages and the import-time
    version check. Idempotent."""
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())
    builtins.__LIGHTLY_SETUP__ = True


def client_version() -> tuple:
    """Version of the installed lightly package, read from its metadata (no import)."""
    from importlib import metadata

    return parse_version(metadata.version("lightly"))


def _optional(module: str, name: str):
    """`module.name`, or None when this client release does not have it."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def import_lightly(stub_torch: bool = True) -> types.SimpleNamespace:
    """Import the client pieces the scenarios use and return them in a namespace. Names that
    changed between releases are looked up by what the installed release has, never by a
    version number:

    ApiWorkflowClient; SelectionConfig (`SamplerConfig` up to 1.2.13, `SelectionConfig` from
    1.2.14; `SamplerConfig` is kept as an alias of the same class); ActiveLearningAgent and
    ScorerClassification (None from 1.4.7, which dropped them); SamplingMethod, BitMask,
    LightlyDataset, save_embeddings, ApiException, version (tuple).

    `stub_torch=False` imports against a real torch stack (the pip recipes of
    clients/python/) instead of the stubs.
    """
    if stub_torch:
        install_torch_stubs()
    import io
    import contextlib

    m = importlib.import_module
    # `import lightly` prints a "partial import" line, and `lightly.__init__` is imported a
    # second time under that name by the client module: keep both quiet.
    with contextlib.redirect_stdout(io.StringIO()):
        package = m("lightly")
        if stub_torch:
            # Defined only outside setup mode, and read at import by modules the client pulls
            # in (lightly.embedding 1.2.11+, lightly.models.modules 1.2.2x+, timm 1.4.2x).
            if not hasattr(package, "_is_prefetch_generator_available"):
                package._is_prefetch_generator_available = lambda: False
            for flag in ("_prefetch_generator_available", "_torchvision_vit_available", "_timm_available"):
                if not hasattr(package, flag):
                    setattr(package, flag, False)
            if (1, 2, 11) <= client_version() and _has_module("lightly.cli"):
                m("lightly.cli")  # the order of a full import; the client module alone is circular
        selection = (_optional("lightly.active_learning.config.selection_config", "SelectionConfig")
                     or _optional("lightly.active_learning.config.sampler_config", "SamplerConfig"))
        api_exception = (_optional("lightly.openapi_generated.swagger_client.rest", "ApiException")
                         or _optional("lightly.openapi_generated.swagger_client.exceptions", "ApiException"))
        return types.SimpleNamespace(
            ApiWorkflowClient=m("lightly.api.api_workflow_client").ApiWorkflowClient,
            SelectionConfig=selection,
            SamplerConfig=selection,
            ActiveLearningAgent=_optional("lightly.active_learning.agents.agent", "ActiveLearningAgent"),
            ScorerClassification=_optional("lightly.active_learning.scorers.classification", "ScorerClassification"),
            SamplingMethod=m("lightly.openapi_generated.swagger_client.models.sampling_method").SamplingMethod,
            BitMask=m("lightly.api.bitmask").BitMask,
            LightlyDataset=m("lightly.data.dataset").LightlyDataset,
            save_embeddings=m("lightly.utils.io").save_embeddings,
            ApiException=api_exception,
            version=client_version(),
        )


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# The server process

_LISTEN_RE = re.compile(r"listening on (https?://[^\s]+)")


class ServerError(RuntimeError):
    pass


class ServerProcess:
    """A real `lightly-server serve` process on 127.0.0.1, port 0, with its own data dir.

    The data dir is a fresh temporary directory unless one is given; a temporary one is
    removed by stop(). `extra_args` are appended to the `serve` command line (for example
    `["--job-poll-wait", "0"]`). The server's stdout/stderr are collected in `self.log` (a
    list of lines) for diagnostics.
    """

    def __init__(self, binary: str, data_dir: str | None = None, host: str = "127.0.0.1",
                 startup_timeout: float = 30.0, extra_args=()):
        self.binary = os.path.abspath(binary)
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="lightly-conformance-")
        self.host = host
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.url = None
        self.proc = None
        self.log = []
        self.exit_code = None
        self._readers = []

    # -- lifecycle
    def start(self) -> "ServerProcess":
        cmd = [self.binary, "serve", "--data-dir", self.data_dir, "--host", self.host, "--port", "0",
               *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, bufsize=1)
        found = threading.Event()

        def pump(stream, tag):
            for line in stream:
                line = line.rstrip("\n")
                self.log.append(f"[{tag}] {line}")
                if self.url is None:
                    match = _LISTEN_RE.search(line)
                    if match:
                        self.url = match.group(1).rstrip("/")
                        found.set()

        for stream, tag in ((self.proc.stdout, "out"), (self.proc.stderr, "err")):
            t = threading.Thread(target=pump, args=(stream, tag), daemon=True)
            t.start()
            self._readers.append(t)
        deadline = time.monotonic() + self.startup_timeout
        while self.url is None:
            if self.proc.poll() is not None:
                time.sleep(0.1)  # let the readers drain
                raise ServerError(f"server exited with {self.proc.returncode} before listening:\n"
                                  + "\n".join(self.log[-40:]))
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError("no 'listening on http://...' line within "
                                  f"{self.startup_timeout}s:\n" + "\n".join(self.log[-40:]))
            found.wait(0.05)
        return self

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM the server and wait. Returns its exit code (SIGKILL after `timeout`,
        which is reported as -9)."""
        if self.proc is not None and self.exit_code is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    self.log.append(f"[harness] no exit {timeout}s after SIGTERM: killed")
            for t in self._readers:
                t.join(2)
            self.exit_code = self.proc.returncode
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.exit_code

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- helpers
    def create_token(self, name: str) -> str:
        """Create a user/token with the CLI (works while the server runs)."""
        res = subprocess.run([self.binary, "token", "create", "--data-dir", self.data_dir, "--name", name],
                             capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise ServerError(f"token create exited {res.returncode}: {res.stderr.strip()}")
        lines = [line.strip() for line in res.stdout.splitlines() if line.strip()]
        if len(lines) != 1:
            raise ServerError(f"token create should print the token alone, got: {res.stdout!r}")
        return lines[0]

    def create_user_token(self, email: str) -> str:
        """Create a user with an e-mail (`user create --email`) and issue its token
        (`token create --user`); returns the token."""
        res = subprocess.run([self.binary, "user", "create", "--data-dir", self.data_dir, "--email", email],
                             capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise ServerError(f"user create exited {res.returncode}: {res.stderr.strip()}")
        res = subprocess.run([self.binary, "token", "create", "--data-dir", self.data_dir, "--user", email],
                             capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise ServerError(f"token create --user exited {res.returncode}: {res.stderr.strip()}")
        lines = [line.strip() for line in res.stdout.splitlines() if line.strip()]
        if len(lines) != 1:
            raise ServerError(f"token create should print the token alone, got: {res.stdout!r}")
        return lines[0]

    def client_env(self, token: str | None = None, base: dict | None = None) -> dict:
        """Environment for a client process pointed at this server."""
        env = dict(os.environ if base is None else base)
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            env.pop(k, None)
        env["LIGHTLY_SERVER_LOCATION"] = self.url
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        if token is not None:
            env["LIGHTLY_TOKEN"] = token
        return env
