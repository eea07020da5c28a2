#!/usr/bin/env python3
"""Self-test of oracle.py against brute-force re-implementations written straight from the
definitions in docs/selection.md §2–§6 (no incremental state), plus checks that the
guided-replay checker flags wrong server sets and tolerates genuine near-ties.

    python benchmarks/al_quality/test_oracle.py      # a few seconds, exit 0 on success
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402


def d2mat(X):
    X = X.astype(np.float64)
    diff = X[:, None, :] - X[None, :, :]
    return np.einsum("ijd,ijd->ij", diff, diff)


def brute_coreset(X, P, cand, need):
    D = d2mat(X)
    S = list(P)
    picks = []
    C = [i for i in range(len(X)) if cand[i]]
    while len(picks) < min(need, len(C)):
        best, bv = None, -1.0
        for c in C:
            if c in picks:
                continue
            v = min(D[c, s] for s in S) if S else 0.0
            if v > bv:
                best, bv = c, v
        S.append(best)
        picks.append(best)
    return picks


def brute_coral(X, w, P, cand, need):
    """argmax_c (W_S + w_c) * (D_S + m_c), all terms recomputed from scratch every step."""
    D = d2mat(X)
    S = list(P)
    picks = []
    C = [i for i in range(len(X)) if cand[i]]

    def D_S(S):
        if len(S) <= 1:
            return 0.0
        return sum(min(D[s, t] for t in S if t != s) for s in S)

    while len(picks) < min(need, len(C)):
        W = sum(w[s] for s in S)
        DS = D_S(S)
        best, bv = None, -1.0
        for c in C:
            if c in picks:
                continue
            if not S:
                v = w[c]
            else:
                m = min(D[c, s] for s in S)
                v = (W + w[c]) * (DS + m)
            if v > bv:
                best, bv = c, v
        S.append(best)
        picks.append(best)
    return picks


def main():
    rng = np.random.default_rng(7)
    n_cases = 0
    for trial in range(40):
        n = int(rng.integers(20, 120))
        d = int(rng.integers(2, 9))
        X = rng.normal(size=(n, d)).astype(np.float32)
        w = rng.random(n)
        nP = int(rng.integers(0, 6))
        P = sorted(rng.choice(n, size=nP, replace=False).tolist())
        cand = np.ones(n, dtype=bool)
        cand[P] = False
        need = int(rng.integers(1, 25))

        r = oracle.coreset(X, P, cand, need)
        bp = brute_coreset(X, P, cand, need) if P else None
        if P:
            assert r.picks == bp, (trial, "coreset", r.picks, bp)
        else:  # no preselected: first center is the lowest candidate index, then greedy
            assert r.picks[0] == int(np.flatnonzero(cand)[0])
            bp = [r.picks[0]] + brute_coreset(X, [r.picks[0]], cand & (np.arange(n) != r.picks[0]), need - 1)
            assert r.picks == bp, (trial, "coreset0", r.picks, bp)

        rc = oracle.coral(X, w, P, cand, need)
        bc = brute_coral(X, w, P, cand, need)
        assert rc.picks == bc, (trial, "coral", rc.picks, bc)

        ra = oracle.active_learning(w, P, cand, need)
        C = np.flatnonzero(cand)
        top = sorted(C.tolist(), key=lambda i: (-w[i], i))[:need]
        assert ra.picks == top

        # checker: the true set passes exactly
        for kind, res in (("CORESET", r), ("CORAL", rc)):
            sset = set(P) | set(res.picks)
            f = oracle.coreset if kind == "CORESET" else (lambda *a, **k: oracle.coral(X, w, *a[1:], **k))
            chk = f(X, P, cand, need, server_set=sset)
            assert chk.ok and chk.near_ties == 0, (trial, kind, chk.mismatch)
            # a tampered set (last pick replaced by the candidate the greedy would take last)
            if len(res.picks) >= 2 and len(C) > len(res.picks):
                rest = [i for i in C if i not in res.picks]
                bad = (sset - {res.picks[-1]}) | {rest[-1]}
                chk = f(X, P, cand, need, server_set=bad)
                if chk.ok:   # only acceptable as a near-tie replacement
                    assert chk.near_ties > 0
        n_cases += 1

    # near-tie handling: two candidates exactly equidistant from the only center
    X = np.array([[0, 0], [1, 0], [-1, 0], [0, 0.5]], dtype=np.float32)
    cand = np.array([False, True, True, True])
    chk = oracle.coreset(X, [0], cand, 1, server_set={0, 2})     # server broke the tie upward
    assert chk.ok and chk.near_ties == 1, chk.mismatch
    chk = oracle.coreset(X, [0], cand, 1, server_set={0, 3})     # clearly worse pick
    assert not chk.ok
    # AL near-tie at the cut
    w = np.array([0.0, 0.5, 0.5 * (1 + 1e-9), 0.1])
    chk = oracle.active_learning(w, [0], cand, 1, server_set={0, 1})
    assert chk.ok and chk.near_ties == 1
    chk = oracle.active_learning(w, [0], cand, 1, server_set={0, 3})
    assert not chk.ok
    # RANDOM containment
    assert oracle.random_check([0], cand, 2, {0, 3}).ok
    assert not oracle.random_check([0], cand, 2, {1, 3}).ok
    print(f"oracle self-test OK ({n_cases} random cases vs brute force + checker cases)")


if __name__ == "__main__":
    main()
