r"""Label-free localization floor of the MISO system: the exact-likelihood posterior mean.

Per BS :math:`b`, the :math:`L` pilot observations are

.. math::

    y_l = m_l(p) + \sqrt{c(p)} \sum_{k \le l} L_{lk} z_k + \sigma u_l,
    \qquad G = L L^H,\; z \sim \mathcal{CN}(0, I),\; |u_l| = 1

with :math:`m(p)` the line-of-sight mean seen through pilots and sensing vectors,
:math:`c(p) = \beta(p) / (1 + K)` the Rician scatter power, :math:`G` the Gram matrix of the
rows :math:`x_l w_l^H` and :math:`u_l` the paper's constant-modulus noise with uniform
phase. The likelihood :math:`p(y \mid p)` has no closed form (the fading is correlated across
pilots and the noise is not Gaussian); it is estimated with a fully adapted sequential
importance sampler over the pilots: weight by :math:`p(y_l \mid z_{<l})`, a closed-form
Rice-type density, draw the noise phase exactly from its von Mises conditional, and set
:math:`z_l = (r' - \sigma u_l) / (\sqrt{c} L_{ll})`. The posterior mean (and the posterior
geometric median, the minimizer of the expected error) is then taken on a grid over the user
area, restricted to the points where the cheap *diagonal* likelihood (fading correlation
ignored, which is exact for one pilot) lies within ``support_nats`` of its maximum.

It knows the channel model and the system (pilots, sensing vectors), uses no labels, and
bounds what any estimator can do on a system draw (the README's 5.24 m on the first 500
test users of the paper-scale run, system seed 0). About 0.7 s per user on one core with a
1 m grid and 64 particles.
"""

from __future__ import annotations

import numpy as np
from scipy.special import i0e, logsumexp

from simulators.miso import MisoConfig, MisoSystem, los_channel, path_gain
from simulators.validation import ConfigError, check_int, check_positive

__all__ = ["ESTIMATES", "exact_likelihood_localization"]

ESTIMATES = ("diag", "exact", "exact_geomed")
"""The estimates returned: diagonal-likelihood posterior mean, exact posterior mean, exact
posterior geometric median."""


def _grid(cfg: MisoConfig, step_m: float) -> np.ndarray:
    lo, hi = cfg.user_area_m
    axis = np.linspace(lo, hi, int(round((hi - lo) / step_m)) + 1)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], -1)  # [G, 2]


def exact_likelihood_localization(
    cfg: MisoConfig,
    system: MisoSystem,
    y: np.ndarray,
    grid_step_m: float = 1.0,
    n_particles: int = 64,
    support_nats: float = 30.0,
    seed: int = 1,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    r"""Label-free position estimates from the exact likelihood of the pilot observations.

    Input
    -----
    cfg : :class:`~simulators.miso.MisoConfig`, the system model
    system : :class:`~simulators.miso.MisoSystem`, its pilots and sensing vectors
    y : [n, B, L] complex, received pilot observations of ``n`` users
    grid_step_m : float > 0, spacing of the position grid over the user area (m)
    n_particles : int >= 1, importance-sampling particles per grid point and BS
    support_nats : float > 0, grid points kept: diagonal log-likelihood within this many
        nats of its maximum
    seed : int >= 0, seed of the sampler (one stream, users in order)
    progress : bool, a tqdm bar over users

    Output
    ------
    dict with ``diag``, ``exact``, ``exact_geomed`` : [n, 2] float, positions (m), and
    ``ess_median`` : [n] float, median effective sample size of the weights per user

    Example
    -------
    >>> from simulators.miso import generate_miso, make_system
    >>> cfg = MisoConfig.from_preset("paper")
    >>> system = make_system(cfg, 0)
    >>> users = generate_miso(cfg, 2, seed=1, system=system)
    >>> est = exact_likelihood_localization(cfg, system, users.y, grid_step_m=10.0,
    ...                                     n_particles=8)
    >>> est["exact"].shape
    (2, 2)
    """
    y = np.asarray(y)
    if y.ndim != 3 or y.shape[1:] != (cfg.n_bs, cfg.n_pilots):
        raise ConfigError(f"y has shape {y.shape}; expected [n, {cfg.n_bs}, {cfg.n_pilots}] "
                          "(users, BSs, pilots)")
    step = check_positive("grid_step_m", grid_step_m)
    n_particles = check_int("n_particles", n_particles, 1)
    support = check_positive("support_nats", support_nats)
    seed = check_int("seed", seed, 0)
    grid = _grid(cfg, step)  # [G, 2]
    a = system.pilots[None, :, None] * system.sensing.conj()  # [B, L, M]
    mean_y = np.einsum("blm,gbm->gbl", a, los_channel(cfg, grid))  # [G, B, L]
    c_grid = path_gain(cfg, grid) / (1 + cfg.rician_k)  # [G, B]
    gram = np.einsum("blm,bkm->blk", a, a.conj())  # [B, L, L]
    chol = np.linalg.cholesky(gram)  # [B, L, L], lower
    gram_diag = np.real(np.einsum("bll->bl", gram))  # [B, L]
    s2 = cfg.noise_w
    s = np.sqrt(s2)
    rng = np.random.default_rng(seed)

    def rice_logpdf(r_abs, v):
        """log density of r = sqrt(v) z + s u, z ~ CN(0, 1), |u| = 1 uniform phase."""
        z = 2 * s * r_abs / v
        return -np.log(np.pi * v) - (r_abs**2 + s2) / v + np.log(i0e(z)) + z

    def loglik_diag(yi):  # [G]; fading correlation across pilots ignored
        v = c_grid[..., None] * gram_diag[None]
        return rice_logpdf(np.abs(yi[None] - mean_y), v).sum((-1, -2))

    def loglik_exact(yi, idx):  # [S], [S, B]
        r0 = yi[None] - mean_y[idx]  # [S, B, L]
        sc = np.sqrt(c_grid[idx])[..., None]  # [S, B, 1]
        z = np.zeros(r0.shape[:2] + (n_particles, cfg.n_pilots), complex)
        logw = np.zeros(r0.shape[:2] + (n_particles,))
        for pilot in range(cfg.n_pilots):
            fading = np.einsum("bk,sbnk->sbn", chol[:, pilot, :pilot], z[..., :pilot])
            rp = r0[:, :, pilot, None] - sc * fading
            l_ll = chol[:, pilot, pilot].real[None, :, None]
            v = sc**2 * l_ll**2
            r_abs = np.abs(rp)
            logw += rice_logpdf(r_abs, v)
            u = np.exp(1j * rng.vonmises(np.angle(rp), 2 * s * r_abs / v))
            z[..., pilot] = (rp - s * u) / (sc * l_ll)
        w = np.exp(logw - logw.max(-1, keepdims=True))
        ess = w.sum(-1) ** 2 / (w**2).sum(-1)
        return (logsumexp(logw, axis=-1) - np.log(n_particles)).sum(-1), ess

    n = len(y)
    est = {k: np.empty((n, 2)) for k in ESTIMATES}
    ess_median = np.empty(n)
    users = range(n)
    if progress:
        from tqdm.auto import tqdm

        users = tqdm(users, unit="user")
    for i in users:
        ld = loglik_diag(y[i])
        w = np.exp(ld - ld.max())
        est["diag"][i] = (w / w.sum()) @ grid
        idx = np.nonzero(ld >= ld.max() - support)[0]
        le, ess = loglik_exact(y[i], idx)
        ess_median[i] = np.median(ess)
        w = np.exp(le - le.max())
        w /= w.sum()
        pts = grid[idx]
        est["exact"][i] = w @ pts
        q = est["exact"][i].copy()
        for _ in range(50):  # Weiszfeld: geometric median of the posterior
            d = np.maximum(np.linalg.norm(pts - q, axis=1), 1e-6)
            q = (w / d) @ pts / (w / d).sum()
        est["exact_geomed"][i] = q
    return {**est, "ess_median": ess_median}
