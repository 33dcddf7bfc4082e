"""Speed of the classical D2D solvers, each against its reference in the same run.

On one set of `paper` layouts:

* max-min: the batched Numba solver on ``--layouts`` layouts against cvxpy's GP, one
  layout at a time, on the first ``--cvxpy-layouts`` of them (time per layout, ratio,
  largest relative difference in the min-SINR);
* FP: the Numba kernel against the plain NumPy reference (ratio, largest |x| difference);
* WMMSE: time per iteration per layout.

``--figures`` also prints the mean sum-rate / min-rate (Mbps) of every method on
``generate_d2d(paper, 2000, seed)`` for seeds 1, 2, 3 (SPEC: FP ~157, max-min ~9.2).

Timings are the best of ``--repeats`` runs after a warm-up call (Numba compiled, cvxpy's
parametrized problem built).

Usage::

    python benchmarks/bench_solvers.py [--layouts 10000] [--cvxpy-layouts 50] [--threads 2]
                                       [--figures]

The load average is printed with the table: on a shared machine, ratios against a
single-threaded reference shrink when other jobs hold the cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np

from baselines import solve
from baselines.fp import fp, fp_numpy
from baselines.maxmin import maxmin, maxmin_cvxpy
from baselines.wmmse import wmmse
from simulators.d2d import D2DConfig, generate_d2d
from simulators.rates import min_rate_bps, sinr, sum_rate_bps

from _timing import best_time


def bench(n_layouts: int, n_cvxpy: int, iterations: int, repeats: int, seed: int) -> list:
    cfg = D2DConfig.from_preset("paper")
    g = generate_d2d(cfg, n_layouts, seed=seed).g
    p_max, noise = cfg.p_max_w, cfg.noise_w
    rows = []

    # -- max-min: batched Numba vs cvxpy GP per layout ---------------------------------
    maxmin(g[:2], p_max, noise)
    maxmin_cvxpy(g[0], p_max, noise)  # warm-up: builds the parametrized GP
    t_batched = best_time(lambda: maxmin(g, p_max, noise), repeats)
    sol = maxmin(g, p_max, noise)
    t_fast = sinr(g[:n_cvxpy], sol.x[:n_cvxpy] * p_max, noise).min(axis=1)
    t_ref = np.empty(n_cvxpy)
    statuses = set()
    start = time.perf_counter()
    for b in range(n_cvxpy):
        ref = maxmin_cvxpy(g[b], p_max, noise)
        statuses.add(ref.status)
        t_ref[b] = sinr(g[b][None], ref.p_w, noise).min()
    t_cvxpy = time.perf_counter() - start
    per_fast, per_cvx = t_batched / n_layouts, t_cvxpy / n_cvxpy
    rows.append(("max-min batched (Numba)", f"{n_layouts} layouts", per_fast * 1e6, "", ""))
    rows.append((f"max-min cvxpy GP ({'/'.join(sorted(statuses))})", f"{n_cvxpy} layouts",
                 per_cvx * 1e6, f"{per_cvx / per_fast:,.0f}x",
                 f"max rel diff min-SINR {np.max(np.abs(t_fast / t_ref - 1)):.2e}"))

    # -- FP: Numba vs NumPy -------------------------------------------------------------
    fp(g[:2], p_max, noise, iterations=2)
    t_numba = best_time(lambda: fp(g, p_max, noise, iterations=iterations), repeats)
    t_numpy = best_time(lambda: fp_numpy(g, p_max, noise, iterations=iterations), repeats)
    diff = np.abs(fp(g, p_max, noise, iterations=iterations).x
                  - fp_numpy(g, p_max, noise, iterations=iterations).x).max()
    rows.append((f"FP Numba, {iterations} it", f"{n_layouts} layouts",
                 t_numba / n_layouts * 1e6, "", ""))
    rows.append((f"FP NumPy, {iterations} it", f"{n_layouts} layouts",
                 t_numpy / n_layouts * 1e6, f"{t_numpy / t_numba:.1f}x",
                 f"max |x diff| {diff:.1e}"))

    # -- WMMSE --------------------------------------------------------------------------
    wmmse(g[:2], p_max, noise, iterations=2)
    t_wmmse = best_time(lambda: wmmse(g, p_max, noise, iterations=iterations), repeats)
    rows.append((f"WMMSE Numba, {iterations} it", f"{n_layouts} layouts",
                 t_wmmse / n_layouts * 1e6,
                 "", f"{t_wmmse / n_layouts / iterations * 1e9:.0f} ns / iteration / layout"))
    return rows


def figures(seeds=(1, 2, 3), n: int = 2000) -> None:
    cfg = D2DConfig.from_preset("paper")
    kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w, "snr_gap_db": cfg.snr_gap_db}
    methods = ("fp", "wmmse", "maxmin", "full", "random")
    print(f"\nMean over generate_d2d(paper, {n}, seed) layouts, Mbps (B = 5 MHz)")
    print(f"{'seed':>4} " + " ".join(f"{m + ' sum':>11} {m + ' min':>11}" for m in methods))
    for seed in seeds:
        g = generate_d2d(cfg, n, seed=seed).g
        cells = []
        for m in methods:
            res = solve(m, g, seed=seed, **kw)
            assert not np.any(res.status == "failed")
            cells.append(sum_rate_bps(g, res.p_w, cfg.noise_w, cfg.bandwidth_hz).mean() / 1e6)
            cells.append(min_rate_bps(g, res.p_w, cfg.noise_w, cfg.bandwidth_hz).mean() / 1e6)
        print(f"{seed:>4} " + " ".join(f"{c:11.3f}" for c in cells))
    print("fp, wmmse: 150 iterations, 1 start; maxmin: exact (rtol 1e-12); random: seed = "
          "layout seed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", type=int, default=10_000)
    parser.add_argument("--cvxpy-layouts", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="Numba threads (default: Numba's, one per CPU)")
    parser.add_argument("--figures", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.cvxpy_layouts <= args.layouts:
        parser.error("--cvxpy-layouts must be in [1, --layouts]")
    if args.threads is not None:
        numba.set_num_threads(args.threads)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"paper preset, N = 10; {numba.get_num_threads()} Numba threads, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"load average {load}")
    rows = bench(args.layouts, args.cvxpy_layouts, args.iterations, args.repeats, args.seed)
    header = ("solver", "run on", "us / layout", "ratio", "accuracy")
    widths = (34, 15, 12, 9, 44)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for name, on, us, ratio, acc in rows:
        print("  ".join([name.ljust(widths[0]), on.ljust(widths[1]), f"{us:12.2f}",
                         ratio.rjust(widths[3]), acc]))
    print("ratio: reference time / fast time, per layout, same layouts")
    if args.figures:
        figures()


if __name__ == "__main__":
    main()
