"""The solver registry, the SolveResult contract and the rejection of bad input."""

import numpy as np
import pytest
from baseline_helpers import layouts

from baselines import SOLVERS, STATUSES, SolveResult, solve
from baselines.fp import fp
from simulators.rates import link_rates_bps
from simulators.validation import ConfigError

CFG, DATA = layouts("paper", 6, 9)
G = DATA.g
KW = {"p_max_w": CFG.p_max_w, "noise_w": CFG.noise_w}


def test_registry_names():
    assert set(SOLVERS) == {"fp", "wmmse", "maxmin", "maxmin-cvxpy", "full", "random", "binary"}


@pytest.mark.parametrize("method", sorted(SOLVERS))
def test_every_solver_returns_the_contract(method):
    res = solve(method, G, snr_gap_db=3.0, seed=1, **KW)
    assert isinstance(res, SolveResult) and res.method == method
    assert res.p_w.shape == G.shape[:2] and res.p_w.dtype == np.float64
    assert np.all((res.p_w >= 0) & (res.p_w <= CFG.p_max_w))
    assert res.status.shape == (6,) and set(res.status) <= set(STATUSES)
    assert res.iterations.shape == (6,)
    assert isinstance(res.options["stopping_rule"], str) and res.options["stopping_rule"]
    rates = link_rates_bps(G, res.p_w, CFG.noise_w, 1.0, 3.0)
    expected = rates.min(axis=1) if res.task == "min-rate" else rates.sum(axis=1)
    np.testing.assert_allclose(res.objective, expected, rtol=1e-12)


def test_stopping_rule_text_and_options():
    res = solve("fp", G, **KW)
    assert res.options["stopping_rule"] == "FP, 150 iterations, 1 start"
    assert res.objective_history.shape == (6, 150)
    res = solve("wmmse", G, tol=1e-6, iterations=500, restarts=3, seed=2, **KW)
    assert res.options["stopping_rule"] == "WMMSE, tol 1e-06, max 500 iterations, best of 3 starts"
    assert set(res.status) <= {"converged", "max_iter"}


def test_solve_fp_matches_the_kernel_and_per_link_limits():
    p_max = np.linspace(0.2, 1.0, 10)
    res = solve("fp", G, p_max_w=p_max, noise_w=CFG.noise_w, iterations=40)
    direct = fp(G, p_max, CFG.noise_w, iterations=40)
    np.testing.assert_allclose(res.p_w, direct.x * p_max, rtol=0, atol=1e-15)


def test_maxmin_methods_agree():
    a = solve("maxmin", G, **KW)
    b = solve("maxmin-cvxpy", G, **KW)
    assert set(a.status) == {"optimal"} and set(b.status) <= {"optimal", "converged"}
    np.testing.assert_allclose(a.objective, b.objective, rtol=1e-4)


def test_failed_layouts_are_flagged_not_silent():
    g = np.stack([G[0], np.full((10, 10), 1e300)])
    for method in ("fp", "wmmse", "maxmin", "full", "binary"):
        res = solve(method, g, p_max_w=1e10, noise_w=1e-12)
        assert res.status[1] == "failed", method
        assert np.isnan(res.p_w[1]).all() and np.isnan(res.objective[1])
        assert res.status[0] != "failed" and np.isfinite(res.p_w[0]).all()


# -- bad input: one test per rejected case, asserting the message ---------------------


def _reject(match, method="fp", g=G, **overrides):
    kwargs = {**KW, **overrides}
    with pytest.raises(ConfigError, match=match):
        solve(method, g, **kwargs)


def test_rejects_unknown_method():
    _reject(r"method='sgd' is invalid; expected one of fp, wmmse, maxmin", method="sgd")


def test_rejects_two_dimensional_g():
    _reject(r"g has shape \(10, 10\); expected \(batch, n_links, n_links\).*g\[None\]", g=G[0])


def test_rejects_non_square_g():
    _reject(r"g has shape \(6, 10, 9\)", g=G[:, :, :9])


def test_rejects_nan_gain():
    g = G.copy()
    g[2, 3, 4] = np.nan
    _reject(r"g\[2, 3, 4\]=.*nan.*expected finite gains >= 0", g=g)


def test_rejects_negative_gain():
    g = G.copy()
    g[1, 0, 5] = -1e-9
    _reject(r"g\[1, 0, 5\]=.*-1e-09.*expected finite gains >= 0", g=g)


def test_rejects_zero_direct_gain():
    g = G.copy()
    g[4, 7, 7] = 0.0
    _reject(r"g\[4, 7, 7\]=0\.0 is invalid; expected a direct gain g\[b, i, i\] > 0", g=g)


def test_rejects_non_positive_power_limit():
    p_max = np.ones(10)
    p_max[3] = 0.0
    _reject(r"p_max_w\[0, 3\]=.*0\.0 is invalid; expected finite values > 0", p_max_w=p_max)


def test_rejects_power_limit_of_wrong_shape():
    _reject(r"p_max_w has shape \(3,\); expected a scalar, \(10,\) or \(6, 10\)",
            p_max_w=np.ones(3))


def test_rejects_zero_noise():
    _reject(r"noise_w=0 is invalid; expected a number > 0", noise_w=0)


def test_rejects_negative_gap():
    _reject(r"snr_gap_db=-3 is invalid; expected a number >= 0", snr_gap_db=-3)


def test_rejects_negative_weight():
    w = np.ones(10)
    w[2] = -1
    _reject(r"weights\[0, 2\]=.*-1\.0 is invalid; expected finite values >= 0", weights=w)


def test_rejects_all_zero_weights():
    _reject(r"weights\[0\] are all zero; expected at least one positive weight",
            weights=np.zeros(10))


def test_rejects_weights_for_maxmin():
    _reject(r"weights are not used by method 'maxmin'", method="maxmin", weights=np.ones(10))


def test_rejects_unknown_option():
    _reject(r"option iters=10 is not used by method 'fp'; expected one of: iterations, tol, "
            r"restarts", iters=10)


def test_rejects_zero_iterations():
    _reject(r"iterations=0 is invalid; expected an integer >= 1", iterations=0)


def test_rejects_bad_tolerance():
    _reject(r"tol=-1e-06 is invalid; expected None or a number in \(0, 1\]", tol=-1e-6)


def test_rejects_bad_rtol():
    _reject(r"rtol=1e-20 is invalid; expected a number in \[1e-14, 0.01\]", method="maxmin",
            rtol=1e-20)


def test_rejects_bad_seed():
    _reject(r"seed=-1 is invalid; expected an integer >= 0", method="random", seed=-1)


def test_rejects_options_for_heuristics():
    _reject(r"option iterations=5 is not used by method 'full'; expected one of: none",
            method="full", iterations=5)


def test_rejects_unknown_cvxpy_solver():
    _reject(r"solver='NOPE' is invalid; expected None or one of", method="maxmin-cvxpy",
            solver="NOPE")


def test_rejects_bad_starting_point():
    with pytest.raises(ConfigError, match=r"x0\[0, 0\]=1\.5 is invalid; expected power "
                                          r"fractions in \[0, 1\]"):
        fp(G, 1.0, CFG.noise_w, x0=1.5)


# -- system=: the problem constants from a D2DConfig ---------------------------------


def test_system_gives_power_noise_and_gap():
    from simulators.d2d import D2DConfig

    cfg = CFG.replace(snr_gap_db=4.0, p_max_dbm=27.0)
    by_system = solve("fp", G, system=cfg, iterations=30)
    explicit = solve("fp", G, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w, snr_gap_db=4.0,
                     iterations=30)
    np.testing.assert_array_equal(by_system.p_w, explicit.p_w)
    np.testing.assert_array_equal(by_system.objective, explicit.objective)
    as_dict = solve("fp", G, system=cfg.to_dict(), iterations=30)
    np.testing.assert_array_equal(as_dict.p_w, explicit.p_w)
    # the gap is used: the same powers with 0 dB give a higher objective
    assert np.all(solve("fp", G, system=cfg.replace(snr_gap_db=0.0), iterations=30).objective
                  > by_system.objective)
    assert D2DConfig.from_dict(cfg.to_dict()) == cfg


def test_system_from_the_layouts_object():
    res = solve("maxmin", DATA)
    np.testing.assert_array_equal(res.p_w, solve("maxmin", G, system=CFG).p_w)


def test_system_agreeing_explicit_values_are_accepted():
    res = solve("full", G, system=CFG, p_max_w=np.full(10, CFG.p_max_w), noise_w=CFG.noise_w,
                snr_gap_db=0.0)
    assert np.all(res.p_w == CFG.p_max_w)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("p_max_w", 2.0, r"p_max_w=2.0 disagrees with system p_max_w=1 \(from p_max_dbm=30.0\)"),
    ("noise_w", 1e-9, r"noise_w=1e-09 disagrees with system noise_w=5e-12 \(from "
                      r"noise_dbm_per_hz=-150.0, bandwidth_hz=5000000.0\)"),
    ("snr_gap_db", 6.0, r"snr_gap_db=6.0 disagrees with system snr_gap_db=0"),
    ("p_max_w", "1", r"p_max_w='1' is invalid; expected a number"),
    ("noise_w", [5e-12, 1], r"noise_w=\[5e-12, 1\] disagrees"),
])
def test_system_and_disagreeing_explicit_value_is_an_error(field, value, match):
    with pytest.raises(ConfigError, match=match):
        solve("fp", G, system=CFG, **{field: value})


def test_system_of_the_wrong_type_or_fields():
    with pytest.raises(ConfigError, match="system=str is invalid; expected a D2DConfig"):
        solve("fp", G, system="paper")
    with pytest.raises(ConfigError, match="bogus"):
        solve("fp", G, system={"bogus": 1})
    with pytest.raises(ConfigError, match="system differs from the config of the D2DLayouts"):
        solve("fp", DATA, system=CFG.replace(n_links=3))


def test_without_system_power_and_noise_are_required():
    with pytest.raises(ConfigError, match=r"p_max_w is missing; expected p_max_w=\.\.\. or "
                                          "system="):
        solve("fp", G, noise_w=1e-12)
    with pytest.raises(ConfigError, match="noise_w is missing"):
        solve("fp", G, p_max_w=1.0)
