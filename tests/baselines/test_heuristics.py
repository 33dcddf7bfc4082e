"""Full power, random power and the exhaustive binary search against brute force."""

import itertools

import numpy as np
import pytest
from baseline_helpers import layouts

from baselines.fp import fp
from baselines.heuristics import binary_onoff, full_power, random_power
from simulators.rates import sum_rate_bps
from simulators.validation import ConfigError


def _brute_force_best(g, p_max, noise, gap_db, weights):
    """max over all 2^N on/off vectors of the weighted sum-rate, via simulators.rates."""
    n = g.shape[-1]
    best = np.full(g.shape[0], -np.inf)
    for bits in itertools.product((0.0, 1.0), repeat=n):
        p = np.asarray(bits) * p_max
        best = np.maximum(best, sum_rate_bps(g, p, noise, 1.0, gap_db, weights))
    return best


@pytest.mark.parametrize(("preset", "n_links", "gap_db"),
                         [("paper", 6, 0.0), ("paper-fading", 8, 3.0), ("paper", 1, 0.0)])
def test_binary_equals_brute_force_and_beats_full_power(preset, n_links, gap_db):
    cfg, data = layouts(preset, 40, 17, n_links=n_links)
    rng = np.random.default_rng(2)
    p_max = cfg.p_max_w * rng.uniform(0.3, 1.0, data.g.shape[:2])
    w = rng.uniform(0.5, 2.0, data.g.shape[:2])
    sol = binary_onoff(data.g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=w)
    assert np.all(sol.status == "optimal") and np.all(sol.iterations == 2**n_links)
    assert set(np.unique(sol.x)) <= {0.0, 1.0}
    expected = _brute_force_best(data.g, p_max, cfg.noise_w, gap_db, w)
    np.testing.assert_allclose(sol.objective, expected, rtol=1e-10)
    full = full_power(data.g, p_max, cfg.noise_w, snr_gap_db=gap_db, weights=w)
    assert np.all(sol.objective >= full.objective * (1 - 1e-12))
    if n_links > 1:
        assert np.any(sol.objective > full.objective * (1 + 1e-6))  # switching off helps


def test_binary_max_size_and_rejection_above_16():
    cfg, data = layouts("paper", 2, 1, n_links=16)
    sol = binary_onoff(data.g, cfg.p_max_w, cfg.noise_w)
    assert sol.iterations[0] == 65536 and np.all(sol.status == "optimal")
    assert np.all(sol.objective >= full_power(data.g, cfg.p_max_w, cfg.noise_w).objective)
    _, big = layouts("paper", 1, 1, n_links=17)
    with pytest.raises(ConfigError, match=r"n_links=17 .*expected n_links <= 16"):
        binary_onoff(big.g, cfg.p_max_w, cfg.noise_w)


def test_full_power_objective_and_paper_level():
    cfg, data = layouts("paper", 500, 3)
    sol = full_power(data.g, cfg.p_max_w, cfg.noise_w)
    np.testing.assert_array_equal(sol.x, 1.0)
    assert np.all(sol.status == "heuristic")  # a closed form claims no convergence
    expected = sum_rate_bps(data.g, cfg.p_max_w, cfg.noise_w, 1.0)
    np.testing.assert_allclose(sol.objective, expected, rtol=1e-14)
    # SPEC: full power ~140 Mbps, FP ~157 Mbps on `paper` (5 MHz)
    assert sol.objective.mean() * cfg.bandwidth_hz / 1e6 == pytest.approx(140, abs=3)
    fp_mbps = fp(data.g, cfg.p_max_w, cfg.noise_w).objective.mean() * cfg.bandwidth_hz / 1e6
    assert fp_mbps == pytest.approx(157, abs=3)


def test_random_power_is_seeded_uniform():
    cfg, data = layouts("paper", 2000, 3)
    a = random_power(data.g, cfg.p_max_w, cfg.noise_w, seed=5)
    b = random_power(data.g, cfg.p_max_w, cfg.noise_w, seed=5)
    c = random_power(data.g, cfg.p_max_w, cfg.noise_w, seed=6)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    assert np.all(a.status == "heuristic") and np.all(a.iterations == 0)
    np.testing.assert_array_equal(a.x, np.random.default_rng(5).random(a.x.shape))
    # U[0, 1): mean 1/2, var 1/12 over 20,000 draws (5 sigma bands)
    assert abs(a.x.mean() - 0.5) < 5 * np.sqrt(1 / 12 / a.x.size)
    assert a.x.var() == pytest.approx(1 / 12, abs=0.005)
    # SPEC: random power ~132 Mbps on `paper`
    assert a.objective.mean() * cfg.bandwidth_hz / 1e6 == pytest.approx(132.5, abs=3)
