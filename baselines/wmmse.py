r"""WMMSE power control for weighted sum-rate (Shi, Razaviyayn, Luo, He 2011), scalar form.

With amplitudes :math:`v_i = \sqrt{p_i}` and channel amplitudes
:math:`h_{ij} = \sqrt{g'_{ij}}`, one WMMSE iteration updates the receiver :math:`u`,
the MSE weight :math:`\omega` and the transmitter :math:`v` in turn:

.. math::

    u_i = \frac{h_{ii} v_i}{\sum_j h_{ij}^2 v_j^2 + \sigma^2}, \qquad
    \omega_i = \frac{1}{1 - u_i h_{ii} v_i}
             = \frac{\sum_j h_{ij}^2 v_j^2 + \sigma^2}{\sum_{j\ne i} h_{ij}^2 v_j^2 + \sigma^2},

.. math::

    v_i = \left[\frac{\alpha_i \omega_i u_i h_{ii}}
                {\sum_j \alpha_j \omega_j u_j^2 h_{ji}^2}\right]_0^{\sqrt{P_i}},

from full power. Each step exactly minimizes the weighted MSE objective
:math:`\sum_i \alpha_i(\omega_i e_i - \log \omega_i)` over one block, whose minimum over
:math:`(u, \omega)` equals :math:`-\sum_i \alpha_i \log(1 + \mathrm{SINR}'_i)` + const,
so the weighted sum-rate never decreases.

**SNR gap.** The rate :math:`\log_2(1 + \mathrm{SINR}_i/\Gamma)` is the rate of the
effective channel :math:`g'` = :math:`g` with its diagonal divided by :math:`\Gamma`
(:math:`\mathrm{SINR}'_i = \mathrm{SINR}_i / \Gamma`). WMMSE runs unchanged on
:math:`g'`, which replaces :math:`g_{ii}` everywhere it appears, the :math:`j = i` terms
of both sums included; the rate-MSE identity :math:`\log(1 + \mathrm{SINR}'_i) =
\log \omega_i` then holds for the gap objective, and so does monotonicity.
The :math:`\omega_i` expression on the right avoids the cancellation in
:math:`1 - u_i h_{ii} v_i` at high SINR.

For scalar power control these iterates coincide with FP's (:mod:`baselines.fp`), the
connection between the FP approach (Lagrangian dual transform, then quadratic transform)
and WMMSE drawn by Shen & Yu, "Fractional Programming for Communication Systems—Part I",
IEEE TSP 66(10), 2018; WMMSE itself: Shi, Razaviyayn, Luo, He, IEEE TSP 59(9), 2011.
``tests/baselines/test_fp.py`` checks that both codes give the same powers after every
iteration, from full power and from random starts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from baselines._common import (
    MAX_ITER,
    PowerSolution,
    SolveResult,
    check_iterations,
    check_problem,
    check_restarts,
    check_tol,
    describe_stopping_rule,
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

@njit(cache=True)
def _wmmse_layout(g, p_max, alpha, x, noise, gap, iterations, tol, hist):
    """Run WMMSE on one layout, in place on ``x``; return (iterations used, status code)."""
    n = g.shape[0]
    g_off = g.copy()  # [n, n] cross gains h_ij^2 (i != j), zero diagonal
    dg = np.empty(n)  # [n] effective direct gains h_ii^2 = g_ii / Gamma
    h = np.empty(n)  # [n] h_ii
    for i in range(n):
        dg[i] = g[i, i] / gap
        h[i] = math.sqrt(dg[i])
        g_off[i, i] = 0.0
    uniform = all_equal(alpha)
    v = np.empty(n)  # transmit amplitudes sqrt(p)
    v_max = np.empty(n)
    p = np.empty(n)
    for i in range(n):
        v[i] = math.sqrt(x[i] * p_max[i])
        v_max[i] = math.sqrt(p_max[i])
        p[i] = v[i] * v[i]
    u = np.empty(n)  # receivers
    omega = np.empty(n)  # MSE weights
    c = np.empty(n)  # alpha_j omega_j u_j^2
    den = np.empty(n)  # sum_j alpha_j omega_j u_j^2 h_ji^2
    interf = np.empty(n)  # sum_{j != i} h_ij^2 v_j^2 + sigma^2
    interference(g_off, p, noise, interf)
    for it in range(iterations):
        for i in range(n):
            total = interf[i] + dg[i] * p[i]
            u[i] = h[i] * v[i] / total
            omega[i] = total / interf[i]  # = 1 / (1 - u_i h_ii v_i), without cancellation
            c[i] = alpha[i] * omega[i] * u[i] * u[i]
            den[i] = c[i] * dg[i]
        for j in range(n):  # row-wise: den_i += alpha_j omega_j u_j^2 h_ji^2
            for i in range(n):
                den[i] += c[j] * g_off[j, i]
        change = 0.0
        for i in range(n):
            num = alpha[i] * omega[i] * u[i] * h[i]
            vi = num / den[i] if num > 0.0 else 0.0 * num  # NaN (overflow) survives
            if vi > v_max[i]:
                vi = v_max[i]
            xi = vi * vi / p_max[i]
            change = max(change, abs(xi - x[i]))
            x[i] = xi
            v[i] = vi
            p[i] = vi * vi
        interference(g_off, p, noise, interf)
        obj = weighted_log2_rates(alpha, dg, p, interf, uniform)
        code = record_iteration(hist, it, obj, change, tol)
        if code != KEEP_GOING:
            return it + 1, code
    return iterations, MAX_ITER


@njit(cache=True, parallel=True)
def _wmmse_kernel(g, p_max, w, x, noise, gap, iterations, tol, hist, used, status):
    for b in prange(g.shape[0]):
        used[b], status[b] = _wmmse_layout(
            g[b], p_max[b], w[b], x[b], noise, gap, iterations, tol, hist[b]
        )


def wmmse(
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
    r"""Scalar WMMSE for weighted sum-rate with SNR gap, batched over layouts in Numba.

    Input
    -----
    g : [batch, n, n], float, linear gains, ``g[b, i, j]`` from tx j to rx i
    p_max_w : float, [n] or [batch, n], per-link power limits in watts
    noise_w : float, noise power :math:`\sigma^2` in watts
    snr_gap_db : float, SNR gap :math:`\Gamma` in dB (>= 0)
    weights : None, [n] or [batch, n], rate weights :math:`\alpha_i` (None: all ones)
    iterations : int, maximum number of WMMSE iterations (default 150)
    tol : float or None, stop a layout once ``max_i |x_i^new - x_i| < tol``
        (``x = p / p_max``; None: always run ``iterations``)
    x0 : None, float, [n] or [batch, n], initial power fractions (None: full power)

    Output
    ------
    PowerSolution with ``x: [batch, n]`` in [0, 1], ``history: [batch, iterations]`` the
    weighted sum-rate in bit/s/Hz after each iteration (non-decreasing), ``iterations``
    and ``status`` per layout

    Example
    -------
    >>> g = np.array([[[1.0, 0.5], [0.5, 1.0]]])
    >>> h = wmmse(g, 1.0, 0.1, iterations=30).history[0]
    >>> bool(np.all(np.diff(h) >= -1e-12))
    True
    """
    return run_power_kernel(_wmmse_kernel, g, p_max_w, noise_w, snr_gap_db, weights,
                            iterations, tol, x0)


WMMSE_OPTIONS = {
    "iterations": (DEFAULT_ITERATIONS, check_iterations),
    "tol": (None, check_tol),
    "restarts": (1, check_restarts),
}


def solve_wmmse(
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> SolveResult:
    """Registry entry ``wmmse``: options ``iterations`` (150), ``tol`` (None), ``restarts`` (1)."""
    opts = take_options("wmmse", options, WMMSE_OPTIONS)
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    sol = best_of_restarts(wmmse, prob.g, prob.p_max_w, prob.noise_w,
                           snr_gap_db=prob.snr_gap_db, weights=prob.weights, seed=seed, **opts)
    rule = describe_stopping_rule("WMMSE", opts["iterations"], opts["tol"], opts["restarts"])
    return to_result("wmmse", prob, sol, "sum-rate", {**opts, "stopping_rule": rule})
