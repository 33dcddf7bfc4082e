"""The training loop and checkpoints: learning, best weights, resume, NaN, bad input."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from simulators.validation import ConfigError
from wirelessrl.checkpoint import (
    load_checkpoint,
    load_net,
    load_state_dict,
    save_checkpoint,
    save_net,
)
from wirelessrl.engine import TrainConfig, TrainingDiverged, evaluate, fit
from wirelessrl.models import NetConfig, TransferNet
from wirelessrl.objectives import D2DRateLoss, Objective

N_LINKS = 3


@pytest.fixture(scope="module")
def data(make_d2d_tensors):
    cfg, x, g = make_d2d_tensors(N_LINKS, 60, seed=7)
    train = {"x": x[:40], "g": g[:40]}
    valid = {"x": x[40:], "g": g[40:]}
    loss = D2DRateLoss("sum", p_max_w=cfg.p_max_w, noise_w=cfg.noise_w)
    return train, valid, loss


def small_config(decoder=True) -> NetConfig:
    return NetConfig(
        feature_widths=(N_LINKS**2, 16, 8),
        heads={"sum_rate": {"widths": (8, 8, N_LINKS), "output": "sigmoid"},
               "min_rate": {"widths": (8, 8, N_LINKS), "output": "sigmoid"}},
        decoder_widths=(8, 16, N_LINKS**2) if decoder else None,
    )


def new_net(seed=0, decoder=True) -> TransferNet:
    torch.manual_seed(seed)
    return TransferNet.from_config(small_config(decoder))


def cfg(**kw) -> TrainConfig:
    base = {"epochs": 12, "batch_size": 10, "lr": 3e-3, "device": "cpu", "seed": 3,
            "monitor": "sum_rate_bps_per_hz", "mode": "max", "checkpoint_every_s": 0.0}
    return TrainConfig(**{**base, **kw})


def test_fit_learns_keeps_best_weights_and_writes_metrics(data, tmp_path):
    train, valid, loss = data
    net = new_net()
    objective = Objective(loss, head="sum_rate")
    before = evaluate(net, objective, valid)["sum_rate_bps_per_hz"]
    result = fit(net, objective, train, valid, cfg(), tmp_path)
    assert result.best_metric > before
    assert result.last_epoch == 12 and not result.stopped_early
    # the model holds the best-validation weights
    assert evaluate(net, objective, valid)["sum_rate_bps_per_hz"] == pytest.approx(
        result.best_metric, rel=1e-6)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 13))
    assert {"epoch", "train_loss", "valid_loss", "valid_sum_rate_bps_per_hz", "lr",
            "seconds"} <= set(rows[0])
    best_row = rows[result.best_epoch - 1]
    assert float(best_row["valid_sum_rate_bps_per_hz"]) == pytest.approx(result.best_metric)
    assert (tmp_path / "fit.json").is_file()
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epoch"] == 12 and ckpt["complete"]


class Interrupt:
    """Objective wrapper that raises KeyboardInterrupt at the n-th training call."""

    def __init__(self, objective, at_call):
        self.objective, self.at_call, self.calls = objective, at_call, 0

    def __call__(self, model, batch):
        if model.training:
            self.calls += 1
            if self.calls == self.at_call:
                raise KeyboardInterrupt
        return self.objective(model, batch)


def test_resume_after_interruption_equals_uninterrupted_run(data, tmp_path):
    train, valid, loss = data
    objective = Objective(loss, head="sum_rate")
    net_a = new_net()
    full = fit(net_a, objective, train, valid, cfg(), tmp_path / "a")

    net_b = new_net()
    with pytest.raises(KeyboardInterrupt):  # 4 steps per epoch: stop inside epoch 7
        fit(net_b, Interrupt(objective, at_call=4 * 6 + 2), train, valid, cfg(), tmp_path / "b")
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 6
    net_c = new_net(seed=99)  # the weights come from the checkpoint
    resumed = fit(net_c, objective, train, valid, cfg(), tmp_path / "b")
    assert resumed.resumed_from == 6
    assert resumed.best_epoch == full.best_epoch
    assert resumed.best_metric == pytest.approx(full.best_metric, abs=1e-6)
    state_c = net_c.state_dict()
    for k, a in net_a.state_dict().items():
        torch.testing.assert_close(a, state_c[k], rtol=0, atol=1e-6, msg=k)
    rows = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 13))
    # a finished run is not trained again
    again = fit(new_net(), objective, train, valid, cfg(), tmp_path / "b")
    assert again.resumed_from == 12 and again.best_metric == resumed.best_metric


def test_resume_with_another_config_is_refused(data, tmp_path):
    train, valid, loss = data
    objective = Objective(loss, head="sum_rate")
    fit(new_net(), objective, train, valid, cfg(epochs=2), tmp_path)
    with pytest.raises(ConfigError, match=r"cannot resume .*lr=0\.003.*lr=0\.001"):
        fit(new_net(), objective, train, valid, cfg(epochs=3, lr=1e-3), tmp_path)
    # more epochs is allowed: the run continues
    assert fit(new_net(), objective, train, valid, cfg(epochs=3), tmp_path).resumed_from == 2


def test_cosine_schedule_sets_every_epochs_rate_and_resumes_exactly(data, tmp_path):
    train, valid, loss = data
    objective = Objective(loss, head="sum_rate")
    cosine = cfg(lr_schedule="cosine", lr_scales={"features": 0.5})
    net_a = new_net()
    fit(net_a, objective, train, valid, cosine, tmp_path / "a")
    rows = list(csv.DictReader(open(tmp_path / "a" / "metrics.csv")))
    want = [3e-3 * 0.5 * (1 + math.cos(math.pi * (e - 1) / 12)) for e in range(1, 13)]
    assert [float(r["lr"]) for r in rows] == pytest.approx(want, rel=1e-12)
    assert float(rows[-1]["lr"]) > 0.0
    groups = load_checkpoint(tmp_path / "a" / "last.pt")["optimizer"]["param_groups"]
    assert sorted(g["lr"] for g in groups) == pytest.approx([0.5 * want[-1], want[-1]])
    fit(new_net(), objective, train, valid, cfg(), tmp_path / "c")
    constant = list(csv.DictReader(open(tmp_path / "c" / "metrics.csv")))
    assert {float(r["lr"]) for r in constant} == {3e-3}

    net_b = new_net()
    with pytest.raises(KeyboardInterrupt):  # inside epoch 7, after the rate dropped
        fit(net_b, Interrupt(objective, at_call=4 * 6 + 2), train, valid, cosine,
            tmp_path / "b")
    net_b = new_net(seed=99)
    assert fit(net_b, objective, train, valid, cosine, tmp_path / "b").resumed_from == 6
    for k, a in net_a.state_dict().items():
        torch.testing.assert_close(a, net_b.state_dict()[k], rtol=0, atol=1e-6, msg=k)
    resumed = list(csv.DictReader(open(tmp_path / "b" / "metrics.csv")))
    assert [float(r["lr"]) for r in resumed] == pytest.approx(want, rel=1e-12)
    with pytest.raises(ConfigError, match=r"cannot resume .*lr_schedule='cosine'"):
        fit(new_net(), objective, train, valid, cfg(epochs=13, lr_scales={"features": 0.5}),
            tmp_path / "b")


def test_a_checkpoint_from_before_lr_schedule_existed_resumes(data, tmp_path):
    import json

    train, valid, loss = data
    objective = Objective(loss, head="sum_rate")
    fit(new_net(), objective, train, valid, cfg(epochs=2), tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    old = json.loads(ckpt["config"])
    del old["lr_schedule"]  # the config as older versions wrote it
    ckpt["config"] = json.dumps(old)
    save_checkpoint(tmp_path / "last.pt", ckpt)
    assert fit(new_net(), objective, train, valid, cfg(epochs=3), tmp_path).resumed_from == 2
    with pytest.raises(ConfigError, match=r"cannot resume .*lr_schedule='constant'.*'cosine'"):
        fit(new_net(), objective, train, valid, cfg(epochs=4, lr_schedule="cosine"), tmp_path)


@pytest.mark.parametrize("bad", ["linear", "", 1, None])
def test_an_unknown_lr_schedule_names_the_field_and_the_choices(bad):
    with pytest.raises(ConfigError, match=r"lr_schedule=.*constant.*cosine"):
        TrainConfig(lr_schedule=bad)


def test_resume_with_another_network_names_the_file(data, tmp_path):
    train, valid, loss = data
    objective = Objective(loss, head="sum_rate")
    fit(new_net(decoder=False), objective, train, valid, cfg(epochs=2), tmp_path)
    with pytest.raises(ConfigError, match=r"last\.pt.*does not match the model: "
                                          r"the file lacks decoder\.0\.weight"):
        fit(new_net(decoder=True), objective, train, valid, cfg(epochs=3), tmp_path)


class NaNAfter:
    def __init__(self, objective, epoch, steps_per_epoch):
        self.objective, self.first_bad = objective, (epoch - 1) * steps_per_epoch + 1
        self.calls = 0

    def __call__(self, model, batch):
        loss, metrics = self.objective(model, batch)
        if model.training:
            self.calls += 1
            if self.calls >= self.first_bad:
                loss = loss * float("nan")
        return loss, metrics


def test_nan_loss_stops_naming_the_epoch_and_keeps_last_good_checkpoint(data, tmp_path):
    train, valid, loss = data
    net = new_net()
    bad = NaNAfter(Objective(loss, head="sum_rate"), epoch=3, steps_per_epoch=4)
    with pytest.raises(TrainingDiverged, match=r"training loss became nan at epoch 3.*epoch 2"):
        fit(net, bad, train, valid, cfg(), tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert all(torch.isfinite(p).all() for p in net.parameters())  # best weights restored


def test_trainable_prefixes_freeze_the_rest(data):
    train, valid, loss = data
    net = new_net()
    features = {k: v.clone() for k, v in net.features.state_dict().items()}
    head = {k: v.clone() for k, v in net.heads["min_rate"].state_dict().items()}
    fit(net, Objective(D2DRateLoss("min", p_max_w=1.0, noise_w=5e-12), head="min_rate"),
        train, valid, cfg(epochs=3, trainable=["heads.min_rate"], monitor="loss", mode="min"))
    for k, v in net.features.state_dict().items():
        assert torch.equal(v, features[k]), k
    assert any(not torch.equal(v, head[k]) for k, v in net.heads["min_rate"].state_dict().items())
    assert all(p.requires_grad for p in net.parameters())  # flags restored after fit


def test_early_stopping(data):
    train, valid, loss = data
    # the loss falls every epoch, so "larger loss is better" never improves after epoch 1
    net, objective = new_net(), Objective(loss, head="sum_rate")
    result = fit(net, objective, train, valid, cfg(monitor="loss", mode="max", patience=2))
    assert result.stopped_early and result.best_epoch == 1 and result.last_epoch == 3
    assert result.history[-1]["valid_loss"] < result.best_metric
    # the weights of epoch 1, not of the last epoch, are in the model
    assert evaluate(net, objective, valid)["loss"] == pytest.approx(result.best_metric, rel=1e-6)


def test_num_threads_is_restored_after_fit(data):
    train, valid, loss = data
    torch.set_num_threads(2)
    fit(new_net(), Objective(loss, head="sum_rate"), train, valid, cfg(epochs=1, num_threads=1))
    assert torch.get_num_threads() == 2


def test_validation_in_chunks_equals_one_pass(data):
    train, valid, loss = data
    net, objective = new_net(), Objective(loss, head="sum_rate")
    one = evaluate(net, objective, valid, batch_size=1000)
    chunks = evaluate(net, objective, valid, batch_size=7)
    for k in one:
        assert chunks[k] == pytest.approx(one[k], rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs=0 is invalid"),
        ({"lr": -1.0}, "lr=-1.0 is invalid"),
        ({"batch_size": 2.5}, "batch_size=2.5 is invalid"),
        ({"mode": "best"}, "mode='best' is invalid; expected one of min, max"),
        ({"device": "tpu"}, "device='tpu' is invalid; expected one of auto, cpu, cuda"),
        ({"optimizer": "lbfgs"}, "optimizer='lbfgs' is invalid"),
        ({"patience": 0}, "patience=0 is invalid"),
        ({"trainable": []}, "trainable=\\[\\] is invalid"),
        ({"lr_scales": {"features": 0}}, "lr_scales\\['features'\\]=0 is invalid"),
        ({"num_threads": 0}, "num_threads=0 is invalid; expected an integer >= 1"),
    ],
)
def test_bad_train_configs_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        cfg(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_without_cuda_is_rejected(data):
    train, valid, loss = data
    with pytest.raises(ConfigError, match="device='cuda' is invalid; CUDA is not available"):
        fit(new_net(), Objective(loss, head="sum_rate"), train, valid, cfg(device="cuda"))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no train", "train is empty; expected a dict of tensors"),
        ("0 samples", r"train is empty \(0 samples\)"),
        ("lengths", r"valid\['g'\] has 19 samples but valid\['x'\] has 20; expected the same"),
        ("monitor", "monitor='accuracy' is not a validation metric; expected one of loss, "
                    "min_rate_bps_per_hz, sum_rate_bps_per_hz, task_loss"),
        ("prefix", "trainable: prefix 'head.x' matches no parameter of the model; expected a "
                   "prefix such as decoder, features, heads"),
    ],
)
def test_bad_data_and_settings_are_rejected_before_any_file(data, tmp_path, case, message):
    train, valid, loss = data
    config = cfg()
    if case == "no train":
        train = {}
    elif case == "0 samples":
        train = {k: v[:0] for k, v in train.items()}
    elif case == "lengths":
        valid = {"x": valid["x"], "g": valid["g"][:19]}
    elif case == "monitor":
        config = cfg(monitor="accuracy")
    else:
        config = cfg(trainable=["head.x"])
    with pytest.raises(ConfigError, match=message):
        fit(new_net(), Objective(loss, head="sum_rate"), train, valid, config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    net = new_net()
    payload = {"model": net.state_dict(), "config": '{"a": 1}', "epoch": 4,
               "best": float("inf"), "rng": torch.get_rng_state(), "none": None}
    path = save_checkpoint(tmp_path / "sub" / "c.pt", payload)
    back = load_checkpoint(path)
    assert back["epoch"] == 4 and back["config"] == '{"a": 1}' and back["none"] is None
    assert math.isinf(back["best"])
    other = new_net(seed=5)
    load_state_dict(other, back["model"], "c.pt")
    for k, v in net.state_dict().items():
        assert torch.equal(v, other.state_dict()[k])
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["c.pt"]  # no temp file left
    saved, meta = load_net(save_net(tmp_path / "net.pt", net, seed=3))
    assert meta == {"seed": 3} and saved.config == net.config


def test_checkpoint_shape_mismatch_names_file_and_key(tmp_path):
    path = save_net(tmp_path / "net.pt", new_net())
    state = load_checkpoint(path)["state_dict"]
    wider = TransferNet(feature_widths=(N_LINKS**2, 17, 8), heads=small_config().heads,
                        decoder_widths=(8, 16, N_LINKS**2))
    with pytest.raises(ConfigError, match=r"net\.pt.*features\.0\.weight is \(16, 9\) in the "
                                          r"file but \(17, 9\) in the model"):
        load_state_dict(wider, state, f"checkpoint {str(path)!r}")


def _leave_marker(path):  # would run if the pickle were executed
    open(path, "w").close()
    return {}


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_leave_marker, (self.marker,))


def test_pickle_bearing_checkpoint_is_refused(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"
    torch.save({"model": Evil(str(marker))}, path)
    with pytest.raises(ConfigError, match=r"evil\.pt' was refused: it holds Python objects"):
        load_checkpoint(path)
    assert not marker.exists()


def test_unreadable_or_missing_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="is not a readable torch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_checkpoint_keys_are_the_fields_of_one_class(tmp_path, tiny_d2d_task):
    import dataclasses

    from wirelessrl.engine import TrainingCheckpoint

    task, data = tiny_d2d_task
    net = TransferNet.from_config(task.net)
    objective = Objective(task.source_loss, head="sum_rate")
    fit(net, objective, data["source"], data["valid"],
        TrainConfig(epochs=2, batch_size=25, device="cpu"), tmp_path)
    raw = load_checkpoint(tmp_path / "last.pt")
    fields = {f.name for f in dataclasses.fields(TrainingCheckpoint)}
    assert set(raw) == fields - {"augment"}  # augment is written only when there is one
    back = TrainingCheckpoint.from_payload(raw, tmp_path / "last.pt")
    assert back.epoch == 2 and back.complete and isinstance(back.best_metrics, dict)
    assert set(back.payload()) == set(raw)
    del raw["optimizer"]
    with pytest.raises(ConfigError, match="lacks optimizer"):
        TrainingCheckpoint.from_payload(raw, tmp_path / "last.pt")


def test_extra_callbacks_see_every_epoch_after_the_state_is_updated(tiny_d2d_task):
    from wirelessrl.engine import Callback

    task, data = tiny_d2d_task
    seen = []

    class Record(Callback):
        def on_epoch_end(self, loop, train_loss, metrics):
            seen.append((loop.state.epoch, loop.state.best_epoch, metrics is not None))

        def on_fit_end(self, loop):
            seen.append("end")

    net = TransferNet.from_config(task.net)
    fit(net, Objective(task.source_loss, head="sum_rate"), data["source"], data["valid"],
        TrainConfig(epochs=4, batch_size=25, device="cpu", validate_every=2), callbacks=[Record()])
    assert [e[0] for e in seen[:-1]] == [1, 2, 3, 4] and seen[-1] == "end"
    assert [e[2] for e in seen[:-1]] == [True, True, False, True]  # epoch 1, 2, 4 validated
    assert all(1 <= best <= epoch for epoch, best, _ in seen[:-1])
