"""D2D layout generation speed: the Numba generator against a plain per-layout NumPy one.

Both follow the same rules (``paper`` preset unless ``--preset``) and run in this process.
Prints layouts per second for each and their ratio.

    python benchmarks/bench_simulators.py [--n 400000] [--n-reference 2000]
"""

from __future__ import annotations

import argparse

import numba
import numpy as np

from simulators.d2d import D2DConfig, generate_d2d
from simulators.d2d_reference import GeneratorDraws, reference_layout

from _timing import best_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--n", type=int, default=400_000, help="layouts per Numba run")
    parser.add_argument("--n-reference", type=int, default=2_000, help="layouts, NumPy run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    cfg = D2DConfig.from_preset(args.preset)
    generate_d2d(cfg, 16, seed=0)  # compile (or load the cache) outside the timing
    t_numba = best_time(lambda: generate_d2d(cfg, args.n, seed=1), args.repeats)
    rng = np.random.default_rng(1)
    draws = GeneratorDraws(rng)
    t_ref = best_time(lambda: [reference_layout(cfg, draws) for _ in range(args.n_reference)], 1)

    numba_rate = args.n / t_numba
    ref_rate = args.n_reference / t_ref
    print(f"D2D layout generation, preset {args.preset!r} ({cfg.n_links} links), "
          f"{numba.get_num_threads()} Numba threads")
    print(f"{'generator':<32}{'layouts':>10}{'seconds':>10}{'layouts/s':>14}")
    print(f"{'numba (batched, parallel)':<32}{args.n:>10}{t_numba:>10.3f}{numba_rate:>14,.0f}")
    print(f"{'numpy (plain, per layout)':<32}{args.n_reference:>10}{t_ref:>10.3f}"
          f"{ref_rate:>14,.0f}")
    print(f"ratio numba / numpy: {numba_rate / ref_rate:,.0f}x")


if __name__ == "__main__":
    main()
