"""Speed of the training engine against a bare torch loop, paper-scale D2D source epochs.

Same run, same model (the paper's network with the reconstruction decoder, alpha = 3),
same data (``--n`` standardized ``paper`` layouts, the paper's 5,000-layout validation set),
same objective (:class:`wirelessrl.objectives.Objective`, sum-rate + reconstruction), same
Adam, batch and shuffling; per epoch both train on every minibatch and validate once.
The engine (:func:`wirelessrl.engine.fit`) also logs ``metrics.csv``, keeps the best
weights, checks for NaN and writes ``last.pt`` at the end. Each side runs ``--epochs``
epochs, ``--repeats`` times alternately; the best per-epoch time of each is compared.

Usage::

    python benchmarks/bench_engine.py [--n 500000] [--epochs 2] [--repeats 2] [--threads 1]
                                      [--batch-size 2000]
    python benchmarks/bench_engine.py --engine-only --epochs 200 --repeats 1 --threads 2

Prints seconds per epoch of both and the ratio (bare time / engine time: 1.0 means the
engine costs nothing; the goal is >= 0.9), with the load average (a shared machine slows
both sides, not always equally).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from simulators.d2d import D2DConfig, generate_d2d
from wirelessrl.engine import TrainConfig, _make_optimizer, evaluate, fit
from wirelessrl.models import TransferNet, d2d_net_config
from wirelessrl.objectives import D2DRateLoss, Objective
from wirelessrl.standardize import Standardizer


def make_data(n: int, n_valid: int, seed: int = 1) -> tuple[dict, dict, D2DConfig]:
    cfg = D2DConfig.from_preset("paper")
    g = generate_d2d(cfg, n + n_valid, seed=seed).g
    inputs = Standardizer.fit(g[:n])
    x = torch.from_numpy(inputs(g))
    gt = torch.from_numpy(g.astype(np.float32))
    return ({"x": x[:n], "g": gt[:n]}, {"x": x[n:], "g": gt[n:]}, cfg)


def bare_loop(net, objective, train, valid, config: TrainConfig) -> float:
    """Seconds per epoch of the plain loop: shuffle, minibatches, Adam, validate."""
    optimizer = _make_optimizer(config, [{"params": list(net.parameters()), "lr": config.lr}])
    n = len(train["x"])
    bs = config.batch_size
    gen = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    for _ in range(config.epochs):
        net.train()
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            batch = {k: v.index_select(0, idx) for k, v in train.items()}
            loss, _ = objective(net, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        evaluate(net, objective, valid, config.valid_batch_size)
    return (time.perf_counter() - start) / config.epochs


def engine_loop(net, objective, train, valid, config: TrainConfig) -> float:
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        fit(net, objective, train, valid, config, run_dir)
        return (time.perf_counter() - start) / config.epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500_000, help="training layouts (paper: 500,000)")
    ap.add_argument("--valid", type=int, default=5_000, help="validation layouts")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=2_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--engine-only", action="store_true",
                    help="time only the engine (a full source training: --epochs 200)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train, valid, cfg = make_data(args.n, args.valid)
    loss = D2DRateLoss("sum", p_max_w=cfg.p_max_w, noise_w=cfg.noise_w, snr_gap_db=cfg.snr_gap_db)
    objective = Objective(loss, head="sum_rate", alpha=3.0, reconstruction_key="x")
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=1e-3, seed=0,
                         device="cpu", monitor="sum_rate_bps_per_hz", mode="max",
                         checkpoint_every_s=None)
    sides = (("engine (fit)", engine_loop),) if args.engine_only else (
        ("bare torch loop", bare_loop), ("engine (fit)", engine_loop))
    times: dict[str, list[float]] = {name: [] for name, _ in sides}
    for _ in range(args.repeats):
        for name, run in sides:
            torch.manual_seed(0)
            net = TransferNet.from_config(d2d_net_config(cfg.n_links))
            times[name].append(run(net, objective, train, valid, config))
    best = {k: min(v) for k, v in times.items()}
    load = os.getloadavg()[0]
    print(f"D2D source epoch, {args.n:,} layouts, batch {args.batch_size}, "
          f"{args.threads} thread(s), {args.epochs} epochs x {args.repeats} repeats, "
          f"load average {load:.1f}")
    for name, t in best.items():
        runs = ", ".join(f"{x:.2f}" for x in times[name])
        print(f"  {name:<16} {t:8.2f} s/epoch   (all: {runs})")
    if args.engine_only:
        total = best["engine (fit)"] * args.epochs
        print(f"  engine wall time for {args.epochs} epochs: {total:.0f} s ({total / 60:.1f} min)")
        return
    print(f"  ratio bare / engine = {best['bare torch loop'] / best['engine (fit)']:.3f} "
          "(1.0: no overhead; goal >= 0.9)")


if __name__ == "__main__":
    main()
