"""Reference implementations of design/sampling.md §2 in plain Python/numpy, used to check the
server's selections exactly: RANDOM (§2.2) and ACTIVE_LEARNING (§2.4, last bullet).
CORESET and CORAL references live in common.py."""

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
