"""Counter-free SplitMix64 random streams, one per sample, for Numba kernels.

Each layout / sample ``k`` of a batch gets its own 64-bit stream derived from the user's
seed and ``k`` alone. The draws therefore do not depend on the number of threads, on the
batch size (sample ``k`` of ``n = 100`` equals sample ``k`` of ``n = 10_000``), or on
scheduling. SplitMix64 (Steele, Lea, Flood 2014) passes BigCrush and is the seeding
generator of the xoshiro family.

The Numba functions below are mirrored in :mod:`simulators.prng_reference` in plain
Python integers, which the tests use to check the kernels draw for draw.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from simulators.validation import ConfigError

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_MIX1 = uint64(0xBF58476D1CE4E5B9)
_MIX2 = uint64(0x94D049BB133111EB)
_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finalizer: a bijective 64-bit hash."""
    z = (z ^ (z >> uint64(30))) * _MIX1
    z = (z ^ (z >> uint64(27))) * _MIX2
    return z ^ (z >> uint64(31))


@njit(cache=True, inline="always")
def stream_state(seed_key: np.uint64, index: int | np.uint64) -> np.uint64:
    """Initial state of the stream of sample ``index`` under ``seed_key``."""
    return mix64(seed_key ^ mix64(uint64(index) * _GOLDEN + _GOLDEN))


@njit(cache=True, inline="always")
def next_uniform(state: np.ndarray) -> float:
    """Advance ``state`` (a 1-element uint64 array) and return a float in [0, 1)."""
    state[0] = state[0] + _GOLDEN
    return float(mix64(state[0]) >> uint64(11)) * _INV_2_53


@njit(cache=True, inline="always")
def next_normal(state: np.ndarray) -> float:
    """Standard normal draw (Box-Muller, one value per two uniforms)."""
    u1 = next_uniform(state)
    u2 = next_uniform(state)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True, inline="always")
def next_exponential(state: np.ndarray) -> float:
    """Exp(1) draw: the power of a unit Rayleigh fade, ``|CN(0, 1)|^2``."""
    return -np.log(1.0 - next_uniform(state))


def seed_key(seed: int) -> np.uint64:
    """Map a user seed (an int in [0, 2**64), stored in files as uint64) to its streams' key."""
    if (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
            or not 0 <= seed < 1 << 64):
        raise ConfigError(f"seed={seed!r} is invalid; expected an integer in [0, 2**64)")
    return np.uint64(int(seed))
