"""D2D options of issue 16: what the source decoder rebuilds
(``source.reconstruction_target``) and the structured min-rate head
(``target.minrate_head=maxmin``): the cached decoder targets equal the solvers' outputs, the
default trains the same bytes, tiny runs end to end with every target (mlp and gnn) and with
the max-min head as a labelled variant, one-line errors on bad values."""

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from baselines import solve
from experiments import load_experiment_config
from experiments.d2d import RECONSTRUCTION_KIND, D2DRun
from experiments.layout import UnitFiles
from wirelessrl.checkpoint import load_net
from wirelessrl.cli import main
from wirelessrl.d2d_inputs import TARGET_KEY, interference_db
from wirelessrl.datasets import load_d2d
from wirelessrl.fileio import read_arrays

SMALL = ["data.source_train=300", "data.source_valid=60", "data.target_train=60",
         "data.target_valid=60", "data.test=60", "source.epochs=2", "target.epochs=2"]


def _run(tmp_path, *overrides: str) -> D2DRun:
    config = load_experiment_config("d2d", "tiny", [*SMALL, *overrides])
    return D2DRun(config, tmp_path, seed=3, echo=lambda line: None)


@pytest.mark.parametrize("family", ["mlp", "gnn"])
def test_decoder_targets_are_the_solver_outputs(tmp_path, family):
    run = _run(tmp_path, f"model.family={family}",
               "variants=[rec_maxmin,rec_fp,rec_interference]")
    run.make_data()
    system = run.system
    for split in ("source_train", "source_valid"):
        g = load_d2d(run.path("data", f"{split}.h5")).g
        expected = {
            "maxmin": solve("maxmin", g, system=system).p_w / system.p_max_w,
            "fp": solve("fp", g, system=system, iterations=150).p_w / system.p_max_w,
        }
        # the interference at full power, plainly: 10 log10(1 + sum_{j != i} g_ij P / s2)
        plain = np.array([[10 * np.log10(1 + sum(gl[i, j] for j in range(10) if j != i)
                                         * system.p_max_w / system.noise_w)
                           for i in range(10)] for gl in g])
        expected["interference"] = interference_db(g, system.p_max_w, system.noise_w)
        np.testing.assert_allclose(expected["interference"], plain, rtol=1e-12)
        for target, values in expected.items():
            arrays, meta = read_arrays(run.path("reconstruction", f"{target}.h5"),
                                       RECONSTRUCTION_KIND)
            np.testing.assert_array_equal(arrays[split], values)
            assert meta["target"] == target and meta["splits"][split]["layouts"] == len(g)
    arrays, meta = read_arrays(run.path("reconstruction", "maxmin.h5"), RECONSTRUCTION_KIND)
    assert meta["splits"]["source_train"]["stopping_rule"].startswith("max-min bisection")
    assert (arrays["source_train"].max(-1) == 1.0).all()
    # the batch the decoder trains on: the values standardized with source-train statistics
    section = {**run.config["source"], "reconstruction_target": "maxmin"}
    train, valid = run.source_splits(section, "reconstruction")
    z = train[TARGET_KEY].double().numpy()
    assert z.shape == (300, 10) and train[TARGET_KEY].dtype == torch.float32
    raw = arrays["source_train"]
    if family == "mlp":  # per link
        np.testing.assert_allclose(z * raw.std(0) + raw.mean(0), raw, atol=1e-6)
    else:  # one scalar mean and std over every entry (any N)
        np.testing.assert_allclose(z * raw.std() + raw.mean(), raw, atol=1e-6)
    assert TARGET_KEY in valid and TARGET_KEY not in run.source_splits(section, "conventional")[0]


def test_default_trains_the_same_bytes_as_reconstruction_target_input(tmp_path):
    nets = []
    for name, extra in (("omitted", []), ("input", ["source.reconstruction_target=input",
                                                    "target.minrate_head=direct"])):
        config = load_experiment_config("d2d", "tiny", [*SMALL, "strategies=[reconstruction]",
                                                        "tuning.enabled=false", *extra])
        if not extra:  # a config written before the keys existed
            del config["source"]["reconstruction_target"], config["target"]["minrate_head"]
        run = D2DRun(config, tmp_path / name, seed=3, echo=lambda line: None)
        run.make_data()
        run.train_sources(["reconstruction"])
        run.train_targets(["reconstruction"], [run.plan.target_lr])
        assert not (tmp_path / name / "seed-3" / "reconstruction").exists()
        stamps = sorted((tmp_path / name / "seed-3" / ".steps").glob("*.json"))
        nets.append(({p.name: json.loads(p.read_text())["config_hash"] for p in stamps},
                     [load_net(run.path(rel, "net.pt"))[0].state_dict()
                      for rel in ("source/reconstruction", "target/reconstruction-lr2e-05")]))
    (hash_a, state_a), (hash_b, state_b) = nets
    assert hash_a == hash_b  # the same steps: runs made before the keys stay valid
    for a, b in zip(state_a, state_b, strict=True):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(("family", "target"), [("mlp", "maxmin"), ("mlp", "fp"),
                                                ("mlp", "interference"), ("gnn", "maxmin")])
def test_tiny_reproduce_with_each_reconstruction_target(tmp_path, family, target):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "reproduce", "d2d", "--scale", "tiny", "-o", str(out), "--threads", "1",
        f"model.family={family}", f"source.reconstruction_target={target}",
        "strategies=[conventional,reconstruction]", "tuning.enabled=false"])
    assert result.exit_code == 0, result.output
    assert f"[run ] reconstruction/{target}" in result.output
    with open(out / "seed-123" / "source" / "reconstruction" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["valid_rec_mse"]) < float(rows[0]["valid_rec_mse"])
    net, _ = load_net(out / "seed-123" / "source" / "reconstruction" / "net.pt")
    assert net.decoder is not None and net.decoder.widths[-1] == (10 if family == "mlp" else 1)
    conventional, _ = load_net(out / "seed-123" / "source" / "conventional" / "net.pt")
    assert conventional.decoder is None
    results = json.loads((out / "results.json").read_text())
    optimum = results["summary"]["min_rate_baselines"]["max-min optimum"]["mean"]
    for row in results["summary"]["min_rate_paper_settings"].values():
        assert 0 < row["mean"] <= optimum * (1 + 1e-6)
    if target == "interference":  # another target: only the reconstruction source retrains
        result = CliRunner().invoke(main, [
            "reproduce", "d2d", "--scale", "tiny", "-o", str(out), "--threads", "1",
            "source.reconstruction_target=input", "strategies=[conventional,reconstruction]",
            "tuning.enabled=false"])
        assert result.exit_code == 0, result.output
        assert "[skip] source/conventional" in result.output
        assert "[skip] target/conventional-lr2e-05" in result.output
        assert "[run ] source/reconstruction" in result.output
        assert "[run ] reconstruction/" not in result.output


def test_tiny_reproduce_with_the_maxmin_head_as_a_variant(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "reproduce", "d2d", "--scale", "tiny", "-o", str(out), "--threads", "1",
        "strategies=[regular,conventional]", "tuning.enabled=false",
        "variants=[maxmin_head]"])
    assert result.exit_code == 0, result.output
    assert "[run ] target-maxmin_head/conventional-lr2e-05" in result.output
    assert result.output.count("[run ] source/") == 1  # the variant reuses the source
    results = json.loads((out / "results.json").read_text())
    optimum = results["summary"]["min_rate_baselines"]["max-min optimum"]["mean"]
    rows = results["summary"]["min_rate_variant_maxmin_head"]
    assert set(rows) == {"regular + max-min power head", "conventional + max-min power head"}
    direct = results["summary"]["min_rate_paper_settings"]
    for name, row in rows.items():
        assert 0 < row["mean"] <= optimum * (1 + 1e-6)
        # the layer: far above what 2 epochs of the sigmoid head reach
        assert row["mean"] > direct[name.split(" +")[0]]["mean"]
    run_dir = out / "seed-123" / "target-maxmin_head" / "regular-lr2e-05"
    net, _ = load_net(run_dir / "net.pt")
    assert net.passes_gains and net.config.heads["min_rate"].output == "maxmin_powers"
    unit = UnitFiles(out, {"seed": 123, "dir": "seed-123"}, "max")
    p_w = unit.outputs(run_dir, "min_rate")[0]["p_w"]             # one link at P_max = 1 W
    assert p_w.shape == (200, 10) and (p_w.max(-1) == 1.0).all() and (p_w >= 0).all()
    report = (out / "report.md").read_text()
    assert "variant `maxmin_head`: max-min power head (protocol change)" in report


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("source.reconstruction_target=gains",
         "source.reconstruction_target='gains' is invalid"),
        ("target.minrate_head=exact", "target.minrate_head='exact' is invalid"),
        ("variants=[augment_permutations] target.minrate_head=maxmin",
         "augment='link-permutations' with target.minrate_head='maxmin' is not implemented"),
    ],
)
def test_bad_option_values_fail_cleanly_before_any_work(tmp_path, override, message):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       *override.split()])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()
