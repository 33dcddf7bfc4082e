"""Plain-Python mirror of :mod:`simulators.prng`, used as the obviously-correct reference."""

from __future__ import annotations

import math

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def mix64(z: int) -> int:
    """SplitMix64 finalizer on a Python int in [0, 2**64), as :func:`simulators.prng.mix64`.

    Example
    -------
    >>> mix64(0), mix64(1) == mix64(1)
    (0, True)
    """
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class Stream:
    """The random stream of one sample, draw for draw as the Numba kernels see it."""

    def __init__(self, seed: int, index: int) -> None:
        key = int(seed) % (1 << 64)
        self.state = mix64(key ^ mix64((index * _GOLDEN + _GOLDEN) & _MASK))

    def uniform(self) -> float:
        """Advance the stream and return a float in [0, 1) (the top 53 bits of the hash).

        Example
        -------
        >>> s = Stream(seed=1, index=0)
        >>> 0.0 <= s.uniform() < 1.0
        True
        """
        self.state = (self.state + _GOLDEN) & _MASK
        return (mix64(self.state) >> 11) * (1.0 / 9007199254740992.0)

    def normal(self) -> float:
        """Standard normal draw from two uniforms (Box-Muller, cosine branch only)."""
        u1, u2 = self.uniform(), self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)

    def exponential(self) -> float:
        """Exp(1) draw ``-log(1 - u)`` from one uniform."""
        return -math.log(1.0 - self.uniform())
