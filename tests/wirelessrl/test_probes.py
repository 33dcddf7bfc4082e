"""wirelessrl.probes against plain references: ridge = the normal equations / lstsq, the
principal directions = numpy's covariance, and a hand-made data set whose answer is known
(a target linear in the top principal directions)."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from simulators.validation import ConfigError
from wirelessrl.probes import (
    PROBE_SPLITS,
    RIDGE_GRID,
    ProbeTask,
    effective_dimension,
    entry_correlation,
    fit_ridge_probe,
    per_entry_mse,
    principal_directions,
    principal_sizes,
    r2_score,
    rank_correlation,
    ridge_path,
)

RNG = np.random.default_rng(7)


def _scaled(x):
    """The probe's own centring and common scale, written out plainly."""
    mean = x.mean(axis=0)
    return (x - mean) / np.sqrt(np.mean(np.var(x, axis=0))), mean


@pytest.mark.parametrize("n", [40, 6])  # more rows than columns, and fewer
def test_ridge_path_equals_the_normal_equations_and_lstsq(n):
    x = RNG.normal(size=(n, 8)) * np.arange(1, 9)  # columns of different scales
    y = RNG.normal(size=(n, 3))
    strengths = [0.0, 1e-3, 0.5, 10.0]
    weights, _, _, y_mean = ridge_path(x, y, strengths)
    xs, _ = _scaled(x)
    yc = y - y.mean(axis=0)
    assert np.allclose(y_mean, y.mean(axis=0))
    # r = 0: the minimum-norm least-squares solution
    assert np.allclose(weights[0], np.linalg.lstsq(xs, yc, rcond=None)[0], atol=1e-10)
    for w, r in zip(weights[1:], strengths[1:], strict=True):
        lam = r * n
        reference = np.linalg.solve(xs.T @ xs + lam * np.eye(8), xs.T @ yc)
        assert np.allclose(w, reference, atol=1e-10)


def test_fit_ridge_probe_keeps_the_best_validation_strength_and_predicts_plainly():
    x = RNG.normal(size=(300, 10))
    y = x[:, :2] @ [[1.0, 0.5], [-2.0, 1.0]] + RNG.normal(scale=2.0, size=(300, 2))
    probe = fit_ridge_probe(x[:50], y[:50], x[50:200], y[50:200])
    assert set(probe.valid_scores) == set(RIDGE_GRID)
    assert probe.valid_scores[probe.strength] == max(probe.valid_scores.values())
    xs, mean = _scaled(x[:50])
    scale = np.sqrt(np.mean(np.var(x[:50], axis=0)))
    lam = probe.strength * 50
    w = np.linalg.solve(xs.T @ xs + lam * np.eye(10), xs.T @ (y[:50] - y[:50].mean(0)))
    expected = (x[200:] - mean) / scale @ w + y[:50].mean(0)
    assert np.allclose(probe.predict(x[200:]), expected, atol=1e-10)


def test_a_custom_selection_score_picks_the_strength():
    x = RNG.normal(size=(100, 4))
    y = x[:, :1]
    shrunk = fit_ridge_probe(x[:50], y[:50], x[50:], y[50:], score=lambda p, t: -np.std(p))
    free = fit_ridge_probe(x[:50], y[:50], x[50:], y[50:], score=lambda p, t: np.std(p))
    assert (shrunk.strength, free.strength) == (RIDGE_GRID[-1], RIDGE_GRID[0])


def test_a_nearly_dead_unit_does_not_take_over_the_test_predictions():
    """A feature active on one training sample (a ReLU unit about to die) must not be blown
    up to unit variance: a test sample where it fires stays predicted sensibly."""
    n = 200
    x = RNG.normal(size=(n + 50, 5))
    y = x[:, :1] + 0.3 * RNG.normal(size=(n + 50, 1))
    dead = np.zeros((n + 50, 1))
    dead[0] = 1e-4        # active once in training
    dead[n:] = 1.0        # fires on every test sample
    probe = fit_ridge_probe(np.hstack([x, dead])[:150], y[:150],
                            np.hstack([x, dead])[150:n], y[150:n])
    pred = probe.predict(np.hstack([x, dead])[n:])
    assert r2_score(pred, y[n:]) > 0.8  # 0.91; about -5e6 with one scale per column


def _known_pca_data(n=20_000, d=20, seed=3):
    """Gaussian x with variances 10, 8, then 2 down to 0.5, rotated at random; y linear in
    the top two principal coordinates (independent of the others)."""
    rng = np.random.default_rng(seed)
    variances = np.r_[10.0, 8.0, np.linspace(2.0, 0.5, d - 2)]
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    z = rng.normal(size=(n, d)) * np.sqrt(variances)
    y = z[:, :2] @ np.array([[1.0], [-0.5]])
    return z @ rotation.T, y, variances


def test_principal_directions_match_numpys_covariance():
    x, _, variances = _known_pca_data(n=4000)
    p = principal_directions(x)
    reference = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    assert np.allclose(p.eigenvalues, reference, rtol=1e-10, atol=1e-12)
    assert np.allclose(p.vectors.T @ p.vectors, np.eye(x.shape[1]), atol=1e-10)
    assert np.allclose(p.eigenvalues, variances, rtol=0.1)  # the known spectrum


def test_target_in_the_top_directions_top_probe_perfect_bottom_probe_empty():
    x, y, _ = _known_pca_data()
    pca = principal_directions(x[:10_000])  # basis from other samples than the probes
    train, valid, test = slice(10_000, 12_000), slice(12_000, 14_000), slice(14_000, None)
    for k in (2, 5):
        r2 = {}
        for part in ("top", "bottom"):
            z = pca.project(x, part, k)
            probe = fit_ridge_probe(z[train], y[train], z[valid], y[valid])
            r2[part] = r2_score(probe.predict(z[test]), y[test])
        assert r2["top"] > 0.999, (k, r2)
        assert r2["bottom"] < 0.02, (k, r2)


def test_all_directions_are_the_input_up_to_a_rotation():
    x, y, _ = _known_pca_data(n=3000)
    pca = principal_directions(x[:1000])
    z = pca.project(x, "top", x.shape[1])
    raw = fit_ridge_probe(x[1000:2000], y[1000:2000], x[2000:2500], y[2000:2500])
    rotated = fit_ridge_probe(z[1000:2000], y[1000:2000], z[2000:2500], y[2000:2500])
    assert np.allclose(raw.predict(x[2500:]), rotated.predict(z[2500:]), atol=1e-8)


def test_principal_sizes_and_effective_dimension():
    assert principal_sizes(100) == [10, 25, 50]
    assert principal_sizes(4) == [1, 2]
    assert effective_dimension([2.0, 2.0, 2.0, 0.0]) == pytest.approx(3.0)
    assert effective_dimension([5.0, 0.0]) == pytest.approx(1.0)


def test_per_entry_error_correlation_and_rank_correlation_against_references():
    rec, target = RNG.normal(size=(50, 2, 3)), RNG.normal(size=(50, 2, 3))
    assert np.allclose(per_entry_mse(rec, target),
                       [np.mean((rec[:, i, j] - target[:, i, j]) ** 2)
                        for i in range(2) for j in range(3)])
    entries, y = RNG.normal(size=(60, 4)), RNG.normal(size=(60, 2))
    entries[:, 3] = 1.0  # constant: no correlation, not NaN
    c = entry_correlation(entries, y)
    for e in range(3):
        for k in range(2):
            assert c[e, k] == pytest.approx(np.corrcoef(entries[:, e], y[:, k])[0, 1])
    assert np.all(c[3] == 0.0)
    a, b = RNG.normal(size=30), RNG.normal(size=30)
    b[:5] = b[0]  # ties
    assert rank_correlation(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert np.isnan(rank_correlation(a, np.ones(30)))


def test_r2_score_reference_values():
    y = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])  # second column constant: left out
    assert r2_score(y, y) == 1.0
    assert r2_score(np.full_like(y, 2.0), y) == pytest.approx(0.0)
    assert r2_score(y[:, :1] + 1.0, y[:, :1]) == pytest.approx(1.0 - 3.0 / 2.0)


def test_bad_inputs_give_one_line_errors():
    with pytest.raises(ConfigError, match="strengths"):
        ridge_path(np.ones((3, 2)), np.ones(3), [-1.0])
    with pytest.raises(ConfigError, match="rows"):
        ridge_path(np.ones((3, 2)), np.ones(4))
    with pytest.raises(ConfigError, match="non-finite"):
        ridge_path(np.array([[np.nan, 1.0]]), np.ones(1))
    with pytest.raises(ConfigError, match="k=0"):
        principal_directions(RNG.normal(size=(5, 3))).project(np.ones((2, 3)), "top", 0)
    with pytest.raises(ConfigError, match="target splits missing"):
        ProbeTask(target={"test": np.ones((2, 1))}, target_label="t", score=lambda p: {},
                  metrics={"m": "m (unitless)"}, mode="max")
    assert PROBE_SPLITS == ("target_train", "target_valid", "test")
