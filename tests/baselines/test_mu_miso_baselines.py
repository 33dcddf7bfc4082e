"""Multi-user MISO solvers: ZF nulls interference, WMMSE is monotone, the exact max-min
equalizes the SINRs and matches the cvxpy SOCP, power constraints hold exactly, batched
equals per sample, bad input is one line naming the field."""

import functools

import numpy as np
import pytest

from baselines import BEAMFORMING_SOLVERS, STATUSES, solve_beamforming
from baselines.mu_miso import (
    maxmin_beamforming,
    maxmin_cvxpy,
    water_filling,
    wmmse_beamforming,
    zf_directions,
)
from simulators.beamforming import antenna_power_w, sinr, sum_rate_bps, total_power_w
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from simulators.validation import ConfigError


@functools.cache
def samples(preset: str, n: int, seed: int, **overrides):
    cfg = MuMisoConfig.from_preset(preset, **overrides)
    return cfg, generate_mu_miso(cfg, n, seed=seed).h


def _kw(cfg):
    return {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w}


CASES = [("rayleigh-10db", {}), ("cell", {}), ("cell", {"rician_k": 5.0}),
         ("rayleigh-10db", {"n_antennas": 8, "n_users": 4, "p_max_dbm": 50.0})]


def test_registry_names_and_contract():
    assert set(BEAMFORMING_SOLVERS) == {"mrt", "zf", "zf-wf", "rzf", "wmmse", "maxmin",
                                        "maxmin-cvxpy"}
    cfg, h = samples("cell", 4, 1)
    for method in BEAMFORMING_SOLVERS:
        res = solve_beamforming(method, h, **_kw(cfg))
        assert res.method == method and res.w.shape == h.shape and res.w.dtype == complex
        assert res.status.shape == (4,) and set(res.status) <= set(STATUSES) - {"failed"}
        assert res.iterations.shape == (4,) and res.options["stopping_rule"]
        s = sinr(h, res.w, cfg.noise_w)
        expect = np.log2(1 + s).min(1) if res.task == "min-rate" else np.log2(1 + s).sum(1)
        np.testing.assert_allclose(res.objective, expect, rtol=1e-12)


@pytest.mark.parametrize("preset,over", CASES)
def test_zf_nulls_interference(preset, over):
    cfg, h = samples(preset, 200, 2, **over)
    for method in ("zf", "zf-wf"):
        w = solve_beamforming(method, h, **_kw(cfg)).w
        a = np.abs(np.einsum("bkm,bjm->bkj", h.conj(), w))  # |h_k^H w_j|
        scale = np.linalg.norm(h, axis=-1)[:, :, None] * np.linalg.norm(w, axis=-1)[:, None, :]
        off = ~np.eye(cfg.n_users, dtype=bool) & (scale > 0)  # water-filling may switch off
        assert (a[off] / scale[off]).max() < 1e-12, method
    u = zf_directions(h)
    np.testing.assert_allclose(np.linalg.norm(u, axis=-1), 1.0, rtol=1e-13)


def test_water_filling_meets_its_kkt_conditions():
    rng = np.random.default_rng(3)
    a = 10 ** rng.uniform(-2, 2, (500, 6))
    p_max = 10 ** rng.uniform(-1, 2, 500)
    p = water_filling(a, p_max)
    np.testing.assert_allclose(p.sum(1), p_max, rtol=1e-12)
    assert p.min() >= 0
    level = p + 1 / a  # equal (= mu) on the active channels, floors above mu elsewhere
    mu = np.where(p > 0, level, -np.inf).max(1)
    on = p > 0
    np.testing.assert_allclose(level[on], np.broadcast_to(mu[:, None], p.shape)[on], rtol=1e-12)
    assert np.all((1 / a)[~on] >= np.broadcast_to(mu[:, None], p.shape)[~on] * (1 - 1e-12))


def test_zf_water_filling_beats_equal_power_on_sum_rate():
    cfg, h = samples("cell", 300, 4)
    eq = solve_beamforming("zf", h, **_kw(cfg)).objective
    wf = solve_beamforming("zf-wf", h, **_kw(cfg)).objective
    assert np.all(wf >= eq - 1e-12) and np.mean(wf > eq + 1e-9) > 0.3


@pytest.mark.parametrize("preset,over", CASES)
def test_total_power_holds_exactly(preset, over):
    cfg, h = samples(preset, 100, 5, **over)
    for method in ("mrt", "zf", "zf-wf", "rzf", "wmmse", "maxmin"):
        w = solve_beamforming(method, h, **_kw(cfg)).w
        np.testing.assert_allclose(total_power_w(w), cfg.p_max_w, rtol=1e-12, err_msg=method)


def test_per_antenna_power_holds_and_is_used():
    cfg, h = samples("rayleigh-10db", 100, 6, n_antennas=6, n_users=3)
    res = solve_beamforming("wmmse", h, power_constraint="per-antenna", **_kw(cfg))
    ant = antenna_power_w(res.w)
    assert ant.max() <= cfg.p_max_w / 6 * (1 + 1e-12)
    assert np.mean(ant > cfg.p_max_w / 6 * (1 - 1e-3)) > 0.9  # the budget is spent
    total = solve_beamforming("wmmse", h, **_kw(cfg)).objective
    assert res.objective.mean() <= total.mean()  # a smaller feasible set


@pytest.mark.parametrize("constraint", ["total", "per-antenna"])
@pytest.mark.parametrize("preset,over", CASES)
def test_wmmse_never_decreases_its_objective(preset, over, constraint):
    cfg, h = samples(preset, 60, 7, **over)
    rng = np.random.default_rng(8)
    weights = rng.uniform(0.2, 2.0, (60, cfg.n_users))
    res = wmmse_beamforming(h, cfg.p_max_w, cfg.noise_w, weights=weights, init="random",
                            iterations=150, tol=None, power_constraint=constraint, seed=9)
    hist = res.objective_history
    step = np.diff(hist, axis=1)
    assert np.all(step >= -1e-12 * np.abs(hist[:, 1:])), step.min()
    np.testing.assert_allclose(hist[:, -1], res.objective, rtol=1e-12)
    start = wmmse_beamforming(h, cfg.p_max_w, cfg.noise_w, weights=weights, init="random",
                              iterations=1, tol=None, power_constraint=constraint, seed=9)
    assert np.all(res.objective >= start.objective - 1e-12)


def test_wmmse_improves_on_its_zf_start_and_restarts_only_help():
    cfg, h = samples("rayleigh-10db", 200, 10)
    zf = solve_beamforming("zf", h, **_kw(cfg)).objective
    one = solve_beamforming("wmmse", h, init="zf", **_kw(cfg))
    assert np.all(one.objective >= zf - 1e-9) and one.objective.mean() > 1.5 * zf.mean()
    best = solve_beamforming("wmmse", h, init="zf", restarts=4, seed=1, **_kw(cfg))
    assert np.all(best.objective >= one.objective - 1e-12)
    assert best.options["stopping_rule"] == ("WMMSE (init zf, total power), tol 1e-06 "
                                             "relative, max 1000 iterations, best of 4 starts "
                                             "(1 zf + 3 random)")
    assert set(one.status) <= {"converged", "max_iter"}
    capped = solve_beamforming("wmmse", h, iterations=2, tol=1e-12, **_kw(cfg))
    assert set(capped.status) == {"max_iter"} and set(capped.iterations) == {2}


def test_wmmse_stationary_point_satisfies_the_kkt_gradient():
    """At convergence the sum-rate gradient is parallel to w (total power active)."""
    cfg, h = samples("rayleigh-10db", 20, 11)
    res = solve_beamforming("wmmse", h, tol=1e-13, iterations=20_000, **_kw(cfg))
    eps = 1e-6
    for b in range(5):
        w = res.w[b]
        grad = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            for unit in (1.0, 1j):
                d = np.zeros_like(w)
                d[idx] = unit * eps
                f = (sum_rate_bps(h[b], w + d, cfg.noise_w) - sum_rate_bps(h[b], w - d,
                                                                           cfg.noise_w))
                grad[idx] += unit * f / (2 * eps)
        # Lagrange: grad = lambda w, lambda = <grad, w> / ||w||^2
        lam = np.vdot(w, grad).real / np.vdot(w, w).real
        assert np.linalg.norm(grad - lam * w) <= 1e-4 * np.linalg.norm(grad)


@pytest.mark.parametrize("preset,over", CASES + [("cell", {"n_users": 10})])
def test_maxmin_equalizes_sinrs_and_beats_every_other_method(preset, over):
    cfg, h = samples(preset, 100, 12, **over)
    res = solve_beamforming("maxmin", h, **_kw(cfg))
    assert set(res.status) == {"optimal"}
    s = sinr(h, res.w, cfg.noise_w)
    assert np.all(s.max(1) / s.min(1) - 1 <= 1e-9)
    methods = ["mrt", "rzf", "wmmse"] + (["zf"] if cfg.n_users <= cfg.n_antennas else [])
    for method in methods:
        other = sinr(h, solve_beamforming(method, h, **_kw(cfg)).w, cfg.noise_w).min(1)
        assert np.all(s.min(1) >= other * (1 - 1e-9)), method


def test_maxmin_single_user_is_mrt_at_full_power():
    rng = np.random.default_rng(13)
    h = rng.standard_normal((5, 1, 4)) + 1j * rng.standard_normal((5, 1, 4))
    res = maxmin_beamforming(h, 2.0, 0.5)
    np.testing.assert_allclose(sinr(h, res.w, 0.5)[:, 0],
                               2.0 * np.linalg.norm(h[:, 0], axis=-1) ** 2 / 0.5, rtol=1e-12)


def _cvxpy_cases():
    out = []
    for preset, over, n in [("rayleigh-10db", {}, 16), ("cell", {}, 12),
                            ("cell", {"rician_k": 5.0, "n_users": 6}, 6),
                            ("rayleigh-10db", {"n_users": 6}, 4),  # K > M
                            ("rayleigh-10db", {"p_max_dbm": 30.0}, 4)]:  # 0 dB
        cfg, h = samples(preset, n, 14, **over)
        out.append((preset, cfg, h))
    return out


def test_maxmin_matches_cvxpy_socp_bisection_on_42_samples():
    count = 0
    for preset, cfg, h in _cvxpy_cases():
        fast = maxmin_beamforming(h, cfg.p_max_w, cfg.noise_w)
        t_fast = sinr(h, fast.w, cfg.noise_w).min(1)
        for b in range(len(h)):
            ref = maxmin_cvxpy(h[b], cfg.p_max_w, cfg.noise_w)
            assert ref.status in ("optimal", "converged"), (preset, b, ref.solver_status)
            assert t_fast[b] == pytest.approx(ref.min_sinr, rel=1e-4), (preset, b)
            assert t_fast[b] >= ref.min_sinr * (1 - 1e-6)  # never beaten by the reference
            count += 1
    assert count == 42


def test_batched_equals_per_sample():
    cfg, h = samples("cell", 12, 15)
    for method, opts in [("wmmse", {}), ("maxmin", {}), ("rzf", {}),
                         ("wmmse", {"power_constraint": "per-antenna"})]:
        batch = solve_beamforming(method, h, **opts, **_kw(cfg))
        for b in range(len(h)):
            one = solve_beamforming(method, h[b:b + 1], **opts, **_kw(cfg))
            np.testing.assert_allclose(one.w[0], batch.w[b], rtol=1e-12, atol=1e-15)
            assert one.iterations[0] == batch.iterations[b]


def test_per_sample_power_budgets():
    cfg, h = samples("rayleigh-10db", 6, 16)
    p = np.linspace(1.0, 20.0, 6)
    for method in ("mrt", "zf", "wmmse", "maxmin"):
        w = solve_beamforming(method, h, p_max_w=p, noise_w=cfg.noise_w).w
        np.testing.assert_allclose(total_power_w(w), p, rtol=1e-12)


def test_non_finite_intermediates_are_flagged_failed():
    cfg, h = samples("rayleigh-10db", 3, 17)
    bad = h.copy()
    bad[1, 0] *= 1e160  # finite, but its gains overflow
    for method in ("zf", "rzf", "maxmin", "wmmse"):
        res = solve_beamforming(method, bad, **_kw(cfg))
        assert res.status[1] == "failed", method
        assert np.isnan(res.w[1]).all() and np.isnan(res.objective[1])
        assert res.status[0] != "failed" and np.isfinite(res.w[0]).all(), method


# -- bad input: one test per rejected case ---------------------------------------------

CFG, H = samples("rayleigh-10db", 3, 18)
KW = _kw(CFG)


def _reject(match, method="wmmse", h=H, **kw):
    with pytest.raises(ConfigError, match=match):
        solve_beamforming(method, h, **{**KW, **kw})


@pytest.mark.parametrize("method", ["zf", "zf-wf"])
def test_rejects_more_users_than_antennas_for_zf(method):
    _, h = samples("rayleigh-10db", 2, 19, n_users=6)
    _reject(r"n_users=6 > n_antennas=4: " + method + " needs n_users <= n_antennas", method, h)


def test_rejects_zf_init_with_more_users_than_antennas():
    _, h = samples("rayleigh-10db", 2, 19, n_users=6)
    _reject(r"n_users=6 > n_antennas=4: init='zf' needs", h=h, init="zf")


def test_rejects_negative_and_string_power():
    _reject(r"p_max_w=-1.0 is invalid; expected a finite power > 0", p_max_w=-1.0)
    _reject(r"p_max_w='10' is invalid; expected a number > 0 in watts", p_max_w="10")
    _reject(r"noise_w=0 is invalid; expected a number > 0", noise_w=0)


def test_rejects_non_finite_and_zero_channels():
    h = H.copy()
    h[1, 2, 3] = np.nan
    _reject(r"h\[1, 2, 3\]=\(nan\+0j\) is invalid; expected finite channel", h=h)
    h = H.copy()
    h[2, 1] = 0
    _reject(r"h\[2, 1\] has \|\|h_k\|\|\^2 = 0; expected every user to have a channel", h=h)
    _reject(r"h has shape \(4, 4\); .*pass h\[None\] for a single sample", h=H[0])
    _reject(r"h='abc' is invalid; expected a complex array", h="abc")


def test_rejects_bad_options():
    _reject(r"method='sgd' is invalid; expected one of mrt, zf", method="sgd")
    _reject(r"init='ones' is invalid; expected one of auto, mrt, zf, random", init="ones")
    _reject(r"power_constraint='per-user' is invalid; expected one of total, per-antenna",
            power_constraint="per-user")
    _reject(r"option rtol=0.1 is not used by method 'wmmse'", rtol=0.1)
    _reject(r"iterations=0 is invalid", iterations=0)
    _reject(r"option tol=0.001 is not used by method 'zf'; expected one of: none", "zf",
            tol=1e-3)
    _reject(r"weights are not used by method 'maxmin'", "maxmin", weights=[1, 1, 1, 1])
    _reject(r"rtol=1e-20 is invalid; expected a number in \[1e-14, 0.01\]", "maxmin",
            rtol=1e-20)
    _reject(r"weights has shape \(3,\); expected \(4,\)", weights=[1.0, 2.0, 3.0])
