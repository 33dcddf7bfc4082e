r"""Fractional programming (FP) power control for weighted sum-rate (Shen & Yu, FPLinQ).

Weighted sum-rate with per-link power limits and SNR gap :math:`\Gamma`:

.. math::

    \max_{0 \le p_i \le P_i}\ \sum_i w_i \log_2\!\left(1 + \frac{\mathrm{SINR}_i}{\Gamma}\right),
    \qquad
    \mathrm{SINR}_i = \frac{g_{ii} p_i}{\sum_{j \ne i} g_{ij} p_j + \sigma^2}.

The gap enters as an effective channel :math:`g'` equal to :math:`g` with its diagonal
divided by :math:`\Gamma`, since :math:`\mathrm{SINR}_i/\Gamma` is the SINR of
:math:`g'`. The substitution is made *everywhere* :math:`g_{ii}` appears, including the
:math:`j = i` terms of the total received power in :math:`y_i` and of
:math:`\sum_j g'_{ji} y_j^2`: the quadratic transform pairs the numerator
:math:`A_i = g'_{ii} p_i` with the denominator :math:`A_i + B_i`, and keeping the
physical :math:`g_{ii}` there would optimize a different function (the tests check the
KKT conditions of the gap objective). With :math:`p_i = x_i P_i`, one FP iteration is

.. math::

    z_i &= \frac{g'_{ii} p_i}{\sum_{j\ne i} g'_{ij} p_j + \sigma^2}, \qquad
    y_i = \frac{\sqrt{w_i (1 + z_i)\, g'_{ii} p_i}}{\sum_j g'_{ij} p_j + \sigma^2},\\
    x_i &\leftarrow \min\!\left(1,\ \left(\frac{y_i \sqrt{w_i (1 + z_i)\, g'_{ii} P_i}}
    {P_i \sum_j g'_{ji} y_j^2}\right)^{2}\right),

from :math:`x = 1` (SPEC section 2). The objective never decreases and the limit points
are stationary points (KKT) of the weighted sum-rate. For scalar power control this
update coincides with WMMSE's (:mod:`baselines.wmmse`); the tests check both agree.

:func:`fp` is the batched Numba kernel (``parallel=True`` over layouts), which evaluates
the update in an algebraically equal form without square roots (see
:func:`_fp_layout`); :func:`fp_numpy` is the plain NumPy reference written as above. The
update is multiplicative: a power that reaches 0 stays 0, so starts must be positive to
explore every link. Convergence is linear and can be slow: on `paper` layouts a
tolerance of 1e-13 takes up to ~15,000 iterations, and on `spatial-2019` many layouts
still move after 20,000; the paper's fixed 150 iterations is the default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from baselines._common import (
    CONVERGED,
    FAILED,
    MAX_ITER,
    PowerSolution,
    SolveResult,
    check_iterations,
    check_problem,
    check_restarts,
    check_tol,
    check_x0,
    describe_stopping_rule,
    finalize,
    run_power_kernel,
    take_options,
    to_result,
)
from baselines._kernels import (
    KEEP_GOING,
    all_equal,
    interference,
    record_iteration,
    weighted_log2_rates,
)
from baselines.heuristics import best_of_restarts

DEFAULT_ITERATIONS = 150
"""The method paper's FP budget."""

@njit(cache=True)
def _fp_layout(g, p_max, w, x, noise, gap, iterations, tol, hist):
    """Run FP on one layout in place on ``x``; return (iterations used, status code).

    The SPEC update is evaluated in an equivalent, cheaper form. With the signal
    s_i = g'_ii p_i and interference-plus-noise I_i, y_i^2 = w_i s_i / (I_i (I_i + s_i))
    and y_i^2 w_i (1 + z_i) = w_i^2 s_i / I_i^2, so

        x_i <- min(1, x_i (w_i g'_ii / (I_i d_i))^2),   d_i = sum_j g'_ji y_j^2:

    no square roots; a zero power stays zero, as in the SPEC form. :func:`fp_numpy`
    keeps the SPEC form and the tests check both agree. With equal weights the
    objective takes one logarithm of a product per iteration instead of one per link.
    """
    n = g.shape[0]
    g_off = g.copy()  # [n, n] cross gains, zero diagonal
    dg = np.empty(n)  # [n] effective direct gains g'_ii = g_ii / Gamma
    for i in range(n):
        dg[i] = g[i, i] / gap
        g_off[i, i] = 0.0
    uniform = all_equal(w)
    p = np.empty(n)
    for i in range(n):
        p[i] = x[i] * p_max[i]
    interf = np.empty(n)
    v = np.empty(n)  # y_i^2
    d = np.empty(n)  # sum_j g'_ji y_j^2
    interference(g_off, p, noise, interf)
    for it in range(iterations):
        for i in range(n):
            s = dg[i] * p[i]
            v[i] = w[i] * s / (interf[i] * (interf[i] + s))
            d[i] = dg[i] * v[i]
        for j in range(n):  # row-wise: d_i += g'_ji y_j^2
            for i in range(n):
                d[i] += g_off[j, i] * v[j]
        change = 0.0
        for i in range(n):
            if x[i] == 0.0 or w[i] == 0.0:
                xi = 0.0
            else:
                r = w[i] * dg[i] / (interf[i] * d[i])
                xi = x[i] * r * r
                if xi > 1.0:  # (not min(): a NaN must survive to be reported)
                    xi = 1.0
            change = max(change, abs(xi - x[i]))
            x[i] = xi
            p[i] = xi * p_max[i]
        interference(g_off, p, noise, interf)
        obj = weighted_log2_rates(w, dg, p, interf, uniform)
        code = record_iteration(hist, it, obj, change, tol)
        if code != KEEP_GOING:
            return it + 1, code
    return iterations, MAX_ITER


@njit(cache=True, parallel=True)
def _fp_kernel(g, p_max, w, x, noise, gap, iterations, tol, hist, used, status):
    for b in prange(g.shape[0]):
        used[b], status[b] = _fp_layout(
            g[b], p_max[b], w[b], x[b], noise, gap, iterations, tol, hist[b]
        )


def fp(
    g: ArrayLike,
    p_max_w: ArrayLike,
    noise_w: float,
    *,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    iterations: int = DEFAULT_ITERATIONS,
    tol: float | None = None,
    x0: ArrayLike | None = None,
) -> PowerSolution:
    r"""FP (FPLinQ power update) for weighted sum-rate, batched over layouts in Numba.

    Input
    -----
    g : [batch, n, n], float, linear gains, ``g[b, i, j]`` from tx j to rx i
    p_max_w : float, [n] or [batch, n], per-link power limits in watts
    noise_w : float, noise power :math:`\sigma^2` in watts
    snr_gap_db : float, SNR gap :math:`\Gamma` in dB (>= 0)
    weights : None, [n] or [batch, n], rate weights :math:`w_i` (None: all ones)
    iterations : int, maximum number of FP updates (default 150, the paper's)
    tol : float or None, stop a layout once ``max_i |x_i^new - x_i| < tol``
        (None: always run ``iterations``)
    x0 : None, float, [n] or [batch, n], initial power fractions (None: full power)

    Output
    ------
    PowerSolution with ``x: [batch, n]`` power fractions in [0, 1],
    ``history: [batch, iterations]`` weighted sum-rate in bit/s/Hz after each update,
    ``iterations: [batch]`` and ``status: [batch]`` (``converged`` / ``max_iter`` /
    ``failed``)

    Example
    -------
    >>> g = np.array([[[1e-9, 1e-11], [2e-11, 1e-9]]])
    >>> sol = fp(g, 1.0, 5e-12)
    >>> sol.x.round(3), sol.status.tolist()
    (array([[1., 1.]]), ['max_iter'])
    """
    return run_power_kernel(_fp_kernel, g, p_max_w, noise_w, snr_gap_db, weights,
                            iterations, tol, x0)


def fp_numpy(
    g: ArrayLike,
    p_max_w: ArrayLike,
    noise_w: float,
    *,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    iterations: int = DEFAULT_ITERATIONS,
    tol: float | None = None,
    x0: ArrayLike | None = None,
) -> PowerSolution:
    """Plain batched NumPy FP: the reference for :func:`fp` (same inputs and outputs).

    Layouts that meet ``tol`` are frozen while the others keep iterating.

    Example
    -------
    >>> g = np.array([[[1e-9, 1e-11], [2e-11, 1e-9]]])
    >>> bool(np.allclose(fp_numpy(g, 1.0, 5e-12).x, fp(g, 1.0, 5e-12).x, atol=1e-9))
    True
    """
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    iterations = check_iterations("iterations", iterations)
    tol = check_tol("tol", tol)
    batch, n = prob.p_max_w.shape
    w, p_max, noise = prob.weights, prob.p_max_w, prob.noise_w
    eye = np.eye(n, dtype=bool)
    dg = np.diagonal(prob.g, axis1=1, axis2=2) / prob.gap  # [batch, n] effective g'_ii
    g_off = np.where(eye, 0.0, prob.g)  # [batch, n, n] cross gains, zero diagonal

    def sinr_terms(p):
        interf = np.einsum("bij,bj->bi", g_off, p) + noise  # [batch, n]
        return interf, dg * p / interf

    x = check_x0(x0, batch, n).copy()
    hist = np.empty((batch, iterations))
    used = np.full(batch, iterations, dtype=np.int64)
    codes = np.full(batch, MAX_ITER, dtype=np.int64)
    active = np.ones(batch, dtype=bool)
    p = x * p_max
    interf, z = sinr_terms(p)
    for it in range(iterations):
        y = np.sqrt(w * (1.0 + z) * dg * p) / (interf + dg * p)  # [batch, n]
        y2 = y * y
        d = np.einsum("bji,bj->bi", g_off, y2) + dg * y2  # [batch, n] sum_j g'_ji y_j^2
        with np.errstate(divide="ignore", invalid="ignore"):
            a = y * np.sqrt(w * (1.0 + z) * dg * p_max) / (p_max * d)
        x_new = np.where(y > 0.0, np.minimum(1.0, a * a), 0.0 * y)  # NaN survives
        change = np.abs(x_new - x).max(axis=1)
        x = np.where(active[:, None], x_new, x)
        p = x * p_max
        interf, z = sinr_terms(p)
        obj = (w * np.log2(1.0 + z)).sum(axis=1)
        hist[:, it] = np.where(active, obj, hist[:, it - 1] if it else obj)
        failed = active & ~(np.isfinite(obj) & np.isfinite(change))
        done = active & ~failed & (change < (-1.0 if tol is None else tol))
        for mask, code in ((failed, FAILED), (done, CONVERGED)):
            codes[mask] = code
            used[mask] = it + 1
        active &= ~(failed | done)
        if not active.any():
            hist[:, it + 1:] = hist[:, it:it + 1]
            break
    x, obj, status = finalize(prob, x, codes)
    return PowerSolution(x, obj, hist, used, status)


FP_OPTIONS = {
    "iterations": (DEFAULT_ITERATIONS, check_iterations),
    "tol": (None, check_tol),
    "restarts": (1, check_restarts),
}


def solve_fp(
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> SolveResult:
    """Registry entry ``fp``: options ``iterations`` (150), ``tol`` (None), ``restarts`` (1)."""
    opts = take_options("fp", options, FP_OPTIONS)
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    sol = best_of_restarts(fp, prob.g, prob.p_max_w, prob.noise_w, snr_gap_db=prob.snr_gap_db,
                           weights=prob.weights, seed=seed, **opts)
    rule = describe_stopping_rule("FP", opts["iterations"], opts["tol"], opts["restarts"])
    return to_result("fp", prob, sol, "sum-rate", {**opts, "stopping_rule": rule})
