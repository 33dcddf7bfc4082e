r"""Heuristic power allocations and the best-of-K restarts wrapper.

* :func:`full_power`: :math:`p_i = P_i` for every link.
* :func:`random_power`: :math:`p_i = u_i P_i`, :math:`u_i \sim U[0, 1)` i.i.d. from a
  seeded ``numpy.random.Generator``.
* :func:`binary_onoff`: the best on/off allocation :math:`p_i \in \{0, P_i\}` for the
  weighted sum-rate, by exhaustive search over all :math:`2^N` subsets (Numba, batched,
  :math:`N \le 16`): a sum-rate reference for small networks.
* :func:`best_of_restarts`: run FP or WMMSE from full power and from ``restarts - 1``
  random starts and keep, per layout, the run with the best objective.

All objectives are in bit/s/Hz and include the SNR gap :math:`\Gamma`:
:math:`\sum_i w_i \log_2(1 + \mathrm{SINR}_i / \Gamma)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from baselines._common import (
    FAILED,
    HEURISTIC,
    OPTIMAL,
    PowerSolution,
    SolveResult,
    check_problem,
    check_restarts,
    finalize,
    seed_number,
    take_options,
    to_result,
    uniform_draws,
)
from simulators.validation import ConfigError

BINARY_MAX_LINKS = 16
"""Largest network the exhaustive on/off search accepts (2**16 subsets per layout)."""


def full_power(g: ArrayLike, p_max_w: ArrayLike, noise_w: float, *, snr_gap_db: float = 0.0,
               weights: ArrayLike | None = None) -> PowerSolution:
    r"""Every link at its power limit, :math:`p_i = P_i`.

    Input
    -----
    g : [batch, n, n], float, linear gains, ``g[b, i, j]`` from tx j to rx i
    p_max_w : float, [n] or [batch, n], per-link power limits in watts
    noise_w : float, noise power in watts
    snr_gap_db : float, SNR gap in dB; weights : None, [n] or [batch, n]

    Output
    ------
    PowerSolution with ``x = 1``, ``objective`` the weighted sum-rate in bit/s/Hz, status
    ``heuristic`` (no optimality or convergence claimed), 0 iterations

    Example
    -------
    >>> full_power(np.array([[[1.0]]]), 1.0, 1.0).objective
    array([1.])
    """
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    batch, n = prob.p_max_w.shape
    return _closed_form(prob, np.ones((batch, n)))


def random_power(
    g: ArrayLike, p_max_w: ArrayLike, noise_w: float, *, snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None, seed: int | np.random.Generator = 0,
) -> PowerSolution:
    r"""Uniform random powers :math:`p_i = u_i P_i`, :math:`u_i \sim U[0, 1)` i.i.d.

    Input
    -----
    As :func:`full_power`, plus ``seed``: int >= 0, ``numpy.random.Generator`` or
    :class:`~baselines._common.SeedAt` (a chunk of a larger batch). The draws are
    ``rng.random((batch, n))`` in row-major order.

    Output
    ------
    PowerSolution with status ``heuristic`` and 0 iterations

    Example
    -------
    >>> x = random_power(np.ones((2, 3, 3)), 1.0, 1.0, seed=7).x
    >>> bool(np.array_equal(x, np.random.default_rng(7).random((2, 3))))
    True
    """
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    return _closed_form(prob, uniform_draws(seed, 1, *prob.p_max_w.shape)[0])


def _closed_form(prob, x: np.ndarray) -> PowerSolution:
    batch = x.shape[0]
    x, obj, status = finalize(prob, x, np.full(batch, HEURISTIC))
    return PowerSolution(x, obj, None, np.zeros(batch, dtype=np.int64), status)


@njit(cache=True)
def _binary_layout(g, p_max, w, noise, gap, x):
    """Exhaustive on/off search for one layout; writes the best 0/1 vector into x."""
    n = g.shape[0]
    n_sets = 1 << n
    # [2^n, n]: interference (without noise) at each receiver for each subset of active
    # transmitters; built from the subset without its lowest link, so only additions
    cross = np.zeros((n_sets, n))
    best = 0.0  # the empty set: every rate is 0
    best_mask = 0
    for mask in range(1, n_sets):
        low = 0
        while not (mask >> low) & 1:
            low += 1
        parent = mask & (mask - 1)
        obj = 0.0
        for i in range(n):
            c = cross[parent, i]
            if i != low:
                c += g[i, low] * p_max[low]
            cross[mask, i] = c
        for i in range(n):
            if (mask >> i) & 1:
                obj += w[i] * math.log2(1.0 + g[i, i] * p_max[i] / (gap * (cross[mask, i] + noise)))
        if math.isnan(obj):
            return FAILED
        if obj > best:
            best = obj
            best_mask = mask
    for i in range(n):
        x[i] = 1.0 if (best_mask >> i) & 1 else 0.0
    return OPTIMAL if math.isfinite(best) else FAILED


@njit(cache=True, parallel=True)
def _binary_kernel(g, p_max, w, noise, gap, x, status):
    for b in prange(g.shape[0]):
        status[b] = _binary_layout(g[b], p_max[b], w[b], noise, gap, x[b])


def binary_onoff(g: ArrayLike, p_max_w: ArrayLike, noise_w: float, *, snr_gap_db: float = 0.0,
                 weights: ArrayLike | None = None) -> PowerSolution:
    r"""Best on/off power allocation for weighted sum-rate, exhaustive over all subsets.

    .. math::

        \max_{p_i \in \{0, P_i\}} \sum_i w_i \log_2\!\left(1 + \frac{\mathrm{SINR}_i}{\Gamma}\right)

    Numba, ``parallel=True`` over layouts; :math:`O(N\, 2^N)` time and :math:`2^N N`
    floats of scratch per layout. Ties keep the subset with the smallest bit mask.

    Input
    -----
    g : [batch, n, n], float, linear gains with ``n <= 16``
    p_max_w, noise_w, snr_gap_db, weights : as :func:`full_power`

    Output
    ------
    PowerSolution with ``x`` in {0, 1}, status ``optimal`` (global over on/off
    allocations), ``iterations = 2**n`` subsets evaluated

    Example
    -------
    >>> g = np.array([[[1.0, 10.0], [10.0, 1.0]]])  # strong interference: one link on
    >>> binary_onoff(g, 1.0, 0.1).x
    array([[1., 0.]])
    """
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    batch, n = prob.p_max_w.shape
    if n > BINARY_MAX_LINKS:
        raise ConfigError(
            f"n_links={n} is invalid for the exhaustive binary on/off search (2**n_links "
            f"subsets per layout); expected n_links <= {BINARY_MAX_LINKS}"
        )
    x = np.empty((batch, n))
    codes = np.empty(batch, dtype=np.int64)
    _binary_kernel(prob.g, prob.p_max_w, prob.weights, prob.noise_w, prob.gap, x, codes)
    x, obj, status = finalize(prob, x, codes)
    return PowerSolution(x, obj, None, np.full(batch, 1 << n, dtype=np.int64), status)


def best_of_restarts(
    solver: Callable[..., PowerSolution],
    g: ArrayLike,
    p_max_w: ArrayLike,
    noise_w: float,
    *,
    restarts: int = 1,
    seed: int | np.random.Generator = 0,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    **solver_options: Any,
) -> PowerSolution:
    r"""Best of ``restarts`` runs of an iterative sum-rate solver (``fp`` or ``wmmse``).

    Run 0 starts from full power (the solvers' default); runs 1..K-1 start from power
    fractions :math:`1 - u`, :math:`u \sim U[0, 1)` (so never exactly 0, where FP and
    WMMSE would stay), drawn as ``rng.random((restarts - 1, batch, n))``. Per layout the run
    with the largest final objective wins; failed runs never win.

    Input
    -----
    solver : callable with the signature of :func:`baselines.fp.fp` (accepts ``x0``)
    g, p_max_w, noise_w, snr_gap_db, weights : as the solver
    restarts : int >= 1, number of starts (1: full power only, no randomness)
    seed : int >= 0, ``numpy.random.Generator`` or :class:`~baselines._common.SeedAt`
    **solver_options : passed on (``iterations``, ``tol``)

    Output
    ------
    PowerSolution of the winning run per layout (its history, iterations and status)

    Example
    -------
    >>> from baselines.fp import fp
    >>> g = np.array([[[1.0, 0.5], [0.5, 1.0]]])
    >>> sol = best_of_restarts(fp, g, 1.0, 0.1, restarts=3, seed=1, iterations=20)
    >>> sol.x.shape
    (1, 2)
    """
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    restarts = check_restarts("restarts", restarts)
    args = (prob.g, prob.p_max_w, prob.noise_w)
    kwargs = {"snr_gap_db": prob.snr_gap_db, "weights": prob.weights, **solver_options}
    best = solver(*args, **kwargs)
    if restarts == 1:
        return best
    batch, n = prob.p_max_w.shape
    starts = 1.0 - uniform_draws(seed, restarts - 1, batch, n)  # (0, 1]
    x, obj = best.x.copy(), best.objective.copy()
    hist = None if best.history is None else best.history.copy()
    used, status = best.iterations.copy(), best.status.copy()
    score = np.where(status == "failed", -np.inf, obj)
    for x0 in starts:
        run = solver(*args, x0=x0, **kwargs)
        run_score = np.where(run.status == "failed", -np.inf, run.objective)
        win = run_score > score
        score = np.where(win, run_score, score)
        x[win], obj[win], used[win], status[win] = (
            run.x[win], run.objective[win], run.iterations[win], run.status[win]
        )
        if hist is not None:
            hist[win] = run.history[win]
    return PowerSolution(x, obj, hist, used, status)


def solve_full(
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> SolveResult:
    """Registry entry ``full``: no options."""
    take_options("full", options, {})
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    sol = full_power(prob.g, prob.p_max_w, prob.noise_w, snr_gap_db=prob.snr_gap_db,
                     weights=prob.weights)
    return to_result("full", prob, sol, "sum-rate", {"stopping_rule": "full power"})


def solve_random(
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> SolveResult:
    """Registry entry ``random``: no options; ``seed`` drives the draws."""
    take_options("random", options, {})
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    sol = random_power(prob.g, prob.p_max_w, prob.noise_w, snr_gap_db=prob.snr_gap_db,
                       weights=prob.weights, seed=seed)
    seed = seed_number(seed)
    rule = f"uniform random power, seed {seed}"
    return to_result("random", prob, sol, "sum-rate", {"seed": seed, "stopping_rule": rule})


def solve_binary(
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> SolveResult:
    """Registry entry ``binary``: no options."""
    take_options("binary", options, {})
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    sol = binary_onoff(prob.g, prob.p_max_w, prob.noise_w, snr_gap_db=prob.snr_gap_db,
                       weights=prob.weights)
    rule = "exhaustive binary on/off search"
    return to_result("binary", prob, sol, "sum-rate", {"stopping_rule": rule})
