"""Size generalization of the D2D networks: train at one N, test at many (``generalization``).

The steps (this module, run by :meth:`experiments.d2d.D2DRun.extra_steps`); the tables and
plots are :mod:`experiments.d2d_sizes_report` (files only).

Switched on by a non-empty ``generalization.sizes`` in the d2d config (networks of the
``gnn`` family: the MLP's input width fixes its N). For every seed and every size ``N``
one resumable step ``generalization/n<N>``:

1. simulates ``layouts`` test layouts of the config's system with ``n_links = N`` at the
   training density (``field_m * sqrt(N / N_train)`` when ``constant_density``);
2. solves them with FP (150 iterations, 1 start: the single-start reference), FP best of
   ``fp_restarts`` starts (full power + random starts, the sum-rate reference), WMMSE
   (150 iterations, 1 start) and the exact max-min optimum, timing each (seconds per
   layout, this process's threads);
3. runs every network: the sum-rate source networks and the min-rate target networks of
   ``strategies`` (best validation lr), timing the forward pass from the linear gains
   (input transform included);
4. writes ``generalization/n<N>/results.h5`` (powers, per-layout rates) and
   ``metrics.json``; then (unless ``memory: false``) a step ``generalization/n<N>/memory``
   measures, in a fresh process per network, the peak increase of the resident memory over
   the forward pass of one chunk (``memory.json``).

The report (:func:`experiments.d2d_sizes_report.write_tables`) turns every seed's files
into ``generalization.csv`` / ``.json`` (mean and spread over seeds) and the plots (``% of
reference vs N``, CDFs at the smallest and largest N, time per layout vs N, log-log).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from baselines import solve
from simulators.rates import min_rate_bps, sum_rate_bps
from simulators.validation import ConfigError, check_int
from wirelessrl.datasets import load_d2d, simulate_d2d_file
from wirelessrl.fileio import provenance, write_arrays
from wirelessrl.results import write_json

if TYPE_CHECKING:
    from experiments.runner import TaskRun as D2DRun  # an experiments.d2d.D2DRun
    from simulators.d2d import D2DConfig

KEYS = ("sizes", "layouts", "constant_density", "fp_restarts", "maxmin_max_links",
        "strategies", "chunk_entries", "memory")
SOURCES = ("conventional", "reconstruction")
SEED_OFFSET = 7  # test layouts of size N use seed 10 * seed + 7 (the splits use 0..4)


def section(config: dict) -> dict:
    """The validated ``generalization`` section (``sizes`` empty: off)."""
    gen = config.get("generalization") or {}
    if not isinstance(gen, dict):
        raise ConfigError(f"generalization={gen!r} is invalid; expected a mapping")
    for key in gen:
        if key not in KEYS:
            raise ConfigError(f"generalization.{key} is not an option; expected one of "
                              + ", ".join(KEYS))
    return gen


def enabled(config: dict) -> bool:
    """True when ``generalization.sizes`` lists sizes (the size steps then run)."""
    return bool(section(config).get("sizes"))


def check(config: dict, strategies: list[str]) -> None:
    """Every check of the section that can fail before any work."""
    gen = section(config)
    if not gen.get("sizes"):
        return
    family = config["model"].get("family", "mlp")
    if family != "gnn":
        raise ConfigError(f"generalization.sizes={gen['sizes']!r} needs model.family='gnn' "
                          f"(got {family!r}: the MLP's input width fixes its number of links)")
    sizes = [check_int("generalization.sizes", n, 2) for n in _as_list("sizes", gen["sizes"])]
    layouts = gen.get("layouts", [100])
    if not isinstance(layouts, list) or len(layouts) not in (1, len(sizes)):
        raise ConfigError(f"generalization.layouts={layouts!r} is invalid; expected a list of "
                          f"one number or one per size ({len(sizes)})")
    for n in _layouts(gen, sizes):
        check_int("generalization.layouts", n, 1)
    check_int("generalization.fp_restarts", gen.get("fp_restarts", 8), 1)
    check_int("generalization.maxmin_max_links", gen.get("maxmin_max_links", 1000), 2)
    check_int("generalization.chunk_entries", gen.get("chunk_entries", 4_000_000), 1)
    if not isinstance(gen.get("memory", True), bool):
        raise ConfigError(f"generalization.memory={gen['memory']!r} is invalid; expected "
                          "true or false")
    for s in _as_list("strategies", gen.get("strategies", ["reconstruction"])):
        if s not in strategies:
            raise ConfigError(f"generalization.strategies: {s!r} is not trained; expected one "
                              f"of the run's strategies {strategies}")


def _as_list(key: str, value) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"generalization.{key}={value!r} is invalid; expected a list")
    return value


def _layouts(gen: dict, sizes: list[int]) -> list:
    layouts = gen.get("layouts", [100])
    return list(layouts) if len(layouts) == len(sizes) else list(layouts) * len(sizes)


def system_at(exp: D2DRun, n_links: int) -> D2DConfig:
    """The training system with ``n_links`` links, at the training density if asked."""
    base = exp.system
    field = base.field_m
    if section(exp.config).get("constant_density", True):
        field = base.field_m * math.sqrt(n_links / base.n_links)
    return dataclasses.replace(base, n_links=n_links, field_m=field)


def _networks(exp: D2DRun, lrs: list[float]) -> dict[str, tuple[Path, str]]:
    """Label -> (net.pt, head) of every network evaluated."""
    gen = section(exp.config)
    nets = {}
    for name in SOURCES:
        path = exp.source_net_path(name)
        if path.is_file():
            nets[f"source, {name}"] = (path, "sum_rate")
    for strategy in gen.get("strategies", ["reconstruction"]):
        lr = exp.best_lr(strategy, lrs)
        nets[f"target, {strategy}"] = (exp.target_run_dir(strategy, lr) / "net.pt", "min_rate")
    return nets


def _key(label: str, field: str) -> str:
    """Array name of a method's field in ``results.h5`` (``source, reconstruction`` ->
    ``source_reconstruction__p_w``)."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") + "__" + field


def _chunk(gen: dict, n_links: int) -> int:
    return max(1, int(gen.get("chunk_entries", 4_000_000)) // (n_links * n_links))


def net_powers(net_path: Path, head: str, g: np.ndarray, p_max_w: float, noise_w: float,
               chunk: int) -> tuple[np.ndarray, float]:
    """Powers (W) of a saved graph network on ``g : [batch, N, N]`` and the seconds per
    layout from the linear gains (graph input from the gains and forward pass, chunks of
    ``chunk``: :func:`wirelessrl.gnn.powers_from_gains`)."""
    from wirelessrl.checkpoint import load_net
    from wirelessrl.gnn import powers_from_gains

    net, _ = load_net(net_path)
    net.drop_decoder().eval()
    powers_from_gains(net, g[:1], p_max_w, noise_w, head=head)  # warm-up (Numba compiled)
    start = time.perf_counter()
    x = powers_from_gains(net, g, p_max_w, noise_w, head=head, chunk=chunk)
    seconds = time.perf_counter() - start
    return x.astype(np.float64) * p_max_w, seconds / len(g)


def _rss_mib() -> float:
    """Current resident memory of this process in MiB (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_child(net_path: str, head: str, test_path: str, chunk: int, p_max_w: float,
                noise_w: float, threads: int, queue) -> None:
    import threading

    import torch

    torch.set_num_threads(threads)
    from wirelessrl.checkpoint import load_net
    from wirelessrl.gnn import GraphConfig, GraphInputTransform

    net, _ = load_net(net_path)
    net.drop_decoder().eval()
    transform = GraphInputTransform(p_max_w, noise_w)
    g = load_d2d(test_path).g[:chunk]
    k = GraphConfig.coerce(net.graph).k(g.shape[-1])
    with torch.inference_mode():
        net(transform.graph(g[:1], k), head=head)  # warm-up
        before = _rss_mib()
        peak, done = [before], threading.Event()

        def poll() -> None:  # sample the resident memory while the forward pass runs
            while not done.is_set():
                peak[0] = max(peak[0], _rss_mib())
                done.wait(0.0005)

        sampler = threading.Thread(target=poll)
        sampler.start()
        for _ in range(3):
            net(transform.graph(g, k), head=head)
        done.set()
        sampler.join()
    queue.put(max(peak[0], _rss_mib()) - before)


def peak_memory_mib(net_path: Path, head: str, test_path: Path, chunk: int, p_max_w: float,
                    noise_w: float) -> float:
    """Peak increase of the resident memory (MiB, sampled every 0.5 ms) over a forward pass
    on the first ``chunk`` layouts of ``test_path`` (input transform included), in a fresh
    process, above its memory with the network and the gains loaded."""
    import torch

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_child, args=(str(net_path), head, str(test_path), chunk,
                                                 p_max_w, noise_w, torch.get_num_threads(),
                                                 queue))
    proc.start()
    try:
        value = queue.get(timeout=900)
    finally:
        proc.join(timeout=60)
    return float(value)


def _baselines(exp: D2DRun, system, g: np.ndarray, gen: dict) -> dict:
    b = exp.config["baselines"]
    kw = {"p_max_w": system.p_max_w, "noise_w": system.noise_w,
          "snr_gap_db": system.snr_gap_db}
    runs = {
        "FP": ("fp", {"iterations": int(b["fp_iterations"])}),
        "FP best-of-K": ("fp", {"iterations": int(b["fp_iterations"]),
                                "restarts": int(gen.get("fp_restarts", 8))}),
        "WMMSE": ("wmmse", {"iterations": int(b["wmmse_iterations"])}),
    }
    if system.n_links <= int(gen.get("maxmin_max_links", 1000)):
        runs["max-min optimum"] = ("maxmin", {})
    out = {}
    for label, (method, options) in runs.items():
        solve(method, g[:1], **kw, **options)  # compile / warm up
        start = time.perf_counter()
        res = solve(method, g, seed=exp.seed, **kw, **options)
        seconds = (time.perf_counter() - start) / len(g)
        statuses, counts = np.unique(res.status, return_counts=True)
        out[label] = {"p_w": res.p_w, "seconds_per_layout": seconds,
                      "stopping_rule": res.options.get("stopping_rule", ""),
                      "status_counts": dict(zip(statuses.tolist(), counts.tolist(),
                                                strict=True))}
    return out


def run_sizes(exp: D2DRun) -> None:
    """The ``generalization/n<N>`` steps of one seed (after the networks are trained)."""
    import torch

    from wirelessrl.source_options import hashed_source_options

    gen = section(exp.config)
    lrs = exp.plan.tuned_lrs if exp.plan.tuning else [exp.plan.target_lr]
    sizes = [int(n) for n in gen["sizes"]]
    for n_links, n_layouts in zip(sizes, _layouts(gen, sizes), strict=True):
        system = system_at(exp, n_links)
        folder = f"generalization/n{n_links}"
        nets = _networks(exp, lrs)
        cfg = {**exp.data_config(), "model": exp.hashed_model(),
               "source": hashed_source_options(exp.config["source"], "reconstruction"),
               "target": exp.config["target"],
               "strategies": exp.plan.strategies, "generalization": gen,
               "n_links": n_links, "layouts": int(n_layouts),
               "tuning": exp.config["tuning"], "system_at": system.to_dict(),
               "networks": sorted(nets)}

        def build(system=system, folder=folder, nets=nets, n_layouts=int(n_layouts)):
            out = exp.path(folder)
            data = simulate_d2d_file(system, n_layouts, 10 * exp.seed + SEED_OFFSET,
                                     out / "test.h5")
            g = load_d2d(data).g
            base = _baselines(exp, system, g, gen)
            arrays, metrics = {}, {"n_links": system.n_links, "field_m": system.field_m,
                                   "layouts": n_layouts, "torch_threads":
                                   torch.get_num_threads(), "methods": {}}
            for label, res in base.items():
                arrays[_key(label, "p_w")] = res.pop("p_w")
                metrics["methods"][label] = {"kind": "baseline", **res}
            chunk = _chunk(gen, system.n_links)
            for label, (path, head) in nets.items():
                p_w, seconds = net_powers(path, head, g, system.p_max_w, system.noise_w, chunk)
                arrays[_key(label, "p_w")] = p_w
                metrics["methods"][label] = {"kind": "network", "head": head,
                                             "seconds_per_layout": seconds, "chunk": chunk}
            for label in list(metrics["methods"]):
                p_w = arrays[_key(label, "p_w")]
                arrays[_key(label, "sum_rate_bps")] = sum_rate_bps(
                    g, p_w, system.noise_w, system.bandwidth_hz, system.snr_gap_db)
                arrays[_key(label, "min_rate_bps")] = min_rate_bps(
                    g, p_w, system.noise_w, system.bandwidth_hz, system.snr_gap_db)
            meta = provenance("d2d-generalization", system.to_dict(), exp.seed,
                              metrics=metrics)
            write_arrays(out / "results.h5", arrays, meta)
            write_json(out / "metrics.json", metrics)

        exp.steps.run(folder, cfg, build, [f"{folder}/results.h5"], folder=folder)
        if not gen.get("memory", True):
            continue
        memory = f"{folder}/memory"

        def measure(system=system, folder=folder, memory=memory, nets=nets):
            chunk = _chunk(gen, system.n_links)
            mib = {label: peak_memory_mib(path, head, exp.path(folder, "test.h5"), chunk,
                                          system.p_max_w, system.noise_w)
                   for label, (path, head) in nets.items()}
            write_json(exp.path(memory, "memory.json"),
                       {"peak_memory_mib": mib, "chunk": chunk, "n_links": system.n_links})

        exp.steps.run(memory, {**cfg, "memory": 2}, measure, [f"{memory}/memory.json"],
                      folder=memory)
