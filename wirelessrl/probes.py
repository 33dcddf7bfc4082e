r"""Diagnostics of learned features: linear probes, covariance spectra, principal-direction
splits and per-entry reconstruction errors (NumPy; no torch, no training loop).

A *linear probe* asks how much of a task's optimal solution is a linear function of a
representation ``f`` (the frozen feature layer, or the raw input): a ridge regression

.. math::

    W_\lambda = \arg\min_W \|\tilde F W - (Y - \bar Y)\|_F^2 + \lambda \|W\|_F^2,
    \qquad \tilde F = (F - \bar F) / s_F

is fitted on training rows (columns centred with the training mean ``\bar F`` and scaled
by one number ``s_F``, the root mean column variance; intercept ``\bar Y`` unpenalized) for
every strength of a small grid at once through one SVD ``\tilde F = U S V^T``:
``W_\lambda = V \mathrm{diag}(s / (s^2 + \lambda)) U^T (Y - \bar Y)``. The strength is
``\lambda = r\, n_{train}`` with ``r`` from :data:`RIDGE_GRID`, so ``r`` is relative to the
average column variance; the kept ``r`` is the one whose validation score is best (the
first of equal ones, i.e. the weakest). One scale for all columns, not one per column: a
nearly dead ReLU unit (active on one training sample) would otherwise be blown up to unit
variance and dominate the test predictions. A column constant on the training rows gets
weight 0.

:class:`ProbeTask` is what a task supplies to probe for (the target solution per split,
its metrics, the entries of its reconstruction target); ``wirelessrl analyze``
(:mod:`experiments.analysis`) runs the probes of every source network of a run.

Example
-------
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 5)); y = x @ [[1.0], [2.0], [0.0], [0.0], [-1.0]] + 3.0
>>> probe = fit_ridge_probe(x[:100], y[:100], x[100:150], y[100:150])
>>> round(r2_score(probe.predict(x[150:]), y[150:]), 6)
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from simulators.validation import ConfigError

__all__ = ["PCA_FRACTIONS", "PROBE_SPLITS", "RIDGE_GRID", "Principal", "ProbeTask",
           "RidgeProbe", "effective_dimension", "entry_correlation", "fit_ridge_probe",
           "neg_mse", "per_entry_mse", "principal_directions", "principal_sizes",
           "rank_correlation", "r2_score", "ridge_path"]

RIDGE_GRID: tuple[float, ...] = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""Relative ridge strengths ``r`` (``lambda = r * n_train`` on standardized columns)."""

PCA_FRACTIONS: tuple[float, ...] = (0.1, 0.25, 0.5)
"""Fractions of the input dimension kept in the top / bottom principal-direction probes."""

PROBE_SPLITS = ("target_train", "target_valid", "test")
"""The splits a probe touches: fit, strength choice, score (the test set once)."""


def _matrix(name: str, a: ArrayLike) -> np.ndarray:
    """``a`` as float64 ``[n, d]`` (a vector becomes one column), finite."""
    m = np.asarray(a, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2:
        raise ConfigError(f"{name} has shape {m.shape}; expected [n, d]")
    if not np.isfinite(m).all():
        raise ConfigError(f"{name} holds {int((~np.isfinite(m)).sum())} non-finite values; "
                          "expected finite numbers")
    return m


def _column_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[d]`` and scale ``[d]``: one number for every column, the root mean column
    variance (1 when every column is constant on these rows)."""
    mean = x.mean(axis=0)
    rms = float(np.sqrt(x.var(axis=0).mean())) if x.size else 0.0
    return mean, np.full(x.shape[1], rms if rms > 0 else 1.0)


def neg_mse(pred: np.ndarray, y: np.ndarray) -> float:
    """``-mean((pred - y)^2)``: the default validation score (larger is better)."""
    return -float(np.mean((pred - y) ** 2))


def r2_score(pred: ArrayLike, y: ArrayLike) -> float:
    r"""Coefficient of determination, the mean over output columns of
    ``1 - sum (y - pred)^2 / sum (y - mean y)^2`` (columns constant in ``y`` left out).

    Input
    -----
    pred, y : [n, k] (or [n]), float

    Output
    ------
    float (1 for a perfect fit, 0 for the constant mean prediction; NaN when every column
    of ``y`` is constant)

    Example
    -------
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), r2_score([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    (1.0, 0.0)
    """
    p, t = _matrix("pred", pred), _matrix("y", y)
    total = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    keep = total > 1e-12 * max(1.0, float(total.max(initial=0.0)))
    if not keep.any():
        return float("nan")
    residual = ((t - p) ** 2).sum(axis=0)
    return float(np.mean(1.0 - residual[keep] / total[keep]))


def ridge_path(x: ArrayLike, y: ArrayLike, strengths: Sequence[float] = RIDGE_GRID
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Ridge weights for every strength at once (one SVD), see the module docstring.

    Input
    -----
    x : [n, d], float, training representation; y : [n, k] (or [n]), float, targets
    strengths : relative strengths ``r >= 0`` (``lambda = r * n``); ``r = 0`` is the
        minimum-norm least-squares solution

    Output
    ------
    weights : [n_strengths, d, k], float64, on the centred and scaled columns
    x_mean, x_scale : [d], the centring and the (common) scale; y_mean : [k]

    Example
    -------
    >>> rng = np.random.default_rng(1)
    >>> x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    >>> w, m, s, ym = ridge_path(x, y, [0.0])
    >>> xs = (x - m) / s
    >>> bool(np.allclose(w[0], np.linalg.lstsq(xs, y - ym, rcond=None)[0]))
    True
    """
    x, y = _matrix("x", x), _matrix("y", y)
    if len(x) != len(y):
        raise ConfigError(f"x has {len(x)} rows and y {len(y)}; expected the same number")
    r = np.asarray(strengths, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or not (np.isfinite(r).all() and (r >= 0).all()):
        raise ConfigError(f"strengths={list(strengths)!r} is invalid; expected a non-empty "
                          "list of finite numbers >= 0")
    x_mean, x_scale = _column_scale(x)
    y_mean = y.mean(axis=0)
    xs = (x - x_mean) / x_scale                                        # [n, d]
    u, s, vt = np.linalg.svd(xs, full_matrices=False)                  # [n, q], [q], [q, d]
    tol = s.max(initial=0.0) * max(xs.shape) * np.finfo(np.float64).eps
    lam = r[:, None] * len(x)                                          # [L, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(s > tol, s / (s ** 2 + lam), 0.0)            # [L, q]
    uty = u.T @ (y - y_mean)                                           # [q, k]
    weights = np.einsum("qd,lq,qk->ldk", vt, shrink, uty)              # [L, d, k]
    return weights, x_mean, x_scale, y_mean


@dataclass(frozen=True)
class RidgeProbe:
    """A fitted linear probe (:func:`fit_ridge_probe`).

    Attributes
    ----------
    weights : [d, k], on the centred, scaled columns; x_mean, x_scale : [d]; y_mean : [k]
    strength : float, the kept relative strength ``r``
    valid_scores : dict, validation score of every strength of the grid
    """

    weights: np.ndarray
    x_mean: np.ndarray
    x_scale: np.ndarray
    y_mean: np.ndarray
    strength: float
    valid_scores: dict

    def predict(self, x: ArrayLike) -> np.ndarray:
        """``x : [n, d]`` -> predictions ``[n, k]`` float64."""
        x = _matrix("x", x)
        if x.shape[1] != len(self.x_mean):
            raise ConfigError(f"x has {x.shape[1]} columns; the probe was fitted on "
                              f"{len(self.x_mean)}")
        return ((x - self.x_mean) / self.x_scale) @ self.weights + self.y_mean

    @property
    def coefficient_norms(self) -> np.ndarray:
        """``[d]``: the L2 norm over outputs of each column's weights (how much the probe
        uses each entry; comparable between columns of similar variance, e.g. standardized
        inputs)."""
        return np.linalg.norm(self.weights, axis=1)


def fit_ridge_probe(x_train: ArrayLike, y_train: ArrayLike, x_valid: ArrayLike,
                    y_valid: ArrayLike, strengths: Sequence[float] = RIDGE_GRID,
                    score: Callable[[np.ndarray, np.ndarray], float] = neg_mse) -> RidgeProbe:
    """Ridge probe fitted on the training rows, its strength chosen on the validation rows.

    Input
    -----
    x_train : [n, d], y_train : [n, k] (or [n]); x_valid : [m, d], y_valid : [m, k]
    strengths : relative grid (:data:`RIDGE_GRID`)
    score : ``(pred [m, k], y [m, k]) -> float``, larger is better (default
        :func:`neg_mse`; a classifier passes its accuracy)

    Output
    ------
    :class:`RidgeProbe`

    Example
    -------
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=(120, 3)); y = x[:, :1] + 0.1 * rng.normal(size=(120, 1))
    >>> p = fit_ridge_probe(x[:60], y[:60], x[60:], y[60:])
    >>> p.weights.shape, p.strength in RIDGE_GRID
    ((3, 1), True)
    """
    weights, x_mean, x_scale, y_mean = ridge_path(x_train, y_train, strengths)
    xv, yv = _matrix("x_valid", x_valid), _matrix("y_valid", y_valid)
    if xv.shape[1] != len(x_mean) or yv.shape[1] != len(y_mean) or len(xv) != len(yv):
        raise ConfigError(f"validation x {xv.shape} / y {yv.shape} do not match the training "
                          f"columns ({len(x_mean)} inputs, {len(y_mean)} outputs)")
    preds = np.einsum("md,ldk->lmk", (xv - x_mean) / x_scale, weights) + y_mean  # [L, m, k]
    scores = [float(score(p, yv)) for p in preds]
    best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
    return RidgeProbe(weights[best], x_mean, x_scale, y_mean, float(strengths[best]),
                      {float(r): s for r, s in zip(strengths, scores, strict=True)})


@dataclass(frozen=True)
class Principal:
    """Principal directions of a sample (:func:`principal_directions`).

    Attributes
    ----------
    mean : [d]; eigenvalues : [d], descending, the covariance's (unit of ``x`` squared);
    vectors : [d, d], column ``i`` the direction of ``eigenvalues[i]``
    """

    mean: np.ndarray
    eigenvalues: np.ndarray
    vectors: np.ndarray

    def project(self, x: ArrayLike, part: str, k: int) -> np.ndarray:
        """Coordinates ``[n, k]`` of ``x : [n, d]`` on the ``k`` directions of largest
        (``part="top"``) or smallest (``"bottom"``) variance."""
        x = _matrix("x", x)
        d = len(self.mean)
        if not 1 <= k <= d:
            raise ConfigError(f"k={k!r} is invalid; expected 1 to {d}")
        if part not in ("top", "bottom"):
            raise ConfigError(f"part={part!r} is invalid; expected 'top' or 'bottom'")
        v = self.vectors[:, :k] if part == "top" else self.vectors[:, d - k:]
        return (x - self.mean) @ v


def principal_directions(x: ArrayLike) -> Principal:
    r"""Eigen-decomposition of the sample covariance ``C = (x - m)^T (x - m) / (n - 1)``.

    Input
    -----
    x : [n, d], float, n >= 2

    Output
    ------
    :class:`Principal` (eigenvalues clipped at 0 against round-off)

    Example
    -------
    >>> p = principal_directions([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    >>> p.eigenvalues.round(4).tolist()
    [1.3333, 0.3333]
    """
    x = _matrix("x", x)
    if len(x) < 2:
        raise ConfigError(f"x has {len(x)} rows; expected at least 2 for a covariance")
    mean = x.mean(axis=0)
    c = (x - mean).T @ (x - mean) / (len(x) - 1)                      # [d, d]
    values, vectors = np.linalg.eigh(c)                               # ascending
    order = np.argsort(values)[::-1]
    return Principal(mean, np.clip(values[order], 0.0, None), vectors[:, order])


def principal_sizes(d: int, fractions: Sequence[float] = PCA_FRACTIONS) -> list[int]:
    """Distinct ``k = max(1, round(f d))`` for each fraction (ascending).

    Example
    -------
    >>> principal_sizes(100), principal_sizes(24)
    ([10, 25, 50], [2, 6, 12])
    """
    return sorted({min(d, max(1, int(round(f * d)))) for f in fractions})


def effective_dimension(eigenvalues: ArrayLike) -> float:
    r"""Participation ratio ``(sum lambda)^2 / sum lambda^2`` of a spectrum: 1 when one
    direction holds all the variance, ``d`` when ``d`` directions share it equally.

    Example
    -------
    >>> effective_dimension([1.0, 1.0, 0.0]), effective_dimension([1.0, 0.0])
    (2.0, 1.0)
    """
    v = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0.0, None)
    total = float((v ** 2).sum())
    return float(v.sum() ** 2 / total) if total > 0 else float("nan")


def per_entry_mse(reconstruction: ArrayLike, target: ArrayLike) -> np.ndarray:
    """Mean over samples of the squared reconstruction error of each entry.

    Input
    -----
    reconstruction, target : [n, ...], float (same shape; entries flattened)

    Output
    ------
    [e], float64, ``e`` = entries per sample (unit of ``target`` squared)

    Example
    -------
    >>> per_entry_mse([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [3.0, 2.0]]).tolist()
    [0.0, 4.0]
    """
    r = np.asarray(reconstruction, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if r.shape != t.shape or r.ndim < 1:
        raise ConfigError(f"reconstruction {r.shape} and target {t.shape} differ; expected "
                          "the same shape [n, ...]")
    return ((r - t) ** 2).reshape(len(r), -1).mean(axis=0)


def entry_correlation(entries: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Pearson correlation of every entry with every target column (0 where either is
    constant).

    Input
    -----
    entries : [n, e], y : [n, k] (or [n])

    Output
    ------
    [e, k], float64, in [-1, 1]

    Example
    -------
    >>> entry_correlation([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]], [0.0, 2.0, 4.0]).round(12).tolist()
    [[1.0], [0.0]]
    """
    a, b = _matrix("entries", entries), _matrix("y", y)
    if len(a) != len(b):
        raise ConfigError(f"entries has {len(a)} rows and y {len(b)}; expected the same number")
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    na, nb = np.sqrt((a ** 2).sum(axis=0)), np.sqrt((b ** 2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (a.T @ b) / np.outer(na, nb)
    return np.clip(np.where(np.isfinite(c), c, 0.0), -1.0, 1.0)


def rank_correlation(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation of two equally long vectors (ties ranked by their average;
    NaN when either is constant).

    Example
    -------
    >>> round(rank_correlation([1.0, 2.0, 3.0], [10.0, 20.0, 90.0]), 12)
    1.0
    >>> round(rank_correlation([1, 2, 3], [3, 1, 2]), 12)
    -0.5
    """
    from scipy.stats import rankdata

    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ConfigError(f"a has {x.size} values and b {y.size}; expected the same number")
    rx, ry = rankdata(x), rankdata(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass(frozen=True)
class ProbeTask:
    """What to probe for and how to score it: a task's part of the analysis
    (``TaskRun.analysis_task`` in the experiment layer; ``wirelessrl analyze``).

    Attributes
    ----------
    target : ``{split: [n, k] float64}`` for :data:`PROBE_SPLITS` (fit, strength, score),
        the target task's optimal solution (the probe's regression target)
    target_label : str, what ``target`` is, for the report
    score : ``(pred [n_test, k]) -> {metric: float}``, the task's test metrics of a probe's
        predictions
    metrics : ``{metric: label with unit}`` of ``score``; the first is the headline
    mode : ``"max"`` or ``"min"``, the headline's better direction
    select : ``(pred, y) -> float`` on ``target_valid`` picking the ridge strength, larger
        is better (default :func:`neg_mse`); select_label names it
    references : ``{label: pred [n_test, k]}``, predictions without a probe (full power,
        the centre, the majority class), scored with ``score``
    entry_shape : shape of one reconstruction-target sample (2-D: drawn as an image)
    entry_axes : ``(xlabel, ylabel)`` with units of that image
    entry_groups : ``{name: flat indices}`` over which the per-entry errors are summarized
        (D2D: diagonal / off-diagonal gains)
    entry_name : str, what an entry is (``"gain entry g[i, j]"``)
    """

    target: dict[str, np.ndarray]
    target_label: str
    score: Callable[[np.ndarray], dict[str, float]]
    metrics: dict[str, str]
    mode: str
    select: Callable[[np.ndarray, np.ndarray], float] = neg_mse
    select_label: str = "validation MSE"
    references: dict[str, np.ndarray] = field(default_factory=dict)
    entry_shape: tuple[int, ...] = ()
    entry_axes: tuple[str, str] = ("column (index)", "row (index)")
    entry_groups: dict[str, np.ndarray] = field(default_factory=dict)
    entry_name: str = "entry"

    @property
    def headline(self) -> str:
        """The first metric of :attr:`metrics`."""
        return next(iter(self.metrics))

    def __post_init__(self) -> None:
        missing = [s for s in PROBE_SPLITS if s not in self.target]
        if missing or not self.metrics or self.mode not in ("min", "max"):
            raise ConfigError(f"ProbeTask is invalid: target splits missing {missing}, "
                              f"{len(self.metrics)} metrics, mode {self.mode!r}; expected "
                              f"{', '.join(PROBE_SPLITS)}, at least one metric, 'min' or 'max'")
