"""The named system ``"paper"``: the method paper's own pilot / sensing draw (legacy seed 123)."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.miso import (
    MisoConfig,
    assert_same_system,
    check_system_seed,
    generate_miso,
    make_system,
    observation_snr_db,
)
from simulators.validation import ConfigError

PAPER = MisoConfig.from_preset("paper")

# The first draws of NumPy's legacy generator after np.random.seed(123), checked by hand
# against the widely quoted values of np.random.seed(123); np.random.randn(10).
FIRST_NORMALS_SEED_123 = (-1.0856306033005612, 0.9973454465835858, 0.28297849805199204,
                          -1.506294713918092, -0.5786002519685364, 1.651436537097151,
                          -2.426679243393074, -0.42891262885617726)


def test_paper_pilots_are_the_first_legacy_normals_scaled_to_unit_modulus():
    system = make_system(PAPER, "paper")
    re, im = np.array(FIRST_NORMALS_SEED_123[:4]), np.array(FIRST_NORMALS_SEED_123[4:])
    want = (re + 1j * im) / np.abs(re + 1j * im)  # P_ue = 30 dBm = 1 W: modulus 1
    np.testing.assert_allclose(system.pilots, want, rtol=1e-9)
    assert system.pilots[0] == pytest.approx(-0.88248884 - 0.47033334j, abs=1e-8)


def test_paper_sensing_vectors_follow_the_pilots_in_the_legacy_stream():
    system = make_system(PAPER, "paper")
    rng = np.random.RandomState(123)
    rng.normal(size=8)  # the pilots' real and imaginary parts come first
    raw = rng.normal(size=(3, 4, 16)) + 1j * rng.normal(size=(3, 4, 16))
    np.testing.assert_allclose(system.sensing, raw / np.linalg.norm(raw, axis=-1, keepdims=True),
                               rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(system.sensing, axis=-1), 1.0, rtol=1e-12)
    assert system.sensing.shape == (3, 4, 16) and not system.sensing.flags.writeable


def test_paper_system_scales_pilots_to_the_configured_power():
    config = MisoConfig.from_preset("paper", p_ue_dbm=20.0)
    np.testing.assert_allclose(np.abs(make_system(config, "paper").pilots), np.sqrt(0.1))


def test_paper_system_leaves_the_global_numpy_generator_alone():
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (the paper's code used it)
    make_system(PAPER, "paper")
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_paper_system_gives_the_per_bs_observation_snr_measured_on_the_paper_draw():
    # SPEC section 3: median per-observation SNR 9.8 / 7.9 / 8.0 dB per BS on the paper's
    # draw, against 7.7 / 7.35 / 7.0 dB for system seed 0: a different draw fails this.
    system = make_system(PAPER, "paper")
    data = generate_miso(PAPER, 10_000, 3, system)
    snr_db = observation_snr_db(PAPER, system, data.h)  # [n, n_bs, n_pilots]
    median_db = np.median(snr_db.transpose(1, 0, 2).reshape(3, -1), axis=1)
    np.testing.assert_allclose(median_db, [9.8, 7.9, 8.0], atol=0.12)


def test_paper_and_integer_systems_are_told_apart():
    with pytest.raises(ConfigError, match="system_seed differs: paper vs 0"):
        assert_same_system(make_system(PAPER, "paper"), make_system(PAPER, 0))
    assert_same_system(make_system(PAPER, "paper"), make_system(PAPER, "paper"))


@pytest.mark.parametrize("value, want", [("paper", "paper"), ("7", 7), (" 3 ", 3), (0, 0),
                                         (np.int64(5), 5)])
def test_check_system_seed_accepts_integers_digit_strings_and_names(value, want):
    assert check_system_seed(value) == want


@pytest.mark.parametrize("value", ["Paper", "pap", "", "-1", -1, 1.5, True, None, [1]])
def test_check_system_seed_rejects_everything_else_naming_the_field(value):
    with pytest.raises(ConfigError, match=r"system_seed=.* is invalid"):
        check_system_seed(value)
