"""pytest fixtures for a throwaway lightly-server (registered by the `pytest11` entry point).

- `lightly_server` (session scope): one server for the whole run, started on first use and
  stopped at the end. `LIGHTLY_SERVER_LOCATION` and `LIGHTLY_TOKEN` are set in `os.environ`
  for the session (and restored afterwards), so a `lightly.api.ApiWorkflowClient()` created
  anywhere in the tests finds it.
- `lightly_server_fresh` (function scope): the same server, reset before the test (no
  datasets, no jobs, no fault rules), with the two variables set for this test only.

Both yield a `LightlyServer`: `url`, `token`, `reset()`, `seed(doc)`, `snapshot()`,
`faults(...)`, `clear_faults()`, `requests()`.

Options: `--lightly-server-bin PATH` (else `$LIGHTLY_SERVER_BIN`, `PATH`, the repository's
`.build/`), `--lightly-server-arg ARG` (repeatable; extra `serve` flags, e.g.
`--lightly-server-arg=--job-poll-wait=0`).
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from .server import LightlyServer, LightlyServerError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lightly-server")
    group.addoption("--lightly-server-bin", default=None,
                    help="lightly-server executable (default: $LIGHTLY_SERVER_BIN, PATH, .build/)")
    group.addoption("--lightly-server-arg", action="append", default=[],
                    help="extra flag for `lightly-server serve` (repeatable)")


@pytest.fixture(scope="session")
def lightly_server(request: pytest.FixtureRequest) -> Iterator[LightlyServer]:
    """One lightly-server for the test session, with `LIGHTLY_SERVER_LOCATION` and
    `LIGHTLY_TOKEN` set in the environment."""
    try:
        server = LightlyServer.start(binary=request.config.getoption("lightly_server_bin"),
                                     extra_args=request.config.getoption("lightly_server_arg"))
    except LightlyServerError as e:
        pytest.fail(str(e), pytrace=False)
    saved = {k: os.environ.get(k) for k in server.environment}
    os.environ.update(server.environment)
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


@pytest.fixture
def lightly_server_fresh(lightly_server: LightlyServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LightlyServer]:
    """The session's server, emptied before this test (datasets, jobs, blobs, fault rules);
    users and tokens stay, so `token` keeps working."""
    lightly_server.reset()
    _clear_faults(lightly_server)
    for k, v in lightly_server.environment.items():
        monkeypatch.setenv(k, v)
    yield lightly_server
    _clear_faults(lightly_server)


def _clear_faults(server: LightlyServer) -> None:
    """Removes every fault rule; a server without fault injection (404) has none to remove."""
    try:
        server.clear_faults()
    except LightlyServerError as e:
        if e.status != 404:
            raise
