"""Scenario `exactness` (all versions): the server's CORESET tags equal a numpy greedy
k-center on the same embeddings (design/sampling.md §2.3): from scratch (first pick = index 0),
from a preselected tag, inside a query tag, and with a min_distance stop."""

import os

import numpy as np

from common import (L, WORKDIR, bit_indices, check, greedy_k_center, load_csv_matrix, main, mapping,
                    tag_by_name)
from seed import seed_dataset

N, D = 300, 16


def server_pick(client, name, n_samples, preselected=None, query=None, min_distance=-1):
    config = L.SamplerConfig(n_samples=n_samples, method=L.SamplingMethod.CORESET, name=name,
                             min_distance=min_distance)
    result = client.sampling(config, preselected_tag_id=preselected, query_tag_id=query)
    tag = tag_by_name(client.dataset_id, name)
    check(result.id == tag["id"] and tag["totSize"] == N, f"{name}: the job returned the tag, totSize {N}")
    return tag, set(bit_indices(tag["bitMaskData"]))


def scenario():
    client, _, _ = seed_dataset("exact", n=N, d=D, seed=23)
    files = mapping(client.dataset_id)
    csv_names, csv_matrix = load_csv_matrix(os.path.join(WORKDIR, "exact.csv"))
    row_of = {n: i for i, n in enumerate(csv_names)}
    E = csv_matrix[[row_of[f] for f in files]]  # mapping order, as the server must store it

    # 1. nothing preselected: first pick is index 0
    t100, got = server_pick(client, "coreset-100", 100)
    want = greedy_k_center(E, 100)
    check(got == set(want), "CORESET 100 from scratch equals numpy greedy k-center (first pick 0)",
          f"server-only {sorted(got - set(want))[:10]}, numpy-only {sorted(set(want) - got)[:10]}")

    # 2. preselected coreset-100, grow to 150
    t150, got150 = server_pick(client, "coreset-150", 150, preselected=t100["id"])
    want150 = set(want) | set(greedy_k_center(E, 50, preselected=sorted(got)))
    check(got150 == want150 and t150.get("prevTagId") == t100["id"],
          "CORESET 100->150 preselected on coreset-100 equals numpy from that P; prevTagId = coreset-100",
          f"server-only {sorted(got150 - want150)[:10]}, numpy-only {sorted(want150 - got150)[:10]}")

    # 3. query tag = coreset-150, preselected = coreset-100: 20 new picks, only from Q \ P
    _, got120 = server_pick(client, "coreset-120-in-150", 120, preselected=t100["id"], query=t150["id"])
    want120 = set(want) | set(greedy_k_center(E, 20, preselected=sorted(got), candidates=sorted(got150)))
    check(got120 == want120, "CORESET inside a query tag picks from Q \\ P exactly like numpy",
          f"server-only {sorted(got120 - want120)[:10]}, numpy-only {sorted(want120 - got120)[:10]}")

    # 4. min_distance as the only stopping rule (n_samples = -1): stop before the first pick
    #    whose distance to the selected set is below the threshold.
    order = greedy_k_center(E, 60)
    X = E.astype(np.float64)
    dists = [float(np.sqrt(min(((X[order[:k]] - X[order[k]]) ** 2).sum(axis=1)))) for k in range(1, 60)]
    k = 40  # picks order[0..k] are kept: dists[k-1] is the last accepted distance
    threshold = (dists[k - 1] + dists[k]) / 2
    _, got_md = server_pick(client, "coreset-mindist", -1, min_distance=threshold)
    check(got_md == set(order[:k + 1]), f"CORESET with min_distance={threshold:.4f} stops after {k + 1} picks",
          f"server picked {len(got_md)}")


if __name__ == "__main__":
    main(scenario)
