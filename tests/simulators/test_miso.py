"""MISO pilot simulator: kernel vs reference, determinism, hand values, statistics, validation."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

from simulators.miso import (
    MisoConfig,
    MisoSystem,
    assert_same_system,
    generate_miso,
    generate_miso_reference,
    geometry_factors,
    los_channel,
    make_system,
    observation_snr_db,
    observations_to_real,
    path_gain,
    pilot_signals,
    real_to_observations,
    steering_vectors,
)
from simulators.validation import ConfigError

PAPER = MisoConfig.from_preset("paper")
SYSTEM = make_system(PAPER, 0)
FIELDS = ("positions_m", "h", "factors", "y")


def _assert_samples_equal(a, b, exact=True):
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if exact:
            assert x.tobytes() == y.tobytes(), name
        else:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12 * np.abs(x).max(), err_msg=name)


# ------------------------------------------------------------------ kernel vs reference


@pytest.mark.parametrize("noise_law", ["constant-modulus", "gaussian"])
def test_kernel_matches_reference_draw_for_draw(noise_law):
    cfg = PAPER.replace(noise_law=noise_law)
    system = make_system(cfg, 3)
    fast = generate_miso(cfg, 6, seed=11, system=system)
    ref = generate_miso_reference(cfg, 6, seed=11, system=system)
    _assert_samples_equal(fast, ref, exact=False)
    # positions are the same two uniforms through the same arithmetic
    assert fast.positions_m.tobytes() == ref.positions_m.tobytes()


def test_reference_first_index_matches_kernel_offset():
    fast = generate_miso(PAPER, 9, seed=4, system=SYSTEM)
    ref = generate_miso_reference(PAPER, 3, seed=4, system=SYSTEM, first_index=6)
    np.testing.assert_allclose(ref.y, fast.y[6:], rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(ref.h, fast.h[6:], rtol=1e-12, atol=1e-18)


def test_kernel_matches_reference_on_odd_array_and_rayleigh():
    cfg = PAPER.replace(array_rows=2, array_cols=3, rician_k=0.0, kappa=2.5, n_pilots=2)
    system = make_system(cfg, 1)
    _assert_samples_equal(
        generate_miso(cfg, 4, 2, system), generate_miso_reference(cfg, 4, 2, system), exact=False
    )


# ------------------------------------------------------------------ determinism


def test_same_bytes_whatever_the_thread_count():
    before = numba.get_num_threads()
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    try:
        numba.set_num_threads(1)
        one = generate_miso(PAPER, 3000, seed=5, system=SYSTEM)
        numba.set_num_threads(threads)
        many = generate_miso(PAPER, 3000, seed=5, system=SYSTEM)
    finally:
        numba.set_num_threads(before)
    _assert_samples_equal(one, many)


def test_sample_k_independent_of_n_and_chunk_size():
    small = generate_miso(PAPER, 7, seed=9, system=SYSTEM)
    big = generate_miso(PAPER, 500, seed=9, system=SYSTEM, chunk_size=3)
    _assert_samples_equal(small, big.subset(slice(0, 7)))


def test_seed_and_system_change_the_data():
    a = generate_miso(PAPER, 5, seed=1, system=SYSTEM)
    b = generate_miso(PAPER, 5, seed=2, system=SYSTEM)
    c = generate_miso(PAPER, 5, seed=1, system=make_system(PAPER, 1))
    assert not np.array_equal(a.positions_m, b.positions_m)
    # another system changes the observations, not the users or channels
    np.testing.assert_array_equal(a.h, c.h)
    assert not np.allclose(a.y, c.y)


def test_integer_system_seed_is_accepted():
    a = generate_miso(PAPER, 3, seed=1, system=0)
    _assert_samples_equal(a, generate_miso(PAPER, 3, seed=1, system=SYSTEM))
    assert a.system.system_seed == 0


# ------------------------------------------------------------------ hand-computed values


def test_geometry_path_loss_and_steering_by_hand():
    # user (30, 40) m, BS 0 at (0, 0, 50) m: dx = 30, dy = 40, d = sqrt(5000) = 70.7107 m
    pos = np.array([[30.0, 40.0]])
    fac = geometry_factors(PAPER, pos)
    d = math.sqrt(5000.0)
    np.testing.assert_allclose(fac[0, 0], [d, 30.0 / d, 40.0 / d], rtol=1e-14)
    # BS 1 at (0, 100, 50): dx = 30, dy = -60, d = sqrt(900 + 3600 + 2500) = sqrt(7000)
    np.testing.assert_allclose(fac[0, 1], [math.sqrt(7000), 30 / math.sqrt(7000),
                                           -60 / math.sqrt(7000)], rtol=1e-14)
    # PL = 32.6 + 36.7 log10(70.7107) = 100.47610 dB -> gain 10^-10.047610 = 8.9617e-11
    assert math.isclose(float(path_gain(PAPER, pos)[0, 0]), 10 ** (-10.047610), rel_tol=1e-5)
    # antenna (m=1, n=2) is index 1*4 + 2 = 6, phase 1*0.424264 + 2*0.565685 = 1.555635 rad
    a = steering_vectors(PAPER, pos)
    assert abs(a[0, 0, 6] - complex(math.cos(1.555635), math.sin(1.555635))) < 1e-6
    # antenna (m=3, n=0) is index 12, phase 3 * 0.424264
    assert abs(a[0, 0, 12] - np.exp(1j * 3 * 30 / d)) < 1e-14
    np.testing.assert_allclose(np.abs(a), 1.0)
    # LoS part = sqrt(beta K / (1 + K)) a
    expect = math.sqrt(10 ** (-10.047610) * 10 / 11) * a[0, 0]
    np.testing.assert_allclose(los_channel(PAPER, pos)[0, 0], expect, rtol=1e-5)


def test_kernel_factors_and_path_loss_follow_positions():
    data = generate_miso(PAPER, 50, seed=3, system=SYSTEM)
    np.testing.assert_allclose(data.factors, geometry_factors(PAPER, data.positions_m),
                               rtol=1e-13)
    lo, hi = PAPER.user_area_m
    assert np.all((data.positions_m >= lo) & (data.positions_m <= hi))


def test_observations_to_real_order_and_roundtrip():
    data = generate_miso(PAPER, 4, seed=3, system=SYSTEM)
    x = observations_to_real(data.y)
    assert x.shape == (4, 24)
    # real parts of (b, l) row-major first, then the imaginary parts
    assert x[2, 1 * 4 + 3] == data.y[2, 1, 3].real
    assert x[2, 12 + 1 * 4 + 3] == data.y[2, 1, 3].imag
    np.testing.assert_array_equal(real_to_observations(x, 3, 4), data.y)


# ------------------------------------------------------------------ system


def test_system_pilot_power_and_unit_sensing_vectors():
    assert SYSTEM.pilots.shape == (4,) and SYSTEM.sensing.shape == (3, 4, 16)
    np.testing.assert_allclose(np.abs(SYSTEM.pilots) ** 2, PAPER.p_ue_w, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(SYSTEM.sensing, axis=-1), 1.0, rtol=1e-12)
    # phases are not all equal, vectors differ across BS and pilots
    assert np.ptp(np.angle(SYSTEM.pilots)) > 0.1
    assert np.abs(SYSTEM.sensing[0, 0].conj() @ SYSTEM.sensing[1, 0]) < 0.99


def test_system_is_deterministic_and_seed_specific():
    assert_same_system(SYSTEM, make_system(PAPER, 0))
    with pytest.raises(ConfigError, match="system_seed differs: 0 vs 1"):
        assert_same_system(SYSTEM, make_system(PAPER, 1))
    louder = make_system(PAPER.replace(p_ue_dbm=33.0), 0)
    with pytest.raises(ConfigError, match="system pilots differ"):
        assert_same_system(SYSTEM, louder)
    bigger = make_system(PAPER.replace(array_cols=2), 0)
    with pytest.raises(ConfigError, match="system sensing shape differs"):
        assert_same_system(SYSTEM, bigger)


def test_mismatched_system_is_rejected():
    with pytest.raises(ConfigError, match="does not match the config"):
        generate_miso(PAPER.replace(n_pilots=3), 2, seed=0, system=SYSTEM)
    with pytest.raises(ConfigError, match="pilot power"):
        generate_miso(PAPER.replace(p_ue_dbm=20.0), 2, seed=0, system=SYSTEM)
    bogus = MisoSystem(SYSTEM.pilots, SYSTEM.sensing[:, :, :8], 0)
    with pytest.raises(ConfigError, match="n_antennas"):
        generate_miso(PAPER, 2, seed=0, system=bogus)


# ------------------------------------------------------------------ statistics


def test_constant_modulus_noise_has_power_sigma2_exactly():
    data = generate_miso(PAPER, 2000, seed=7, system=SYSTEM)
    noise = data.y - pilot_signals(SYSTEM, data.h)
    np.testing.assert_allclose(np.abs(noise) ** 2, PAPER.noise_w, rtol=1e-6)
    # uniform phase: zero mean
    assert abs(noise.mean()) < 0.05 * math.sqrt(PAPER.noise_w)


def test_gaussian_noise_power_and_circularity():
    cfg = PAPER.replace(noise_law="gaussian")
    data = generate_miso(cfg, 20_000, seed=7, system=make_system(cfg, 0))
    noise = (data.y - pilot_signals(data.system, data.h)) / math.sqrt(cfg.noise_w)
    # 240,000 draws: the power's standard error is 0.2 %
    assert abs(np.mean(np.abs(noise) ** 2) - 1.0) < 0.01
    assert abs(np.mean(noise.real**2) - 0.5) < 0.01
    assert abs(np.mean(noise**2)) < 0.01  # circular: E[nu^2] = 0
    # not constant modulus
    assert np.std(np.abs(noise)) > 0.3


def test_fading_is_cn01_scaled_by_path_gain():
    data = generate_miso(PAPER, 20_000, seed=8, system=SYSTEM)
    beta = path_gain(PAPER, data.positions_m)[..., None]
    # (h - E[h]) / sqrt(beta / (1 + K)) ~ CN(0, 1): 960,000 entries
    z = (data.h - los_channel(PAPER, data.positions_m)) / np.sqrt(beta / 11.0)
    assert abs(np.mean(np.abs(z) ** 2) - 1.0) < 0.01  # CN(0, 2) would give 2
    assert abs(np.mean(z.real * z.imag)) < 0.01
    assert abs(np.mean(z)) < 0.01
    # and the whole channel carries beta * M on average: K/(1+K) M + 1/(1+K) M
    assert abs(np.mean(np.sum(np.abs(data.h) ** 2 / beta, axis=-1)) / 16 - 1.0) < 0.01


def test_positions_are_uniform_in_the_area():
    data = generate_miso(PAPER, 20_000, seed=2, system=SYSTEM)
    # U[10, 90]: mean 50, std 80 / sqrt(12) = 23.09
    np.testing.assert_allclose(data.positions_m.mean(axis=0), 50.0, atol=0.6)
    np.testing.assert_allclose(data.positions_m.std(axis=0), 80 / math.sqrt(12), rtol=0.02)


def test_observation_snr_matches_spec_range():
    """SPEC: per-observation SNR about -3..13 dB (10th..90th percentile), median 6 dB.

    The spread depends on the 12 sensing vectors of the system (system 0: -1.6 / 7.4 /
    14.8 dB; systems 1-3 range over -4.1..-1.6, 5.8..7.8, 14.0..14.9 dB), so the bounds are
    +-3 dB, while a wrong constant (natural log in the path loss, p_ue in mW, amplitude
    instead of power) moves them by tens of dB.
    """
    data = generate_miso(PAPER, 20_000, seed=1, system=SYSTEM)
    p10, p50, p90 = np.percentile(observation_snr_db(PAPER, SYSTEM, data.h), [10, 50, 90])
    assert -6.0 < p10 < 0.0
    assert 3.0 < p50 < 9.0
    assert 10.0 < p90 < 16.0
    assert 14.0 < p90 - p10 < 19.0


# ------------------------------------------------------------------ config


def test_preset_and_dict_roundtrip():
    assert PAPER.n_bs == 3 and PAPER.n_antennas == 16
    assert PAPER.noise_w == pytest.approx(5e-12)
    assert PAPER.p_ue_w == pytest.approx(1.0) and PAPER.p_bs_w == pytest.approx(10.0)
    back = MisoConfig.from_dict(PAPER.to_dict())
    assert back == PAPER and back.preset == "paper"
    custom = MisoConfig.from_dict({**PAPER.to_dict(), "preset": "custom", "kappa": 2.0})
    assert custom.kappa == 2.0 and isinstance(custom.bs_positions_m[0], tuple)
    hash(custom)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"array_rows": 0}, r"array_rows=0 is invalid; expected an integer >= 1"),
        ({"array_cols": 2.5}, r"array_cols=2.5 is invalid; expected an integer >= 1"),
        ({"bs_positions_m": []}, r"bs_positions_m=\[\] is invalid; expected at least one"),
        ({"bs_positions_m": [(0, 0)]}, r"bs_positions_m\[0\]=\(0, 0\) is invalid; expected 3"),
        ({"bs_positions_m": [(0, 0, 0)]}, r"bs_positions_m\[0\]\[2\]=0 is invalid; expected a "
                                          r"BS height > 0 m"),
        ({"bs_positions_m": [(0, float("nan"), 5)]}, r"bs_positions_m\[0\]\[1\]=nan"),
        ({"user_area_m": (90.0, 10.0)}, r"user_area_m=\(90.0, 10.0\) is invalid; expected lo < hi"),
        ({"user_area_m": 5.0}, r"user_area_m=5.0 is invalid; expected \(lo, hi\)"),
        ({"carrier_hz": 0}, r"carrier_hz=0 is invalid; expected a number > 0"),
        ({"bandwidth_hz": -1}, r"bandwidth_hz=-1 is invalid; expected a number > 0"),
        ({"noise_dbm_per_hz": "loud"}, r"noise_dbm_per_hz='loud' is invalid; expected a number"),
        ({"rician_k": -1.0}, r"rician_k=-1.0 is invalid; expected a number >= 0"),
        ({"kappa": float("inf")}, r"kappa=inf is invalid; expected a finite number"),
        ({"n_pilots": 0}, r"n_pilots=0 is invalid; expected an integer >= 1"),
        ({"p_ue_dbm": None}, r"p_ue_dbm=None is invalid; expected a number"),
        ({"p_bs_dbm": True}, r"p_bs_dbm=True is invalid; expected a finite number"),
        ({"noise_law": "laplace"}, r"noise_law='laplace' is invalid; expected one of "
                                   r"constant-modulus, gaussian"),
    ],
)
def test_bad_config_is_rejected_with_field_value_and_range(override, message):
    with pytest.raises(ConfigError, match=message):
        MisoConfig.from_preset("paper", **override)


def test_bad_preset_field_and_call_arguments():
    with pytest.raises(ConfigError, match="preset='nope' is invalid; expected one of paper"):
        MisoConfig.from_preset("nope")
    with pytest.raises(ConfigError, match="n_links=10 is not a MISO config field"):
        MisoConfig.from_preset("paper", n_links=10)
    with pytest.raises(ConfigError, match="n=0 is invalid"):
        generate_miso(PAPER, 0, seed=1, system=SYSTEM)
    with pytest.raises(ValueError, match="seed=-1 is invalid"):
        generate_miso(PAPER, 1, seed=-1, system=SYSTEM)
    with pytest.raises(ConfigError, match="system=str is invalid; expected a MisoSystem"):
        generate_miso(PAPER, 1, seed=1, system="paper")
    with pytest.raises(ConfigError, match="system_seed=-2 is invalid"):
        make_system(PAPER, -2)
    with pytest.raises(ConfigError, match="config=dict is invalid; expected a MisoConfig"):
        generate_miso({}, 1, seed=1, system=SYSTEM)
