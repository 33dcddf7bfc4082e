"""ChunkedDataset: a torch Dataset over an HDF5 data file, read in chunks, and fit() on it."""

import numpy as np
import pytest
import torch

from simulators.d2d import D2DConfig
from simulators.validation import ConfigError
from wirelessrl.datasets import load_d2d, simulate_d2d_file
from wirelessrl.engine import TrainConfig, fit
from wirelessrl.loaders import ChunkedDataset, ChunkShuffleSampler
from wirelessrl.models import TransferNet, d2d_net_config
from wirelessrl.objectives import D2DRateLoss, Objective

CFG = D2DConfig.from_preset("paper", n_links=3)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return simulate_d2d_file(CFG, 1000, 4, tmp_path_factory.mktemp("ld") / "d.h5",
                             chunk_size=300)


def to_batch(arrays):
    g = arrays["g"].astype(np.float32)
    x = np.log10(g.reshape(len(g), -1))
    return {"x": torch.from_numpy((x - x.mean()) / 3.0), "g": torch.from_numpy(g)}


def test_items_and_chunks_match_the_file(data_file):
    g = load_d2d(data_file).g
    ds = ChunkedDataset(data_file, ("g",), start=100, stop=950, chunk_size=64)
    assert len(ds) == 850 and ds.n_chunks == 14
    for i in (0, 63, 64, 849, -1):
        np.testing.assert_array_equal(ds[i]["g"].numpy(), g[100 + (i % 850)])
    with pytest.raises(IndexError):
        ds[850]


@pytest.mark.parametrize("batch_size, drop_last", [(50, False), (64, True), (1000, False)])
def test_batches_visit_every_sample_once_per_epoch(data_file, batch_size, drop_last):
    ds = ChunkedDataset(data_file, ("g", "redraws"), chunk_size=70)
    gen = torch.Generator().manual_seed(3)
    batches = list(ds.batches(batch_size, generator=gen, drop_last=drop_last))
    sizes = [len(b["g"]) for b in batches]
    assert all(s == batch_size for s in sizes[:-1])
    seen = torch.cat([b["g"].reshape(len(b["g"]), -1) for b in batches])
    ref = torch.from_numpy(load_d2d(data_file).g.reshape(1000, -1))
    expected = 1000 - (1000 % batch_size if drop_last else 0)
    assert seen.shape[0] == expected
    if not drop_last:  # a permutation of all rows
        key = lambda t: t[:, 0] * 1e3 + t[:, 1]  # noqa: E731
        assert torch.equal(torch.sort(key(seen)).values, torch.sort(key(ref)).values)
    again = list(ds.batches(batch_size, generator=torch.Generator().manual_seed(3),
                            drop_last=drop_last))
    assert all(torch.equal(a["g"], b["g"]) for a, b in zip(batches, again, strict=True))


def test_sampler_groups_indices_by_chunk(data_file):
    ds = ChunkedDataset(data_file, ("g",), chunk_size=128)
    idx = list(ChunkShuffleSampler(ds, seed=1))
    assert sorted(idx) == list(range(1000))
    chunks = [i // 128 for i in idx]
    assert sum(a != b for a, b in zip(chunks, chunks[1:], strict=False)) == ds.n_chunks - 1
    loader = torch.utils.data.DataLoader(ds, batch_size=100, sampler=ChunkShuffleSampler(ds))
    assert sum(len(b["g"]) for b in loader) == 1000


def test_fit_trains_from_a_streamed_file_and_resumes(data_file, tmp_path):
    kw = dict(p_max_w=CFG.p_max_w, noise_w=CFG.noise_w)
    objective = Objective(D2DRateLoss("sum", **kw), head="sum_rate")
    valid = to_batch({"g": load_d2d(data_file).g[800:]})
    train = ChunkedDataset(data_file, ("g",), to_batch, stop=800, chunk_size=128)
    cfg = TrainConfig(epochs=6, batch_size=100, device="cpu", seed=2,
                      checkpoint_every_s=0.0, monitor="sum_rate_bps_per_hz", mode="max")

    def net():
        torch.manual_seed(0)
        return TransferNet.from_config(d2d_net_config(3))

    whole = fit(net(), objective, train, valid, cfg)
    assert whole.last_epoch == 6 and np.isfinite(whole.best_metric)
    assert whole.best_metric > whole.history[0]["valid_sum_rate_bps_per_hz"] - 1e-9
    first = fit(net(), objective, train, valid, cfg.replace(epochs=3), tmp_path / "run")
    resumed = fit(net(), objective, train, valid, cfg, tmp_path / "run")
    assert first.last_epoch == 3 and resumed.resumed_from == 3
    assert resumed.best_metric == whole.best_metric


def test_bad_arguments_name_the_field(data_file):
    with pytest.raises(ConfigError, match="lacks the array 'h'"):
        ChunkedDataset(data_file, ("h",))
    with pytest.raises(ConfigError, match="stop=2000"):
        ChunkedDataset(data_file, ("g",), stop=2000)
    with pytest.raises(ConfigError, match="keys='g'"):
        ChunkedDataset(data_file, "g")
    with pytest.raises(ConfigError, match="chunk_size=0"):
        ChunkedDataset(data_file, ("g",), chunk_size=0)
