"""The D2D max-min power layer with uniform weights (no network) against the exact optimum.

For fresh layouts of each preset (``--layouts``, seed ``--seed``) prints the min-rate of the
layer's powers with equal weights (:func:`wirelessrl.maxmin_layer.d2d_maxmin_powers`) in % of
the exact max-min optimum (:func:`baselines.maxmin.maxmin`, rtol 1e-12; mean of per-layout
ratios, as in the report), the largest relative power difference and SINR spread, and the
time per layout of the layer (torch, float64, forward and forward + backward) beside the
Numba solvers that make the reconstruction targets (max-min; FP, 150 iterations), 1 thread.

Usage::

    python benchmarks/d2d_maxmin_layer.py --presets paper,paper-fading --layouts 2000
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import torch

from baselines import solve
from simulators.d2d import D2DConfig, generate_d2d
from simulators.rates import link_rates_bps, sinr
from wirelessrl.maxmin_layer import d2d_maxmin_powers


def _us(fn, n: int) -> float:
    fn()                                                                  # warm-up (JIT)
    start = time.perf_counter()
    fn()
    return 1e6 * (time.perf_counter() - start) / n


def _row(preset: str, layouts: int, seed: int) -> list[str]:
    """The table cells of one preset."""
    cfg = D2DConfig.from_preset(preset)
    g = generate_d2d(cfg, layouts, seed=seed).g
    kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w}
    opt = solve("maxmin", g, system=cfg).p_w
    gt = torch.from_numpy(g)
    x = d2d_maxmin_powers(gt, None, **kw)[0].numpy()
    link = (cfg.noise_w, cfg.bandwidth_hz, cfg.snr_gap_db)
    rate = link_rates_bps(g, x * cfg.p_max_w, *link).min(-1)
    rate_opt = link_rates_bps(g, opt, *link).min(-1)
    s = sinr(g, x * cfg.p_max_w, cfg.noise_w)

    def backward() -> None:
        gg = gt.clone().requires_grad_(True)
        d2d_maxmin_powers(gg, None, **kw)[0].sum().backward()

    return [f"{100 * np.mean(rate / rate_opt):.4f}",
            f"{np.max(np.abs(x * cfg.p_max_w - opt) / opt):.1e}",
            f"{np.max(s.max(-1) / s.min(-1) - 1):.1e}",
            f"{_us(lambda: d2d_maxmin_powers(gt, None, **kw), len(g)):.0f} / "
            f"{_us(backward, len(g)):.0f}",
            f"{_us(lambda: solve('maxmin', g, system=cfg), len(g)):.1f}",
            f"{_us(lambda: solve('fp', g, system=cfg, iterations=150), len(g)):.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="paper,paper-fading")
    parser.add_argument("--layouts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=99)
    args = parser.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    print(f"{args.layouts} layouts per preset, seed {args.seed}; min-rate in % of the exact "
          "max-min optimum (mean of per-layout ratios)")
    print("| preset | uniform weights + layer, % | max rel. power diff | max SINR spread | "
          "layer us/layout (fwd / fwd+bwd) | Numba max-min us/layout | FP 150 it. us/layout |")
    print("|---|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        print(f"| `{preset}` | " + " | ".join(_row(preset, args.layouts, args.seed)) + " |")


if __name__ == "__main__":
    main()
