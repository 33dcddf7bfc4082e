"""Numba helpers shared by the iterative sum-rate kernels (FP, WMMSE)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from baselines._common import CONVERGED, FAILED

_LN2 = math.log(2.0)

KEEP_GOING = -1
"""Code of :func:`record_iteration` for a layout that has not stopped."""


@njit(cache=True, inline="always")
def record_iteration(hist: np.ndarray, it: int, obj: float, change: float,
                     tol: float) -> int:
    """Store iteration ``it``'s objective in ``hist``; return the layout's stopping code:
    ``FAILED`` (objective or change not finite), ``CONVERGED`` (``change < tol``; the rest
    of ``hist`` then holds ``obj``) or :data:`KEEP_GOING`."""
    hist[it] = obj
    if not math.isfinite(obj) or not math.isfinite(change):
        code = FAILED
    elif change < tol:
        code = CONVERGED
    else:
        return KEEP_GOING
    for k in range(it + 1, hist.shape[0]):
        hist[k] = obj
    return code


@njit(cache=True, inline="always")
def interference(g_off: np.ndarray, p: np.ndarray, noise: float, out: np.ndarray) -> None:
    """out_i = sum_{j != i} g_ij p_j + sigma^2, for ``g_off`` with a zero diagonal.

    Input
    -----
    g_off : [n, n], float, linear gains of one layout with the diagonal set to 0
    p : [n], float, transmit powers in watts
    noise : float, noise power sigma^2 in watts
    out : [n], float, written in place: interference plus noise in watts
    """
    n = p.shape[0]
    for i in range(n):
        s = noise
        for j in range(n):
            s += g_off[i, j] * p[j]
        out[i] = s


@njit(cache=True, inline="always")
def all_equal(w: np.ndarray) -> bool:
    """True when every entry of the 1-D array ``w`` equals ``w[0]`` (uniform weights)."""
    for i in range(w.shape[0]):
        if w[i] != w[0]:
            return False
    return True


@njit(cache=True, inline="always")
def weighted_log2_rates(w: np.ndarray, dg: np.ndarray, p: np.ndarray, interf: np.ndarray,
                        uniform: bool) -> float:
    """sum_i w_i log2(1 + dg_i p_i / interf_i), the weighted sum rate in bit/s/Hz.

    ``w``, ``dg`` (direct gains), ``p`` (powers in W) and ``interf`` (interference plus
    noise in W, see :func:`interference`) are ``[n]`` float arrays of one layout.
    With equal weights (``uniform``), one logarithm of a running product replaces the n
    logarithms; the product is flushed before it can overflow.
    """
    n = p.shape[0]
    obj = 0.0
    if uniform:
        prod = 1.0
        for i in range(n):
            factor = 1.0 + dg[i] * p[i] / interf[i]
            if factor > 1e100:
                obj += math.log(factor)
            else:
                prod *= factor
                if prod > 1e200:
                    obj += math.log(prod)
                    prod = 1.0
        return w[0] * (obj + math.log(prod)) / _LN2
    for i in range(n):
        obj += w[i] * math.log(1.0 + dg[i] * p[i] / interf[i])
    return obj / _LN2
