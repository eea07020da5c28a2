"""Scenario `upload` (all versions): datasets, upload_dataset in the three modes, a shuffled
embeddings CSV, download_dataset. Releases without upload_dataset (1.4.13+) skip it."""

import inspect
import io
import os

import numpy as np
from PIL import Image

from common import (download_dir, V, WORKDIR, FolderDataset, check, client_filenames, dataset, datasets,
                    embeddings, expect_raises, get_json, http, main, make_images, mapping, new_client, ok,
                    pixels, read_stored_csv, rest, tags, upload, write_embeddings_csv)

NAMES = [f"sub_a/img_{i:02d}.png" for i in range(5)] + \
        [f"sub_b/img_{i:02d}.png" for i in range(5, 10)] + \
        ["sub_b/deeper/img_10.png", "sub_b/img 11.png"]
IMG_TYPE = {"full": "full", "thumbnails": "thumbnail", "metadata": "meta"}


def thumb_name(name):
    return ".".join(name.split(".")[:-1]) + "_thumb.webp"


def check_uploaded(ds_id, name, mode):
    d = dataset(ds_id)
    check(d["name"] == name and d["nSamples"] == len(NAMES) and d.get("imgType") == IMG_TYPE[mode],
          f"[{mode}] dataset {name}: nSamples {len(NAMES)}, imgType {IMG_TYPE[mode]}", d)
    files = mapping(ds_id)
    check(sorted(files) == sorted(NAMES) and len(files) == len(NAMES),
          f"[{mode}] mapping fileName = the uploaded relative paths", files)
    ids = mapping(ds_id, "_id")
    check(len(ids) == len(NAMES) and len(set(ids)) == len(ids), f"[{mode}] mapping _id: {len(NAMES)} distinct ids")
    t = tags(ds_id)
    check(len(t) == 1 and t[0]["name"] == "initial-tag" and t[0]["bitMaskData"] == hex(2 ** len(NAMES) - 1)
          and t[0]["totSize"] == len(NAMES) and t[0].get("prevTagId") is None,
          f"[{mode}] one initial-tag {hex(2 ** len(NAMES) - 1)}, totSize {len(NAMES)}", t)
    samples = get_json(f"/v1/datasets/{ds_id}/samples")
    check([s["fileName"] for s in samples] == files, f"[{mode}] GET samples lists them in mapping order",
          [s["fileName"] for s in samples])
    want_thumbs = {n: (thumb_name(n) if mode != "metadata" else None) for n in NAMES}
    got_thumbs = {s["fileName"]: s.get("thumbName") for s in samples}
    check(got_thumbs == want_thumbs, f"[{mode}] thumbName per sample as the client sent it", got_thumbs)
    meta = [s.get("metaData") or {} for s in samples]
    check(all({"is_corrupted", "corruption", "sizeInBytes", "shape"} <= m.keys() and m["is_corrupted"] is False
              for m in meta), f"[{mode}] metaData stored verbatim, snake_case keys included", meta[0])
    check(d["sizeInBytes"] == sum(m["sizeInBytes"] for m in meta),
          f"[{mode}] dataset sizeInBytes = the sum of the samples' metaData.sizeInBytes", d["sizeInBytes"])
    if V >= (1, 1, 8):
        check(all(s.get("exif") == {} for s in samples), f"[{mode}] exif {{}} stored (PNGs have none)")
    if mode != "metadata":
        for s in samples:
            url = get_json(f"/v1/datasets/{ds_id}/samples/{s['id']}/readurl", type="thumbnail")
            blob = http("GET", url)
            if blob.status != 200:
                raise AssertionError(f"thumbnail of {s['fileName']}: {blob!r}")
            with Image.open(io.BytesIO(blob.body)) as im:
                if im.format != "WEBP" or max(im.size) > 128:
                    raise AssertionError(f"thumbnail of {s['fileName']}: {im.format} {im.size}")
        ok(f"[{mode}] every thumbnail is stored (readurl type=thumbnail -> a WEBP <= 128 px)")
    return files, ids


def scenario():
    root = os.path.join(WORKDIR, "images")
    originals = make_images(root, NAMES, seed=3)
    ds = FolderDataset(root, NAMES)
    n_before = len(datasets())

    # --- datasets: create_dataset, create_new_dataset_with_unique_name, create_dataset on an existing name
    c_full = new_client()
    c_full.create_dataset("conf-upload")
    c_thumb = new_client()
    c_thumb.create_new_dataset_with_unique_name("conf-upload")
    c_meta = new_client()
    c_meta.create_dataset("conf-upload-meta")
    by_name = {d["name"]: d["id"] for d in datasets()}
    check(by_name.get("conf-upload") == c_full.dataset_id and by_name.get("conf-upload_1") == c_thumb.dataset_id
          and by_name.get("conf-upload-meta") == c_meta.dataset_id,
          "create_dataset / create_new_dataset_with_unique_name -> conf-upload, conf-upload_1", by_name)
    again = new_client()
    try:
        again.create_dataset("conf-upload")
        check(again.dataset_id == c_full.dataset_id, "create_dataset on an existing name adopts it")
    except ValueError as e:  # 1.2.36+: the client refuses an existing name itself
        ok(f"create_dataset on an existing name raises ValueError in this release ({str(e)[:60]})")
    check(len(datasets()) == n_before + 3, "create_dataset on an existing name creates nothing")
    for c in (c_full, c_thumb, c_meta):
        check(dataset(c.dataset_id)["nSamples"] == 0 and tags(c.dataset_id) == [], "a new dataset: 0 samples, no tags")

    # --- upload_dataset in each mode
    results = {}
    for client, mode, name in ((c_full, "full", "conf-upload"), (c_thumb, "thumbnails", "conf-upload_1"),
                               (c_meta, "metadata", "conf-upload-meta")):
        upload(client, ds, mode)
        results[mode] = check_uploaded(client.dataset_id, name, mode)
    files, ids = results["full"]
    check(sorted(client_filenames(new_client(dataset_id=c_full.dataset_id))) == sorted(NAMES),
          "the client's filenames_on_server matches")

    # --- embeddings, rows shuffled on purpose
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(NAMES), 8)).astype(np.float32)
    order = rng.permutation(len(NAMES))
    while (order == np.arange(len(NAMES))).all():
        order = rng.permutation(len(NAMES))
    csv_path = os.path.join(WORKDIR, "embeddings.csv")
    write_embeddings_csv(csv_path, NAMES, vectors, order)
    c_full.upload_embeddings(csv_path, name="emb-default")
    embs = embeddings(c_full.dataset_id)
    check(len(embs) == 1 and embs[0]["name"] == "emb-default" and embs[0]["isProcessed"] is True
          and embs[0]["id"] == c_full.embedding_id,
          "upload_embeddings: one processed embedding, the id the client got", embs)
    rows = read_stored_csv(c_full.dataset_id, embs[0]["id"])
    header, body = rows[0], rows[1:]
    fi = header.index("filenames")
    check([r[fi] for r in body] == files, "stored CSV rows are in mapping order", [r[fi] for r in body])
    cols = [i for i, h in enumerate(header) if h.startswith("embedding_")]
    stored = {r[fi]: np.array([float(r[i]) for i in cols], dtype=np.float32) for r in body}
    check(all(np.array_equal(stored[n], vectors[k]) for k, n in enumerate(NAMES)),
          "stored CSV values belong to the right filenames")
    c_full.upload_embeddings(csv_path, name="emb-default")
    embs = embeddings(c_full.dataset_id)
    if "append_embeddings(" in inspect.getsource(type(c_full).upload_embeddings):
        # 1.2.x: the client reads the stored CSV back (readCSVUrl), merges and uploads it under
        # "<name>_<timestamp>"
        check(len(embs) == 2 and embs[1]["name"].startswith("emb-default_") and embs[1]["isProcessed"],
              "re-uploading an existing name appends: a second embedding emb-default_<time>", embs)
        check(read_stored_csv(c_full.dataset_id, embs[1]["id"])[1:] == body,
              "the appended embedding holds the same rows in mapping order")
    else:
        check(len(embs) == 1, "re-uploading an existing embedding name changes nothing (the client aborts)", embs)

    # --- download_dataset (1.1.2+), mode full
    if V >= (1, 1, 2):
        out = os.path.join(WORKDIR, "download")
        new_client(dataset_id=c_full.dataset_id).download_dataset(download_dir(out, NAMES))
        got = sorted(os.path.relpath(os.path.join(dp, f), out) for dp, _, fs in os.walk(out) for f in fs)
        check(got == sorted(NAMES), "download_dataset writes every file under its relative path", got)
        check(all(np.array_equal(pixels(os.path.join(out, n)), pixels(originals[n])) for n in NAMES),
              "downloaded images have the uploaded pixels")
        for name, sid in zip(files, ids):
            url = get_json(f"/v1/datasets/{c_full.dataset_id}/samples/{sid}/readurl", type="full")
            blob = http("GET", url)
            if blob.status // 100 != 2:
                raise AssertionError(f"signed GET for {name}: {blob!r}")
            if V >= (1, 1, 14):  # the client uploads the original file bytes
                if blob.body != originals[name]:
                    raise AssertionError(f"stored full image of {name} differs from the file "
                                         f"({len(blob.body)} vs {len(originals[name])} bytes)")
            elif not np.array_equal(pixels(blob.body), pixels(originals[name])):
                raise AssertionError(f"stored full image of {name} (PNG re-encoding) has other pixels")
        ok("signed read URLs return the uploaded image " + ("bytes" if V >= (1, 1, 14) else "pixels"))
        e = expect_raises(lambda: new_client(dataset_id=c_thumb.dataset_id).download_dataset(
            os.path.join(WORKDIR, "dl-thumb")), ValueError)
        ok(f"download_dataset of a thumbnails dataset raises ValueError ({e})")
    r = rest("GET", f"/v1/datasets/{c_meta.dataset_id}/samples/{results['metadata'][1][0]}/readurl",
             query={"type": "full"})
    check(r.status == 404, "readurl for a metadata-only sample answers 404", r)


if __name__ == "__main__":
    main(scenario)
