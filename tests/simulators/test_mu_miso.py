"""Multi-user MISO channels: kernel against the NumPy reference, statistics large enough
that a wrong constant fails, same seed -> same bytes, bad input."""

import math

import numba
import numpy as np
import pytest

from simulators.mu_miso import MuMisoConfig, generate_mu_miso, generate_mu_miso_reference
from simulators.validation import ConfigError

CELL = MuMisoConfig.from_preset("cell")
IID = MuMisoConfig.from_preset("rayleigh-10db")


def test_presets_state_what_they_reproduce():
    assert (IID.n_antennas, IID.n_users, IID.pathloss_model) == (4, 4, "none")
    assert IID.snr_db == pytest.approx(10.0, abs=1e-12)
    assert IID.noise_w == pytest.approx(1.0)
    assert (CELL.n_antennas, CELL.n_users) == (8, 4)
    # 3GPP-style 128.1 + 37.6 log10(d / km) dB at 1 m: 128.1 - 3 * 37.6
    assert CELL.pathloss_ref_db == pytest.approx(128.1 - 3 * 37.6)
    assert CELL.noise_w == pytest.approx(10 ** (-17.4 - 3) * 10e6)
    assert CELL.n_pilots == CELL.n_users


@pytest.mark.parametrize("cfg", [CELL, IID, CELL.replace(rician_k=3.0, shadowing_sigma_db=0.0),
                                 IID.replace(n_antennas=5, n_users=2, rician_k=1.0)])
def test_kernel_matches_reference_draw_for_draw(cfg):
    fast = generate_mu_miso(cfg, 40, seed=11)
    ref = generate_mu_miso_reference(cfg, 40, seed=11)
    np.testing.assert_allclose(fast.positions_m, ref.positions_m, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(fast.h, ref.h, rtol=1e-12, atol=0)
    np.testing.assert_allclose(fast.y, ref.y, rtol=1e-12, atol=0)
    part = generate_mu_miso_reference(cfg, 5, seed=11, first_index=30)
    np.testing.assert_allclose(fast.h[30:35], part.h, rtol=1e-12)


def test_same_seed_same_bytes_whatever_n_chunks_and_threads():
    a = generate_mu_miso(CELL, 300, seed=5)
    b = generate_mu_miso(CELL, 100, seed=5, chunk_size=7)
    assert a.h[:100].tobytes() == b.h.tobytes() and a.y[:100].tobytes() == b.y.tobytes()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        c = generate_mu_miso(CELL, 300, seed=5)
    finally:
        numba.set_num_threads(before)
    assert a.h.tobytes() == c.h.tobytes() and a.positions_m.tobytes() == c.positions_m.tobytes()
    assert generate_mu_miso(CELL, 10, seed=6).h.tobytes() != a.h[:10].tobytes()


def test_iid_rayleigh_statistics():
    h = generate_mu_miso(IID, 20_000, seed=1).h  # 320,000 entries
    power = np.abs(h) ** 2
    assert power.mean() == pytest.approx(1.0, abs=0.01)  # se 0.0018
    assert np.abs(h.mean()) < 0.01
    assert np.mean(h.real**2) == pytest.approx(0.5, abs=0.005)
    assert abs(np.mean(h.real * h.imag)) < 0.005
    # |h|^2 ~ Exp(1): P(|h|^2 > 1) = e^-1
    assert np.mean(power > 1.0) == pytest.approx(math.exp(-1), abs=0.005)
    # independent across users and antennas
    c = np.mean(h[:, 0, 0] * h[:, 1, 0].conj())
    assert abs(c) < 0.03


def test_rician_mean_is_the_los_steering_vector():
    cfg = IID.replace(rician_k=10.0)
    data = generate_mu_miso(cfg, 20_000, seed=2)
    # antenna 0: a_0 = 1, so E[h_k0] = sqrt(K / (1 + K)) and Var = 1 / (1 + K)
    h0 = data.h[:, :, 0].ravel()
    assert h0.real.mean() == pytest.approx(math.sqrt(10 / 11), abs=0.005)
    assert np.var(h0) == pytest.approx(1 / 11, rel=0.02)
    # antenna m: LoS phase pi m sin(theta), theta the user's angle seen from the BS
    sin_t = data.positions_m[..., 1] / np.linalg.norm(data.positions_m, axis=-1)
    los = np.sqrt(10 / 11) * np.exp(1j * np.pi * 3 * sin_t)
    resid = data.h[:, :, 3] - los
    assert np.abs(resid.mean()) < 0.005 and np.var(resid) == pytest.approx(1 / 11, rel=0.02)


def test_cell_drop_pathloss_and_shadowing_statistics():
    cfg = CELL.replace(rician_k=1e12)  # pure LoS: |h_km|^2 = beta exactly
    data = generate_mu_miso(cfg, 20_000, seed=3)
    r = np.linalg.norm(data.positions_m, axis=-1)
    assert r.min() >= 35.0 and r.max() <= 500.0
    r0, r1 = 35.0, 500.0
    assert r.mean() == pytest.approx(2 / 3 * (r1**3 - r0**3) / (r1**2 - r0**2), rel=0.005)
    angle = np.arctan2(data.positions_m[..., 1], data.positions_m[..., 0])
    assert np.mean(angle > 0) == pytest.approx(0.5, abs=0.01)
    gain_db = 10 * np.log10(np.abs(data.h[..., 0]) ** 2)
    shadow_db = -(gain_db + 15.3 + 37.6 * np.log10(r))  # 80,000 draws of N(0, 8^2)
    assert shadow_db.mean() == pytest.approx(0.0, abs=0.1)
    assert shadow_db.std() == pytest.approx(8.0, abs=0.1)
    assert np.allclose(np.abs(data.h) ** 2, np.abs(data.h[..., :1]) ** 2, rtol=1e-9)


def test_cell_rayleigh_power_follows_the_pathloss_law():
    data = generate_mu_miso(CELL.replace(shadowing_sigma_db=0.0), 10_000, seed=4)
    r = np.linalg.norm(data.positions_m, axis=-1)
    beta = 10 ** (-(15.3 + 37.6 * np.log10(r)) / 10)
    ratio = np.abs(data.h) ** 2 / beta[..., None]  # Exp(1), 320,000 draws
    assert ratio.mean() == pytest.approx(1.0, abs=0.01)


def test_pilots_are_the_channel_plus_noise():
    data = generate_mu_miso(CELL, 10_000, seed=5)
    z = data.y - math.sqrt(CELL.n_pilots * CELL.p_ue_w) * data.h
    assert np.mean(np.abs(z) ** 2) / CELL.noise_w == pytest.approx(1.0, abs=0.01)
    est = data.channel_estimate()
    assert np.median(np.abs(est - data.h) / np.abs(data.h)) < 0.1


@pytest.mark.parametrize("field,value,match", [
    ("n_users", 0, r"n_users=0 is invalid; expected an integer >= 1"),
    ("n_antennas", 2.5, r"n_antennas=2.5 is invalid"),
    ("min_distance_m", 600.0, r"min_distance_m=600.0 is invalid; expected a value < "),
    ("pathloss_model", "cost231", r"pathloss_model='cost231' is invalid; expected one of"),
    ("rician_k", -1.0, r"rician_k=-1.0 is invalid; expected a number >= 0"),
    ("shadowing_sigma_db", float("nan"), r"shadowing_sigma_db=nan is invalid"),
    ("p_max_dbm", "abc", r"p_max_dbm='abc' is invalid; expected a number"),
    ("n_pilots", 2, r"n_pilots=2 is invalid; expected at least n_users=4"),
    ("cell_radius_m", -5, r"cell_radius_m=-5 is invalid; expected a number > 0"),
])
def test_bad_config_names_the_field(field, value, match):
    with pytest.raises(ConfigError, match=match):
        MuMisoConfig.from_preset("cell", **{field: value})


def test_bad_calls():
    with pytest.raises(ConfigError, match="preset='paper' is invalid; expected one of"):
        MuMisoConfig.from_preset("paper")
    with pytest.raises(ConfigError, match="n_user=3 is not a multi-user MISO config field"):
        MuMisoConfig.from_preset("cell", n_user=3)
    with pytest.raises(ConfigError, match="n=0 is invalid"):
        generate_mu_miso(CELL, 0, seed=1)
    with pytest.raises(ConfigError, match="seed=-1 is invalid"):
        generate_mu_miso(CELL, 3, seed=-1)
    with pytest.raises(ConfigError, match="config=dict is invalid; expected a MuMisoConfig"):
        generate_mu_miso({}, 3, seed=1)


def test_string_numbers_from_yaml_are_numbers():
    cfg = MuMisoConfig.from_preset("cell", p_max_dbm="20")
    assert cfg.p_max_w == pytest.approx(0.1)
    assert cfg.p_max_dbm == 20.0 and MuMisoConfig.from_dict(cfg.to_dict()) == cfg
