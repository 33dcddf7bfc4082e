"""WMMSE: monotone objective on many layouts, gap, restarts."""

import numpy as np
import pytest
from baseline_helpers import layouts

from baselines.fp import fp
from baselines.heuristics import best_of_restarts
from baselines.wmmse import wmmse
from simulators.rates import link_rates_bps


@pytest.mark.parametrize(
    ("preset", "n_layouts", "overrides"),
    [
        ("paper", 300, {}),
        ("paper-fading", 300, {}),
        ("spatial-2019", 100, {}),  # N = 50, gap 6 dB
        ("spatial-2019", 200, {"n_links": 10}),
    ],
)
def test_wmmse_objective_never_decreases(preset, n_layouts, overrides):
    cfg, data = layouts(preset, n_layouts, 11, **overrides)
    rng = np.random.default_rng(3)
    w = rng.uniform(0.2, 3.0, data.g.shape[:2])
    p_max = cfg.p_max_w * rng.uniform(0.1, 1.0, data.g.shape[:2])
    for weights, gap_db in ((None, cfg.snr_gap_db), (w, 3.0)):
        x0 = 1.0 - rng.random(p_max.shape)
        sol = wmmse(data.g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=weights,
                    iterations=100, x0=x0)
        start = wmmse(data.g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=weights,
                      iterations=1, x0=x0)
        wts = np.ones_like(p_max) if weights is None else weights
        obj0 = (wts * link_rates_bps(data.g, x0 * p_max, cfg.noise_w, 1.0, gap_db)).sum(1)
        h = np.concatenate([obj0[:, None], sol.history], axis=1)
        np.testing.assert_allclose(sol.history[:, 0], start.history[:, 0], rtol=1e-12)
        steps = np.diff(h, axis=1)
        assert np.all(steps >= -1e-12 * np.abs(h[:, 1:])), steps.min()
        assert np.all(steps.sum(axis=1) > 0)  # and it does improve on the start
        assert sol.x.min() >= 0 and sol.x.max() <= 1


@pytest.mark.parametrize("gap_db", [0.0, 6.0])
def test_wmmse_objective_is_rate_with_gap(gap_db):
    cfg, data = layouts("paper-fading", 64, 2)
    sol = wmmse(data.g, cfg.p_max_w, cfg.noise_w, snr_gap_db=gap_db)
    expected = link_rates_bps(data.g, sol.x * cfg.p_max_w, cfg.noise_w, 1.0, gap_db).sum(1)
    np.testing.assert_allclose(sol.objective, expected, rtol=1e-12)
    np.testing.assert_allclose(sol.history[:, -1], expected, rtol=1e-10)


def test_wmmse_tolerance_converges():
    cfg, data = layouts("paper", 50, 2)
    sol = wmmse(data.g, cfg.p_max_w, cfg.noise_w, tol=1e-6, iterations=10_000)
    assert np.all(sol.status == "converged") and sol.iterations.max() < 10_000


@pytest.mark.parametrize("solver", [fp, wmmse])
def test_best_of_restarts_never_worse_than_single_start(solver):
    cfg, data = layouts("paper-fading", 64, 4)
    one = solver(data.g, cfg.p_max_w, cfg.noise_w, iterations=50)
    best = best_of_restarts(solver, data.g, cfg.p_max_w, cfg.noise_w, restarts=5, seed=9,
                            iterations=50)
    again = best_of_restarts(solver, data.g, cfg.p_max_w, cfg.noise_w, restarts=5, seed=9,
                             iterations=50)
    assert np.all(best.objective >= one.objective)
    assert np.any(best.objective > one.objective + 1e-6)  # restarts do find better points
    np.testing.assert_array_equal(best.x, again.x)  # seeded
    rates = link_rates_bps(data.g, best.x * cfg.p_max_w, cfg.noise_w, 1.0).sum(1)
    np.testing.assert_allclose(best.objective, rates, rtol=1e-12)
