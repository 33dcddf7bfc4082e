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

from collections.abc import Callable, Mapping
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
from simulators.d2d import D2DConfig, D2DLayouts
from simulators.validation import ConfigError, check_choice

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
    g: ArrayLike | D2DLayouts,
    *,
    system: D2DConfig | Mapping[str, Any] | None = None,
    p_max_w: ArrayLike | None = None,
    noise_w: float | None = None,
    snr_gap_db: float | None = None,
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
        >= 0, positive diagonal; or a :class:`~simulators.d2d.D2DLayouts` (its gains, and
        its config as ``system``)
    system : :class:`~simulators.d2d.D2DConfig`, a dict of its fields, or None: the power
        limit, noise and SNR gap of the problem (``p_max_w``, ``noise_w``, ``snr_gap_db``
        taken from it; passing one of them as well is allowed only when it agrees)
    p_max_w : float, [n] or [batch, n], per-link power limits in watts (> 0); required
        without ``system``
    noise_w : float, noise power :math:`\sigma^2` in watts (> 0); required without
        ``system``
    snr_gap_db : float, SNR gap :math:`\Gamma` in dB (>= 0; default 0 without ``system``)
    weights : None, [n] or [batch, n], rate weights for sum-rate methods (None: ones)
    seed : int >= 0, ``numpy.random.Generator`` or :class:`SeedAt` (a chunk of a larger
        batch: the same draws as the whole batch), for ``random`` and restarts
    **options : method options: ``fp`` / ``wmmse``: ``iterations`` (150), ``tol`` (None),
        ``restarts`` (1); ``maxmin``: ``rtol`` (1e-12), ``max_iter`` (200);
        ``maxmin-cvxpy``: ``solver`` (None)

    Output
    ------
    SolveResult with ``p_w: [batch, n]`` in watts, ``status: [batch]`` from
    :data:`STATUSES` (``optimal, converged, max_iter, failed, heuristic``),
    ``iterations: [batch]``, ``objective: [batch]`` in bit/s/Hz and
    ``options["stopping_rule"]``

    Raises
    ------
    ConfigError when the method, an input or an option is invalid; the message names the
    field, the value and what is allowed.

    Example
    -------
    >>> from simulators.d2d import D2DConfig, generate_d2d
    >>> cfg = D2DConfig.from_preset("paper")
    >>> data = generate_d2d(cfg, 4, seed=1)
    >>> res = solve("fp", data.g, system=cfg)       # or solve("fp", data)
    >>> res.p_w.shape, res.options["stopping_rule"]
    ((4, 10), 'FP, 150 iterations, 1 start')
    >>> try:
    ...     solve("fp", data.g, system=cfg, noise_w=1e-9)
    ... except ConfigError as err:
    ...     print(str(err)[:49])
    noise_w=1e-09 disagrees with system noise_w=5e-12
    """
    check_choice("method", method, tuple(SOLVERS))
    if isinstance(g, D2DLayouts):
        if system is not None and _as_system(system) != g.config:
            raise ConfigError("system differs from the config of the D2DLayouts given as g; "
                              "expected one of them, or equal configs")
        g, system = g.g, g.config
    p_max_w, noise_w, snr_gap_db = problem_constants(system, p_max_w, noise_w, snr_gap_db)
    make_rng(seed)  # validates the seed for every method
    return SOLVERS[method](g, p_max_w=p_max_w, noise_w=noise_w, snr_gap_db=snr_gap_db,
                           weights=weights, seed=seed, **options)


def _as_system(system: D2DConfig | Mapping[str, Any]) -> D2DConfig:
    if isinstance(system, D2DConfig):
        return system
    if isinstance(system, Mapping):
        try:
            return D2DConfig.from_dict(dict(system))
        except TypeError as err:  # an unknown field name
            raise ConfigError(f"system={dict(system)!r} is invalid ({err}); expected the "
                              "fields of a D2DConfig") from None
    raise ConfigError(f"system={type(system).__name__} is invalid; expected a D2DConfig, a "
                      "dict of its fields or None")


def problem_constants(
    system: D2DConfig | Mapping[str, Any] | None,
    p_max_w: ArrayLike | None = None,
    noise_w: float | None = None,
    snr_gap_db: float | None = None,
) -> tuple[ArrayLike, float, float]:
    """``(p_max_w, noise_w, snr_gap_db)`` of a problem, from ``system`` and/or explicit values.

    With ``system`` (a :class:`~simulators.d2d.D2DConfig` or a dict of its fields) the
    constants come from it, and an explicit value must agree with it (relative tolerance
    1e-9) or :class:`ConfigError` names both; without it ``p_max_w`` and ``noise_w`` are
    required and ``snr_gap_db`` defaults to 0 dB.

    Example
    -------
    >>> problem_constants({"preset": "spatial-2019"})
    (10.0, 6.294627058970857e-14, 6.0)
    """
    if system is None:
        for name, value in (("p_max_w", p_max_w), ("noise_w", noise_w)):
            if value is None:
                raise ConfigError(f"{name} is missing; expected {name}=... or system=<a "
                                  "D2DConfig> (e.g. the config of the data file)")
        return p_max_w, noise_w, 0.0 if snr_gap_db is None else snr_gap_db
    cfg = _as_system(system)
    own = {"p_max_w": (cfg.p_max_w, f"p_max_dbm={cfg.p_max_dbm!r}"),
           "noise_w": (cfg.noise_w, f"noise_dbm_per_hz={cfg.noise_dbm_per_hz!r}, "
                                    f"bandwidth_hz={cfg.bandwidth_hz!r}"),
           "snr_gap_db": (cfg.snr_gap_db, f"snr_gap_db={cfg.snr_gap_db!r}")}
    for name, given in (("p_max_w", p_max_w), ("noise_w", noise_w), ("snr_gap_db", snr_gap_db)):
        if given is None:
            continue
        value, source = own[name]
        if isinstance(given, (str, bytes, bool)):
            raise ConfigError(f"{name}={given!r} is invalid; expected a number (or none, to "
                              "use the system's)")
        try:
            same = bool(np.all(np.isclose(np.asarray(given, dtype=np.float64), value,
                                          rtol=1e-9, atol=0.0 if name != "snr_gap_db" else 1e-12)))
        except (TypeError, ValueError):
            same = False
        if not same:
            raise ConfigError(f"{name}={given!r} disagrees with system {name}={value:.6g} "
                              f"(from {source}); expected the system's value or no {name}")
    return cfg.p_max_w, cfg.noise_w, cfg.snr_gap_db


__all__ = ["BEAMFORMING_SOLVERS", "SOLVERS", "STATUSES", "BeamformingResult", "PowerSolution",
           "SeedAt", "SolveResult", "check_problem", "problem_constants", "solve",
           "solve_beamforming"]
