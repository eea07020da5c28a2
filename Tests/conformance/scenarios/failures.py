"""Scenario `failures` (all versions): bad embedding CSVs leave the dataset unchanged, an
unknown token gives 401, a FAILED job surfaces its error text, and user t2 cannot see or
read user t1's dataset."""

import os
import re
import subprocess
import time

import numpy as np

from common import (ID, TOKEN2, WORKDIR, L, V, check, dataset, datasets, embeddings, expect_http_error, expect_raises,
                    get_json, http, main, mapping, new_client, ok, rest, select, soft, tags, write_embeddings_csv)
from seed import seed_dataset

N, D = 40, 8


def state(ds_id):
    """What must not change: the mapping, the tags, and the processed embeddings."""
    processed = [(e["id"], e["name"]) for e in embeddings(ds_id) if e["isProcessed"]]
    return mapping(ds_id), mapping(ds_id, "_id"), [(t["id"], t["bitMaskData"]) for t in tags(ds_id)], processed


def status_of(e):
    """The HTTP status of an ApiException, also when 1.4.x+ wrap it in RuntimeError('Maximum
    retries exceeded')."""
    while e is not None and not isinstance(e, L.ApiException):
        e = e.__cause__
    return getattr(e, "status", None)


def declare_expected_errors():
    """What this scenario provokes on purpose through the client."""
    any_path = "/.*"
    expect_http_error("GET", any_path, 401, "unknown and revoked tokens")
    expect_http_error("POST", any_path, 401, "unknown and revoked tokens")
    expect_http_error("PUT", r"/signed/csv/.*", 400, "the client uploads a CSV holding a NaN")
    expect_http_error("POST", f"/v1/datasets/{ID}/embeddings/{ID}/sampling", 400,
                      "a selection on the embedding whose CSV was refused")
    expect_http_error("GET", f"/v1/datasets/{ID}(/.*)?", 404, "user t2's client reading user t1's dataset")


def scenario():
    declare_expected_errors()
    client, names, vectors = seed_dataset("fail", n=N, d=D, seed=31)
    ds_id = client.dataset_id
    good_embedding = client.embedding_id
    before = state(ds_id)
    rng = np.random.default_rng(1)

    # --- a NaN in the CSV: the server refuses the upload, the client raises
    bad = vectors.copy()
    bad[3, 2] = np.nan
    nan_csv = os.path.join(WORKDIR, "nan.csv")
    write_embeddings_csv(nan_csv, names, bad, rng.permutation(N))
    e = expect_raises(lambda: new_client(dataset_id=ds_id).upload_embeddings(nan_csv, name="emb-nan"))
    ok(f"upload_embeddings with a NaN raises {type(e).__name__}: {str(e)[:120]}")
    check(state(ds_id) == before, "after the NaN CSV: mapping, tags and processed embeddings unchanged")
    leftover = [x for x in embeddings(ds_id) if x["name"] == "emb-nan"]
    check(all(x["isProcessed"] is False for x in leftover), "the NaN embedding is not marked processed", leftover)

    # --- an unknown filename: the client refuses before sending anything
    unknown_csv = os.path.join(WORKDIR, "unknown.csv")
    write_embeddings_csv(unknown_csv, names[:-1] + ["nope/unknown.png"], vectors, rng.permutation(N))
    e = expect_raises(lambda: new_client(dataset_id=ds_id).upload_embeddings(unknown_csv, name="emb-unknown"))
    ok(f"upload_embeddings with an unknown filename raises {type(e).__name__}")
    check(state(ds_id) == before and not any(x["name"] == "emb-unknown" for x in embeddings(ds_id)),
          "after the unknown-filename CSV: dataset unchanged")

    # --- the same two CSVs PUT straight to a signed URL (no client-side checks): 400, nothing stored
    for label, path in (("unknown filename", unknown_csv), ("NaN value", nan_csv)):
        minted = get_json(f"/v1/datasets/{ds_id}/embeddings/writeCSVUrl", name=f"raw-{label}")
        with open(path, "rb") as f:
            r = http("PUT", minted["signedWriteUrl"], f.read())
        check(r.status == 400, f"signed PUT of a CSV with an {label} answers 400", r)
        check(state(ds_id) == before, f"after the raw {label} CSV: dataset unchanged")

    # --- unknown token: ApiException with status 401
    stranger = L.ApiWorkflowClient(token="0123456789abcdef-not-a-token")
    e = expect_raises(lambda: stranger.create_dataset("never"), L.ApiException, RuntimeError)
    check(status_of(e) == 401, "an unknown token -> ApiException status 401", f"status {status_of(e)}: {e}")
    stranger = L.ApiWorkflowClient(token="0123456789abcdef-not-a-token", dataset_id=ds_id)
    e = expect_raises(lambda: stranger.upload_embeddings(unknown_csv, name="x"), L.ApiException, RuntimeError)
    check(status_of(e) == 401, "an unknown token on t1's dataset -> 401 too", f"status {status_of(e)}")

    # --- sampling on an embedding whose CSV was refused: the client raises (4xx at trigger time
    #     or a FAILED job), no tag is created
    nan_ids = [x["id"] for x in embeddings(ds_id) if x["name"] == "emb-nan"]
    if nan_ids:
        c = new_client(dataset_id=ds_id)
        c.embedding_id = nan_ids[0]
        config = L.SelectionConfig(n_samples=10, method=L.SamplingMethod.CORESET, name="on-refused-embedding")
        e = expect_raises(lambda: select(c, config), L.ApiException, RuntimeError)
        check(not isinstance(e, L.ApiException) or 400 <= e.status < 500,
              f"CORESET on the refused embedding raises {type(e).__name__} {getattr(e, 'status', '')}", e)
        check(state(ds_id) == before, "no tag was created from the refused embedding")

    # --- a revoked token (revoked while the server runs): 401, and the other users are unaffected
    binary, data_dir = os.environ["CONFORMANCE_SERVER_BINARY"], os.environ["CONFORMANCE_DATA_DIR"]
    run = lambda *args: subprocess.run([binary, "token", *args, "--data-dir", data_dir],  # noqa: E731
                                       capture_output=True, text=True, timeout=60)
    token3 = run("create", "--name", "t3").stdout.strip()
    check(rest("GET", "/v1/datasets", token3).status == 200, "a token created while the server runs works at once")
    revoked = run("revoke", "t3")
    check(revoked.returncode == 0, "lightly-server token revoke t3", revoked.stderr)
    # A running server honours a revocation by another process within a second (it caches a
    # successful token lookup for at most half a second; docs/protocol.md).
    time.sleep(1.0)
    e = expect_raises(lambda: L.ApiWorkflowClient(token=token3).create_dataset("never"), L.ApiException, RuntimeError)
    check(status_of(e) == 401, "a revoked token -> ApiException 401", f"status {status_of(e)}")
    check(rest("GET", f"/v1/datasets/{ds_id}").status == 200, "t1's token still works")

    # --- a FAILED job: ACTIVE_LEARNING without scores (the 1.1.2 enum lacks the name; the
    #     client does not validate it)
    config = L.SelectionConfig(n_samples=10, method="ACTIVE_LEARNING", name="al-without-scores")
    c = new_client(dataset_id=ds_id)
    c.embedding_id = good_embedding  # the last one in the list is an unprocessed leftover now
    e = expect_raises(lambda: select(c, config), RuntimeError)
    m = re.search(r"job_id (\S+) failed with error (.*)", str(e), re.S)
    check(m is not None, "ACTIVE_LEARNING without scores -> RuntimeError 'Sampling job ... failed with error'", str(e))
    job = get_json(f"/v1/jobs/{m.group(1)}")
    check(job["status"] == "FAILED" and job.get("error") and job["error"] in str(e),
          f"the RuntimeError carries the server's error text ({job.get('error')!r})", job)
    check(state(ds_id) == before and "al-without-scores" not in [t["name"] for t in tags(ds_id)],
          "the failed job created no tag")

    # --- isolation: t2 sees nothing of t1's dataset
    name = dataset(ds_id)["name"]
    check(ds_id not in [d["id"] for d in datasets(TOKEN2)], "t2's dataset list does not contain t1's dataset")
    e = expect_raises(lambda: new_client(TOKEN2).set_dataset_id_by_name(name), ValueError)
    ok("t2's client cannot find t1's dataset by name (ValueError)")
    for path in (f"/v1/datasets/{ds_id}", f"/v1/datasets/{ds_id}/tags", f"/v1/datasets/{ds_id}/embeddings",
                 f"/v1/datasets/{ds_id}/samples", f"/v1/datasets/{ds_id}/tags/{before[2][0][0]}"):
        r = rest("GET", path, TOKEN2)
        check(r.status == 404, f"t2: GET {path.replace(ds_id, '<t1 dataset>')} -> 404", r)
    r = rest("GET", f"/v1/datasets/{ds_id}/mappings", TOKEN2, {"field": "fileName"})
    check(r.status == 404, "t2: GET mappings of t1's dataset -> 404", r)
    r = rest("POST", f"/v1/datasets/{ds_id}/samples", TOKEN2, body={"fileName": "intruder.png", "metaData": {}})
    check(r.status == 404, "t2: POST a sample into t1's dataset -> 404", r)
    if V >= (1, 1, 2):
        c2 = new_client(TOKEN2, dataset_id=ds_id)
        e = expect_raises(lambda: c2.download_dataset(os.path.join(WORKDIR, "t2-dl")), L.ApiException, RuntimeError)
        check(status_of(e) == 404, "t2's download_dataset of t1's dataset -> ApiException 404", f"status {status_of(e)}")
    check(state(ds_id) == before, "t1's dataset unchanged after t2's attempts")
    with soft("dataset names are per user"):
        c2 = new_client(TOKEN2)
        c2.create_dataset(name)
        check(c2.dataset_id != ds_id and [d["name"] for d in datasets(TOKEN2)] == [name],
              "t2 can create a dataset with the same name as t1's: its own")
        check(dataset(ds_id)["name"] == name and ds_id in [d["id"] for d in datasets()], "t1 still has its own")


if __name__ == "__main__":
    main(scenario)
