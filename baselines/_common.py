r"""Shared pieces of the power-control solvers: input checks, results, objectives.

Every solver works on a batch of layouts with gains ``g[b, i, j]`` (transmitter j to
receiver i, linear), per-link power limits ``p_max_w[b, i]`` and noise power ``noise_w``,
and optimizes one of

.. math::

    \text{weighted sum-rate:}\ \sum_i w_i \log_2(1 + \mathrm{SINR}_i / \Gamma),
    \qquad
    \text{min-rate:}\ \min_i \log_2(1 + \mathrm{SINR}_i / \Gamma)

in bit/s/Hz (multiply by the bandwidth for bit/s). The rate formulas themselves live in
:mod:`simulators.rates`; the objectives reported here are computed with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from simulators.rates import link_rates_bps
from simulators.units import db_to_lin
from simulators.validation import ConfigError, check_finite, check_int, check_positive

STATUSES = ("optimal", "converged", "max_iter", "failed", "heuristic", "unverified")
"""Per-layout outcome of a solver.

``optimal``: certified global optimum (max-min bisection closed to its tolerance, cvxpy
``optimal``, exhaustive binary search). ``converged``: the iterative method stopped on its
own tolerance, or cvxpy returned ``optimal_inaccurate``. ``max_iter``: the iteration
budget ran out first (FP / WMMSE without a tolerance always end here). ``failed``:
non-finite numbers or a solver error; the powers of that layout are NaN, never a silent
number. ``heuristic``: a closed-form allocation that claims neither optimality nor
convergence (full / random power; MRT, ZF, ZF-WF, RZF beamformers). ``unverified``: no
claim of optimality or convergence (the powers of a trained network, ``wirelessrl
predict``).

Files written before ``heuristic`` existed carry ``converged`` for those methods; they
still load (every name here is accepted when reading).
"""

OPTIMAL, CONVERGED, MAX_ITER, FAILED, HEURISTIC = range(5)
_STATUS_NAMES = np.array(STATUSES)


def status_names(codes: np.ndarray) -> np.ndarray:
    """Map the integer status codes of the kernels to strings from :data:`STATUSES`."""
    return _STATUS_NAMES[np.asarray(codes, dtype=np.int64)]


class PowerSolution(NamedTuple):
    """Output of a low-level solver (``fp``, ``wmmse``, ``maxmin``, heuristics).

    Attributes
    ----------
    x : [batch, n], float, power fractions ``p_i / p_max_i`` in [0, 1] (NaN where failed)
    objective : [batch], float, final objective in bit/s/Hz (weighted sum-rate, or
        min-rate for the max-min solvers), SNR gap included
    history : [batch, iterations] float or None, objective after each iteration; layouts
        that stopped early repeat their last value
    iterations : [batch], int, iterations used (bisection steps for max-min, subsets
        evaluated for the binary search, 0 for closed-form heuristics)
    status : [batch], str, one of :data:`STATUSES`
    """

    x: np.ndarray
    objective: np.ndarray
    history: np.ndarray | None
    iterations: np.ndarray
    status: np.ndarray


@dataclass
class SolveResult:
    """Result of :func:`baselines.solve`.

    Attributes
    ----------
    method : str, registry name of the solver
    p_w : [batch, n], float, transmit powers in watts (NaN on layouts whose status is
        ``failed``)
    status : [batch], str, one of :data:`STATUSES`
    iterations : [batch], int
    objective : [batch], float, final objective in bit/s/Hz with the SNR gap: weighted
        sum-rate, or min-rate for ``maxmin`` / ``maxmin-cvxpy``
    task : str, ``"sum-rate"`` or ``"min-rate"``
    objective_history : [batch, iterations] float or None
    options : dict, the settings used; ``options["stopping_rule"]`` is the text to quote
        beside any "% of <method>" figure (e.g. ``"FP, 150 iterations, 1 start"``)
    """

    method: str
    p_w: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    objective: np.ndarray
    task: str
    objective_history: np.ndarray | None = None
    options: dict = field(default_factory=dict)

    @property
    def ok(self) -> np.ndarray:
        """[batch] bool, True where the status is not ``failed``."""
        return self.status != "failed"


class Problem(NamedTuple):
    """Validated solver input (all arrays float64, C-contiguous)."""

    g: np.ndarray  # [batch, n, n]
    p_max_w: np.ndarray  # [batch, n]
    noise_w: float
    snr_gap_db: float
    gap: float  # linear SNR gap Gamma = db_to_lin(snr_gap_db)
    weights: np.ndarray  # [batch, n]


def _per_link(name: str, value, batch: int, n: int, *, allow_zero: bool) -> np.ndarray:
    """Broadcast a scalar, (n,) or (batch, n) array to (batch, n) and check its entries."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is invalid; expected numbers") from None
    if arr.ndim > 2 or (arr.ndim >= 1 and arr.shape[-1] != n) or (
        arr.ndim == 2 and arr.shape[0] != batch
    ):
        raise ConfigError(
            f"{name} has shape {arr.shape}; expected a scalar, ({n},) or ({batch}, {n}) "
            f"for g of shape ({batch}, {n}, {n})"
        )
    arr = np.ascontiguousarray(np.broadcast_to(arr, (batch, n)), dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0 if allow_zero else arr <= 0)
    if bad.any():
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(
            f"{name}[{idx[0]}, {idx[1]}]={float(arr[idx])!r} is invalid; expected finite values "
            f"{bound}"
        )
    return arr


def check_problem(
    g: ArrayLike, p_max_w: ArrayLike, noise_w: float, snr_gap_db: float = 0.0,
    weights: ArrayLike | None = None,
) -> Problem:
    """Validate a power-control problem once, at the entry of a solver.

    Input
    -----
    g : [batch, n, n], float, linear gains ``g[b, i, j]`` from tx j to rx i; finite,
        >= 0, with a positive diagonal
    p_max_w : float, [n] or [batch, n], per-link power limits in watts, finite, > 0
    noise_w : float, noise power in watts, finite, > 0
    snr_gap_db : float, SNR gap Gamma in dB, finite, >= 0
    weights : None, [n] or [batch, n], rate weights, finite, >= 0, not all zero in a layout

    Output
    ------
    Problem with every array broadcast to ``[batch, n]`` and ``gap`` linear

    Raises
    ------
    ConfigError naming the field, the offending value and the allowed range.
    """
    try:
        g = np.asarray(g, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"g={g!r} is invalid; expected an array of gains") from None
    if g.ndim != 3 or g.shape[1] != g.shape[2] or g.shape[0] < 1 or g.shape[1] < 1:
        hint = "; pass g[None] for a single layout" if g.ndim == 2 else ""
        raise ConfigError(
            f"g has shape {g.shape}; expected (batch, n_links, n_links) with batch >= 1 and "
            f"n_links >= 1{hint}"
        )
    finite = np.isfinite(g)
    if not finite.all():
        idx = tuple(int(k) for k in np.argwhere(~finite)[0])
        raise ConfigError(f"g{list(idx)}={float(g[idx])!r} is invalid; expected finite gains >= 0")
    if (g < 0).any():
        idx = tuple(int(k) for k in np.argwhere(g < 0)[0])
        raise ConfigError(f"g{list(idx)}={float(g[idx])!r} is invalid; expected finite gains >= 0")
    diag = np.diagonal(g, axis1=1, axis2=2)
    if (diag <= 0).any():
        b, i = (int(k) for k in np.argwhere(diag <= 0)[0])
        raise ConfigError(
            f"g[{b}, {i}, {i}]={float(g[b, i, i])!r} is invalid; expected a direct gain "
            f"g[b, i, i] > 0"
        )
    batch, n = g.shape[0], g.shape[1]
    p_max = _per_link("p_max_w", p_max_w, batch, n, allow_zero=False)
    noise = check_positive("noise_w", noise_w)
    gap_db = check_finite("snr_gap_db", snr_gap_db)
    if gap_db < 0:
        raise ConfigError(f"snr_gap_db={snr_gap_db!r} is invalid; expected a number >= 0")
    w = _per_link("weights", 1.0 if weights is None else weights, batch, n, allow_zero=True)
    empty = w.sum(axis=1) <= 0
    if empty.any():
        b = int(np.flatnonzero(empty)[0])
        raise ConfigError(
            f"weights[{b}] are all zero; expected at least one positive weight per layout"
        )
    return Problem(np.ascontiguousarray(g), p_max, noise, gap_db, float(db_to_lin(gap_db)), w)


def weighted_sum_rate(problem: Problem, p_w: np.ndarray) -> np.ndarray:
    """``sum_i w_i log2(1 + SINR_i / Gamma)`` in bit/s/Hz, shape [batch]."""
    rates = link_rates_bps(problem.g, p_w, problem.noise_w, 1.0, problem.snr_gap_db)
    return (problem.weights * rates).sum(axis=1)


def min_rate(problem: Problem, p_w: np.ndarray) -> np.ndarray:
    """``min_i log2(1 + SINR_i / Gamma)`` in bit/s/Hz, shape [batch]."""
    rates = link_rates_bps(problem.g, p_w, problem.noise_w, 1.0, problem.snr_gap_db)
    return rates.min(axis=1)


def finalize(
    problem: Problem, x: np.ndarray, codes: np.ndarray, *, task: str = "sum-rate"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mark non-finite layouts as failed, clip x to [0, 1] and compute the objective.

    A layout fails when its powers or its objective (from :mod:`simulators.rates`) are not
    finite; its ``x`` and objective are then NaN.

    Output
    ------
    x : [batch, n], NaN on failed layouts
    objective : [batch], bit/s/Hz, NaN on failed layouts
    status : [batch], str
    """
    codes = np.array(codes, dtype=np.int64)
    bad = ~np.isfinite(x).all(axis=1)
    codes[bad] = FAILED
    x = np.clip(x, 0.0, 1.0)
    x[codes == FAILED] = np.nan
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        p = x * problem.p_max_w
        obj = weighted_sum_rate(problem, p) if task == "sum-rate" else min_rate(problem, p)
    lost = ~np.isfinite(obj) & (codes != FAILED)  # safety net: no silent NaN / inf
    codes[lost] = FAILED
    x[lost] = np.nan
    obj[codes == FAILED] = np.nan
    return x, obj, status_names(codes)


# -- option checks shared by the registry adapters ------------------------------------


def check_tol(name: str, value: Any, *, low: float = 0.0, high: float = 1.0) -> float | None:
    """``None`` or a number in (low, high]."""
    if value is None:
        return None
    x = check_finite(name, value)
    if not low < x <= high:
        raise ConfigError(f"{name}={value!r} is invalid; expected None or a number in "
                          f"({low:g}, {high:g}]")
    return x


def check_iterations(name: str, value: Any, maximum: int = 10_000_000) -> int:
    """``value`` as an iteration count in [1, maximum], else a :class:`ConfigError`.

    Example
    -------
    >>> check_iterations("iterations", 150.0)
    150
    """
    k = check_int(name, value, 1)
    if k > maximum:
        raise ConfigError(f"{name}={value!r} is invalid; expected an integer in [1, {maximum}]")
    return k


def take_options(
    method: str, options: Mapping[str, Any], spec: Mapping[str, tuple[Any, Callable]]
) -> dict:
    """Check a method's keyword options against ``spec = {name: (default, checker)}``."""
    unknown = sorted(set(options) - set(spec))
    if unknown:
        allowed = ", ".join(spec) if spec else "none"
        raise ConfigError(
            f"option {unknown[0]}={options[unknown[0]]!r} is not used by method {method!r}; "
            f"expected one of: {allowed}"
        )
    return {name: check(name, options.get(name, default))
            for name, (default, check) in spec.items()}


def check_x0(x0: ArrayLike | None, batch: int, n: int) -> np.ndarray:
    """Initial power fractions: None (full power), scalar, (n,) or (batch, n) in [0, 1]."""
    if x0 is None:
        return np.ones((batch, n))
    x = _per_link("x0", x0, batch, n, allow_zero=True)
    if (x > 1).any():
        idx = tuple(int(k) for k in np.argwhere(x > 1)[0])
        raise ConfigError(f"x0[{idx[0]}, {idx[1]}]={float(x[idx])!r} is invalid; expected power "
                          f"fractions in [0, 1]")
    return x


def run_power_kernel(kernel: Callable[..., None], g: ArrayLike, p_max_w: ArrayLike,
                     noise_w: float, snr_gap_db: float, weights: ArrayLike | None,
                     iterations: int, tol: float | None,
                     x0: ArrayLike | None) -> PowerSolution:
    """Validate a weighted sum-rate problem, run a batched Numba ``kernel`` (FP, WMMSE) on
    it and package the result.

    ``kernel(g, p_max, w, x, noise, gap, iterations, tol, hist, used, codes)`` updates the
    power fractions ``x: [batch, n]`` in place and fills ``hist: [batch, iterations]``
    (objective after each iteration), ``used`` and ``codes: [batch]``; ``tol = -1``
    disables the early stop.
    """
    prob = check_problem(g, p_max_w, noise_w, snr_gap_db, weights)
    iterations = check_iterations("iterations", iterations)
    tol = check_tol("tol", tol)
    batch, n = prob.p_max_w.shape
    x = check_x0(x0, batch, n).copy()
    hist = np.empty((batch, iterations))
    used = np.empty(batch, dtype=np.int64)
    codes = np.empty(batch, dtype=np.int64)
    kernel(prob.g, prob.p_max_w, prob.weights, x, prob.noise_w, prob.gap, iterations,
           -1.0 if tol is None else tol, hist, used, codes)
    x, obj, status = finalize(prob, x, codes)
    return PowerSolution(x, obj, hist, used, status)


def per_layout(batch: int, desc: str, unit: str, progress: bool):
    """``range(batch)`` for a solver that works one layout at a time, with a tqdm bar over
    the layouts when ``progress`` (kept when done, unless drawn below a caller's bar)."""
    if not progress:
        return range(batch)
    from tqdm.auto import tqdm

    return tqdm(range(batch), desc=desc, unit=unit, leave=None, dynamic_ncols=True)


def check_restarts(name: str, value: Any) -> int:
    """``value`` as a number of restarts in [1, 10000], else a :class:`ConfigError`."""
    return check_iterations(name, value, maximum=10_000)


def describe_stopping_rule(name: str, iterations: int, tol: float | None, restarts: int) -> str:
    """Stopping-rule text to quote beside a "% of" figure.

    Example: ``describe_stopping_rule("FP", 150, None, 1) == "FP, 150 iterations, 1 start"``.
    """
    if tol is None:
        stop = f"{iterations} iterations"
    else:
        stop = f"tol {tol:g}, max {iterations} iterations"
    starts = "1 start" if restarts == 1 else f"best of {restarts} starts"
    return f"{name}, {stop}, {starts}"


def to_result(
    method: str, problem: Problem, sol: PowerSolution, task: str, options: dict
) -> SolveResult:
    """Wrap a :class:`PowerSolution` as a :class:`SolveResult` with powers in watts."""
    return SolveResult(
        method=method,
        p_w=sol.x * problem.p_max_w,
        status=sol.status,
        iterations=sol.iterations,
        objective=sol.objective,
        task=task,
        objective_history=sol.history,
        options=options,
    )


def make_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """``numpy.random.Generator`` from an integer seed >= 0 (or a Generator, used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, SeedAt):
        return np.random.default_rng(seed.seed)
    return np.random.default_rng(check_int("seed", seed, 0))


@dataclass(frozen=True)
class SeedAt:
    """An integer seed positioned at layout ``first`` of a batch of ``total`` layouts.

    Solvers that draw random numbers per layout (``random``; the restarts of ``fp`` and
    ``wmmse``) draw, for layouts ``first, ..., first + batch - 1`` of a call given
    ``SeedAt(seed, first, total)``, exactly the numbers a single call on all ``total``
    layouts with ``seed`` draws for them. A batch solved in chunks, in any order or on
    several machines, therefore gives the same bytes as one call (PCG64 jumps ahead with
    ``advance``; nothing is drawn and thrown away).

    Example
    -------
    >>> whole = uniform_draws(7, 2, 5, 3)
    >>> part = uniform_draws(SeedAt(7, first=2, total=5), 2, 2, 3)
    >>> bool(np.array_equal(part, whole[:, 2:4]))
    True
    """

    seed: int
    first: int
    total: int

    def __post_init__(self) -> None:
        check_int("seed", self.seed, 0)
        check_int("first", self.first, 0)
        check_int("total", self.total, 1)


def seed_number(seed: int | np.random.Generator | SeedAt) -> int | np.random.Generator:
    """The integer behind a seed (``SeedAt`` unwrapped), for provenance records."""
    return seed.seed if isinstance(seed, SeedAt) else seed


def uniform_draws(seed: int | np.random.Generator | SeedAt, blocks: int, batch: int,
                  n: int) -> np.ndarray:
    """``[blocks, batch, n]`` draws of U[0, 1), the same as
    ``make_rng(seed).random((blocks, batch, n))`` (block-major, then layout, then link).

    With a :class:`SeedAt` the draws are the rows ``first .. first + batch - 1`` of each
    block of the whole batch of ``total`` layouts.
    """
    if not isinstance(seed, SeedAt):
        return make_rng(seed).random((blocks, batch, n))
    if seed.first + batch > seed.total:
        raise ConfigError(
            f"seed covers layouts {seed.first}..{seed.first + batch - 1}; expected at most "
            f"total={seed.total} layouts"
        )
    out = np.empty((blocks, batch, n))
    for r in range(blocks):
        bits = np.random.PCG64(seed.seed)  # what default_rng(seed) builds
        bits.advance((r * seed.total + seed.first) * n)  # one 64-bit output per double
        out[r] = np.random.Generator(bits).random((batch, n))
    return out
