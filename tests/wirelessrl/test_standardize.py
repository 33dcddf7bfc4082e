"""The one Standardizer: training statistics, NumPy and torch paths, constant entries."""

import numpy as np
import pytest
import torch

from wirelessrl.standardize import Standardizer


def test_uses_training_statistics():
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(1000, 3, 3))
    s = Standardizer.fit(train)
    z = s(train)
    assert z.shape == (1000, 9) and z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)
    # other data is mapped with the training statistics, not its own
    np.testing.assert_allclose(s(np.full((1, 3, 3), 3.0)), (3.0 - s.mean[None]) / s.std[None],
                               rtol=1e-6)


def test_log_db_standardizes_ten_log10():
    rng = np.random.default_rng(1)
    g = rng.lognormal(-20.0, 3.0, size=(500, 4, 4))
    s = Standardizer.fit(g, log_db=True)
    db = 10.0 * np.log10(g.reshape(500, -1))
    np.testing.assert_allclose(s(g), (db - db.mean(0)) / db.std(0), rtol=1e-5, atol=1e-5)


def test_constant_entry_is_divided_by_one():
    z = np.stack([np.arange(5.0), np.full(5, 7.0)], axis=1)
    s = Standardizer.fit(z)
    assert s.std[1] == 1.0
    np.testing.assert_array_equal(s(z)[:, 1], 0.0)


@pytest.mark.parametrize("log_db", [False, True])
def test_torch_path_equals_numpy_path(log_db):
    g = np.random.default_rng(2).lognormal(-20.0, 3.0, size=(200, 3, 3))
    s = Standardizer.fit(g, log_db=log_db)
    ref = s(g)
    out = s.torch(torch.from_numpy(g))
    assert out.dtype == torch.float32 and out.shape == ref.shape
    np.testing.assert_array_equal(out.numpy(), ref)
    # float32 gains (the training tensors) give the same values to float32 precision
    out32 = s.torch(torch.from_numpy(g.astype(np.float32)))
    np.testing.assert_allclose(out32.numpy(), ref, rtol=1e-5, atol=1e-5)


def test_wrong_shape_input_is_refused():
    s = Standardizer.fit(np.zeros((4, 3)))
    with pytest.raises(ValueError):
        s(np.zeros((4, 5)))
