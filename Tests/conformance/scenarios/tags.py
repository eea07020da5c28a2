"""Scenario `tags` (all versions): tags beyond the seed workflow. RANDOM is deterministic,
fractional n_samples, download_dataset of a sampled tag, tag arithmetics through the generated
client (1.1.6+; the answer model changes in 1.1.19 and 1.2.x), 1.2.x
get_filenames_in_tag / create_tag_from_filenames, and re-upload: skipped up to 1.1.21,
appended + `tags/upsize` from 1.1.22."""

import importlib
import inspect
import os

import numpy as np

from common import (HAS_AGENT, HAS_UPLOAD_DATASET, WORKDIR, FolderDataset, L, V, bit_indices, check,
                    dataset, download_dir, main, make_images, mapping, new_agent, new_client, ok, pixels, select,
                    tag_by_name, tags, upload, write_embeddings_csv)

N = 50
NAMES = [f"grp_{i % 3}/t_{i:03d}.png" for i in range(N)]


def api(client, name):
    """The generated API object: `client.tags_api` in 1.1.x, `client._tags_api` in 1.2.x."""
    return getattr(client, name, None) or getattr(client, "_" + name)


def sampling(client, name, method, n, preselected=None):
    cfg = L.SelectionConfig(n_samples=n, method=method, name=name)
    result = select(client, cfg, preselected_tag_id=preselected)
    tag = tag_by_name(client.dataset_id, name)
    check(result.id == tag["id"], f"{method} {name}: the job returned the tag")
    return tag, bit_indices(tag["bitMaskData"])


def tag_arithmetics(client, ds_id, r1, bits1, bits3, frac):
    models = "lightly.openapi_generated.swagger_client.models."
    Request = importlib.import_module(models + "tag_arithmetics_request").TagArithmeticsRequest
    tags_api = api(client, "tags_api")

    def perform(body):  # `body=` up to 1.4.7; 1.4.8+ name it tag_arithmetics_request
        if "body" in inspect.signature(tags_api.perform_tag_arithmetics).parameters:
            return tags_api.perform_tag_arithmetics(body=body, dataset_id=ds_id)
        return tags_api.perform_tag_arithmetics(dataset_id=ds_id, tag_arithmetics_request=body)

    body = Request(tag_id1=tag_by_name(ds_id, "random-grow")["id"], tag_id2=r1["id"], operation="DIFFERENCE")
    answer = perform(body)
    want = sorted(set(bits3) - set(bits1))
    if V <= (1, 1, 18):
        check(bit_indices(answer.bit_mask_data) == want, "arithmetics DIFFERENCE: the client reads bitMaskData")
    elif V < (1, 2, 0):
        check(bool(answer.id), "arithmetics: 1.1.19+ read the answer as CreateEntityResponse (id)")
    else:
        ok(f"arithmetics: this release accepts the answer ({type(answer).__name__})")
    body = Request(tag_id1=r1["id"], tag_id2=tag_by_name(ds_id, "coreset-fraction")["id"],
                   operation="UNION", new_tag_name="union-tag")
    perform(body)
    union = tag_by_name(ds_id, "union-tag")
    check(bit_indices(union["bitMaskData"]) == sorted(set(bits1) | set(frac)) and union["totSize"] == N,
          "arithmetics UNION with newTagName creates that tag", union)


def scenario():
    root = os.path.join(WORKDIR, "images")
    originals = make_images(root, NAMES + [f"late/t_{i:03d}.png" for i in range(4)], seed=41)
    client = new_client()
    client.create_dataset("conf-tags")
    ds_id = client.dataset_id
    upload(client, FolderDataset(root, NAMES), "full")
    rng = np.random.default_rng(2)
    csv_path = os.path.join(WORKDIR, "emb.csv")
    write_embeddings_csv(csv_path, NAMES, rng.normal(size=(N, 6)).astype(np.float32), rng.permutation(N))
    client.upload_embeddings(csv_path, name="emb")
    files = mapping(ds_id)
    initial = tag_by_name(ds_id, "initial-tag")

    # --- RANDOM: deterministic, exact count, from the query set only
    r1, bits1 = sampling(client, "random-a", L.SamplingMethod.RANDOM, 10)
    r2, bits2 = sampling(client, "random-b", L.SamplingMethod.RANDOM, 10)
    check(len(bits1) == 10 and bits1 == bits2, "RANDOM 10 twice gives the same 10 samples (fixed seed)", (bits1, bits2))
    _, bits3 = sampling(client, "random-grow", L.SamplingMethod.RANDOM, 15, preselected=r1["id"])
    check(len(bits3) == 15 and set(bits1) <= set(bits3), "RANDOM 10->15 keeps the preselected 10")

    # --- fractional n_samples (a fraction of the dataset; rounding is the server's choice)
    _, frac = sampling(client, "coreset-fraction", L.SamplingMethod.CORESET, 0.1)
    check(len(frac) in (int(0.1 * N), int(0.1 * N) + 1), f"n_samples=0.1 of {N} selects {len(frac)} samples")

    # --- download_dataset of a sampled tag: exactly its files
    if V >= (1, 1, 2):
        out = os.path.join(WORKDIR, "dl-random")
        new_client(dataset_id=ds_id).download_dataset(download_dir(out, NAMES), tag_name="random-a")
        got = sorted(os.path.relpath(os.path.join(dp, f), out) for dp, _, fs in os.walk(out) for f in fs)
        check(got == sorted(files[i] for i in bits1), "download_dataset(tag_name='random-a') writes that tag's files", got)
        check(all(np.array_equal(pixels(os.path.join(out, n)), pixels(originals[n])) for n in got),
              "with the uploaded pixels")

    # --- tag arithmetics through the generated client (1.1.6+)
    if V >= (1, 1, 6):
        tag_arithmetics(client, ds_id, r1, bits1, bits3, frac)

    # --- 1.2.x helpers: get_filenames_in_tag (with exclude_parent_tag: POST tags/arithmetics/bitmask
    #     from 1.2.10), create_tag_from_filenames (POST tags), delete_tag_by_id (DELETE tags/{id})
    if hasattr(client, "get_filenames_in_tag"):
        grow = api(client, "tags_api").get_tag_by_tag_id(ds_id, tag_id=tag_by_name(ds_id, "random-grow")["id"])
        check(sorted(client.get_filenames_in_tag(grow)) == sorted(files[i] for i in bits3),
              "get_filenames_in_tag(random-grow)")
        if "perform_tag_arithmetics_bitmask" in inspect.getsource(type(client).get_filenames_in_tag):
            added = client.get_filenames_in_tag(grow, exclude_parent_tag=True)   # POST tags/arithmetics/bitmask
            check(sorted(added) == sorted(files[i] for i in set(bits3) - set(bits1)),
                  "get_filenames_in_tag(exclude_parent_tag=True): the 5 samples added to random-a", added)
        else:  # 1.2.0 reads bitMaskData from its CreateEntityResponse model: broken in the client
            ok("get_filenames_in_tag(exclude_parent_tag=True) skipped: broken in this client version")
    if hasattr(client, "create_tag_from_filenames"):
        chosen = [files[i] for i in (1, 4, 9)]
        client.create_tag_from_filenames(chosen, new_tag_name="from-filenames", parent_tag_id=initial["id"])
        made = tag_by_name(ds_id, "from-filenames")
        check(bit_indices(made["bitMaskData"]) == [1, 4, 9] and made["totSize"] == N,
              "create_tag_from_filenames creates the tag with exactly those samples", made)
        if hasattr(client, "delete_tag_by_id"):
            client.delete_tag_by_id(made["id"])
            check("from-filenames" not in [t["name"] for t in tags(ds_id)], "delete_tag_by_id removes the leaf tag")

    # --- re-upload with 4 more images (releases with upload_dataset, up to 1.4.12)
    if not HAS_UPLOAD_DATASET:
        ok("re-upload skipped: this release has no upload_dataset")
        return
    before = {t["name"]: t for t in tags(ds_id)}
    more = NAMES + [f"late/t_{i:03d}.png" for i in range(4)]
    upload(new_client(dataset_id=ds_id), FolderDataset(root, more), "full")
    after = {t["name"]: t for t in tags(ds_id)}
    if V >= (1, 1, 22):
        check(dataset(ds_id)["nSamples"] == N + 4 and mapping(ds_id)[:N] == files
              and sorted(mapping(ds_id)[N:]) == sorted(more[N:]),
              "1.1.22+ re-upload appends the 4 new samples after the old ones")
        new_tags = [t for name, t in after.items() if name not in before]
        check(len(new_tags) == 1 and bit_indices(new_tags[0]["bitMaskData"]) == list(range(N, N + 4))
              and new_tags[0].get("prevTagId") == initial["id"],
              "tags/upsize creates one tag holding the new samples, prevTagId = initial-tag", new_tags)
        check(bit_indices(after["initial-tag"]["bitMaskData"]) == list(range(N + 4)),
              "the initial tag grows to all samples")
        check(all(t["totSize"] == N + 4 for t in after.values())
              and all(after[n]["bitMaskData"] == before[n]["bitMaskData"] for n in before if n != "initial-tag"),
              "every tag has totSize N+4; the other tags keep their bits")
        if HAS_AGENT:
            agent = new_agent(new_client(dataset_id=ds_id), preselected_tag_name="random-a")
            check(sorted(agent.labeled_set) == sorted(files[i] for i in bits1) and len(agent.query_set) == N + 4,
                  "an agent after the upsize: labeled = random-a, query set = all N+4")
    else:
        check(dataset(ds_id)["nSamples"] == N and after.keys() == before.keys(),
              "up to 1.1.21 the client skips the upload when the dataset has tags: nothing changes")


if __name__ == "__main__":
    main(scenario)
