import math

import numba
import numpy as np
import pytest

from simulators.d2d import D2D_PRESETS, D2DConfig, generate_d2d
from simulators.d2d_reference import reference_generate
from simulators.pathloss import p1411_breakpoint, p1411_los_pathloss_db
from simulators.validation import ConfigError

PAPER = D2DConfig.from_preset("paper")


def test_breakpoint_at_50ghz_matches_spec():
    r_bp, l_bp = p1411_breakpoint(50e9, 1.5, 1.5)
    assert r_bp == pytest.approx(1501.0, abs=0.5)
    assert l_bp == pytest.approx(123.93, abs=0.01)


@pytest.mark.parametrize("d", [1.0, 10.0, 150.0, 1400.0, 2000.0, 10_000.0])
def test_pathloss_hand_computed_both_slopes_50ghz(d):
    lam = 2.998e8 / 50e9
    r_bp = 4 * 1.5 * 1.5 / lam
    l_bp = abs(20 * math.log10(lam**2 / (8 * math.pi * 1.5 * 1.5)))
    slope = 20 if d <= r_bp else 40
    expected = l_bp + 6 + slope * math.log10(d / r_bp)
    assert float(p1411_los_pathloss_db(d, 50e9, 1.5, 1.5)) == pytest.approx(expected, abs=1e-9)


def test_pathloss_10m_value_and_second_slope_at_2_4ghz():
    assert float(p1411_los_pathloss_db(10.0, 50e9, 1.5, 1.5)) == pytest.approx(86.41, abs=0.01)
    r_bp, l_bp = p1411_breakpoint(2.4e9, 1.5, 1.5)
    assert r_bp == pytest.approx(72.05, abs=0.01)
    # 10x beyond the breakpoint: 40 dB per decade above L_bp + 6
    assert float(p1411_los_pathloss_db(10 * r_bp, 2.4e9, 1.5, 1.5)) == pytest.approx(l_bp + 46)
    assert float(p1411_los_pathloss_db(r_bp / 10, 2.4e9, 1.5, 1.5)) == pytest.approx(l_bp - 14)


def test_paper_noise_and_power():
    assert PAPER.noise_w == pytest.approx(5e-12, rel=1e-12)
    assert PAPER.p_max_w == pytest.approx(1.0)
    assert PAPER.shadowing_sigma_db == 0 and PAPER.fading is False


@pytest.mark.parametrize("preset", sorted(D2D_PRESETS))
@pytest.mark.parametrize("redraw", ["all", "offending"])
def test_kernel_equals_numpy_reference_on_same_draws(preset, redraw):
    cfg = D2DConfig.from_preset(preset, redraw=redraw, n_links=10)
    data = generate_d2d(cfg, 40, seed=7)
    tx, rx, g = reference_generate(cfg, 40, seed=7)
    np.testing.assert_allclose(data.tx_m, tx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(data.rx_m, rx, rtol=0, atol=1e-9)
    np.testing.assert_allclose(data.g, g, rtol=1e-9)


@pytest.mark.parametrize("preset", sorted(D2D_PRESETS))
def test_geometry_rules_hold(preset):
    cfg = D2DConfig.from_preset(preset)
    data = generate_d2d(cfg, 2000, seed=3)
    n = cfg.n_links
    direct = np.linalg.norm(data.tx_m - data.rx_m, axis=-1)
    assert direct.min() >= cfg.link_distance_min_m - 1e-9
    assert direct.max() <= cfg.link_distance_max_m + 1e-9
    for pos in (data.tx_m, data.rx_m):
        assert pos.min() >= 0 and pos.max() <= cfg.field_m
    d = data.distance_m
    off = ~np.eye(n, dtype=bool)
    assert d[:, off].min() >= cfg.min_cross_distance_m
    np.testing.assert_allclose(np.diagonal(d, axis1=1, axis2=2), direct)
    # the direct distance is U[d_min, d_max] before the inside-square rejection: its mean
    # lies close to the middle (rejection favours short links a little)
    mid = (cfg.link_distance_min_m + cfg.link_distance_max_m) / 2
    assert abs(direct.mean() - mid) < 0.1 * (cfg.link_distance_max_m - cfg.link_distance_min_m)


def test_paper_gains_are_pure_path_loss():
    data = generate_d2d(PAPER, 200, seed=11)
    pl = p1411_los_pathloss_db(data.distance_m, 50e9, 1.5, 1.5)
    expected = 10 ** (-pl / 10)
    expected[:, np.arange(10), np.arange(10)] *= 10 ** 0.6
    np.testing.assert_allclose(data.g, expected, rtol=1e-12)


def test_shadowing_std_and_fading_mean():
    base = D2DConfig.from_preset("paper")
    data_plain = generate_d2d(base, 3000, seed=5)
    shadow = generate_d2d(base.replace(shadowing_sigma_db=8.0), 3000, seed=5)
    fading = generate_d2d(base.replace(fading=True), 3000, seed=5)
    # same seed, same geometry: the ratio isolates the random factor
    s_db = 10 * np.log10(shadow.g / data_plain.g)
    assert s_db.std() == pytest.approx(8.0, rel=0.02)
    assert abs(s_db.mean()) < 0.1
    f = fading.g / data_plain.g
    assert f.mean() == pytest.approx(1.0, rel=0.02)
    assert f.var() == pytest.approx(1.0, rel=0.05)  # Exp(1): variance 1


def test_same_seed_same_bytes_across_thread_counts_and_n():
    cfg = D2DConfig.from_preset("paper-fading")
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = generate_d2d(cfg, 500, seed=42)
        numba.set_num_threads(max(2, previous))
        many = generate_d2d(cfg, 500, seed=42, chunk_size=77)
    finally:
        numba.set_num_threads(previous)
    assert one.g.tobytes() == many.g.tobytes()
    assert one.rx_m.tobytes() == many.rx_m.tobytes()
    head = generate_d2d(cfg, 100, seed=42)
    assert head.g.tobytes() == one.g[:100].tobytes()
    other = generate_d2d(cfg, 100, seed=43)
    assert not np.array_equal(other.g, head.g)


def test_redraw_all_fails_clearly_at_high_density_and_offending_succeeds():
    dense = D2DConfig.from_preset("paper", n_links=200, max_redraws=50)
    with pytest.raises(ConfigError, match="redraw='offending'"):
        generate_d2d(dense, 2, seed=0)
    ok = generate_d2d(dense.replace(redraw="offending"), 2, seed=0)
    off = ~np.eye(200, dtype=bool)
    assert ok.distance_m[:, off].min() >= 5.0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"link_distance_min_m": 30.0}, "link_distance_min_m"),
        ({"field_m": 20.0}, "field_m"),
        ({"n_links": 0}, "n_links"),
        ({"bandwidth_hz": -1.0}, "bandwidth_hz"),
        ({"redraw": "some"}, "redraw"),
        ({"carrier_hz": float("nan")}, "carrier_hz"),
        ({"shadowing_sigma_db": -8.0}, "shadowing_sigma_db"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        D2DConfig.from_preset("paper", **overrides)


def test_unknown_preset_and_bad_n_and_seed():
    with pytest.raises(ConfigError, match="preset='nope'.*paper"):
        D2DConfig.from_preset("nope")
    with pytest.raises(ConfigError, match="n=0"):
        generate_d2d(PAPER, 0, seed=1)
    with pytest.raises(ValueError, match="seed=-1"):
        generate_d2d(PAPER, 3, seed=-1)


def test_config_round_trip():
    cfg = D2DConfig.from_preset("spatial-2019", n_links=20)
    assert D2DConfig.from_dict(cfg.to_dict()) == cfg
