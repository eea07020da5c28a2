"""Scenario `exactness` (all releases): the server's selections equal the numpy references of
reference.py on the same embeddings. CORESET (greedy k-center): from scratch (first pick =
index 0), from a preselected tag, inside a query tag, with a min_distance stop. RANDOM
(partial Fisher-Yates, xoshiro256** seed 0) from scratch and preselected. CORAL without
scores falls back to CORESET. ACTIVE_LEARNING = the top scores, with the scores placed the
way the release sends them."""

import os

import numpy as np

from common import (HAS_AGENT, WORKDIR, L, V, bit_indices, check, default_score_weights, embeddings_in_mapping_order,
                    main, make_scorer, mapping, new_agent, predictions_needed, select, soft, tag_by_name)
from reference import active_learning_picks, greedy_k_center, random_picks
from seed import seed_dataset

N, D = 300, 16


def server_pick(client, name, n_samples, preselected=None, query=None, min_distance=-1, method="CORESET"):
    config = L.SelectionConfig(n_samples=n_samples, method=method, name=name, min_distance=min_distance)
    result = select(client, config, preselected_tag_id=preselected, query_tag_id=query)
    tag = tag_by_name(client.dataset_id, name)
    check(result.id == tag["id"] and tag["totSize"] == N, f"{name}: the job returned the tag, totSize {N}")
    return tag, set(bit_indices(tag["bitMaskData"]))


def scenario():
    client, _, _ = seed_dataset("exact", n=N, d=D, seed=23)
    files = mapping(client.dataset_id)
    E = embeddings_in_mapping_order(os.path.join(WORKDIR, "exact.csv"), files)

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


    # 5. RANDOM: partial Fisher-Yates with xoshiro256** (seed 0) over the candidates by index
    with soft("RANDOM reference"):
        t40, got40 = server_pick(client, "random-40", 40, method="RANDOM")
        check(got40 == set(random_picks(range(N), 40)), "RANDOM 40 equals the reference (xoshiro256**, seed 0)",
              sorted(got40)[:12])
        _, got60 = server_pick(client, "random-60", 60, preselected=t40["id"], method="RANDOM")
        want60 = got40 | set(random_picks(sorted(set(range(N)) - got40), 20))
        check(got60 == want60, "RANDOM 40->60 preselected equals the reference over Q \\ P")

    # 6. CORAL while no scores exist: CORESET
    with soft("CORAL without scores"):
        _, got130 = server_pick(client, "coral-no-scores", 130, preselected=t100["id"], method="CORAL")
        want130 = set(want) | set(greedy_k_center(E, 30, preselected=sorted(got)))
        check(got130 == want130, "CORAL 100->130 without any scores equals CORESET from the same P")

    # 7. ACTIVE_LEARNING with scores through the agent: P plus the top scores of Q \ P
    #    (1.4.7+ have no agent: upload_scores on the query tag, then selection)
    initial_id = tag_by_name(client.dataset_id, "initial-tag")["id"]
    with soft("ACTIVE_LEARNING reference"):
        config = L.SelectionConfig(n_samples=130, method="ACTIVE_LEARNING", name="al-130")
        if HAS_AGENT:
            agent = new_agent(client, preselected_tag_name="coreset-100")
            preds = np.random.default_rng(9).dirichlet(np.ones(4), size=predictions_needed(agent))
            scorer = make_scorer(preds)
            agent.query(config, al_scorer=scorer)
        else:
            scorer = make_scorer(np.random.default_rng(9).dirichlet(np.ones(4), size=N))
            client.upload_scores(scorer.calculate_scores(), query_tag_id=initial_id)
            select(client, config, preselected_tag_id=t100["id"], query_tag_id=initial_id)
        w, name = default_score_weights(scorer, N, range(N), got)
        al = set(bit_indices(tag_by_name(client.dataset_id, "al-130")["bitMaskData"]))
        want_al = got | set(active_learning_picks(w, sorted(set(range(N)) - got), 30))
        check(al == want_al, f"ACTIVE_LEARNING 100->130 = P + the 30 highest {name} scores of Q \\ P",
              f"server-only {sorted(al - want_al)[:10]}, reference-only {sorted(want_al - al)[:10]}")


    # 8. the same inside a query tag (Q = coreset-150, P = coreset-100): 1.1.7+ post |Q| scores
    #    to the query tag, element j = the j-th member of Q by index
    with soft("ACTIVE_LEARNING inside a query tag"):
        config = L.SelectionConfig(n_samples=110, method="ACTIVE_LEARNING", name="al-110-in-150")
        if HAS_AGENT:
            agent = new_agent(client, query_tag_name="coreset-150", preselected_tag_name="coreset-100")
            n_pred = predictions_needed(agent)
            check(n_pred == (50 if V <= (1, 1, 6) else 150), f"the agent wants {n_pred} predictions")
            scorer = make_scorer(np.random.default_rng(10).dirichlet(np.ones(3), size=n_pred))
            agent.query(config, al_scorer=scorer)
        else:
            scorer = make_scorer(np.random.default_rng(10).dirichlet(np.ones(3), size=150))
            client.upload_scores(scorer.calculate_scores(), query_tag_id=t150["id"])
            select(client, config, preselected_tag_id=t100["id"], query_tag_id=t150["id"])
        w, _ = default_score_weights(scorer, N, got150, got)
        al = set(bit_indices(tag_by_name(client.dataset_id, "al-110-in-150")["bitMaskData"]))
        want_al = got | set(active_learning_picks(w, sorted(got150 - got), 10))
        check(al == want_al, "ACTIVE_LEARNING in a query tag = P + the 10 highest scores of Q \\ P",
              f"server-only {sorted(al - want_al)[:10]}, reference-only {sorted(want_al - al)[:10]}")


if __name__ == "__main__":
    main(scenario)
