"""Shared helpers for the plugin's own tests. They run in a venv with the real `lightly`
client (no torch: the conformance harness stubs it), pytest and this package installed;
`run.py` next to this file builds that venv and runs them.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "Tests" / "conformance"))

from lightly_harness import import_lightly  # noqa: E402

L = import_lightly()


def rest(server, method: str, path: str, body=None, **query):
    """One call of the v1 API with the server's token; returns the decoded JSON answer."""
    query["token"] = server.token
    url = f"{server.url}{path}?{urllib.parse.urlencode(query)}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip() else None


@pytest.fixture
def client(lightly_server_fresh):
    """A client for a new dataset `plugin-test` on an empty server, with 12 samples (created
    through the API, as releases without upload_dataset must) and an embedding `default`."""
    c = L.ApiWorkflowClient()  # LIGHTLY_SERVER_LOCATION and LIGHTLY_TOKEN come from the fixture
    c.create_dataset("plugin-test")
    names = [f"img_{i:02d}.png" for i in range(12)]
    for name in names:
        rest(lightly_server_fresh, "POST", f"/v1/datasets/{c.dataset_id}/samples",
             {"fileName": name, "metaData": {"sizeInBytes": 100}})
    rest(lightly_server_fresh, "POST", f"/v1/datasets/{c.dataset_id}/tags/initial", {"imgType": "meta"})
    c.test_file_names = names
    return c


def write_embeddings(path: Path, names) -> str:
    """An embeddings CSV in the client's format: one 2-d point per file."""
    lines = ["filenames,embedding_0,embedding_1,labels"]
    lines += [f"{n},{i % 4}.0,{i // 4}.5,0" for i, n in enumerate(names)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def select(client, method: str, n: int, name: str):
    """`client.selection` (1.2.14+) or `client.sampling` (older): one selection job."""
    config = L.SelectionConfig(method=getattr(L.SamplingMethod, method), n_samples=n, name=name)
    fn = getattr(client, "selection", None) or client.sampling
    return fn(config)
