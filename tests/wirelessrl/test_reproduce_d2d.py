import csv
import json

import pytest
from click.testing import CliRunner

from wirelessrl.cli import main


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("d2d") / "run"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "--threads", "1"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_tiny_d2d_writes_report_tables_and_plots(tiny_run):
    out, _ = tiny_run
    for name in ("report.md", "results.csv", "results.json", "config.yaml", "cdf_min_rate.png",
                 "cdf_sum_rate.png", "learning_curves.png", "bars_vs_paper.png"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    assert results["provenance"]["config"]["scale"] == "tiny"
    paper = results["summary"]["min_rate_paper_settings"]
    assert set(paper) == {"regular", "conventional", "reconstruction", "finetune"}
    optimum = results["summary"]["min_rate_baselines"]["max-min optimum"]["mean"]
    for row in paper.values():
        # no learned power control beats the exact max-min optimum
        assert 0 < row["mean"] <= optimum * (1 + 1e-6)
    report = (out / "report.md").read_text()
    assert "equal tuning budget" in report and "FP, 150 iterations" in report
    assert "Scenario: 10 links in a 150 m x 150 m field, carrier 50 GHz" in report
    assert "no fading" in report and "| paper Mbps | paper % |" in report
    assert "published figures on this system" in report


def test_target_training_shows_a_progress_bar(tiny_run):
    _, output = tiny_run
    after = output.split("[run ] target/regular-lr2e-05", 1)[1].split("[run ]", 1)[0]
    assert "epoch" in after and "/5 [" in after  # tiny: target.epochs 5


def test_tiny_d2d_reconstruction_loss_falls(tiny_run):
    out, _ = tiny_run
    with open(out / "seed-123" / "source" / "reconstruction" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["valid_rec_mse"]) < float(rows[0]["valid_rec_mse"])


def test_rerun_skips_finished_steps(tiny_run):
    out, _ = tiny_run
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "[run ] source" not in result.output and "[skip] source/reconstruction" in result.output


def test_changed_config_reruns_only_affected_steps(tiny_run):
    out, _ = tiny_run
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "target.epochs=6"])
    assert result.exit_code == 0, result.output
    assert "[skip] data" in result.output and "[skip] source/conventional" in result.output
    assert "[run ] target/regular-lr2e-05" in result.output


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("source.epochz=3", "source.epochz"),
        ("source.epochs=many", "source.epochs"),
        ("strategies=[regular,magic]", "magic"),
        ("model.input_transform=cubic", "model.input_transform"),
        ("source.alpha=-1", "alpha"),
        ("source.reconstruction_input=blurred", "source.reconstruction_input='blurred'"),
        ("source.corruption_level=-0.5", "source.corruption_level=-0.5"),
        ("model.family=cnn", "model.family='cnn'"),
        ("model.family=gnn model.gnn.widht=8", "model.gnn.widht"),
        ("model.family=gnn model.gnn.width=wide", "model.gnn.width"),
        ("model.family=gnn model.gnn.head_layers=2 model.gnn.head_norm=batch",
         "graph.head_norm='batch' is invalid; expected one of none, layer"),
        ("model.family=gnn variants=[augment_permutations]",
         "variant 'augment_permutations' (an input augmentation) is implemented for"),
        ("source.beta=-1", "source.beta=-1.0 is invalid; expected a number >= 0"),
        ("source.loss_balance=magic", "source.loss_balance='magic' is invalid"),
        ("source.warmup_epochs=1e-3", "source.warmup_epochs=0.001 has type float; expected int"),
        ("source.pretrain_batch_size=1e-3", "source.pretrain_batch_size=0.001 has type float"),
        ("source.alpha=0 source.loss_balance=uncertainty",
         "source.loss_balance='uncertainty' needs source.alpha > 0"),
        ('variants=[{"name":"v","source":{"warmup_epochs":"1e-3"}}]',
         "variants.v.source.warmup_epochs='1e-3' is invalid; expected an integer >= 1"),
        # training keys (TrainConfig) name their section, not only the bare key
        ("source.lr=-1", "source.lr=-1.0 is invalid; expected a number > 0"),
        ("source.batch_size=0", "source.batch_size=0 is invalid; expected an integer >= 1"),
        ("target.patience=0", "target.patience=0 is invalid; expected an integer >= 1"),
        ("target.validate_every=0",
         "target.validate_every=0 is invalid; expected an integer >= 1"),
        ('variants=[{"name":"v","target":{"epochs":0}}]',
         "variants.v.target.epochs=0 is invalid; expected an integer >= 1"),
    ],
)
def test_bad_overrides_fail_cleanly(tmp_path, override, message):
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o",
                                       str(tmp_path / "r"), *override.split()])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_target_size_change_keeps_the_source_models(tiny_run):
    out, _ = tiny_run
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "data.target_train=150"])
    assert result.exit_code == 0, result.output
    assert "[run ] data" in result.output  # the target split changed size
    assert "[skip] source/conventional" in result.output
    assert "[skip] source/reconstruction" in result.output
    assert "[run ] target/regular-lr2e-05" in result.output


def test_denoising_retrains_only_the_reconstruction_source(tiny_run):
    out, _ = tiny_run
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "source.reconstruction_input=denoising",
                                       "source.corruption_level=0.3"])
    assert result.exit_code == 0, result.output
    assert "[skip] source/conventional" in result.output  # alpha = 0: nothing to corrupt
    assert "[run ] source/reconstruction" in result.output
    fit = json.loads((out / "seed-123" / "source" / "reconstruction" / "fit.json").read_text())
    assert fit["augment"] == "denoising-0.3"
    # back to plain (level 0): retrained without corruption, in an emptied folder
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "source.reconstruction_input=denoising",
                                       "source.corruption_level=0"])
    assert result.exit_code == 0, result.output
    assert "[new ] source/reconstruction: config changed" in result.output
    fit = json.loads((out / "seed-123" / "source" / "reconstruction" / "fit.json").read_text())
    assert "augment" not in fit
    # and level 0 is the very step of the plain config: nothing runs again
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "[skip] source/reconstruction" in result.output and "[run ]" not in result.output


def test_head_norm_keeps_every_step_of_runs_without_graph_heads(tiny_run):
    # model.gnn.head_norm changes graph heads only: a run folder made before the option
    # (family mlp here, or gnn with head_layers = 0) keeps every step
    out, _ = tiny_run
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "model.gnn.head_norm=none"])
    assert result.exit_code == 0, result.output
    assert "[skip] source/reconstruction" in result.output and "[run ]" not in result.output


def test_lr_schedule_at_constant_keeps_every_step_and_cosine_retrains_only_targets(
        tiny_run, tmp_path):
    import shutil

    from experiments import load_experiment_config
    from experiments.d2d import D2DRun

    config = load_experiment_config("d2d", "tiny")
    older = {**config, "source": {k: v for k, v in config["source"].items()
                                  if k != "lr_schedule"}}  # a config from before the key
    run, old = (D2DRun(c, tmp_path / "h", 1, lambda s: None) for c in (config, older))
    target = {**config["target"], "lr": 1e-3}
    assert run.step_config(None, "reconstruction") == old.step_config(None, "reconstruction")
    assert run.step_config(None, "regular", target=target) == \
        old.step_config(None, "regular", target={k: v for k, v in target.items()
                                                 if k != "lr_schedule"})
    assert run.step_config(None, "regular", target={**target, "lr_schedule": "cosine"}) != \
        run.step_config(None, "regular", target=target)

    out, _ = tiny_run
    copy = tmp_path / "r"
    shutil.copytree(out, copy)
    base = ["reproduce", "d2d", "--scale", "tiny", "-o", str(copy), "--threads", "1"]
    result = CliRunner().invoke(main, [*base, "source.lr_schedule=constant",
                                       "target.lr_schedule=constant"])
    assert result.exit_code == 0, result.output
    assert "[skip] target/finetune-lr0.001" in result.output and "[run ]" not in result.output
    result = CliRunner().invoke(main, [*base, "tuning.enabled=false", "target.lr_schedule=cosine",
                                       "strategies=[conventional]"])
    assert result.exit_code == 0, result.output
    assert "[skip] source/conventional" in result.output
    assert "[run ] target/conventional-lr2e-05" in result.output
    rows = list(csv.DictReader(open(copy / "seed-123" / "target" / "conventional-lr2e-05" /
                                    "metrics.csv")))
    lrs = [float(r["lr"]) for r in rows]
    assert len(lrs) > 2 and lrs[0] == pytest.approx(config["target"]["lr"])
    assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False))


@pytest.mark.parametrize("key", ["source.lr_schedule", "target.lr_schedule"])
def test_a_bad_lr_schedule_fails_before_any_work(key, tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       f"{key}=linear"])
    assert result.exit_code == 2, result.output
    assert f"{key}='linear' is invalid; expected one of constant, cosine" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_step_hashes_see_head_norm_only_with_graph_heads():
    from experiments.d2d import hashed_model_section

    heads = {"family": "gnn", "gnn": {"width": 8, "head_layers": 2, "head_norm": "layer"}}
    assert hashed_model_section(heads) == heads
    # no graph heads, or "none" (what a config without the key means): the earlier hash
    for model in ({**heads, "family": "mlp"},
                  {**heads, "gnn": {**heads["gnn"], "head_layers": 0}},
                  {**heads, "gnn": {**heads["gnn"], "head_norm": "none"}}):
        assert "head_norm" not in hashed_model_section(model)["gnn"]
        assert hashed_model_section(model)["family"] == model["family"]


def test_corruption_without_reconstruction_loss_fails_before_any_work(tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "source.alpha=0", "source.reconstruction_input=masked",
                                       "source.corruption_level=0.2"])
    assert result.exit_code == 2, result.output
    assert "needs source.alpha > 0" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_evaluation_file_holds_per_layout_powers_of_every_network(tiny_run):
    from experiments.layout import UnitFiles

    out, _ = tiny_run
    run = json.loads((out / "run.json").read_text())
    (unit,) = [UnitFiles(out, u, run["target_mode"]) for u in run["units"]]
    nets = unit.networks()
    # 2 sources + 4 strategies x 2 learning rates (the paper's and the tuning grid's)
    assert len(nets) == 10 and {n["role"] for n in nets} == {"source", "target"}
    p_w, speed = unit.outputs(out / "seed-123" / "target" / "regular-lr0.001", "min_rate")
    assert p_w["p_w"].shape == (200, 10) and speed > 0
    assert (p_w["p_w"] >= 0).all() and (p_w["p_w"] <= 1.0).all()  # 0 <= p <= P_max = 1 W


def test_report_from_files_alone_rebuilds_the_same_tables_without_torch(tiny_run, tmp_path):
    import shutil
    import subprocess
    import sys

    out, _ = tiny_run
    before = (out / "results.csv").read_text()
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for name in ("results.csv", "results.json", "report.md"):
        (copy / name).unlink()
    for net in copy.rglob("net.pt"):  # no network is run: the weights are not even needed
        net.unlink()
    code = ("import sys; from experiments import report_run; "
            f"report_run({str(copy)!r}, lambda s: None); "
            "sys.exit(3 if any(m == 'torch' or m.startswith('torch.') for m in sys.modules) "
            "else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (copy / "results.csv").read_text() == before
    result = CliRunner().invoke(main, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert (copy / "results.csv").read_text() == before and (copy / "report.md").is_file()


def test_report_of_a_folder_that_is_no_run_fails_in_one_line(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a finished run folder: run.json is missing" in result.output


def test_tiny_d2d_with_the_graph_network(tmp_path):
    out = tmp_path / "gnn"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "--threads", "1", "model.family=gnn",
                                       "strategies=[regular,reconstruction]"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    optimum = results["summary"]["min_rate_baselines"]["max-min optimum"]["mean"]
    for row in results["summary"]["min_rate_paper_settings"].values():
        assert 0 < row["mean"] <= optimum * (1 + 1e-6)
    with open(out / "seed-123" / "source" / "reconstruction" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["valid_rec_mse"]) < float(rows[0]["valid_rec_mse"])


def test_custom_scenario_with_dotted_system_overrides(tmp_path):
    """system.<field>=value on a custom scenario: the report describes the system run and
    leaves out the paper's columns and bars."""
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [
        "reproduce", "d2d", "--scale", "tiny", "--threads", "1", "-o", str(out),
        "system.n_links=5", "system.carrier_hz=2.4e9", "system.fading=true",
        "system.overrides.shadowing_sigma_db=8", "strategies=[regular,reconstruction]",
        "data.source_train=600"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "results.json").read_text())["provenance"]["config"]
    assert config["system"]["overrides"] == {"n_links": 5, "carrier_hz": 2.4e9, "fading": True,
                                             "shadowing_sigma_db": 8}
    from wirelessrl.datasets import load_d2d

    data = load_d2d(out / "seed-123" / "data" / "test.h5")
    assert data.g.shape[1:] == (5, 5) and data.config.fading and data.config.carrier_hz == 2.4e9
    report = (out / "report.md").read_text()
    assert ("Scenario: 5 links in a 150 m x 150 m field, carrier 2.4 GHz, link lengths 5-25 m, "
            "8 dB log-normal shadowing, Rayleigh fading") in report
    assert "Not the method paper's system (n_links 5 (paper 10)" in report
    assert "paper Mbps" not in report and "paper %" not in report
    assert not (out / "bars_vs_paper.png").exists() and (out / "cdf_min_rate.png").is_file()
    assert "bars_vs_paper" not in report


@pytest.mark.parametrize(("override", "message"), [
    ("system.n_link=20", "config key 'system.n_link' does not exist (did you mean 'n_links'?); "
                         "expected system.<key> with a key of preset, overrides or a D2D "
                         "config field: n_links,"),
    ("system.overrides.bogus=1", "config key 'system.overrides.bogus' does not exist"),
    ("system.n_links=x", "n_links='x' is invalid; expected an integer >= 1"),
    ("system.field_m=10", "field_m=10 is too small"),
])
def test_bad_system_overrides_list_the_valid_keys(tmp_path, override, message):
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o",
                                       str(tmp_path / "r"), override])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_system_overrides_in_both_spellings_and_other_experiments():
    from experiments import load_experiment_config

    a = load_experiment_config("d2d", "tiny", ["system.preset=spatial-2019", "system.n_links=20"])
    b = load_experiment_config("d2d", "tiny", ["system.preset=spatial-2019",
                                               "system.overrides.n_links=20"])
    assert a["system"] == b["system"] == {"preset": "spatial-2019", "overrides": {"n_links": 20}}
    miso = load_experiment_config("miso", "tiny", ["system.n_pilots=8", "system.system_seed=3"])
    assert miso["system"]["overrides"] == {"n_pilots": 8} and miso["system"]["system_seed"] == 3


SOURCE_VARIANTS = ("[{name: unc, source: {loss_balance: uncertainty}}, "
                   "{name: warm, source: {loss_balance: warmup, warmup_epochs: 2}}, "
                   "{name: vib, source: {bottleneck: variational, beta: 1e-3}}, "
                   "{name: simclr, source: {pretrain: contrastive, pretrain_epochs: 2}}]")


def test_tiny_d2d_with_every_source_training_variant(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "--threads", "1", "strategies=[reconstruction]",
                                       "tuning.enabled=false", f"variants={SOURCE_VARIANTS}"])
    assert result.exit_code == 0, result.output
    for name in ("unc", "warm", "vib", "simclr"):
        assert f"[done] source-{name}/reconstruction" in result.output
    assert "[run ] source-unc/conventional" not in result.output
    assert (out / "seed-123" / "source-simclr" / "reconstruction" / "pretrain" /
            "metrics.csv").is_file()
    results = json.loads((out / "results.json").read_text())
    sources = results["summary"]["sum_rate_sources"]
    for name in ("unc", "warm", "vib", "simclr"):
        assert f"source, with reconstruction [variant {name}]" in sources
        assert f"reconstruction + {name}" in results["summary"][f"min_rate_variant_{name}"]
    report = (out / "report.md").read_text()
    assert "| source, with reconstruction [variant vib] |" in report
    assert "Source settings changed: bottleneck = variational, beta = 0.001" in report
    # the same config again: every step is done
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       "strategies=[reconstruction]", "tuning.enabled=false",
                                       f"variants={SOURCE_VARIANTS}"])
    assert result.exit_code == 0 and "[run ]" not in result.output, result.output
