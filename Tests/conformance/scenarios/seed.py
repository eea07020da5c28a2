"""Scenario `seed` (all releases): the seed workflow on a 1000-sample metadata-only dataset with
random 32-d embeddings, everything uploaded through the client: CORESET 100, then CORAL 200
on classification scores with the CORESET tag preselected, checked exactly against the numpy
reference. Up to 1.4.6 through the ActiveLearningAgent (and a second agent preselected on the
result gives back the same sets); from 1.4.7, which dropped the agent, through `selection`,
`upload_scores` and `selection`."""

import os

import numpy as np

from common import (HAS_AGENT, MIRRORED, WORKDIR, FolderDataset, L, V, bit_indices, check, dataset,
                    default_score_weights, embeddings, embeddings_in_mapping_order, main, make_images, make_scorer,
                    mapping, new_agent, new_client, ok, predictions_needed, select, soft, tag_by_name, tags, upload,
                    write_embeddings_csv)
from reference import NearTie, greedy_coral, greedy_k_center

N, D, CLASSES = 1000, 32, 10


def seed_dataset(name, n=N, d=D, seed=11):
    """Create a metadata-only dataset of n tiny images and upload shuffled n x d embeddings.
    Returns (client, names, vectors)."""
    root = os.path.join(WORKDIR, name)
    names = [f"part_{i // 250}/s_{i:04d}.png" for i in range(n)]
    make_images(root, names, seed=seed, size_range=(2, 5))
    client = new_client()
    client.create_dataset(name)
    upload(client, FolderDataset(root, names), "metadata")
    check(dataset(client.dataset_id)["nSamples"] == n, f"{name}: {n} samples uploaded")
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, d)).astype(np.float32)
    csv_path = os.path.join(WORKDIR, f"{name}.csv")
    write_embeddings_csv(csv_path, names, vectors, rng.permutation(n))
    client.upload_embeddings(csv_path, name="emb")
    check([e["isProcessed"] for e in embeddings(client.dataset_id)] == [True], f"{name}: embedding processed")
    return client, names, vectors


def as_client_sees(indices, files):
    """The filenames the agent of this version reports for a set of mapping indices."""
    n = len(files)
    return sorted(files[n - 1 - i] if MIRRORED else files[i] for i in indices)


def check_coral_exact(files, scorer, core_bits, coral_bits):
    """coral-200 equals the greedy CORAL reference on the score the server uses by default,
    with the scores placed the way this release sends them."""
    w, name = default_score_weights(scorer, N, range(N), core_bits)
    E = embeddings_in_mapping_order(os.path.join(WORKDIR, "seed.csv"), files)
    try:
        want = set(core_bits) | set(greedy_coral(E, w, 100, preselected=core_bits))
    except NearTie as e:
        ok(f"exact CORAL comparison skipped: {e}")
        return
    diversity_only = set(core_bits) | set(greedy_k_center(E, 100, preselected=core_bits, min_gap=0))
    check(want != diversity_only, "the scores matter: the reference differs from CORESET 100->200")
    check(set(coral_bits) == want, f"coral-200 equals the CORAL reference on {name}",
          f"server-only {sorted(set(coral_bits) - want)[:10]}, reference-only {sorted(want - set(coral_bits))[:10]}")


def scenario():
    client, _, _ = seed_dataset("seed")
    ds_id = client.dataset_id
    files = mapping(ds_id)
    initial = tag_by_name(ds_id, "initial-tag")
    if HAS_AGENT:
        coreset, coral = with_agent(client, ds_id, files)
    else:
        coreset, coral = with_selection(client, ds_id, files, initial)
    with soft("queryTagId / preselectedTagId stored on the selected tags"):
        sent_query = V >= (1, 1, 7)  # the 1.1.7+ agent (and `selection` here) always send queryTagId
        check((coreset.get("queryTagId") == initial["id"]) == sent_query
              and (coral.get("queryTagId") == initial["id"]) == sent_query
              and coral.get("preselectedTagId") == coreset["id"],
              "the selected tags carry the request's queryTagId / preselectedTagId",
              {k: (coreset.get(k), coral.get(k)) for k in ("queryTagId", "preselectedTagId")})
    names = [t["name"] for t in tags(ds_id)]
    check(sorted(names) == ["coral-200", "coreset-100", "initial-tag"], "the dataset has exactly these 3 tags", names)


def check_coreset(ds_id, initial_id):
    coreset = tag_by_name(ds_id, "coreset-100")
    core_bits = bit_indices(coreset["bitMaskData"])
    check(len(core_bits) == 100 and coreset["totSize"] == N and coreset.get("prevTagId") == initial_id,
          "coreset-100: 100 bits, totSize 1000, prevTagId = initial-tag", coreset)
    return coreset, core_bits


def check_coral(ds_id, coreset, core_bits):
    coral = tag_by_name(ds_id, "coral-200")
    coral_bits = bit_indices(coral["bitMaskData"])
    check(len(coral_bits) == 200 and set(core_bits) <= set(coral_bits) and coral["totSize"] == N
          and coral.get("prevTagId") == coreset["id"],
          "coral-200: 200 bits including coreset-100, prevTagId = coreset-100", coral)
    return coral, coral_bits


def with_agent(client, ds_id, files):
    """Up to 1.4.6: the ActiveLearningAgent does CORESET 100, then CORAL 200 on its scorer."""
    initial = tag_by_name(ds_id, "initial-tag")
    agent = new_agent(client)  # 1.1.0-1.1.6: query tag None; 1.1.7+: initial-tag
    agent.query(L.SelectionConfig(n_samples=100, method=L.SamplingMethod.CORESET, name="coreset-100"))
    coreset, core_bits = check_coreset(ds_id, initial["id"])
    check(sorted(agent.labeled_set) == as_client_sees(core_bits, files),
          "agent.labeled_set = coreset-100" + (" (read mirrored by this release)" if MIRRORED else ""))

    n_pred = predictions_needed(agent)
    check(n_pred == (900 if V <= (1, 1, 6) else 1000), f"predictions sized {n_pred} for this version")
    preds = np.random.default_rng(5).dirichlet(np.ones(CLASSES), size=n_pred)
    scorer = make_scorer(preds)
    agent.query(L.SelectionConfig(n_samples=200, method=L.SamplingMethod.CORAL, name="coral-200"), al_scorer=scorer)
    coral, coral_bits = check_coral(ds_id, coreset, core_bits)
    check_coral_exact(files, scorer, core_bits, coral_bits)
    labeled, unlabeled = sorted(agent.labeled_set), sorted(agent.unlabeled_set)
    check(len(labeled) == 200 and len(unlabeled) == 800, "agent: 200 labeled, 800 unlabeled")
    check(labeled == as_client_sees(coral_bits, files), "agent.labeled_set = coral-200")

    agent2 = new_agent(new_client(dataset_id=ds_id), preselected_tag_name="coral-200")
    check(sorted(agent2.labeled_set) == labeled and sorted(agent2.unlabeled_set) == unlabeled,
          "a new agent with preselected_tag_name='coral-200' gives back the same 200 / 800")
    ok(f"scores were sent as {'prediction-*' if V <= (1, 1, 6) else 'uncertainty_*'} for {n_pred} samples")
    return coreset, coral


def with_selection(client, ds_id, files, initial):
    """1.4.7+ (no agent): selection CORESET 100 -> upload_scores for the 1000 samples of
    initial-tag -> selection CORAL 200 with coreset-100 preselected."""
    select(client, L.SelectionConfig(n_samples=100, method=L.SamplingMethod.CORESET, name="coreset-100"),
           query_tag_id=initial["id"])
    coreset, core_bits = check_coreset(ds_id, initial["id"])
    preds = np.random.default_rng(5).dirichlet(np.ones(CLASSES), size=N)
    scorer = make_scorer(preds)
    client.upload_scores(scorer.calculate_scores(), query_tag_id=initial["id"])
    result = select(client, L.SelectionConfig(n_samples=200, method=L.SamplingMethod.CORAL, name="coral-200"),
                    preselected_tag_id=coreset["id"], query_tag_id=initial["id"])
    coral, coral_bits = check_coral(ds_id, coreset, core_bits)
    check(result.id == coral["id"], "selection returns the new tag")
    check_coral_exact(files, scorer, core_bits, coral_bits)
    tag_data = client.get_tag_by_name("coral-200")
    check(sorted(client.get_filenames_in_tag(tag_data)) == sorted(files[i] for i in coral_bits),
          "get_filenames_in_tag(coral-200) = the 200 selected files")
    return coreset, coral


if __name__ == "__main__":
    main(scenario)
