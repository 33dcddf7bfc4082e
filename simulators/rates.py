r"""SINR and achievable rates of D2D power control (NumPy).

For gains ``g[b, i, j]`` (transmitter j to receiver i) and powers ``p[b, i]`` in watts::

    SINR_i = g_ii p_i / (sum_{j != i} g_ij p_j + sigma^2)
    rate_i = B log2(1 + SINR_i / Gamma)

This module is the single NumPy definition of these formulas; the torch objectives in
:mod:`wirelessrl.objectives` are tested against it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from simulators.units import db_to_lin


def sinr(g: ArrayLike, p_w: ArrayLike, noise_w: float) -> np.ndarray:
    """Signal-to-interference-plus-noise ratio of every link.

    Input
    -----
    g : [batch, n, n], float, linear channel power gains, ``g[b, i, j]`` from tx j to rx i
    p_w : [batch, n] or [n], float, transmit powers in watts
    noise_w : float, noise power sigma^2 in watts

    Output
    ------
    sinr : [batch, n], float, linear

    Example
    -------
    >>> g = np.array([[[1.0, 0.1], [0.2, 1.0]]])
    >>> sinr(g, np.array([[1.0, 1.0]]), 0.1).round(3)
    array([[5.   , 3.333]])
    """
    g = np.asarray(g, dtype=np.float64)
    p = np.broadcast_to(np.asarray(p_w, dtype=np.float64), g.shape[:-1])
    direct = np.diagonal(g, axis1=-2, axis2=-1) * p  # [batch, n]
    # [batch, n]: interference summed over j != i directly; "total - direct" cancels when the
    # direct signal dominates (relative error ~1e-16 * direct / noise, 1e-4 at 60 dBm)
    cross = g.copy()
    np.einsum("...ii->...i", cross)[...] = 0.0
    interference = np.einsum("...ij,...j->...i", cross, p)
    return direct / (interference + noise_w)


def link_rates_bps(
    g: ArrayLike, p_w: ArrayLike, noise_w: float, bandwidth_hz: float, snr_gap_db: float = 0.0
) -> np.ndarray:
    """Per-link rates ``B log2(1 + SINR / Gamma)`` in bit/s, shape ``[batch, n]``.

    Inputs as :func:`sum_rate_bps`: ``g : [batch, n, n]`` linear gains, ``p_w`` powers in
    W, ``noise_w`` in W, ``bandwidth_hz`` in Hz, ``snr_gap_db`` in dB.

    Example
    -------
    >>> g = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> link_rates_bps(g, np.array([[1.0, 3.0]]), 1.0, 1e6)
    array([[1000000., 2000000.]])
    """
    gap = db_to_lin(snr_gap_db)
    # log1p: exact for weak links too (1 + x rounds to 1 below x ~ 1e-16)
    return bandwidth_hz * np.log1p(sinr(g, p_w, noise_w) / gap) / np.log(2.0)


def sum_rate_bps(g: ArrayLike, p_w: ArrayLike, noise_w: float, bandwidth_hz: float,
                 snr_gap_db: float = 0.0, weights: ArrayLike | None = None) -> np.ndarray:
    """(Weighted) sum of link rates in bit/s, shape ``[batch]``.

    Input
    -----
    g : [batch, n, n], float, linear power gains, ``g[b, i, j]`` from tx j to rx i
    p_w : [batch, n] or [n], float, transmit powers in watts
    noise_w : float, noise power sigma^2 in watts
    bandwidth_hz : float, B in Hz (1.0 gives bit/s/Hz)
    snr_gap_db : float, SNR gap Gamma in dB
    weights : [n] or [batch, n], float, or None, per-link rate weights (None: all 1)

    Output
    ------
    rate : [batch], float, ``sum_i weights_i B log2(1 + SINR_i / Gamma)`` in bit/s

    Example
    -------
    >>> g = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> sum_rate_bps(g, np.array([[1.0, 3.0]]), 1.0, 1.0)
    array([3.])
    """
    r = link_rates_bps(g, p_w, noise_w, bandwidth_hz, snr_gap_db)
    if weights is not None:
        r = r * np.asarray(weights, dtype=np.float64)
    return r.sum(axis=-1)


def min_rate_bps(g: ArrayLike, p_w: ArrayLike, noise_w: float, bandwidth_hz: float,
                 snr_gap_db: float = 0.0) -> np.ndarray:
    """Minimum link rate in bit/s, shape ``[batch]``."""
    return link_rates_bps(g, p_w, noise_w, bandwidth_hz, snr_gap_db).min(axis=-1)
