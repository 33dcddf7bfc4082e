"""Speed of the multi-user MISO solvers, each against a reference in the same run.

On one set of samples of a preset (default ``rayleigh-10db``, M = K = 4, and ``cell``,
M = 8, K = 4):

* max-min: the batched Numba duality fixed point on ``--samples`` samples against the
  cvxpy SOCP bisection, one sample at a time, on the first ``--cvxpy-samples`` of them
  (time per sample, ratio, largest relative difference of the common SINR);
* WMMSE: time per sample and per iteration (init zf, tol 1e-6, 1 start), and the
  closed-form precoders (MRT, ZF, ZF + water-filling, RZF) against WMMSE's time.

Timings are the best of ``--repeats`` runs after a warm-up call (Numba compiled).

``--figures DIR`` also writes ``DIR/baselines.csv`` and ``DIR/baselines.json``: per preset
and seed (1, 2, 3; ``generate_mu_miso(preset, --figure-samples, seed)``), the mean
sum-rate and min-rate (bit/s/Hz) of every method, the sum-rate in % of best-of-4 WMMSE
(init zf + 3 random starts, tol 1e-6 relative, max 1000 iterations) and the min-rate in %
of the exact max-min optimum (mean of per-sample ratios).

Usage::

    python benchmarks/bench_mu_miso.py [--samples 10000] [--cvxpy-samples 30] [--threads 1]
                                       [--presets rayleigh-10db,cell]

The load average is printed with the table: on a shared machine, ratios against a
single-threaded reference shrink when other jobs hold the cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time

import numba
import numpy as np

from baselines.mu_miso import maxmin_cvxpy, solve_beamforming
from simulators.beamforming import sinr
from simulators.mu_miso import MuMisoConfig, generate_mu_miso

from _timing import best_time


def bench(preset: str, n: int, n_cvxpy: int, repeats: int, seed: int) -> list:
    cfg = MuMisoConfig.from_preset(preset)
    h = generate_mu_miso(cfg, n, seed=seed).h
    kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w}
    rows = []

    # -- max-min: batched Numba vs cvxpy SOCP bisection per sample -------------------------
    solve_beamforming("maxmin", h[:2], **kw)
    t_fast_all = best_time(lambda: solve_beamforming("maxmin", h, **kw), repeats)
    fast = solve_beamforming("maxmin", h, **kw)
    t_fast = sinr(h[:n_cvxpy], fast.w[:n_cvxpy], cfg.noise_w).min(axis=1)
    t_ref = np.empty(n_cvxpy)
    statuses, steps = set(), 0
    maxmin_cvxpy(h[0], cfg.p_max_w, cfg.noise_w)  # warm-up: cvxpy import, first compile
    start = time.perf_counter()
    for b in range(n_cvxpy):
        ref = maxmin_cvxpy(h[b], cfg.p_max_w, cfg.noise_w)
        statuses.add(ref.status)
        steps += ref.steps
        t_ref[b] = ref.min_sinr
    t_cvxpy = time.perf_counter() - start
    per_fast, per_cvx = t_fast_all / n, t_cvxpy / n_cvxpy
    rows.append(("max-min duality fixed point (Numba)", f"{n} samples", per_fast * 1e6, "",
                 f"{fast.iterations.mean():.1f} steps mean, {fast.iterations.max()} max, "
                 f"status {'/'.join(sorted({str(x) for x in fast.status}))}"))
    rows.append((f"max-min cvxpy SOCP bisection ({'/'.join(sorted(statuses))})",
                 f"{n_cvxpy} samples", per_cvx * 1e6, f"{per_cvx / per_fast:,.0f}x",
                 f"max rel diff min-SINR {np.max(np.abs(t_fast / t_ref - 1)):.2e}, "
                 f"{steps / n_cvxpy:.1f} SOCPs/sample"))

    # -- WMMSE and the closed forms ------------------------------------------------------
    solve_beamforming("wmmse", h[:2], **kw)
    t_w = best_time(lambda: solve_beamforming("wmmse", h, **kw), repeats)
    res = solve_beamforming("wmmse", h, **kw)
    per_w = t_w / n
    rows.append((f"WMMSE (Numba), init zf, tol {res.options['tol']:g}, 1 start",
                 f"{n} samples", per_w * 1e6, f"{per_w / per_fast:.1f}x",
                 f"{res.iterations.mean():.1f} it mean, "
                 f"{per_w / res.iterations.mean() * 1e6:.2f} us / iteration"))
    for method in ("mrt", "zf", "zf-wf", "rzf"):
        t = best_time(lambda m=method: solve_beamforming(m, h, **kw), repeats) / n
        rows.append((f"{method} (NumPy, closed form)", f"{n} samples", t * 1e6,
                     f"{per_w / t:.0f}x", "ratio: WMMSE time / this"))
    return rows


FIGURE_METHODS = [("mrt", {}), ("zf", {}), ("zf-wf", {}), ("rzf", {}),
                  ("wmmse", {"init": "zf"}), ("wmmse", {"init": "mrt"}),
                  ("wmmse-best-of-4", {"init": "zf", "restarts": 4}), ("maxmin", {})]


def figures(out_dir: str, presets: list[str], n: int, seeds=(1, 2, 3)) -> list[dict]:
    """Mean rates of every method and their % of the references; written as CSV and JSON."""
    rows = []
    for preset in presets:
        cfg = MuMisoConfig.from_preset(preset)
        kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w}
        for seed in seeds:
            h = generate_mu_miso(cfg, n, seed=seed).h
            res = {}
            for label, opts in FIGURE_METHODS:
                method = "wmmse" if label.startswith("wmmse") else label
                name = label if label != "wmmse" else f"wmmse-{opts['init']}"
                start = time.perf_counter()
                res[name] = (solve_beamforming(method, h, seed=seed, **opts, **kw),
                             (time.perf_counter() - start) / n)
            ref_sum = res["wmmse-best-of-4"][0].objective
            ref_min = res["maxmin"][0].objective
            for name, (r, sec) in res.items():
                assert not np.any(r.status == "failed"), (preset, seed, name)
                rates = np.log2(1 + sinr(h, r.w, cfg.noise_w))
                rows.append({
                    "preset": preset, "seed": seed, "n": n, "method": name,
                    "sum_rate": float(rates.sum(1).mean()),
                    "min_rate": float(rates.min(1).mean()),
                    "pct_sum_of_wmmse_best4": float(100 * np.mean(rates.sum(1) / ref_sum)),
                    "pct_min_of_maxmin": float(100 * np.mean(rates.min(1) / ref_min)),
                    "us_per_sample": sec * 1e6,
                    "stopping_rule": r.options["stopping_rule"],
                    "status": {str(k): int(v) for k, v in
                               zip(*np.unique(r.status, return_counts=True), strict=True)},
                })
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "baselines.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(out_dir, "baselines.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k in rows[0] if k != "status"],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"\nmean over seeds {list(seeds)} (± std), {n} samples each; bit/s/Hz")
    print(f"{'preset':<14}{'method':<17}{'sum-rate':>16}{'% WMMSE-4':>11}{'min-rate':>16}"
          f"{'% max-min':>11}")
    for preset in presets:
        for name in dict.fromkeys(r["method"] for r in rows):
            sel = [r for r in rows if r["preset"] == preset and r["method"] == name]
            cells = []
            for key in ("sum_rate", "pct_sum_of_wmmse_best4", "min_rate", "pct_min_of_maxmin"):
                v = np.array([r[key] for r in sel])
                cells.append(f"{v.mean():.3f}±{v.std():.3f}" if "rate" == key[-4:]
                             else f"{v.mean():.2f}")
            print(f"{preset:<14}{name:<17}{cells[0]:>16}{cells[1]:>11}{cells[2]:>16}"
                  f"{cells[3]:>11}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--cvxpy-samples", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--presets", default="rayleigh-10db,cell")
    parser.add_argument("--threads", type=int, default=None,
                        help="Numba threads (default: Numba's, one per CPU)")
    parser.add_argument("--figures", default=None, metavar="DIR",
                        help="also write the baseline figures (CSV, JSON) to DIR")
    parser.add_argument("--figure-samples", type=int, default=2000)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.cvxpy_samples <= args.samples:
        parser.error("--cvxpy-samples must be in [1, --samples]")
    if args.threads is not None:
        numba.set_num_threads(args.threads)
    header = ("solver", "run on", "us / sample", "ratio", "notes")
    widths = (58, 14, 12, 9, 50)
    for preset in [] if args.skip_speed else args.presets.split(","):
        cfg = MuMisoConfig.from_preset(preset)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{preset}: M = {cfg.n_antennas}, K = {cfg.n_users}; "
              f"{numba.get_num_threads()} Numba threads, {os.cpu_count()} CPUs, "
              f"{platform.processor() or platform.machine()}, load average {load}")
        rows = bench(preset, args.samples, args.cvxpy_samples, args.repeats, args.seed)
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for name, on, us, ratio, acc in rows:
            print("  ".join([name.ljust(widths[0]), on.ljust(widths[1]), f"{us:12.2f}",
                             ratio.rjust(widths[3]), acc]))
    print("ratio: reference time / fast time, per sample, same samples (max-min: cvxpy / "
          "Numba; WMMSE: WMMSE / max-min)")
    if args.figures:
        figures(args.figures, args.presets.split(","), args.figure_samples)


if __name__ == "__main__":
    main()
