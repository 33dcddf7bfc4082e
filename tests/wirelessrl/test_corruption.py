"""Denoising and masked reconstruction: the corruption itself, its config, its wiring."""

from __future__ import annotations

import json
import math

import pytest
import torch

from simulators.validation import ConfigError
from wirelessrl import transfer
from wirelessrl.corruption import (
    check_source_corruption,
    corruption_from_section,
    hashed_source_section,
    make_corruption,
    source_corruption,
)
from wirelessrl.engine import TrainConfig
from wirelessrl.steps import config_hash
from wirelessrl.transfer import train_source


def tc(epochs):
    return TrainConfig(epochs=epochs, batch_size=10, lr=3e-3, device="cpu", seed=1)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _batch(n=2000, d=50):
    x = torch.randn(n, d, generator=_gen(99))
    return {"x": x, "g": torch.rand(n, 3, 3, generator=_gen(98))}


@pytest.mark.parametrize("level", [0.1, 0.5])
def test_masked_hides_a_fraction_level_and_keeps_the_rest(level):
    batch = _batch()
    before = batch["x"].clone()
    out = make_corruption("masked", level)(batch, _gen())
    assert torch.equal(batch["x"], before)  # the caller's batch is not changed in place
    hidden = out["x"] == 0
    n = hidden.numel()
    # binomial(n, level): 5 standard deviations
    assert abs(hidden.sum().item() - level * n) < 5 * math.sqrt(n * level * (1 - level))
    assert torch.equal(out["x"][~hidden], batch["x"][~hidden])
    assert out["g"] is batch["g"]


@pytest.mark.parametrize("level", [0.1, 1.0])
def test_denoising_adds_zero_mean_noise_of_std_level(level):
    batch = _batch()
    noise = make_corruption("denoising", level)(batch, _gen())["x"] - batch["x"]
    n = noise.numel()
    assert abs(noise.mean().item()) < 5 * level / math.sqrt(n)
    assert abs(noise.std().item() / level - 1) < 5 / math.sqrt(2 * n)


def test_same_generator_seed_gives_the_same_corruption():
    batch = _batch()
    for kind in ("masked", "denoising"):
        c = make_corruption(kind, 0.3)
        assert torch.equal(c(batch, _gen(5))["x"], c(batch, _gen(5))["x"])
        assert not torch.equal(c(batch, _gen(5))["x"], c(batch, _gen(6))["x"])


def test_plain_and_level_zero_mean_no_corruption():
    assert make_corruption("plain", 0.0) is None
    assert make_corruption("denoising", 0) is None
    assert corruption_from_section({"alpha": 3.0}) is None
    section = {"reconstruction_input": "masked", "corruption_level": 0.2}
    assert corruption_from_section(section).name == "masked-0.2"
    assert source_corruption(section, "conventional") is None
    assert source_corruption(section, "reconstruction").name == "masked-0.2"


@pytest.mark.parametrize("kind, level, message", [
    ("blur", 0.1, "source.reconstruction_input='blur' is invalid; expected one of plain, "
                  "denoising, masked"),
    ("denoising", -0.1, "source.corruption_level=-0.1 is invalid"),
    ("denoising", float("nan"), "source.corruption_level=nan is invalid"),
    ("denoising", float("inf"), "source.corruption_level=inf is invalid"),
    ("denoising", "0.1", "source.corruption_level='0.1' is invalid"),
    ("masked", 1.0, "expected a hiding probability in [0, 1)"),
])
def test_bad_settings_name_the_field(kind, level, message):
    with pytest.raises(ConfigError) as err:
        make_corruption(kind, level)
    assert message in str(err.value)


def test_step_hash_ignores_the_keys_when_plain():
    old = {"alpha": 3.0, "epochs": 10}
    plain = {**old, "reconstruction_input": "plain", "corruption_level": 0.0}
    zero = {**old, "reconstruction_input": "denoising", "corruption_level": 0.0}
    noisy = {**old, "reconstruction_input": "denoising", "corruption_level": 0.3}
    hashes = [config_hash(hashed_source_section(s)) for s in (old, plain, zero, noisy)]
    assert hashes[0] == hashes[1] == hashes[2] != hashes[3]
    one = [{**old, "reconstruction_input": "denoising", "corruption_level": v} for v in (1, 1.0)]
    assert len({config_hash(hashed_source_section(s)) for s in one}) == 1
    # a step that does not use the corruption (conventional source) keeps its hash
    assert config_hash(hashed_source_section(noisy, uses_corruption=False)) == hashes[0]


def test_train_source_corrupts_the_input_and_rebuilds_the_clean_one(tiny_d2d_task, monkeypatch):
    task, data = tiny_d2d_task
    seen = {}

    def spy(net, objective, train, valid, config, run_dir=None, **kw):
        seen.update(objective=objective, train=train, augment=kw.get("augment"))
        return real_fit(net, objective, train, valid, config, run_dir, **kw)

    real_fit = transfer.fit
    monkeypatch.setattr(transfer, "fit", spy)
    corruption = make_corruption("masked", 0.5)
    net, result = train_source(task, "reconstruction", data["source"], data["valid"],
                               tc(epochs=2), corruption=corruption)
    assert seen["augment"] is corruption
    key = seen["objective"].reconstruction_key
    assert key != task.input_key
    assert seen["train"][key] is data["source"]["x"]  # the clean input, not a copy
    clean = data["source"]["x"].clone()
    batch = corruption(seen["train"], _gen())
    assert torch.equal(batch[key], clean) and torch.equal(data["source"]["x"], clean)
    assert not torch.equal(batch["x"], clean)
    assert math.isfinite(result.best_metric)


def test_corruption_without_reconstruction_loss_is_a_config_error():
    section = {"alpha": 0.0, "reconstruction_input": "masked", "corruption_level": 0.2}
    with pytest.raises(ConfigError, match=r"source.reconstruction_input='masked' needs "
                                          r"source.alpha > 0"):
        check_source_corruption(section)
    check_source_corruption({**section, "alpha": 3.0})
    check_source_corruption({**section, "corruption_level": 0})  # plain: any alpha


def test_train_source_records_the_corruption_and_refuses_alpha_zero(tiny_d2d_task, tmp_path):
    task, data = tiny_d2d_task
    train_source(task, "reconstruction", data["source"], data["valid"], tc(epochs=2),
                 tmp_path, corruption=make_corruption("denoising", 0.3))
    assert json.loads((tmp_path / "fit.json").read_text())["augment"] == "denoising-0.3"
    with pytest.raises(ConfigError, match="needs alpha > 0"):
        train_source(task, "conventional", data["source"], data["valid"], tc(epochs=1),
                     corruption=make_corruption("denoising", 0.3))
