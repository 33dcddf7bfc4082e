r"""Classical baselines for the MISO beamforming -> localization experiment (NumPy / SciPy).

Beamforming (source task): each BS ``b`` applies a unit-norm beamformer ``v_b``; metrics
against perfect MRT ``v_b = h_b / ||h_b||``:

.. math::

    G_b = \frac{|h_b^H v_b|^2}{\lVert h_b \rVert^2} \in [0, 1], \qquad
    \mathrm{SNR} = \frac{P_{bs}}{\sigma^2} \sum_b |h_b^H v_b|^2 .

- :func:`mrt` - perfect-CSI maximum ratio transmission (gain exactly 1, the reference).
- :func:`los_beamformer` - MRT on the line-of-sight part, position known (~91.5 %).
- :func:`genie_lmmse_beamformer` - position known, ``h_b`` estimated from the ``L`` pilots
  by LMMSE under the Rician prior, then MRT on the estimate (~92.3 %): the ceiling for any
  method that sees only the pilots, since they cannot reveal the rest of the fading.
- :func:`random_beamformer` - isotropic unit-norm vectors (``~1/M``).

Localization (target task):

- :func:`centre_guess` - the centre of the user area (~30.6 m mean error for [10, 90]^2).
- :func:`knn_fingerprint` - k nearest neighbours on standardized observations. It uses as
  many *labelled* positions as it is given fingerprints (e.g. 100,000), far more than the
  500 labels of the target task: an upper reference, not a like-for-like competitor.
- :func:`grid_localization` - posterior mean (MMSE) or maximum likelihood over a position
  grid, from the known model (pilots, sensing vectors, Rician prior); no labels at all.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from simulators.miso import (
    MisoConfig,
    MisoSystem,
    los_channel,
    path_gain,
)
from simulators.validation import ConfigError, check_choice, check_int, check_positive

# --------------------------------------------------------------------------------------
# Beamformers
# --------------------------------------------------------------------------------------


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _check_channels(name: str, h) -> np.ndarray:
    h = np.asarray(h)
    if h.ndim != 3:
        raise ConfigError(f"{name} shape {h.shape} is invalid; expected (n, n_bs, n_antennas)")
    return h


def mrt(h: np.ndarray) -> np.ndarray:
    r"""Maximum ratio transmission on perfect CSI, ``v_b = h_b / ||h_b||``.

    Input
    -----
    h : [n, n_bs, n_antennas], complex, channels

    Output
    ------
    v : [n, n_bs, n_antennas], complex, unit norm per (sample, BS)

    Example
    -------
    >>> h = np.array([[[3.0 + 0j, 4.0j]]])
    >>> float(beamforming_gain(h, mrt(h))[0, 0])
    1.0
    """
    return _unit(_check_channels("h", h))


def los_beamformer(config: MisoConfig, positions_m: np.ndarray) -> np.ndarray:
    r"""MRT on the line-of-sight component, ``v_b = a_b / \sqrt{M}``, position known.

    Ignores the fading; its mean gain is about ``(K M + 1) / ((K + 1) M)`` = 91.5 % of
    perfect MRT for K = 10, M = 16.

    Input
    -----
    config : MisoConfig
    positions_m : [n, 2], float, user (x, y) in m

    Output
    ------
    v : [n, n_bs, n_antennas], complex, unit norm
    """
    return _unit(los_channel(config, positions_m))


def genie_lmmse_estimate(
    config: MisoConfig, system: MisoSystem, positions_m: np.ndarray, y: np.ndarray
) -> np.ndarray:
    r"""LMMSE estimate of ``h_b`` from its ``L`` pilot observations, position known.

    With ``A_b`` the ``L x M`` matrix of rows ``x_l w_{b,l}^H`` (so ``y_b = A_b h_b + nu_b``),
    the Rician prior mean ``mu_b`` (:func:`simulators.miso.los_channel`) and covariance
    ``C_b = beta_b / (1 + K) I``:

    .. math::

        \hat h_b = \mu_b + C_b A_b^H \left(A_b C_b A_b^H + \sigma^2 I_L\right)^{-1}
                   (y_b - A_b \mu_b).

    The noise enters only through its covariance ``sigma^2 I``, the same for the
    constant-modulus and the Gaussian law (this is the LMMSE, exactly the MMSE for
    Gaussian noise).

    Input
    -----
    config : MisoConfig
    system : MisoSystem, the pilots and sensing vectors of the data
    positions_m : [n, 2], float, true user (x, y) in m
    y : [n, n_bs, n_pilots], complex, observations

    Output
    ------
    h_hat : [n, n_bs, n_antennas], complex
    """
    system.check_matches(config)
    y = np.asarray(y)
    mu = los_channel(config, positions_m)  # [n, B, M]
    if y.shape != mu.shape[:2] + (config.n_pilots,):
        raise ConfigError(
            f"y shape {y.shape} is invalid; expected {mu.shape[:2] + (config.n_pilots,)}"
        )
    c = path_gain(config, positions_m) / (1.0 + float(config.rician_k))  # [n, B]
    a = system.pilots[None, :, None] * system.sensing.conj()  # [B, L, M]
    gram = np.einsum("blm,bkm->blk", a, a.conj())  # [B, L, L] = A A^H
    eye = np.eye(config.n_pilots)
    cov_y = c[..., None, None] * gram[None] + config.noise_w * eye  # [n, B, L, L]
    resid = y - np.einsum("blm,nbm->nbl", a, mu)  # [n, B, L]
    z = np.linalg.solve(cov_y, resid[..., None])[..., 0]  # [n, B, L]
    return mu + c[..., None] * np.einsum("blm,nbl->nbm", a.conj(), z)


def genie_lmmse_beamformer(
    config: MisoConfig, system: MisoSystem, positions_m: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """MRT on :func:`genie_lmmse_estimate` (about 92.3 % of perfect MRT in ``paper``).

    Output
    ------
    v : [n, n_bs, n_antennas], complex, unit norm
    """
    return _unit(genie_lmmse_estimate(config, system, positions_m, y))


def random_beamformer(n: int, n_bs: int, n_antennas: int, seed: int) -> np.ndarray:
    """Isotropic unit-norm beamformers (CN(0, I) draws, normalized); mean gain ``1/M``.

    Output
    ------
    v : [n, n_bs, n_antennas], complex, unit norm

    Example
    -------
    >>> random_beamformer(2, 3, 16, seed=0).shape
    (2, 3, 16)
    """
    n = check_int("n", n, 1)
    n_bs = check_int("n_bs", n_bs, 1)
    n_antennas = check_int("n_antennas", n_antennas, 1)
    rng = np.random.default_rng(seed)
    shape = (n, n_bs, n_antennas)
    return _unit(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


# --------------------------------------------------------------------------------------
# Beamforming metrics
# --------------------------------------------------------------------------------------


def beamforming_gain(h: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""Normalized gain ``|h_b^H v_b|^2 / ||h_b||^2`` (1 for MRT, any unit-norm ``v`` <= 1).

    Input
    -----
    h, v : [n, n_bs, n_antennas], complex (``v`` unit norm)

    Output
    ------
    gain : [n, n_bs], float, fraction of the perfect-MRT gain
    """
    h = _check_channels("h", h)
    v = _check_channels("v", v)
    inner = np.sum(h.conj() * v, axis=-1)
    return np.abs(inner) ** 2 / np.sum(np.abs(h) ** 2, axis=-1)


def snr_fraction_of_mrt(h: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""Received SNR over the perfect-MRT SNR, ``sum_b |h_b^H v_b|^2 / sum_b ||h_b||^2``.

    Output
    ------
    fraction : [n], float in [0, 1]
    """
    h = _check_channels("h", h)
    inner = np.abs(np.sum(h.conj() * np.asarray(v), axis=-1)) ** 2
    return inner.sum(axis=-1) / np.sum(np.abs(h) ** 2, axis=(-2, -1))


def received_snr_db(h: np.ndarray, v: np.ndarray, p_bs_w: float, noise_w: float) -> np.ndarray:
    r"""Downlink received SNR, ``10 log10( sum_b |h_b^H v_b|^2 P_bs / sigma^2 )``.

    Input
    -----
    h, v : [n, n_bs, n_antennas], complex
    p_bs_w : float, transmit power per BS in W
    noise_w : float, noise power in W

    Output
    ------
    snr_db : [n], float, dB
    """
    check_positive("p_bs_w", p_bs_w)
    check_positive("noise_w", noise_w)
    h = _check_channels("h", h)
    inner = np.abs(np.sum(h.conj() * np.asarray(v), axis=-1)) ** 2  # [n, B]
    return 10.0 * np.log10(inner.sum(axis=-1) * p_bs_w / noise_w)


# --------------------------------------------------------------------------------------
# Localization
# --------------------------------------------------------------------------------------


def centre_guess(n: int, config: MisoConfig | None = None) -> np.ndarray:
    """Predict the centre of the user area for every user ((50, 50) m in ``paper``).

    Output
    ------
    positions_m : [n, 2], float
    """
    n = check_int("n", n, 1)
    lo, hi = (config or MisoConfig()).user_area_m
    return np.full((n, 2), 0.5 * (lo + hi))


def knn_fingerprint(
    train_features: np.ndarray,
    train_positions_m: np.ndarray,
    query_features: np.ndarray,
    k: int = 10,
) -> np.ndarray:
    r"""k-nearest-neighbour fingerprinting on standardized features.

    Features (e.g. :func:`simulators.miso.observations_to_real`, 24 reals) are standardized
    per column with the fingerprint set's mean and std; the prediction is the mean position
    of the ``k`` nearest fingerprints (Euclidean, :class:`scipy.spatial.cKDTree`).

    Uses ``len(train_features)`` labelled positions: with 100,000 fingerprints that is 200
    times the 500 labels of the target task.

    Input
    -----
    train_features : [n_train, F], float
    train_positions_m : [n_train, 2], float, m
    query_features : [n, F], float
    k : int, neighbours (1 <= k <= n_train)

    Output
    ------
    positions_m : [n, 2], float

    Example
    -------
    >>> f = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    >>> p = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 10.0]])
    >>> knn_fingerprint(f, p, f[1:2], k=1).tolist()
    [[20.0, 20.0]]
    """
    train = np.asarray(train_features, dtype=np.float64)
    query = np.asarray(query_features, dtype=np.float64)
    pos = np.asarray(train_positions_m, dtype=np.float64)
    if train.ndim != 2 or query.ndim != 2 or train.shape[1] != query.shape[1]:
        raise ConfigError(
            f"feature shapes {train.shape} and {query.shape} are invalid; expected "
            "(n_train, F) and (n, F)"
        )
    if pos.shape != (train.shape[0], 2):
        raise ConfigError(
            f"train_positions_m shape {pos.shape} is invalid; expected ({train.shape[0]}, 2)"
        )
    k = check_int("k", k, 1)
    if k > train.shape[0]:
        raise ConfigError(f"k={k} is invalid; expected k <= n_train={train.shape[0]}")
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    tree = cKDTree((train - mean) / std)
    _, idx = tree.query((query - mean) / std, k=k)
    idx = idx.reshape(query.shape[0], k)
    return pos[idx].mean(axis=1)


def _grid_loglik(config, system, grid_m, y):
    """-log-likelihood (up to constants) of ``y`` [n, B, L] at ``grid_m`` [1 or n, G, 2].

    Returns [n, G]: a shared grid (leading 1) or one grid per query.
    """
    n, n_bs, n_pilots = y.shape
    g = grid_m.reshape(-1, 2)
    mu = los_channel(config, g)  # [Q, B, M]
    c = path_gain(config, g) / (1.0 + float(config.rician_k))  # [Q, B]
    a = system.pilots[None, :, None] * system.sensing.conj()  # [B, L, M]
    gram = np.einsum("blm,bkm->blk", a, a.conj())  # [B, L, L]
    cov = c[..., None, None] * gram + config.noise_w * np.eye(n_pilots)  # [Q, B, L, L]
    chol = np.linalg.cholesky(cov)
    logdet = 2.0 * np.sum(np.log(np.abs(np.diagonal(chol, axis1=-2, axis2=-1))), axis=-1)
    mean_y = np.einsum("blm,qbm->qbl", a, mu).reshape(grid_m.shape[:-1] + (n_bs, n_pilots))
    chol = chol.reshape(grid_m.shape[:-1] + (n_bs, n_pilots, n_pilots))
    logdet = logdet.reshape(grid_m.shape[:-1] + (n_bs,))
    resid = y[:, None] - mean_y  # [n, G, B, L]
    chol_b = np.broadcast_to(chol, resid.shape + (n_pilots,))
    white = _forward_substitution(chol_b, resid)
    return np.sum(np.abs(white) ** 2, axis=-1).sum(-1) + logdet.sum(-1)


def _forward_substitution(lower: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``lower x = b`` for lower-triangular ``lower`` [..., L, L], ``b`` [..., L]."""
    x = np.empty(np.broadcast_shapes(b.shape, lower.shape[:-1]), dtype=np.complex128)
    for i in range(b.shape[-1]):
        acc = b[..., i] - np.sum(lower[..., i, :i] * x[..., :i], axis=-1)
        x[..., i] = acc / lower[..., i, i]
    return x


GRID_ESTIMATORS = ("mmse", "ml")
"""Estimators of :func:`grid_localization`: posterior mean or maximum likelihood."""


def grid_localization(
    config: MisoConfig,
    system: MisoSystem,
    y: np.ndarray,
    *,
    estimator: str = "mmse",
    grid_step_m: float = 1.0,
    refine_step_m: float = 0.1,
    chunk_size: int = 32,
) -> np.ndarray:
    r"""Model-based position estimate from the pilots: posterior mean or maximum likelihood.

    Given the position ``p``, ``h_b ~ CN(mu_b(p), beta_b(p)/(1+K) I)``, so with ``A_b`` as in
    :func:`genie_lmmse_estimate`

    .. math::

        y_b \mid p \sim \mathcal{CN}\big(A_b \mu_b(p),\ S_b(p)\big), \qquad
        S_b(p) = \tfrac{\beta_b(p)}{1+K} A_b A_b^H + \sigma^2 I_L,

        -\log f(y \mid p) = \sum_b (y_b - A_b\mu_b)^H S_b^{-1} (y_b - A_b\mu_b)
                            + \log\det S_b + \text{const}.

    Exact for Gaussian noise; a second-order match for the constant-modulus noise. The
    likelihood is evaluated on a grid of step ``grid_step_m`` over the user area.

    - ``estimator="mmse"``: posterior mean under the uniform prior of the user area (the
      minimum mean-square-error estimate, up to the grid and the noise approximation): the
      classical reference for the localization task's MSE loss. The grid must be finer
      than the posterior (a few m at the paper's SNR); at very high SNR the posterior
      collapses onto the nearest grid point, use ``"ml"`` there.
    - ``estimator="ml"``: best grid point, then a ``(2 grid_step_m)``-wide square of step
      ``refine_step_m`` around it.

    Uses the model and the system only: no labelled data.

    Input
    -----
    config : MisoConfig
    system : MisoSystem
    y : [n, n_bs, n_pilots], complex, observations
    estimator : 'mmse' or 'ml'
    grid_step_m, refine_step_m : float, m
    chunk_size : int, queries per vectorized block (memory ~ 200 B x chunk x grid points)

    Output
    ------
    positions_m : [n, 2], float, inside the user area
    """
    check_choice("estimator", estimator, GRID_ESTIMATORS)
    system.check_matches(config)
    y = np.asarray(y)
    if y.ndim != 3 or y.shape[1:] != (config.n_bs, config.n_pilots):
        raise ConfigError(
            f"y shape {y.shape} is invalid; expected (n, {config.n_bs}, {config.n_pilots})"
        )
    grid_step_m = check_positive("grid_step_m", grid_step_m)
    refine_step_m = check_positive("refine_step_m", refine_step_m)
    chunk_size = check_int("chunk_size", chunk_size, 1)
    lo, hi = config.user_area_m
    axis = np.linspace(lo, hi, int(math.ceil((hi - lo) / grid_step_m)) + 1)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel()], axis=-1)[None]  # [1, G, 2]
    half = int(math.ceil(grid_step_m / refine_step_m))
    offs = np.arange(-half, half + 1) * refine_step_m
    ox, oy = np.meshgrid(offs, offs, indexing="ij")
    local = np.stack([ox.ravel(), oy.ravel()], axis=-1)  # [R, 2]
    out = np.empty((y.shape[0], 2))
    for start in range(0, y.shape[0], chunk_size):
        part = slice(start, min(start + chunk_size, y.shape[0]))
        yy = y[part]
        score = _grid_loglik(config, system, grid, yy)  # [c, G]
        if estimator == "mmse":
            weight = np.exp(-(score - score.min(axis=1, keepdims=True)))  # [c, G]
            weight /= weight.sum(axis=1, keepdims=True)
            out[part] = weight @ grid[0]
        else:
            best = grid[0, np.argmin(score, axis=1)]  # [c, 2]
            cand = np.clip(best[:, None, :] + local[None], lo, hi)  # [c, R, 2]
            score = _grid_loglik(config, system, cand, yy)  # [c, R]
            out[part] = cand[np.arange(len(cand)), np.argmin(score, axis=1)]
    return out


def localization_errors_m(pred_m: np.ndarray, true_m: np.ndarray) -> np.ndarray:
    """Euclidean errors ``||pred - true||`` in m, shape [n]."""
    pred = np.asarray(pred_m, dtype=np.float64)
    true = np.asarray(true_m, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] != 2:
        raise ConfigError(
            f"pred_m shape {pred.shape} and true_m shape {true.shape} are invalid; expected "
            "equal shapes (n, 2)"
        )
    return np.sqrt(np.sum((pred - true) ** 2, axis=-1))


def summarize_errors(errors_m: np.ndarray) -> dict[str, float]:
    """Mean, median and 90th percentile of localization errors (m)."""
    e = np.asarray(errors_m, dtype=np.float64)
    return {
        "mean_m": float(e.mean()),
        "median_m": float(np.median(e)),
        "p90_m": float(np.percentile(e, 90)),
    }


__all__ = [
    "beamforming_gain",
    "centre_guess",
    "genie_lmmse_beamformer",
    "genie_lmmse_estimate",
    "knn_fingerprint",
    "localization_errors_m",
    "los_beamformer",
    "GRID_ESTIMATORS",
    "grid_localization",
    "mrt",
    "random_beamformer",
    "received_snr_db",
    "snr_fraction_of_mrt",
    "summarize_errors",
]
