"""Scenario `protocol` (all versions): wire details the client relies on or can produce.
A trailing slash in LIGHTLY_SERVER_LOCATION (`//v1/...`), chunked signed PUTs, a repeated
CSV PUT overwrites, a duplicate fileName is refused (409), and two sampling requests racing
for the same newTagName leave exactly one tag."""

import os
import threading
import time

import numpy as np
import requests

from common import (URL, WORKDIR, FolderDataset, bit_indices, check, embeddings, get_json, http, main,
                    make_images, mapping, new_client, read_stored_csv, rest, soft, tags, upload,
                    write_embeddings_csv)

NAMES = [f"p/{i:02d}.png" for i in range(30)]


def wait_job(job_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get_json(f"/v1/jobs/{job_id}")
        if job["status"] in ("FINISHED", "FAILED"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end within {timeout}s")


def scenario():
    root = os.path.join(WORKDIR, "images")
    make_images(root, NAMES, seed=71)

    # --- trailing slash in the server location: the client sends //v1/...
    with soft("trailing slash in LIGHTLY_SERVER_LOCATION"):
        os.environ["LIGHTLY_SERVER_LOCATION"] = URL + "/"
        try:
            client = new_client()
            client.create_dataset("conf-protocol")
            upload(client, FolderDataset(root, NAMES), "metadata")
        finally:
            os.environ["LIGHTLY_SERVER_LOCATION"] = URL
        check(len(mapping(client.dataset_id)) == len(NAMES), "with LIGHTLY_SERVER_LOCATION ending in '/' all works")
    client = new_client()
    try:
        client.create_dataset("conf-protocol")
    except ValueError:  # 1.2.36+ refuse an existing name client-side
        client.set_dataset_id_by_name("conf-protocol")
    ds_id = client.dataset_id
    if not tags(ds_id):
        upload(client, FolderDataset(root, NAMES), "metadata")

    rng = np.random.default_rng(8)
    csv_path = os.path.join(WORKDIR, "emb.csv")
    vectors = rng.normal(size=(len(NAMES), 3)).astype(np.float32)
    write_embeddings_csv(csv_path, NAMES, vectors, rng.permutation(len(NAMES)))
    client.upload_embeddings(csv_path, name="emb")
    emb_id = client.embedding_id
    stored = read_stored_csv(ds_id, emb_id)

    # --- a chunked signed PUT (requests switches to chunked for unsized bodies)
    with soft("chunked signed PUT"):
        minted = get_json(f"/v1/datasets/{ds_id}/embeddings/writeCSVUrl", name="chunked")
        data = "\n".join(",".join(row) for row in stored).encode() + b"\n"
        chunks = (data[i:i + 97] for i in range(0, len(data), 97))
        r = requests.put(minted["signedWriteUrl"], data=chunks)
        check(r.status_code == 200, "a chunked CSV PUT to the signed URL answers exactly 200", r.status_code)
        done = [e for e in embeddings(ds_id) if e["id"] == minted["embeddingId"]]
        check(done and done[0]["isProcessed"], "and the embedding is processed", done)

    # --- a repeated PUT to the same signed URL overwrites
    with soft("repeated CSV PUT"):
        minted = get_json(f"/v1/datasets/{ds_id}/embeddings/writeCSVUrl", name="twice")
        first = stored[:1] + [[r[0]] + ["0.5"] * (len(r) - 2) + [r[-1]] for r in stored[1:]]
        for rows in (first, stored):
            body = "\r\n".join(",".join(row) for row in rows).encode() + b"\r\n"
            r = http("PUT", minted["signedWriteUrl"], body)
            check(r.status == 200, "PUT CSV (\\r\\n line endings) -> 200", r)
        check(read_stored_csv(ds_id, minted["embeddingId"]) == stored, "the second PUT replaced the first")

    # --- a duplicate fileName in the same dataset is refused and changes nothing
    with soft("duplicate fileName"):
        r = rest("POST", f"/v1/datasets/{ds_id}/samples", body={"fileName": NAMES[0], "metaData": {}})
        check(r.status == 409, "POST a sample with an existing fileName -> 409", r)
        check(mapping(ds_id) == [row[0] for row in stored[1:]], "the mapping is unchanged")

    # --- two sampling requests racing for the same newTagName: exactly one tag
    with soft("racing newTagName"):
        body = {"newTagName": "race", "method": "CORESET", "rowCount": len(NAMES),
                "config": {"stoppingCondition": {"nSamples": 5, "minDistance": -1}}}
        answers = []

        def trigger():
            answers.append(rest("POST", f"/v1/datasets/{ds_id}/embeddings/{emb_id}/sampling", body=body))

        threads = [threading.Thread(target=trigger) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        jobs = [wait_job(a.json()["jobId"]) for a in answers if a.status == 200]
        finished = [j for j in jobs if j["status"] == "FINISHED"]
        refused = [a for a in answers if a.status != 200]
        check(len(finished) == 1 and all(400 <= a.status < 500 for a in refused),
              "4 racing requests for one newTagName: one job FINISHES, the rest get 4xx or FAILED",
              [(a.status, a.body[:80]) for a in answers] + [(j["status"], j.get("error")) for j in jobs])
        race = [t for t in tags(ds_id) if t["name"] == "race"]
        check(len(race) == 1 and len(bit_indices(race[0]["bitMaskData"])) == 5
              and finished[0]["result"]["data"] == race[0]["id"], "exactly one tag named 'race'", race)


if __name__ == "__main__":
    main(scenario)
