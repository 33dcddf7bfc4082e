"""MISO sample generation speed: the Numba generator against plain NumPy in the same run.

Three generators of the same rules (SPEC section 3: uniform user, Rician channels to 3 BS
with 4 x 4 arrays, 4 pilots observed through the system's sensing vectors, constant-modulus
noise):

- ``numba``: :func:`simulators.miso.generate_miso` (parallel, per-sample streams);
- ``numpy per-sample``: one sample at a time with ``numpy.random.Generator``, the way a
  research script usually loops;
- ``numpy batched``: the same formulas vectorized over the whole batch (the fastest plain
  NumPy can do, at the price of the per-sample streams).

The NumPy generators draw from ``numpy.random.Generator`` and so give other numbers than
the Numba one (the same distributions). Run::

    .venv/bin/python benchmarks/bench_miso.py [--n 200000] [--n-numpy 5000]
"""

from __future__ import annotations

import argparse
import math
import time

import numba
import numpy as np

from simulators.miso import (
    MisoConfig,
    MisoSystem,
    generate_miso,
    los_channel,
    make_system,
    path_gain,
    pilot_signals,
)

from _timing import best_time


def numpy_per_sample(config: MisoConfig, system: MisoSystem, n: int, seed: int):
    """Plain per-sample NumPy generator of the same rules (numpy.random.Generator)."""
    rng = np.random.default_rng(seed)
    lo, hi = config.user_area_m
    bs = config.bs_array_m  # [B, 3]
    k = float(config.rician_k)
    m = np.repeat(np.arange(config.array_rows), config.array_cols)
    c = np.tile(np.arange(config.array_cols), config.array_rows)
    sigma = math.sqrt(config.noise_w)
    wh = system.sensing.conj()  # [B, L, M]
    shape_h = (config.n_bs, config.n_antennas)
    pos = np.empty((n, 2))
    h = np.empty((n,) + shape_h, dtype=np.complex128)
    y = np.empty((n, config.n_bs, config.n_pilots), dtype=np.complex128)
    for i in range(n):
        p = rng.uniform(lo, hi, size=2)
        diff = np.array([p[0], p[1], 0.0]) - bs  # [B, 3]
        d = np.linalg.norm(diff, axis=1)  # [B]
        amp = 10.0 ** (-(32.6 + 36.7 * np.log10(d)) / 20.0)
        a = np.exp(1j * config.kappa * (np.outer(diff[:, 0] / d, m) + np.outer(diff[:, 1] / d, c)))
        fade = (rng.standard_normal(shape_h) + 1j * rng.standard_normal(shape_h)) / math.sqrt(2)
        hi_ = amp[:, None] * (math.sqrt(k / (1 + k)) * a + math.sqrt(1 / (1 + k)) * fade)
        phase = rng.uniform(0.0, 2 * np.pi, size=y.shape[1:])
        y[i] = np.einsum("blm,bm->bl", wh, hi_) * system.pilots + sigma * np.exp(1j * phase)
        pos[i] = p
        h[i] = hi_
    return pos, h, y


def numpy_batched(config: MisoConfig, system: MisoSystem, n: int, seed: int):
    """The same rules vectorized over the batch with the library's NumPy helpers."""
    rng = np.random.default_rng(seed)
    lo, hi = config.user_area_m
    k = float(config.rician_k)
    pos = rng.uniform(lo, hi, size=(n, 2))
    shape_h = (n, config.n_bs, config.n_antennas)
    fade = (rng.standard_normal(shape_h) + 1j * rng.standard_normal(shape_h)) / math.sqrt(2)
    h = los_channel(config, pos) + np.sqrt(path_gain(config, pos) / (1 + k))[..., None] * fade
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, config.n_bs, config.n_pilots))
    y = pilot_signals(system, h) + math.sqrt(config.noise_w) * np.exp(1j * phase)
    return pos, h, y


def _rate(fn, n: int, repeats: int) -> float:
    return n / best_time(lambda: fn(n), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples per Numba/batched run")
    parser.add_argument("--n-numpy", type=int, default=5_000, help="samples per per-sample run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = MisoConfig.from_preset("paper")
    system = make_system(config, 0)
    t0 = time.perf_counter()
    generate_miso(config, 10, seed=0, system=system)  # compile or load the cache
    warm = time.perf_counter() - t0

    numba_rate = _rate(lambda n: generate_miso(config, n, seed=1, system=system), args.n,
                       args.repeats)
    loop_rate = _rate(lambda n: numpy_per_sample(config, system, n, 1), args.n_numpy, 1)
    batch_rate = _rate(lambda n: numpy_batched(config, system, n, 1), args.n, args.repeats)

    print(f"MISO sample generation, preset 'paper' (3 BS x 16 antennas, 4 pilots), "
          f"numba threads {numba.get_num_threads()}, first call {warm:.2f} s")
    print(f"  numba generate_miso   n={args.n:>8,d}  {numba_rate:>12,.0f} samples/s")
    print(f"  numpy per-sample loop n={args.n_numpy:>8,d}  {loop_rate:>12,.0f} samples/s")
    print(f"  numpy batched         n={args.n:>8,d}  {batch_rate:>12,.0f} samples/s")
    print(f"  ratio numba / numpy per-sample: {numba_rate / loop_rate:,.1f}x")
    print(f"  ratio numba / numpy batched:    {numba_rate / batch_rate:,.1f}x")


if __name__ == "__main__":
    main()
