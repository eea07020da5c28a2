"""Scenario `restart` (all versions): the scenario runs its own server on a data dir of its
own, fills it through the client, stops it with SIGTERM (exit 0), starts a new server on the
same data dir and checks that datasets, tags, embeddings, blobs and the token survived and
that sampling still works on the stored embedding."""

import os

import numpy as np

from common import (download_dir, WORKDIR, FolderDataset, L, V, bit_indices, check, main, make_images, new_client, pixels, select,
                    upload, write_embeddings_csv)
import common
from lightly_harness import ServerProcess

NAMES = [f"r/{i:02d}.png" for i in range(20)]


def point_at(server):
    """Make the client library and common.rest() talk to `server`."""
    os.environ["LIGHTLY_SERVER_LOCATION"] = server.url
    common.URL = server.url


def scenario():
    binary = os.environ["CONFORMANCE_SERVER_BINARY"]
    data_dir = os.path.join(WORKDIR, "data")
    root = os.path.join(WORKDIR, "images")
    originals = make_images(root, NAMES, seed=61)

    first = ServerProcess(binary, data_dir=data_dir).start()
    token = first.create_token("owner")
    common.TOKEN = token
    try:
        point_at(first)
        client = new_client(token)
        client.create_dataset("conf-restart")
        ds_id = client.dataset_id
        upload(client, FolderDataset(root, NAMES), "full")
        rng = np.random.default_rng(4)
        csv_path = os.path.join(WORKDIR, "emb.csv")
        write_embeddings_csv(csv_path, NAMES, rng.normal(size=(len(NAMES), 5)).astype(np.float32),
                             rng.permutation(len(NAMES)))
        client.upload_embeddings(csv_path, name="emb")
        select(client, L.SelectionConfig(n_samples=5, method=L.SamplingMethod.CORESET, name="before"))
        before = {"dataset": common.dataset(ds_id), "files": common.mapping(ds_id), "tags": common.tags(ds_id),
                  "embeddings": common.embeddings(ds_id)}
    finally:
        code = first.stop()
    check(code == 0, "SIGTERM: the first server exits 0", "\n".join(first.log[-20:]))

    second = ServerProcess(binary, data_dir=data_dir).start()
    try:
        point_at(second)
        check(common.dataset(ds_id) == before["dataset"], "after the restart: the dataset is the same",
              (common.dataset(ds_id), before["dataset"]))
        check(common.mapping(ds_id) == before["files"] and common.tags(ds_id) == before["tags"]
              and common.embeddings(ds_id) == before["embeddings"],
              "the mapping, tags and embeddings are the same (and the token still works)")
        if V >= (1, 1, 2):
            out = os.path.join(WORKDIR, "download")
            new_client(token, dataset_id=ds_id).download_dataset(download_dir(out, NAMES))
            check(all(np.array_equal(pixels(os.path.join(out, n)), pixels(originals[n])) for n in NAMES),
                  "the stored images download after the restart")
        c = new_client(token, dataset_id=ds_id)
        select(c, L.SelectionConfig(n_samples=8, method=L.SamplingMethod.CORESET, name="after"),
               preselected_tag_id=common.tag_by_name(ds_id, "before")["id"])
        after = common.tag_by_name(ds_id, "after")
        check(len(bit_indices(after["bitMaskData"])) == 8
              and set(bit_indices(common.tag_by_name(ds_id, "before")["bitMaskData"]))
              <= set(bit_indices(after["bitMaskData"])),
              "sampling on the stored embedding works after the restart")
    finally:
        code = second.stop()
    check(code == 0, "the second server exits 0 on SIGTERM")


if __name__ == "__main__":
    main(scenario)
