"""Reference implementations of the server's selection rules in plain Python/numpy, used to
check its selections exactly: RANDOM (partial Fisher-Yates with xoshiro256**), CORESET (greedy
k-center), CORAL (greedy weighted diversity) and ACTIVE_LEARNING (top scores).
The greedy ones refuse (NearTie / AssertionError) data whose argmax is too close to call."""

from __future__ import annotations

import numpy as np

_M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed: int):
        self.state = seed & _M64

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)


class Xoshiro256StarStar:
    """xoshiro256** 1.0, state from four SplitMix64 outputs of the seed."""

    def __init__(self, seed: int):
        sm = SplitMix64(seed)
        self.s = [sm.next() for _ in range(4)]

    @staticmethod
    def _rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & _M64

    def next(self) -> int:
        s = self.s
        result = (self._rotl((s[1] * 5) & _M64, 7) * 9) & _M64
        t = (s[1] << 17) & _M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def uniform_below(self, bound: int) -> int:
        """Lemire's multiply-shift with rejection (unbiased)."""
        m = self.next() * bound
        low = m & _M64
        if low < bound:
            threshold = ((1 << 64) - bound) % bound
            while low < threshold:
                m = self.next() * bound
                low = m & _M64
        return m >> 64


def random_picks(candidates, need: int, seed: int = 0) -> list:
    """RANDOM: partial Fisher-Yates over the candidates in ascending index order."""
    a = sorted(candidates)
    rng = Xoshiro256StarStar(seed)
    need = min(need, len(a))
    for t in range(need):
        j = t + rng.uniform_below(len(a) - t)
        a[t], a[j] = a[j], a[t]
    return a[:need]


def active_learning_picks(w, candidates, need: int) -> list:
    """ACTIVE_LEARNING: the `need` candidates with the largest weight, ties to the lowest index."""
    w = np.asarray(w, dtype=np.float64)
    order = sorted(candidates, key=lambda i: (-w[i], i))
    return order[:need]


def greedy_k_center(E: np.ndarray, need: int, preselected=(), candidates=None, min_gap=2e-6) -> list:
    """Greedy farthest-first on squared Euclidean distance (float64 for the reference).
    P = preselected are the initial centers; with none the first pick is the lowest
    candidate index. Ties go to the lowest index. Returns the new picks in order.

    The server accumulates distances in float32, so an argmax whose best two
    values are within `min_gap` (relative) could legitimately go either way: that makes the
    reference unusable for an exact comparison and raises instead of comparing."""
    n = len(E)
    X = E.astype(np.float64)
    cand = np.zeros(n, dtype=bool)
    cand[list(range(n)) if candidates is None else list(candidates)] = True
    cand[list(preselected)] = False
    m = np.full(n, np.inf)
    for p in preselected:
        m = np.minimum(m, ((X - X[p]) ** 2).sum(axis=1))
    picks = []
    if not len(preselected):
        first = int(np.flatnonzero(cand)[0])
        picks.append(first)
        cand[first] = False
        m = np.minimum(m, ((X - X[first]) ** 2).sum(axis=1))
    while len(picks) < need and cand.any():
        masked = np.where(cand, m, -np.inf)
        c = int(np.argmax(masked))  # first maximum = lowest index on ties
        if cand.sum() > 1:
            second = np.partition(masked, -2)[-2]
            if masked[c] - second <= min_gap * masked[c]:
                raise AssertionError(f"test data has a near-tie at pick {len(picks)}: pick other data")
        picks.append(c)
        cand[c] = False
        m = np.minimum(m, ((X - X[c]) ** 2).sum(axis=1))
    return picks


class NearTie(Exception):
    """The reference's argmax is too close to call: an exact comparison would be unfair."""


def greedy_coral(E: np.ndarray, w: np.ndarray, need: int, preselected=(), candidates=None,
                 alpha=1.0, beta=1.0, min_gap=1e-9) -> list:
    """CORAL as the server implements it: greedy argmax over candidates of
    alpha*ln(W + w_i) + beta*ln(D + m_i) (float64, ties to the lowest index), where W is the
    summed weight of the selected set S, m_i the squared distance to S and D the sum over S of
    each member's squared distance to its nearest other member. With P empty the first pick
    is the highest weight. Raises NearTie if the best two objectives are within `min_gap`."""
    n = len(E)
    X = E.astype(np.float64)
    w = np.asarray(w, dtype=np.float64)
    cand = np.zeros(n, dtype=bool)
    cand[list(range(n)) if candidates is None else list(candidates)] = True
    S = list(preselected)
    cand[S] = False
    d2 = lambda i: ((X - X[i]) ** 2).sum(axis=1)  # noqa: E731
    m = np.full(n, np.inf)
    nu = {}
    for s in S:
        ds = d2(s)
        m = np.minimum(m, ds)
        others = [t for t in S if t != s]
        nu[s] = float(ds[others].min()) if others else 0.0
    W = float(w[S].sum()) if S else 0.0
    picks = []

    def pick(c):
        nonlocal W, m
        dc = d2(c)
        for t in S:
            nu[t] = min(nu[t], float(dc[t]))
        nu[c] = float(m[c]) if S else 0.0
        S.append(c)
        picks.append(c)
        W += float(w[c])
        cand[c] = False
        m = np.minimum(m, dc)

    if not S and need > 0:
        ws = np.where(cand, w, -np.inf)
        pick(int(np.argmax(ws)))
    while len(picks) < need and cand.any():
        D = sum(nu.values())
        with np.errstate(divide="ignore"):
            obj = alpha * np.log(W + w) + beta * np.log(D + m)
        obj = np.where(cand, obj, -np.inf)
        c = int(np.argmax(obj))
        if cand.sum() > 1 and obj[c] - np.partition(obj, -2)[-2] <= min_gap:
            raise NearTie(f"near-tie at CORAL pick {len(picks)}")
        pick(c)
    return picks
