"""Helpers shared by the scenario scripts. They run inside a client venv, started by run.py
with these environment variables: LIGHTLY_SERVER_LOCATION, CONFORMANCE_TOKEN (user t1),
CONFORMANCE_TOKEN2 (user t2), CONFORMANCE_WORKDIR (scratch dir).

Scenario scripts print `ok: ...` per passed check and die with a traceback on the first
failed one. Server state is read back through the REST API directly (`rest()`), so the
checks do not depend on client internals that differ between versions.
"""

from __future__ import annotations

import csv
import importlib
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

# CONFORMANCE_REAL_TORCH=1 (run.py --constraints): the venv has the real torch stack.
L = import_lightly(stub_torch=os.environ.get("CONFORMANCE_REAL_TORCH") != "1")
V = L.version  # (1, 1, 23)
URL = os.environ["LIGHTLY_SERVER_LOCATION"]
TOKEN = os.environ["CONFORMANCE_TOKEN"]
TOKEN2 = os.environ["CONFORMANCE_TOKEN2"]
WORKDIR = os.environ["CONFORMANCE_WORKDIR"]

# 1.1.6-1.1.15: the client's masked_select pairs bit k with list element N-1-k (its BitMask
# reads the hex string from the wrong end; fixed in 1.1.16)
MIRRORED = (1, 1, 6) <= V <= (1, 1, 15)

# The client retries failed calls with exponential backoff up to 32 s (5 tries, ~31 s per call
# that is meant to fail, e.g. with an unknown token). Capping the backoff at 1 s keeps the
# retries and only shortens the waits.
_utils = importlib.import_module("lightly.api.utils")
if hasattr(_utils, "RETRY_MAX_BACKOFF"):
    _utils.RETRY_MAX_BACKOFF = 1

# What the installed release has, read from the release itself (never from a version table):
HAS_AGENT = L.ActiveLearningAgent is not None              # up to 1.4.6


def _upload_dataset_usable() -> bool:
    """upload_dataset exists up to 1.4.12, but 1.4.8-1.4.12 cannot run it: they call
    `register_dataset_upload_by_id(job_status_meta, self.dataset_id)` while their (new)
    generated API takes `(dataset_id, job_status_meta)`, so pydantic refuses the call before
    any request is sent. A client bug; the harness adds samples through the generated API there."""
    import inspect
    import re

    if not hasattr(L.ApiWorkflowClient, "upload_dataset"):
        return False
    source = inspect.getsource(inspect.getmodule(L.ApiWorkflowClient.upload_dataset))
    api = importlib.import_module("lightly.openapi_generated.swagger_client.api.datasets_api").DatasetsApi
    if not hasattr(api, "register_dataset_upload_by_id"):  # before 1.1.17
        return True
    first = list(inspect.signature(api.register_dataset_upload_by_id).parameters)[1]
    return not (first == "dataset_id" and re.search(r"register_dataset_upload_by_id\(\s*job_status_meta,", source))


HAS_UPLOAD_DATASET = _upload_dataset_usable()  # up to 1.4.7 (and present but broken in 1.4.8-1.4.12)
# 1.4.8+: pydantic models that refuse fields they do not define
STRICT_MODELS = hasattr(importlib.import_module("lightly.openapi_generated.swagger_client.models.tag_data").TagData,
                        "parse_obj")


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


# Every 4xx/5xx in the server's access log must be declared here, or the runner fails the
# scenario: one JSON line per declaration {method, path (a regex on the path without the
# query), statuses, why}. The harness's own requests (`http`, `rest`) declare the errors
# they get, since the scenario checks those statuses itself.
EXPECTED_ERRORS_FILE = os.path.join(WORKDIR, "expected-http-errors.jsonl")


def expect_http_error(method: str, path_regex: str, statuses, why: str, known_issue: bool = False) -> None:
    """Declare that the client will make the server answer `statuses` (an int or a list) to
    `method` on paths matching `path_regex` (full match, query excluded), and why that is
    expected. Undeclared 4xx/5xx answers fail the scenario (checked by run.py).
    `known_issue=True`: the answer is a server bug already reported; tolerated unless
    LIGHTLY_CONFORMANCE_STRICT=1, like `soft(..., known_issue=...)`."""
    statuses = [statuses] if isinstance(statuses, int) else list(statuses)
    with open(EXPECTED_ERRORS_FILE, "a") as f:
        f.write(json.dumps({"method": method, "path": path_regex, "statuses": statuses, "why": why,
                            "known_issue": known_issue}) + "\n")


ID = "[0-9a-f]{24}"
# Documented answers every scenario may see:
expect_http_error("GET", f"/+v1/datasets/{ID}/datasource", 404,
                  "1.2.10+ ask for the dataset's datasource when uploading/downloading; 404 means 'none', "
                  "which the client handles")


def http(method: str, url: str, body: bytes | None = None, headers=None) -> HTTPResult:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=60) as resp:
            return HTTPResult(resp.status, resp.read(), url)
    except urllib.error.HTTPError as e:
        path = urllib.parse.urlsplit(url).path
        import re

        expect_http_error(method, re.escape(path), e.code, "requested by the harness, which checks the status")
        return HTTPResult(e.code, e.read(), url)


_USER = object()  # "the current user": TOKEN as it is at call time


def rest(method: str, path: str, token=_USER, query=None, body=None, headers=None) -> HTTPResult:
    """One API call, token in the query string like the client does it.
    `token=None` sends none; `headers` are added (e.g. the client's User-Agent)."""
    token = TOKEN if token is _USER else token
    q = dict(query or {})
    if token is not None:
        q["token"] = token
    url = URL + path + ("?" + urllib.parse.urlencode(q) if q else "")
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    return http(method, url, data, sent)


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
    """Canonical reading of a bitmask: ascending positions of the 1-bits (bit i = sample i in
    mapping order)."""
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
    client.wait_time_till_next_poll = 0  # first poll right away instead of after a second
    return client


def select(client, config, preselected_tag_id=None, query_tag_id=None):
    """`client.sampling` (up to 1.2.13) or `client.selection` (1.2.14+): one selection job,
    returns the client's TagData of the new tag."""
    fn = getattr(client, "selection", None) or client.sampling
    return fn(config, preselected_tag_id=preselected_tag_id, query_tag_id=query_tag_id)


def new_agent(client, preselected_tag_name=None, query_tag_name=None):
    """ActiveLearningAgent (up to 1.4.6). 1.4.6 made `query_tag_name` required: it gets
    'initial-tag' there unless given, which is what older releases default to."""
    import inspect

    kwargs = {}
    param = inspect.signature(L.ActiveLearningAgent.__init__).parameters.get("query_tag_name")
    if query_tag_name is not None:
        kwargs["query_tag_name"] = query_tag_name
    elif param is not None and param.default is inspect.Parameter.empty:
        kwargs["query_tag_name"] = "initial-tag"
    if preselected_tag_name is not None:
        kwargs["preselected_tag_name"] = preselected_tag_name
    return L.ActiveLearningAgent(client, **kwargs)


class NumpyClassificationScorer:
    """The three classification scores of the client's ScorerClassification (removed in
    1.4.7), computed the same way: least confidence, margin and entropy of softmax rows."""

    def __init__(self, model_output):
        self.model_output = np.asarray(model_output, dtype=np.float64)

    def calculate_scores(self):
        p = self.model_output
        top2 = np.sort(p, axis=1)[:, -2:]
        logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
        return {
            "uncertainty_least_confidence": (1 - top2[:, 1]) / (1 - 1 / p.shape[1]),
            "uncertainty_margin": 1 - (top2[:, 1] - top2[:, 0]),
            "uncertainty_entropy": -np.sum(p * logs, axis=1) / np.log2(p.shape[1]),
        }


def make_scorer(model_output):
    """ScorerClassification where the release has it, else the numpy equivalent."""
    if L.ScorerClassification is not None:
        return L.ScorerClassification(model_output)
    return NumpyClassificationScorer(model_output)


def client_filenames(client):
    """The client's view of the mapping (`filenames_on_server`, `get_filenames()` in 1.2.x)."""
    if hasattr(client, "get_filenames"):
        return list(client.get_filenames())
    return list(client.filenames_on_server)


def upload(client, ds, mode, **kwargs):
    """upload_dataset, turning the client's per-image failure warnings into a test failure.
    Releases without upload_dataset (1.4.13+) add the samples through their generated API
    instead (`ingest_via_api`)."""
    if not HAS_UPLOAD_DATASET:
        return ingest_via_api(client, ds, mode, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.upload_dataset(ds, mode=mode, **kwargs)
    failed = [str(w.message) for w in caught if "fail" in str(w.message).lower()
              or "unsuccessful" in str(w.message).lower()]
    if failed:
        raise AssertionError(f"upload_dataset(mode={mode}) reported failed images:\n  " + "\n  ".join(failed[:10]))


def _model(name):
    import importlib

    module = importlib.import_module("lightly.openapi_generated.swagger_client.models." + name)
    return getattr(module, "".join(part.capitalize() for part in name.split("_")))


def ingest_via_api(client, ds, mode, custom_metadata=None):
    """What upload_dataset did, for releases that dropped it: one `POST samples` per image
    through the release's generated SamplesApi (with metaData, and for mode full the image
    PUT to its signed write URL), then `POST tags/initial`. Thumbnails are not made here:
    mode thumbnails uploads the full image and tags the dataset `thumbnail`."""
    import requests

    samples_api, tags_api = client._samples_api, client._tags_api
    SampleCreateRequest, SampleMetaData = _model("sample_create_request"), _model("sample_meta_data")
    custom = {}
    if custom_metadata:
        by_id = {m["image_id"]: m for m in custom_metadata["metadata"]}
        custom = {im["file_name"]: by_id.get(im["id"]) for im in custom_metadata["images"]}
    for index in range(len(ds)):
        image, _, name = ds[index]
        path = ds.get_filepath_from_filename(name)
        size = os.path.getsize(path)
        meta = SampleMetaData(size_in_bytes=size,
                              shape=[image.height, image.width, 3])
        request = SampleCreateRequest(file_name=name, meta_data=meta, custom_meta_data=custom.get(name))
        sample_id = samples_api.create_sample_by_dataset_id(dataset_id=client.dataset_id,
                                                           sample_create_request=request).id
        if mode != "metadata":
            url = samples_api.get_sample_image_write_url_by_id(dataset_id=client.dataset_id, sample_id=sample_id,
                                                               is_thumbnail=False)
            with open(path, "rb") as f:
                r = requests.put(url, data=f.read())
            if r.status_code != 200:
                raise AssertionError(f"PUT of {name} to its signed write URL answered {r.status_code}")
    if not tags(client.dataset_id):
        request = _model("initial_tag_create_request")(img_type={"full": "full", "thumbnails": "thumbnail",
                                                                 "metadata": "meta"}[mode])
        tags_api.create_initial_tag_by_dataset_id(dataset_id=client.dataset_id, initial_tag_create_request=request)


def download_dir(out: str, names) -> str:
    """Create `out` and the sub-folders of `names` before download_dataset writes there.
    download_dataset (1.2.2x+) saves with 8 threads and creates a missing folder with
    `if not os.path.exists(d): os.makedirs(d)`: two threads for the same new folder race,
    one gets FileExistsError and the image is lost (a client bug). Existing folders avoid it."""
    for name in names:
        os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
    return out


def predictions_needed(agent) -> int:
    """Rows ScorerClassification needs: the agent's unlabeled set up to 1.1.6, its query set
    from 1.1.7."""
    return len(agent.unlabeled_set) if V <= (1, 1, 6) else len(agent.query_set)


def expect_raises(fn, *exc_types):
    """Run fn, require an exception of one of exc_types (any Exception if none given). Returns it."""
    try:
        fn()
    except (exc_types or Exception) as e:  # noqa: B030
        return e
    raise AssertionError(f"{getattr(fn, '__name__', fn)} should have raised {exc_types or 'an exception'}")


# ---------------------------------------------------------------------------------------------
# images and the LightlyDataset subclass


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
    (`uncertainty_margin`; `prediction-margin` for 1.1.0-1.1.6), placed the way the release
    sends them: 1.1.7+ send |Q| values (element j = j-th member of the query tag Q by index),
    1.1.0-1.1.6 send |Q \\ P| values (one per sample not preselected). Returns (weights over
    all n samples, score name)."""
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
