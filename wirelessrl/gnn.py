r"""Graph neural power control: message passing over the D2D interference graph.

One node per link, a directed edge ``j -> i`` for every interferer ``j`` of link ``i``.
The network input is the received SNR at full power in dB (:class:`GraphInputTransform`),
no statistics fitted, so one set of weights serves any number of links, any density, any
power budget and any noise level::

    s_ij = 10 log10(g_ij P_max / sigma^2),      G_ij = 10^(s_ij / 10)   (i != j)

Node ``i`` starts from its direct gain, ``h_i^0 = s_ii / db_scale``; the edges carry the
cross gains in both directions, ``G_ij`` (interference received from ``j``) and ``G_ji``
(interference caused to ``j``). Each layer updates every node state with messages that
are edge gains times *virtual powers* of the sender, summed like interference and taken
to a log scale, as in the fractional-programming update they learn to replace::

    q_j, r_j = softplus(W h_j + b)                             ([c] each, >= 0)
    a_i      = log(1 + sum_{j in N(i)} G_ij q_j)                (received)
    b_i      = log(1 + sum_{j in N(i)} G_ji r_j)                (caused)
    h_i'     = MLP_upd([h_i, a_i, b_i])

The map is permutation-equivariant (a sum over neighbours; the same weights for every
node), and a far interferer's message fades with its gain, so the sums converge as the
network grows at constant density.

**Sparsification**: every link keeps its ``k = min(top_k, N - 1)`` strongest neighbours
``N(i)``, ranked by ``max(s_ij, s_ji)``; ``top_k = None`` keeps all ``N - 1``. With ``k >=
N - 1`` the dense path (batched matrix products, diagonal zeroed) runs, otherwise a
gathered sparse path whose time and memory are linear in the kept edges ``N k`` (the
sparse path with ``k = N - 1`` gives the dense numbers; tested).

**Inference from the linear gains** (:meth:`Graph.from_gains`, :func:`powers_from_gains`):
the network also takes a :class:`Graph` built straight from ``g`` in place of the dense
dB matrix: a Numba kernel (:mod:`wirelessrl._graph_kernels`) reads ``g`` once, selects the
same ``k`` neighbours and transforms only the kept edges and the diagonal, so no ``[N, N]``
float temporary is made; the powers equal those of the dB path to float32 tolerance
(tested). Training keeps the dB batches (the decoder's target is the whole matrix).

**Decoder** (:class:`EdgeDecoder`, source training only): rebuilds the *standardized* dB
gain matrix ``x`` (each link's incoming row and outgoing column; diagonal and
off-diagonal entries standardized with their own scalar mean and std of the source
training set, :meth:`GraphInputTransform.standardize`) from the node features,
``x_ij ~ u(f_i) . v(f_j) / sqrt(r)`` (``i != j``) and ``x_ii ~ d(f_i)``.

Heads are per-node MLPs ending in one sigmoid output, the power fraction ``p_i / P_max``
(:class:`wirelessrl.models.TransferNet` with ``family="gnn"``). With ``head_layers = L_h >
0`` every head is a :class:`GraphHead`: ``L_h`` message-passing layers of its own on the
node features, then the per-node MLP; the feature module then also passes its input on,
``[f_i, s_i1, ..., s_in]`` per node, so that a head trained on frozen (cached) features
can still pass messages over the graph. A per-node MLP on frozen sum-rate features cannot
coordinate the links for another objective: at N = 10 (paper protocol, reduced budget,
3 seeds; README) ``L_h = 2`` lifts reconstruction transfer from 85.8 % to 94.4 % of the
max-min optimum.

**Head normalization** (``graph.head_norm``): the node states after the head's layers are
not bounded (at N = 50, ``spatial-2019``, the messages ``a_i, b_i`` are ~15, up to 22, the
node features ~0.7), so Adam, which moves every weight by ~lr per step whatever the
gradient's size, moves the pre-sigmoid output of all links together while the early
sum-rate gradient raises or lowers all powers alike: in 60 steps at lr 1e-3 (200 layouts,
batch 20) to about -12 on 19 of 20 seeds (all links nearly off; they recover) and to +17.8
on one, where the sigmoid's gradient is ~e^-17 and a common rise of all powers still
helps every SINR: the head never recovers (seed 3 of the README command, validation
sum-rate at full power from epoch 1 on). ``head_norm = "layer"`` puts a per-node LayerNorm
between the head's message passing and its MLP, so the MLP input has unit RMS per node
whatever the graph layers output:

    u_i = gamma * (h_i - mean(h_i)) / sqrt(var(h_i) + eps) + beta,      ||u_i|| = sqrt(d)
                                                                  (at gamma = 1, beta = 0)

and the output is bounded by the MLP's own weights (over the same 60 steps it stayed
between -3.3 and 1.3 on all 20 seeds). It is per node (no batch or graph statistics), so
the head stays permutation-equivariant and size-independent. Its cost: a min-rate network
trained from scratch learns more slowly (README: 95.4 % of the max-min optimum after 300
epochs at N = 50, 98.1 % without the norm; 97.5 % after 1,000 epochs, seed 1), probably
because a bounded MLP input needs larger MLP weights for the wide range of pre-activations
that max-min powers span (every bounded map tried was as slow; README).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from simulators.validation import ConfigError, check_choice, check_int, check_positive

__all__ = [
    "HEAD_NORMS",
    "Graph",
    "GraphConfig",
    "GraphFeatures",
    "GraphHead",
    "EdgeDecoder",
    "GraphInputTransform",
    "NodeDecoder",
    "check_gains_tensor",
    "check_graph_input",
    "powers_from_gains",
    "neighbours",
]

DB_FLOOR = -100.0
"""Received SNRs below this many dB (zero gains included) are clamped to it."""

SELECT_RHO = 2.0
"""Candidate edges per link kept by the first pass of :meth:`Graph.from_gains`, in units of
``k`` (the work of the selection, not its result; see :mod:`wirelessrl._graph_kernels`)."""
HEAD_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "none": lambda d: nn.Identity(),
    "layer": nn.LayerNorm,
}
"""Normalizations of a :class:`GraphHead`'s node states before its MLP, by name
(``GraphConfig.head_norm``); each maps the width ``d`` to a module ``[..., d] -> [..., d]``.

- ``none``: the node states as they are (the architecture of networks saved before the
  option existed)
- ``layer``: :class:`torch.nn.LayerNorm` over each node's ``d`` channels (learned gain and
  bias); bounds the head's pre-sigmoid output (module docstring)
"""


@dataclass(frozen=True)
class GraphConfig:
    """Options of the graph family (``NetConfig.graph``); JSON-serializable.

    Attributes
    ----------
    top_k : int >= 0 or None, neighbours kept per link (``min(top_k, N - 1)``); None: all
    channels : int >= 1, virtual-power channels ``c`` aggregated per direction and layer
    update_widths : tuple of int, hidden widths of the node-update MLP (may be empty)
    db_scale : float > 0, dB per unit of the node input (``s_ii / db_scale``)
    head_layers : int >= 0, message-passing layers in each head (:class:`GraphHead`);
        0: per-node MLP heads on the node features alone
    decoder : ``edges`` (:class:`EdgeDecoder`, the gain matrix) or ``nodes``
        (:class:`NodeDecoder`, one value per link: a per-link reconstruction target)
    head_norm : str, a key of :data:`HEAD_NORMS`, the normalization of a graph head's node
        states before its MLP (only with ``head_layers > 0``). The default ``"none"`` is the
        architecture of configs saved without the field; new networks use ``"layer"``
        (:func:`wirelessrl.models.d2d_gnn_config`, ``experiments/d2d.yaml``), which keeps
        the head from saturating (module docstring)

    Example
    -------
    >>> GraphConfig(top_k=8).k(200), GraphConfig(top_k=None).k(10)
    (8, 9)
    """

    top_k: int | None = 49
    channels: int = 16
    update_widths: tuple[int, ...] = (64,)
    db_scale: float = 20.0
    head_layers: int = 0
    decoder: str = "edges"
    head_norm: str = "none"

    DECODERS = ("edges", "nodes")

    def __post_init__(self) -> None:
        if self.top_k is not None:
            object.__setattr__(self, "top_k", check_int("graph.top_k", self.top_k, 0))
        object.__setattr__(self, "channels", check_int("graph.channels", self.channels, 1))
        widths = self.update_widths
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
            raise ConfigError(f"graph.update_widths={widths!r} is invalid; expected a list of "
                              "layer widths")
        widths = tuple(check_int(f"graph.update_widths[{i}]", w, 1) for i, w in enumerate(widths))
        object.__setattr__(self, "update_widths", widths)
        object.__setattr__(self, "db_scale", check_positive("graph.db_scale", self.db_scale))
        object.__setattr__(self, "head_layers",
                           check_int("graph.head_layers", self.head_layers, 0))
        check_choice("graph.decoder", self.decoder, self.DECODERS)
        check_choice("graph.head_norm", self.head_norm, tuple(HEAD_NORMS))

    def k(self, n_links: int) -> int:
        """Neighbours kept per link in a network of ``n_links``."""
        return n_links - 1 if self.top_k is None else min(self.top_k, n_links - 1)

    def to_dict(self) -> dict:
        """The fields by name (``update_widths`` as a list), for network config JSON;
        ``head_layers`` only when > 0 and ``head_norm`` only on graph heads and when not
        ``"none"``, so the JSON of networks saved before these options is unchanged."""
        out = {"top_k": self.top_k, "channels": self.channels,
               "update_widths": list(self.update_widths), "db_scale": self.db_scale}
        if self.head_layers:  # absent when 0: the config JSON of earlier networks unchanged
            out["head_layers"] = self.head_layers
            if self.head_norm != "none":  # absent: the graph heads saved before the option
                out["head_norm"] = self.head_norm
        if self.decoder != "edges":  # likewise
            out["decoder"] = self.decoder
        return out

    @classmethod
    def coerce(cls, value: Any) -> GraphConfig:
        """A GraphConfig from itself, a dict of its fields, or None (the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, GraphConfig):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"graph={value!r} is invalid; expected a mapping of graph options")
        unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"graph.{sorted(unknown)[0]} is not a graph option; expected one "
                              "of " + ", ".join(f.name for f in dataclasses.fields(cls)))
        return cls(**value)


def check_gains_tensor(name: str, s: torch.Tensor, top_k: int | None = None) -> int:
    """Validate a ``[batch, n, n]`` finite tensor (and ``n >= 2`` when ``top_k > 0``);
    return ``n``. The error names the field, the value and what is allowed."""
    if not isinstance(s, torch.Tensor):
        raise ConfigError(f"{name}={type(s).__name__} is invalid; expected a torch tensor "
                          "(batch, n, n)")
    if s.dim() != 3 or s.shape[-1] != s.shape[-2]:
        raise ConfigError(f"{name}: shape {tuple(s.shape)} is invalid; expected a square "
                          "gain matrix per layout, (batch, n, n)")
    n = s.shape[-1]
    if n < 1:
        raise ConfigError(f"{name}: shape {tuple(s.shape)} is invalid; expected n >= 1 links")
    if n == 1 and top_k is not None and top_k > 0:
        raise ConfigError(f"{name}: n=1 link has no interferers, but graph.top_k={top_k}; "
                          "expected n >= 2 links or top_k=0")
    # one cheap pass: the sum of dB values (|s| < 1e3) is finite iff every entry is
    if not bool(torch.isfinite(s.sum())):
        raise ConfigError(f"{name} holds NaN or inf; expected finite gains in dB")
    return n


def _check_gains(name: str, g: Any) -> np.ndarray:
    """``g`` as a float64 C-contiguous ``[batch, n, n]`` array (no copy when it is one);
    :class:`ConfigError` naming the field when it is not a square gain matrix per layout."""
    g = np.asarray(g)
    if g.ndim != 3 or g.shape[-1] != g.shape[-2]:
        raise ConfigError(f"{name}: shape {g.shape} is invalid; expected a square gain matrix "
                          "per layout, (batch, n, n)")
    if g.shape[-1] < 1:
        raise ConfigError(f"{name}: shape {g.shape} is invalid; expected n >= 1 links")
    return np.ascontiguousarray(g, dtype=np.float64)


def neighbours(s: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` strongest neighbours of every link, ``[batch, n, k]`` int64 indices.

    Ranked by ``max(s_ij, s_ji)`` over ``j != i``, the stronger coupling of the two
    directions (interference received from ``j`` or caused to ``j``).

    Input: ``s : [batch, n, n]`` gains in dB, ``k`` in ``[0, n - 1]``.
    Output: ``idx : [batch, n, k]``; ``idx[b, i]`` never contains ``i``.
    """
    n = s.shape[-1]
    with torch.no_grad():
        score = torch.maximum(s, s.transpose(-1, -2))
        eye = torch.eye(n, dtype=torch.bool, device=s.device)
        score = score.masked_fill(eye, -math.inf)
        if s.device.type == "cpu" and 0 < k < n:
            # O(n) selection per row; 2-3x faster than torch.topk on CPU (bench_gnn.py)
            part = np.argpartition(-score.numpy(), k - 1, axis=-1)[..., :k]
            return torch.from_numpy(np.ascontiguousarray(part)).to(torch.int64)
        return torch.topk(score, k, dim=-1, sorted=False).indices


def relu_mlp(widths: Sequence[int], last_act: bool = True) -> nn.Sequential:
    """``Linear -> ReLU`` layers through ``widths`` (no ReLU after the last unless
    ``last_act``): the per-node / per-user MLPs of the graph and structured families.

    Example
    -------
    >>> relu_mlp((4, 8, 2), last_act=False)(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """
    layers: list[nn.Module] = []
    for a in range(len(widths) - 1):
        layers.append(nn.Linear(widths[a], widths[a + 1]))
        if a < len(widths) - 2 or last_act:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass
class Graph:
    """The interference graph of a batch, built once per forward pass.

    ``gain[b, i, j] = g_ij P_max / sigma^2`` (linear, diagonal zeroed) in the dense form
    (``idx`` None); in the sparse form ``gain_in[b, i, :]`` and ``gain_out[b, i, :]`` hold
    ``G_ij`` and ``G_ji`` of the kept neighbours ``j = idx[b, i, :]``. ``direct_db[b, i]``
    (float32 dB, ``s_ii``) is set by :meth:`from_gains`: such a graph is a whole network
    input (:class:`GraphFeatures` takes it in place of the ``[batch, n, n]`` dB tensor).
    """

    gain: torch.Tensor | None
    idx: torch.Tensor | None
    gain_in: torch.Tensor | None
    gain_out: torch.Tensor | None
    direct_db: torch.Tensor | None = None
    _flat: torch.Tensor | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, s: torch.Tensor, k: int, sparse: bool | None = None) -> Graph:
        """The graph of ``s : [batch, n, n]`` dB with ``k`` neighbours per link; dense when
        ``k >= n - 1`` unless ``sparse=True`` (the gathered form, for any ``k``)."""
        batch, n, _ = s.shape
        k = min(k, n - 1)
        if not sparse and k >= n - 1:
            eye = torch.eye(n, dtype=torch.bool, device=s.device)
            gain = torch.pow(10.0, s.masked_fill(eye, -math.inf) / 10.0)  # [batch, n, n]
            return cls(gain, None, None, None)
        idx = neighbours(s, k)                                            # [batch, n, k]
        gain_in = torch.pow(10.0, torch.gather(s, -1, idx) / 10.0)        # G_ij, j = idx
        gain_out = torch.pow(10.0, torch.gather(s.transpose(-1, -2), -1, idx) / 10.0)  # G_ji
        return cls(None, idx, gain_in, gain_out)

    @classmethod
    def from_gains(cls, g: np.ndarray, k: int, p_max_w: float, noise_w: float) -> Graph:
        r"""The graph and node input straight from the linear gains, one read of ``g``.

        The same graph as :meth:`build` on ``GraphInputTransform(p_max_w,
        noise_w).snr_db(g)`` (the ``k`` neighbours of largest ``max(g_ij, g_ji)``, ties to
        the smaller index; dense when ``k >= n - 1``), but only the kept edges and the
        diagonal are transformed: ``G = max(g P_max / sigma^2, 10^(DB_FLOOR / 10))`` as
        float32 (not through float32 dB), ``direct_db`` the float32 dB of the diagonal. No
        ``[n, n]`` temporary is made in the sparse form: time is one pass over ``g`` plus
        work and memory linear in the kept edges (:mod:`wirelessrl._graph_kernels`, Numba,
        parallel over the layouts).

        Input
        -----
        g : [batch, n, n], float, linear gains (W/W), ``g[b, i, j]`` from tx j to rx i;
            float64 C-contiguous is read in place (other dtypes are converted)
        k : int >= 0, neighbours per link (``min(k, n - 1)`` kept)
        p_max_w, noise_w : float > 0, W

        Output
        ------
        :class:`Graph` with ``direct_db : [batch, n]`` and either ``idx, gain_in, gain_out :
        [batch, n, k]`` (int64, float32, float32) or ``gain : [batch, n, n]`` float32

        Example
        -------
        >>> g = np.array([[[1e-9, 1e-12, 1e-13], [2e-12, 1e-9, 1e-14], [1e-15, 1e-12, 1e-9]]])
        >>> graph = Graph.from_gains(g, 1, p_max_w=1.0, noise_w=1e-12)
        >>> graph.idx[0, :, 0].tolist(), graph.direct_db[0].tolist()
        ([1, 0, 1], [30.0, 30.0, 30.0])
        >>> graph.gain_in[0, :, 0].tolist(), graph.gain_out[0, :, 0].tolist()
        ([1.0, 2.0, 1.0], [2.0, 1.0, 0.009999999776482582])
        """
        from wirelessrl import _graph_kernels as kernels

        g = _check_gains("g", g)
        batch, n, _ = g.shape
        k = check_int("k", k, 0)
        if n == 1 and k > 0:
            raise ConfigError(f"g: n=1 link has no interferers, but k={k}; expected n >= 2 "
                              "links or k=0")
        k = min(k, n - 1)
        scale = float(p_max_w) / float(noise_w)
        floor = 10.0 ** (DB_FLOOR / 10.0)
        if k >= n - 1:
            gain, direct, ok = kernels.dense_graph(g, scale, floor)
            out = (torch.from_numpy(gain), None, None, None)
        else:
            import numba

            idx, w_in, w_out, direct, ok = kernels.sparse_graph(
                g, k, scale, floor, SELECT_RHO, numba.get_num_threads())
            out = (None, torch.from_numpy(idx), torch.from_numpy(w_in), torch.from_numpy(w_out))
        if not ok.all() and (not np.isfinite(g).all() or (g < 0).any()):
            raise ConfigError("g holds NaN, inf or negative gains; expected finite gains >= 0")
        return cls(*out, direct_db=torch.from_numpy(direct))

    @property
    def n_links(self) -> int:
        """Links per layout."""
        return (self.gain if self.idx is None else self.idx).shape[1]

    def incoming(self, q: torch.Tensor) -> torch.Tensor:
        """``sum_{j != i} G_ij q_j``: ``q : [batch, n, c]`` -> ``[batch, n, c]``."""
        if self.idx is None:
            return self.gain.to(q.dtype) @ q
        return self._gathered_sum(self.gain_in, q)

    def outgoing(self, r: torch.Tensor) -> torch.Tensor:
        """``sum_{j != i} G_ji r_j``: ``r : [batch, n, c]`` -> ``[batch, n, c]``."""
        if self.idx is None:
            return self.gain.to(r.dtype).transpose(-1, -2) @ r
        return self._gathered_sum(self.gain_out, r)

    def _gathered_sum(self, weight: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``out[b, i] = sum_m weight[b, i, m] v[b, idx[b, i, m]]``, O(N k c) time and memory:
        one ``embedding_bag`` over the batch's nodes (4-5x faster than a gather and a
        batched product on CPU, ``benchmarks/bench_gnn.py``; gradients flow to ``v`` and
        ``weight``)."""
        batch, n, k = self.idx.shape
        if self._flat is None or self._flat.device != v.device:
            offset = (torch.arange(batch, device=v.device) * n).view(batch, 1, 1)
            self._flat = (self.idx.to(v.device) + offset).view(batch * n, k)  # [batch n, k]
        if k == 0:
            return v.new_zeros(v.shape)
        out = nn.functional.embedding_bag(self._flat, v.reshape(batch * n, -1),
                                          per_sample_weights=weight.to(v.dtype).reshape(
                                              batch * n, k),
                                          mode="sum")
        return out.view(batch, n, -1)


class GraphLayer(nn.Module):
    """One message-passing layer ``h -> h'`` (see the module docstring).

    Call: ``h : [batch, n, d_in]``, ``graph : Graph`` -> ``[batch, n, d_out]``.
    """

    def __init__(self, d_in: int, d_out: int, graph: GraphConfig) -> None:
        super().__init__()
        c = graph.channels
        self.powers = nn.Linear(d_in, 2 * c)   # virtual powers q (sent) and r (received)
        self.update = relu_mlp((d_in + 2 * c, *graph.update_widths, d_out))

    def forward(self, h: torch.Tensor, graph: Graph) -> torch.Tensor:
        """Node states ``h : [batch, n, d_in]`` -> ``[batch, n, d_out]``: virtual powers
        ``q, r : [batch, n, c]`` (softplus), messages ``log1p`` of the received / caused
        interference over ``graph``'s edges, then the update MLP on ``[h, a_in, a_out]``."""
        q, r = nn.functional.softplus(self.powers(h)).chunk(2, dim=-1)  # [batch, n, c] each
        a_in = torch.log1p(graph.incoming(q))                           # interference received
        a_out = torch.log1p(graph.outgoing(r))                          # interference caused
        return self.update(torch.cat([h, a_in, a_out], dim=-1))


class GraphFeatures(nn.Module):
    r"""The feature module of the ``gnn`` family: node features of every link.

    Input
    -----
    widths : sequence of int, ``(1, d_1, ..., d_L)``: the node input (the direct gain,
        1 feature) and the width after each of the ``L`` message-passing layers
    graph : :class:`GraphConfig` or dict

    Call: ``s : [batch, n, n]`` float, received SNRs at full power in dB,
    ``s_ij = 10 log10(g_ij P_max / sigma^2)`` (:class:`GraphInputTransform`) ->
    ``f : [batch, n, d_L]``; permuting the links of ``s`` permutes the rows of ``f``.
    With ``graph.head_layers > 0`` or ``pass_gains`` (set by
    :class:`wirelessrl.models.TransferNet` for a head built from the gains, e.g. the
    max-min power layer): ``f : [batch, n, d_L + n]``, each node's features followed by its
    row of ``s`` (the graph :class:`GraphHead` passes messages over).

    Example
    -------
    >>> f = GraphFeatures((1, 32, 32), GraphConfig(top_k=4))
    >>> f(20 * torch.randn(2, 10, 10)).shape, f(20 * torch.randn(1, 3, 3)).shape
    (torch.Size([2, 10, 32]), torch.Size([1, 3, 32]))
    """

    def __init__(self, widths: Sequence[int], graph: GraphConfig | Mapping | None = None):
        super().__init__()
        self.widths = tuple(widths)
        if self.widths[0] != 1:
            raise ConfigError(f"feature_widths[0]={self.widths[0]} is invalid for the gnn "
                              "family; expected 1 (the direct gain of each link)")
        self.graph = GraphConfig.coerce(graph)
        self.pass_gains = False
        self.layers = nn.ModuleList(
            GraphLayer(self.widths[a], self.widths[a + 1], self.graph)
            for a in range(len(self.widths) - 1)
        )

    def forward(self, s: torch.Tensor | Graph, graph: Graph | None = None) -> torch.Tensor:
        """``s : [batch, n, n]`` dB -> ``[batch, n, d_L]``; ``graph`` (default: built from
        ``s`` with ``graph.top_k``) lets a caller choose the neighbours or the sparse form.
        ``s`` may also be a :class:`Graph` from :meth:`Graph.from_gains` (the fast input
        from the linear gains): then the features are ``[batch, n, d_L]`` also with
        ``head_layers > 0`` (a :class:`GraphHead` takes that graph instead of the gains)."""
        if isinstance(s, Graph):
            if self.pass_gains:
                raise ConfigError("x: a Graph is invalid for a network whose head is built "
                                  "from the gains; expected the [batch, n, n] dB input "
                                  "(GraphInputTransform.snr_db)")
            graph = check_graph_input("x", s, self.graph.top_k)
            h = graph.direct_db.unsqueeze(-1) / self.graph.db_scale       # [batch, n, 1]
        else:
            n = check_gains_tensor("x", s, self.graph.top_k)
            if graph is None:
                graph = Graph.build(s, self.graph.k(n))
            # [batch, n, 1]: the direct link's SNR at full power, in units of db_scale
            h = torch.diagonal(s, dim1=-2, dim2=-1).unsqueeze(-1) / self.graph.db_scale
        dtype = next(self.parameters(), h).dtype
        h = h.to(dtype)
        for layer in self.layers:
            h = layer(h, graph)
        if (self.graph.head_layers or self.pass_gains) and not isinstance(s, Graph):
            return torch.cat([h, s], dim=-1)                           # [batch, n, d_L + n]
        return h


def check_graph_input(name: str, graph: Graph, top_k: int | None) -> Graph:
    """Validate a :class:`Graph` network input (from :meth:`Graph.from_gains`): it carries
    ``direct_db`` and keeps ``min(top_k, n - 1)`` neighbours per link (or is dense with
    ``top_k`` None or ``>= n - 1``); returns it."""
    if graph.direct_db is None:
        raise ConfigError(f"{name}: a Graph without direct_db is invalid as a network input; "
                          "expected Graph.from_gains(g, k, p_max_w, noise_w)")
    n = graph.n_links
    want = n - 1 if top_k is None else min(top_k, n - 1)
    got = n - 1 if graph.idx is None else graph.idx.shape[-1]
    if got != want:
        raise ConfigError(f"{name}: a Graph with {got} neighbours per link is invalid for "
                          f"graph.top_k={top_k} at n={n}; expected Graph.from_gains(g, k={want}, "
                          "...)")
    return graph


class GraphHead(nn.Module):
    r"""A head with message passing of its own (``graph.head_layers > 0``).

    ``head_layers`` :class:`GraphLayer`\ s of width ``d_L`` on the node features, over the
    graph of the gains that :class:`GraphFeatures` passes on, the normalization
    ``graph.head_norm`` of each node's state (:data:`HEAD_NORMS`), then the per-node MLP
    and output transform of ``config`` (:class:`wirelessrl.models.Head`). The graph keeps
    the ``graph.top_k`` strongest neighbours, as in the feature module.

    Input
    -----
    config : :class:`wirelessrl.models.HeadConfig`, widths ``(d_L, ..., 1)``
    graph : :class:`GraphConfig` or dict, with ``head_layers >= 1``
    mlp : the per-node head of ``config`` (:class:`wirelessrl.models.Head`, ``per_node``)

    Call: ``f : [batch, n, d_L + n]`` (node features, then the row of dB gains) ->
    ``[batch, n]`` (power fractions with a sigmoid output).

    Example
    -------
    >>> from wirelessrl.models import Head, HeadConfig
    >>> graph = GraphConfig(head_layers=2, head_norm="layer")
    >>> config = HeadConfig((8, 4, 1), output="sigmoid")
    >>> f = GraphFeatures((1, 8), graph)(20 * torch.randn(3, 6, 6))
    >>> f.shape, GraphHead(config, graph, Head(config, per_node=True))(f).shape
    (torch.Size([3, 6, 14]), torch.Size([3, 6]))
    """

    def __init__(self, config: Any, graph: GraphConfig | Mapping | None,
                 mlp: nn.Module) -> None:
        super().__init__()
        self.config = config
        self.graph = GraphConfig.coerce(graph)
        if self.graph.head_layers < 1:
            raise ConfigError(f"graph.head_layers={self.graph.head_layers} is invalid for a "
                              "GraphHead; expected >= 1 (0: the per-node Head)")
        d = config.widths[0]
        self.layers = nn.ModuleList(GraphLayer(d, d, self.graph)
                                    for _ in range(self.graph.head_layers))
        self.mlp = mlp
        # no parameters for "none": the state dict of a head saved before head_norm existed
        self.norm = HEAD_NORMS[self.graph.head_norm](d)

    def forward(self, f: torch.Tensor, graph: Graph | None = None) -> torch.Tensor:
        """``f : [batch, n, d_L + n]`` -> ``[batch, n]`` (class docstring); with ``graph``
        (the :class:`Graph` input of the feature module), ``f : [batch, n, d_L]``."""
        d = self.config.widths[0]
        n = f.shape[1]
        if graph is None:
            if f.shape[-1] != d + n:
                raise ConfigError(f"features: shape {tuple(f.shape)} is invalid for a "
                                  f"GraphHead; expected (batch, n, {d} + n): node features "
                                  "and the gains (graph.head_layers > 0 in the feature module)")
            graph = Graph.build(f[..., d:], self.graph.k(n))   # from the [batch, n, n] dB
        h = f[..., :d]                                          # [batch, n, d]
        for layer in self.layers:
            h = layer(h, graph)
        return self.mlp(self.norm(h))                           # [batch, n]


class EdgeDecoder(nn.Module):
    r"""Rebuild the standardized gain matrix from node features (source training only).

    ``rec_ij = u(f_i) . v(f_j) / sqrt(r)`` for ``i != j`` (row i: the gains link ``i``
    receives, column i: those it causes) and ``rec_ii = d(f_i)``.

    Input
    -----
    widths : sequence of int, ``(d_L, ..., r)``: the per-node MLPs ``u`` and ``v``
        (``d`` has the same hidden widths and one output)

    Call: ``f : [batch, n, d_L]`` (or ``[batch, n, d_L + n]``, node features first) ->
    ``rec : [batch, n, n]``

    Example
    -------
    >>> EdgeDecoder((32, 64, 16))(torch.randn(2, 7, 32)).shape
    torch.Size([2, 7, 7])
    """

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.u = relu_mlp(self.widths, last_act=False)
        self.v = relu_mlp(self.widths, last_act=False)
        self.d = relu_mlp((*self.widths[:-1], 1), last_act=False)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Node features ``f : [batch, n, d_L]`` -> ``rec : [batch, n, n]``, the standardized
        dB gains: ``u(f_i) . v(f_j) / sqrt(r)`` off the diagonal, ``d(f_i)`` on it."""
        r = self.widths[-1]
        f = f[..., :self.widths[0]]                                    # the node features
        rec = self.u(f) @ self.v(f).transpose(-1, -2) / math.sqrt(r)   # [batch, n, n]
        diag = self.d(f).squeeze(-1)                                   # [batch, n]
        eye = torch.eye(f.shape[1], dtype=torch.bool, device=f.device)
        return torch.where(eye, torch.diag_embed(diag), rec)


class NodeDecoder(nn.Module):
    r"""Rebuild one standardized value per link from its node features (source training
    only; ``graph.decoder = "nodes"``): a per-node MLP ``d_L -> ... -> 1``.

    Input
    -----
    widths : sequence of int, ``(d_L, ..., 1)``

    Call: ``f : [batch, n, d_L]`` (or wider, node features first) -> ``rec : [batch, n]``

    Example
    -------
    >>> NodeDecoder((32, 64, 1))(torch.randn(2, 7, 32)).shape
    torch.Size([2, 7])
    """

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        self.widths = tuple(widths)
        if self.widths[-1] != 1:
            raise ConfigError(f"decoder_widths[-1]={self.widths[-1]} is invalid for "
                              "graph.decoder='nodes'; expected 1 (one value per link)")
        self.mlp = relu_mlp(self.widths, last_act=False)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """Node features ``f : [batch, n, d_L]`` -> ``rec : [batch, n]``."""
        return self.mlp(f[..., :self.widths[0]]).squeeze(-1)


def powers_from_gains(net: nn.Module, g: np.ndarray, p_max_w: float, noise_w: float,
                      head: str | None = None, chunk: int | None = None) -> np.ndarray:
    r"""Power fractions of a graph network straight from the linear gains (inference).

    The fast path end to end: :meth:`Graph.from_gains` (``k`` from the network's
    ``graph.top_k``) and the forward pass under :func:`torch.inference_mode`, ``chunk``
    layouts at a time; the same powers as ``net(GraphInputTransform(p_max_w,
    noise_w).snr_db(g))`` to float32 tolerance (tested). A network with a head built from
    the gains (``net.passes_gains``, e.g. the max-min power layer, which reads every
    link's row of dB gains) runs on the dB input instead.

    Input
    -----
    net : a ``gnn`` :class:`~wirelessrl.models.TransferNet` (its decoder is not run when
        dropped; the call returns ``{"out": ...}``)
    g : [batch, n, n], float, linear gains (W/W)
    p_max_w, noise_w : float > 0, W
    head : str or None, the head (None: the only one)
    chunk : int >= 1 or None, layouts per forward pass (None: ``4e6 / n^2``, at least 1)

    Output
    ------
    x : [batch, n], float32, ``p / P_max``

    Example
    -------
    >>> from wirelessrl.models import TransferNet, d2d_gnn_config
    >>> net = TransferNet.from_config(d2d_gnn_config(top_k=3, decoder=False)).eval()
    >>> g = np.random.default_rng(0).uniform(1e-12, 1e-9, (2, 6, 6))
    >>> powers_from_gains(net, g, 1.0, 1e-12, head="sum_rate").shape
    (2, 6)
    """
    g = _check_gains("g", g)
    n = g.shape[-1]
    chunk = max(1, 4_000_000 // (n * n)) if chunk is None else check_int("chunk", chunk, 1)
    k = GraphConfig.coerce(getattr(net, "graph", None)).k(n)
    dense = GraphInputTransform(p_max_w, noise_w) if getattr(net, "passes_gains", False) else None
    out = []
    with torch.inference_mode():
        for a in range(0, len(g), chunk):
            x = (Graph.from_gains(g[a:a + chunk], k, p_max_w, noise_w) if dense is None
                 else torch.from_numpy(dense.snr_db(g[a:a + chunk])))
            out.append(net(x, head=head)["out"])
    return torch.cat(out).numpy() if out else np.empty((0, n), dtype=np.float32)


@dataclass
class GraphInputTransform:
    r"""Gains -> the graph network's input and its reconstruction target.

    :meth:`snr_db`: ``s = 10 log10(max(g P_max / sigma^2, 10^(DB_FLOOR / 10)))``, the
    network input, ``[batch, n, n]`` float32 dB (nothing fitted). :meth:`standardize`: the
    reconstruction target, ``s`` with the diagonal (direct links) and the off-diagonal
    (cross gains) standardized by their own scalar mean and std, fitted on the source
    training set (scalars: the same map for every network size).

    Example
    -------
    >>> g = np.array([[[1e-9, 1e-12], [1e-12, 1e-9]]])
    >>> t = GraphInputTransform.fit(g, p_max_w=1.0, noise_w=1e-12)
    >>> t.snr_db(g)[0]
    array([[30.,  0.],
           [ 0., 30.]], dtype=float32)
    """

    p_max_w: float
    noise_w: float
    mu_direct_db: float = 0.0
    sd_direct_db: float = 1.0
    mu_cross_db: float = 0.0
    sd_cross_db: float = 1.0

    def graph(self, g: np.ndarray, k: int) -> Graph:
        """The network input as a :class:`Graph` with ``k`` neighbours per link, straight
        from ``g : [batch, n, n]`` linear W/W (:meth:`Graph.from_gains`; the fast
        equivalent of :meth:`snr_db` for inference)."""
        return Graph.from_gains(g, k, self.p_max_w, self.noise_w)

    def snr_db(self, g: np.ndarray) -> np.ndarray:
        """``g : [batch, n, n]`` linear W/W -> ``s : [batch, n, n]`` float32 dB."""
        g = np.asarray(g)
        if g.ndim != 3 or g.shape[-1] != g.shape[-2]:
            raise ConfigError(f"g: shape {g.shape} is invalid; expected a square gain matrix "
                              "per layout, (batch, n, n)")
        if not np.isfinite(g).all() or (g < 0).any():
            raise ConfigError("g holds NaN, inf or negative gains; expected finite gains >= 0")
        floor = 10.0 ** (DB_FLOOR / 10.0)
        snr = np.maximum(g.astype(np.float64) * (self.p_max_w / self.noise_w), floor)
        return (10.0 * np.log10(snr)).astype(np.float32)

    @classmethod
    def fit(cls, g: np.ndarray, p_max_w: float, noise_w: float) -> GraphInputTransform:
        """Fit the scalars of :meth:`standardize` on ``g : [batch, n, n]``."""
        return cls.fit_chunks([g], p_max_w, noise_w)

    @classmethod
    def fit_chunks(cls, chunks: Iterable[np.ndarray], p_max_w: float,
                   noise_w: float) -> GraphInputTransform:
        """:meth:`fit` on gains given in chunks ``[m, n, n]`` (e.g. read from disk), merged
        with :class:`~wirelessrl.standardize.Moments`; one chunk gives exactly :meth:`fit`."""
        from wirelessrl.standardize import Moments

        snr = cls(float(p_max_w), float(noise_w))
        parts: dict[str, Moments | None] = {"direct": None, "cross": None}
        for g in chunks:
            s = snr.snr_db(g).astype(np.float64)
            eye = np.eye(s.shape[-1], dtype=bool)
            for name, v in (("direct", s[:, eye]), ("cross", s[:, ~eye])):
                if v.size:
                    m = Moments.of(v, axis=None)
                    parts[name] = m if parts[name] is None else parts[name].merge(m)

        def stats(m: Moments | None) -> tuple[float, float]:
            if m is None:
                return 0.0, 1.0
            sd = float(np.sqrt(m.var))
            return float(m.mean), sd if sd > 0 else 1.0

        return cls(float(p_max_w), float(noise_w), *stats(parts["direct"]),
                   *stats(parts["cross"]))

    def standardize(self, s: np.ndarray) -> np.ndarray:
        """``s : [batch, n, n]`` dB -> standardized, float32 (the reconstruction target)."""
        eye = np.eye(s.shape[-1], dtype=bool)
        out = (s - self.mu_cross_db) / self.sd_cross_db
        out[:, eye] = (s[:, eye] - self.mu_direct_db) / self.sd_direct_db
        return out.astype(np.float32)

    def to_dict(self) -> dict:
        """The fields by name (powers in W, dB means and stds), for network metadata."""
        return dataclasses.asdict(self)
