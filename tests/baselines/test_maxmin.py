"""Max-min SINR: batched solver against cvxpy's GP, the spectral identity and the structure
of the optimum (equal SINRs, one link at full power)."""

import numpy as np
import pytest
from baseline_helpers import layouts

from baselines.maxmin import maxmin, maxmin_cvxpy
from simulators.rates import link_rates_bps, sinr


def _cases():
    """>= 200 seeded layouts, mostly N = 10, with per-link limits and small N."""
    rng = np.random.default_rng(21)
    cases = []
    for preset, n_layouts, n_links in [
        ("paper", 100, 10),
        ("paper-fading", 50, 10),
        ("spatial-2019", 20, 10),
        ("paper", 20, 3),
        ("paper-fading", 10, 3),
        ("paper", 5, 1),
    ]:
        cfg, data = layouts(preset, n_layouts, 31, n_links=n_links)
        p_max = np.full(data.g.shape[:2], cfg.p_max_w)
        p_max[::2] *= rng.uniform(0.05, 1.0, p_max[::2].shape)  # every other: per-link
        cases.append((preset, data.g, p_max, cfg.noise_w))
    return cases


CASES = _cases()


def test_agrees_with_cvxpy_gp_on_215_layouts():
    count = 0
    for preset, g, p_max, noise in CASES:
        fast = maxmin(g, p_max, noise)
        assert np.all(fast.status == "optimal"), preset
        t_fast = sinr(g, fast.x * p_max, noise).min(axis=1)
        for b in range(g.shape[0]):
            ref = maxmin_cvxpy(g[b], p_max[b], noise)
            assert ref.status in ("optimal", "converged"), (preset, b, ref.solver_status)
            t_ref = sinr(g[b][None], ref.p_w, noise).min()
            assert t_fast[b] == pytest.approx(t_ref, rel=1e-4), (preset, b)
            assert ref.min_sinr == pytest.approx(t_ref, rel=1e-4)
            # the exact solver is never beaten by the interior-point solution
            assert t_fast[b] >= t_ref * (1 - 1e-7)
            count += 1
    assert count >= 200


def test_optimum_structure_equal_sinrs_and_one_link_at_limit():
    for preset, g, p_max, noise in CASES:
        sol = maxmin(g, p_max, noise)
        s = sinr(g, sol.x * p_max, noise)
        assert np.all(s.max(axis=1) / s.min(axis=1) - 1 <= 1e-9), preset
        assert np.all(sol.x.max(axis=1) >= 1 - 1e-12) and sol.x.max() <= 1.0
        assert sol.x.min() > 0


def test_matches_spectral_identity_with_per_link_limits():
    """1 / t* = max_k rho(F + u e_k^T / P_k) (Cai, Quek, Tan, Low 2012)."""
    for _, g, p_max, noise in CASES[:3]:
        g, p_max = g[:20], p_max[:20]
        sol = maxmin(g, p_max, noise)
        t = sinr(g, sol.x * p_max, noise).min(axis=1)
        n = g.shape[-1]
        for b in range(20):
            dg = np.diag(g[b])
            f = g[b] / dg[:, None]
            np.fill_diagonal(f, 0.0)
            u = noise / dg
            rho = max(np.abs(np.linalg.eigvals(f + np.outer(u, np.eye(n)[k]) / p_max[b, k])).max()
                      for k in range(n))
            assert t[b] * rho == pytest.approx(1.0, rel=1e-10)


def test_single_link_is_at_full_power_with_its_snr():
    g = np.array([[[3e-9]], [[1e-20]]])
    sol = maxmin(g, np.array([[2.0], [0.5]]), 5e-12)
    np.testing.assert_array_equal(sol.x, 1.0)
    snr = np.array([3e-9 * 2.0, 1e-20 * 0.5]) / 5e-12
    np.testing.assert_allclose(sinr(g, sol.x * np.array([[2.0], [0.5]]), 5e-12)[:, 0], snr,
                               rtol=1e-14)
    assert list(sol.status) == ["optimal", "optimal"]


@pytest.mark.parametrize("scale", [1e-20, 1.0])
def test_tiny_gains_and_uniform_matrix(scale):
    # all gains equal: by symmetry every link at full power, SINR = s / ((n - 1) s + noise)
    n = 5
    g = np.full((1, n, n), scale)
    noise = 5e-12
    sol = maxmin(g, 1.0, noise)
    np.testing.assert_allclose(sol.x, 1.0, rtol=1e-12)
    t = sinr(g, sol.x, noise).min()
    assert t == pytest.approx(scale / ((n - 1) * scale + noise), rel=1e-12)
    # paper gains shrunk to ~1e-20: still exact and agreeing with the GP
    _, data = layouts("paper", 10, 3)
    g_small = data.g * (1e-20 / data.g.max())
    sol = maxmin(g_small, 1.0, noise)
    assert np.all(sol.status == "optimal")
    t = sinr(g_small, sol.x, noise).min(axis=1)
    for b in range(3):
        ref = maxmin_cvxpy(g_small[b], 1.0, noise)
        assert ref.status in ("optimal", "converged")
        assert t[b] == pytest.approx(sinr(g_small[b][None], ref.p_w, noise).min(), rel=1e-4)


def test_no_interference_gives_each_link_its_snr_bound():
    g = np.zeros((1, 4, 4))
    g[0, range(4), range(4)] = [1e-9, 2e-9, 3e-9, 4e-9]
    sol = maxmin(g, 1.0, 5e-12)
    t = sinr(g, sol.x, 5e-12).min()
    assert t == pytest.approx(1e-9 / 5e-12, rel=1e-12)
    ref = maxmin_cvxpy(g[0], 1.0, 5e-12)  # zero coefficients are left out of the GP
    assert ref.status == "optimal" and ref.min_sinr == pytest.approx(t, rel=1e-5)


@pytest.mark.parametrize("field_m", [1000.0, 2000.0])
def test_n200_at_spatial_2019_density(field_m):
    """N = 200 in the preset's 1000 m field (4x its density) and in 2000 m (its density)."""
    cfg, data = layouts("spatial-2019", 2, 8, n_links=200, redraw="offending", field_m=field_m)
    sol = maxmin(data.g, cfg.p_max_w, cfg.noise_w)
    assert np.all(sol.status == "optimal")
    s = sinr(data.g, sol.x * cfg.p_max_w, cfg.noise_w)
    assert np.all(s.max(axis=1) / s.min(axis=1) - 1 <= 1e-9)
    assert np.all(sol.x.max(axis=1) == 1.0)
    # optimality certificate without an eigensolver: for the link k at its limit,
    # t* = 1 / max_j rho(B_j) <= 1 / rho(B_k) <= 1 / min_i (B_k p)_i / p_i
    # (Collatz-Wielandt), with B_k = F + u e_k^T / P_k; and t* >= min SINR (feasible)
    for b in range(2):
        p = sol.x[b] * cfg.p_max_w
        dg = np.diag(data.g[b])
        f = data.g[b] / dg[:, None]
        np.fill_diagonal(f, 0.0)
        k = int(np.argmax(sol.x[b]))
        bkp = (f * p).sum(axis=1) + cfg.noise_w / dg * p[k] / cfg.p_max_w  # B_k p, no BLAS
        upper = 1.0 / np.min(bkp / p)
        assert s[b].min() <= upper * (1 + 1e-12)
        assert upper == pytest.approx(s[b].min(), rel=1e-9)


def test_gap_changes_only_the_reported_rate():
    cfg, data = layouts("paper", 20, 4)
    plain = maxmin(data.g, cfg.p_max_w, cfg.noise_w)
    gapped = maxmin(data.g, cfg.p_max_w, cfg.noise_w, snr_gap_db=6.0)
    np.testing.assert_array_equal(plain.x, gapped.x)
    rates = link_rates_bps(data.g, gapped.x * cfg.p_max_w, cfg.noise_w, 1.0, 6.0)
    np.testing.assert_allclose(gapped.objective, rates.min(axis=1), rtol=1e-12)
    assert np.all(gapped.objective < plain.objective)


def test_max_iter_is_reported():
    cfg, data = layouts("paper", 5, 4)
    sol = maxmin(data.g, cfg.p_max_w, cfg.noise_w, max_iter=1)
    assert np.all(sol.status == "max_iter")
    assert np.all(np.isfinite(sol.x)) and np.all(sol.iterations == 1)
