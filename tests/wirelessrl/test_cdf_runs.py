"""CDFs over seeds: the reports pool every seed's test set, and ``plot cdf-runs`` pools the
seeds of separate runs (checked against the per-seed tables the reports wrote)."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from experiments import d2d_report, report_run
from experiments.cdf import runs_cdf_figure
from experiments.layout import read_run
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.plots import pooled_cdf_figure

REPO = Path(__file__).resolve().parents[2]


def _reproduce(out: Path, seeds: str, *overrides: str, experiment: str = "d2d") -> Path:
    result = CliRunner().invoke(main, ["reproduce", experiment, "--scale", "tiny", "--seeds",
                                       seeds, "--threads", "1", "-o", str(out), *overrides])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cdf-runs")
    return _reproduce(root / "s7", "7"), _reproduce(root / "s89", "8,9")


def _table_means(run_dir: Path) -> dict[tuple[int, str], float]:
    """Per-seed mean min-rate (Mbps) by method, as the report's results.csv has it, under
    the CDF's labels (target networks at the paper settings: ``"<strategy> (transfer)"``)."""
    means = {}
    with open(run_dir / "results.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["metric"] == "min-rate" and r["table"] in ("baselines", "paper_settings"):
                label = r["method"] + (" (transfer)" if r["table"] == "paper_settings" else "")
                means[(int(r["seed"]), label)] = float(r["mean"])
    return means


def test_cdf_runs_pool_every_seed_of_every_run(runs):
    per_seed, seeds = [], []
    for run_dir in runs:
        config, _, plan, units = read_run(run_dir)
        means = _table_means(run_dir)
        for u in units:
            series = d2d_report.cdf_series(d2d_report.seed_rates(config, u, plan), "min")
            assert "FP" not in series and "WMMSE" not in series
            for label, v in series.items():  # the report's own table, computed another way
                np.testing.assert_allclose(v.mean(), means[(u.seed, label)], rtol=1e-5)
            per_seed.append(series)
            seeds.append(u.seed)
    assert seeds == [7, 8, 9]
    ax = runs_cdf_figure(runs, "min").axes[0]
    assert ax.get_legend().get_title().get_text() == "600 test layouts, seeds 7, 8, 9"
    assert ax.get_xlabel() == "per-layout min-rate (Mbps)"
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines) == list(per_seed[0])
    for label, ln in lines.items():
        pooled = np.sort(np.concatenate([s[label] for s in per_seed]))
        np.testing.assert_array_equal(ln.get_xdata(), pooled)
        np.testing.assert_allclose(ln.get_ydata(), np.arange(1, 601) / 600)


def test_cdf_runs_draws_the_methods_asked_for_in_order(runs):
    ax = runs_cdf_figure(runs, "sum", methods=["regular (transfer)", "FP"]).axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["regular (transfer)", "FP"]
    assert ax.get_xlabel() == "per-layout sum-rate (Mbps)"


def test_the_report_pools_every_seed_of_its_run(runs, monkeypatch):
    figures = {}
    monkeypatch.setattr(d2d_report, "save_figure",
                        lambda fig, path: figures.setdefault(Path(path).name, fig))
    report_run(runs[1], lambda *a, **k: None)
    for metric in ("min", "sum"):
        ax = figures[f"cdf_{metric}_rate.png"].axes[0]
        assert ax.get_legend().get_title().get_text() == "400 test layouts, seeds 8, 9"
        alone = runs_cdf_figure([runs[1]], metric).axes[0].get_lines()
        assert [ln.get_label() for ln in ax.get_lines()] == [ln.get_label() for ln in alone]
        assert ("FP" in [ln.get_label() for ln in alone]) == (metric == "sum")
        for ln, ref in zip(ax.get_lines(), alone, strict=True):
            np.testing.assert_array_equal(ln.get_xdata(), ref.get_xdata())
            assert ln.get_xdata().size == 400


def test_cdf_runs_cli_writes_the_figure(runs, tmp_path):
    out = tmp_path / "cdf.pdf"
    result = CliRunner().invoke(main, ["plot", "cdf-runs", *map(str, runs), "--metric", "min",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert "x: per-layout min-rate (Mbps)" in result.output


@pytest.mark.parametrize("extra, message", [
    (["--method", "nope"], "method 'nope' is not among seed 7's min-rate CDF lines; expected"),
    (["--method", "FP"], "method 'FP' is not among seed 7's min-rate CDF lines"),
    (["--metric", "max"], "Invalid value for '--metric'"),
])
def test_cdf_runs_cli_bad_input_fails_in_one_line(runs, tmp_path, extra, message):
    result = CliRunner().invoke(main, ["plot", "cdf-runs", str(runs[0]), *extra,
                                       "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "c.png").exists()


def test_cdf_runs_refuses_repeats_another_config_or_experiment_and_non_runs(runs, tmp_path):
    with pytest.raises(ConfigError, match=r"run .*s7' is given twice; expected each run once"):
        runs_cdf_figure([runs[0], runs[0]])
    copy = tmp_path / "copy"
    shutil.copytree(runs[0], copy)
    with pytest.raises(ConfigError, match=r"seed 7 is in .*s7' and in .*copy'; expected each "
                                          r"seed once"):
        runs_cdf_figure([runs[0], copy])
    other = _reproduce(tmp_path / "n5", "5", "system.overrides.n_links=5")
    with pytest.raises(ConfigError, match=r"differs from .*s7' in system.overrides.n_links "
                                          r"\(5 against '\(not set\)'\); expected runs of one "
                                          r"config \(seeds aside\)"):
        runs_cdf_figure([runs[0], other])
    wider = _reproduce(tmp_path / "wide", "5", "model.feature=[64]")
    with pytest.raises(ConfigError, match=r"in model.feature \(\[64\] against \[150, 150, 100\]\)"):
        runs_cdf_figure([runs[0], wider])
    mu = _reproduce(tmp_path / "mu", "1", experiment="mu-miso")
    with pytest.raises(ConfigError, match=r"is a 'mu-miso' experiment and .*s7' a 'd2d' one"):
        runs_cdf_figure([runs[0], mu])
    with pytest.raises(ConfigError, match="is not a finished run folder"):
        runs_cdf_figure([runs[0], tmp_path])
    with pytest.raises(ConfigError, match="run_dirs is empty"):
        runs_cdf_figure([])
    for name in ("miso-paper", "mnist-paper"):  # committed runs: only run.json is read
        result = CliRunner().invoke(main, ["plot", "cdf-runs", str(REPO / "results" / name),
                                           "-o", str(tmp_path / "x.png")])
        assert result.exit_code == 2 and "experiment; CDFs of per-sample (D2D: per-layout) " \
            "rates are drawn for ['d2d', 'mu-miso']" in result.output, result.output
    result = CliRunner().invoke(main, ["plot", "cdf-runs", str(runs[0] / "results.csv"),
                                       "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "is a file" in result.output and "Traceback" not in \
        result.output


def test_cdf_runs_pools_mu_miso_seeds(tmp_path):
    from experiments import mu_miso_report

    a = _reproduce(tmp_path / "a", "1", experiment="mu-miso")
    b = _reproduce(tmp_path / "b", "2", experiment="mu-miso")
    per_seed = []
    for run_dir in (a, b):
        config, _, plan, units = read_run(run_dir)
        rates = mu_miso_report.seed_rates(config, units[0], plan)
        with open(run_dir / "results.csv", newline="") as f:  # the report's own table
            table = {r["method"]: float(r["sum_rate"]) for r in csv.DictReader(f)
                     if r["table"] in ("baselines", "sources")}
        for label, v in rates.items():
            if label in table:
                np.testing.assert_allclose(v.sum(axis=1).mean(), table[label], rtol=1e-5)
        per_seed.append(mu_miso_report.cdf_series(rates, "sum"))
    ax = runs_cdf_figure([a, b], "sum").axes[0]
    assert ax.get_xlabel() == "per-sample sum-rate (bit/s/Hz)"
    assert ax.get_legend().get_title().get_text().endswith("test samples, seeds 1, 2")
    assert "WMMSE" not in [ln.get_label() for ln in ax.get_lines()]
    for ln in ax.get_lines():
        pooled = np.sort(np.concatenate([s[ln.get_label()] for s in per_seed]))
        np.testing.assert_array_equal(ln.get_xdata(), pooled)


def test_pooled_cdf_figure_checks_its_input():
    with pytest.raises(ConfigError, match=r"per_seed has 1 seeds' series and seeds \[1, 2\]"):
        pooled_cdf_figure([{"a": [1.0]}], [1, 2], "min", "layout", "Mbps")
    with pytest.raises(ConfigError, match="metric='avg' is invalid"):
        pooled_cdf_figure([{"a": [1.0]}], [1], "avg", "layout", "Mbps")
    with pytest.raises(ConfigError, match="the seeds share no method"):
        pooled_cdf_figure([{"a": [1.0]}, {"b": [2.0]}], [1, 2], "min", "layout", "Mbps")
    with pytest.raises(ConfigError, match=r"method 'b' is not among seed 1's min-rate CDF"):
        pooled_cdf_figure([{"a": [1.0]}, {"b": [2.0]}], [1, 2], "min", "layout", "Mbps",
                          methods=["b"])
    with pytest.raises(ConfigError, match="series 'a' has 1 non-finite values"):
        pooled_cdf_figure([{"a": [1.0, float("nan")]}], [1], "min", "layout", "Mbps")
