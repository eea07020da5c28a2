"""Runs inside a `lightly` client venv (started by Tests/browser/run.py with the conformance
harness's environment): makes the dataset the browser test looks at, with the real client.

N small PNG images, one of them named like an HTML injection, uploaded with their images
(`upload_dataset`, or the generated API where the release dropped it), then N x 8 random
embeddings through `upload_embeddings`, which also asks the server for the 2-D projection.
Prints one JSON line: {"datasetId", "n", "hostile", "embeddingId"}."""

import json
import os
import sys
import time

import numpy as np

from common import (WORKDIR, FolderDataset, check, embeddings, make_images, new_client, upload,
                    write_embeddings_csv)

N = int(os.environ.get("UI_SAMPLES", "60"))
HOSTILE = "<img src=x onerror=alert(1)>.png"


def main():
    names = [f"img_{i:03d}.png" for i in range(N)]
    names[5] = HOSTILE  # on the grid's first page
    root = os.path.join(WORKDIR, "images")
    make_images(root, names, seed=3, size_range=(16, 40))
    client = new_client()
    client.create_dataset("ui-demo")
    upload(client, FolderDataset(root, names), "full")
    rng = np.random.default_rng(5)
    # Two clusters, so the map and a CORESET selection have something to show.
    vectors = rng.normal(size=(N, 8)).astype(np.float32)
    vectors[: N // 2, 0] += 6
    csv_path = os.path.join(WORKDIR, "emb.csv")
    write_embeddings_csv(csv_path, names, vectors, rng.permutation(N))
    client.upload_embeddings(csv_path, name="default")
    emb = embeddings(client.dataset_id)
    check(len(emb) == 1 and emb[0]["isProcessed"], "embedding processed")
    deadline = time.monotonic() + 60
    while not embeddings(client.dataset_id)[0].get("is2d"):
        if time.monotonic() > deadline:
            raise AssertionError("no 2-D projection after 60 s")
        time.sleep(0.2)
    print(json.dumps({"datasetId": client.dataset_id, "n": N, "hostile": HOSTILE, "embeddingId": emb[0]["id"]}))


if __name__ == "__main__":
    sys.exit(main())
