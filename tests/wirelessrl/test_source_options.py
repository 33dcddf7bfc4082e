"""Source-training variants: loss balancing, the variational bottleneck, contrastive
pre-training (wirelessrl.source_options), against hand values and plain references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from model_helpers import metrics_without_times

from simulators.validation import ConfigError
from wirelessrl.checkpoint import load_net
from wirelessrl.engine import TrainConfig
from wirelessrl.models import MLP, NetConfig, TransferNet, VariationalFeatures, d2d_gnn_config
from wirelessrl.objectives import (
    BCELoss,
    D2DRateLoss,
    Objective,
    gaussian_kl,
    nt_xent,
    uncertainty_weighted,
)
from wirelessrl.source_options import (
    SECTION_KEYS,
    AlphaWarmup,
    ContrastiveModel,
    SourceOptions,
    check_source_options,
    hashed_source_options,
    source_options,
)
from wirelessrl.steps import config_hash
from wirelessrl.transfer import (
    TransferTask,
    build_source_net,
    build_target_net,
    get_strategy,
    train_source,
    train_target,
)


def tc(epochs, **kw):
    return TrainConfig(epochs=epochs, batch_size=10, lr=3e-3, device="cpu", seed=1, **kw)


def _state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


DEFAULT_SECTION = {"alpha": 3.0, "epochs": 3, "loss_balance": "fixed", "warmup_epochs": 10,
                   "warmup_start": 0.0, "bottleneck": "none", "beta": 1e-3, "pretrain": "none",
                   "pretrain_epochs": 20, "pretrain_batch_size": 256,
                   "contrastive_temperature": 0.5, "contrastive_corruption": "masked",
                   "contrastive_corruption_level": 0.2}


# ------------------------------------------------------------------ defaults


def test_defaults_train_the_same_bytes_as_without_the_options(tiny_d2d_task, tmp_path):
    task, data = tiny_d2d_task
    runs = []
    for i, options in enumerate([None, SourceOptions(),
                                 SourceOptions.from_section(DEFAULT_SECTION)]):
        net, result = train_source(task, "reconstruction", data["source"], data["valid"], tc(3),
                                   tmp_path / str(i), options=options)
        runs.append((_state(net), metrics_without_times(tmp_path / str(i)), net.config))
    for state, history, config in runs[1:]:
        assert _same_state(state, runs[0][0]) and history == runs[0][1]
        assert config.to_json() == runs[0][2].to_json()  # no new keys in the saved config
    assert "loss_log_variances" not in runs[0][2].to_json()
    assert "source_options" not in load_net(tmp_path / "0" / "net.pt")[1]


def test_default_keys_leave_the_step_hash_of_a_section_without_them():
    old = {"alpha": 3.0, "epochs": 3}
    for source in (None, "conventional", "reconstruction"):
        assert config_hash(hashed_source_options(DEFAULT_SECTION, source)) == config_hash(old)
    vib = {**DEFAULT_SECTION, "bottleneck": "variational", "beta": 1}
    warm = {**DEFAULT_SECTION, "loss_balance": "warmup"}
    assert hashed_source_options(vib, "conventional")["beta"] == 1.0  # 1 and 1.0: one step
    assert config_hash(hashed_source_options(vib, "reconstruction")) != config_hash(old)
    # the balance does not change the conventional source (one loss), nor a fresh network
    assert config_hash(hashed_source_options(warm, "conventional")) == config_hash(old)
    assert config_hash(hashed_source_options(vib, None)) == config_hash(old)
    assert source_options(warm, "conventional").loss_balance == "fixed"


# ------------------------------------------------------------------ config errors


@pytest.mark.parametrize(("key", "value", "message"), [
    ("loss_balance", "adaptive", "source.loss_balance='adaptive' is invalid; expected one of "
                                 "fixed, uncertainty, warmup"),
    ("warmup_epochs", "1e-3", "source.warmup_epochs='1e-3' is invalid; expected an integer >= 1"),
    ("warmup_epochs", 2.5, "source.warmup_epochs=2.5 is invalid; expected an integer >= 1"),
    ("warmup_epochs", 0, "source.warmup_epochs=0 is invalid; expected an integer >= 1"),
    ("warmup_epochs", True, "source.warmup_epochs=True is invalid"),
    ("warmup_start", 1.5, "source.warmup_start=1.5 is invalid; expected a fraction of alpha "
                          "in [0, 1]"),
    ("bottleneck", "mean", "source.bottleneck='mean' is invalid; expected one of none, "
                           "variational"),
    ("beta", -0.1, "source.beta=-0.1 is invalid; expected a number >= 0"),
    ("beta", "lots", "source.beta='lots' is invalid; expected a number"),
    ("beta", float("nan"), "source.beta=nan is invalid; expected a finite number"),
    ("pretrain", "byol", "source.pretrain='byol' is invalid; expected one of none, "
                         "contrastive"),
    ("pretrain_epochs", -1, "source.pretrain_epochs=-1 is invalid; expected an integer >= 1"),
    ("pretrain_batch_size", 0, "source.pretrain_batch_size=0 is invalid"),
    ("contrastive_temperature", 0, "source.contrastive_temperature=0 is invalid; expected a "
                                   "number > 0"),
    ("contrastive_corruption", "plain", "source.contrastive_corruption='plain' is invalid; "
                                        "expected one of denoising, masked"),
    ("contrastive_corruption_level", 1.0, "source.contrastive_corruption_level=1.0 is invalid "
                                          "for masked views"),
    ("contrastive_corruption_level", 0, "source.contrastive_corruption_level=0 is invalid"),
])
def test_bad_options_name_field_value_and_what_is_allowed(key, value, message):
    with pytest.raises(ConfigError) as err:
        SourceOptions.from_section({key: value})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_numbers_given_as_text_are_read_as_the_config_loader_reads_them():
    opts = SourceOptions.from_section({"beta": "1e-3", "warmup_epochs": "20",
                                       "contrastive_temperature": "0.1"})
    assert (opts.beta, opts.warmup_epochs, opts.contrastive_temperature) == (0.001, 20, 0.1)
    with pytest.raises(ConfigError, match=r"^variants.v.source.beta=-1 is invalid"):
        SourceOptions.from_section({"beta": -1}, "variants.v.source")


def test_a_loss_balance_needs_a_reconstruction_loss(tiny_d2d_task):
    with pytest.raises(ConfigError, match=r"source.loss_balance='warmup' needs source.alpha > 0"):
        check_source_options({"alpha": 0.0, "loss_balance": "warmup"})
    check_source_options({"alpha": 0.0, "bottleneck": "variational"})  # any alpha
    task, data = tiny_d2d_task
    with pytest.raises(ConfigError, match="needs alpha > 0"):
        train_source(task, "conventional", data["source"], data["valid"], tc(1),
                     options=SourceOptions(loss_balance="uncertainty"))


# ------------------------------------------------------------------ uncertainty weights


def test_uncertainty_weighted_loss_is_the_hand_value():
    losses = torch.tensor([2.0, 0.5, 3.0], dtype=torch.float64)
    s = torch.tensor([0.0, math.log(2.0), -1.0], dtype=torch.float64)
    hand = 2.0 + 0.0 + 0.25 + math.log(2.0) + 3.0 * math.e - 1.0
    assert float(uncertainty_weighted(losses, s)) == pytest.approx(hand, rel=1e-12)
    # minimized over s alone at s_i = ln L_i
    s = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([s], lr=0.05)
    for _ in range(2000):
        opt.zero_grad()
        uncertainty_weighted(losses, s).backward()
        opt.step()
    np.testing.assert_allclose(s.detach().numpy(), np.log(losses.numpy()), atol=1e-3)


def _bce_task() -> TransferTask:
    head = {"widths": (8, 4, 1)}
    return TransferTask(NetConfig((9, 16, 8), heads={"one": head, "two": head},
                                  decoder_widths=(8, 9)), "one", "two", BCELoss(), BCELoss(),
                        reconstruction_key="x", alpha=5.0)


@pytest.mark.parametrize("nonnegative_task", [False, True])
def test_uncertainty_objective_by_hand_for_given_log_variances(tiny_d2d_task, nonnegative_task):
    task, data = tiny_d2d_task
    if nonnegative_task:  # a cross entropy: both losses get a log-variance
        task = _bce_task()
        batch = {"x": data["source"]["x"], "y": (data["source"]["x"][:, 0] > 0).float()}
    else:  # -sum-rate (signed): the task keeps weight 1
        batch = data["source"]
    opts = SourceOptions(loss_balance="uncertainty")
    net = build_source_net(task, get_strategy("reconstruction", alpha=task.alpha), 0, opts)
    k = 2 if nonnegative_task else 1
    assert net.loss_log_vars.shape == (k,)
    s_rec = float(net.loss_log_vars.detach()[-1])
    assert s_rec == pytest.approx(-math.log(task.alpha))  # starts at weight alpha
    with torch.no_grad():
        net.loss_log_vars.copy_(torch.tensor([0.3, -0.7][-k:]))
    obj = Objective(task.source_loss, head=task.source_head, alpha=task.alpha,
                    reconstruction_key="x", balance=opts.balance(task.alpha, task.source_loss))
    loss, m = obj(net.train(), batch)
    task_l, rec_l = float(m["task_loss"]), float(m["rec_mse"])
    s = net.loss_log_vars.detach().double().tolist()
    hand = (math.exp(-s[0]) * task_l + s[0] if nonnegative_task else task_l) \
        + math.exp(-s[-1]) * rec_l + s[-1]
    assert float(loss.detach()) == pytest.approx(hand, rel=1e-6)
    assert float(m["rec_weight"]) == pytest.approx(math.exp(0.7), rel=1e-6)
    # validation: the paper's objective at the fixed alpha
    val, _ = obj(net.eval(), batch)
    assert float(val.detach()) == pytest.approx(task_l + task.alpha * rec_l, rel=1e-6)


def test_uncertainty_weights_train_are_saved_and_stay_out_of_the_target(tiny_d2d_task,
                                                                         tmp_path):
    task, data = tiny_d2d_task
    net, result = train_source(task, "reconstruction", data["source"], data["valid"], tc(4),
                               tmp_path / "s", options=SourceOptions(loss_balance="uncertainty"))
    s = float(net.loss_log_vars.detach())
    assert s != pytest.approx(-math.log(3.0), abs=1e-4)  # trained
    loaded, meta = load_net(tmp_path / "s" / "net.pt")
    assert torch.equal(loaded.state_dict()["loss_log_vars"], net.loss_log_vars.detach())
    assert meta["source_options"] == {"loss_balance": "uncertainty"}
    rows = metrics_without_times(tmp_path / "s")
    weights = [float(r["valid_rec_weight"]) for r in rows]
    assert weights[-1] == pytest.approx(math.exp(-s), rel=1e-5) and len(set(weights)) > 1
    target, _ = train_target(task, "finetune", net, data["target"], data["valid"], tc(2))
    assert target.loss_log_vars is None and "loss_log_vars" not in target.state_dict()
    assert target.config.loss_log_variances == 0


# ------------------------------------------------------------------ warm-up


def test_warmup_alpha_schedule_values():
    w = AlphaWarmup(3.0, epochs=4)
    assert [w.alpha_at(e) for e in range(1, 8)] == [0.0, 0.75, 1.5, 2.25, 3.0, 3.0, 3.0]
    w = AlphaWarmup(4.0, epochs=2, start=0.25)
    assert [w.alpha_at(e) for e in (1, 2, 3, 10)] == [1.0, 2.5, 4.0, 4.0]
    assert [AlphaWarmup(2.0, 1).alpha_at(e) for e in (1, 2)] == [0.0, 2.0]


def test_warmup_trains_with_the_schedule_and_resumes_exactly(tiny_d2d_task, tmp_path):
    task, data = tiny_d2d_task
    opts = SourceOptions(loss_balance="warmup", warmup_epochs=4)
    full, _ = train_source(task, "reconstruction", data["source"], data["valid"],
                           tc(6), tmp_path / "full", options=opts)
    rows = metrics_without_times(tmp_path / "full")
    assert [float(r["valid_rec_weight"]) for r in rows] == [0.0, 0.75, 1.5, 2.25, 3.0, 3.0]
    for r in rows:  # validation: the fixed objective
        assert float(r["valid_loss"]) == pytest.approx(
            float(r["valid_task_loss"]) + 3.0 * float(r["valid_rec_mse"]), rel=1e-5)
    # stopped after 2 epochs, then continued to 6 (epochs may change on resume)
    train_source(task, "reconstruction", data["source"], data["valid"], tc(2),
                 tmp_path / "part", options=opts)
    resumed, _ = train_source(task, "reconstruction", data["source"], data["valid"], tc(6),
                              tmp_path / "part", options=opts)
    assert _same_state(_state(resumed), _state(full))
    assert metrics_without_times(tmp_path / "part") == rows


# ------------------------------------------------------------------ variational bottleneck


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    gen = torch.Generator().manual_seed(0)
    mu = torch.tensor([0.5, -1.0, 0.0], dtype=torch.float64)
    logvar = torch.tensor([0.0, math.log(0.25), math.log(2.0)], dtype=torch.float64)
    # hand value, dimension by dimension: 1/2 (mu^2 + var - 1 - ln var)
    hand = 0.5 * sum(m * m + math.exp(v) - 1 - v for m, v in zip(mu.tolist(), logvar.tolist(),
                                                                 strict=True))
    assert float(gaussian_kl(mu, logvar)) == pytest.approx(hand, rel=1e-12)
    n = 400_000
    z = mu + torch.exp(0.5 * logvar) * torch.randn(n, 3, generator=gen, dtype=torch.float64)
    log_q = -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)
    log_p = -0.5 * (z ** 2 + math.log(2 * math.pi)).sum(-1)
    mc = (log_q - log_p)
    assert float(mc.mean()) == pytest.approx(hand, abs=5 * float(mc.std()) / math.sqrt(n))


def test_variational_layer_samples_in_training_and_is_the_mean_in_eval():
    torch.manual_seed(0)
    layer = VariationalFeatures(MLP((4, 8, 3), out_activation="relu"))
    x = torch.randn(50, 4)
    a, kl_a = layer.train().encode(x)
    b, _ = layer.encode(x)
    assert not torch.equal(a, b) and (kl_a >= 0).all()
    mu = layer.mean(layer.base(x))
    torch.testing.assert_close(kl_a, gaussian_kl(mu, layer.logvar(layer.base(x))))
    layer.eval()
    assert torch.equal(layer(x), mu.detach()) and torch.equal(layer(x), layer(x))
    # sample statistics: (z - mu) / sigma ~ N(0, 1)
    layer.train()
    sigma = torch.exp(0.5 * layer.logvar(layer.base(x)))
    e = torch.stack([(layer(x) - mu) / sigma for _ in range(40)]).detach()
    assert abs(float(e.mean())) < 0.05 and abs(float(e.std()) - 1) < 0.05


def test_variational_source_adds_beta_kl_in_training_only(tiny_d2d_task):
    task, data = tiny_d2d_task
    opts = SourceOptions(bottleneck="variational", beta=0.1)
    net = build_source_net(task, get_strategy("reconstruction", alpha=3.0), 0, opts)
    obj = Objective(task.source_loss, head="sum_rate", alpha=3.0, reconstruction_key="x",
                    beta=opts.kl_weight())
    torch.manual_seed(5)
    loss, m = obj(net.train(), data["source"])
    assert float(loss.detach()) == pytest.approx(float(m["loss"]) + 0.1 * float(m["kl"]), rel=1e-6)
    val, vm = obj(net.eval(), data["source"])
    assert float(val.detach()) == pytest.approx(float(vm["task_loss"]) + 3.0 * float(vm["rec_mse"]),
                                       rel=1e-6)
    assert float(vm["kl"]) > 0


def test_the_target_sees_the_deterministic_mean(tiny_d2d_task, tmp_path):
    task, data = tiny_d2d_task
    source, _ = train_source(task, "reconstruction", data["source"], data["valid"], tc(2),
                             tmp_path / "s", options=SourceOptions(bottleneck="variational"))
    assert source.config.bottleneck == "variational"
    assert load_net(tmp_path / "s" / "net.pt")[0].config.bottleneck == "variational"
    x = data["target"]["x"]
    with torch.no_grad():
        mean = source.eval().features(x)
    for name in ("reconstruction", "finetune"):
        target = build_target_net(task, get_strategy(name, alpha=3.0), source, 0)
        assert target.config.bottleneck == "mean"
        assert not any("logvar" in k for k in target.state_dict())
        with torch.no_grad():  # training mode too: no sampling on the target
            assert torch.equal(target.train().features(x), mean)
            assert "kl" not in target(x, head="min_rate")
    net, _ = train_target(task, "reconstruction", source, data["target"], data["valid"],
                          tc(2), tmp_path / "t")
    with torch.no_grad():
        assert torch.equal(net.features(x), mean)  # frozen features: the source's mean
    assert load_net(tmp_path / "t" / "net.pt")[0].config.bottleneck == "mean"


# ------------------------------------------------------------------ contrastive


def _nt_xent_loop(z1, z2, tau):
    """Plain reference: every anchor of the 2B views, one at a time."""
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n, total = z1.shape[0], 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        den = sum(math.exp(float(z[i] @ z[k]) / tau) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[pos]) / tau) / den)
    return total / (2 * n)


def test_nt_xent_matches_a_plain_loop():
    gen = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(7, 5, generator=gen), torch.randn(7, 5, generator=gen)
    for tau in (0.1, 0.5, 2.0):
        assert float(nt_xent(z1, z2, tau)) == pytest.approx(_nt_xent_loop(z1, z2, tau),
                                                            rel=1e-5)


def test_nt_xent_near_log_batch_for_random_and_low_for_identical_views():
    gen = torch.Generator().manual_seed(2)
    b = 256
    z1, z2 = torch.randn(b, 512, generator=gen), torch.randn(b, 512, generator=gen)
    assert float(nt_xent(z1, z2, 1.0)) == pytest.approx(math.log(2 * b - 1), abs=0.01)
    same = float(nt_xent(z1, z1, 0.1))
    assert same < 0.05 * math.log(2 * b - 1)


def test_contrastive_pretraining_trains_the_features_and_drops_the_head(tiny_d2d_task,
                                                                         tmp_path):
    task, data = tiny_d2d_task
    opts = SourceOptions(pretrain="contrastive", pretrain_epochs=3)
    net, _ = train_source(task, "reconstruction", data["source"], data["valid"], tc(2),
                          tmp_path / "s", options=opts)
    pre = metrics_without_times(tmp_path / "s" / "pretrain")
    assert len(pre) == 3 and {"valid_loss", "valid_positive_cosine"} <= set(pre[0])
    assert float(pre[-1]["train_loss"]) < float(pre[0]["train_loss"])
    assert not any("projection" in k for k in net.state_dict())
    plain, _ = train_source(task, "reconstruction", data["source"], data["valid"], tc(2))
    assert not torch.equal(net.features[0].weight, plain.features[0].weight)
    # the source run resumes from its own checkpoint after the finished pre-training
    again, _ = train_source(task, "reconstruction", data["source"], data["valid"], tc(2),
                            tmp_path / "s", options=opts)
    assert _same_state(_state(again), _state(net))
    assert load_net(tmp_path / "s" / "net.pt")[1]["source_options"]["pretrain"] == "contrastive"


# ------------------------------------------------------------------ other families


def test_gnn_family_with_both_feature_options(tmp_path):
    from simulators.d2d import D2DConfig, generate_d2d
    from wirelessrl.gnn import GraphInputTransform

    cfg = D2DConfig.from_preset("paper", n_links=4)
    g = generate_d2d(cfg, 60, seed=3).g
    t = GraphInputTransform.fit(g, cfg.p_max_w, cfg.noise_w)

    def batch(part):
        s = t.snr_db(part)
        return {"x": torch.from_numpy(s), "x_rec": torch.from_numpy(t.standardize(s)),
                "g": torch.from_numpy(part.astype(np.float32))}

    kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w}
    task = TransferTask(d2d_gnn_config(width=8, layers=2, channels=2, update_widths=[8],
                                       head_layers=1),
                        "sum_rate", "min_rate", D2DRateLoss("sum", **kw),
                        D2DRateLoss("min", **kw), reconstruction_key="x_rec", alpha=3.0)
    train, valid = batch(g[:40]), batch(g[40:])
    opts = SourceOptions(bottleneck="variational", pretrain="contrastive", pretrain_epochs=2)
    source, res = train_source(task, "reconstruction", train, valid, tc(2), tmp_path / "s",
                               options=opts)
    assert math.isfinite(res.best_metric) and "valid_kl" in res.history[-1]
    model = ContrastiveModel(source.features, per_node=True)
    perm = torch.tensor([2, 0, 3, 1])
    x = train["x"][:5]
    with torch.no_grad():  # pooled over nodes: the same projection for relabelled links
        torch.testing.assert_close(model.eval()(x), model(x[:, perm][:, :, perm]))
    target, _ = train_target(task, "reconstruction", source, train, valid, tc(2))
    with torch.no_grad():
        out = target.train()(x, head="min_rate")["out"]
        assert torch.equal(out, target(x, head="min_rate")["out"]) and out.shape == (5, 4)


def test_structured_family_with_a_variational_layer_keeps_its_structure():
    from experiments import load_experiment_config
    from experiments.mu_miso import make_task

    config = load_experiment_config("mu-miso", "tiny", ["model.family=structured"])
    task = make_task(config)
    torch.manual_seed(0)
    net = TransferNet.from_config(task.net.replace(bottleneck="variational")).double().eval()
    x = torch.randn(6, 4, task.net.feature_widths[0] // 2, 2, dtype=torch.float64)
    res = net(x, head="sum_rate")
    assert res["kl"].shape == (6, 4)  # one KL per user
    perm = torch.tensor([1, 3, 0, 2])
    w = res["out"].reshape(6, 4, -1)
    torch.testing.assert_close(net(x[:, perm], head="sum_rate")["out"].reshape(6, 4, -1),
                               w[:, perm], rtol=1e-9, atol=1e-12)


def test_section_keys_are_the_yaml_keys_of_every_experiment():
    from experiments import load_experiment_config

    for name in ("d2d", "miso", "mnist", "mu-miso"):
        source = load_experiment_config(name, "tiny")["source"]
        assert set(SECTION_KEYS) <= set(source), name
        assert SourceOptions.from_section(source).is_default, name
