"""The multi-user MISO task: the power-normalization layer, the NaN-safe rate losses and
``reproduce mu-miso --scale tiny`` end to end (report from files with its CDF plots,
outputs on the power sphere)."""

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from baselines.mu_miso import solve_beamforming
from experiments import load_experiment_config, mu_miso_report
from experiments.mu_miso import MuMisoRun, make_task, system_config
from simulators.beamforming import total_power_w, user_rates_bps
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.fileio import read_arrays
from wirelessrl.models import PowerNormalization, TransferNet
from wirelessrl.objectives import MuMisoRateLoss


def test_power_normalization_meets_the_budget_exactly():
    w = PowerNormalization(power=10.0)(torch.randn(64, 32, dtype=torch.float64) * 1e-3)
    np.testing.assert_allclose((w**2).sum(-1).numpy(), 10.0, rtol=1e-12)
    zero = PowerNormalization(power=1.0)(torch.zeros(2, 8, requires_grad=True))
    assert torch.isfinite(zero).all()
    with pytest.raises(ConfigError, match=r"output_params.power=-1 is invalid"):
        PowerNormalization(power=-1)


def test_neural_beamformer_outputs_satisfy_the_power_constraint():
    config = load_experiment_config("mu-miso", "tiny")
    system = system_config(config)
    net = TransferNet.from_config(make_task(config).net)
    out = net(torch.randn(50, 32), head="min_rate")["out"].detach().double().numpy()
    w = out.reshape(50, 4, 4, 2)
    np.testing.assert_allclose(total_power_w(w[..., 0] + 1j * w[..., 1]), system.p_max_w,
                               rtol=1e-5)


def test_rate_loss_matches_numpy_and_is_nan_safe():
    cfg = MuMisoConfig.from_preset("cell")
    h = generate_mu_miso(cfg, 16, seed=3).h / np.sqrt(cfg.noise_w)
    rng = np.random.default_rng(0)
    w = rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)
    pairs = lambda z: torch.from_numpy(np.stack([z.real, z.imag], -1))  # noqa: E731
    loss = MuMisoRateLoss("sum", n_users=4, noise_w=1.0)
    value, metrics = loss(pairs(w).reshape(16, -1), {"h": pairs(h)})
    rates = user_rates_bps(h, w, 1.0) * np.log(2)  # nats
    assert float(value) == pytest.approx(-rates.sum(1).mean(), rel=1e-12)
    assert float(metrics["min_rate_bps_per_hz"]) == pytest.approx(rates.min(1).mean() / np.log(2),
                                                                 rel=1e-12)
    out = torch.zeros(16, 64, dtype=torch.float64, requires_grad=True)
    for kind, temp in (("min", None), ("min", 0.05), ("sum", None)):
        v, _ = MuMisoRateLoss(kind, n_users=4, softmin_temperature=temp)(out, {"h": pairs(h)})
        v.backward()
        assert torch.isfinite(v) and torch.isfinite(out.grad).all()
    with pytest.raises(ConfigError, match="beamformer output of shape"):
        loss(torch.zeros(16, 32), {"h": pairs(h)})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mu-miso") / "run"
    result = CliRunner().invoke(main, ["reproduce", "mu-miso", "--scale", "tiny", "-o", str(out),
                                       "--threads", "1"])
    assert result.exit_code == 0, result.output
    return out


def test_tiny_mu_miso_writes_the_report_and_references(tiny_run):
    for name in ("report.md", "results.csv", "results.json", "config.yaml"):
        assert (tiny_run / name).is_file(), name
    with open(tiny_run / "results.csv") as f:
        rows = list(csv.DictReader(f))
    by = {(r["table"], r["method"]): r for r in rows}
    assert float(by[("baselines", "WMMSE best of 4")]["pct_sum_of_wmmse"]) == pytest.approx(100)
    assert float(by[("baselines", "max-min optimum")]["pct_min_of_maxmin"]) == pytest.approx(100)
    for s in ("regular", "conventional", "reconstruction", "finetune"):
        pct = float(by[("paper_settings", s)]["pct_min_of_maxmin"])
        assert 0 < pct <= 100 + 1e-6  # no network beats the exact optimum on average
    report = (tiny_run / "report.md").read_text()
    assert "best of 4 starts (1 zf + 3 random)" in report and "rtol 1e-10" in report
    results = json.loads((tiny_run / "results.json").read_text())
    assert results["provenance"]["config"]["scale"] == "tiny"


def test_tiny_mu_miso_report_has_the_cdf_plots(tiny_run):
    report = (tiny_run / "report.md").read_text()
    for name in ("cdf_sum_rate.png", "cdf_min_rate.png"):
        assert (tiny_run / name).stat().st_size > 1000
        assert f"![{name}]({name})" in report


def test_cdf_plots_draw_the_per_sample_sum_and_min_rates_of_every_seed(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    per_seed = [{"WMMSE": rng.random((n, 4)), "max-min optimum": rng.random((n, 4)),
                 "regular": rng.random((n, 4))} for n in (30, 20)]
    figures = {}
    monkeypatch.setattr(mu_miso_report, "save_figure",
                        lambda fig, path: figures.setdefault(path.name, fig))
    names = mu_miso_report.cdf_plots(tmp_path, per_seed, [1, 2])
    assert names == ["cdf_sum_rate.png", "cdf_min_rate.png"]
    for name, reduce in (("cdf_sum_rate.png", np.sum), ("cdf_min_rate.png", np.min)):
        ax = figures[name].axes[0]
        assert ax.get_legend().get_title().get_text() == "50 test samples, seeds 1, 2"
        lines = ax.get_lines()
        assert [ln.get_label() for ln in lines] == ["max-min optimum", "regular"]  # no WMMSE
        for ln, key in zip(lines, ("max-min optimum", "regular"), strict=True):
            both = np.concatenate([reduce(r[key], axis=1) for r in per_seed])
            np.testing.assert_allclose(ln.get_xdata(), np.sort(both))
            np.testing.assert_allclose(ln.get_ydata(), np.arange(1, 51) / 50)


def test_tiny_mu_miso_network_beams_are_on_the_power_sphere(tiny_run):
    arrays, meta = read_arrays(tiny_run / "seed-1" / "evaluation.h5")
    p_max = MuMisoConfig.from_preset("rayleigh-10db").p_max_w
    beams = [k for k in arrays if k.endswith("_w")]
    assert len(beams) == len(meta["networks"]) >= 6
    for key in beams:
        np.testing.assert_allclose(total_power_w(arrays[key]), p_max, rtol=1e-5)


def test_report_rebuilds_from_files(tiny_run):
    before = (tiny_run / "results.csv").read_bytes()
    result = CliRunner().invoke(main, ["report", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert (tiny_run / "results.csv").read_bytes() == before


def test_bad_task_config_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["reproduce", "mu-miso", "--scale", "tiny", "-o",
                                       str(tmp_path / "r"), "model.input=csi"])
    assert result.exit_code == 2 and "model.input='csi' is invalid" in result.output
    assert not (tmp_path / "r" / "seed-1").exists()


def test_pilot_input_adds_the_baselines_on_the_ls_estimate(tmp_path):

    config = load_experiment_config("mu-miso", "tiny", ["model.input=pilots",
                                                        "data.test=40"])
    run = MuMisoRun(config, tmp_path, seed=1, echo=lambda *a: None)
    run.make_data()
    run.solve_baselines()
    beams, info = mu_miso_report.baseline_beams(run)
    test = run.samples()["test"]
    estimate = test.channel_estimate()
    assert not np.allclose(estimate, test.h)  # the pilots are noisy
    sys = run.system
    for label in ("max-min optimum", "RZF", "ZF"):
        np.testing.assert_array_equal(  # solved on the estimate, not on the channel
            beams[label + mu_miso_report.ESTIMATE_SUFFIX],
            solve_beamforming(info[label]["method"], estimate, p_max_w=sys.p_max_w,
                              noise_w=sys.noise_w, seed=1).w)
    true_min = user_rates_bps(test.h, beams["max-min optimum"], sys.noise_w).min(axis=1)
    est_min = user_rates_bps(test.h, beams["max-min optimum (LS estimate)"],
                             sys.noise_w).min(axis=1)
    assert np.all(est_min <= true_min * (1 + 1e-9))  # the exact optimum is an upper bound
    assert est_min.mean() < true_min.mean()


def test_perfect_csi_input_has_no_estimate_baselines(tmp_path):

    config = load_experiment_config("mu-miso", "tiny", ["data.test=40"])
    run = MuMisoRun(config, tmp_path, seed=1, echo=lambda *a: None)
    run.make_data()
    assert list(run.baseline_channels()) == [""]
