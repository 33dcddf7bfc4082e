"""Transfer strategies on a tiny D2D task: what is frozen, trained, dropped and saved."""

from __future__ import annotations

import pytest
import torch

from simulators.validation import ConfigError
from wirelessrl.checkpoint import load_net
from wirelessrl.engine import TrainConfig
from wirelessrl.transfer import (
    STRATEGIES,
    Strategy,
    TransferTask,
    get_strategy,
    train_source,
    train_target,
)

N = 3


@pytest.fixture(scope="module")
def setup(tiny_d2d_task):
    return tiny_d2d_task


def tc(**kw):
    return TrainConfig(**{"epochs": 6, "batch_size": 10, "lr": 3e-3, "device": "cpu",
                          "seed": 1, **kw})


@pytest.fixture(scope="module")
def sources(setup):
    task, data = setup
    return {
        name: train_source(task, name, data["source"], data["valid"], tc(epochs=8))
        for name in ("conventional", "reconstruction")
    }


def test_reconstruction_loss_falls(setup):
    task, data = setup
    _, result = train_source(task, "reconstruction", data["source"], data["valid"],
                             tc(epochs=15))
    rec = [row["valid_rec_mse"] for row in result.history]
    assert rec[-1] < 0.8 * rec[0]


def test_source_nets_have_decoder_only_with_reconstruction(sources):
    conv, _ = sources["conventional"]
    recon, _ = sources["reconstruction"]
    assert conv.decoder is None and recon.decoder is not None
    assert conv.head_names == ("sum_rate",) == recon.head_names


@pytest.mark.parametrize("strategy", ["conventional", "reconstruction"])
@pytest.mark.parametrize("cache", [True, False], ids=["cached", "uncached"])
def test_frozen_features_are_byte_identical_and_head_trains(setup, sources, strategy, cache):
    task, data = setup
    source, _ = sources[strategy]
    before = {k: v.clone() for k, v in source.features.state_dict().items()}
    torch.manual_seed(1)
    # the head the target starts from (train_target initializes it with config.seed)
    net0, _ = train_target(task, strategy, source, data["target"], data["valid"],
                           tc(epochs=1, lr=1e-12), cache_features=cache)
    net, result = train_target(task, strategy, source, data["target"], data["valid"], tc(),
                               cache_features=cache)
    for k, v in net.features.state_dict().items():
        assert torch.equal(v, before[k]), k
    changed = [not torch.equal(v, net0.heads["min_rate"].state_dict()[k])
               for k, v in net.heads["min_rate"].state_dict().items()]
    assert any(changed)
    assert net.decoder is None and net.head_names == ("min_rate",)
    assert result.monitor == "min_rate_bps_per_hz" and result.mode == "max"
    # the source network itself is untouched
    for k, v in source.features.state_dict().items():
        assert torch.equal(v, before[k])


def test_target_networks_have_equal_parameter_counts(setup, sources):
    task, data = setup
    counts = {}
    for name in ("regular", "conventional", "reconstruction", "finetune"):
        source = None if name == "regular" else sources[
            "conventional" if name == "conventional" else "reconstruction"][0]
        net, _ = train_target(task, name, source, data["target"], data["valid"], tc(epochs=1))
        counts[name] = net.num_parameters()
    assert len(set(counts.values())) == 1, counts


def test_finetune_trains_features_at_a_smaller_rate(setup, sources):
    task, data = setup
    source, _ = sources["reconstruction"]
    net, _ = train_target(task, "finetune", source, data["target"], data["valid"], tc(epochs=3))
    moved = [not torch.equal(v, source.features.state_dict()[k])
             for k, v in net.features.state_dict().items()]
    assert any(moved)
    assert get_strategy("finetune", alpha=3.0).feature_lr_scale == 0.1


def test_strategy_alpha_from_task_or_given(setup):
    task, _ = setup
    assert get_strategy("reconstruction", alpha=0.5).source_alpha == 0.5
    assert get_strategy("conventional").source_alpha == 0.0
    assert get_strategy("regular").source_alpha is None
    assert set(STRATEGIES) == {"regular", "conventional", "reconstruction", "finetune"}
    custom = Strategy("reconstruction", 1.5, False)
    assert custom.source_alpha == 1.5


def test_runs_save_loadable_networks(setup, tmp_path):
    task, data = setup
    source, _ = train_source(task, "reconstruction", data["source"], data["valid"],
                             tc(epochs=2), tmp_path / "src")
    loaded, meta = load_net(tmp_path / "src" / "net.pt")
    assert meta["role"] == "source" and meta["alpha"] == 3.0
    assert loaded.decoder is not None
    net, _ = train_target(task, "reconstruction", loaded, data["target"], data["valid"],
                          tc(epochs=2), tmp_path / "tgt")
    back, meta = load_net(tmp_path / "tgt" / "net.pt")
    assert meta["strategy"]["name"] == "reconstruction" and back.config == net.config
    assert (tmp_path / "tgt" / "metrics.csv").is_file()


def test_bad_strategies_are_rejected(setup):
    task, data = setup
    with pytest.raises(ConfigError, match="strategy='fancy' is invalid; expected one of regular, "
                                          "conventional, reconstruction, finetune"):
        get_strategy("fancy")
    with pytest.raises(ConfigError, match="alpha=-1 is invalid; expected a number >= 0"):
        get_strategy("reconstruction", alpha=-1)
    with pytest.raises(ConfigError, match="alpha=-0.5 is invalid"):
        Strategy("reconstruction", -0.5, False)
    with pytest.raises(ConfigError, match="alpha=None is invalid for strategy 'finetune'"):
        get_strategy("finetune")
    with pytest.raises(ConfigError, match="alpha=-2 is invalid"):
        TransferTask(**{**task.__dict__, "alpha": -2})
    with pytest.raises(ConfigError, match="strategy='fancy' is invalid"):
        train_source(task, "fancy", data["source"], data["valid"], tc())
    with pytest.raises(ConfigError, match="'reconstruction' needs a trained source network"):
        train_target(task, "reconstruction", None, data["target"], data["valid"], tc())
    with pytest.raises(ConfigError, match="'regular' trains no source model"):
        train_source(task, "regular", data["source"], data["valid"], tc())
    with pytest.raises(ConfigError, match="train is empty"):
        train_target(task, "regular", None, {}, data["valid"], tc())
