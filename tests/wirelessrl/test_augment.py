"""Link-permutation augmentation: equivariance, valid relabellings, seeding, fit hook."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from baselines import solve
from experiments.d2d import D2DRun, fit_inputs, tensors
from experiments.runner import make_plan
from simulators.d2d import D2DConfig, generate_d2d
from simulators.rates import link_rates_bps
from simulators.validation import ConfigError
from wirelessrl.augment import (
    D2DLinkPermutation,
    permute_link_vectors,
    permute_links,
    random_link_permutations,
)
from wirelessrl.checkpoint import load_checkpoint
from wirelessrl.engine import TrainConfig, augment_name, fit
from wirelessrl.models import NetConfig, TransferNet
from wirelessrl.objectives import D2DRateLoss, Objective, d2d_rates_nats
from wirelessrl.transfer import train_source, train_target

N = 4


@pytest.fixture(scope="module")
def system():
    return D2DConfig.from_preset("paper", n_links=N)


@pytest.fixture(scope="module")
def layouts(system):
    return generate_d2d(system, 120, seed=5).g  # [120, N, N], float64


def perm_of(g_old: np.ndarray, g_new: np.ndarray) -> np.ndarray:
    """The relabelling that maps one layout to another, found from the direct gains."""
    d_old, d_new = np.diag(g_old), np.diag(g_new)
    assert len(set(d_old.tolist())) == len(d_old)  # distinct direct gains: unique match
    return np.array([int(np.flatnonzero(d_old == v)[0]) for v in d_new])


# ---------------------------------------------------------------- equivariance


def test_permuting_the_gains_permutes_the_rates(system, layouts):
    g = torch.from_numpy(layouts)
    x = torch.rand(len(g), N, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    perm = random_link_permutations(len(g), N, torch.Generator().manual_seed(1))
    kw = {"p_max_w": system.p_max_w, "noise_w": system.noise_w, "snr_gap_db": system.snr_gap_db}
    r = d2d_rates_nats(g, x, **kw)
    r_perm = d2d_rates_nats(permute_links(g, perm), permute_link_vectors(x, perm), **kw)
    torch.testing.assert_close(r_perm, permute_link_vectors(r, perm), rtol=1e-12, atol=0)
    # the NumPy reference agrees, and the sum- and min-rate are invariant
    ref = link_rates_bps(permute_links(g, perm).numpy(),
                         permute_link_vectors(x, perm).numpy() * system.p_max_w,
                         system.noise_w, system.bandwidth_hz, system.snr_gap_db)
    np.testing.assert_allclose(ref, permute_link_vectors(r, perm).numpy()
                               * system.bandwidth_hz / np.log(2), rtol=1e-10)
    torch.testing.assert_close(r_perm.min(-1).values, r.min(-1).values, rtol=1e-12, atol=0)


def test_the_max_min_optimum_follows_the_relabelling(system, layouts):
    g = layouts[:20]
    perm = random_link_permutations(len(g), N, torch.Generator().manual_seed(2))
    g_perm = permute_links(torch.from_numpy(g), perm).numpy()
    kw = {"p_max_w": system.p_max_w, "noise_w": system.noise_w,
          "snr_gap_db": system.snr_gap_db}
    p = solve("maxmin", g, **kw).p_w
    p_perm = solve("maxmin", g_perm, **kw).p_w
    np.testing.assert_allclose(p_perm, permute_link_vectors(torch.from_numpy(p), perm).numpy(),
                               rtol=1e-6)


def test_permute_links_hand_example():
    g = torch.arange(9.0).reshape(1, 3, 3)
    out = permute_links(g, torch.tensor([[2, 0, 1]]))
    # new link 0 is old link 2: g'[0, 0] = g[2, 2], g'[0, 1] = g[2, 0], g'[1, 0] = g[0, 2]
    assert out[0, 0, 0] == 8 and out[0, 0, 1] == 6 and out[0, 1, 0] == 2
    assert out.tolist() == [[[8.0, 6.0, 7.0], [2.0, 0.0, 1.0], [5.0, 3.0, 4.0]]]


# ---------------------------------------------------------------- the augmentation


@pytest.fixture(scope="module")
def transform(layouts):
    return fit_inputs("standardized", layouts)


def test_augmentation_is_a_valid_relabelling_of_every_layout(layouts, transform):
    batch = tensors(layouts[:50], transform)
    aug = D2DLinkPermutation(transform=transform.torch)
    out = aug(batch, torch.Generator().manual_seed(3))
    assert set(out) == {"x", "g"} and out["g"].shape == batch["g"].shape
    assert out["x"].shape == batch["x"].shape and out["x"].dtype == batch["x"].dtype
    g_old, g_new = batch["g"].numpy(), out["g"].numpy()
    moved = 0
    for b in range(len(g_old)):
        perm = perm_of(g_old[b], g_new[b])
        assert sorted(perm.tolist()) == list(range(N))
        np.testing.assert_array_equal(g_new[b], g_old[b][np.ix_(perm, perm)])
        moved += not np.array_equal(perm, np.arange(N))
    assert moved >= 45  # 1/24 of identities expected
    # the input is the transform of the permuted gains, not the permuted standardized input
    torch.testing.assert_close(out["x"], transform.torch(out["g"]))
    # the batch given is left as it was
    torch.testing.assert_close(batch["g"], torch.from_numpy(layouts[:50].astype(np.float32)))


def test_every_layout_gets_its_own_uniform_permutation():
    perm = random_link_permutations(24_000, 4, torch.Generator().manual_seed(4))
    counts = {}
    for row in perm.tolist():
        counts[tuple(row)] = counts.get(tuple(row), 0) + 1
    assert set(counts) == set(itertools.permutations(range(4)))
    # 1,000 expected per permutation, std ~31: a wrong (non-uniform) draw fails
    assert all(850 < c < 1150 for c in counts.values())


def test_augmentation_is_reproducible_with_a_seed(layouts, transform):
    batch = tensors(layouts[:30], transform)
    aug = D2DLinkPermutation(transform=transform.torch)
    a = aug(batch, torch.Generator().manual_seed(7))
    b = aug(batch, torch.Generator().manual_seed(7))
    c = aug(batch, torch.Generator().manual_seed(8))
    assert torch.equal(a["g"], b["g"]) and torch.equal(a["x"], b["x"])
    assert not torch.equal(a["g"], c["g"])


def test_permuting_the_input_directly_matches_when_the_map_is_entrywise(layouts):
    g = torch.from_numpy(layouts[:20])
    x = torch.log10(g).reshape(len(g), -1)  # entrywise, no per-entry statistics
    batch = {"x": x, "g": g, "w": torch.rand(len(g), N)}
    direct = D2DLinkPermutation(transform=None, link_keys=("w",))
    recompute = D2DLinkPermutation(transform=lambda h: torch.log10(h).reshape(len(h), -1),
                                   link_keys=("w",))
    a = direct(batch, torch.Generator().manual_seed(9))
    b = recompute(batch, torch.Generator().manual_seed(9))
    torch.testing.assert_close(a["x"], b["x"])
    torch.testing.assert_close(a["w"], b["w"])
    perm = torch.tensor(np.stack([perm_of(g[i].numpy(), a["g"][i].numpy())
                                  for i in range(len(g))]))
    torch.testing.assert_close(a["w"], permute_link_vectors(batch["w"], perm))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: D2DLinkPermutation(transform=3), r"transform=3 is invalid"),
        (lambda: D2DLinkPermutation()({"g": torch.rand(2, 3, 3)}, torch.Generator()),
         r"key 'x' is not in the batch"),
        (lambda: permute_links(torch.rand(2, 3, 4), torch.zeros(2, 3, dtype=torch.long)),
         r"expected \(batch, n, n\)"),
        (lambda: permute_link_vectors(torch.rand(2, 3), torch.zeros(2, 4, dtype=torch.long)),
         r"expected \(batch, n, \.\.\.\)"),
    ],
)
def test_bad_augmentation_input_is_rejected(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


# ---------------------------------------------------------------- fit and train_target


def small_net(seed=0, decoder=False) -> TransferNet:
    torch.manual_seed(seed)
    head = {"widths": (8, 8, N), "output": "sigmoid"}
    return TransferNet.from_config(NetConfig(
        (N * N, 16, 8), heads={"sum_rate": head, "min_rate": head},
        decoder_widths=(8, 16, N * N) if decoder else None))


@pytest.fixture(scope="module")
def fit_setup(system, layouts, transform):
    data = tensors(layouts, transform)
    train = {k: v[:80] for k, v in data.items()}
    valid = {k: v[80:] for k, v in data.items()}
    loss = D2DRateLoss("min", p_max_w=system.p_max_w, noise_w=system.noise_w)
    return train, valid, Objective(loss, head="min_rate"), transform


def cfg(**kw) -> TrainConfig:
    base = {"epochs": 8, "batch_size": 20, "lr": 3e-3, "device": "cpu", "seed": 3,
            "monitor": "min_rate_bps_per_hz", "mode": "max", "checkpoint_every_s": 0.0}
    return TrainConfig(**{**base, **kw})


class Recorder:
    """An augmentation that records the gains it was given and returned."""

    name = "recorder"

    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def __call__(self, batch, generator):
        out = self.inner(batch, generator)
        self.seen.append(out["g"].clone())
        return out


def test_fit_applies_augment_to_training_batches_only(fit_setup):
    train, valid, objective, transform = fit_setup
    rec = Recorder(D2DLinkPermutation(transform=transform.torch))
    fit(small_net(), objective, train, valid, cfg(epochs=2), augment=rec)
    assert len(rec.seen) == 2 * 4  # 80 samples, batches of 20, 2 epochs
    assert all(len(g) == 20 for g in rec.seen)
    # the augmented batches are not the layouts as given
    as_given = {tuple(g.flatten().tolist()) for g in train["g"]}
    assert sum(tuple(g.flatten().tolist()) not in as_given for g in rec.seen[0]) > 10


def test_fit_with_augment_is_reproducible_and_differs_from_none(fit_setup):
    train, valid, objective, transform = fit_setup
    aug = D2DLinkPermutation(transform=transform.torch)
    a, b, plain = small_net(), small_net(), small_net()
    fit(a, objective, train, valid, cfg(), augment=aug)
    fit(b, objective, train, valid, cfg(), augment=aug)
    fit(plain, objective, train, valid, cfg())
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert any(not torch.equal(v, plain.state_dict()[k]) for k, v in a.state_dict().items())


class Interrupt:
    def __init__(self, objective, at_call):
        self.objective, self.at_call, self.calls = objective, at_call, 0

    def __call__(self, model, batch):
        if model.training:
            self.calls += 1
            if self.calls == self.at_call:
                raise KeyboardInterrupt
        return self.objective(model, batch)


def test_fit_with_augment_resumes_exactly(fit_setup, tmp_path):
    train, valid, objective, transform = fit_setup
    aug = D2DLinkPermutation(transform=transform.torch)
    full_net = small_net()
    full = fit(full_net, objective, train, valid, cfg(), tmp_path / "a", augment=aug)
    net = small_net()
    with pytest.raises(KeyboardInterrupt):  # 4 steps per epoch: stop inside epoch 6
        fit(net, Interrupt(objective, 4 * 5 + 3), train, valid, cfg(), tmp_path / "b",
            augment=aug)
    assert load_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 5
    resumed_net = small_net(seed=99)
    resumed = fit(resumed_net, objective, train, valid, cfg(), tmp_path / "b", augment=aug)
    assert resumed.resumed_from == 5 and resumed.best_epoch == full.best_epoch
    for k, v in full_net.state_dict().items():
        torch.testing.assert_close(v, resumed_net.state_dict()[k], rtol=0, atol=1e-6, msg=k)
    summary = json.loads((tmp_path / "b" / "fit.json").read_text())
    assert summary["augment"] == "d2d-link-permutation"


def test_resume_with_another_augmentation_is_refused(fit_setup, tmp_path):
    train, valid, objective, transform = fit_setup
    fit(small_net(), objective, train, valid, cfg(epochs=2), tmp_path)
    with pytest.raises(ConfigError, match=r"cannot resume .*augment=None.*"
                                          r"augment='d2d-link-permutation'"):
        fit(small_net(), objective, train, valid, cfg(epochs=3), tmp_path,
            augment=D2DLinkPermutation(transform=transform.torch))
    assert fit(small_net(), objective, train, valid, cfg(epochs=3), tmp_path).resumed_from == 2


@pytest.mark.parametrize(
    ("augment", "message"),
    [
        (5, r"augment=5 is invalid; expected a callable"),
        (lambda b, gen: {"x": b["x"]}, r"augment returned \['x'\]; expected a dict with the keys"),
        (lambda b, gen: {k: v[:3] for k, v in b.items()}, r"expected a tensor with 20 samples"),
    ],
)
def test_bad_augment_is_rejected(fit_setup, augment, message):
    train, valid, objective, _ = fit_setup
    with pytest.raises(ConfigError, match=message):
        fit(small_net(), objective, train, valid, cfg(epochs=1), augment=augment)


def test_augment_names():
    assert augment_name(None) is None
    assert augment_name(D2DLinkPermutation()) == "d2d-link-permutation"
    assert augment_name(test_augment_names).endswith("test_augment_names")


def test_train_target_with_augment_keeps_frozen_features_frozen(system, fit_setup,
                                                                  make_tiny_task):
    train, valid, _, transform = fit_setup
    task = make_tiny_task(system)
    aug = D2DLinkPermutation(transform=transform.torch)
    source, _ = train_source(task, "reconstruction", train, valid, cfg(epochs=2))
    rec = Recorder(aug)
    net, result = train_target(task, "reconstruction", source, train, valid, cfg(epochs=2),
                               augment=rec)
    assert len(rec.seen) == 8  # the raw batches were augmented: no feature cache
    for k, v in source.features.state_dict().items():
        assert torch.equal(v, net.features.state_dict()[k]), k
    assert result.last_epoch == 2
    # regular and finetune accept it too
    for strategy in ("regular", "finetune"):
        _, res = train_target(task, strategy, source if strategy != "regular" else None,
                              train, valid, cfg(epochs=1), augment=aug)
        assert res.last_epoch == 1


# ---------------------------------------------------------------- D2D experiment config


def test_variants_are_validated_and_off_by_default():
    from experiments import load_experiment_config

    base = load_experiment_config("d2d", "tiny")
    assert make_plan(D2DRun, base).variants == []
    (v,) = make_plan(D2DRun, {**base, "variants": ["augment_permutations"]}).variants
    assert (v.name, v.label, v.augment) == ("augment_permutations", "link permutations",
                                            "link-permutations")
    assert v.lrs == (2e-5, 1e-3)  # the equal-budget grid with the paper's target lr
    with pytest.raises(ConfigError, match=r"variants\[0\]='yes' is not a variant preset"):
        make_plan(D2DRun, {**base, "variants": ["yes"]})
    with pytest.raises(ConfigError, match=r"variants\[0\].augment='spin' is invalid"):
        make_plan(D2DRun, {**base, "variants": [{"name": "x", "augment": "spin"}]})
    with pytest.raises(ConfigError, match=r"variants=\{'augment_permutations': True\} is invalid"):
        make_plan(D2DRun, {**base, "variants": {"augment_permutations": True}})


def test_old_variant_switch_names_the_list_spelling():
    from experiments import load_experiment_config

    with pytest.raises(ConfigError, match=r"expected e.g. 'variants=\[augment_permutations\]'"):
        load_experiment_config("d2d", "tiny", ["variants.augment_permutations=true"])


def test_plain_step_configs_do_not_mention_variants(tmp_path):
    from experiments import load_experiment_config

    base = load_experiment_config("d2d", "tiny")
    on = load_experiment_config("d2d", "tiny", ["variants=[augment_permutations]"])
    a = D2DRun(base, tmp_path / "a", 1, lambda s: None)
    b = D2DRun(on, tmp_path / "b", 1, lambda s: None)
    (v,) = b.plan.variants
    # the plain steps hash the same with the variant on or off (no retraining)
    target = {**base["target"], "lr": 1e-3}
    assert a.step_config(None, "regular", target=target) == \
        b.step_config(None, "regular", target=target)
    assert "augment" not in a.step_config(None, "regular", target=target)
    assert b.target_run_dir("regular", 1e-3, v).relative_to(b.dir).as_posix() == \
        "target-augment_permutations/regular-lr0.001"
    assert a.target_run_dir("regular", 1e-3).relative_to(a.dir).as_posix() == \
        "target/regular-lr0.001"


def test_tiny_d2d_with_the_variant_reuses_plain_steps_and_reports_labelled_rows(tmp_path):
    from click.testing import CliRunner

    from wirelessrl.cli import main

    out = tmp_path / "run"
    args = ["reproduce", "d2d", "--scale", "tiny", "-o", str(out), "--threads", "1",
            "strategies=[regular, reconstruction]"]
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 0, plain.output
    assert "link permutations" not in (out / "report.md").read_text()
    result = CliRunner().invoke(main, [*args, "variants=[augment_permutations]"])
    assert result.exit_code == 0, result.output
    # switching the variant on retrains nothing that existed
    assert "[run ] target/regular-lr" not in result.output
    assert "[run ] source" not in result.output
    assert "[run ] target-augment_permutations/regular-lr0.001" in result.output
    assert "[run ] target-augment_permutations/reconstruction-lr0.001" in result.output
    report = (out / "report.md").read_text()
    assert "variant `augment_permutations`: link permutations (protocol change)" in report
    assert "| regular + link permutations |" in report
    summary = json.loads((out / "results.json").read_text())["summary"]
    rows = summary["min_rate_variant_augment_permutations"]
    assert set(rows) == {"regular + link permutations", "reconstruction + link permutations"}
    optimum = summary["min_rate_baselines"]["max-min optimum"]["mean"]
    assert all(0 < r["mean"] <= optimum * (1 + 1e-6) for r in rows.values())
    fit_json = json.loads(
        (out / "seed-123" / "target-augment_permutations" / "regular-lr0.001" / "fit.json")
        .read_text())
    assert fit_json["augment"] == "d2d-link-permutation"
