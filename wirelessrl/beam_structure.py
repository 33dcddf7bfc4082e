r"""Structured multi-user MISO beamformer: user-equivariant features and the optimal
beam structure (family ``structured`` of :class:`wirelessrl.models.TransferNet`).

Every optimum of the downlink problems with a total power ``P`` (sum-rate, max-min SINR,
any weighted sum-rate) has the form (Bjornson, Bengtsson, Ottersten 2014; used as a
network output layer by Xia, Di Renzo et al. 2020)

.. math::

    w_k = \sqrt{p_k}\, \frac{u_k}{\lVert u_k \rVert}, \qquad
    u_k = \Big(I_M + \sum_j \frac{\lambda_j}{\sigma^2} h_j h_j^H\Big)^{-1} h_k, \qquad
    \sum_k \lambda_k = \sum_k p_k = P,

with ``lambda, p >= 0``. For max-min SINR it is exact with ``lambda`` the dual uplink
powers of :func:`baselines.mu_miso.maxmin_beamforming` (``uplink_powers_w``); for the
sum-rate the optimal ``(lambda, p)`` exist but have no closed form. So the network only
predicts ``2 K`` numbers per sample, and :func:`structured_beams` builds the beams in torch
(one ``M x M`` complex solve per sample, differentiable). The normalization is exact:
``lambda = P softmax(a)``, ``p = P softmax(b)`` over the users (never a penalty).

**Max-min powers** (``power_rule="maxmin"``, :func:`maxmin_powers`). For the min-rate the
powers need not be learned: given the directions ``d_k`` (from ``lambda``), the powers that
maximize the minimum SINR under ``sum p = P`` equalize every SINR, and ``1 / gamma*`` is the
Perron root of a ``(K+1) x (K+1)`` nonnegative matrix (Schubert and Boche 2004). The network
then predicts ``K`` numbers (the scores of ``lambda``), and with the dual uplink powers of
the duality solver as ``lambda`` the layer returns the exact max-min optimum.

**Features** (:class:`UserFeatures`): one embedding per user from its noise-normalized
channel ``g_k = h_k / sigma`` (the ``2 M`` reals divided by the sample's RMS channel
amplitude, plus ``log ||g_k||^2``), then ``L`` layers of message passing over the complete
graph of users with phase-invariant edge features ``|g_k^H g_j|^2 / (||g_k|| ||g_j||)^2``
and ``log(1 + |g_k^H g_j|^2)``::

    m_kj = MLP_msg([e_k, e_j, c_kj])                   (j != k)
    a_k  = mean_j m_kj            (aggregation="mean")  or attention-weighted over j
    e_k' = MLP_upd([e_k, a_k])

Every user runs the same weights and the aggregation is symmetric, so permuting the users
permutes the beams, and one model runs at any number of users ``K`` (``M`` is fixed by
the input width). The feature layer passed to the heads is ``[e_k, g_k]``: the learned
embedding with the user's channel appended (the beam construction needs the channel; the
decoder only sees ``e_k``), ``[batch, K, d_L + 2 M]``.

**Decoder** (:class:`UserDecoder`, source training only): a per-user MLP from ``e_k`` to
the user's standardized channel (``2 M`` reals, ``[batch, K, 2 M]``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from simulators.validation import ConfigError, check_choice, check_finite, check_int
from wirelessrl.gnn import relu_mlp

__all__ = [
    "AGGREGATIONS",
    "POWER_RULES",
    "OptimalBeams",
    "StructuredHead",
    "UserConfig",
    "UserDecoder",
    "UserFeatures",
    "beam_directions",
    "check_channel_pairs",
    "maxmin_powers",
    "structured_beams",
]

AGGREGATIONS = ("mean", "attention")
"""How a user combines the messages of the other users."""

POWER_RULES = ("learned", "maxmin")
"""How :class:`OptimalBeams` sets the powers ``p_k``: ``learned`` (a second score per user,
``p = P softmax``) or ``maxmin`` (the SINR-balancing powers of :func:`maxmin_powers`)."""

_EPS = 1e-12
_GAIN_FLOOR = 1e-12
"""Floor of the useful gains ``|h_k^H d_k|^2 / sigma^2`` in :func:`maxmin_powers` (a user
without a channel): keeps ``D^-1`` finite; real gains are many orders of magnitude above."""


def structured_beams(h: torch.Tensor, lam: torch.Tensor, p: torch.Tensor,
                     noise_w: float = 1.0) -> torch.Tensor:
    r"""Beams of the optimal structure ``w_k = sqrt(p_k) u_k / ||u_k||`` (module docstring).

    Input
    -----
    h : [batch, K, M] complex, or real pairs [batch, K, M, 2], channels in sqrt(W/W)
    lam : [batch, K], real >= 0, the dual uplink powers ``lambda_k`` in W
    p : [batch, K], real >= 0, the downlink powers ``p_k = ||w_k||^2`` in W
    noise_w : float, noise power sigma^2 in W

    Output
    ------
    w : [batch, K, M] complex (the dtype of ``h``, complex64 for float32 pairs);
    ``||w_k||^2 = p_k`` to rounding whenever ``h_k != 0`` (a user with a zero channel
    gets ``w_k = 0``; the gradients stay finite)

    Example
    -------
    With orthogonal channels the beams are matched filters whatever ``lambda`` is:

    >>> h = torch.eye(2, dtype=torch.complex128)[None]
    >>> w = structured_beams(h, torch.tensor([[1.0, 3.0]]), torch.tensor([[2.0, 2.0]]))
    >>> torch.allclose(w, 2 ** 0.5 * h)
    True
    """
    if not torch.is_complex(h):
        h = torch.view_as_complex(h.contiguous())
    return beam_directions(h, lam, noise_w) * torch.sqrt(p.to(h.real.dtype)).unsqueeze(-1)


def beam_directions(h: torch.Tensor, lam: torch.Tensor, noise_w: float = 1.0) -> torch.Tensor:
    r"""Unit directions ``u_k / ||u_k||`` of :func:`structured_beams` (zero for ``h_k = 0``).

    Input: ``h : [batch, K, M]`` complex, ``lam : [batch, K]`` W, ``noise_w`` W.
    Output: ``[batch, K, M]`` complex, rows of unit norm.

    Example
    -------
    >>> d = beam_directions(torch.randn(3, 2, 4, dtype=torch.complex128), torch.ones(3, 2))
    >>> torch.allclose(d.abs().pow(2).sum(-1), torch.ones(3, 2, dtype=torch.float64))
    True
    """
    lam = lam.to(h.real.dtype)
    g = h / math.sqrt(float(noise_w))                             # [batch, K, M]
    m = g.shape[-1]
    # A = I + sum_j lam_j g_j g_j^H = I + G^T diag(lam) conj(G): [batch, M, M]
    gt = g.transpose(-1, -2)                                       # [batch, M, K]
    a = torch.eye(m, dtype=g.dtype, device=g.device) + (gt * lam.unsqueeze(-2)) @ g.conj()
    u = torch.linalg.solve(a, gt).transpose(-1, -2)                # [batch, K, M], rows u_k
    norm = torch.sqrt((u.real ** 2 + u.imag ** 2).sum(-1) + _EPS)  # [batch, K], safe at 0
    return u / norm.unsqueeze(-1)


def maxmin_powers(h: torch.Tensor, d: torch.Tensor, power_w: float,
                  noise_w: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Downlink powers that maximize the minimum SINR for fixed beam directions,
    differentiable in ``h`` and ``d``.

    With ``G_kj = |h_k^H d_j|^2``, ``D = diag(G_kk)``, ``F = G - D`` and ``sum_k p_k = P``, the
    optimum equalizes every SINR at ``gamma*`` and ``(p, 1)`` is the Perron vector of

    .. math::

        X = \begin{pmatrix} D^{-1} F & \sigma^2 D^{-1} 1 \\
            1^T D^{-1} F / P & \sigma^2 1^T D^{-1} 1 / P \end{pmatrix},
        \qquad \rho(X) = 1 / \gamma^*

    (Schubert and Boche 2004; Wiesel, Eldar and Shamai 2006). ``X`` is not symmetric, and a
    fixed number of power iterations is not exact: they converge at the rate
    ``|mu_2 / mu_1|``, which tends to the spectral gap of ``D^{-1} F`` at high SNR and is not
    bounded away from 1. So the root ``mu = rho(X)`` comes from a dense eigen-decomposition
    in float64 without gradient (``K + 1`` is small), with its right and left Perron
    vectors ``x, y``, and the gradient is attached by the first-order perturbation of a
    simple eigenvalue, ``d mu = y^T dX x / y^T x``. It is exact: for ``mu > rho(D^{-1} F)``
    the eigenvalues of ``X`` are the zeros of the strictly decreasing Schur complement
    ``s - mu + 1^T B (mu I - B)^{-1} c / P``, so the Perron root is simple. The powers are
    then ``p = sigma^2 (mu D - F)^{-1} 1`` (a nonsingular M-matrix; a differentiable
    solve), rescaled to ``sum p = P`` exactly (a no-op to rounding).

    Input
    -----
    h : [batch, K, M] complex, channels in sqrt(W/W)
    d : [batch, K, M] complex, beam directions (any norm; usually unit rows)
    power_w : float, the total power ``P`` in W
    noise_w : float, noise power ``sigma^2`` in W

    Output
    ------
    p : [batch, K] real (the dtype of ``h.real``), powers in W, ``> 0``, ``sum p = P``
    gamma : [batch] real, the common SINR ``gamma*`` of every user (linear)

    Example
    -------
    Two orthogonal users, gains 1 and 4, ``P = 1``, ``sigma^2 = 1``: ``p = (0.8, 0.2)``,
    both SINRs ``0.8``:

    >>> h = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]], dtype=torch.complex128)
    >>> p, gamma = maxmin_powers(h, torch.eye(2, dtype=torch.complex128)[None], 1.0)
    >>> [round(v, 12) for v in p[0].tolist()], round(float(gamma[0]), 12)
    ([0.8, 0.2], 0.8)
    """
    real = h.real.dtype
    a = h.to(torch.complex128).conj() @ d.to(torch.complex128).transpose(-1, -2)  # h_k^H d_j
    g = a.real ** 2 + a.imag ** 2                                  # [batch, K, K] G_kj
    gain = torch.diagonal(g, dim1=-2, dim2=-1)                     # [batch, K] G_kk
    gain = gain.clamp_min(_GAIN_FLOOR * float(noise_w))
    f = g - torch.diag_embed(torch.diagonal(g, dim1=-2, dim2=-1))  # F: off-diagonal part
    b = f / gain.unsqueeze(-1)                                     # D^-1 F
    c = float(noise_w) / gain                                      # sigma^2 D^-1 1
    top = torch.cat([b, c.unsqueeze(-1)], dim=-1)                  # [batch, K, K+1]
    bottom = torch.cat([b.sum(-2), c.sum(-1, keepdim=True)], dim=-1) / float(power_w)
    x_mat = torch.cat([top, bottom.unsqueeze(-2)], dim=-2)         # [batch, K+1, K+1]
    with torch.no_grad():
        mu0, right = _perron(x_mat)
        _, left = _perron(x_mat.transpose(-1, -2))
    dx = x_mat - x_mat.detach()                                    # 0, carries the gradient
    mu = mu0 + (left * (dx @ right.unsqueeze(-1)).squeeze(-1)).sum(-1) / (left * right).sum(-1)
    m_mat = mu[..., None, None] * torch.diag_embed(gain) - f       # mu D - F
    ones = torch.full_like(gain, float(noise_w)).unsqueeze(-1)
    p = torch.linalg.solve(m_mat, ones).squeeze(-1)
    p = p * (float(power_w) / p.sum(-1, keepdim=True))
    return p.to(real), (1.0 / mu).to(real)


def _perron(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Perron root ``[batch]`` and Perron vector ``[batch, n]`` (positive, summing to 1) of
    nonnegative ``x : [batch, n, n]`` (float64, no gradient)."""
    vals, vecs = torch.linalg.eig(x)
    idx = vals.real.argmax(-1)                       # the Perron root is the largest real part
    mu = vals.real.gather(-1, idx.unsqueeze(-1)).squeeze(-1)
    v = vecs.gather(-1, idx[:, None, None].expand(-1, x.shape[-1], 1)).squeeze(-1)
    v = v / v.sum(-1, keepdim=True)                  # one phase: real and positive
    return mu, v.real.clamp_min(0.0)


class OptimalBeams(nn.Module):
    r"""Output layer of the ``structured`` family: per-user scores to beams on the power sphere.

    ``power_rule="learned"``: ``z[..., 0]`` and ``z[..., 1]`` are the scores of ``lambda`` and
    ``p``: ``lambda = P softmax_k(z_0)``, ``p = P softmax_k(z_1)`` (exact, over the users).
    ``power_rule="maxmin"``: ``z[..., 0]`` is the only score (``lambda``) and ``p`` are the
    max-min powers of the directions (:func:`maxmin_powers`: every SINR equal). Then
    :func:`structured_beams`, then a rescale of the whole sample to ``sum ||w_k||^2 = P``
    (a no-op to rounding unless a user's channel is zero).

    Input: ``z : [batch, K, n_scores]`` scores (2 or 1) and ``g : [batch, K, M, 2]``
    noise-normalized channels (real pairs). Output: ``w : [batch, 2 K M]`` interleaved real
    pairs (the layout of :class:`wirelessrl.objectives.MuMisoRateLoss`).

    Example
    -------
    >>> w = OptimalBeams(power=10.0)(torch.randn(3, 4, 2), torch.randn(3, 4, 8, 2))
    >>> torch.allclose((w ** 2).sum(-1), torch.full((3,), 10.0))
    True
    >>> w = OptimalBeams(10.0, "maxmin")(torch.randn(3, 4, 1), torch.randn(3, 4, 8, 2))
    >>> torch.allclose((w ** 2).sum(-1), torch.full((3,), 10.0))
    True
    """

    def __init__(self, power: float = 1.0, power_rule: str = "learned") -> None:
        super().__init__()
        self.power = check_finite("output_params.power", power)
        if self.power <= 0:
            raise ConfigError(f"output_params.power={power!r} is invalid; expected a power > 0")
        self.power_rule = check_choice("output_params.power_rule", power_rule, POWER_RULES)

    @property
    def n_scores(self) -> int:
        """Scores per user the layer takes: 2 (``learned``) or 1 (``maxmin``)."""
        return 2 if self.power_rule == "learned" else 1

    def split(self, z: torch.Tensor,
              g: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores ``[batch, K, n_scores]`` -> ``(lambda, p)``, each ``[batch, K]`` summing to
        P (``maxmin`` needs the channels ``g : [batch, K, M, 2]``)."""
        lam = self.power * torch.softmax(z[..., 0], dim=-1)
        if self.power_rule == "learned":
            return lam, self.power * torch.softmax(z[..., 1], dim=-1)
        if g is None:
            raise ConfigError("g=None is invalid for power_rule='maxmin'; expected the "
                              "channels [batch, K, M, 2]")
        h = torch.view_as_complex(g.contiguous())
        return lam, maxmin_powers(h, beam_directions(h, lam, 1.0), self.power, 1.0)[0]

    def forward(self, z: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """See the class docstring."""
        if z.shape[-1] != self.n_scores:
            raise ConfigError(f"z: {z.shape[-1]} scores per user is invalid for power_rule="
                              f"{self.power_rule!r}; expected {self.n_scores}")
        lam = self.power * torch.softmax(z[..., 0], dim=-1)
        h = torch.view_as_complex(g.contiguous())
        d = beam_directions(h, lam, 1.0)
        if self.power_rule == "learned":
            # sqrt(p_k) as exp(log_softmax / 2): finite gradients when a p_k underflows to 0
            amp = math.sqrt(self.power) * torch.exp(0.5 * torch.log_softmax(z[..., 1], dim=-1))
        else:
            amp = torch.sqrt(maxmin_powers(h, d, self.power, 1.0)[0].clamp_min(_EPS))
        w = torch.view_as_real(d * amp.unsqueeze(-1))             # [batch, K, M, 2]
        total = (w ** 2).sum(dim=(-3, -2, -1), keepdim=True)
        w = w * torch.sqrt(self.power / total.clamp_min(1e-30))  # 0 only without channels
        return w.reshape(w.shape[0], -1)

    def extra_repr(self) -> str:
        """``power=..., power_rule=...`` shown in the module's repr."""
        return f"power={self.power}, power_rule={self.power_rule!r}"


@dataclass(frozen=True)
class UserConfig:
    """Options of the ``structured`` family (``NetConfig.graph``); JSON-serializable.

    Attributes
    ----------
    aggregation : ``mean`` (DeepSets) or ``attention`` (softmax weights over the others)
    message_widths : tuple of int, hidden widths of the message MLP (may be empty)

    Example
    -------
    >>> UserConfig.coerce({"aggregation": "attention"}).to_dict()
    {'aggregation': 'attention', 'message_widths': [64]}
    """

    aggregation: str = "mean"
    message_widths: tuple[int, ...] = (64,)

    def __post_init__(self) -> None:
        check_choice("graph.aggregation", self.aggregation, AGGREGATIONS)
        widths = self.message_widths
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
            raise ConfigError(f"graph.message_widths={widths!r} is invalid; expected a list of "
                              "layer widths")
        widths = tuple(check_int(f"graph.message_widths[{i}]", w, 1)
                       for i, w in enumerate(widths))
        object.__setattr__(self, "message_widths", widths)

    def to_dict(self) -> dict:
        """The fields by name (``message_widths`` as a list)."""
        return {"aggregation": self.aggregation, "message_widths": list(self.message_widths)}

    @classmethod
    def coerce(cls, value: Any) -> UserConfig:
        """A UserConfig from itself, a dict of its fields, or None (the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, UserConfig):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"graph={value!r} is invalid; expected a mapping of options of "
                              "the structured family")
        unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"graph.{sorted(unknown)[0]} is not an option of the structured "
                              "family; expected one of "
                              + ", ".join(f.name for f in dataclasses.fields(cls)))
        return cls(**value)


def check_channel_pairs(name: str, x: Any, n_antennas: int) -> tuple[int, int]:
    """Validate channels ``[batch, K, M, 2]`` (real pairs, finite, ``M = n_antennas``);
    return ``(batch, K)``. The error names the field, the value and what is allowed."""
    if not isinstance(x, torch.Tensor):
        raise ConfigError(f"{name}={type(x).__name__} is invalid; expected a torch tensor "
                          "(batch, K, M, 2)")
    if x.dim() != 4 or x.shape[-1] != 2 or x.shape[-2] != n_antennas or x.shape[1] < 1:
        raise ConfigError(f"{name}: shape {tuple(x.shape)} is invalid; expected (batch, K, "
                          f"{n_antennas}, 2): K >= 1 users, M = {n_antennas} antennas, real "
                          "and imaginary parts")
    if not bool(torch.isfinite(x).all()):
        raise ConfigError(f"{name} holds NaN or inf; expected finite channels")
    return x.shape[0], x.shape[1]


N_EDGE = 2
"""Edge features per ordered user pair: normalized correlation and log gain."""


def _edges(g: torch.Tensor) -> torch.Tensor:
    """``g : [batch, K, M, 2]`` -> ``c : [batch, K, K, 2]`` phase-invariant pair features."""
    gr, gi = g[..., 0], g[..., 1]
    re = gr @ gr.transpose(-1, -2) + gi @ gi.transpose(-1, -2)    # Re g_k^H g_j
    im = gr @ gi.transpose(-1, -2) - gi @ gr.transpose(-1, -2)
    cross = re * re + im * im                                      # |g_k^H g_j|^2
    energy = (gr * gr + gi * gi).sum(-1)                           # ||g_k||^2
    corr = cross / (energy.unsqueeze(-1) * energy.unsqueeze(-2) + _EPS)
    return torch.stack([corr, torch.log1p(cross)], dim=-1)


class UserLayer(nn.Module):
    """One message-passing layer over the users, ``e : [batch, K, d_in] -> [batch, K, d_out]``."""

    def __init__(self, d_in: int, d_out: int, config: UserConfig) -> None:
        super().__init__()
        self.aggregation = config.aggregation
        width = (config.message_widths or (d_out,))[-1]
        self.message = relu_mlp((2 * d_in + N_EDGE, *config.message_widths, width))
        self.score = nn.Linear(width, 1) if self.aggregation == "attention" else None
        self.update = relu_mlp((d_in + width, d_out))

    def forward(self, e: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``e : [batch, K, d_in]``, edge features ``c : [batch, K, K, 2]`` ->
        ``[batch, K, d_out]``."""
        batch, k, d = e.shape
        pair = torch.cat([e.unsqueeze(2).expand(batch, k, k, d),
                          e.unsqueeze(1).expand(batch, k, k, d), c], dim=-1)
        msg = self.message(pair)                                   # [batch, K, K, width]
        others = ~torch.eye(k, dtype=torch.bool, device=e.device)  # j != k
        if self.score is None:
            weight = others.to(msg.dtype) / max(k - 1, 1)
            weight = weight.expand(batch, k, k)
        else:
            s = self.score(msg).squeeze(-1).masked_fill(~others, -math.inf)
            weight = torch.softmax(s, dim=-1) if k > 1 else torch.zeros_like(s)
        agg = (weight.unsqueeze(-1) * msg).sum(dim=2)              # [batch, K, width]
        return self.update(torch.cat([e, agg], dim=-1))


class UserFeatures(nn.Module):
    r"""Feature module of the ``structured`` family (module docstring).

    Input
    -----
    widths : ``(2 M, d_1, ..., d_L)``: the per-user channel width and the embedding width
        after the input layer and each message-passing layer (``L = len(widths) - 2``)
    config : :class:`UserConfig` or dict

    Call: ``g : [batch, K, M, 2]`` noise-normalized channels (any K) ->
    ``f : [batch, K, d_L + 2 M]``, ``[e_k, g_k]``.

    Example
    -------
    >>> f = UserFeatures((8, 32, 32))
    >>> f(torch.randn(5, 3, 4, 2)).shape, f(torch.randn(5, 6, 4, 2)).shape
    (torch.Size([5, 3, 40]), torch.Size([5, 6, 40]))
    """

    def __init__(self, widths: Sequence[int], config: UserConfig | Mapping | None = None):
        super().__init__()
        self.widths = tuple(widths)
        if self.widths[0] % 2:
            raise ConfigError(f"feature_widths[0]={self.widths[0]} is invalid for the "
                              "structured family; expected 2 M (real and imaginary parts of "
                              "one user's channel)")
        if len(self.widths) < 2:
            raise ConfigError(f"feature_widths={list(self.widths)} is invalid; expected "
                              "(2 M, d_1, ..., d_L)")
        self.n_antennas = self.widths[0] // 2
        self.config = UserConfig.coerce(config)
        self.embed = relu_mlp((self.widths[0] + 1, self.widths[1]))
        self.layers = nn.ModuleList(
            UserLayer(self.widths[a], self.widths[a + 1], self.config)
            for a in range(1, len(self.widths) - 1))

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        """``g : [batch, K, M, 2]`` -> ``[batch, K, d_L + 2 M]`` (class docstring)."""
        batch, k = check_channel_pairs("x", g, self.n_antennas)
        energy = (g * g).sum(dim=(-2, -1))                          # [batch, K] ||g_k||^2
        rms = torch.sqrt(energy.mean(dim=-1, keepdim=True) / self.n_antennas + _EPS)
        flat = g.reshape(batch, k, -1)
        e = self.embed(torch.cat([flat / rms.unsqueeze(-1),
                                  torch.log(energy + 1e-6).unsqueeze(-1) / 10.0], dim=-1))
        if self.layers:
            c = _edges(g)
            for layer in self.layers:
                e = layer(e, c)
        return torch.cat([e, flat.to(e.dtype)], dim=-1)


class StructuredHead(nn.Module):
    """A head of the ``structured`` family: a per-user MLP ``d_L -> ... -> 2`` on the
    embedding part of the feature layer, then :class:`OptimalBeams` with the channel part.

    Call: ``f : [batch, K, d_L + 2 M]`` -> ``w : [batch, 2 K M]`` on the power sphere.
    The MLP ends in ``OptimalBeams.n_scores`` outputs per user (2, or 1 for
    ``output_params.power_rule='maxmin'``).
    """

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.mlp = relu_mlp(config.widths, last_act=False)
        self.transform = OptimalBeams(**config.output_params)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """See the class docstring."""
        d = self.config.widths[0]
        e, flat = f[..., :d], f[..., d:]
        g = flat.reshape(*flat.shape[:-1], -1, 2)
        return self.transform(self.mlp(e), g)


class UserDecoder(nn.Module):
    """Per-user MLP ``d_L -> ... -> 2 M`` from the embedding part of the feature layer to
    the user's standardized channel.

    Call: ``f : [batch, K, d_L + 2 M]`` -> ``[batch, K, 2 M]``.

    Example
    -------
    >>> UserDecoder((32, 64, 8))(torch.randn(2, 3, 40)).shape
    torch.Size([2, 3, 8])
    """

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.mlp = relu_mlp(self.widths, last_act=False)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """See the class docstring."""
        return self.mlp(f[..., :self.widths[0]])
