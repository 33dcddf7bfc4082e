"""Graph network back ends: batched dense torch against torch-geometric, same layer, same run.

The graph power controller (:mod:`wirelessrl.gnn`) aggregates ``sum_j G_ij q_j`` and
``sum_j G_ji r_j`` over the interference graph. Two implementations of the whole feature
module (3 layers, the default widths) on the same weights and `spatial-2019` layouts:

* ``dense``: :class:`wirelessrl.gnn.GraphFeatures`, batched matrix products on the
  ``[batch, N, N]`` gain tensor (what the toolkit ships);
* ``pyg``: the same layers as a ``torch_geometric.nn.MessagePassing`` (``aggr="add"``,
  message ``G_e x_j``) over the batch as one disjoint graph with ``edge_index`` of the
  ``N (N - 1)`` edges per layout (the PyG way; the graph is built once, outside the timing).

Both are checked to give the same features (to float32 tolerance) before timing. Printed:
forward and forward+backward time per layout for N = 10 and N = 200, and the ratio
``pyg / dense`` (> 1: dense is faster). Also: the sparse top-k path at N = 1000 against
the dense one.

Usage::

    python benchmarks/bench_gnn.py [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch
from torch_geometric.nn import MessagePassing

from simulators.d2d import D2DConfig, generate_d2d
from wirelessrl.gnn import Graph, GraphFeatures, GraphInputTransform
from wirelessrl.models import d2d_gnn_config

from _timing import best_time


class _PygAggregate(MessagePassing):
    """``out_i = sum_{e = (j -> i)} w_e x_j``."""

    def __init__(self) -> None:
        super().__init__(aggr="add")

    def forward(self, x, edge_index, weight):
        return self.propagate(edge_index, x=x, weight=weight)

    def message(self, x_j, weight):
        return weight.unsqueeze(-1) * x_j


def _pyg_graph(s: torch.Tensor):
    """Disjoint union of the batch's complete graphs: edge j -> i with G_ij (incoming) and
    the reversed edges with G_ji (outgoing), as PyG ``edge_index`` (source, target)."""
    batch, n, _ = s.shape
    i, j = torch.where(~torch.eye(n, dtype=torch.bool))
    offset = (torch.arange(batch) * n).view(-1, 1)
    src, dst = (j + offset).reshape(-1), (i + offset).reshape(-1)
    gain = torch.pow(10.0, s / 10.0)
    w_in = gain[:, i, j].reshape(-1)       # edge j -> i carries G_ij
    w_out = gain[:, j, i].reshape(-1)      # ... and G_ji for the outgoing sum
    return torch.stack([src, dst]), w_in, w_out


def _pyg_features(feats: GraphFeatures, s: torch.Tensor, graph) -> torch.Tensor:
    edge_index, w_in, w_out = graph
    agg = _PygAggregate()
    batch, n, _ = s.shape
    h = torch.diagonal(s, dim1=-2, dim2=-1).reshape(-1, 1) / feats.graph.db_scale
    for layer in feats.layers:
        q, r = torch.nn.functional.softplus(layer.powers(h)).chunk(2, dim=-1)
        a_in = torch.log1p(agg(q, edge_index, w_in))
        a_out = torch.log1p(agg(r, edge_index, w_out))
        h = layer.update(torch.cat([h, a_in, a_out], dim=-1))
    return h.view(batch, n, -1)


def layouts(n_links: int, batch: int, seed: int = 1) -> torch.Tensor:
    side = 1000.0 * np.sqrt(n_links / 50.0)  # spatial-2019 density
    cfg = D2DConfig.from_preset("spatial-2019", n_links=n_links, field_m=side,
                                redraw="offending")
    g = generate_d2d(cfg, batch, seed=seed).g
    return torch.from_numpy(GraphInputTransform(cfg.p_max_w, cfg.noise_w).snr_db(g))


def bench(repeats: int) -> list[dict]:
    torch.manual_seed(0)
    feats = GraphFeatures(d2d_gnn_config(top_k=None).feature_widths,
                          d2d_gnn_config(top_k=None).graph)
    rows = []
    for n_links, batch in ((10, 1000), (200, 20)):
        s = layouts(n_links, batch)
        graph = _pyg_graph(s)
        dense_graph = Graph.build(s, n_links - 1)
        with torch.no_grad():
            ref, got = feats(s, dense_graph), _pyg_features(feats, s, graph)
        diff = float((ref - got).abs().max() / ref.abs().max())

        def fwd_dense(s=s, dense_graph=dense_graph):
            with torch.no_grad():
                feats(s, dense_graph)

        def fwd_pyg(s=s, graph=graph):
            with torch.no_grad():
                _pyg_features(feats, s, graph)

        def train_dense(s=s, dense_graph=dense_graph):
            feats.zero_grad()
            feats(s, dense_graph).sum().backward()

        def train_pyg(s=s, graph=graph):
            feats.zero_grad()
            _pyg_features(feats, s, graph).sum().backward()

        for name, a, b in (("forward", fwd_dense, fwd_pyg),
                           ("forward+backward", train_dense, train_pyg)):
            a(), b()
            t_dense, t_pyg = best_time(a, repeats), best_time(b, repeats)
            rows.append({"N": n_links, "pass": name, "dense_us": 1e6 * t_dense / batch,
                         "pyg_us": 1e6 * t_pyg / batch, "ratio": t_pyg / t_dense,
                         "max_rel_diff": diff})

    # sparse top-k path against dense at N = 1000 (inference)
    s = layouts(1000, 4)
    for k in (None, 49, 16):
        feats.graph = feats.graph.__class__(**{**feats.graph.to_dict(), "top_k": k})

        def run():
            with torch.no_grad():
                feats(s)

        run()
        rows.append({"N": 1000, "pass": f"forward top_k={k}",
                     "dense_us": 1e6 * best_time(run, repeats) / len(s)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = bench(args.repeats)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"threads {args.threads}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'N':>5} {'pass':<20} {'dense us/layout':>16} {'pyg us/layout':>14} "
          f"{'pyg/dense':>10} {'max rel diff':>13}")
    for r in rows:
        if "pyg_us" in r:
            print(f"{r['N']:>5} {r['pass']:<20} {r['dense_us']:>16.1f} {r['pyg_us']:>14.1f} "
                  f"{r['ratio']:>10.2f} {r['max_rel_diff']:>13.1e}")
        else:
            print(f"{r['N']:>5} {r['pass']:<20} {r['dense_us']:>16.1f}")


if __name__ == "__main__":
    main()
