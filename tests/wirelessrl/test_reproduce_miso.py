import json
import math

import pytest
import torch
from click.testing import CliRunner

from experiments import load_experiment_config
from experiments.miso import SPLITS, net_config, system_config
from simulators.miso import MisoConfig, generate_miso, make_system
from wirelessrl.checkpoint import load_net
from wirelessrl.cli import main
from wirelessrl.datasets import load_miso
from wirelessrl.models import miso_net_config
from wirelessrl.objectives import BeamformingGainLoss, mrt_beamformer

STRATEGIES = {"regular", "conventional", "reconstruction", "finetune"}


def _invoke(out, *extra):
    return CliRunner().invoke(main, ["reproduce", "miso", "--scale", "tiny", "-o", str(out),
                                     "--threads", "1", *extra])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("miso") / "run"
    result = _invoke(out)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_tiny_miso_writes_report_tables_and_plots(tiny_run):
    out, _ = tiny_run
    for name in ("report.md", "results.csv", "results.json", "config.yaml",
                 "cdf_localization_error.png", "learning_curves.png", "source_curves.png",
                 "bars_localization_vs_paper.png", "bars_beamforming_vs_paper.png"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    assert "equal tuning budget" in report and "supervised ceiling" in report
    assert "kNN fingerprint" in report and "label-free" in report


def test_tiny_miso_results_hold_every_row_with_finite_errors(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    assert results["provenance"]["config"]["scale"] == "tiny"
    summary = results["summary"]
    assert set(summary["paper_settings"]) == STRATEGIES
    assert set(summary["equal_tuning"]) == STRATEGIES
    assert set(summary["localization_baselines"]) == {"centre guess", "grid MMSE",
                                                       "kNN fingerprint"}
    assert summary["supervised"]["supervised ceiling"]["labels"] == 2000
    assert summary["localization_baselines"]["kNN fingerprint"]["labels"] == 2000
    assert summary["localization_baselines"]["grid MMSE"]["labels"] == 0
    for table in ("paper_settings", "equal_tuning", "localization_baselines", "supervised"):
        for row in summary[table].values():
            for key in ("mean_m", "median_m", "p90_m"):
                # errors inside the 80 m x 80 m area are below its diagonal
                assert math.isfinite(row[key]) and 0 < row[key] < 80 * math.sqrt(2)
    for row in summary["paper_settings"].values():
        assert row["labels"] == 100
    bf = summary["beamforming"]
    assert bf["perfect MRT"]["bf_gain_pct"] == pytest.approx(100.0)
    for name in ("genie LMMSE", "LoS", "random", "source, no reconstruction",
                 "source, with reconstruction"):
        assert 0 < bf[name]["bf_gain_pct"] < 100
    assert 88 < bf["genie LMMSE"]["bf_gain_pct"] < 96
    assert results["localization_outputs_inside_user_area"] is True


def test_rerun_skips_finished_steps(tiny_run):
    out, _ = tiny_run
    result = _invoke(out)
    assert result.exit_code == 0, result.output
    assert "[run ]" not in result.output
    for step in ("data", "baselines", "source/reconstruction", "target/finetune-lr5e-05",
                 "supervised"):
        assert f"[skip] {step}" in result.output


def test_localization_outputs_stay_in_the_user_area(tiny_run):
    out, _ = tiny_run
    # extreme inputs as well as the test set: the scaled sigmoid bounds every output
    x = torch.cat([torch.randn(200, 24), 1e3 * torch.randn(50, 24)])
    nets = [out / "seed-123" / "supervised" / "net.pt",
            *sorted((out / "seed-123" / "target").glob("*/net.pt"))]
    assert len(nets) == 9
    for path in nets:
        net, _ = load_net(path)
        with torch.no_grad():
            pos = net(x, head="localization")["out"]
        assert pos.shape == (250, 2)
        assert torch.all(pos >= 10.0) and torch.all(pos <= 90.0), path


def test_transfer_freezes_the_feature_module(tiny_run):
    out, _ = tiny_run
    seed_dir = out / "seed-123"
    sources = {name: load_net(seed_dir / "source" / name / "net.pt")[0]
               for name in ("conventional", "reconstruction")}
    for strategy, source in (("conventional", "conventional"),
                             ("reconstruction", "reconstruction")):
        for run in seed_dir.joinpath("target").glob(f"{strategy}-lr*"):
            target, _ = load_net(run / "net.pt")
            src = sources[source].features.state_dict()
            tgt = target.features.state_dict()
            assert src.keys() == tgt.keys()
            for key in src:
                assert torch.equal(src[key], tgt[key]), (run.name, key)
            assert target.decoder is None and target.head_names == ("localization",)
    # fine-tuning does move the features (lr 1e-3 x 0.1)
    tuned, _ = load_net(seed_dir / "target" / "finetune-lr0.001" / "net.pt")
    src = sources["reconstruction"].features.state_dict()
    assert any(not torch.equal(src[k], v) for k, v in tuned.features.state_dict().items())


def test_data_files_share_one_system(tiny_run):
    out, _ = tiny_run
    config = load_experiment_config("miso", "tiny")
    system = make_system(system_config(config), config["system"]["system_seed"])
    files = [load_miso(out / "seed-123" / "data" / f"{s}.h5", system) for s in SPLITS]
    assert [len(f) for f in files] == [2000, 200, 100, 200, 200]
    assert len({f.seed for f in files}) == len(SPLITS)  # distinct sample seeds


def test_gain_loss_and_variant_tables(tmp_path):
    out = tmp_path / "r"
    variants = ("variants=[{name: long, label: longer target training, target: {epochs: 8}, "
                "lrs: [0.001]}, {name: src, label: other source, source: {alpha: 8.0, "
                "epochs: 2}, strategies: [reconstruction]}]")
    result = _invoke(out, "source.loss=gain", "strategies=[reconstruction]",
                     "tuning.enabled=false", "supervised.enabled=false", variants)
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "Variant `long`: longer target training" in report
    assert "Variant `src`: other source" in report
    assert "unsupervised" in report
    results = json.loads((out / "results.json").read_text())
    summary = results["summary"]
    assert set(summary["variant:long"]) == {"reconstruction"}
    assert summary["variant:long"]["reconstruction"]["lr"] == [0.001]
    assert set(summary["variant:src"]) == {"reconstruction"}
    assert "source, with reconstruction [variant src]" in summary["beamforming"]
    # the source variant transfers from its own source network, frozen
    seed_dir = out / "seed-123"
    src, _ = load_net(seed_dir / "source-src" / "reconstruction" / "net.pt")
    main_src, _ = load_net(seed_dir / "source" / "reconstruction" / "net.pt")
    tgt, _ = load_net(seed_dir / "target-src" / "reconstruction-lr5e-05" / "net.pt")
    for key, value in tgt.features.state_dict().items():
        assert torch.equal(value, src.features.state_dict()[key])
    assert not all(torch.equal(v, main_src.features.state_dict()[k])
                   for k, v in src.features.state_dict().items())


def test_default_networks_are_the_papers():
    config = load_experiment_config("miso", "paper")
    assert net_config(config, system_config(config)) == miso_net_config()
    assert config["data"] == {"source_train": 100000, "source_valid": 5000,
                              "target_train": 500, "target_valid": 5000, "test": 2000}
    assert (config["target"]["lr"], config["target"]["epochs"],
            config["target"]["batch_size"]) == (5e-5, 1000, 100)
    assert (config["source"]["lr"], config["source"]["epochs"],
            config["source"]["batch_size"], config["source"]["alpha"]) == (5e-4, 150, 5000, 4.0)


def test_gain_loss_is_minus_the_gain_and_minimal_at_mrt():
    cfg = MisoConfig.from_preset("paper")
    data = generate_miso(cfg, 16, seed=3, system=make_system(cfg, 0))
    h = torch.view_as_real(torch.from_numpy(data.h)).double()
    loss_fn = BeamformingGainLoss()
    mrt = mrt_beamformer(h).reshape(16, -1)
    loss, metrics = loss_fn(mrt, {"h": h})
    assert float(loss) == pytest.approx(-1.0)
    assert float(metrics["mrt_mse"]) == pytest.approx(0.0, abs=1e-12)
    other = torch.nn.functional.normalize(torch.randn(16, 3, 32, dtype=torch.float64), dim=-1)
    loss2, metrics2 = loss_fn(other.reshape(16, -1), {"h": h})
    assert -1.0 < float(loss2) < 0 and float(metrics2["bf_gain"]) == pytest.approx(-float(loss2))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("source.loss=magic", "source.loss"),
        ("source.monitor=accuracy", "source.monitor"),
        ("strategies=[regular,magic]", "magic"),
        ("source.alpha=-1", "alpha"),
        ("baselines.grid_estimators=[mean]", "baselines.grid_estimators"),
        ("system.system_seed=-1", "system_seed"),
        ("system.system_seed=papr", "system_seed"),
        ("variants=[{name: x, target: {epochz: 3}}]", "epochz"),
        ("variants=[{name: x, source: {alfa: 3}}]", "alfa"),
        ("variants=[{name: x, strategies: [magic]}]", "magic"),
        ("supervised.epochs=0", "supervised.epochs=0 is invalid; expected an integer >= 1"),
        ("target.lr=1e-3x", "target.lr='1e-3x' has type str; expected float"),
    ],
)
def test_bad_overrides_fail_cleanly(tmp_path, override, message):
    result = CliRunner().invoke(main, ["reproduce", "miso", "--scale", "tiny", "-o",
                                       str(tmp_path / "r"), override])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r" / "seed-123").exists()


def test_paper_scale_runs_on_the_papers_own_system_and_quick_stays_on_seed_0():
    assert load_experiment_config("miso", scale="paper")["system"]["system_seed"] == "paper"
    assert load_experiment_config("miso", scale="quick")["system"]["system_seed"] == 0
    config = load_experiment_config("miso", scale="tiny", overrides=["system.system_seed=paper"])
    system = make_system(system_config(config), config["system"]["system_seed"])
    assert system.system_seed == "paper"


def test_tiny_miso_with_source_training_variants(tmp_path):
    out = tmp_path / "run"
    variants = ("[{name: warm, source: {loss_balance: warmup, warmup_epochs: 1}}, "
                "{name: vib, source: {bottleneck: variational, pretrain: contrastive, "
                "pretrain_epochs: 1, contrastive_corruption: denoising}}]")
    result = _invoke(out, "strategies=[reconstruction]", "tuning.enabled=false",
                     "supervised.enabled=false", f"variants={variants}")
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "source, with reconstruction [variant warm]" in report
    assert "source, with reconstruction [variant vib]" in report
    from wirelessrl.checkpoint import load_net

    net, meta = load_net(out / "seed-123" / "source-vib" / "reconstruction" / "net.pt")
    assert net.config.bottleneck == "variational"
    assert meta["source_options"]["contrastive_corruption"] == "denoising"
