r"""The exact max-min power layer of D2D power control, differentiable (a structured
min-rate head).

**Weighted max-min SINR** with a power limit per link (fractions ``x_i = p_i / P_max``):

.. math::

    t^\star(w) = \max_{t,\ 0 \le x \le 1}\ t \quad \text{s.t.} \quad
    \mathrm{SINR}_i(x) = \frac{G_{ii} x_i}{\sum_{j \ne i} G_{ij} x_j + 1} \ge w_i t
    \quad \forall i,

with the noise-normalized gains ``G = g P_max / sigma^2`` and weights ``w > 0``. The
optimum gives every link exactly ``SINR_i = w_i t*``, and at least one link transmits at full
power (Zander 1992). With ``B = W D^-1 F`` (``D = diag G_ii``, ``F`` the off-diagonal part)
and ``c = W D^-1 1``, ``mu = 1 / t*`` and the powers solve ``mu x = B x + c``; when link
``k`` is the one at full power, ``(x, 1)`` is the Perron vector of

.. math::

    X_k = \begin{pmatrix} B & c \\ e_k^T B & e_k^T c \end{pmatrix},
    \qquad 1 / t^\star = \max_k \rho(X_k)

(the spectral form of :mod:`baselines.maxmin`, Cai, Quek, Tan, Low 2012; ``rho(X_k) =
rho(B + c e_k^T)``). With every weight equal this is the max-min SINR optimum of
:func:`baselines.maxmin.maxmin`.

**The layer** (:func:`d2d_maxmin_powers`), without power iterations (they converge at the
rate ``|mu_2 / mu_1|``, not bounded away from 1 when interference dominates):

* *the binding link and the root*, without gradient: ``mu_k = rho(X_k) = rho(B + c e_k^T)``
  from dense eigenvalues in float64 (an ``n x n`` problem), starting from the link with the
  lowest ``SINR_i / w_i`` at full power. At ``mu_k`` the least powers
  ``x(mu) = (mu I - B)^-1 c`` either stay within ``x_k`` (``k`` binds: ``mu_k = 1 / t*``)
  or some ``x_j(mu_k) > x_k(mu_k) = 1``; then ``mu_j > mu_k`` (``x_j`` decreases in ``mu``)
  and ``j`` is tried next, so the search climbs to ``max_k rho(X_k)`` in a few steps
  (usually one; ties within 1e-9 stop it); layouts still open after ``n + 1`` steps take the
  root of every ``X_k``.
* *the gradient*, as in :func:`wirelessrl.beam_structure.maxmin_powers`: first-order
  perturbation of the simple Perron root of ``X_k``, ``d mu = y^T dX v / y^T v``, whose
  right and left Perron vectors follow from the structure by two solves instead of a
  second eigen-decomposition: ``v = (x, 1)`` and ``y = (z - e_k, 1)`` with
  ``z = mu (mu I - B)^-T e_k``, so ``d mu = z^T (dB x + dc) / z^T x``. The root is simple:
  ``t* B x < x`` componentwise at the optimum, so ``mu* > rho(B)`` (Collatz-Wielandt) and
  ``mu I - B`` is a nonsingular M-matrix.
* *the powers*: ``x = (mu I - B)^-1 c`` (a differentiable solve), scaled to ``max x = 1``,
  then three steps of the normalized map ``x <- (B x + c) / max(B x + c)`` (Krause's, as
  :func:`baselines.maxmin._refine`; the identity at the optimum, so the gradient is
  unchanged). When interference dominates, ``x_k(mu)`` moves by ~1e-7 for a relative
  1e-14 in ``mu``: the solve gets the direction, the steps the scale, and the SINRs come out
  equal to ~1e-14 with one link at exactly 1.

Away from ties between two binding links the map is smooth; at a tie the gradient is that of
one of them. Cost at ``n = 10``: about 5x the Numba solver :func:`baselines.maxmin.maxmin`
(117 against 22 us per layout on ``paper``, forward, one thread, loaded machine;
``benchmarks/d2d_maxmin_layer.py``), mostly the ``n x n`` eigenvalues.

**The head** (:class:`MaxminPowerHead`, ``output="maxmin_powers"`` of
:class:`wirelessrl.models.HeadConfig`): the network predicts one score per link, the weights
are ``w = n softmax(z)`` (mean 1; the scale of ``w`` does not change the powers), and the
layer returns the power fractions. The gains reach the head through the feature layer: a
network with this head passes its received SNRs at full power (dB) on after its features
(``wirelessrl.models``). Uniform weights give the exact max-min optimum, so for the
min-rate the network only has to learn equal scores; other weights trade one link's SINR
against another's along the Pareto boundary (every Pareto-optimal power vector, one link at
full power, is a weighted max-min solution).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from simulators.validation import ConfigError

__all__ = ["MaxminPowerHead", "MaxminPowers", "d2d_maxmin_powers"]

GAIN_FLOOR = 1e-12
"""Floor of the noise-normalized direct gains ``G_ii`` (a link without a channel): keeps
``D^-1`` finite; real links are many orders of magnitude above (``paper``: ``G_ii`` ~ 1e2 to
1e5)."""

_TIE = 1e-9
"""Links whose least powers are within this relative margin of the tried link's count as
tied with it (the root of either is ``1 / t*`` to ~1e-9 / elasticity)."""

_POLISH_STEPS = 3
"""Normalized fixed-point steps after the solve (each shrinks the SINR spread by 10-100x)."""

DB_FLOOR = -100.0
"""Received SNRs in dB below this (zero gains) are clamped to it, as in
:data:`wirelessrl.gnn.DB_FLOOR`."""


def _check_gains(g: Any) -> int:
    if not isinstance(g, torch.Tensor):
        raise ConfigError(f"g={type(g).__name__} is invalid; expected a torch tensor "
                          "(batch, n, n) of linear gains")
    if g.dim() != 3 or g.shape[-1] != g.shape[-2] or g.shape[-1] < 1:
        raise ConfigError(f"g: shape {tuple(g.shape)} is invalid; expected a square gain "
                          "matrix per layout, (batch, n, n) with n >= 1")
    if torch.is_complex(g) or not bool(torch.isfinite(g).all()) or bool((g < 0).any()):
        raise ConfigError("g holds complex, NaN, inf or negative values; expected finite "
                          "real gains >= 0")
    return g.shape[-1]


def d2d_maxmin_powers(g: torch.Tensor, weights: torch.Tensor | None = None,
                      p_max_w: float = 1.0,
                      noise_w: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Weighted max-min SINR power fractions of D2D links, differentiable (module docstring).

    Input
    -----
    g : [batch, n, n] float, linear gains, ``g[b, i, j]`` from tx j to rx i (W/W)
    weights : [batch, n] float > 0, or None (all equal: the max-min SINR optimum)
    p_max_w : float > 0, the power limit of every link in W
    noise_w : float > 0, noise power ``sigma^2`` in W

    Output
    ------
    x : [batch, n] power fractions ``p_i / P_max`` in (0, 1], maximum exactly 1 (dtype of
        ``g``; computed in float64); ``SINR_i(x) = w_i t`` for every link
    t : [batch] the common ``SINR_i / w_i`` (linear; the max-min SINR for equal weights)

    Example
    -------
    Two links (the example of :func:`baselines.maxmin.maxmin`): ``t* = 3.903882``:

    >>> g = torch.tensor([[[1.0, 0.1], [0.2, 1.0]]], dtype=torch.float64)
    >>> x, t = d2d_maxmin_powers(g, noise_w=0.1)
    >>> [round(v, 6) for v in x[0].tolist()], round(float(t[0]), 6)
    ([0.780776, 1.0], 3.903882)
    """
    _check_gains(g)
    for name, value in (("p_max_w", p_max_w), ("noise_w", noise_w)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                value > 0 and math.isfinite(value)):
            raise ConfigError(f"{name}={value!r} is invalid; expected a power > 0 in W")
    gn = g.to(torch.float64) * (float(p_max_w) / float(noise_w))  # [batch, n, n] G
    w = _weights(weights, g)
    direct = torch.diagonal(gn, dim1=-2, dim2=-1)                  # [batch, n] G_ii
    c = w / direct.clamp_min(GAIN_FLOOR)                           # [batch, n] W D^-1 1
    b = (gn - torch.diag_embed(direct)) * c.unsqueeze(-1)          # [batch, n, n] W D^-1 F
    n = c.shape[-1]
    eye = torch.eye(n, dtype=torch.float64, device=g.device)
    with torch.no_grad():
        b0, c0 = b.detach(), c.detach()
        k, mu0 = _binding_link(b0, c0)
        m0 = mu0[:, None, None] * eye - b0                         # [batch, n, n] mu I - B
        x0 = torch.linalg.solve(m0, c0.unsqueeze(-1)).squeeze(-1)  # (mu I - B)^-1 c
        e_k = torch.nn.functional.one_hot(k, n).to(torch.float64)
        z = torch.linalg.solve(m0.transpose(-1, -2), e_k.unsqueeze(-1)).squeeze(-1)
    # d mu = z^T (dB x + dc) / z^T x: the value mu0, the gradient of the Perron root
    db_x = ((b - b0) @ x0.unsqueeze(-1)).squeeze(-1)               # 0, carries the gradient
    mu = mu0 + (z * (db_x + (c - c0))).sum(-1) / (z * x0).sum(-1)
    x = torch.linalg.solve(mu[:, None, None] * eye - b, c.unsqueeze(-1)).squeeze(-1)
    x = x / x.amax(-1, keepdim=True)
    for _ in range(_POLISH_STEPS):  # x <- (B x + c) / max(B x + c): the identity at x*
        y = (b @ x.unsqueeze(-1)).squeeze(-1) + c
        x = y / y.amax(-1, keepdim=True)                           # one link at exactly 1
    return x.to(g.dtype), (1.0 / mu).to(g.dtype)


def _weights(weights: Any, g: torch.Tensor) -> torch.Tensor:
    """The weights ``[batch, n]`` float64 (ones for None), validated."""
    if weights is None:
        return torch.ones(g.shape[:-1], dtype=torch.float64, device=g.device)
    if not isinstance(weights, torch.Tensor) or weights.shape != g.shape[:-1]:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else weights
        raise ConfigError(f"weights={shape!r} is invalid; expected a tensor of shape "
                          f"{tuple(g.shape[:-1])} (batch, n) of weights > 0")
    if torch.is_complex(weights) or not bool(torch.isfinite(weights).all()) \
            or not bool((weights > 0).all()):
        raise ConfigError("weights hold complex, NaN, inf or values <= 0; expected finite "
                          "weights > 0")
    return weights.to(torch.float64)


def _root(b: torch.Tensor, c: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``rho(X_k) = rho(B + c e_k^T)`` of every layout, ``[m]`` (float64, no gradient):
    ``b : [m, n, n]``, ``c : [m, n]``, ``k : [m]`` the link at full power. (``X_k = U V``
    with ``U = [I; e_k^T]``, ``V = [B, c]``, and ``V U = B + c e_k^T`` has the same nonzero
    eigenvalues: one ``n x n`` eigenvalue problem instead of ``n + 1``.)"""
    rank_one = c.unsqueeze(-1) * torch.nn.functional.one_hot(k, c.shape[-1]).unsqueeze(-2)
    return torch.linalg.eigvals(b + rank_one).real.amax(-1)     # [m, n, n] B + c e_k^T


def _binding_link(b: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The link at full power ``k : [batch]`` and ``mu* = max_k rho(X_k) : [batch]`` (module
    docstring: climb from the weakest link at full power; every root where that stalls)."""
    batch, n = c.shape
    k = (b.sum(-1) + c).argmax(-1)   # lowest SINR_i / w_i = 1 / (B 1 + c)_i at x = 1
    mu = torch.zeros(batch, dtype=torch.float64, device=c.device)
    todo = torch.arange(batch, device=c.device)
    eye = torch.eye(n, dtype=torch.float64, device=c.device)
    for _ in range(n + 1):
        if len(todo) == 0:
            return k, mu
        root = _root(b[todo], c[todo], k[todo])
        x = torch.linalg.solve(root[:, None, None] * eye - b[todo],
                               c[todo].unsqueeze(-1)).squeeze(-1)
        # the direction of x(mu) is accurate, its scale is not (x_k(mu) can move by 1e-7
        # for a relative 1e-14 in mu when interference dominates): compare with x_k
        top, j = (x / x.gather(-1, k[todo].unsqueeze(-1))).max(-1)
        valid = torch.isfinite(x).all(-1) & (x > 0).all(-1)
        done = valid & (top <= 1.0 + _TIE)
        mu[todo[done]] = root[done]
        climb = valid & ~done
        k[todo[climb]] = j[climb]
        todo = todo[climb]
    if len(todo):  # not settled (degenerate gains): the root of every X_k, the largest
        bt, ct = b[todo], c[todo]
        roots = torch.stack([_root(bt, ct, torch.full_like(todo, i)) for i in range(n)], -1)
        mu[todo], k[todo] = roots.max(-1)
    return k, mu


class MaxminPowers(nn.Module):
    r"""Output layer ``output="maxmin_powers"``: per-link scores and the received SNRs at
    full power to the weighted max-min power fractions.

    ``w = n softmax_i(z)`` (mean 1), ``G = 10^(s / 10)`` (``s = 10 log10(g P_max /
    sigma^2)``, the noise-normalized gains in dB, as :class:`wirelessrl.gnn.GraphInputTransform`
    makes them), then :func:`d2d_maxmin_powers`.

    Input: ``z : [batch, n]`` scores, ``s : [batch, n, n]`` dB. Output: ``x : [batch, n]``
    power fractions in (0, 1] (dtype of ``z``).

    Example
    -------
    Equal scores give the max-min optimum of the gains:

    >>> s = 10 * torch.log10(torch.tensor([[[10.0, 1.0], [2.0, 10.0]]]))
    >>> x = MaxminPowers()(torch.zeros(1, 2), s)
    >>> [round(v, 6) for v in x[0].tolist()]
    [0.780776, 1.0]
    """

    def forward(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """See the class docstring."""
        if s.dim() != 3 or z.shape != s.shape[:-1]:
            raise ConfigError(f"maxmin_powers: scores {tuple(z.shape)} and gains "
                              f"{tuple(s.shape)} are invalid; expected (batch, n) and "
                              "(batch, n, n)")
        w = z.shape[-1] * torch.softmax(z.to(torch.float64), dim=-1)
        gains = torch.pow(10.0, s.to(torch.float64).clamp_min(DB_FLOOR) / 10.0)
        # softmax weights can underflow to 0 in float64 only for scores ~700 apart
        return d2d_maxmin_powers(gains, w.clamp_min(1e-300))[0].to(z.dtype)


class MaxminPowerHead(nn.Module):
    r"""A D2D min-rate head whose powers come from the max-min layer (:class:`MaxminPowers`).

    The feature layer is ``[f, s]``: the features (width ``config.widths[0]``, per node for
    the graph family) followed by the received SNRs at full power in dB that the feature
    module passes on (``mlp``: ``[batch, d + n^2]``, the gains of one layout flattened row by
    row; ``gnn``: ``[batch, n, d + n]``, row ``i`` of the gains on node ``i``). The scorer
    (an MLP ending in ``n`` outputs, or a per-node head ending in 1) reads ``f``; the layer
    turns its scores into powers on the gains ``s``.

    Input
    -----
    config : :class:`wirelessrl.models.HeadConfig` with ``output="maxmin_powers"``
    scorer : module ``[f, s] -> z``, the scores ``[batch, n]`` (it reads only its columns)
    per_node : bool, the graph family's layout of the feature layer

    Call: ``[batch, d + n^2]`` or ``[batch, n, d + n]`` -> ``x : [batch, n]`` power fractions.
    """

    def __init__(self, config: Any, scorer: nn.Module, per_node: bool = False) -> None:
        super().__init__()
        self.config = config
        self.per_node = bool(per_node)
        self.scorer = scorer
        self.transform = MaxminPowers()

    def gains_db(self, f: torch.Tensor) -> torch.Tensor:
        """The received SNRs ``s : [batch, n, n]`` dB carried in the feature layer ``f``."""
        d = self.config.widths[0]
        if self.per_node:
            n = f.shape[1]
            if f.dim() != 3 or f.shape[-1] != d + n:
                raise ConfigError(f"features: shape {tuple(f.shape)} is invalid for a "
                                  f"maxmin_powers head; expected (batch, n, {d} + n): node "
                                  "features and the gains in dB")
            return f[..., d:]
        n = self.config.widths[-1]
        if f.dim() != 2 or f.shape[-1] != d + n * n:
            raise ConfigError(f"features: shape {tuple(f.shape)} is invalid for a "
                              f"maxmin_powers head of {n} links; expected (batch, {d} + "
                              f"{n * n}): the features and the {n}x{n} gains in dB")
        return f[:, d:].reshape(f.shape[0], n, n)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """See the class docstring."""
        s = self.gains_db(f)
        return self.transform(self.scorer(f), s)
