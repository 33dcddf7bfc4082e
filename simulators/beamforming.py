r"""SINR and rates of multi-user downlink beamforming (NumPy).

For channels ``h[..., k, :]`` (user k's channel vector, length M) and beamformers
``w[..., j, :]`` (the precoder of user j's stream)::

    SINR_k = |h_k^H w_k|^2 / (sum_{j != k} |h_k^H w_j|^2 + sigma^2)
    rate_k = B log2(1 + SINR_k)

This module is the single NumPy definition of these formulas; the torch versions in
:mod:`wirelessrl.objectives` and the solvers in :mod:`baselines.mu_miso` are tested
against it. Leading dimensions broadcast, so many beamformers per channel (``w: [S, n,
K, M]`` against ``h: [n, K, M]``) are evaluated in one call.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simulators.validation import ConfigError


def _as_pair(h: ArrayLike, w: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    h = np.asarray(h)
    w = np.asarray(w)
    if h.ndim < 2 or w.ndim < 2 or h.shape[-2:] != w.shape[-2:]:
        raise ConfigError(
            f"h has shape {h.shape} and w {w.shape}; expected (..., K, M) for both, with the "
            "same K users and M antennas"
        )
    return h.astype(np.complex128, copy=False), w.astype(np.complex128, copy=False)


def gain_matrix(h: ArrayLike, w: ArrayLike) -> np.ndarray:
    """``G[..., k, j] = |h_k^H w_j|^2``, the power of stream j at user k.

    Input
    -----
    h : [..., K, M], complex, channels
    w : [..., K, M], complex, beamformers (broadcast against ``h``)

    Output
    ------
    G : [..., K, K], float

    Example
    -------
    >>> gain_matrix(np.eye(2)[None], np.array([[[1, 1], [0, 2]]]))
    array([[[1., 0.],
            [1., 4.]]])
    """
    h, w = _as_pair(h, w)
    # [..., K, K]: A[k, j] = sum_m conj(h_km) w_jm
    a = np.einsum("...km,...jm->...kj", h.conj(), w)
    return a.real**2 + a.imag**2


def sinr(h: ArrayLike, w: ArrayLike, noise_w: float) -> np.ndarray:
    """SINR of every user, interference summed over ``j != k`` directly.

    Input
    -----
    h : [..., K, M], complex, channels (sqrt of linear gain)
    w : [..., K, M], complex, beamformers in sqrt(W); ``sum_k ||w_k||^2`` is the power
    noise_w : float, noise power sigma^2 in watts

    Output
    ------
    sinr : [..., K], float, linear

    Example
    -------
    Orthogonal users, no interference: ``SINR_k = ||w_k||^2 / sigma^2``.

    >>> sinr(np.eye(2)[None], np.array([[[2.0, 0], [0, 1.0]]]), 0.5)
    array([[8., 2.]])
    """
    g = gain_matrix(h, w)
    direct = np.diagonal(g, axis1=-2, axis2=-1)  # [..., K]
    cross = g.copy()
    np.einsum("...kk->...k", cross)[...] = 0.0
    return direct / (cross.sum(axis=-1) + noise_w)


def user_rates_bps(h: ArrayLike, w: ArrayLike, noise_w: float,
                   bandwidth_hz: float = 1.0) -> np.ndarray:
    """Per-user rates ``B log2(1 + SINR_k)`` in bit/s, shape ``[..., K]`` (B = 1: bit/s/Hz).

    Inputs as :func:`sinr` (``h, w : [..., K, M]`` complex, ``noise_w`` in W).

    Example
    -------
    >>> user_rates_bps(np.eye(2)[None], np.array([[[1.0, 0], [0, 3.0]]]), 1.0).round(4)
    array([[1.    , 3.3219]])
    """
    return bandwidth_hz * np.log1p(sinr(h, w, noise_w)) / np.log(2.0)


def sum_rate_bps(h: ArrayLike, w: ArrayLike, noise_w: float, bandwidth_hz: float = 1.0,
                 weights: ArrayLike | None = None) -> np.ndarray:
    """(Weighted) sum of user rates in bit/s, shape ``[...]``.

    Input
    -----
    h : [..., K, M], complex, channels (sqrt of linear gain)
    w : [..., K, M], complex, beamformers in sqrt(W) (broadcast against ``h``)
    noise_w : float, noise power sigma^2 in watts
    bandwidth_hz : float, B; 1.0 gives bit/s/Hz
    weights : [K] or [..., K], float, or None, per-user rate weights (None: all 1)

    Output
    ------
    rate : [...], float, ``sum_k weights_k B log2(1 + SINR_k)`` in bit/s

    Example
    -------
    >>> sum_rate_bps(np.eye(2)[None], np.array([[[1.0, 0], [0, 1.0]]]), 1.0)
    array([2.])
    """
    r = user_rates_bps(h, w, noise_w, bandwidth_hz)
    if weights is not None:
        r = r * np.asarray(weights, dtype=np.float64)
    return r.sum(axis=-1)


def min_rate_bps(h: ArrayLike, w: ArrayLike, noise_w: float,
                 bandwidth_hz: float = 1.0) -> np.ndarray:
    """Minimum user rate in bit/s, shape ``[...]``."""
    return user_rates_bps(h, w, noise_w, bandwidth_hz).min(axis=-1)


def total_power_w(w: ArrayLike) -> np.ndarray:
    """``sum_k ||w_k||^2`` in watts, shape ``[...]``, of beamformers ``w : [..., K, M]``.

    Example
    -------
    >>> total_power_w(np.array([[[1.0, 0], [0, 3.0j]]]))
    array([10.])
    """
    w = np.asarray(w)
    return (w.real**2 + w.imag**2).sum(axis=(-2, -1))


def antenna_power_w(w: ArrayLike) -> np.ndarray:
    """Power per antenna ``sum_k |w_km|^2`` in watts, shape ``[..., M]``."""
    w = np.asarray(w)
    return (w.real**2 + w.imag**2).sum(axis=-2)


__all__ = ["antenna_power_w", "gain_matrix", "min_rate_bps", "sinr", "sum_rate_bps",
           "total_power_w", "user_rates_bps"]
