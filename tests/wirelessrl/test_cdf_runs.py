"""CDFs over seeds: the reports pool every seed's test set, and ``plot cdf-runs`` pools the
seeds of separate runs (checked against the per-seed tables the reports wrote)."""

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from experiments import d2d_report, report_run
from experiments.cdf import _report_module, runs_cdf_figure
from experiments.layout import read_run
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.plots import pooled_cdf_figure


def _reproduce(out: Path, seeds: str, *overrides: str) -> Path:
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "--seeds", seeds,
                                       "--threads", "1", "-o", str(out), *overrides])
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
    ax = figures["cdf_min_rate.png"].axes[0]
    assert ax.get_legend().get_title().get_text() == "400 test layouts, seeds 8, 9"
    alone = {ln.get_label(): ln.get_xdata() for ln in
             runs_cdf_figure([runs[1]], "min").axes[0].get_lines()}
    for ln in ax.get_lines():
        np.testing.assert_array_equal(ln.get_xdata(), alone[ln.get_label()])


def test_cdf_runs_cli_writes_the_figure(runs, tmp_path):
    out = tmp_path / "cdf.pdf"
    result = CliRunner().invoke(main, ["plot", "cdf-runs", *map(str, runs), "--metric", "min",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert "x: per-layout min-rate (Mbps)" in result.output


@pytest.mark.parametrize("extra, message", [
    (["--method", "nope"], "method 'nope' is not in seed 7's results; expected one of"),
    (["--metric", "max"], "Invalid value for '--metric'"),
])
def test_cdf_runs_cli_bad_input_fails_in_one_line(runs, tmp_path, extra, message):
    result = CliRunner().invoke(main, ["plot", "cdf-runs", str(runs[0]), *extra,
                                       "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "c.png").exists()


def test_cdf_runs_refuses_a_seed_twice_another_system_and_non_runs(runs, tmp_path):
    with pytest.raises(ConfigError, match=r"seed 7 is in .*s7' and in .*s7'; expected each "
                                          r"seed once"):
        runs_cdf_figure([runs[0], runs[0]])
    other = _reproduce(tmp_path / "n5", "5", "system.overrides.n_links=5")
    with pytest.raises(ConfigError, match=r"differs from .*s7' in system.overrides.n_links "
                                          r"\(5 against None\); expected runs of one system"):
        runs_cdf_figure([runs[0], other])
    with pytest.raises(ConfigError, match="is not a finished run folder"):
        runs_cdf_figure([runs[0], tmp_path])
    with pytest.raises(ConfigError, match="run_dirs is empty"):
        runs_cdf_figure([])
    with pytest.raises(ConfigError, match=r"'miso' experiment; CDFs of per-sample rates are "
                                          r"drawn for \['d2d', 'mu-miso'\]"):
        _report_module("miso", tmp_path)


def test_pooled_cdf_figure_checks_its_input():
    with pytest.raises(ConfigError, match=r"per_seed has 1 seeds' series and seeds \[1, 2\]"):
        pooled_cdf_figure([{"a": [1.0]}], [1, 2], "min", "layout", "Mbps")
    with pytest.raises(ConfigError, match="metric='avg' is invalid"):
        pooled_cdf_figure([{"a": [1.0]}], [1], "avg", "layout", "Mbps")
    with pytest.raises(ConfigError, match="the seeds share no method"):
        pooled_cdf_figure([{"a": [1.0]}, {"b": [2.0]}], [1, 2], "min", "layout", "Mbps")
    with pytest.raises(ConfigError, match=r"method 'b' is not in seed 1's results"):
        pooled_cdf_figure([{"a": [1.0]}, {"b": [2.0]}], [1, 2], "min", "layout", "Mbps",
                          methods=["b"])
    with pytest.raises(ConfigError, match="series 'a' has 1 non-finite values"):
        pooled_cdf_figure([{"a": [1.0, float("nan")]}], [1], "min", "layout", "Mbps")
