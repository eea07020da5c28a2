"""Scenario `classic` (every release 1.1.0-1.5.26): the workflow a user of any release runs,
each step through the client's own method where the release has it.

create_dataset; upload_dataset in modes full, thumbnails and metadata (releases without a
usable upload_dataset, 1.4.8+, add the samples through their generated SamplesApi); upload_embeddings;
CORESET then CORAL with classification scores, through the ActiveLearningAgent where the release
has one (up to 1.4.6) and otherwise `selection` -> `upload_scores` -> `selection` with the
CORESET tag preselected; both tags equal the numpy reference exactly. Then get_all_tags,
get_tag_by_name, get_filenames_in_tag (also with exclude_parent_tag), create_tag_from_filenames,
the export helpers (filenames; filenames with read URLs; Label Studio tasks), get_datasets,
set_dataset_id_by_name, download_dataset, download_embeddings_csv and delete_dataset_by_id.
The runner fails the scenario on any 4xx/5xx in the server's access log that the scenario
did not declare (`expect_http_error`)."""

import csv
import inspect
import os

import numpy as np

from common import (HAS_AGENT, HAS_UPLOAD_DATASET, WORKDIR, FolderDataset, L, bit_indices, check, dataset, datasets,
                    default_score_weights, download_dir, embeddings, embeddings_in_mapping_order, http, main,
                    make_images, make_scorer, mapping, new_agent, new_client, ok, pixels, predictions_needed, select,
                    tag_by_name, upload, write_embeddings_csv)
from reference import NearTie, greedy_coral, greedy_k_center

N, D, CLASSES = 40, 8, 5
NAMES = [f"cls_{i % 4}/img_{i:03d}.png" for i in range(N)]


def has(client, name):
    return callable(getattr(client, name, None))


def tag_files(files, bits):
    return sorted(files[i] for i in bits)


def run_selection(client, ds_id, files, csv_path):
    """CORESET 10 from scratch, then CORAL 20 on classification scores with coreset-10
    preselected; returns (coreset tag, coral tag, scorer)."""
    initial = tag_by_name(ds_id, "initial-tag")
    preds = None
    if HAS_AGENT:
        agent = new_agent(client)
        agent.query(L.SelectionConfig(n_samples=10, method=L.SamplingMethod.CORESET, name="coreset-10"))
        preds = np.random.default_rng(5).dirichlet(np.ones(CLASSES), size=predictions_needed(agent))
        scorer = make_scorer(preds)
        agent.query(L.SelectionConfig(n_samples=20, method=L.SamplingMethod.CORAL, name="coral-20"),
                    al_scorer=scorer)
        ok(f"ActiveLearningAgent: CORESET 10, then CORAL 20 with {len(preds)} predictions")
    else:
        core = select(client, L.SelectionConfig(n_samples=10, method=L.SamplingMethod.CORESET, name="coreset-10"))
        preds = np.random.default_rng(5).dirichlet(np.ones(CLASSES), size=N)
        scorer = make_scorer(preds)
        client.upload_scores(scorer.calculate_scores(), query_tag_id=initial["id"])
        select(client, L.SelectionConfig(n_samples=20, method=L.SamplingMethod.CORAL, name="coral-20"),
               preselected_tag_id=core.id, query_tag_id=initial["id"])
        ok("selection CORESET 10 -> upload_scores on initial-tag -> selection CORAL 20 preselected on coreset-10")
    coreset, coral = tag_by_name(ds_id, "coreset-10"), tag_by_name(ds_id, "coral-20")
    E = embeddings_in_mapping_order(csv_path, files)
    core_bits, coral_bits = bit_indices(coreset["bitMaskData"]), bit_indices(coral["bitMaskData"])
    check(core_bits == sorted(greedy_k_center(E, 10)), "coreset-10 equals the numpy greedy k-center (first pick 0)",
          core_bits)
    check(coral.get("prevTagId") == coreset["id"] and set(core_bits) <= set(coral_bits) and len(coral_bits) == 20,
          "coral-20 keeps coreset-10 and names it as prevTagId", coral)
    w, name = default_score_weights(scorer, N, range(N), core_bits)
    try:
        want = set(core_bits) | set(greedy_coral(E, w, 10, preselected=core_bits))
        check(set(coral_bits) == want, f"coral-20 equals the numpy CORAL reference on {name}",
              f"server-only {sorted(set(coral_bits) - want)}, reference-only {sorted(want - set(coral_bits))}")
    except NearTie as e:
        ok(f"exact CORAL comparison skipped: {e}")
    return coreset, coral


def scenario():
    root = os.path.join(WORKDIR, "images")
    originals = make_images(root, NAMES, seed=81)
    ds = FolderDataset(root, NAMES)

    # --- create_dataset and upload_dataset in every mode the release has
    client = new_client()
    client.create_dataset("classic-full")
    ds_id = client.dataset_id
    upload(client, ds, "full")
    check(dataset(ds_id)["nSamples"] == N and dataset(ds_id).get("imgType") == "full",
          f"upload ({'upload_dataset' if HAS_UPLOAD_DATASET else 'generated SamplesApi'}) full: {N} samples")
    files = mapping(ds_id)
    check(sorted(files) == sorted(NAMES), "the mapping holds the uploaded names")
    modes = ("thumbnails", "metadata") if HAS_UPLOAD_DATASET else ("metadata",)
    for mode in modes:
        other = new_client()
        other.create_dataset(f"classic-{mode}")
        upload(other, ds, mode)
        d = dataset(other.dataset_id)
        check(d["nSamples"] == N and d.get("imgType") == {"thumbnails": "thumbnail", "metadata": "meta"}[mode],
              f"upload mode {mode}: {N} samples, imgType {d.get('imgType')}")

    # --- upload_embeddings
    rng = np.random.default_rng(82)
    vectors = rng.normal(size=(N, D)).astype(np.float32)
    csv_path = os.path.join(WORKDIR, "emb.csv")
    write_embeddings_csv(csv_path, NAMES, vectors, rng.permutation(N))
    client.upload_embeddings(csv_path, name="default")  # download_embeddings_csv looks for "default*"
    check([e["isProcessed"] for e in embeddings(ds_id)] == [True], "upload_embeddings: one processed embedding")

    # --- CORESET then CORAL with classification scores
    coreset, coral = run_selection(client, ds_id, files, csv_path)
    core_bits, coral_bits = bit_indices(coreset["bitMaskData"]), bit_indices(coral["bitMaskData"])

    # --- tag helpers
    if has(client, "get_all_tags"):
        names = sorted(t.name for t in client.get_all_tags())
        check(names == ["coral-20", "coreset-10", "initial-tag"], "get_all_tags", names)
    if has(client, "get_tag_by_name"):
        t = client.get_tag_by_name("coral-20")
        check(t.id == coral["id"] and t.bit_mask_data == coral["bitMaskData"], "get_tag_by_name('coral-20')")
    if has(client, "get_filenames_in_tag"):
        tag_data = client._tags_api.get_tag_by_tag_id(dataset_id=ds_id, tag_id=coral["id"])
        got = client.get_filenames_in_tag(tag_data)
        check(sorted(got) == tag_files(files, coral_bits), "get_filenames_in_tag(coral-20)", got)
        if "perform_tag_arithmetics_bitmask" in inspect.getsource(type(client).get_filenames_in_tag):
            added = client.get_filenames_in_tag(tag_data, exclude_parent_tag=True)
            check(sorted(added) == tag_files(files, set(coral_bits) - set(core_bits)),
                  "get_filenames_in_tag(exclude_parent_tag=True): the 10 samples CORAL added", added)
        else:
            ok("get_filenames_in_tag(exclude_parent_tag=True) skipped: broken in this client release")
    if has(client, "create_tag_from_filenames"):
        chosen = [files[i] for i in (0, 3, 7, 30)]
        client.create_tag_from_filenames(chosen, new_tag_name="from-filenames",
                                         parent_tag_id=tag_by_name(ds_id, "initial-tag")["id"])
        check(bit_indices(tag_by_name(ds_id, "from-filenames")["bitMaskData"]) == [0, 3, 7, 30],
              "create_tag_from_filenames makes a tag of exactly those samples")

    # --- export helpers
    coral_files = tag_files(files, coral_bits)
    if has(client, "export_filenames_by_tag_name"):
        text = client.export_filenames_by_tag_name("coral-20")
        check(sorted(line for line in text.splitlines() if line) == coral_files,
              "export_filenames_by_tag_name('coral-20')", text[:200])
    if has(client, "export_filenames_and_read_urls_by_tag_name"):
        rows = client.export_filenames_and_read_urls_by_tag_name("coral-20")
        check(sorted(r["fileName"] for r in rows) == coral_files,
              "export_filenames_and_read_urls_by_tag_name: the tag's filenames", rows[:2])
        for r in rows[:3]:
            blob = http("GET", r["readUrl"])
            check(blob.status == 200 and np.array_equal(pixels(blob.body), pixels(originals[r["fileName"]])),
                  f"its readUrl serves {r['fileName']}", blob)
    if has(client, "export_label_studio_tasks_by_tag_name"):
        tasks = [t if isinstance(t, dict) else t.to_dict()  # 1.5.x: LabelStudioTask models
                 for t in client.export_label_studio_tasks_by_tag_name("coral-20")]
        check(len(tasks) == 20 and all(isinstance(t.get("data", {}).get("image"), str) for t in tasks),
              "export_label_studio_tasks_by_tag_name: 20 tasks with data.image", tasks[:1])
        blob = http("GET", tasks[0]["data"]["image"])
        check(blob.status == 200 and pixels(blob.body).size > 0, "a task's image URL serves the image", blob)

    # --- datasets
    if has(client, "get_datasets"):
        names = sorted(d.name for d in client.get_datasets())
        check({"classic-full", "classic-metadata"} <= set(names), "get_datasets lists the datasets", names)
    finder = new_client()
    finder.set_dataset_id_by_name("classic-full")
    check(finder.dataset_id == ds_id, "set_dataset_id_by_name('classic-full')")
    if has(finder, "download_dataset"):
        out = download_dir(os.path.join(WORKDIR, "download"), NAMES)
        finder.download_dataset(out, tag_name="coral-20")
        got = sorted(os.path.relpath(os.path.join(dp, f), out) for dp, _, fs in os.walk(out) for f in fs)
        check(got == coral_files, "download_dataset(tag_name='coral-20') writes that tag's files", got)
        check(all(np.array_equal(pixels(os.path.join(out, n)), pixels(originals[n])) for n in got),
              "with the uploaded pixels")
    if has(finder, "download_embeddings_csv"):
        out = os.path.join(WORKDIR, "embeddings-download.csv")
        finder.download_embeddings_csv(out)
        with open(out, newline="") as f:
            rows = list(csv.reader(f))
        fi = rows[0].index("filenames")
        check([r[fi] for r in rows[1:]] == files, "download_embeddings_csv: the stored CSV in mapping order")
        cols = [i for i, h in enumerate(rows[0]) if h.startswith("embedding_")]
        got = np.array([[float(r[i]) for i in cols] for r in rows[1:]], dtype=np.float32)
        check(np.array_equal(got, embeddings_in_mapping_order(csv_path, files)), "with the uploaded values")
    client.delete_dataset_by_id(ds_id)
    check(ds_id not in [d["id"] for d in datasets()], "delete_dataset_by_id: gone from the list")


if __name__ == "__main__":
    main(scenario)
