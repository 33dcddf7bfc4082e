r"""Training objectives in torch: one implementation per formula.

D2D power control (SPEC section 2), ``g[b, i, j]`` the gain from transmitter j to
receiver i and ``p_frac = p / P_max`` the power fractions (``x`` is always the network input)::

    SINR_i = g_ii p_i / (sum_{j != i} g_ij p_j + sigma^2)
    r_i    = ln(1 + SINR_i / Gamma)                      (nats, no bandwidth)
    sum-rate loss = -mean_b sum_i w_i r_i,   min-rate loss = -mean_b min_i r_i

These equal :mod:`simulators.rates` (``rate_bps = B r / ln 2``); the tests check it.

Numerics: gains are ~1e-12..1e-7 W/W and sigma^2 = 5e-12 W, so the SINR is computed on
the noise-normalized gains ``g P_max / sigma^2`` (dimensionless), and the interference is
summed over ``j != i`` directly rather than as ``total - direct`` (which cancels
catastrophically when the direct signal dominates). With the noise normalized to 1 every
denominator is >= 1, so no ``eps`` is needed and no NaN can arise from finite inputs.
float32 inputs are computed in float32 (fast; relative error ~1e-7), float64 inputs in
float64; both are tested against the NumPy reference.

A training objective is a callable ``objective(model, batch) -> (loss, metrics)``; build one
with :class:`Objective` from a *task loss* ``task_loss(out, batch) -> (loss, metrics)``
(:data:`TASK_LOSSES`) and, for the source task, a reconstruction weight ``alpha``::

    L = L_task + alpha * L_rec,    L_rec = mean (reconstruction - target)^2

Metrics are batch means (tensors), so the engine averages them over validation chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from simulators.units import db_to_lin
from simulators.validation import (
    ConfigError,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "TASK_LOSSES",
    "Objective",
    "rate_metrics",
    "D2DRateLoss",
    "MRTLoss",
    "BeamformingGainLoss",
    "LocalizationLoss",
    "BCELoss",
    "d2d_sinr",
    "d2d_rates_nats",
    "sum_rate_loss",
    "min_rate_loss",
    "soft_min",
    "reconstruction_mse",
    "combined_loss",
    "uncertainty_weighted",
    "gaussian_kl",
    "nt_xent",
    "LossBalance",
    "as_complex_pairs",
    "mu_miso_sinr",
    "MuMisoRateLoss",
    "mu_miso_rates_nats",
    "beamforming_gain",
    "mrt_beamformer",
    "mrt_mse",
    "localization_mse",
    "localization_error_m",
    "bce_with_logits",
    "task_loss",
]

Metrics = dict[str, torch.Tensor]

# --------------------------------------------------------------------------- D2D


def d2d_sinr(
    g: torch.Tensor, p_frac: torch.Tensor, p_max_w: float = 1.0, noise_w: float = 1.0
) -> torch.Tensor:
    r"""SINR of every link, ``g_ii p_i / (sum_{j != i} g_ij p_j + sigma^2)``, ``p = p_frac P_max``.

    The gains are first normalized by the noise, ``g P_max / sigma^2`` (dimensionless,
    ~0.1..1e5 in the ``paper`` preset), so the denominator is ``1 + interference`` and the
    float32 arithmetic has no tiny or huge intermediates. The computation dtype is the
    promotion of ``g`` and ``p_frac``: float32 for training (relative error ~1e-7, tested
    against :func:`simulators.rates.sinr`), float64 when either input is float64.

    Input
    -----
    g : [batch, n, n], float, linear power gains, ``g[b, i, j]`` from tx j to rx i
    p_frac : [batch, n] or [n], float, power fractions ``p_i / P_max`` in [0, 1]
    p_max_w : float, maximum transmit power in watts
    noise_w : float, noise power sigma^2 in watts

    Output
    ------
    sinr : [batch, n], linear

    Example
    -------
    >>> g = torch.tensor([[[1.0, 0.1], [0.2, 1.0]]])
    >>> d2d_sinr(g, torch.ones(1, 2), 1.0, 0.1)
    tensor([[5.0000, 3.3333]])
    """
    n = g.shape[-1]
    dtype = torch.promote_types(g.dtype, p_frac.dtype)
    # [batch, n, n]: received SNR of every transmitter at every receiver, p = p_frac P_max
    scale = float(p_max_w) / float(noise_w)
    rx = g.to(dtype) * (p_frac.to(dtype) * scale).unsqueeze(-2)
    direct = torch.diagonal(rx, dim1=-2, dim2=-1)  # [batch, n]
    # sum over j != i directly: "total - direct" cancels when the direct link dominates
    off = 1.0 - torch.eye(n, dtype=dtype, device=g.device)
    interference = (rx * off).sum(dim=-1)  # [batch, n]
    return direct / (interference + 1.0)


def d2d_rates_nats(
    g: torch.Tensor,
    p_frac: torch.Tensor,
    p_max_w: float = 1.0,
    noise_w: float = 1.0,
    snr_gap_db: float = 0.0,
) -> torch.Tensor:
    r"""Per-link rates ``ln(1 + SINR_i / Gamma)`` in nats per channel use (no bandwidth).

    Input
    -----
    g : [batch, n, n], float, linear power gains
    p_frac : [batch, n], float, power fractions ``p_i / P_max`` in [0, 1]
    p_max_w, noise_w : float, watts
    snr_gap_db : float >= 0, SNR gap Gamma in dB (as every solver and
        :class:`~simulators.d2d.D2DConfig`; converted to linear here only)

    Output
    ------
    r : [batch, n], nats; ``rate_bps = bandwidth_hz * r / ln 2``

    Example
    -------
    >>> g = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> d2d_rates_nats(g, torch.ones(1, 2), 1.0, 1.0)
    tensor([[0.6931, 0.6931]])
    """
    gap = float(db_to_lin(check_nonnegative("snr_gap_db", snr_gap_db)))  # linear Gamma
    return torch.log1p(d2d_sinr(g, p_frac, p_max_w, noise_w) / gap)


def sum_rate_loss(rates: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    r"""``-mean_b sum_i w_i r_i`` (weights default to 1).

    Input: ``rates : [batch, n]``, ``weights : [batch, n] or [n] or None``.
    Output: scalar tensor.
    """
    if weights is not None:
        rates = rates * weights.to(rates.dtype)
    return -rates.sum(dim=-1).mean()


def soft_min(values: torch.Tensor, temperature: float) -> torch.Tensor:
    r"""Smooth lower bound of the minimum, ``-t ln sum_i exp(-v_i / t)`` (``<= min_i v_i``).

    Every entry gets a gradient (weight ``softmax(-v / t)``), unlike the hard minimum
    whose gradient reaches only the worst link. Tends to ``min`` as ``t -> 0``; the gap is
    at most ``t ln n``.

    Input: ``values : [..., n]``, ``temperature : float > 0`` (same unit as ``values``).
    Output: ``[...]``.
    """
    t = float(temperature)
    return -t * torch.logsumexp(-values / t, dim=-1)


def min_rate_loss(rates: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
    r"""``-mean_b min_i r_i``; with ``temperature`` the :func:`soft_min` replaces ``min``.

    Input: ``rates : [batch, n]`` (nats), ``temperature : float > 0 or None`` (nats).
    Output: scalar tensor.
    """
    if temperature is None:
        return -rates.min(dim=-1).values.mean()
    return -soft_min(rates, temperature).mean()


@dataclass(frozen=True)
class D2DRateLoss:
    r"""Task loss of D2D power control: sum-rate, min-rate or weighted sum-rate.

    The head output is the power fraction ``p_frac : [batch, n]``; the batch holds the gains
    ``batch[gains_key] : [batch, n, n]`` (linear W/W; store them as float32 for fast
    training, float64 for reference precision) and, for
    ``kind="weighted_sum"`` without fixed ``weights``, ``batch[weights_key] : [batch, n]``.

    Attributes
    ----------
    kind : "sum", "min" or "weighted_sum"
    p_max_w, noise_w : float, watts
    snr_gap_db : float >= 0, SNR gap Gamma in dB (the unit of the solvers and of
        :class:`~simulators.d2d.D2DConfig`: pass ``cfg.snr_gap_db``)
    softmin_temperature : float or None, nats; a smooth min for ``kind="min"``
    weights : tuple of float or None, fixed link weights for ``kind="weighted_sum"``

    Output of a call: ``(loss, {"sum_rate_bps_per_hz", "min_rate_bps_per_hz"})``: the loss
    in nats (what is minimized), the metrics the batch means of ``sum_i r_i`` and ``min_i
    r_i`` converted to bit/s/Hz (:func:`rate_metrics`), the unit of every rate outside the
    loss.

    Example
    -------
    >>> loss = D2DRateLoss("min", p_max_w=1.0, noise_w=5e-12)
    >>> g = torch.full((2, 3, 3), 1e-12) + torch.eye(3) * 1e-9
    >>> value, metrics = loss(torch.ones(2, 3), {"g": g})
    >>> bool(value < 0), sorted(metrics)
    (True, ['min_rate_bps_per_hz', 'sum_rate_bps_per_hz'])
    """

    kind: str = "sum"
    p_max_w: float = 1.0
    noise_w: float = 1.0
    snr_gap_db: float = 0.0
    gains_key: str = "g"
    weights_key: str = "w"
    softmin_temperature: float | None = None
    weights: tuple[float, ...] | None = None

    KINDS = ("sum", "min", "weighted_sum")

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, self.KINDS)
        check_positive("p_max_w", self.p_max_w)
        check_positive("noise_w", self.noise_w)
        object.__setattr__(self, "snr_gap_db", check_nonnegative("snr_gap_db",
                                                                  self.snr_gap_db))
        if self.softmin_temperature is not None:
            check_positive("softmin_temperature", self.softmin_temperature)
        if self.weights is not None:
            object.__setattr__(
                self, "weights",
                tuple(check_nonnegative(f"weights[{k}]", w) for k, w in enumerate(self.weights)),
            )

    def rates(self, out: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Per-link rates in nats, ``[batch, n]``."""
        g = batch[self.gains_key]
        if out.shape != g.shape[:-1]:
            raise ConfigError(
                f"power output shape {tuple(out.shape)} does not match gains "
                f"{self.gains_key!r} of shape {tuple(g.shape)}; expected (batch, n)"
            )
        return d2d_rates_nats(g, out, self.p_max_w, self.noise_w, self.snr_gap_db)

    def __call__(
        self, out: torch.Tensor, batch: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, Metrics]:
        r = self.rates(out, batch)
        if self.kind == "sum":
            loss = sum_rate_loss(r)
        elif self.kind == "min":
            loss = min_rate_loss(r, self.softmin_temperature)
        else:
            w = (
                torch.tensor(self.weights, dtype=r.dtype, device=r.device)
                if self.weights is not None
                else batch[self.weights_key]
            )
            loss = sum_rate_loss(r, w)
        return loss, rate_metrics(r)


# --------------------------------------------------------------------------- MISO


def as_complex_pairs(v: torch.Tensor, groups: int | None = None) -> torch.Tensor:
    r"""View complex vectors as real pairs ``[..., n, 2]`` (last axis: real, imaginary).

    Input
    -----
    v : complex ``[..., groups, n]``; or real ``[..., groups, n, 2]`` (returned as is); or
        real flat ``[..., groups * 2 n]`` interleaved ``re_0, im_0, re_1, ...`` with
        ``groups`` given (the layout of the beamforming head)

    Output
    ------
    [..., groups, n, 2], real

    Example
    -------
    >>> as_complex_pairs(torch.zeros(5, 96), groups=3).shape
    torch.Size([5, 3, 16, 2])
    """
    if torch.is_complex(v):
        return torch.view_as_real(v)
    if groups is None:
        if v.shape[-1] != 2:
            raise ConfigError(
                f"real tensor of shape {tuple(v.shape)} is not [..., n, 2]; give groups= "
                "for a flat interleaved layout"
            )
        return v
    groups = check_int("groups", groups, 1)
    if v.shape[-1] % (2 * groups):
        raise ConfigError(
            f"last dimension {v.shape[-1]} is not divisible by 2 * groups = {2 * groups}"
        )
    return v.reshape(*v.shape[:-1], groups, -1, 2)


def beamforming_gain(h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Normalized beamforming gain ``|h^H v|^2 / ||h||^2`` per base station.

    Equals 1 for the MRT beamformer ``v = h / ||h||`` and is below 1 for any other
    unit-norm ``v`` (Cauchy-Schwarz).

    Input
    -----
    h : [batch, n_bs, m, 2] real pairs (or complex [batch, n_bs, m]), channels
    v : [batch, n_bs, m, 2] real pairs (or complex), unit-norm beamformers

    Output
    ------
    gain : [batch, n_bs], linear, in [0, 1] for unit-norm v

    Example
    -------
    >>> h = torch.randn(4, 3, 16, 2)
    >>> torch.allclose(beamforming_gain(h, mrt_beamformer(h)), torch.ones(4, 3))
    True
    """
    h, v = as_complex_pairs(h), as_complex_pairs(v)
    hr, hi = h[..., 0], h[..., 1]
    vr, vi = v[..., 0], v[..., 1]
    # h^H v = sum conj(h) v, [batch, n_bs]
    re = (hr * vr + hi * vi).sum(dim=-1)
    im = (hr * vi - hi * vr).sum(dim=-1)
    h_norm2 = (hr * hr + hi * hi).sum(dim=-1)
    return (re * re + im * im) / h_norm2.clamp_min(torch.finfo(h_norm2.dtype).tiny)


def mrt_beamformer(h: torch.Tensor) -> torch.Tensor:
    r"""Maximum-ratio transmission beamformer ``h_b / ||h_b||`` per base station.

    Input: ``h : [batch, n_bs, m, 2]`` (or complex ``[batch, n_bs, m]``).
    Output: ``[batch, n_bs, m, 2]``, real pairs, unit norm per base station.
    """
    h = as_complex_pairs(h)
    norm = h.pow(2).sum(dim=(-2, -1), keepdim=True).sqrt()
    return h / norm.clamp_min(torch.finfo(h.dtype).tiny)


def mrt_mse(v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    r"""The paper's supervised beamforming loss: ``mean (v - h / ||h||)^2`` over all reals.

    Input: ``v, h : [batch, n_bs, m, 2]`` (or complex). Output: scalar.
    """
    v = as_complex_pairs(v)
    target = mrt_beamformer(h).to(v.dtype)
    return F.mse_loss(v, target)


def localization_mse(pos: torch.Tensor, target_m: torch.Tensor) -> torch.Tensor:
    r"""``mean (pos - target)^2`` over users and coordinates (m^2).

    Input: ``pos, target_m : [batch, 2]`` metres. Output: scalar.
    """
    return F.mse_loss(pos, target_m.to(pos.dtype))


def localization_error_m(pos: torch.Tensor, target_m: torch.Tensor) -> torch.Tensor:
    r"""Euclidean error ``||pos - target||`` in metres, ``[batch]``."""
    return (pos - target_m.to(pos.dtype)).norm(dim=-1)


@dataclass(frozen=True)
class MRTLoss:
    r"""MISO source loss: MSE of the beamformers to MRT (supervised, as in the paper).

    The head output is ``[batch, 2 n_bs m]`` (flat interleaved real pairs, unit norm per
    BS); ``batch[channel_key]`` holds ``h : [batch, n_bs, m, 2]`` or complex
    ``[batch, n_bs, m]``. Metrics: ``bf_gain`` (mean beamforming gain, linear fraction of
    perfect MRT) and ``mrt_mse``.
    """

    n_bs: int = 3
    channel_key: str = "h"
    NONNEGATIVE: ClassVar[bool] = True
    """The loss is >= 0 on every batch (an MSE), so it may carry a learned log-variance
    (:func:`uncertainty_weighted`)."""

    def __post_init__(self) -> None:
        check_int("n_bs", self.n_bs, 1)

    def __call__(self, out, batch):
        v = as_complex_pairs(out, self.n_bs)
        h = batch[self.channel_key]
        loss = mrt_mse(v, h)
        with torch.no_grad():
            metrics = {"bf_gain": beamforming_gain(h, v).mean(), "mrt_mse": loss.detach()}
        return loss, metrics


@dataclass(frozen=True)
class BeamformingGainLoss:
    r"""Unsupervised MISO source loss: ``-mean_{batch, b} |h_b^H v_b|^2 / ||h_b||^2``.

    The normalized beamforming gain of :func:`beamforming_gain` (1 for perfect MRT),
    maximized directly: no MRT labels. Same head layout, channel key and metrics as
    :class:`MRTLoss` (``bf_gain``, ``mrt_mse``).
    """

    n_bs: int = 3
    channel_key: str = "h"

    def __post_init__(self) -> None:
        check_int("n_bs", self.n_bs, 1)

    def __call__(self, out, batch):
        v = as_complex_pairs(out, self.n_bs)
        h = batch[self.channel_key]
        gain = beamforming_gain(h, v).mean()
        with torch.no_grad():
            metrics = {"bf_gain": gain.detach(), "mrt_mse": mrt_mse(v, h)}
        return -gain, metrics


@dataclass(frozen=True)
class LocalizationLoss:
    r"""MISO target loss: MSE of the predicted position ``[batch, 2]`` (m) to
    ``batch[position_key]``. Metrics: ``error_m`` (mean Euclidean error, metres)."""

    position_key: str = "pos"
    NONNEGATIVE: ClassVar[bool] = True
    """An MSE, >= 0 on every batch (see :attr:`MRTLoss.NONNEGATIVE`)."""

    def __call__(self, out, batch):
        target = batch[self.position_key]
        loss = localization_mse(out, target)
        with torch.no_grad():
            metrics = {"error_m": localization_error_m(out, target).mean()}
        return loss, metrics


# --------------------------------------------------------------------------- MNIST


def bce_with_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Binary cross entropy ``-mean [y ln s(z) + (1 - y) ln(1 - s(z))]`` from logits ``z``.

    Input: ``logits : [batch, 1] or [batch]``, ``labels : same number of entries, {0, 1}``.
    Output: scalar (nats).
    """
    logits = logits.reshape(-1)
    return F.binary_cross_entropy_with_logits(logits, labels.reshape(-1).to(logits.dtype))


@dataclass(frozen=True)
class BCELoss:
    r"""Binary classification loss on a logit head; ``batch[label_key]`` in {0, 1}.
    Metrics: ``accuracy`` (fraction, decision ``logit > 0``)."""

    label_key: str = "y"
    NONNEGATIVE: ClassVar[bool] = True
    """A cross entropy, >= 0 on every batch (see :attr:`MRTLoss.NONNEGATIVE`)."""

    def __call__(self, out, batch):
        labels = batch[self.label_key]
        loss = bce_with_logits(out, labels)
        with torch.no_grad():
            pred = out.reshape(-1) > 0
            metrics = {"accuracy": (pred == (labels.reshape(-1) > 0.5)).to(out.dtype).mean()}
        return loss, metrics


# --------------------------------------------------------------------------- combining


def reconstruction_mse(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""``L_rec = mean (reconstruction - target)^2`` over samples and entries.

    Input: ``reconstruction : [batch, ...]`` and ``target : [batch, ...]`` with the same
    number of entries per sample (both flattened; e.g. ``[batch, d]`` from an MLP decoder,
    ``[batch, n, n]`` from the graph decoder), standardized. Output: scalar.
    """
    reconstruction = reconstruction.reshape(reconstruction.shape[0], -1)
    target = target.reshape(target.shape[0], -1).to(reconstruction.dtype)
    if target.shape != reconstruction.shape:
        raise ConfigError(
            f"reconstruction target has {target.shape[-1]} entries per sample; the decoder "
            f"outputs {reconstruction.shape[-1]}"
        )
    return F.mse_loss(reconstruction, target)


# --------------------------------------------------------------------------- multi-user MISO


def mu_miso_sinr(h: torch.Tensor, w: torch.Tensor, noise_w: float = 1.0) -> torch.Tensor:
    r"""Downlink SINR of every user, ``|h_k^H w_k|^2 / (sum_{j != k} |h_k^H w_j|^2 + sigma^2)``.

    The channels are normalized by the noise (``h / sigma``), so the denominator is
    ``1 + interference`` (no ``eps``, no NaN from finite inputs); the interference is
    summed over ``j != k`` directly. The torch twin of :func:`simulators.beamforming.sinr`
    (tested against it).

    Input
    -----
    h : [batch, K, M] complex, or [batch, K, M, 2] real pairs, channels
    w : [batch, K, M] complex, or real pairs, beamformers in sqrt(W)
    noise_w : float, noise power sigma^2 in watts

    Output
    ------
    sinr : [batch, K], real, linear

    Example
    -------
    >>> s = mu_miso_sinr(torch.eye(2, dtype=torch.complex64)[None],
    ...                  torch.tensor([[[2.0, 0], [0, 1.0]]], dtype=torch.complex64), 0.5)
    >>> torch.allclose(s, torch.tensor([[8.0, 2.0]]))
    True
    """
    h, w = as_complex_pairs(h), as_complex_pairs(w)
    dtype = torch.promote_types(h.dtype, w.dtype)
    h = h.to(dtype) / float(noise_w) ** 0.5
    w = w.to(dtype)
    hr, hi, wr, wi = h[..., 0], h[..., 1], w[..., 0], w[..., 1]
    # [batch, K, K]: h_k^H w_j = sum_m conj(h_km) w_jm
    re = hr @ wr.transpose(-1, -2) + hi @ wi.transpose(-1, -2)
    im = hr @ wi.transpose(-1, -2) - hi @ wr.transpose(-1, -2)
    gain = re * re + im * im
    n = gain.shape[-1]
    eye = torch.eye(n, dtype=dtype, device=gain.device)
    direct = torch.diagonal(gain, dim1=-2, dim2=-1)
    return direct / ((gain * (1.0 - eye)).sum(dim=-1) + 1.0)


def mu_miso_rates_nats(h: torch.Tensor, w: torch.Tensor, noise_w: float = 1.0) -> torch.Tensor:
    r"""Per-user rates ``ln(1 + SINR_k)`` in nats (``rate_bps = B r / ln 2``), ``[batch, K]``."""
    return torch.log1p(mu_miso_sinr(h, w, noise_w))


@dataclass(frozen=True)
class MuMisoRateLoss:
    r"""Task loss of multi-user MISO beamforming: negative sum-rate or min-rate.

    The head output is the beamformers of all users as interleaved real pairs
    ``[batch, 2 K M]`` (already on the power sphere: the head ends in the
    ``power_norm`` transform, :class:`wirelessrl.models.PowerNormalization`); the batch
    holds the channels ``batch[channel_key] : [batch, K, M, 2]`` (real pairs, sqrt(W/W)).

    NaN-safe by construction: the SINR is computed on noise-normalized channels, so every
    denominator is ``>= 1`` and ``ln(1 + SINR)`` is finite and differentiable for any
    finite output (also at ``w = 0``); with ``softmin_temperature`` every user gets a
    gradient instead of only the worst one.

    Attributes
    ----------
    kind : "sum" or "min"
    n_users : int, ``K``
    noise_w : float, noise power in watts
    channel_key : str
    softmin_temperature : float or None, nats

    Output of a call: ``(loss, {"sum_rate_bps_per_hz", "min_rate_bps_per_hz"})``, batch means
    in bit/s/Hz (:func:`rate_metrics`).

    Example
    -------
    >>> loss = MuMisoRateLoss("min", n_users=2, noise_w=1.0)
    >>> value, metrics = loss(torch.ones(3, 8), {"h": torch.randn(3, 2, 2, 2)})
    >>> bool(torch.isfinite(value)), sorted(metrics)
    (True, ['min_rate_bps_per_hz', 'sum_rate_bps_per_hz'])
    """

    kind: str = "sum"
    n_users: int = 4
    noise_w: float = 1.0
    channel_key: str = "h"
    softmin_temperature: float | None = None

    KINDS = ("sum", "min")

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, self.KINDS)
        object.__setattr__(self, "n_users", check_int("n_users", self.n_users, 1))
        check_positive("noise_w", self.noise_w)
        if self.softmin_temperature is not None:
            check_positive("softmin_temperature", self.softmin_temperature)

    def rates(self, out: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Per-user rates in nats, ``[batch, K]``."""
        h = as_complex_pairs(batch[self.channel_key])
        w = as_complex_pairs(out, groups=self.n_users)
        if w.shape != h.shape:
            raise ConfigError(
                f"beamformer output of shape {tuple(out.shape)} does not match channels "
                f"{self.channel_key!r} of shape {tuple(h.shape)}; expected (batch, "
                f"2 * {self.n_users} * M)"
            )
        return mu_miso_rates_nats(h, w, self.noise_w)

    def __call__(self, out: torch.Tensor,
                 batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        r = self.rates(out, batch)
        loss = sum_rate_loss(r) if self.kind == "sum" else min_rate_loss(
            r, self.softmin_temperature)
        return loss, rate_metrics(r)


LN2 = math.log(2.0)


def rate_metrics(r_nats: torch.Tensor) -> Metrics:
    """Batch means of the sum and the min of per-user rates, converted from the loss's nats
    to bit/s/Hz at this boundary (every rate outside the loss is in bit/s/Hz or bit/s).

    Input: ``r_nats : [batch, n]``. Output: ``{"sum_rate_bps_per_hz", "min_rate_bps_per_hz"}``
    (detached scalars).

    Example
    -------
    >>> m = rate_metrics(torch.tensor([[math.log(2.0), 3 * math.log(2.0)]]))
    >>> round(float(m["sum_rate_bps_per_hz"]), 6), round(float(m["min_rate_bps_per_hz"]), 6)
    (4.0, 1.0)
    """
    with torch.no_grad():
        return {"sum_rate_bps_per_hz": r_nats.sum(dim=-1).mean() / LN2,
                "min_rate_bps_per_hz": r_nats.min(dim=-1).values.mean() / LN2}


def combined_loss(task: torch.Tensor, rec: torch.Tensor | None, alpha: float) -> torch.Tensor:
    r"""``L = L_task + alpha * L_rec`` (``rec`` ignored when ``alpha == 0``)."""
    if alpha == 0 or rec is None:
        return task
    return task + float(alpha) * rec.to(task.dtype)


def uncertainty_weighted(losses: torch.Tensor, log_variances: torch.Tensor) -> torch.Tensor:
    r"""Losses weighted by learned log-variances (Kendall, Gal and Cipolla, CVPR 2018):

    .. math::  L = \sum_i e^{-s_i} L_i + s_i

    Minimized over ``s_i`` alone, ``s_i = ln L_i`` (weight ``1 / L_i``), so each weight
    follows the inverse of its loss. Only for losses >= 0 (an MSE, a cross entropy): with
    ``L_i < 0`` the sum is unbounded below (``s_i -> -inf``).

    Input
    -----
    losses : [k], float, the loss terms ``L_i`` (each >= 0)
    log_variances : [k], float, the trainable ``s_i``

    Output
    ------
    scalar tensor

    Example
    -------
    >>> float(uncertainty_weighted(torch.tensor([2.0, 0.5]), torch.tensor([0.0, math.log(2)])))
    2.9431471824645996
    """
    s = log_variances.to(losses.dtype)
    return (torch.exp(-s) * losses + s).sum()


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    r"""``KL(N(mu, diag e^v) || N(0, I)) = 1/2 sum_j (mu_j^2 + e^{v_j} - 1 - v_j)`` per vector.

    Input
    -----
    mean, log_variance : [..., d], float, the Gaussian's mean and log-variance (nats)

    Output
    ------
    kl : [...], nats, summed over the last axis (the latent dimensions)

    Example
    -------
    >>> gaussian_kl(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(2.0)]]))
    tensor([0.6534])
    """
    return 0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance).sum(dim=-1)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    r"""InfoNCE / NT-Xent loss of SimCLR (Chen et al., ICML 2020) over a batch of view pairs.

    With the ``2 B`` embeddings ``u = normalize([z1; z2])``, the positive ``p(i)`` of
    anchor ``i`` its other view and ``sim(i, k) = u_i . u_k / tau``:

    .. math::  L = -\frac{1}{2B} \sum_i \ln \frac{e^{sim(i, p(i))}}{\sum_{k \ne i} e^{sim(i, k)}}

    For unrelated embeddings (``sim ~ 0``) ``L ~ ln(2B - 1)``; for identical views and
    orthogonal samples ``L = ln(1 + (2B - 2) e^{-1/tau})``.

    Input
    -----
    z1, z2 : [B, p], float, embeddings of the two views of sample ``b`` (rows ``b``)
    temperature : float > 0, ``tau``

    Output
    ------
    scalar tensor, nats

    Example
    -------
    >>> z = torch.eye(4)
    >>> round(float(nt_xent(z, z, 0.5)), 4) == round(math.log(1 + 6 * math.exp(-2)), 4)
    True
    """
    n = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=-1)                  # [2B, p]
    sim = u @ u.T / float(temperature)                            # [2B, 2B]
    self_pair = torch.eye(2 * n, dtype=torch.bool, device=u.device)
    sim = sim.masked_fill(self_pair, float("-inf"))
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(u.device)
    return F.cross_entropy(sim, positive)


TaskLoss = Callable[[torch.Tensor, Mapping[str, torch.Tensor]], tuple[torch.Tensor, Metrics]]

LossBalance = Callable[[torch.Tensor, torch.Tensor, Mapping[str, torch.Tensor]],
                       tuple[torch.Tensor, Metrics]]
"""``balance(task, rec, model_output) -> (training loss, metrics)``: how the source's task and
reconstruction losses are combined while training (see :mod:`wirelessrl.source_options`)."""


class Objective:
    r"""Training objective ``objective(model, batch) -> (loss, metrics)`` for the engine.

    Runs ``model(batch[input_key], head=head)``, applies the task loss to ``out`` and, with
    ``alpha > 0``, adds ``alpha * reconstruction_mse(reconstruction, batch[reconstruction_key])``.

    The loss returned in evaluation mode (``model.training`` False: validation, tests) is
    always the paper's objective ``L_task + alpha L_rec`` at the fixed ``alpha``. While
    training, a ``balance`` may combine the two terms otherwise (learned weights, a warm-up
    of alpha) and ``beta > 0`` adds ``beta * KL`` of a variational feature layer (the
    model's ``kl`` output, averaged over the batch); validation still reports and selects
    on the fixed objective, and reports ``kl`` beside it.

    Input
    -----
    task_loss : callable ``(out, batch) -> (loss, metrics)``, e.g. :class:`D2DRateLoss`
    head : str or None, the head to run (None: the model's only head)
    input_key : str, the network input in the batch
    alpha : float >= 0, reconstruction weight
    reconstruction_key : str or None, the reconstruction target (required when alpha > 0)
    balance : :data:`LossBalance` or None, the training loss from the task and
        reconstruction terms (needs ``alpha > 0``); None: ``L_task + alpha L_rec``
    beta : float >= 0, weight of the KL term of a variational feature layer

    Output of a call
    ----------------
    loss : scalar tensor (with grad)
    metrics : dict of detached scalar tensors: the task loss's metrics plus ``loss``,
        ``task_loss`` and, with a reconstruction, ``rec_mse`` (and ``kl`` with ``beta > 0``,
        the balance's metrics with a balance)

    Example
    -------
    >>> from wirelessrl.models import TransferNet, d2d_net_config
    >>> net = TransferNet.from_config(d2d_net_config(3))
    >>> obj = Objective(D2DRateLoss("sum"), head="sum_rate", alpha=3.0, reconstruction_key="x")
    >>> batch = {"x": torch.randn(4, 9), "g": torch.rand(4, 3, 3)}
    >>> loss, m = obj(net, batch)
    >>> sorted(m)
    ['loss', 'min_rate_bps_per_hz', 'rec_mse', 'sum_rate_bps_per_hz', 'task_loss']
    """

    def __init__(
        self,
        task_loss: TaskLoss,
        head: str | None = None,
        input_key: str = "x",
        alpha: float = 0.0,
        reconstruction_key: str | None = None,
        balance: LossBalance | None = None,
        beta: float = 0.0,
    ) -> None:
        if not callable(task_loss):
            raise ConfigError(f"task_loss={task_loss!r} is invalid; expected a callable")
        self.task_loss = task_loss
        self.head = head
        self.input_key = input_key
        self.alpha = check_nonnegative("alpha", alpha)
        if self.alpha > 0 and reconstruction_key is None:
            raise ConfigError(
                f"reconstruction_key=None is invalid with alpha={alpha!r}; expected the batch "
                "key of the reconstruction target"
            )
        self.reconstruction_key = reconstruction_key
        if balance is not None and (not callable(balance) or self.alpha == 0):
            raise ConfigError(f"balance={balance!r} is invalid with alpha={alpha!r}; expected "
                              "a callable and alpha > 0 (two losses to balance)")
        self.balance = balance
        self.beta = check_nonnegative("beta", beta)

    def __call__(self, model, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        res = model(batch[self.input_key], head=self.head)
        task, metrics = self.task_loss(res["out"], batch)
        metrics = dict(metrics)
        rec = None
        if self.alpha > 0:
            if "reconstruction" not in res:
                raise ConfigError(
                    f"alpha={self.alpha!r} needs a reconstruction, but the model has no "
                    "decoder; expected decoder_widths in the network config"
                )
            rec = reconstruction_mse(res["reconstruction"], batch[self.reconstruction_key])
            metrics["rec_mse"] = rec.detach()
        loss = combined_loss(task, rec, self.alpha)
        metrics["task_loss"] = task.detach()
        metrics["loss"] = loss.detach()
        if self.balance is None and self.beta == 0:
            return loss, metrics
        train_loss = loss
        if self.balance is not None:
            train_loss, extra = self.balance(task, rec, res)
            metrics.update(extra)
        if self.beta > 0:
            if "kl" not in res:
                raise ConfigError(f"beta={self.beta!r} needs a variational feature layer, but "
                                  "the model returns no kl; expected bottleneck='variational'")
            kl = res["kl"].mean()
            metrics["kl"] = kl.detach()
            train_loss = train_loss + self.beta * kl.to(train_loss.dtype)
        return (train_loss if model.training else loss), metrics

    def __repr__(self) -> str:
        extra = "" if self.balance is None else f", balance={self.balance!r}"
        extra += "" if self.beta == 0 else f", beta={self.beta!r}"
        return (
            f"Objective({self.task_loss!r}, head={self.head!r}, input_key={self.input_key!r}, "
            f"alpha={self.alpha!r}, reconstruction_key={self.reconstruction_key!r}{extra})"
        )


def _d2d(kind: str) -> Callable[..., D2DRateLoss]:
    def make(**params) -> D2DRateLoss:
        return D2DRateLoss(kind=kind, **params)

    make.__doc__ = f"D2D {kind} loss; parameters of :class:`D2DRateLoss`."
    return make


TASK_LOSSES: dict[str, Callable[..., TaskLoss]] = {
    "d2d_sum_rate": _d2d("sum"),
    "d2d_min_rate": _d2d("min"),
    "d2d_weighted_sum_rate": _d2d("weighted_sum"),
    "miso_mrt_mse": MRTLoss,
    "miso_beamforming_gain": BeamformingGainLoss,
    "mu_miso_sum_rate": lambda **p: MuMisoRateLoss(kind="sum", **p),
    "mu_miso_min_rate": lambda **p: MuMisoRateLoss(kind="min", **p),
    "localization_mse": LocalizationLoss,
    "bce": BCELoss,
}
"""Task losses by name; a new task registers its loss here."""


def task_loss(name: str, **params: Any) -> TaskLoss:
    """Build a registered task loss, e.g. ``task_loss("d2d_min_rate", noise_w=5e-12)``.

    ``name`` is a key of :data:`TASK_LOSSES`; an unknown name or a parameter the loss does
    not take is a :class:`ConfigError`.
    """
    check_choice("task loss", name, tuple(TASK_LOSSES))
    try:
        return TASK_LOSSES[name](**params)
    except TypeError as err:
        raise ConfigError(f"task loss {name!r}: {err}") from None

