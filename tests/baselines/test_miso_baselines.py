"""MISO baselines: beamformers, metrics, localization references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baselines.miso import (
    beamforming_gain,
    centre_guess,
    genie_lmmse_beamformer,
    genie_lmmse_estimate,
    grid_localization,
    knn_fingerprint,
    localization_errors_m,
    los_beamformer,
    mrt,
    random_beamformer,
    received_snr_db,
    snr_fraction_of_mrt,
    summarize_errors,
)
from simulators.miso import MisoConfig, generate_miso, los_channel, make_system
from simulators.validation import ConfigError

PAPER = MisoConfig.from_preset("paper")
SYSTEM = make_system(PAPER, 0)


@pytest.fixture(scope="module")
def test_set():
    return generate_miso(PAPER, 2000, seed=1, system=SYSTEM)


def test_beamformers_are_unit_norm(test_set):
    d = test_set
    for v in (
        mrt(d.h),
        los_beamformer(PAPER, d.positions_m),
        genie_lmmse_beamformer(PAPER, SYSTEM, d.positions_m, d.y),
        random_beamformer(len(d), 3, 16, seed=0),
    ):
        assert v.shape == (2000, 3, 16)
        np.testing.assert_allclose(np.linalg.norm(v, axis=-1), 1.0, rtol=1e-12)


def test_mrt_gain_is_exactly_one_and_bounds(test_set):
    h = test_set.h
    np.testing.assert_allclose(beamforming_gain(h, mrt(h)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(snr_fraction_of_mrt(h, mrt(h)), 1.0, rtol=1e-12)
    g = beamforming_gain(h, random_beamformer(len(h), 3, 16, seed=1))
    assert np.all((g >= 0) & (g <= 1 + 1e-12))


def test_received_snr_of_mrt_is_sum_of_channel_norms(test_set):
    h = test_set.h[:5]
    expect = 10 * np.log10(np.sum(np.abs(h) ** 2, axis=(1, 2)) * PAPER.p_bs_w / PAPER.noise_w)
    np.testing.assert_allclose(received_snr_db(h, mrt(h), PAPER.p_bs_w, PAPER.noise_w), expect)


def test_gain_hand_value():
    h = np.array([[[1.0 + 0j, 1.0j]]])  # ||h||^2 = 2
    v = np.array([[[1.0 + 0j, 0.0]]])  # h^H v = 1
    assert beamforming_gain(h, v)[0, 0] == pytest.approx(0.5)
    assert received_snr_db(h, v, 10.0, 5e-12)[0] == pytest.approx(10 * math.log10(2e12))


def test_los_and_genie_gains_match_spec(test_set):
    """SPEC: LoS ~91.5 %, genie LMMSE ~92.3 % of perfect MRT; random 1/M = 6.25 %.

    Theory for the LoS beamformer: (K M + 1) / ((K + 1) M) = 161 / 176 = 91.48 %. Over
    6,000 (sample, BS) pairs the standard error of the mean gain is about 0.07 %.
    """
    d = test_set
    los = beamforming_gain(d.h, los_beamformer(PAPER, d.positions_m))
    genie = beamforming_gain(d.h, genie_lmmse_beamformer(PAPER, SYSTEM, d.positions_m, d.y))
    rand = beamforming_gain(d.h, random_beamformer(len(d), 3, 16, seed=0))
    assert 0.910 < los.mean() < 0.920
    assert 0.918 < genie.mean() < 0.928
    assert genie.mean() > los.mean() + 0.004
    assert 0.055 < rand.mean() < 0.070


def test_genie_without_noise_recovers_the_pilot_subspace():
    """Noise -> 0: the estimate matches h exactly on the span of the sensing vectors."""
    cfg = PAPER.replace(noise_dbm_per_hz=-260.0)
    d = generate_miso(cfg, 20, seed=2, system=SYSTEM)
    h_hat = genie_lmmse_estimate(cfg, SYSTEM, d.positions_m, d.y)
    w = SYSTEM.sensing  # [B, L, M]
    np.testing.assert_allclose(
        np.einsum("blm,nbm->nbl", w.conj(), h_hat), np.einsum("blm,nbm->nbl", w.conj(), d.h),
        rtol=1e-6, atol=1e-6 * np.abs(d.h).max(),
    )
    # and equals the prior mean off that span
    q, _ = np.linalg.qr(w[0].T)  # [M, L] orthonormal basis of span(w_0,l)
    proj = np.eye(16) - q @ q.conj().T
    mu = los_channel(cfg, d.positions_m)
    np.testing.assert_allclose(
        h_hat[:, 0] @ proj.T, mu[:, 0] @ proj.T, atol=1e-9 * np.abs(mu).max()
    )


def test_genie_rejects_bad_shapes(test_set):
    with pytest.raises(ConfigError, match="y shape"):
        genie_lmmse_estimate(PAPER, SYSTEM, test_set.positions_m, test_set.y[:, :2])


def test_centre_guess_error_is_about_30_6_m(test_set):
    """Mean distance to the centre of an 80 m square: 80 * 0.3826 = 30.61 m (SPEC 30.6)."""
    pred = centre_guess(len(test_set), PAPER)
    np.testing.assert_array_equal(pred[0], [50.0, 50.0])
    stats = summarize_errors(localization_errors_m(pred, test_set.positions_m))
    assert 29.5 < stats["mean_m"] < 31.8
    assert stats["median_m"] < stats["p90_m"] < 80 / math.sqrt(2)


def test_knn_exact_fingerprint_returns_its_own_position(test_set):
    feats = test_set.observations_real()
    pred = knn_fingerprint(feats[:500], test_set.positions_m[:500], feats[100:110], k=1)
    np.testing.assert_array_equal(pred, test_set.positions_m[100:110])


def test_knn_beats_centre_guess(test_set):
    train = generate_miso(PAPER, 5000, seed=2, system=SYSTEM)
    pred = knn_fingerprint(train.observations_real(), train.positions_m,
                           test_set.observations_real()[:500], k=10)
    err = localization_errors_m(pred, test_set.positions_m[:500]).mean()
    assert err < 12.0


def test_knn_rejects_bad_input(test_set):
    feats = test_set.observations_real()
    with pytest.raises(ConfigError, match="k=11 is invalid; expected k <= n_train=10"):
        knn_fingerprint(feats[:10], test_set.positions_m[:10], feats[:2], k=11)
    with pytest.raises(ConfigError, match="train_positions_m shape"):
        knn_fingerprint(feats[:10], test_set.positions_m[:9], feats[:2])


def test_grid_localization_is_accurate_without_noise_and_fading():
    cfg = PAPER.replace(noise_dbm_per_hz=-200.0, rician_k=1e6)
    system = make_system(cfg, 0)
    d = generate_miso(cfg, 30, seed=3, system=system)
    pred = grid_localization(cfg, system, d.y, estimator="ml", grid_step_m=2.0)
    assert localization_errors_m(pred, d.positions_m).mean() < 0.2
    # the posterior collapses onto the nearest grid point: error below half a diagonal
    pred = grid_localization(cfg, system, d.y, estimator="mmse", grid_step_m=2.0)
    assert localization_errors_m(pred, d.positions_m).max() < math.sqrt(2.0) + 1e-6


def test_grid_mmse_is_insensitive_to_the_grid_at_paper_snr(test_set):
    y = test_set.y[:12]
    coarse = grid_localization(PAPER, SYSTEM, y, grid_step_m=1.0)
    fine = grid_localization(PAPER, SYSTEM, y, grid_step_m=0.5)
    assert localization_errors_m(coarse, fine).max() < 0.3


def test_grid_localization_beats_centre_guess(test_set):
    pred = grid_localization(PAPER, SYSTEM, test_set.y[:100])
    assert localization_errors_m(pred, test_set.positions_m[:100]).mean() < 9.0
    with pytest.raises(ConfigError, match="estimator='map' is invalid; expected one of mmse, ml"):
        grid_localization(PAPER, SYSTEM, test_set.y[:2], estimator="map")


def test_localization_errors_hand_value():
    assert localization_errors_m([[0.0, 0.0]], [[3.0, 4.0]]).tolist() == [5.0]
    with pytest.raises(ConfigError, match="pred_m shape"):
        localization_errors_m([[0.0, 0.0]], [[3.0, 4.0], [1.0, 1.0]])
