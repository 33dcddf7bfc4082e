r"""Exact max-min SINR power control: batched Numba solver and a cvxpy GP reference.

.. math::

    t^\star = \max_{t,\ 0 \le p \le P}\ t
    \quad \text{s.t.} \quad
    \frac{g_{ii} p_i}{\sum_{j\ne i} g_{ij} p_j + \sigma^2} \ge t \quad \forall i.

Since :math:`\log_2(1 + t/\Gamma)` is increasing in :math:`t`, the same powers maximize
the minimum rate for every SNR gap :math:`\Gamma`; only the reported rate changes.

**Feasibility of a target** :math:`t`. With :math:`F_{ij} = g_{ij}/g_{ii}`
(:math:`j \ne i`, :math:`F_{ii} = 0`) and :math:`u_i = \sigma^2 / g_{ii}`, SINR
:math:`\ge t` for all links reads :math:`(I - tF)p \ge t u`. A target is achievable with
some :math:`p \ge 0` iff :math:`M = I - tF` is a nonsingular M-matrix
(:math:`\rho(tF) < 1`); the least powers are then :math:`p(t) = t M^{-1} u > 0`, and
:math:`t` is feasible iff :math:`p(t) \le P`. For a Z-matrix, being a nonsingular
M-matrix is equivalent to all pivots of Gaussian elimination *without pivoting* being
positive, so one elimination (:math:`N^3/3` flops, only additions of like-signed terms
apart from the pivots) both tests :math:`\rho(tF) < 1` and returns :math:`p(t)`.

**Search.** :math:`p(t)` increases with :math:`t`, so feasibility is monotone and
:math:`t^\star` is the root of :math:`\max_k p_k(t)/P_k = 1`. It is bracketed by
:math:`t_{lo}` = the minimum SINR at full power (achievable) and :math:`t_{hi}` = the
smaller of :math:`\min_i g_{ii} P_i / \sigma^2` (no interference) and
:math:`1 / \min_i \sum_j F_{ij} \ge 1/\rho(F)`, and the bracket is shrunk by a
safeguarded Newton-type iteration (bisection on :math:`\log t` whenever a step would leave
the bracket or :math:`I - tF` is not an M-matrix):

* every trial :math:`t` updates the bracket by its feasibility;
* the trial's powers rescaled to the limit, :math:`\hat p = p(t) / \max_k(p_k/P_k)`,
  are feasible with one link at its limit, so :math:`\min_i \mathrm{SINR}_i(\hat p) \le
  t^\star \le \max_i \mathrm{SINR}_i(\hat p)` (the lower bound alone is Krause's /
  Yates' normalized fixed-point step);
* the derivative is one extra triangular solve, :math:`dp/dt = M^{-1} p / t`; for the
  link :math:`k` nearest its limit, the model :math:`p_k(t) \approx a t / (1 - b t)`
  matched in value and elasticity :math:`E` gives the next trial
  :math:`t E / (E - 1 + p_k/P_k)` (exact when noise-limited and, unlike a plain
  Newton step, modelling the pole of :math:`p(t)` at :math:`1/\rho(F)`); trials aim a
  quarter of ``rtol`` beside this estimate so that the bracket closes (7-9
  factorizations on average on the presets).

The bracket closes to relative width ``rtol`` (default 1e-12), so the minimum SINR is
within ``rtol`` of :math:`t^\star`. The best feasible vector found is then polished with
a few normalized fixed-point steps (:func:`_refine`), which equalize the SINRs (to
~1e-13 on `paper`, ~1e-10 on `spatial-2019`) without lowering the minimum and keep at
least one link at its limit -- the known structure of the optimum (Zander 1992; Cai,
Quek, Tan, Low, IEEE TSP 2012, where :math:`1/t^\star = \max_k \rho(F + u e_k^T / P_k)`;
the tests check this identity).
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from baselines._common import (
    CONVERGED,
    FAILED,
    MAX_ITER,
    OPTIMAL,
    PowerSolution,
    SolveResult,
    check_iterations,
    check_problem,
    check_tol,
    finalize,
    per_layout,
    take_options,
    to_result,
)
from simulators.validation import ConfigError

DEFAULT_RTOL = 1e-12
DEFAULT_MAX_ITER = 200
_FEAS_SLACK = 1.0 + 1e-13  # p_i <= P_i up to rounding of t * u_i at the optimum
_REFINE_STEPS = 100


@njit(cache=True)
def _least_powers(f, u, t, m, p):
    """p(t) = t (I - tF)^{-1} u into ``p``, LU factors of I - tF into ``m``.

    Gaussian elimination without pivoting; returns False as soon as a pivot is not
    positive (then I - tF is not a nonsingular M-matrix: rho(tF) >= 1, t infeasible).
    The multipliers are kept below the diagonal of ``m`` for :func:`_lu_solve`.
    """
    n = f.shape[0]
    for i in range(n):
        for j in range(n):
            m[i, j] = -t * f[i, j]
        m[i, i] = 1.0
        p[i] = t * u[i]
    for k in range(n):
        piv = m[k, k]
        if not piv > 0.0:  # also catches NaN
            return False
        for i in range(k + 1, n):
            r = m[i, k] / piv
            m[i, k] = r
            if r != 0.0:
                for j in range(k + 1, n):
                    m[i, j] -= r * m[k, j]
                p[i] -= r * p[k]
    for i in range(n - 1, -1, -1):
        s = p[i]
        for j in range(i + 1, n):
            s -= m[i, j] * p[j]
        p[i] = s / m[i, i]
    return True


@njit(cache=True)
def _lu_solve(m, b, out):
    """Solve (I - tF) out = b with the factors left in ``m`` by :func:`_least_powers`."""
    n = m.shape[0]
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= m[i, j] * out[j]
        out[i] = s
    for i in range(n - 1, -1, -1):
        s = out[i]
        for j in range(i + 1, n):
            s -= m[i, j] * out[j]
        out[i] = s / m[i, i]


@njit(cache=True, inline="always")
def _scale_to_limit(p, p_max, x):
    """x = p / (p_max * max_k(p_k / p_max_k)): the largest multiple of p within the limits."""
    n = p.shape[0]
    c = 0.0
    for k in range(n):
        c = max(c, p[k] / p_max[k])
    for k in range(n):
        x[k] = p[k] / (c * p_max[k])


@njit(cache=True, inline="always")
def _sinr_range(g, x, p_max, noise):
    """(min_i, max_i) of SINR_i at powers x * p_max; NaN propagates to the minimum."""
    n = g.shape[0]
    lo = np.inf
    hi = 0.0
    for i in range(n):
        s = noise
        for j in range(n):
            if j != i:
                s += g[i, j] * x[j] * p_max[j]
        r = g[i, i] * x[i] * p_max[i] / s
        if not r >= lo:
            lo = r
        hi = max(hi, r)
    return lo, hi


@njit(cache=True, inline="always")
def _min_sinr(g, x, p_max, noise):
    return _sinr_range(g, x, p_max, noise)[0]


@njit(cache=True)
def _maxmin_layout(g, p_max, noise, rtol, max_iter, x):
    """Max-min SINR for one layout; writes power fractions into x; returns (steps, code)."""
    n = g.shape[0]
    f = np.zeros((n, n))  # [n, n] normalized cross gains F_ij = g_ij / g_ii
    u = np.empty(n)  # [n] normalized noise sigma^2 / g_ii
    for i in range(n):
        u[i] = noise / g[i, i]
        for j in range(n):
            if j != i:
                f[i, j] = g[i, j] / g[i, i]
    m = np.empty((n, n))
    p = np.empty(n)
    dp = np.empty(n)
    trial = np.empty(n)
    for i in range(n):
        x[i] = 1.0
    lo = _min_sinr(g, x, p_max, noise)  # full power achieves its own min SINR
    best = lo
    hi = np.inf  # t* <= g_ii P_i / sigma^2 (no interference) and t* <= 1 / rho(F)
    row_min = np.inf  # rho(F) >= min_i sum_j F_ij
    for i in range(n):
        hi = min(hi, g[i, i] * p_max[i] / noise)
        row = 0.0
        for j in range(n):
            row += f[i, j]
        row_min = min(row_min, row)
    if row_min > 0.0:
        hi = min(hi, 1.0 / row_min)
    if not (lo > 0.0 and math.isfinite(hi)):
        return 0, FAILED
    t = lo  # start from below: p(t) exists there and Newton's step is informative
    steps = 0
    code = OPTIMAL
    while True:
        if steps >= max_iter:
            code = MAX_ITER
            break
        steps += 1
        target = -1.0  # next trial point from Newton's step; -1: bisect
        if _least_powers(f, u, t, m, p):
            c = 0.0
            k = 0
            for i in range(n):
                if p[i] / p_max[i] > c:
                    c = p[i] / p_max[i]
                    k = i
            if c <= _FEAS_SLACK:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
            # q = p / c is within the limits with link k at its limit: its min SINR is a
            # lower bound on t*, its max SINR an upper bound (a = max_i q_i / p*_i >= 1
            # since q_k = P_k >= p*_k; at the argmax m, q <= a p* and q_m = a p*_m give
            # SINR_m(q) >= SINR_m(p*) >= t*)
            for i in range(n):
                trial[i] = min(1.0, p[i] / (c * p_max[i]))
            got, top = _sinr_range(g, trial, p_max, noise)
            if got >= best:
                best = got
                for i in range(n):
                    x[i] = trial[i]
            lo = max(lo, min(got, hi))
            hi = max(lo, min(hi, top))
            # Newton-type step for p_k(t) = P_k with the elasticity
            # E = t p_k'(t) / p_k = (M^{-1} p)_k / p_k  (dp/dt = M^{-1} p / t): the model
            # p_k(t) ~ a t / (1 - b t), matched in value and elasticity at t, has its
            # root at t E / (E - 1 + c). It is exact when noise-limited (E = 1: t / c)
            # and keeps the pole of p(t) at t = 1 / rho(F) that a plain Newton step
            # from far below would jump past.
            _lu_solve(m, p, dp)
            slope = dp[k] / p[k]
            if slope > 0.0 and math.isfinite(slope):
                root = t * slope / (slope - 1.0 + c)
                # aim a quarter-tolerance below the root estimate, or above it when the
                # lower end is already there: either closes the bracket once the
                # estimate is accurate
                target = root * (1.0 - 0.25 * rtol)
                if target <= lo:
                    target = root * (1.0 + 0.25 * rtol)
        else:
            hi = min(hi, t)
        if hi <= lo * (1.0 + rtol):
            break
        if target > lo and target < hi:
            t = target
        elif 0.0 < target <= lo:
            # the rescaled trial vector already lifted the lower end past the estimate:
            # continue from just above it (feasible: Newton from there; else done)
            t = lo * (1.0 + 0.5 * rtol)
        else:
            t = lo * math.sqrt(hi / lo)
            if not lo < t < hi:  # bracket at floating-point resolution
                break
    _refine(f, u, p_max, x, p, trial)
    return steps, code


@njit(cache=True)
def _refine(f, u, p_max, x, p, r):
    """Krause's normalized fixed-point map p <- (Fp + u) / max_k((Fp + u)_k / P_k).

    Its fixed point is the optimum (equal SINRs, one link at its limit); it contracts at
    the rate of the spectral gap, independently of how sensitive p(t) is to t, so a few
    steps equalize the SINRs to ~1e-13 where the rescaled bisection point may differ by
    up to ~1e-6 (interference-limited layouts). An iterate replaces x only if its min SINR
    is not lower (up to 1e-14 relative rounding).
    """
    n = f.shape[0]
    for k in range(n):
        p[k] = x[k] * p_max[k]
    best = -1.0
    for _ in range(_REFINE_STEPS):
        c = 0.0
        lo = np.inf
        hi = 0.0
        for i in range(n):
            s = u[i]
            for j in range(n):
                s += f[i, j] * p[j]
            r[i] = s
            c = max(c, s / p_max[i])
            q = p[i] / s  # SINR_i of p
            lo = min(lo, q)
            hi = max(hi, q)
        if not lo == lo:  # NaN: keep what x holds
            return
        if lo >= best * (1.0 - 1e-14):  # min SINR not worse (up to rounding): take it
            best = max(best, lo)
            for k in range(n):
                x[k] = min(1.0, p[k] / p_max[k])
            if hi <= lo * (1.0 + 1e-13):
                return
        for k in range(n):
            p[k] = r[k] / c


@njit(cache=True, parallel=True)
def _maxmin_kernel(g, p_max, noise, rtol, max_iter, x, steps, status):
    for b in prange(g.shape[0]):
        steps[b], status[b] = _maxmin_layout(g[b], p_max[b], noise, rtol, max_iter, x[b])


def maxmin(
    g: ArrayLike,
    p_max_w: ArrayLike,
    noise_w: float,
    *,
    snr_gap_db: float = 0.0,
    rtol: float = DEFAULT_RTOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> PowerSolution:
    r"""Exact max-min SINR power control, batched over layouts (Numba, ``parallel=True``).

    Input
    -----
    g : [batch, n, n], float, linear gains, ``g[b, i, j]`` from tx j to rx i
    p_max_w : float, [n] or [batch, n], per-link power limits in watts
    noise_w : float, noise power :math:`\sigma^2` in watts
    snr_gap_db : float, SNR gap in dB; changes only the reported min-rate
    rtol : float in [1e-14, 1e-2], relative width at which the bracket on :math:`t` is
        closed
    max_iter : int, trial points (factorizations) allowed per layout

    Output
    ------
    PowerSolution with ``x: [batch, n]`` power fractions (max of each row is 1),
    ``objective: [batch]`` the min-rate :math:`\min_i \log_2(1 + \mathrm{SINR}_i/\Gamma)` in
    bit/s/Hz, ``history`` None, ``iterations`` the trial points (LU factorizations),
    ``status`` ``optimal`` (bracket closed), ``max_iter`` or ``failed``

    Example
    -------
    Two links, link 2 at its limit: :math:`0.04 t^2 + 0.1 t - 1 = 0`, :math:`t^\star = 3.903882`.

    >>> from simulators.rates import sinr
    >>> g = np.array([[[1.0, 0.1], [0.2, 1.0]]])
    >>> sol = maxmin(g, 1.0, 0.1)
    >>> sinr(g, sol.x, 0.1).round(6), sol.x.round(6)
    (array([[3.903882, 3.903882]]), array([[0.780776, 1.      ]]))
    """
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db)
    rtol = _check_rtol(rtol)
    max_iter = check_iterations("max_iter", max_iter, maximum=100_000)
    batch, n = prob.p_max_w.shape
    x = np.empty((batch, n))
    steps = np.empty(batch, dtype=np.int64)
    codes = np.empty(batch, dtype=np.int64)
    _maxmin_kernel(prob.g, prob.p_max_w, prob.noise_w, rtol, max_iter, x, steps, codes)
    x, obj, status = finalize(prob, x, codes, task="min-rate")
    return PowerSolution(x, obj, None, steps, status)


def _check_rtol(value) -> float:
    rtol = check_tol("rtol", value, low=0.0, high=1e-2)
    if rtol is None or rtol < 1e-14:
        raise ConfigError(f"rtol={value!r} is invalid; expected a number in [1e-14, 0.01]")
    return rtol


# -- cvxpy geometric-program reference ------------------------------------------------


class GPSolution(NamedTuple):
    """One layout solved by :func:`maxmin_cvxpy`.

    Attributes
    ----------
    p_w : [n], float, powers in watts (NaN unless status is optimal / converged)
    min_sinr : float, the optimal t reported by the solver (NaN on failure)
    status : str, ``optimal``, ``converged`` (cvxpy ``optimal_inaccurate``) or ``failed``
    solver_status : str, cvxpy's own status (or the exception text)
    """

    p_w: np.ndarray
    min_sinr: float
    status: str
    solver_status: str


_DPP_MAX_LINKS = 24
"""Up to this size the GP is compiled once with parameters and re-solved (DPP); cvxpy's
parametrized compile grows steeply with n (about 0.5 GB at n = 30), so larger problems
are built from constants on every call."""


@functools.lru_cache(maxsize=4)
def _maxmin_gp_cached(n: int, links: bytes):
    """:func:`_maxmin_gp` with cvxpy parameters, cached per (n, interference pattern)."""
    import cvxpy as cp
    coupled = np.frombuffer(links, dtype=np.uint8).reshape(n, n)
    g = cp.Parameter((n, n), pos=True, name="g")
    p_max = cp.Parameter(n, pos=True, name="p_max")
    sigma2 = cp.Parameter(pos=True, name="sigma2")
    return (*_maxmin_gp(n, coupled, g, p_max, sigma2), g, p_max, sigma2)


def _maxmin_gp(n: int, coupled: np.ndarray, g, p_max, sigma2):
    """The max-min GP; ``g``, ``p_max``, ``sigma2`` are cvxpy parameters or constants.

    ``coupled[i, j]`` is True where ``g[i, j] > 0`` (``i != j``): a GP has no zero
    coefficients, so absent interference terms are left out of the posynomial.
    """
    import cvxpy as cp
    p = cp.Variable(n, pos=True, name="p")
    t = cp.Variable(pos=True, name="t")
    constraints = [p <= p_max]
    for i in range(n):
        interference = sigma2 + sum(g[i, j] * p[j] for j in range(n) if j != i and coupled[i, j])
        constraints.append(t * interference <= g[i, i] * p[i])  # SINR_i >= t
    return cp.Problem(cp.Maximize(t), constraints), p, t


def maxmin_cvxpy(g_one: ArrayLike, p_max: ArrayLike, noise: float, *,
                 solver: str | None = None) -> GPSolution:
    r"""Max-min SINR of one layout as a cvxpy geometric program (``gp=True``).

    .. math::

        \max_{t, p > 0}\ t \quad \text{s.t.}\quad
        t \Big(\sum_{j \ne i} g_{ij} p_j + \sigma^2\Big) \le g_{ii} p_i,\quad p_i \le P_i.

    For ``n <= 24`` the problem is built once per ``(n, interference pattern)`` with cvxpy
    parameters and re-solved with new values (DPP), which removes most of cvxpy's compile
    time; larger problems are built from constants on each call.

    Input
    -----
    g_one : [n, n], float, linear gains of one layout
    p_max : float or [n], power limits in watts
    noise : float, noise power in watts
    solver : str or None, cvxpy solver name (None: cvxpy's default for exponential cones)

    Output
    ------
    GPSolution (powers, optimal t, status); the solver status is checked, never ignored

    Example
    -------
    >>> sol = maxmin_cvxpy(np.array([[1.0, 0.1], [0.2, 1.0]]), 1.0, 0.1)
    >>> sol.status, round(sol.min_sinr, 4)
    ('optimal', 3.9039)
    """
    import cvxpy as cp  # imported here: ``import baselines`` stays fast (cvxpy takes ~2 s)

    prob = check_problem(np.asarray(g_one, dtype=np.float64)[None], p_max, noise)
    g_one = prob.g[0]
    n = g_one.shape[0]
    coupled = (g_one > 0) & ~np.eye(n, dtype=bool)
    if n <= _DPP_MAX_LINKS:
        problem, p, t, g, p_max_par, sigma2 = _maxmin_gp_cached(
            n, coupled.astype(np.uint8).tobytes()
        )
        g.value = np.where(coupled | np.eye(n, dtype=bool), g_one, 1.0)  # 1.0: unused
        p_max_par.value = prob.p_max_w[0]
        sigma2.value = prob.noise_w
    else:
        problem, p, t = _maxmin_gp(n, coupled, g_one, prob.p_max_w[0], prob.noise_w)
    try:
        with warnings.catch_warnings():  # "may be inaccurate": surfaced in the status
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(gp=True, solver=solver)
    except cp.SolverError as exc:
        return GPSolution(np.full(n, np.nan), float("nan"), "failed", f"SolverError: {exc}")
    raw = str(problem.status)
    status = {cp.OPTIMAL: "optimal", cp.OPTIMAL_INACCURATE: "converged"}.get(raw, "failed")
    if status == "failed" or p.value is None or not np.all(np.isfinite(p.value)):
        return GPSolution(np.full(n, np.nan), float("nan"), "failed", raw)
    return GPSolution(np.minimum(np.asarray(p.value, dtype=np.float64), prob.p_max_w[0]),
                      float(t.value), status, raw)


# -- registry entries ------------------------------------------------------------------

MAXMIN_OPTIONS = {
    "rtol": (DEFAULT_RTOL, lambda name, v: _check_rtol(v)),
    "max_iter": (DEFAULT_MAX_ITER, lambda name, v: check_iterations(name, v, 100_000)),
}


def _reject_weights(method: str, weights) -> None:
    if weights is not None:
        raise ConfigError(
            f"weights are not used by method {method!r} (max-min SINR is unweighted); "
            f"expected weights=None"
        )


def solve_maxmin(
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    **options: Any,
) -> SolveResult:
    """Registry entry ``maxmin``: options ``rtol`` (1e-12), ``max_iter`` (200)."""
    _reject_weights("maxmin", weights)
    opts = take_options("maxmin", options, MAXMIN_OPTIONS)
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db)
    sol = maxmin(prob.g, prob.p_max_w, prob.noise_w, snr_gap_db=prob.snr_gap_db, **opts)
    rule = f"max-min bisection, rtol {opts['rtol']:g}"
    return to_result("maxmin", prob, sol, "min-rate", {**opts, "stopping_rule": rule})


def solve_maxmin_cvxpy(
    g: ArrayLike,
    *,
    p_max_w: ArrayLike,
    noise_w: float,
    snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
    seed: int | np.random.Generator = 0,
    progress: bool = False,
    **options: Any,
) -> SolveResult:
    """Registry entry ``maxmin-cvxpy``: option ``solver`` (None: cvxpy's default);
    ``progress``: a tqdm bar over the layouts (not an option: it changes no result)."""
    _reject_weights("maxmin-cvxpy", weights)
    opts = take_options("maxmin-cvxpy", options, {"solver": (None, _check_solver)})
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db)
    batch, n = prob.p_max_w.shape
    x = np.empty((batch, n))
    codes = np.empty(batch, dtype=np.int64)
    code_of = {"optimal": OPTIMAL, "converged": CONVERGED, "failed": FAILED}
    for b in per_layout(batch, "maxmin-cvxpy", "layout", progress):
        sol = maxmin_cvxpy(prob.g[b], prob.p_max_w[b], prob.noise_w, solver=opts["solver"])
        x[b] = sol.p_w / prob.p_max_w[b]
        codes[b] = code_of[sol.status]
    x, obj, status = finalize(prob, x, codes, task="min-rate")
    result = PowerSolution(x, obj, None, np.zeros(batch, dtype=np.int64), status)
    rule = f"cvxpy GP ({opts['solver'] or 'default solver'}), per layout"
    return to_result("maxmin-cvxpy", prob, result, "min-rate", {**opts, "stopping_rule": rule})


def _check_solver(name: str, value):
    import cvxpy as cp

    if value is None:
        return None
    installed = cp.installed_solvers()
    if value not in installed:
        raise ConfigError(f"{name}={value!r} is invalid; expected None or one of "
                          f"{', '.join(installed)}")
    return value

