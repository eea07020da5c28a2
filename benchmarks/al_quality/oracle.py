"""Numpy reference ("oracle") for the server's samplers (docs/selection.md).

Two uses:
  * as a *development-mode* selector (run.py --selector oracle), so the ML side of the
    benchmark can be validated before the server exists;
  * as a *checker* of the server: every server selection is replayed greedily from the
    same embeddings, preselected set and scores, and must come out identical.

Conventions (all indices are positions in the dataset's mapping order, docs/selection.md):
  X        float32 embeddings as the server parsed them (n, d); distances are computed in
           float64 from those float32 values.
  P        preselected indices (the labeled set before the query).
  cand     bool mask of candidates C = Q \\ P.
  need     number of new picks (n_samples - |P|, clamped to |C|).
  w        float64 scores (uncertainty_margin), one per sample (0 outside Q).

The greedy checker ("guided replay") walks the oracle's greedy loop. When the oracle's
argmax is not in the server's set but a server-chosen candidate is within a small
tolerance of the best value (a near-tie that float32 vs float64 rounding may decide
differently), it follows the server and counts a near-tie. Anything else is a mismatch.
"""
from __future__ import annotations

import numpy as np

# Relative tolerance on the squared distance (CORESET) / absolute tolerance on the log
# objective (CORAL) / relative tolerance on scores (ACTIVE_LEARNING) for a "near-tie".
# docs/selection.md §10: exact sequences only without near-ties (gap > 1e-4 relative); radius to 1e-5.
TOL_COVER_REL = 1e-5
TOL_LOGOBJ_ABS = 1e-5
TOL_SCORE_REL = 1e-6


def _sqdist_to_row(X: np.ndarray, i: int) -> np.ndarray:
    diff = X - X[i]
    return np.einsum("ij,ij->i", diff, diff)


def _min_sqdist_to_set(X: np.ndarray, S) -> np.ndarray:
    m = np.full(len(X), np.inf)
    S = list(S)
    for lo in range(0, len(S), 64):
        blk = X[S[lo:lo + 64]]                                  # (b, d)
        diff = X[:, None, :] - blk[None, :, :]                  # (n, b, d)
        d2 = np.einsum("ibd,ibd->ib", diff, diff)
        m = np.minimum(m, d2.min(axis=1))
    return m


def _argmax_lowest(vals: np.ndarray) -> int:
    # np.argmax returns the first occurrence of the maximum: ties -> lowest index
    return int(np.argmax(vals))


class Replay:
    """Result of one oracle run / guided replay."""

    def __init__(self):
        self.picks: list[int] = []
        self.near_ties = 0
        self.mismatch: str | None = None   # description of the first real divergence
        self.note: str | None = None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def _greedy(kind, X64, P, cand, need, w=None, server_set=None, first=None):
    """Greedy k-center (kind='CORESET') or CORAL product rule (kind='CORAL').

    With server_set=None this is the plain oracle; otherwise a guided replay.
    """
    r = Replay()
    n = len(X64)
    P = [int(p) for p in P]
    avail = cand.copy()
    m = _min_sqdist_to_set(X64, P) if P else np.full(n, np.inf)
    # CORAL running state: W = sum of weights of S; nu[s] = sq. dist of s to its nearest
    # other member of S (inf while |S| == 1, counted as 0); D = sum nu.
    S = list(P)
    smask = None
    if server_set is not None:
        smask = np.zeros(n, dtype=bool)
        smask[list(server_set)] = True
    if kind == "CORAL":
        W = float(np.sum(w[P])) if P else 0.0
        if len(P) >= 2:
            nu = {}
            for s in P:
                d = _sqdist_to_row(X64, s)[P]
                d[P.index(s)] = np.inf
                nu[s] = float(d.min())
        else:
            nu = {s: np.inf for s in P}
    need = min(need, int(avail.sum()))

    def D():
        return float(sum(v for v in nu.values() if np.isfinite(v)))

    def pick(c):
        nonlocal m, W
        d_c = _sqdist_to_row(X64, c)
        if kind == "CORAL":
            W += float(w[c])
            for s in S:
                if d_c[s] < nu[s]:
                    nu[s] = float(d_c[s])
            nu[c] = float(m[c]) if S else np.inf
        S.append(c)
        avail[c] = False
        r.picks.append(c)
        m = np.minimum(m, d_c)

    # first pick without preselected samples
    if not P and need > 0:
        if kind == "CORESET":
            f = int(np.flatnonzero(avail)[0]) if first is None else int(first)
        else:  # CORAL: highest weight, lowest index on ties
            f = _argmax_lowest(np.where(avail, w, -np.inf))
        if server_set is not None and f not in server_set:
            r.mismatch = f"first pick {f} (lowest index / top score) not in server set"
            return r
        pick(f)

    while len(r.picks) < need:
        if kind == "CORESET":
            vals = np.where(avail, m, -np.inf)
            tol = lambda best: TOL_COVER_REL * abs(best)
        else:
            Wv = W + w
            if not np.any(Wv[avail] > 0):          # all weights 0 -> pure diversity (docs/selection.md §5)
                vals = np.where(avail, m, -np.inf)
                tol = lambda best: TOL_COVER_REL * abs(best)
            else:
                with np.errstate(divide="ignore"):
                    obj = np.log(Wv) + np.log(D() + m)
                vals = np.where(avail, obj, -np.inf)
                tol = lambda best: TOL_LOGOBJ_ABS
        c = _argmax_lowest(vals)
        if server_set is not None and c not in server_set:
            alt = np.flatnonzero(avail & smask)
            if len(alt) == 0:
                r.mismatch = (f"step {len(r.picks)}: server set has no further candidate; "
                              f"oracle wants {c}")
                return r
            j = int(alt[np.argmax(vals[alt])])
            gap = float(vals[c] - vals[j])
            if gap <= tol(float(vals[c])):
                r.near_ties += 1
                c = j
            else:
                r.mismatch = (f"step {len(r.picks)}: oracle picks {c} (value {vals[c]:.9g}); "
                              f"best server-chosen candidate {j} (value {vals[j]:.9g}); gap {gap:.3g}")
                return r
        pick(c)

    if server_set is not None:
        got = set(P) | set(r.picks)
        if got != set(server_set):
            extra = sorted(set(server_set) - got)[:5]
            r.mismatch = f"replayed set != server set (server has extra {extra}...)"
    return r


def coreset(X32, P, cand, need, server_set=None, first=None) -> Replay:
    """Exact greedy k-center (docs/selection.md §4); first center = lowest candidate index."""
    X64 = np.asarray(X32, dtype=np.float32).astype(np.float64)
    r = _greedy("CORESET", X64, P, cand, need, server_set=server_set, first=first)
    if server_set is not None and not r.ok and not P:
        # Initial CORESET: if the server used another first-center policy, find which
        # first pick reproduces its set and report it as a note (not a silent pass).
        for f in sorted(set(server_set)):
            r2 = _greedy("CORESET", X64, P, cand, need, server_set=server_set, first=f)
            if r2.ok:
                # Allowed by the library (a seeded random first candidate when P is empty);
                # reported separately, not counted as a mismatch.
                r2.note = f"first CORESET center {f} is not the lowest candidate index"
                return r2
    return r


def coral(X32, w, P, cand, need, server_set=None) -> Replay:
    """CORAL product rule in log form, float64 objective (docs/selection.md §5), alpha=beta=1."""
    X64 = np.asarray(X32, dtype=np.float32).astype(np.float64)
    return _greedy("CORAL", X64, P, cand, need, w=np.asarray(w, dtype=np.float64),
                   server_set=server_set)


def active_learning(w, P, cand, need, server_set=None) -> Replay:
    """Top-`need` candidates by score, stable by index (docs/selection.md §6)."""
    r = Replay()
    w = np.asarray(w, dtype=np.float64)
    idx = np.flatnonzero(cand)
    order = idx[np.lexsort((idx, -w[idx]))]        # by -w, then index
    need = min(need, len(idx))
    top = [int(i) for i in order[:need]]
    r.picks = top
    if server_set is None:
        return r
    got = set(server_set) - set(int(p) for p in P)
    if got == set(top):
        return r
    # near-ties at the cut: every differing element must score within tolerance of the cut
    cut = w[order[need - 1]] if need > 0 else 0.0
    diff = (got ^ set(top))
    tol = TOL_SCORE_REL * max(abs(cut), 1e-12)
    if len(got) == need and all(abs(w[i] - cut) <= tol for i in diff):
        r.near_ties = len(diff) // 2
        r.picks = sorted(got)
        return r
    r.mismatch = (f"top-{need} by score differs: {len(got - set(top))} server picks not in the "
                  f"oracle's top (cut score {cut:.9g})")
    return r


def random_check(P, cand, n_total, server_set) -> Replay:
    """RANDOM: the server's RNG is its own; check sizes and containment only."""
    r = Replay()
    Pset = set(int(p) for p in P)
    cidx = set(int(i) for i in np.flatnonzero(cand))
    want = min(n_total, len(Pset) + len(cidx))
    s = set(server_set)
    if len(s) != want:
        r.mismatch = f"size {len(s)} != expected {want}"
    elif not Pset <= s:
        r.mismatch = "preselected samples missing from the result"
    elif not (s - Pset) <= cidx:
        r.mismatch = "picked samples outside the candidates"
    r.picks = sorted(s - Pset)
    return r


def random_oracle(P, cand, need, rng: np.random.Generator) -> Replay:
    """Development-mode RANDOM (numpy RNG; NOT the server's xoshiro stream)."""
    r = Replay()
    idx = np.flatnonzero(cand)
    need = min(need, len(idx))
    r.picks = [int(i) for i in rng.choice(idx, size=need, replace=False)]
    return r
