r"""Multi-user MISO downlink beamforming: linear precoders, WMMSE and exact max-min SINR.

One BS with ``M`` antennas serves ``K`` single-antenna users; ``h[b, k]`` is user k's
channel (length M) and ``w[b, k]`` the beamformer of its stream, with

.. math::

    \mathrm{SINR}_k = \frac{|h_k^H w_k|^2}{\sum_{j \ne k} |h_k^H w_j|^2 + \sigma^2},
    \qquad \sum_k \lVert w_k \rVert^2 \le P

(or ``sum_k |w_km|^2 <= P / M`` per antenna for WMMSE's ``per-antenna`` option). The
formulas themselves live in :mod:`simulators.beamforming`; every objective reported here is
computed with it. All solvers are batched over samples.

==============  ==========  ==========================================================
name            task        method
==============  ==========  ==========================================================
mrt             sum-rate    maximum ratio transmission, equal power
zf              sum-rate    zero forcing ``H^H (H H^H)^{-1}``, unit columns, equal power
zf-wf           sum-rate    zero forcing with water-filling power over the ZF channels
rzf             sum-rate    regularized ZF ``H^H (H H^H + K sigma^2 / P I)^{-1}``, scaled
wmmse           sum-rate    WMMSE (Shi, Razaviyayn, Luo, He 2011), Numba, monotone
maxmin          min-rate    exact max-min SINR by uplink-downlink duality, Numba
maxmin-cvxpy    min-rate    SOCP bisection (Wiesel, Eldar, Shamai 2006), cvxpy, per sample
==============  ==========  ==========================================================

**WMMSE.** With receivers ``u_k``, MSE weights ``v_k`` and rate weights ``alpha_k``, one
iteration sets ``u_k = (h_k^H w_k)^* / T_k`` (``T_k = sum_j |h_k^H w_j|^2 + sigma^2``),
``v_k = T_k / (T_k - |h_k^H w_k|^2)`` and then minimizes the quadratic
``sum_k w_k^H A w_k - 2 Re b_k^H w_k`` with ``A = sum_k alpha_k v_k |u_k|^2 h_k h_k^H``,
``b_k = alpha_k v_k u_k^* h_k`` over the power constraint. For the total power the
minimizer is ``w_k = (A + mu I)^{-1} b_k`` with the Lagrange multiplier ``mu >= 0``
found by bisection on ``sum_m phi_m / (lambda_m + mu)^2 = P`` in the eigenbasis of ``A``
(so the power is ``P`` to rounding, exactly as in Shi et al.); ``mu = 0`` when the
minimum-norm unconstrained minimizer already fits. For per-antenna limits the same
quadratic is minimized by exact cyclic minimization over the rows of ``W`` (antenna m's
row is the unconstrained row minimizer projected onto the ball ``P / M``), a fixed number
of sweeps per iteration. Both steps never increase the WMMSE objective, whose minimum over
``(u, v)`` is minus the weighted sum-rate plus a constant: the rate never decreases.

**Max-min SINR** (exact). By uplink-downlink duality (Schubert, Boche 2004) the downlink
optimum equals that of the dual uplink with powers ``q`` (``sum q = P``) and MMSE
receivers, whose SINRs are ``q_k s_k(q)``, ``s_k = h_k^H (sigma^2 I + sum_{j != k} q_j
h_j h_j^H)^{-1} h_k``. The normalized fixed point ``q <- P I(q) / sum I(q)``, ``I_k =
1 / s_k`` (Cai, Quek, Tan 2011; a concave standard interference function) converges
geometrically to the balanced optimum, and at every iterate ``min_k q_k s_k <= gamma* <=
max_k q_k s_k`` (the scalability of ``I``), so the solver stops with a certified bracket
of relative width ``rtol``. The downlink beams are the normalized MMSE receivers; their
powers solve ``(diag(G_kk) / gamma - G_off) p = sigma^2 1`` with ``gamma`` bisected
until ``sum p = P``, which equalizes all downlink SINRs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numba import njit, prange
from numpy.typing import ArrayLike

from baselines._common import (
    CONVERGED,
    FAILED,
    HEURISTIC,
    MAX_ITER,
    OPTIMAL,
    STATUSES,
    check_iterations,
    check_restarts,
    check_tol,
    make_rng,
    per_layout,
    status_names,
    take_options,
)
from simulators.beamforming import min_rate_bps, sinr, sum_rate_bps
from simulators.validation import ConfigError, check_choice, check_finite, check_positive

POWER_CONSTRAINTS = ("total", "per-antenna")
INITS = ("auto", "mrt", "zf", "random")
"""WMMSE starts; ``auto`` is ``zf`` when ``K <= M``, else ``mrt``."""


# --------------------------------------------------------------------------------------
# Problem and result
# --------------------------------------------------------------------------------------


class BeamformingProblem(NamedTuple):
    """Validated input (C-contiguous complex128 / float64)."""

    h: np.ndarray  # [batch, K, M] complex
    p_max_w: np.ndarray  # [batch]
    noise_w: float
    weights: np.ndarray  # [batch, K]


@dataclass
class BeamformingResult:
    """Result of :func:`solve_beamforming`.

    Attributes
    ----------
    method : str, registry name
    w : [batch, K, M], complex, beamformers in sqrt(W) (NaN on ``failed`` samples)
    status : [batch], str, one of :data:`STATUSES`
    iterations : [batch], int
    objective : [batch], float, bit/s/Hz: weighted sum-rate, or min-rate for max-min
    task : str, ``"sum-rate"`` or ``"min-rate"``
    objective_history : [batch, iterations] float or None (WMMSE: the best start's)
    options : dict, settings used; ``options["stopping_rule"]`` is the text to quote
        beside any "% of <method>" figure
    uplink_powers_w : [batch, K] float or None; ``maxmin``: the dual uplink powers ``q``
        (W, ``sum q = P``) whose MMSE receivers are the beam directions (NaN on ``failed``)
    """

    method: str
    w: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    objective: np.ndarray
    task: str
    objective_history: np.ndarray | None = None
    options: dict = field(default_factory=dict)
    uplink_powers_w: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        """[batch], bool, False on ``failed`` samples (whose ``w`` is NaN)."""
        return self.status != "failed"


def check_beamforming_problem(h: ArrayLike, p_max_w: ArrayLike, noise_w: float,
                              weights: ArrayLike | None = None) -> BeamformingProblem:
    """Validate a downlink beamforming problem once, at the entry of a solver.

    Input
    -----
    h : [batch, K, M], complex, finite channels, no user with an all-zero channel
    p_max_w : float or [batch], total transmit power in watts, finite, > 0
    noise_w : float, noise power in watts, finite, > 0
    weights : None, [K] or [batch, K], rate weights >= 0, not all zero in a sample

    Raises
    ------
    ConfigError naming the field, the offending value and the allowed range.
    """
    if isinstance(h, (str, bytes)):
        raise ConfigError(f"h={h!r} is invalid; expected a complex array (batch, K, M)")
    try:
        h = np.asarray(h)
        h = h.astype(np.complex128)
    except (TypeError, ValueError):
        raise ConfigError("h is invalid; expected a complex array (batch, K, M)") from None
    if h.ndim != 3 or min(h.shape) < 1:
        hint = "; pass h[None] for a single sample" if h.ndim == 2 else ""
        raise ConfigError(
            f"h has shape {h.shape}; expected (batch, n_users, n_antennas) with every size "
            f">= 1{hint}"
        )
    finite = np.isfinite(h)
    if not finite.all():
        idx = tuple(int(k) for k in np.argwhere(~finite)[0])
        raise ConfigError(f"h{list(idx)}={complex(h[idx])!r} is invalid; expected finite "
                          "channel coefficients")
    with np.errstate(over="ignore"):
        norms = (h.real**2 + h.imag**2).sum(axis=-1)
    if (norms <= 0).any():
        b, k = (int(x) for x in np.argwhere(norms <= 0)[0])
        raise ConfigError(f"h[{b}, {k}] has ||h_k||^2 = 0; expected every user to have a "
                          "channel with ||h_k||^2 > 0 (in float64)")
    batch, n_users, _ = h.shape
    p_max = _per_sample_power(p_max_w, batch)
    noise = check_positive("noise_w", noise_w)
    if weights is None:
        w = np.ones((batch, n_users))
    else:
        try:
            w = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"weights={weights!r} is invalid; expected numbers") from None
        if w.ndim > 2 or (w.ndim >= 1 and w.shape[-1] != n_users) or (
                w.ndim == 2 and w.shape[0] != batch):
            raise ConfigError(f"weights has shape {w.shape}; expected ({n_users},) or "
                              f"({batch}, {n_users})")
        w = np.array(np.broadcast_to(w, (batch, n_users)))  # a writable copy
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise ConfigError("weights hold negative or non-finite values; expected finite "
                              "values >= 0")
        if (w.sum(axis=1) <= 0).any():
            b = int(np.flatnonzero(w.sum(axis=1) <= 0)[0])
            raise ConfigError(f"weights[{b}] are all zero; expected at least one positive "
                              "weight per sample")
    return BeamformingProblem(np.ascontiguousarray(h), p_max, noise, w)


def _per_sample_power(value, batch: int) -> np.ndarray:
    if isinstance(value, (str, bytes)):
        raise ConfigError(f"p_max_w={value!r} is invalid; expected a number > 0 in watts")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"p_max_w={value!r} is invalid; expected a number > 0") from None
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != batch):
        raise ConfigError(f"p_max_w has shape {arr.shape}; expected a scalar or ({batch},)")
    arr = np.array(np.broadcast_to(arr, (batch,)))  # a writable copy (numba: one signature)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        b = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"p_max_w={float(arr[b])!r} is invalid; expected a finite power > 0 "
                          "in watts")
    return arr


def _require_zf(method: str, n_users: int, n_antennas: int) -> None:
    if n_users > n_antennas:
        raise ConfigError(
            f"n_users={n_users} > n_antennas={n_antennas}: {method} needs n_users <= "
            "n_antennas (zero forcing cannot null more users than antennas)"
        )


def _finish(method: str, prob: BeamformingProblem, w: np.ndarray, codes: np.ndarray,
            iterations: np.ndarray, task: str, options: dict,
            history: np.ndarray | None = None) -> BeamformingResult:
    """Flag non-finite samples as failed (NaN beams), compute the objective."""
    codes = np.array(codes, dtype=np.int64)
    codes[~np.isfinite(w).all(axis=(1, 2))] = FAILED
    w = np.array(w, dtype=np.complex128)
    w[codes == FAILED] = np.nan
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if task == "sum-rate":
            obj = sum_rate_bps(prob.h, w, prob.noise_w, 1.0, prob.weights)
        else:
            obj = min_rate_bps(prob.h, w, prob.noise_w, 1.0)
    lost = ~np.isfinite(obj) & (codes != FAILED)
    codes[lost] = FAILED
    w[lost] = np.nan
    obj[codes == FAILED] = np.nan
    return BeamformingResult(method, w, status_names(codes), np.asarray(iterations, np.int64),
                             obj, task, history, options)


# --------------------------------------------------------------------------------------
# Linear precoders (NumPy, batched)
# --------------------------------------------------------------------------------------


def _unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def mrt_beamformer(h: np.ndarray, p_max_w: ArrayLike) -> np.ndarray:
    r"""Maximum ratio transmission with equal power: ``w_k = sqrt(P/K) h_k / ||h_k||``.

    Input
    -----
    h : [batch, K, M], complex; p_max_w : float or [batch], watts

    Output
    ------
    w : [batch, K, M], complex, total power ``P``

    Example
    -------
    >>> w = mrt_beamformer(np.array([[[3.0, 4.0j]]]), 2.0)
    >>> np.round(np.abs(w) ** 2, 6)
    array([[[0.72, 1.28]]])
    """
    h = np.asarray(h, dtype=np.complex128)
    p = np.broadcast_to(np.asarray(p_max_w, dtype=np.float64), h.shape[:1])
    return _unit_rows(h) * np.sqrt(p / h.shape[1])[:, None, None]


def zf_directions(h: np.ndarray) -> np.ndarray:
    r"""Unit-norm zero-forcing directions, the columns of ``H^H (H H^H)^{-1}`` normalized.

    ``H`` has the rows ``h_k^H``; then ``h_k^H u_j = 0`` for ``j != k``.

    Input
    -----
    h : [batch, K, M], complex, ``K <= M``, full row rank

    Output
    ------
    u : [batch, K, M], complex, ``||u_k|| = 1``
    """
    h = np.asarray(h, dtype=np.complex128)
    gram = np.einsum("bkm,bjm->bkj", h.conj(), h)  # [batch, K, K] H H^H
    # columns of H^H (H H^H)^{-1}: u_k = sum_j h_j [(H H^H)^{-1}]_{jk}; as rows: inv^T h
    inv = np.linalg.inv(gram)
    u = np.einsum("bjk,bjm->bkm", inv, h)
    return _unit_rows(u)


def water_filling(gains: np.ndarray, p_max_w: ArrayLike) -> np.ndarray:
    r"""Water-filling powers ``p_k = (mu - 1/a_k)^+`` with ``sum_k p_k = P``.

    Maximizes ``sum_k log(1 + a_k p_k)`` for parallel channels of gains ``a_k > 0``.

    Input
    -----
    gains : [batch, K], float, ``a_k`` (1/W); p_max_w : float or [batch], watts

    Output
    ------
    p : [batch, K], float, watts, summing to ``P``

    Example
    -------
    >>> water_filling(np.array([[1.0, 0.25]]), 1.0)
    array([[1., 0.]])
    >>> water_filling(np.array([[1.0, 0.5]]), 3.0)
    array([[2., 1.]])
    """
    a = np.asarray(gains, dtype=np.float64)
    p_max = np.broadcast_to(np.asarray(p_max_w, dtype=np.float64), a.shape[:1])
    inv = 1.0 / a  # [batch, K] floor levels
    order = np.sort(inv, axis=1)
    k = np.arange(1, a.shape[1] + 1)
    # water level if the n strongest channels are active: (P + sum of their floors) / n
    levels = (p_max[:, None] + np.cumsum(order, axis=1)) / k
    active = levels > order  # the n-th floor lies below its own level
    n_active = active.sum(axis=1)
    mu = levels[np.arange(a.shape[0]), n_active - 1]
    return np.maximum(mu[:, None] - inv, 0.0)


def zf_beamformer(h: np.ndarray, p_max_w: ArrayLike, noise_w: float,
                  power: str = "equal") -> np.ndarray:
    r"""Zero forcing with equal power ``P/K`` per user or water-filling over the ZF channels.

    With unit directions ``u_k`` the users see parallel channels of gains
    ``a_k = |h_k^H u_k|^2 / sigma^2``; ``power='water-filling'`` loads them optimally for
    the sum-rate (:func:`water_filling`).

    Input
    -----
    h : [batch, K, M], complex, ``K <= M``; p_max_w : float or [batch]; noise_w : float
    power : 'equal' or 'water-filling'

    Output
    ------
    w : [batch, K, M], complex, total power ``P``
    """
    h = np.asarray(h, dtype=np.complex128)
    u = zf_directions(h)
    p_max = np.broadcast_to(np.asarray(p_max_w, dtype=np.float64), h.shape[:1])
    if power == "equal":
        p = np.broadcast_to((p_max / h.shape[1])[:, None], h.shape[:2])
    else:
        a = np.abs(np.einsum("bkm,bkm->bk", h.conj(), u)) ** 2 / noise_w
        p = water_filling(a, p_max)
    return u * np.sqrt(p)[..., None]


def rzf_beamformer(h: np.ndarray, p_max_w: ArrayLike, noise_w: float) -> np.ndarray:
    r"""Regularized ZF ``W = H^H (H H^H + (K sigma^2 / P) I)^{-1}``, scaled to power ``P``.

    Input
    -----
    h : [batch, K, M], complex; p_max_w : float or [batch]; noise_w : float

    Output
    ------
    w : [batch, K, M], complex, total power ``P``
    """
    h = np.asarray(h, dtype=np.complex128)
    batch, n_users, _ = h.shape
    p_max = np.broadcast_to(np.asarray(p_max_w, dtype=np.float64), (batch,))
    gram = np.einsum("bkm,bjm->bkj", h.conj(), h)
    reg = (n_users * noise_w / p_max)[:, None, None] * np.eye(n_users)
    u = np.einsum("bjk,bjm->bkm", np.linalg.inv(gram + reg), h)
    scale = np.sqrt(p_max / (np.abs(u) ** 2).sum(axis=(1, 2)))
    return u * scale[:, None, None]


# --------------------------------------------------------------------------------------
# WMMSE (Numba)
# --------------------------------------------------------------------------------------

_MU_BISECTION_STEPS = 200
_EIG_REL_FLOOR = 1e-13  # eigenvalues below this fraction of the largest: null space of A


@njit(cache=True, inline="always")
def _wsr_and_receivers(h, w, alpha, noise, u, v):
    """Weighted sum-rate (bit/s/Hz); MMSE receivers ``u`` and MSE weights ``v`` of ``w``."""
    n_users, n_ant = h.shape
    obj = 0.0
    for k in range(n_users):
        interf = noise
        direct = 0j
        for j in range(n_users):
            a = 0j
            for m in range(n_ant):
                a += h[k, m].conjugate() * w[j, m]
            if j == k:
                direct = a
            else:
                interf += a.real * a.real + a.imag * a.imag
        sig = direct.real * direct.real + direct.imag * direct.imag
        total = interf + sig
        u[k] = direct.conjugate() / total
        v[k] = total / interf
        obj += alpha[k] * math.log(total / interf)
    return obj / math.log(2.0)


@njit(cache=True)
def _all_finite(a):
    for x in a.ravel():
        if not (math.isfinite(x.real) and math.isfinite(x.imag)):
            return False
    return True


@njit(cache=True)
def _w_step_total(a_mat, b_mat, p_max, w):
    """w_k = (A + mu I)^{-1} b_k with the least mu >= 0 such that sum ||w_k||^2 <= P.

    Returns False (nothing written) when A or B is not finite."""
    if not (_all_finite(a_mat) and _all_finite(b_mat)):
        return False
    lam, vec = np.linalg.eigh(a_mat)
    n_ant = lam.shape[0]
    n_users = b_mat.shape[1]
    c = vec.conj().T @ b_mat  # [M, K] B in the eigenbasis
    phi = np.zeros(n_ant)
    for m in range(n_ant):
        for k in range(n_users):
            phi[m] += c[m, k].real ** 2 + c[m, k].imag ** 2
    floor = _EIG_REL_FLOOR * max(lam[n_ant - 1], 0.0)
    p0 = 0.0
    for m in range(n_ant):
        if lam[m] > floor:
            p0 += phi[m] / (lam[m] * lam[m])
    mu = 0.0
    if p0 > p_max:
        total_phi = 0.0
        for m in range(n_ant):
            total_phi += phi[m]
        lo = 0.0
        hi = math.sqrt(total_phi / p_max)  # power(hi) <= sum(phi) / hi^2 = P
        for _ in range(_MU_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            if not lo < mid < hi:
                break
            pw = 0.0
            for m in range(n_ant):
                d = max(lam[m], 0.0) + mid
                pw += phi[m] / (d * d)
            if pw > p_max:
                lo = mid
            else:
                hi = mid
        mu = hi
    for m in range(n_ant):
        d = max(lam[m], 0.0) + mu
        keep = mu > 0.0 or lam[m] > floor
        for k in range(n_users):
            c[m, k] = c[m, k] / d if keep else 0j
    wt = vec @ c  # [M, K]
    power = 0.0
    for m in range(n_ant):
        for k in range(n_users):
            power += wt[m, k].real ** 2 + wt[m, k].imag ** 2
    scale = math.sqrt(p_max / power) if (mu > 0.0 or power > p_max) and power > 0 else 1.0
    for k in range(n_users):
        for m in range(n_ant):
            w[k, m] = scale * wt[m, k]
    return True


@njit(cache=True)
def _w_step_per_antenna(a_mat, b_mat, p_ant, w, sweeps):
    """Cyclic exact minimization of tr(W^H A W) - 2 Re tr(B^H W) over the rows of W
    (M x K, row m = antenna m), each row projected onto ||row||^2 <= p_ant."""
    n_ant = a_mat.shape[0]
    n_users = b_mat.shape[1]
    row = np.empty(n_users, dtype=np.complex128)
    radius = math.sqrt(p_ant)
    for _ in range(sweeps):
        for m in range(n_ant):
            for k in range(n_users):
                s = b_mat[m, k]
                for n in range(n_ant):
                    if n != m:
                        s -= a_mat[m, n] * w[k, n]
                row[k] = s
            norm = 0.0
            for k in range(n_users):
                norm += row[k].real ** 2 + row[k].imag ** 2
            norm = math.sqrt(norm)
            amm = a_mat[m, m].real
            if norm == 0.0:
                for k in range(n_users):
                    w[k, m] = 0j
                continue
            d = max(amm, norm / radius)
            for k in range(n_users):
                w[k, m] = row[k] / d


@njit(cache=True)
def _wmmse_sample(h, alpha, p_max, noise, per_antenna, sweeps, iterations, tol, w, hist):
    n_users, n_ant = h.shape
    u = np.empty(n_users, dtype=np.complex128)
    v = np.empty(n_users)
    a_mat = np.empty((n_ant, n_ant), dtype=np.complex128)
    b_mat = np.empty((n_ant, n_users), dtype=np.complex128)
    prev = _wsr_and_receivers(h, w, alpha, noise, u, v)
    if not math.isfinite(prev):
        return 0, FAILED
    for it in range(iterations):
        for m in range(n_ant):
            for n in range(n_ant):
                a_mat[m, n] = 0j
        for k in range(n_users):
            ck = alpha[k] * v[k] * (u[k].real ** 2 + u[k].imag ** 2)
            for m in range(n_ant):
                b_mat[m, k] = alpha[k] * v[k] * u[k].conjugate() * h[k, m]
                hk = ck * h[k, m]
                for n in range(n_ant):
                    a_mat[m, n] += hk * h[k, n].conjugate()
        if per_antenna:
            _w_step_per_antenna(a_mat, b_mat, p_max / n_ant, w, sweeps)
        elif not _w_step_total(a_mat, b_mat, p_max, w):
            return it + 1, FAILED
        obj = _wsr_and_receivers(h, w, alpha, noise, u, v)
        hist[it] = obj
        if not math.isfinite(obj):
            return it + 1, FAILED
        if tol >= 0.0 and abs(obj - prev) <= tol * abs(obj):
            for r in range(it + 1, iterations):
                hist[r] = obj
            return it + 1, CONVERGED
        prev = obj
    return iterations, MAX_ITER


@njit(cache=True, parallel=True)
def _wmmse_kernel(h, alpha, p_max, noise, per_antenna, sweeps, iterations, tol, w, hist, used,
                  codes):
    for b in prange(h.shape[0]):
        used[b], codes[b] = _wmmse_sample(h[b], alpha[b], p_max[b], noise, per_antenna, sweeps,
                                          iterations, tol, w[b], hist[b])


def _initial_beams(init: str, prob: BeamformingProblem, rng: np.random.Generator,
                   per_antenna: bool) -> np.ndarray:
    h = prob.h
    if init == "auto":
        init = "zf" if h.shape[1] <= h.shape[2] else "mrt"
    if init == "mrt":
        w = mrt_beamformer(h, prob.p_max_w)
    elif init == "zf":
        _require_zf("init='zf'", h.shape[1], h.shape[2])
        w = zf_beamformer(h, prob.p_max_w, prob.noise_w)
    else:
        w = rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)
        w *= np.sqrt(prob.p_max_w / (np.abs(w) ** 2).sum(axis=(1, 2)))[:, None, None]
    if per_antenna:  # scale into the per-antenna limits P / M
        ant = (np.abs(w) ** 2).sum(axis=1).max(axis=1)
        w = w * np.sqrt(prob.p_max_w / h.shape[2] / ant)[:, None, None]
    return np.ascontiguousarray(w)


def wmmse_beamforming(
    h: ArrayLike, p_max_w: ArrayLike, noise_w: float, *, weights: ArrayLike | None = None,
    init: str = "auto", restarts: int = 1,
    iterations: int = 1000, tol: float | None = 1e-6, power_constraint: str = "total",
    sweeps: int = 20, seed: int | np.random.Generator = 0,
) -> BeamformingResult:
    r"""WMMSE beamforming for the weighted sum-rate, batched (Numba, ``parallel=True``).

    See the module docstring for the iteration. Start 1 uses ``init``; starts 2..R are
    random (CN(0, 1) entries scaled into the power limit, from ``seed``); each sample
    keeps its best start.

    Input
    -----
    h : [batch, K, M], complex; p_max_w : float or [batch], watts; noise_w : float, watts
    weights : None, [K] or [batch, K], rate weights
    init : 'auto' (zf if K <= M, else mrt), 'mrt', 'zf' (needs K <= M) or 'random'
    restarts : int, starts per sample (best kept)
    iterations : int, iteration cap; tol : float or None, stop when the relative change of
        the weighted sum-rate is <= tol (None: always ``iterations``)
    power_constraint : 'total' (``sum ||w_k||^2 <= P``) or 'per-antenna' (``<= P / M``
        each)
    sweeps : int, row sweeps per iteration for 'per-antenna'
    seed : int or Generator, for random starts

    Output
    ------
    BeamformingResult (``task='sum-rate'``, objective in bit/s/Hz, history of the best
    start, ``options['stopping_rule']``)

    Example
    -------
    >>> from simulators.mu_miso import MuMisoConfig, generate_mu_miso
    >>> cfg = MuMisoConfig.from_preset("rayleigh-10db")
    >>> h = generate_mu_miso(cfg, 2, seed=1).h
    >>> res = wmmse_beamforming(h, cfg.p_max_w, cfg.noise_w)
    >>> res.w.shape, res.options["stopping_rule"]
    ((2, 4, 4), 'WMMSE (init zf, total power), tol 1e-06 relative, max 1000 iterations, 1 start')
    """
    prob = check_beamforming_problem(h, p_max_w, noise_w, weights)
    check_choice("init", init, INITS)
    check_choice("power_constraint", power_constraint, POWER_CONSTRAINTS)
    restarts = check_restarts("restarts", restarts)
    iterations = check_iterations("iterations", iterations)
    tol = check_tol("tol", tol)
    sweeps = check_iterations("sweeps", sweeps, maximum=10_000)
    rng = make_rng(seed)
    per_antenna = power_constraint == "per-antenna"
    if init == "auto":
        init = "zf" if prob.h.shape[1] <= prob.h.shape[2] else "mrt"
    batch = prob.h.shape[0]
    h_unit = np.ascontiguousarray(prob.h / math.sqrt(prob.noise_w))  # noise-normalized
    best_w = best_hist = best_used = best_codes = None
    best_obj = np.full(batch, -np.inf)
    for start in range(restarts):
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # -> failed
            w = _initial_beams(init if start == 0 else "random", prob, rng, per_antenna)
        hist = np.empty((batch, iterations))
        used = np.empty(batch, dtype=np.int64)
        codes = np.empty(batch, dtype=np.int64)
        _wmmse_kernel(h_unit, prob.weights, prob.p_max_w, 1.0, per_antenna, sweeps,
                      iterations, -1.0 if tol is None else tol, w, hist, used, codes)
        last = hist[np.arange(batch), used - 1]
        last = np.where((codes == FAILED) | ~np.isfinite(last), -np.inf, last)
        if best_w is None:
            best_w, best_hist, best_used, best_codes, best_obj = w, hist, used, codes, last
            continue
        take = last > best_obj
        best_w[take], best_hist[take] = w[take], hist[take]
        best_used[take], best_codes[take], best_obj[take] = used[take], codes[take], last[take]
    stop = f"{iterations} iterations" if tol is None else \
        f"tol {tol:g} relative, max {iterations} iterations"
    starts = "1 start" if restarts == 1 else f"best of {restarts} starts (1 {init} + " \
        f"{restarts - 1} random)"
    power = "total power" if not per_antenna else f"per-antenna power, {sweeps} sweeps"
    rule = f"WMMSE (init {init}, {power}), {stop}, {starts}"
    options = {"init": init, "restarts": restarts, "iterations": iterations, "tol": tol,
               "power_constraint": power_constraint, "stopping_rule": rule}
    if per_antenna:
        options["sweeps"] = sweeps
    return _finish("wmmse", prob, best_w, best_codes, best_used, "sum-rate", options,
                   best_hist)


# --------------------------------------------------------------------------------------
# Exact max-min SINR by uplink-downlink duality (Numba)
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _uplink_mmse(h, q, noise, s, sigma_inv_h):
    """s_k = h_k^H (sigma^2 I + sum_{j != k} q_j h_j h_j^H)^{-1} h_k and the MMSE
    directions Sigma^{-1} h_k (rows of ``sigma_inv_h``), Sigma = the full covariance.

    Returns False when Sigma is not finite (it is positive definite otherwise)."""
    n_users, n_ant = h.shape
    cov = np.zeros((n_ant, n_ant), dtype=np.complex128)
    for m in range(n_ant):
        cov[m, m] = noise
    for j in range(n_users):
        for m in range(n_ant):
            hm = q[j] * h[j, m]
            for n in range(n_ant):
                cov[m, n] += hm * h[j, n].conjugate()
    if not _all_finite(cov):
        return False
    x = np.linalg.solve(cov, np.ascontiguousarray(h.T))  # [M, K] Sigma^{-1} h_k
    for k in range(n_users):
        a = 0.0
        for m in range(n_ant):
            sigma_inv_h[k, m] = x[m, k]
            a += (h[k, m].conjugate() * x[m, k]).real
        # Sherman-Morrison: a = s / (1 + q s)  ->  s = a / (1 - q a)
        s[k] = a / (1.0 - q[k] * a)
    return True


@njit(cache=True)
def _fixed_beam_powers(gm, gamma, noise, p):
    """p = sigma^2 (diag(G)/gamma - G_off)^{-1} 1; False unless a nonsingular M-matrix."""
    n = gm.shape[0]
    mat = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            mat[i, j] = -gm[i, j]
        mat[i, i] = gm[i, i] / gamma
        p[i] = noise
    for k in range(n):
        piv = mat[k, k]
        if not piv > 0.0:
            return False
        for i in range(k + 1, n):
            r = mat[i, k] / piv
            if r != 0.0:
                for j in range(k + 1, n):
                    mat[i, j] -= r * mat[k, j]
                p[i] -= r * p[k]
    for i in range(n - 1, -1, -1):
        acc = p[i]
        for j in range(i + 1, n):
            acc -= mat[i, j] * p[j]
        p[i] = acc / mat[i, i]
        if not p[i] > 0.0:
            return False
    return True


@njit(cache=True)
def _maxmin_sample(h, p_max, noise, rtol, max_iter, w, q):
    n_users, n_ant = h.shape
    q[:] = p_max / n_users
    s = np.empty(n_users)
    dirs = np.empty((n_users, n_ant), dtype=np.complex128)
    lo = 0.0
    hi = np.inf
    steps = 0
    code = MAX_ITER
    while steps < max_iter:
        steps += 1
        if not _uplink_mmse(h, q, noise, s, dirs):
            return steps, FAILED
        lo_k = np.inf
        hi_k = 0.0
        total = 0.0
        for k in range(n_users):
            sk = q[k] * s[k]
            if not sk > 0.0 or not math.isfinite(sk):
                return steps, FAILED
            lo_k = min(lo_k, sk)
            hi_k = max(hi_k, sk)
            total += 1.0 / s[k]
        lo = max(lo, lo_k)
        hi = min(hi, hi_k)
        if hi <= lo * (1.0 + rtol):
            code = OPTIMAL
            break
        for k in range(n_users):
            q[k] = p_max / (s[k] * total)
    # downlink: normalized MMSE directions, powers balancing all SINRs at sum p = P
    for k in range(n_users):
        nrm = 0.0
        for m in range(n_ant):
            nrm += dirs[k, m].real ** 2 + dirs[k, m].imag ** 2
        nrm = math.sqrt(nrm)
        for m in range(n_ant):
            dirs[k, m] /= nrm
    gm = np.empty((n_users, n_users))  # G[k, j] = |h_k^H u_j|^2
    for k in range(n_users):
        for j in range(n_users):
            a = 0j
            for m in range(n_ant):
                a += h[k, m].conjugate() * dirs[j, m]
            gm[k, j] = a.real * a.real + a.imag * a.imag
    p = np.empty(n_users)
    g_lo = lo
    feasible = False
    for i in range(20):  # rounding: step down until the lower end is feasible
        g_lo = lo * (1.0 - 1e-13 * 4.0**i)
        if _fixed_beam_powers(gm, g_lo, noise, p):
            tot = 0.0
            for k in range(n_users):
                tot += p[k]
            if tot <= p_max:
                feasible = True
                break
    if not feasible:
        return steps, FAILED
    g_hi = max(hi, g_lo) * (1.0 + 1e-9)
    best = p.copy()
    for _ in range(200):
        mid = math.sqrt(g_lo * g_hi)
        if not g_lo < mid < g_hi:
            break
        ok = _fixed_beam_powers(gm, mid, noise, p)
        if ok:
            tot = 0.0
            for k in range(n_users):
                tot += p[k]
            ok = tot <= p_max
        if ok:
            g_lo = mid
            best[:] = p
        else:
            g_hi = mid
    tot = 0.0
    for k in range(n_users):
        tot += best[k]
    scale = p_max / tot  # >= 1: raises every SINR, uses the whole budget
    for k in range(n_users):
        amp = math.sqrt(best[k] * scale)
        for m in range(n_ant):
            w[k, m] = amp * dirs[k, m]
    return steps, code


@njit(cache=True, parallel=True)
def _maxmin_kernel(h, p_max, noise, rtol, max_iter, w, q, steps, codes):
    for b in prange(h.shape[0]):
        steps[b], codes[b] = _maxmin_sample(h[b], p_max[b], noise, rtol, max_iter, w[b], q[b])


DEFAULT_MAXMIN_RTOL = 1e-10
DEFAULT_MAXMIN_MAX_ITER = 10_000


def maxmin_beamforming(h: ArrayLike, p_max_w: ArrayLike, noise_w: float, *,
                       rtol: float = DEFAULT_MAXMIN_RTOL,
                       max_iter: int = DEFAULT_MAXMIN_MAX_ITER) -> BeamformingResult:
    r"""Exact max-min SINR beamforming under a total power, batched (Numba).

    See the module docstring. ``status`` is ``optimal`` when the certified bracket on the
    common SINR closed to ``rtol``, ``max_iter`` when the fixed point ran out of steps.

    Input
    -----
    h : [batch, K, M], complex; p_max_w : float or [batch]; noise_w : float
    rtol : float in [1e-14, 1e-2], relative width of the bracket on ``gamma*``
    max_iter : int, fixed-point steps allowed

    Output
    ------
    BeamformingResult (``task='min-rate'``, ``objective`` the min-rate in bit/s/Hz,
    ``iterations`` the fixed-point steps)

    Example
    -------
    >>> from simulators.beamforming import sinr
    >>> h = np.array([[[1.0, 0.0], [0.6, 0.8]]], dtype=complex)
    >>> res = maxmin_beamforming(h, 1.0, 0.1)
    >>> s = sinr(h, res.w, 0.1)
    >>> bool(s.max() / s.min() - 1 < 1e-9), res.status.tolist()
    (True, ['optimal'])
    """
    prob = check_beamforming_problem(h, p_max_w, noise_w)
    rtol = _check_rtol(rtol)
    max_iter = check_iterations("max_iter", max_iter, maximum=10_000_000)
    batch = prob.h.shape[0]
    w = np.empty_like(prob.h)
    q = np.empty(prob.h.shape[:2])
    steps = np.empty(batch, dtype=np.int64)
    codes = np.empty(batch, dtype=np.int64)
    h_unit = np.ascontiguousarray(prob.h / math.sqrt(prob.noise_w))  # noise-normalized
    _maxmin_kernel(h_unit, prob.p_max_w, 1.0, rtol, max_iter, w, q, steps, codes)
    rule = f"max-min uplink-downlink fixed point, rtol {rtol:g}, max {max_iter} steps"
    res = _finish("maxmin", prob, w, codes, steps, "min-rate",
                  {"rtol": rtol, "max_iter": max_iter, "stopping_rule": rule})
    q[~res.ok] = np.nan
    res.uplink_powers_w = q
    return res


def _check_rtol(value) -> float:
    rtol = check_tol("rtol", value, low=0.0, high=1e-2)
    if rtol is None or rtol < 1e-14:
        raise ConfigError(f"rtol={value!r} is invalid; expected a number in [1e-14, 0.01]")
    return rtol


# --------------------------------------------------------------------------------------
# cvxpy SOCP bisection reference
# --------------------------------------------------------------------------------------


_SOCP_FALLBACK_RTOL = 1e-4
"""A bisection step the solver cannot finish ends the search with status ``converged``
when the bracket is already this narrow (else ``failed``)."""


class SocpSolution(NamedTuple):
    """One sample solved by :func:`maxmin_cvxpy`.

    Attributes
    ----------
    w : [K, M], complex, beamformers scaled to power P (NaN unless optimal / converged)
    min_sinr : float, the common SINR reached (NaN on failure)
    status : str, ``optimal``, ``converged`` (some step ``optimal_inaccurate``, or a step
        failed once the bracket was within 1e-4) or ``failed``
    solver_status : str, cvxpy's status of the last failing or inaccurate step, else optimal
    steps : int, SOCPs solved
    """

    w: np.ndarray
    min_sinr: float
    status: str
    solver_status: str
    steps: int


def maxmin_cvxpy(h_one: ArrayLike, p_max: float, noise: float, *, tol: float = 1e-7,
                 solver: str | None = None) -> SocpSolution:
    r"""Max-min SINR of one sample by bisection on a common target with a cvxpy SOCP.

    For a target ``gamma``, the least power reaching it (Wiesel, Eldar, Shamai 2006;
    the phase of each ``h_k^H w_k`` is free, so it is made real):

    .. math::

        \min_W \lVert W \rVert_F \quad \text{s.t.}\quad
        \sqrt{1 + 1/\gamma}\ \mathrm{Re}(h_k^H w_k) \ge
        \big\lVert [h_k^H w_1, \dots, h_k^H w_K, \sigma] \big\rVert_2,\quad
        \mathrm{Im}(h_k^H w_k) = 0 .

    ``gamma`` is feasible iff the optimal power is at most ``P``. The bracket starts at
    the min SINR of MRT (feasible) and the single-user bound ``min_k P ||h_k||^2 /
    sigma^2`` and is bisected on ``log gamma`` until its relative width is ``tol``.

    Input
    -----
    h_one : [K, M], complex; p_max : float, W; noise : float, W
    tol : float, relative width of the final bracket; solver : cvxpy solver name or None

    Output
    ------
    SocpSolution; the solver status of every step is checked, never ignored

    Example
    -------
    >>> sol = maxmin_cvxpy(np.array([[1.0, 0.0], [0.6, 0.8]], dtype=complex), 1.0, 0.1)
    >>> sol.status, round(sol.min_sinr, 4)
    ('optimal', 3.5)
    """
    import cvxpy as cp

    prob = check_beamforming_problem(np.asarray(h_one)[None], p_max, noise)
    h_raw = prob.h[0]
    n_users, n_ant = h_raw.shape
    p_max, noise = float(prob.p_max_w[0]), 1.0
    h = h_raw / math.sqrt(prob.noise_w)  # noise-normalized: the SOCP is well scaled
    wv = cp.Variable((n_ant, n_users), complex=True)
    factor = cp.Parameter(nonneg=True)
    hw = h.conj() @ wv  # [K, K] (h_k^H w_j)
    cons = []
    for k in range(n_users):
        cons.append(cp.norm(cp.hstack([hw[k, :], np.ones(1)]), 2)
                    <= factor * cp.real(hw[k, k]))
        cons.append(cp.imag(hw[k, k]) == 0)
    problem = cp.Problem(cp.Minimize(cp.norm(wv, "fro")), cons)
    mrt = mrt_beamformer(h[None], p_max)
    lo = float(sinr(h[None], mrt, noise).min())
    hi = float(p_max * (np.abs(h) ** 2).sum(axis=1).min() / noise)
    best = mrt[0].copy()
    status, raw, steps = "optimal", "optimal", 0

    def stopped(why: str) -> SocpSolution:
        """A step failed: keep the feasible end if the bracket is already within 1e-4."""
        if hi <= lo * (1.0 + _SOCP_FALLBACK_RTOL):
            return finish(best, "converged", why)
        return SocpSolution(np.full((n_users, n_ant), np.nan), float("nan"), "failed", why,
                            steps)

    def finish(w, st, why):
        w = w * math.sqrt(p_max / float((np.abs(w) ** 2).sum()))
        return SocpSolution(w, float(sinr(h[None], w[None], noise).min()), st, why, steps)

    while hi > lo * (1.0 + tol):
        gamma = math.sqrt(lo * hi)
        factor.value = math.sqrt(1.0 + 1.0 / gamma)
        steps += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                problem.solve(solver=solver)
        except cp.SolverError as exc:
            return stopped(f"SolverError at step {steps}: {exc}")
        st = str(problem.status)
        if st in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and wv.value is not None:
            if st == cp.OPTIMAL_INACCURATE:
                status, raw = "converged", st
            if problem.value ** 2 <= p_max:
                lo = gamma
                best = np.asarray(wv.value).T.copy()
            else:
                hi = gamma
        elif st in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            hi = gamma
        else:
            return stopped(f"{st} at step {steps}")
    return finish(best, status, raw)


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


def _no_weights(method: str, weights) -> None:
    if weights is not None:
        raise ConfigError(f"weights are not used by method {method!r}; expected weights=None")


def _linear(name: str, build: Callable, needs_zf: bool):
    def solve_linear(h, *, p_max_w, noise_w, weights=None, seed=0, **options):
        take_options(name, options, {})
        prob = check_beamforming_problem(h, p_max_w, noise_w, weights)
        if needs_zf:
            _require_zf(name, prob.h.shape[1], prob.h.shape[2])
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            w = build(prob)
        batch = prob.h.shape[0]
        codes = np.full(batch, HEURISTIC)  # closed form: no convergence to claim
        return _finish(name, prob, w, codes, np.zeros(batch, dtype=np.int64), "sum-rate",
                       {"stopping_rule": f"{name}, closed form"})
    solve_linear.__name__ = f"solve_{name.replace('-', '_')}"
    solve_linear.__doc__ = f"Registry entry ``{name}`` (closed form, no options)."
    return solve_linear


def _check_init(name, value):
    return check_choice(name, value, INITS)


def _check_power_constraint(name, value):
    return check_choice(name, value, POWER_CONSTRAINTS)


WMMSE_OPTIONS = {
    "iterations": (1000, check_iterations),
    "tol": (1e-6, check_tol),
    "restarts": (1, check_restarts),
    "init": ("auto", _check_init),
    "power_constraint": ("total", _check_power_constraint),
    "sweeps": (20, lambda n, v: check_iterations(n, v, 10_000)),
}


def solve_wmmse_bf(h: ArrayLike, *, p_max_w: ArrayLike, noise_w: float,
                   weights: ArrayLike | None = None, seed: int | np.random.Generator = 0,
                   **options: Any) -> BeamformingResult:
    """Registry entry ``wmmse``: options ``iterations`` (1000), ``tol`` (1e-6), ``restarts``
    (1), ``init`` (auto), ``power_constraint`` (total), ``sweeps`` (20)."""
    opts = take_options("wmmse", options, WMMSE_OPTIONS)
    return wmmse_beamforming(h, p_max_w, noise_w, weights=weights, seed=seed, **opts)


def solve_maxmin_bf(h: ArrayLike, *, p_max_w: ArrayLike, noise_w: float,
                    weights: ArrayLike | None = None, seed: int | np.random.Generator = 0,
                    **options: Any) -> BeamformingResult:
    """Registry entry ``maxmin``: options ``rtol`` (1e-10), ``max_iter`` (10000)."""
    _no_weights("maxmin", weights)
    opts = take_options("maxmin", options, {
        "rtol": (DEFAULT_MAXMIN_RTOL, lambda n, v: _check_rtol(v)),
        "max_iter": (DEFAULT_MAXMIN_MAX_ITER, lambda n, v: check_iterations(n, v, 10_000_000)),
    })
    return maxmin_beamforming(h, p_max_w, noise_w, **opts)


def _check_socp_tol(name, value):
    x = check_finite(name, value)
    if not 1e-12 <= x <= 1e-2:
        raise ConfigError(f"{name}={value!r} is invalid; expected a number in [1e-12, 0.01]")
    return x


def _check_solver(name: str, value):
    import cvxpy as cp

    if value is None:
        return None
    installed = cp.installed_solvers()
    if value not in installed:
        raise ConfigError(f"{name}={value!r} is invalid; expected None or one of "
                          f"{', '.join(installed)}")
    return value


def solve_maxmin_cvxpy_bf(h: ArrayLike, *, p_max_w: ArrayLike, noise_w: float,
                          weights: ArrayLike | None = None, seed: int | np.random.Generator = 0,
                          progress: bool = False, **options: Any) -> BeamformingResult:
    """Registry entry ``maxmin-cvxpy``: options ``tol`` (1e-7), ``solver`` (None);
    ``progress``: a tqdm bar over the samples (not an option: it changes no result)."""
    _no_weights("maxmin-cvxpy", weights)
    opts = take_options("maxmin-cvxpy", options, {"tol": (1e-7, _check_socp_tol),
                                                  "solver": (None, _check_solver)})
    prob = check_beamforming_problem(h, p_max_w, noise_w)
    batch = prob.h.shape[0]
    w = np.empty_like(prob.h)
    codes = np.empty(batch, dtype=np.int64)
    steps = np.empty(batch, dtype=np.int64)
    code_of = {"optimal": OPTIMAL, "converged": CONVERGED, "failed": FAILED}
    for b in per_layout(batch, "maxmin-cvxpy", "sample", progress):
        sol = maxmin_cvxpy(prob.h[b], prob.p_max_w[b], prob.noise_w, **opts)
        w[b], codes[b], steps[b] = sol.w, code_of[sol.status], sol.steps
    rule = (f"cvxpy SOCP bisection ({opts['solver'] or 'default solver'}), tol "
            f"{opts['tol']:g}, per sample")
    return _finish("maxmin-cvxpy", prob, w, codes, steps, "min-rate",
                   {**opts, "stopping_rule": rule})


BEAMFORMING_SOLVERS: dict[str, Callable[..., BeamformingResult]] = {
    "mrt": _linear("mrt", lambda p: mrt_beamformer(p.h, p.p_max_w), False),
    "zf": _linear("zf", lambda p: zf_beamformer(p.h, p.p_max_w, p.noise_w), True),
    "zf-wf": _linear("zf-wf", lambda p: zf_beamformer(p.h, p.p_max_w, p.noise_w,
                                                      "water-filling"), True),
    "rzf": _linear("rzf", lambda p: rzf_beamformer(p.h, p.p_max_w, p.noise_w), False),
    "wmmse": solve_wmmse_bf,
    "maxmin": solve_maxmin_bf,
    "maxmin-cvxpy": solve_maxmin_cvxpy_bf,
}
"""Registry: multi-user MISO method name -> ``f(h, *, p_max_w, noise_w, weights=None,
seed=0, **options) -> BeamformingResult``."""


def solve_beamforming(method: str, h: ArrayLike, *, p_max_w: ArrayLike, noise_w: float,
                      weights: ArrayLike | None = None, seed: int | np.random.Generator = 0,
                      **options: Any) -> BeamformingResult:
    r"""Solve a batch of multi-user MISO downlink problems with a registered method.

    Input
    -----
    method : str, a key of :data:`BEAMFORMING_SOLVERS`
    h : [batch, K, M], complex, channels ``h[b, k]``
    p_max_w : float or [batch], total transmit power in watts
    noise_w : float, noise power in watts
    weights : None, [K] or [batch, K], rate weights (``wmmse`` only)
    seed : int or Generator (``wmmse`` random restarts)
    **options : method options (see each registry entry)

    Output
    ------
    BeamformingResult with ``w: [batch, K, M]``, ``status``, ``iterations``,
    ``objective`` (bit/s/Hz) and ``options['stopping_rule']``

    Example
    -------
    >>> from simulators.mu_miso import MuMisoConfig, generate_mu_miso
    >>> cfg = MuMisoConfig.from_preset("cell")
    >>> h = generate_mu_miso(cfg, 3, seed=2).h
    >>> res = solve_beamforming("zf", h, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w)
    >>> res.w.shape, res.status.tolist()
    ((3, 4, 8), ['heuristic', 'heuristic', 'heuristic'])
    """
    check_choice("method", method, tuple(BEAMFORMING_SOLVERS))
    make_rng(seed)
    return BEAMFORMING_SOLVERS[method](h, p_max_w=p_max_w, noise_w=noise_w, weights=weights,
                                       seed=seed, **options)


__all__ = [
    "BEAMFORMING_SOLVERS",
    "INITS",
    "POWER_CONSTRAINTS",
    "STATUSES",
    "BeamformingProblem",
    "BeamformingResult",
    "check_beamforming_problem",
    "maxmin_beamforming",
    "maxmin_cvxpy",
    "mrt_beamformer",
    "rzf_beamformer",
    "solve_beamforming",
    "water_filling",
    "wmmse_beamforming",
    "zf_beamformer",
    "zf_directions",
]
