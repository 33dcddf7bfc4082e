"""The max-min power layer of the structured beamformer against the exact max-min optimum.

For fresh channels of each preset (``--samples``, seed ``--seed``) prints the min-rate in %
of the exact max-min optimum (duality fixed point, rtol 1e-10; means of per-sample ratios,
as in the report) of beams with the optimal structure (:mod:`wirelessrl.beam_structure`)
whose powers come from :func:`~wirelessrl.beam_structure.maxmin_powers`, for three choices
of ``lambda``: the duality solver's uplink powers (the layer is exact: 100 %), uniform
``lambda = P / K`` (the RZF directions, no learning) and, for comparison, RZF with its own
equal-norm powers (the ``rzf`` solver). Also the layer's time per sample (torch, float64,
forward only) beside the Numba max-min solver's, 1 thread.

Usage::

    python benchmarks/mu_miso_maxmin_layer.py --presets rayleigh-10db,cell --samples 2000
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import torch

from baselines.mu_miso import solve_beamforming
from simulators.beamforming import user_rates_bps
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from wirelessrl.beam_structure import beam_directions, maxmin_powers


def _layer_beams(h: np.ndarray, lam: np.ndarray, cfg: MuMisoConfig) -> np.ndarray:
    ht = torch.from_numpy(h)
    d = beam_directions(ht, torch.from_numpy(lam), cfg.noise_w)
    p, _ = maxmin_powers(ht, d, cfg.p_max_w, cfg.noise_w)
    return (d * p.sqrt().unsqueeze(-1)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="rayleigh-10db,cell")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=99)
    args = parser.parse_args()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    print(f"{args.samples} samples per preset, seed {args.seed}; min-rate in % of the exact "
          "max-min optimum (mean of per-sample ratios)")
    print("| preset | duality lambda + layer | uniform lambda (RZF directions) + layer | "
          "RZF, own powers | layer us/sample | Numba max-min us/sample |")
    print("|---|---|---|---|---|---|")
    for preset in args.presets.split(","):
        cfg = MuMisoConfig.from_preset(preset)
        h = generate_mu_miso(cfg, args.samples, seed=args.seed).h
        solve_beamforming("maxmin", h[:2], p_max_w=cfg.p_max_w, noise_w=cfg.noise_w)  # JIT
        start = time.perf_counter()
        res = solve_beamforming("maxmin", h, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w)
        solver_us = 1e6 * (time.perf_counter() - start) / len(h)
        opt = user_rates_bps(h, res.w, cfg.noise_w).min(1)
        rzf = solve_beamforming("rzf", h, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w).w
        uniform = np.full(h.shape[:2], cfg.p_max_w / cfg.n_users)
        _layer_beams(h[:8], uniform[:8], cfg)                                       # warm-up
        start = time.perf_counter()
        w_uniform = _layer_beams(h, uniform, cfg)
        layer_us = 1e6 * (time.perf_counter() - start) / len(h)
        cells = [user_rates_bps(h, w, cfg.noise_w).min(1) / opt for w in (
            _layer_beams(h, res.uplink_powers_w, cfg), w_uniform, rzf)]
        print(f"| `{preset}` | " + " | ".join(f"{100 * c.mean():.2f}" for c in cells)
              + f" | {layer_us:.1f} | {solver_us:.1f} |")


if __name__ == "__main__":
    main()
