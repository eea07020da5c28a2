"""Helpers shared by the scenario scripts. They run inside a client venv, started by run.py
with these environment variables: LIGHTLY_SERVER_LOCATION, CONFORMANCE_TOKEN (user t1),
CONFORMANCE_TOKEN2 (user t2), CONFORMANCE_WORKDIR (scratch dir).

Scenario scripts print `ok: ...` per passed check and die with a traceback on the first
failed one. Server state is read back through the REST API directly (`rest()`), so the
checks do not depend on client internals that differ between versions.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np
from PIL import Image

from lightly_harness import import_lightly

L = import_lightly()
V = L.version  # (1, 1, 23)
URL = os.environ["LIGHTLY_SERVER_LOCATION"]
TOKEN = os.environ["CONFORMANCE_TOKEN"]
TOKEN2 = os.environ["CONFORMANCE_TOKEN2"]
WORKDIR = os.environ["CONFORMANCE_WORKDIR"]

# 1.1.6-1.1.15: the client's masked_select pairs bit k with list element N-1-k (a bug in the client)
MIRRORED = (1, 1, 6) <= V <= (1, 1, 15)


def ok(msg: str) -> None:
    print(f"ok: {msg}", flush=True)


def check(cond, msg: str, detail=None) -> None:
    if not cond:
        raise AssertionError(msg + ("" if detail is None else f"\n  detail: {detail}"))
    ok(msg)


SOFT_FAILURES = []
STRICT = os.environ.get("LIGHTLY_CONFORMANCE_STRICT") == "1"


class soft:
    """`with soft("what"):` runs an independent block of checks; a failure inside it is
    printed and recorded, the scenario goes on, and main() fails at the end.

    `known_issue="..."` marks a server bug that is reported but not fixed yet: its failure
    prints `KNOWN ISSUE: ...` and is not counted, unless LIGHTLY_CONFORMANCE_STRICT=1. When
    the block passes, a note says the marker can go."""

    def __init__(self, label: str, known_issue: str | None = None):
        self.label, self.known_issue = label, known_issue

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if self.known_issue:
                print(f"note: known issue no longer reproduces, remove its marker: {self.label}", flush=True)
            return False
        if not issubclass(exc_type, Exception):
            return False
        import traceback

        text = "".join(traceback.format_exception(exc_type, exc, tb))
        if self.known_issue and not STRICT:
            print(f"KNOWN ISSUE (not counted): {self.label}: {self.known_issue}\n{text}", flush=True)
            return True
        print(f"FAILED: {self.label}\n{text}", flush=True)
        SOFT_FAILURES.append(self.label)
        return True


def vstr(v=V) -> str:
    return ".".join(map(str, v))


# ---------------------------------------------------------------------------------------------
# REST access to our server (independent of the client)


class HTTPResult:
    def __init__(self, status, body: bytes, url: str):
        self.status, self.body, self.url = status, body, url

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"HTTP {self.status} {self.url.split('?')[0]}: {self.body[:300]!r}"


def http(method: str, url: str, body: bytes | None = None, headers=None) -> HTTPResult:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=60) as resp:
            return HTTPResult(resp.status, resp.read(), url)
    except urllib.error.HTTPError as e:
        return HTTPResult(e.code, e.read(), url)


_USER = object()  # "the current user": TOKEN as it is at call time


def rest(method: str, path: str, token=_USER, query=None, body=None) -> HTTPResult:
    """One API call, token in the query string like the client does it (docs/protocol.md §2).
    `token=None` sends none."""
    token = TOKEN if token is _USER else token
    q = dict(query or {})
    if token is not None:
        q["token"] = token
    url = URL + path + ("?" + urllib.parse.urlencode(q) if q else "")
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    return http(method, url, data, headers)


def get_json(path: str, token=_USER, **query):
    r = rest("GET", path, token, query)
    if r.status != 200:
        raise AssertionError(f"GET {path} should answer 200: {r!r}")
    return r.json()


def dataset(ds_id):
    return get_json(f"/v1/datasets/{ds_id}")


def datasets(token=_USER):
    return get_json("/v1/datasets", token)


def mapping(ds_id, field="fileName"):
    return get_json(f"/v1/datasets/{ds_id}/mappings", field=field)


def tags(ds_id):
    return get_json(f"/v1/datasets/{ds_id}/tags")


def tag_by_name(ds_id, name):
    found = [t for t in tags(ds_id) if t["name"] == name]
    if len(found) != 1:
        raise AssertionError(f"expected exactly one tag named {name!r}, got {len(found)}")
    return found[0]


def embeddings(ds_id):
    return get_json(f"/v1/datasets/{ds_id}/embeddings")


def bit_indices(hex_mask: str) -> list:
    """Canonical reading of a bitmask: ascending positions of the 1-bits (docs/protocol.md §5)."""
    value = int(hex_mask, 16)
    return [i for i in range(value.bit_length()) if value >> i & 1]


def read_stored_csv(ds_id, embedding_id):
    """Fetch the server's stored embedding CSV (readCSVUrl + signed GET) as a list of rows."""
    url = get_json(f"/v1/datasets/{ds_id}/embeddings/{embedding_id}/readCSVUrl")
    r = http("GET", url)
    if r.status // 100 != 2:
        raise AssertionError(f"signed GET of the stored CSV failed: {r!r}")
    return list(csv.reader(io.StringIO(r.body.decode("utf-8"))))


# ---------------------------------------------------------------------------------------------
# the client


def new_client(token=_USER, dataset_id=None):
    client = L.ApiWorkflowClient(token=TOKEN if token is _USER else token, dataset_id=dataset_id)
    client.wait_time_till_next_poll = 0  # first poll right away (Tests/conformance/README.md)
    return client


def client_filenames(client):
    """The client's view of the mapping (`filenames_on_server`, `get_filenames()` in 1.2.x)."""
    if hasattr(client, "get_filenames"):
        return list(client.get_filenames())
    return list(client.filenames_on_server)


def upload(client, ds, mode, **kwargs):
    """upload_dataset, turning the client's per-image failure warnings into a test failure."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.upload_dataset(ds, mode=mode, **kwargs)
    failed = [str(w.message) for w in caught if "fail" in str(w.message).lower()
              or "unsuccessful" in str(w.message).lower()]
    if failed:
        raise AssertionError(f"upload_dataset(mode={mode}) reported failed images:\n  " + "\n  ".join(failed[:10]))


def predictions_needed(agent) -> int:
    """Rows ScorerClassification needs: the agent's unlabeled set up to 1.1.6, its query set
    from 1.1.7 (docs/protocol.md §10)."""
    return len(agent.unlabeled_set) if V <= (1, 1, 6) else len(agent.query_set)


def expect_raises(fn, *exc_types):
    """Run fn, require an exception of one of exc_types (any Exception if none given). Returns it."""
    try:
        fn()
    except (exc_types or Exception) as e:  # noqa: B030
        return e
    raise AssertionError(f"{getattr(fn, '__name__', fn)} should have raised {exc_types or 'an exception'}")


# ---------------------------------------------------------------------------------------------
# images and the LightlyDataset subclass (Tests/conformance/README.md)


def make_images(root: str, names, seed: int, size_range=(8, 48)):
    """Write random RGB PNGs at root/<name>; returns {name: file bytes}."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        h, w = (int(x) for x in rng.integers(size_range[0], size_range[1], size=2))
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(pixels, "RGB").save(path, format="PNG")
        with open(path, "rb") as f:
            out[name] = f.read()
    return out


def pixels(data_or_path) -> np.ndarray:
    src = io.BytesIO(data_or_path) if isinstance(data_or_path, (bytes, bytearray)) else data_or_path
    with Image.open(src) as im:
        return np.asarray(im.convert("RGB"))


class FolderDataset(L.LightlyDataset):
    """A LightlyDataset over image files in sub-folders, without torchvision.

    `__getitem__` returns (PIL image, label, relative filename) like the real one; the client
    closes the image after use, so every call opens the file anew."""

    def __init__(self, input_dir: str, filenames):  # noqa: D401 - no super().__init__ on purpose
        self.input_dir = input_dir
        self.filenames = list(filenames)

    def __len__(self):
        return len(self.filenames)

    def __getitem__(self, index):
        name = self.filenames[index]
        image = Image.open(os.path.join(self.input_dir, name))
        image.load()
        return image.convert("RGB") if image.mode != "RGB" else image, 0, name

    def get_filenames(self):
        return list(self.filenames)

    def get_filepath_from_filename(self, filename, image=None):  # 1.1.14+
        return os.path.join(self.input_dir, filename)


def write_embeddings_csv(path, names, vectors, order):
    """save_embeddings with the rows in `order` (a permutation of range(len(names)))."""
    L.save_embeddings(path, vectors[order], [int(i % 3) for i in order], [names[i] for i in order])


def load_csv_matrix(path):
    """(filenames, float32 matrix) as the server will parse the file save_embeddings wrote."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    cols = [i for i, h in enumerate(header) if h.startswith("embedding_")]
    fi = header.index("filenames")
    names = [r[fi] for r in rows[1:]]
    mat = np.array([[float(r[i]) for i in cols] for r in rows[1:]], dtype=np.float32)
    return names, mat


def embeddings_in_mapping_order(csv_path, files) -> np.ndarray:
    """The float32 matrix of a CSV written by save_embeddings, rows in the server's mapping order."""
    names, matrix = load_csv_matrix(csv_path)
    row_of = {n: i for i, n in enumerate(names)}
    return matrix[[row_of[f] for f in files]]


def default_score_weights(scorer, n, query, preselected):
    """The per-sample weights the server must use for CORAL / ACTIVE_LEARNING by default
    (`uncertainty_margin`; `prediction-margin` for 1.1.0-1.1.6), placed as in docs/selection.md §7:
    1.1.7+ send |Q| values (element j = j-th member of Q by index), 1.1.0-1.1.6 send
    |Q \\ P| values. Returns (weights over all n samples, score name)."""
    old = V <= (1, 1, 6)
    name = "prediction-margin" if old else "uncertainty_margin"
    calc = getattr(scorer, "calculate_scores", None) or scorer._calculate_scores
    values = np.asarray(calc()[name], dtype=np.float64)
    members = sorted(set(query) - set(preselected)) if old else sorted(query)
    w = np.zeros(n)
    w[members] = values
    return w, name


def main(fn):
    """Run a scenario function; print a one-line verdict and exit 0/1."""
    print(f"client lightly {vstr()} against {URL}", flush=True)
    try:
        fn()
    except Exception:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        print("scenario FAILED", flush=True)
        sys.exit(1)
    if SOFT_FAILURES:
        print("scenario FAILED: " + "; ".join(SOFT_FAILURES), flush=True)
        sys.exit(1)
    print("scenario passed", flush=True)
