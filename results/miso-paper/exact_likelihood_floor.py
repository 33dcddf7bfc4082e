"""Label-free localization floor of the MISO experiment: exact-likelihood posterior mean.

An exploration script (not part of the package). It gives the numbers in
``notes-6m-plateau.md``.

Per BS, ``y_l = m_l(p) + sqrt(c(p)) sum_{k<=l} L_lk z_k + sigma u_l``. Here ``G = L L^H`` is the
Gram of the rows ``x_l w_l^H``, ``z ~ CN(0, I)`` is the Rician fading seen through the pilots,
and ``|u_l| = 1`` is the paper's constant-modulus noise with uniform phase. The likelihood
``p(y | p)`` is estimated with a fully adapted sequential importance sampler over the
pilots ``l``:

- weight by ``p(y_l | z_<l)``, a closed-form Rice-type density;
- draw the noise phase ``u_l`` exactly from its von Mises conditional;
- set ``z_l = (r' - sigma u_l) / (sqrt(c) L_ll)``.

The posterior mean (and geometric median) is then taken on a grid over the user area.
The support is the region where a cheap diagonal approximation lies within 30 nats of its
maximum.

Usage (from the repository root, after ``wirelessrl reproduce miso --scale paper -o
runs/miso-paper``)::

    python results/miso-paper/exact_likelihood_floor.py N_USERS PARTICLES OFFSET GRID_STEP_M
    python results/miso-paper/exact_likelihood_floor.py 500 64 0 1.0     # ~0.7 s per user

Prints mean / median / p90 / RMSE errors of the diagonal approximation, the exact posterior
mean and the exact posterior geometric median on test users ``OFFSET .. OFFSET + N_USERS``.
"""

import sys
import time

import numpy as np
from scipy.special import i0e, logsumexp

from baselines.miso import localization_errors_m, summarize_errors
from simulators.miso import MisoConfig, los_channel, make_system, path_gain
from wirelessrl.datasets import load_miso

TEST_FILE = "runs/miso-paper/seed-123/data/test.h5"


def main(n_test: int, n_particles: int, offset: int, step_m: float) -> None:
    cfg = MisoConfig.from_preset("paper")
    system = make_system(cfg, 0)
    test = load_miso(TEST_FILE, system)
    lo, hi = cfg.user_area_m
    axis = np.linspace(lo, hi, int(round((hi - lo) / step_m)) + 1)
    gx, gy = np.meshgrid(axis, axis, indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel()], -1)  # [G, 2]
    a = system.pilots[None, :, None] * system.sensing.conj()  # [B, L, M]
    mean_y = np.einsum("blm,gbm->gbl", a, los_channel(cfg, grid))  # [G, B, L]
    c_grid = path_gain(cfg, grid) / (1 + cfg.rician_k)  # [G, B]
    gram = np.einsum("blm,bkm->blk", a, a.conj())  # [B, L, L]
    chol = np.linalg.cholesky(gram)  # [B, L, L], lower
    gram_diag = np.real(np.einsum("bll->bl", gram))  # [B, L]
    s2 = cfg.noise_w
    s = np.sqrt(s2)
    n_pilots = cfg.n_pilots
    rng = np.random.default_rng(1)

    def rice_logpdf(r_abs, v):
        """log density of r = sqrt(v) z + s u, z ~ CN(0, 1), |u| = 1 uniform phase."""
        z = 2 * s * r_abs / v
        return -np.log(np.pi * v) - (r_abs**2 + s2) / v + np.log(i0e(z)) + z

    def loglik_diag(y):  # fading correlation across pilots ignored
        v = c_grid[..., None] * gram_diag[None]
        return rice_logpdf(np.abs(y[None] - mean_y), v).sum((-1, -2))

    def loglik_exact(y, idx):
        r0 = y[None] - mean_y[idx]  # [S, B, L]
        sc = np.sqrt(c_grid[idx])[..., None]  # [S, B, 1]
        z = np.zeros(r0.shape[:2] + (n_particles, n_pilots), complex)
        logw = np.zeros(r0.shape[:2] + (n_particles,))
        for pilot in range(n_pilots):
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

    est = {k: np.empty((n_test, 2)) for k in ("diag", "exact", "exact_geomed")}
    ess_median = []
    start = time.time()
    for i in range(n_test):
        y = test.y[offset + i]
        ld = loglik_diag(y)
        w = np.exp(ld - ld.max())
        est["diag"][i] = (w / w.sum()) @ grid
        idx = np.nonzero(ld >= ld.max() - 30)[0]
        le, ess = loglik_exact(y, idx)
        ess_median.append(np.median(ess))
        w = np.exp(le - le.max())
        w /= w.sum()
        pts = grid[idx]
        est["exact"][i] = w @ pts
        q = est["exact"][i].copy()
        for _ in range(50):  # Weiszfeld: geometric median of the posterior
            d = np.maximum(np.linalg.norm(pts - q, axis=1), 1e-6)
            q = (w / d) @ pts / (w / d).sum()
        est["exact_geomed"][i] = q
    print(f"{n_test} users from {offset}, {n_particles} particles, grid {step_m} m: "
          f"{time.time() - start:.0f} s; median ESS {np.median(ess_median):.1f}")
    true = test.positions_m[offset:offset + n_test]
    for name, pred in est.items():
        e = localization_errors_m(pred, true)
        stats = {k: round(v, 3) for k, v in summarize_errors(e).items()}
        print(name, stats, "rmse", round(float(np.sqrt(np.mean(e**2))), 3))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
