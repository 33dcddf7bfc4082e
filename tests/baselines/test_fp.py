"""FP: Numba kernel against the NumPy reference, bounds, the SNR gap, KKT stationarity."""

import numpy as np
import pytest
from baseline_helpers import layouts, wsr_gradient

from baselines.fp import fp, fp_numpy
from baselines.wmmse import wmmse
from simulators.rates import link_rates_bps
from simulators.units import db_to_lin


def _problem(preset="paper", n=64, seed=5, **overrides):
    """Layouts plus seeded per-link power limits and weights."""
    cfg, data = layouts(preset, n, seed, **overrides)
    rng = np.random.default_rng(seed)
    shape = data.g.shape[:2]
    p_max = cfg.p_max_w * rng.uniform(0.2, 1.0, shape)
    weights = rng.uniform(0.5, 2.0, shape)
    return cfg, data.g, p_max, weights


@pytest.mark.parametrize("preset", ["paper", "paper-fading", "spatial-2019"])
@pytest.mark.parametrize("gap_db", [0.0, 6.0])
def test_fp_equals_numpy_reference_and_stays_in_box(preset, gap_db):
    cfg, g, p_max, w = _problem(preset, n_links=10)
    for kwargs in ({}, {"weights": w, "tol": 1e-6, "iterations": 300}):
        fast = fp(g, p_max, cfg.noise_w, snr_gap_db=gap_db, **kwargs)
        ref = fp_numpy(g, p_max, cfg.noise_w, snr_gap_db=gap_db, **kwargs)
        np.testing.assert_allclose(fast.x, ref.x, rtol=0, atol=1e-9)
        np.testing.assert_allclose(fast.history, ref.history, rtol=1e-9)
        np.testing.assert_array_equal(fast.iterations, ref.iterations)
        np.testing.assert_array_equal(fast.status, ref.status)
        assert fast.x.min() >= 0.0 and fast.x.max() <= 1.0
        assert set(fast.status) <= {"converged", "max_iter"}


def test_fp_default_is_150_iterations_from_full_power():
    cfg, data = layouts("paper", 32, 5)
    sol = fp(data.g, cfg.p_max_w, cfg.noise_w)
    assert sol.history.shape == (32, 150)
    assert np.all(sol.iterations == 150) and np.all(sol.status == "max_iter")
    one = fp(data.g, cfg.p_max_w, cfg.noise_w, iterations=1)
    # a single update from x = 1 equals the first column of the full run
    np.testing.assert_allclose(one.history[:, 0], sol.history[:, 0], rtol=1e-12)


@pytest.mark.parametrize("gap_db", [0.0, 6.0])
def test_fp_objective_is_weighted_rate_with_gap_from_simulators_rates(gap_db):
    cfg, g, p_max, w = _problem("paper-fading")
    sol = fp(g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=w)
    # bit/s/Hz: bandwidth 1
    rates = link_rates_bps(g, sol.x * p_max, cfg.noise_w, 1.0, gap_db)
    expected = (w * rates).sum(axis=1)
    np.testing.assert_allclose(sol.objective, expected, rtol=1e-12)
    np.testing.assert_allclose(sol.history[:, -1], expected, rtol=1e-10)
    # and the gap changes the answer (it is not ignored)
    if gap_db:
        plain = fp(g, p_max, cfg.noise_w, weights=w)
        assert np.abs(plain.x - sol.x).max() > 1e-3


def test_fp_objective_never_decreases():
    cfg, g, p_max, w = _problem("paper-fading", n=100)
    sol = fp(g, p_max, cfg.noise_w, snr_gap_db=3.0, weights=w, iterations=200)
    h = sol.history
    assert np.all(np.diff(h, axis=1) >= -1e-12 * np.abs(h[:, 1:]))


@pytest.mark.parametrize("gap_db", [0.0, 6.0])
def test_fp_fixed_point_satisfies_kkt(gap_db):
    """KKT of max sum_i w_i ln(1 + SINR_i / gap) over 0 <= p <= p_max at FP's limit.

    With h_k = p_max_k * df/dp_k / sum_i w_i (a scaled gradient, analytic), stationarity
    reads: |h_k| <= 1e-7 where 1e-6 < x_k < 1, h_k >= -1e-7 where x_k = 1,
    h_k <= 1e-7 where x_k <= 1e-6; equivalently the projected-gradient residual
    |clip(x + h, 0, 1) - x| <= 1e-7. Run on `paper` layouts, where FP converges
    (tol 1e-13 on max |x change|).
    """
    cfg, g, p_max, w = _problem("paper", n=100)
    sol = fp(g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=w, iterations=30_000, tol=1e-13)
    assert np.all(sol.status == "converged")
    x = sol.x
    h = wsr_gradient(g, x * p_max, cfg.noise_w, db_to_lin(gap_db), w) * p_max
    h /= w.sum(axis=1, keepdims=True)
    tol = 1e-7
    interior = (x > 1e-6) & (x < 1.0)
    assert interior.any() and (x == 1.0).any()
    assert np.abs(h[interior]).max() <= tol
    assert h[x == 1.0].min() >= -tol
    if (x <= 1e-6).any():
        assert h[x <= 1e-6].max() <= tol
    assert np.abs(np.clip(x + h, 0.0, 1.0) - x).max() <= tol


def test_kkt_check_catches_a_naive_gap():
    """Sanity check of the KKT test: dividing only the SINR by the gap, while keeping the
    physical g_ii in y's denominator and in sum_j g_ji y_j^2, converges elsewhere."""
    cfg, g, p_max, w = _problem("paper", n=30)
    gap = db_to_lin(6.0)
    n = g.shape[-1]
    g_off = np.where(np.eye(n, dtype=bool), 0.0, g)
    dg = np.diagonal(g, axis1=1, axis2=2)
    x = np.ones_like(p_max)
    for _ in range(3000):
        p = x * p_max
        interf = np.einsum("bij,bj->bi", g_off, p) + cfg.noise_w
        z = dg * p / interf / gap
        y = np.sqrt(w * (1 + z) * dg * p) / (interf + dg * p)
        d = np.einsum("bji,bj->bi", g_off, y * y) + dg * y * y
        x = np.minimum(1.0, (y * np.sqrt(w * (1 + z) * dg * p_max) / (p_max * d)) ** 2)
    h = wsr_gradient(g, x * p_max, cfg.noise_w, gap, w) * p_max / w.sum(1, keepdims=True)
    assert np.abs(np.clip(x + h, 0.0, 1.0) - x).max() > 1e-3


def test_fp_and_wmmse_iterates_coincide():
    """For scalar power control the FP update equals WMMSE's; two independent codes agree."""
    cfg, g, p_max, w = _problem("paper-fading", n=50)
    a = fp(g, p_max, cfg.noise_w, snr_gap_db=2.0, weights=w, iterations=80)
    b = wmmse(g, p_max, cfg.noise_w, snr_gap_db=2.0, weights=w, iterations=80)
    np.testing.assert_allclose(a.x, b.x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.history, b.history, rtol=1e-9)


@pytest.mark.parametrize("gap_db", [0.0, 6.0])
def test_fp_and_wmmse_iterates_coincide_at_every_iteration(gap_db):
    """Shen & Yu 2018 (Part I) / Shi et al. 2011: for scalar power control the FP update and
    the WMMSE update are the same map, so from one start they give the same powers after
    every iteration k (not only in the limit), also from random starts and as registry
    methods (the README states this)."""
    from baselines import solve

    cfg, g, p_max, w = _problem("paper-fading", n=30, n_links=8)
    x0 = np.random.default_rng(3).uniform(0.05, 1.0, p_max.shape)
    for k in (1, 2, 3, 5, 20):
        a = fp(g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=w, iterations=k, x0=x0)
        b = wmmse(g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=w, iterations=k, x0=x0)
        ref = fp_numpy(g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=w, iterations=k,
                       x0=x0)
        np.testing.assert_allclose(b.x, ref.x, rtol=0, atol=1e-10)
        np.testing.assert_allclose(a.x, b.x, rtol=0, atol=1e-10)
        assert np.abs(b.x - x0).max() > 1e-3  # the iterates do move
    kw = dict(p_max_w=cfg.p_max_w, noise_w=cfg.noise_w, snr_gap_db=gap_db, restarts=3, seed=1)
    a, b = solve("fp", g, **kw), solve("wmmse", g, **kw)
    np.testing.assert_allclose(a.p_w, b.p_w, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a.objective, b.objective, rtol=1e-12)


def test_fp_tolerance_stops_each_layout_on_its_own():
    cfg, g, p_max, _ = _problem("paper", n=40)
    sol = fp(g, p_max, cfg.noise_w, tol=1e-4, iterations=5000)
    assert np.all(sol.status == "converged")
    assert sol.iterations.min() < sol.iterations.max() < 5000
    k = int(np.argmin(sol.iterations))
    # the history after the stop repeats the last value
    assert np.all(sol.history[k, sol.iterations[k]:] == sol.history[k, sol.iterations[k] - 1])


def test_fp_starting_point_x0_is_used():
    cfg, g, p_max, _ = _problem("paper", n=8)
    a = fp(g, p_max, cfg.noise_w, iterations=1, x0=0.5)
    b = fp_numpy(g, p_max, cfg.noise_w, iterations=1, x0=np.full(p_max.shape, 0.5))
    c = fp(g, p_max, cfg.noise_w, iterations=1)
    np.testing.assert_allclose(a.x, b.x, atol=1e-12)
    assert np.abs(a.x - c.x).max() > 1e-3


def test_fp_overflow_is_reported_as_failed_not_silent():
    g = np.array([[[1e300, 1e300], [1e300, 1e300]], [[1.0, 0.1], [0.1, 1.0]]])
    sol = fp(g, 1e10, 1e-300, iterations=5)
    assert list(sol.status) == ["failed", "max_iter"]
    assert np.all(np.isnan(sol.x[0])) and np.isnan(sol.objective[0])
    assert np.all(np.isfinite(sol.x[1]))
