r"""Classical D2D power-control solvers: the reference optima the learned models are scored
against (SPEC section 2). NumPy, Numba and cvxpy; no torch.

Every solver is registered by name in :data:`SOLVERS` and called through :func:`solve`:

==============  ==========  =====================================================
name            task        method
==============  ==========  =====================================================
fp              sum-rate    FP / FPLinQ power update (:mod:`baselines.fp`)
wmmse           sum-rate    scalar WMMSE (:mod:`baselines.wmmse`)
maxmin          min-rate    exact max-min SINR, batched Newton/bisection (:mod:`baselines.maxmin`)
maxmin-cvxpy    min-rate    the same as a cvxpy geometric program, per layout
full            sum-rate    full power (:mod:`baselines.heuristics`)
random          sum-rate    uniform random power, seeded
binary          sum-rate    exhaustive on/off search, n_links <= 16
==============  ==========  =====================================================

The low-level batched functions live in their modules (``from baselines.fp import fp,
fp_numpy``; ``baselines.wmmse.wmmse``; ``baselines.maxmin.maxmin, maxmin_cvxpy``;
``baselines.heuristics.full_power, random_power, binary_onoff, best_of_restarts``); they
are not re-exported here, so ``baselines.fp`` stays the module.

Multi-user MISO downlink beamforming (``h: [batch, K, M]`` complex) has its own registry,
:data:`BEAMFORMING_SOLVERS` with :func:`solve_beamforming` (:mod:`baselines.mu_miso`):
``mrt``, ``zf``, ``zf-wf``, ``rzf``, ``wmmse``, ``maxmin``, ``maxmin-cvxpy``.

Adding a solver: write a module with a function of the registry signature
``(g, *, p_max_w, noise_w, snr_gap_db=0.0, weights=None, seed=0, **options) ->
SolveResult`` and add one line to :data:`SOLVERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from baselines._common import (
    STATUSES,
    PowerSolution,
    SeedAt,
    SolveResult,
    check_problem,
    make_rng,
)
from baselines.fp import solve_fp
from baselines.heuristics import solve_binary, solve_full, solve_random
from baselines.maxmin import solve_maxmin, solve_maxmin_cvxpy
from baselines.mu_miso import BEAMFORMING_SOLVERS, BeamformingResult, solve_beamforming
from baselines.wmmse import solve_wmmse
from simulators.validation import check_choice

SOLVERS: dict[str, Callable[..., SolveResult]] = {
    "fp": solve_fp,
    "wmmse": solve_wmmse,
    "maxmin": solve_maxmin,
    "maxmin-cvxpy": solve_maxmin_cvxpy,
    "full": solve_full,
    "random": solve_random,
    "binary": solve_binary,
}
"""Registry: solver name -> function with the signature of :func:`solve` minus ``method``."""


def solve(
    method: str,
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> SolveResult:
    r"""Solve a batch of D2D power-control problems with a registered method.

    Sum-rate methods maximize :math:`\sum_i w_i \log_2(1 + \mathrm{SINR}_i/\Gamma)`,
    min-rate methods :math:`\min_i \log_2(1 + \mathrm{SINR}_i/\Gamma)`, with
    :math:`\mathrm{SINR}_i = g_{ii} p_i / (\sum_{j\ne i} g_{ij} p_j + \sigma^2)` and
    :math:`0 \le p_i \le P_i`.

    Input
    -----
    method : str, a key of :data:`SOLVERS`
    g : [batch, n, n], float, linear gains, ``g[b, i, j]`` from tx j to rx i; finite,
        >= 0, positive diagonal
    p_max_w : float, [n] or [batch, n], per-link power limits in watts (> 0)
    noise_w : float, noise power :math:`\sigma^2` in watts (> 0)
    snr_gap_db : float, SNR gap :math:`\Gamma` in dB (>= 0)
    weights : None, [n] or [batch, n], rate weights for sum-rate methods (None: ones)
    seed : int >= 0, ``numpy.random.Generator`` or :class:`SeedAt` (a chunk of a larger
        batch: the same draws as the whole batch), for ``random`` and restarts
    **options : method options: ``fp`` / ``wmmse``: ``iterations`` (150), ``tol`` (None),
        ``restarts`` (1); ``maxmin``: ``rtol`` (1e-12), ``max_iter`` (200);
        ``maxmin-cvxpy``: ``solver`` (None)

    Output
    ------
    SolveResult with ``p_w: [batch, n]`` in watts, ``status: [batch]`` from
    ``optimal, converged, max_iter, failed``, ``iterations: [batch]``,
    ``objective: [batch]`` in bit/s/Hz and ``options["stopping_rule"]``

    Raises
    ------
    ConfigError when the method, an input or an option is invalid; the message names the
    field, the value and what is allowed.

    Example
    -------
    >>> from simulators.d2d import D2DConfig, generate_d2d
    >>> cfg = D2DConfig.from_preset("paper")
    >>> data = generate_d2d(cfg, 4, seed=1)
    >>> res = solve("fp", data.g, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w)
    >>> res.p_w.shape, res.options["stopping_rule"]
    ((4, 10), 'FP, 150 iterations, 1 start')
    """
    check_choice("method", method, tuple(SOLVERS))
    make_rng(seed)  # validates the seed for every method
    return SOLVERS[method](g, p_max_w=p_max_w, noise_w=noise_w, snr_gap_db=snr_gap_db,
                           weights=weights, seed=seed, **options)


__all__ = ["BEAMFORMING_SOLVERS", "SOLVERS", "STATUSES", "BeamformingResult", "PowerSolution",
           "SeedAt", "SolveResult", "check_problem", "solve", "solve_beamforming"]
