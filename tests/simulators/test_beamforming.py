"""Batched downlink SINR / rates against a per-sample loop and hand-computed values."""

import numpy as np
import pytest

from simulators.beamforming import (
    antenna_power_w,
    gain_matrix,
    min_rate_bps,
    sinr,
    sum_rate_bps,
    total_power_w,
    user_rates_bps,
)
from simulators.validation import ConfigError


def _draw(rng, *shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _loop_sinr(h, w, noise):
    batch, k_users, _ = h.shape
    out = np.empty((batch, k_users))
    for b in range(batch):
        for k in range(k_users):
            sig = abs(np.vdot(h[b, k], w[b, k])) ** 2  # vdot conjugates its first argument
            interf = sum(abs(np.vdot(h[b, k], w[b, j])) ** 2 for j in range(k_users) if j != k)
            out[b, k] = sig / (interf + noise)
    return out


def test_batched_equals_per_sample_loop():
    rng = np.random.default_rng(0)
    h, w = _draw(rng, 50, 3, 5), _draw(rng, 50, 3, 5)
    np.testing.assert_allclose(sinr(h, w, 0.3), _loop_sinr(h, w, 0.3), rtol=1e-12)
    r = user_rates_bps(h, w, 0.3, bandwidth_hz=2.0)
    np.testing.assert_allclose(r, 2.0 * np.log2(1 + _loop_sinr(h, w, 0.3)), rtol=1e-12)
    np.testing.assert_allclose(sum_rate_bps(h, w, 0.3), np.log2(1 + _loop_sinr(h, w, 0.3)).sum(1))
    np.testing.assert_allclose(min_rate_bps(h, w, 0.3), np.log2(1 + _loop_sinr(h, w, 0.3)).min(1))
    wts = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose(sum_rate_bps(h, w, 0.3, weights=wts),
                               (np.log2(1 + _loop_sinr(h, w, 0.3)) * wts).sum(1))


def test_many_beamformers_broadcast_against_one_channel_set():
    rng = np.random.default_rng(1)
    h, w = _draw(rng, 20, 4, 4), _draw(rng, 6, 20, 4, 4)
    many = sinr(h, w, 1.0)
    assert many.shape == (6, 20, 4)
    for s in range(6):
        np.testing.assert_allclose(many[s], _loop_sinr(h, w[s], 1.0), rtol=1e-12)


def test_hand_computed_values_and_powers():
    h = np.array([[[1.0, 0.0], [1.0, 1.0]]], dtype=complex)
    w = np.array([[[1.0, 0.0], [0.0, 1j]]])
    # G[k, j] = |h_k^H w_j|^2: user 0 sees stream 0 at 1, stream 1 at 0; user 1 sees 1, 1
    np.testing.assert_allclose(gain_matrix(h, w), [[[1.0, 0.0], [1.0, 1.0]]])
    np.testing.assert_allclose(sinr(h, w, 0.5), [[2.0, 1.0 / 1.5]])
    assert total_power_w(w)[0] == 2.0
    np.testing.assert_allclose(antenna_power_w(w), [[1.0, 1.0]])


def test_high_sinr_has_no_cancellation():
    h = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=complex)
    w = np.array([[[1e8, 1e-8], [0.0, 1.0]]], dtype=complex)
    # interference at user 1 from stream 0 is exactly 1e-16, beside noise 1e-16
    np.testing.assert_allclose(sinr(h, w, 1e-16)[0, 1], 1.0 / 2e-16, rtol=1e-12)


def test_shape_mismatch_is_one_line_error():
    with pytest.raises(ConfigError, match=r"h has shape \(2, 3, 4\) and w \(2, 4, 3\)"):
        sinr(np.ones((2, 3, 4)), np.ones((2, 4, 3)), 1.0)
