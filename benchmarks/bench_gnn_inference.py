"""Graph power control at inference: layouts/s of the network from the linear gains against FP
and WMMSE, in one run on the same CPU, one thread each.

On `spatial-2019` layouts at the training density (field side 1,000 m x sqrt(N / 50)) for
every ``--sizes`` N, on the same layouts:

* ``net``: the graph network (default: ``d2d_gnn_config()``, width 32, 3 layers, top_k 49,
  seeded weights; ``--net`` loads a saved one) from the linear gains with the fast path,
  :func:`wirelessrl.gnn.powers_from_gains` (:meth:`~wirelessrl.gnn.Graph.from_gains`:
  Numba top-k selection reading ``g`` once, transforms on the kept edges only; the
  forward pass under ``torch.inference_mode``), in chunks of ``4e6 / N^2`` layouts as in
  ``experiments/d2d_sizes.py``;
* ``old``: the path this replaces, timed the same way: the float32 dB matrix
  ``GraphInputTransform.snr_db(g)``, ``Graph.build`` on it (argpartition over the dense
  scores, ``10^(s/10)`` on the gathered gains) and the aggregation by ``index_select`` and
  a batched product (:class:`_GatherBmmGraph`), under ``torch.no_grad``;
* FP (150 iterations, 1 start) and WMMSE (150 iterations), the batched Numba solvers via
  ``baselines.solve``.

Each timing is the best of ``--repeats`` runs (the four methods interleaved within each
repeat so that they see the same load) after a warm-up, in wall-clock time and in CPU time
of this process (``time.process_time``: all its threads; on a shared machine it leaves out
the time the process waits for a core, which wall-clock best-of runs only partly do).
Printed per N: layouts/s of each (wall clock), ``net / FP``, ``net / WMMSE`` and ``net /
old`` (speed ratios, wall clock; ``net / FP`` also in CPU time), the largest ``|x_net -
x_old|`` of the power fractions, the CPU ms per layout of the ``net`` path's two parts
(graph from the gains, forward pass), and the CPU, thread counts and load average before
and after.

Usage::

    python benchmarks/bench_gnn_inference.py [--threads 1] [--repeats 5] [--sizes 50,200,1000]
                                             [--net runs/.../net.pt]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numba
import numpy as np
import torch

from baselines import solve
from simulators.d2d import D2DConfig, generate_d2d
from wirelessrl.gnn import Graph, GraphConfig, GraphInputTransform, powers_from_gains
from wirelessrl.models import TransferNet, d2d_gnn_config

LAYOUTS = {50: 400, 100: 200, 200: 100, 500: 20, 1000: 8}
"""Test layouts per N (FP at N = 1,000 takes ~0.3 s per layout)."""


class _GatherBmmGraph(Graph):
    """:class:`~wirelessrl.gnn.Graph` with the aggregation it had before ``embedding_bag``:
    gather the neighbour rows, then one ``[1, k] @ [k, c]`` product per node."""

    def _gathered_sum(self, weight: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        batch, n, k = self.idx.shape
        offset = (torch.arange(batch, device=v.device) * n).view(batch, 1, 1)
        flat = (self.idx + offset).reshape(-1)                           # [batch n k]
        nbr = v.reshape(batch * n, -1).index_select(0, flat).view(batch * n, k, -1)
        return torch.bmm(weight.reshape(batch * n, 1, k), nbr).view(batch, n, -1)


def old_powers(net: TransferNet, g: np.ndarray, transform: GraphInputTransform, head: str,
               chunk: int) -> np.ndarray:
    """Power fractions by the previous inference path (module docstring), ``[batch, n]``."""
    k = GraphConfig.coerce(net.graph).k(g.shape[-1])
    out = []
    with torch.no_grad():
        for a in range(0, len(g), chunk):
            s = torch.from_numpy(transform.snr_db(g[a:a + chunk]))      # [chunk, n, n] dB
            f = net.features(s, _GatherBmmGraph.build(s, k))
            out.append(net.heads[head](f))
    return torch.cat(out).numpy()


def _split_ms(net: TransferNet, g: np.ndarray, cfg: D2DConfig, head: str, chunk: int,
              repeats: int) -> tuple[float, float]:
    """CPU ms per layout of the ``net`` path's two parts: :meth:`Graph.from_gains` and the
    forward pass on the built graphs (best of ``repeats``)."""
    k = GraphConfig.coerce(net.graph).k(g.shape[-1])
    chunks = [g[a:a + chunk] for a in range(0, len(g), chunk)]
    t_graph = t_fwd = np.inf
    with torch.inference_mode():
        for _ in range(repeats):
            start = time.process_time()
            graphs = [Graph.from_gains(c, k, cfg.p_max_w, cfg.noise_w) for c in chunks]
            t_graph = min(t_graph, time.process_time() - start)
            start = time.process_time()
            for graph in graphs:
                net(graph, head=head)
            t_fwd = min(t_fwd, time.process_time() - start)
    return 1e3 * t_graph / len(g), 1e3 * t_fwd / len(g)


def layouts(n_links: int, n: int, seed: int) -> tuple[D2DConfig, np.ndarray]:
    """``n`` `spatial-2019` layouts of ``n_links`` at the preset's density (N = 50 on
    1,000 m x 1,000 m)."""
    cfg = D2DConfig.from_preset("spatial-2019", n_links=n_links,
                                field_m=1000.0 * np.sqrt(n_links / 50.0), redraw="offending")
    return cfg, generate_d2d(cfg, n, seed=seed).g


def bench(sizes: list[int], repeats: int, net: TransferNet, head: str, seed: int) -> list[dict]:
    rows = []
    for n_links in sizes:
        cfg, g = layouts(n_links, LAYOUTS.get(n_links, max(4, 8_000_000 // n_links**2)), seed)
        kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w, "snr_gap_db": cfg.snr_gap_db}
        transform = GraphInputTransform(cfg.p_max_w, cfg.noise_w)
        chunk = max(1, 4_000_000 // n_links**2)
        runs = {
            "net": lambda x, c=cfg, ch=chunk: powers_from_gains(net, x, c.p_max_w, c.noise_w,
                                                                head=head, chunk=ch),
            "old": lambda x, t=transform, ch=chunk: old_powers(net, x, t, head, ch),
            "FP": lambda x, kw=kw: solve("fp", x, iterations=150, **kw),
            "WMMSE": lambda x, kw=kw: solve("wmmse", x, iterations=150, **kw),
        }
        for fn in runs.values():  # warm-up: Numba compiled, torch allocator primed
            fn(g[:1])
        best = dict.fromkeys(runs, np.inf)
        cpu = dict.fromkeys(runs, np.inf)
        for _ in range(repeats):
            for name, fn in runs.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                fn(g)
                best[name] = min(best[name], time.perf_counter() - start)
                cpu[name] = min(cpu[name], time.process_time() - start_cpu)
        diff = float(np.abs(runs["net"](g) - runs["old"](g)).max())
        rate = {name: len(g) / t for name, t in best.items()}
        graph_ms, forward_ms = _split_ms(net, g, cfg, head, chunk, repeats)
        rows.append({"N": n_links, "layouts": len(g), "chunk": chunk, **rate,
                     "cpu_net_fp": cpu["FP"] / cpu["net"], "max_abs_diff": diff,
                     "graph_ms": graph_ms, "forward_ms": forward_ms})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch and Numba threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="50,200,1000")
    parser.add_argument("--net", default=None, help="a saved gnn network (default: seeded "
                        "d2d_gnn_config())")
    parser.add_argument("--head", default="sum_rate")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    if args.net:
        from wirelessrl.checkpoint import load_net

        net = load_net(args.net)[0]
    else:
        torch.manual_seed(0)
        net = TransferNet.from_config(d2d_gnn_config())
    net.drop_decoder().eval()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = bench([int(n) for n in args.sizes.split(",")], args.repeats, net, args.head,
                 args.seed)
    load_after = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; torch threads {torch.get_num_threads()}, Numba threads "
          f"{numba.get_num_threads()}; load average {load} before, {load_after} after; "
          f"best of {args.repeats}")
    print(f"{'N':>5} {'layouts':>7} {'chunk':>5} {'net /s':>10} {'old /s':>10} {'FP /s':>9} "
          f"{'WMMSE /s':>9} {'net/FP':>7} {'(CPU)':>7} {'net/WMMSE':>9} {'net/old':>7} "
          f"{'max|dx|':>8} {'graph ms':>8} {'fwd ms':>7}")
    for r in rows:
        print(f"{r['N']:>5} {r['layouts']:>7} {r['chunk']:>5} {r['net']:>10.4g} "
              f"{r['old']:>10.4g} {r['FP']:>9.4g} {r['WMMSE']:>9.4g} "
              f"{r['net'] / r['FP']:>6.1f}x {r['cpu_net_fp']:>6.1f}x "
              f"{r['net'] / r['WMMSE']:>8.1f}x {r['net'] / r['old']:>6.1f}x "
              f"{r['max_abs_diff']:>8.1e} {r['graph_ms']:>8.3f} {r['forward_ms']:>7.3f}")
    print("net: wirelessrl.gnn.powers_from_gains (from the linear gains); old: snr_db + "
          "Graph.build + index_select/bmm; FP, WMMSE: 150 iterations, 1 start, Numba; "
          "graph / fwd ms: CPU ms per layout of the net path's Graph.from_gains / forward")


if __name__ == "__main__":
    main()
