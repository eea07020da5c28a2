"""Scenario `strict` (releases with strict models, 1.4.8+): a response of every route the
server serves parses into the model this release's generated client names for it.

From 1.4.8 the generated client is built on pydantic models that refuse any field they do not
define (and check patterns, types and required fields): a server that sends one field too
many breaks the client. This scenario

1. reads the routes the server serves from the Routes table of docs/COVERAGE.md (status
   `implemented` or `tested-with-real-client`; that table is checked against the router by
   Tests/LightlyAPITests/CoverageTests.swift);
2. reads, from this release's `lightly/openapi_generated/swagger_client/api/*.py`, the HTTP
   method, path and `_response_types_map['200'|'201']` of every generated operation;
3. builds a dataset with samples, tags, an embedding, scores and a job through the client;
4. calls every served route that the release knows (GETs first, then the writes in an order
   that keeps the fixture usable, deletes last) and deserialises the answer with the
   release's own ApiClient into the named type.

A served route the release knows but this scenario has no request for fails the scenario
(add one to WRITES or QUERY); routes the release does not know are listed and skipped.
"""

import ast
import os
import re

import numpy as np

from common import (L, WORKDIR, FolderDataset, check, get_json, main, make_images, make_scorer, mapping,
                    new_client, ok, rest, select, soft, tag_by_name, upload, write_embeddings_csv)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
N = 12
NAMES = [f"s/{i:02d}.png" for i in range(N)]

# Required query parameters of GET routes (the rest are optional).
QUERY = {
    "/v1/datasets/{}/mappings": {"field": "fileName"},
    "/v1/datasets/{}/samples/{}/readurl": {"type": "full"},
    "/v1/datasets/{}/samples/{}/writeurl": {"isThumbnail": "false"},
    "/v1/datasets/{}/embeddings/writeCSVUrl": {"name": "strict-emb-2"},
    "/v1/versions/pip/latest": {"currentVersion": "1.5.0"},
}


# Routes whose documented answer is an error (the client handles it).
ERROR_ANSWERS = {
    "/v1/datasets/{}/datasource": (404, "404 DATASET_DATASOURCE_UNKNOWN, which clients read as 'no datasource'"),
}


# Answers that do not parse yet: server bugs, each printed as a known issue (counted with
# LIGHTLY_CONFORMANCE_STRICT=1) until it parses. None at present.
KNOWN = {}


def served_routes():
    """(method, pattern with {} placeholders, raw pattern) of the routes the server serves."""
    path = os.path.join(REPO, "docs", "COVERAGE.md")
    with open(path) as f:
        text = f.read()
    section = text.split("## Routes", 1)[1]
    routes = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("Method", "---") or not cells[0].isupper():
            if routes and not line.startswith("|"):
                break
            continue
        method, pattern, status = cells[0], cells[1], cells[2]
        if status in ("implemented", "tested-with-real-client") and pattern.startswith("/"):
            routes.append((method, normalize(pattern), pattern))
    return routes


def normalize(pattern):
    """'/v1/datasets/:datasetId/tags/{tagId}' -> '/v1/datasets/{}/tags/{}'."""
    return re.sub(r"(:[A-Za-z_]\w*|\{[^}]+\})", "{}", pattern.rstrip("/") or "/")


def generated_operations():
    """{(METHOD, normalized path): (operation name, response type for 2xx or None, raw path)}
    read from this release's generated api modules."""
    import lightly.openapi_generated.swagger_client.api as api_pkg

    folder = os.path.dirname(api_pkg.__file__)
    ops = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith("_api.py"):
            continue
        with open(os.path.join(folder, name)) as f:
            src = f.read()
        for m in re.finditer(r"def (\w+)_with_http_info\(.*?call_api\(\s*'([^']+)',\s*'([A-Z]+)'", src, re.S):
            body = m.group(0)
            types = re.search(r"_response_types_map = (\{.*?\})", body, re.S)
            response = None
            if types:
                table = ast.literal_eval(types.group(1))
                response = table.get("200") or table.get("201")
            ops[(m.group(3), normalize(m.group(2)))] = (m.group(1), response, m.group(2))
    return ops


def build_fixture():
    """A dataset with samples, tags, an embedding, scores and a finished job, made by the client."""
    root = os.path.join(WORKDIR, "images")
    make_images(root, NAMES, seed=91)
    client = new_client()
    client.create_dataset("strict-ds")
    ds_id = client.dataset_id
    upload(client, FolderDataset(root, NAMES), "full")
    rng = np.random.default_rng(92)
    csv_path = os.path.join(WORKDIR, "emb.csv")
    write_embeddings_csv(csv_path, NAMES, rng.normal(size=(N, 4)).astype(np.float32), rng.permutation(N))
    client.upload_embeddings(csv_path, name="strict-emb")
    initial = tag_by_name(ds_id, "initial-tag")
    scorer = make_scorer(np.random.default_rng(93).dirichlet(np.ones(3), size=N))
    client.upload_scores(scorer.calculate_scores(), query_tag_id=initial["id"])
    select(client, L.SelectionConfig(n_samples=4, method=L.SamplingMethod.CORESET, name="strict-core"))
    core = tag_by_name(ds_id, "strict-core")
    scores = get_json(f"/v1/datasets/{ds_id}/tags/{initial['id']}/scores")
    jobs = get_json("/v1/jobs")
    fx = {
        "client": client,
        "datasetId": ds_id,
        "datasetName": "strict-ds",
        "tagId": core["id"],
        "initialTagId": initial["id"],
        "coreTagId": core["id"],
        "sampleId": mapping(ds_id, "_id")[0],
        "embeddingId": get_json(f"/v1/datasets/{ds_id}/embeddings")[0]["id"],
        "scoreId": scores[0]["id"] if scores and isinstance(scores[0], dict) else None,
        "jobId": (jobs[0].get("jobId") or jobs[0].get("id")) if jobs else None,
    }
    return fx


def fill(raw_pattern, fx):
    """Replace each {param} / :param of a route pattern by the fixture's id for it."""
    def value(m):
        name = m.group(0).strip("{}:")
        key = {"name": "datasetName", "datasetName": "datasetName"}.get(name, name)
        if fx.get(key) is None:
            raise KeyError(name)
        return str(fx[key])

    return re.sub(r"(:[A-Za-z_]\w*|\{[^}]+\})", value, raw_pattern)


def writes(fx):
    """(method, normalized route, path, body) of the write routes, in an order that keeps the
    fixture usable; each may add ids to fx for the next ones. Deletes come last."""
    init, core = fx["initialTagId"], fx["coreTagId"]
    meta = {"sizeInBytes": 10, "shape": [2, 2, 3]}
    return [
        ("POST", "/v1/datasets", lambda: {"name": "strict-second"}, "secondDatasetId"),
        ("PUT", "/v1/datasets/{}", lambda: {"name": "strict-ds-renamed"}, None),
        ("POST", "/v1/datasets/{}/embeddings/{}/trigger2dEmbeddingsJob", lambda: {"dimensionalityReductionMethod": "PCA"},
         None),
        ("POST", "/v1/datasets/{}/embeddings/{}/sampling",
         lambda: {"newTagName": "strict-sampled", "method": "RANDOM", "rowCount": N,
                  "config": {"stoppingCondition": {"nSamples": 3, "minDistance": -1}}}, "jobId"),
        ("POST", "/v1/datasets/{}/samples", lambda: {"fileName": "extra/late.png", "metaData": meta}, "extraSampleId"),
        ("PUT", "/v1/datasets/{}/samples/{}", lambda: {"customMetaData": {"k": 1}}, None),
        ("PUT", "/v1/datasets/{}/registerDatasetUpload",
         lambda: {"total": N, "processed": N, "uploadMethod": "USER_PIP", "isRegistered": True}, None),
        ("POST", "/v1/datasets/{}/tags/upsize",
         lambda: {"upsizeTagName": "strict-upsize", "upsizeTagCreator": "USER_PIP"}, None),
        ("POST", "/v1/datasets/{}/tags",
         lambda: {"name": "strict-created", "prevTagId": init, "bitMaskData": "0x3", "totSize": N + 1,
                  "creator": "USER_PIP"}, "createdTagId"),
        ("PUT", "/v1/datasets/{}/tags/{}", lambda: {"name": "strict-created-renamed"}, None),
        ("POST", "/v1/datasets/{}/tags/arithmetics",
         lambda: {"tagId1": init, "tagId2": core, "operation": "DIFFERENCE"}, None),
        ("POST", "/v1/datasets/{}/tags/arithmetics/bitmask",
         lambda: {"tagId1": init, "tagId2": core, "operation": "DIFFERENCE"}, None),
        ("POST", "/v1/datasets/{}/tags/{}/scores",
         lambda: {"scoreType": "strict_score", "scores": [0.5] * (N + 1)}, None),
        ("POST", "/v1/datasets/{}/tags/initial", lambda: {"imgType": "full", "creator": "USER_PIP"}, None),
        ("POST", "/v1/datasets/{}/collaboration/access",
         lambda: {"accessType": "WRITE", "users": ["strict-peer@example.com"]}, "accessConfigId"),
        ("DELETE", "/v1/datasets/{}/collaboration/access/{}", None, None),
        ("DELETE", "/v1/datasets/{}/tags/{}", None, None),
        ("DELETE", "/v1/datasets/{}", None, None),
    ]


def concrete(route, raw, fx):
    """The path a write goes to: its own tag/sample/dataset where the fixture's must stay."""
    over = dict(fx)
    if route in ("/v1/datasets/{}/tags/{}",):
        over["tagId"] = fx.get("createdTagId")
    if route == "/v1/datasets/{}/samples/{}":
        over["sampleId"] = fx.get("extraSampleId") or fx["sampleId"]
    if route == "/v1/datasets/{}/tags/{}/scores":
        over["tagId"] = fx["initialTagId"]
    if route in ("/v1/datasets/{}/tags/initial",) or (route == "/v1/datasets/{}" and raw[0] == "DELETE"):
        over["datasetId"] = fx.get("secondDatasetId")
    return fill(raw[1], over)


def scenario():
    served = served_routes()
    check(len(served) > 20, f"docs/COVERAGE.md lists {len(served)} served routes")
    ops = generated_operations()
    check(len(ops) > 50, f"this release generates {len(ops)} operations")
    fx = build_fixture()
    api_client = fx["client"]._tags_api.api_client
    deserialize = api_client._ApiClient__deserialize
    # The requests go out with this release's User-Agent, as the client's own would: the
    # server answers some routes (tag arithmetics) by it.
    user_agent = {"User-Agent": api_client.user_agent}
    unknown, done = [], []
    missing = []

    def parse(method, route, path, r, response_type):
        if r.status // 100 != 2:
            raise AssertionError(f"{method} {path} answered {r!r}")
        if response_type is None or not r.body:
            return None
        try:  # like the client's ApiClient.deserialize: JSON, else the raw text
            data = r.json()
        except ValueError:
            data = r.body.decode("utf-8")
        try:
            return deserialize(data, response_type)
        except Exception as e:  # noqa: BLE001 - any refusal by the model is the finding
            raise AssertionError(f"{method} {route}: the answer does not parse as {response_type}: "
                                 f"{type(e).__name__}: {str(e)[:400]}\n  body: {r.body[:300]!r}") from None

    # GETs
    for method, route, raw in served:
        if method != "GET":
            continue
        op = ops.get((method, route))
        if op is None:
            unknown.append(f"{method} {raw}")
            continue
        try:
            path = fill(raw, {**fx, "tagId": fx["initialTagId"]} if "/scores" in route else fx)
        except KeyError as e:
            missing.append(f"{method} {raw}: no fixture value for {e}")
            continue
        if route in ERROR_ANSWERS:
            r = rest(method, path, query=QUERY.get(route, {}), headers=user_agent)
            check(r.status == ERROR_ANSWERS[route][0], f"{method} {raw}: {ERROR_ANSWERS[route][1]}", r)
            continue
        with soft(f"{method} {raw} -> {op[1]}", known_issue=KNOWN.get((method, route))):
            r = rest(method, path, query=QUERY.get(route, {}), headers=user_agent)
            parse(method, route, path, r, op[1])
            done.append(f"{method} {raw}")
            ok(f"{method} {raw}: parses as {op[1]} ({op[0]})")

    # writes
    served_writes = {(m, r): raw for m, r, raw in served if m != "GET"}
    recipes = {(m, r): (body, key) for m, r, body, key in writes(fx)}
    for (method, route), raw in served_writes.items():
        if (method, route) not in recipes and (method, route) in ops:
            missing.append(f"{method} {raw}: no request in WRITES")
    for method, route, body_fn, key in writes(fx):
        raw = served_writes.get((method, route))
        op = ops.get((method, route))
        if raw is None or op is None:
            if raw is not None:
                unknown.append(f"{method} {raw}")
            continue
        with soft(f"{method} {raw} -> {op[1]}", known_issue=KNOWN.get((method, route))):
            if route == "/v1/datasets/{}/tags/initial":  # a fresh dataset needs a sample first
                rest("POST", f"/v1/datasets/{fx['secondDatasetId']}/samples",
                     body={"fileName": "a.png", "metaData": {"sizeInBytes": 1}})
            path = concrete(route, (method, raw), fx)
            r = rest(method, path, body=body_fn() if body_fn else None, headers=user_agent)
            parsed = parse(method, route, path, r, op[1])
            if key and parsed is not None:
                fx[key] = getattr(parsed, "id", None) or getattr(parsed, "job_id", None)
            done.append(f"{method} {raw}")
            ok(f"{method} {raw}: parses as {op[1]} ({op[0]})")
    for item in unknown:
        ok(f"skipped, not in this release's generated client: {item}")
    with soft("every served route this release knows was exercised"):
        check(not missing, "no served route without a request", "\n  ".join(missing))
    ok(f"{len(done)} routes answered and parsed into the strict models")


if __name__ == "__main__":
    main(scenario)
