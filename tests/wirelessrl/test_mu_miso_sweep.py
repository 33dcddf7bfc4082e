"""The multi-user MISO target-size sweep spec (``experiments/sweeps/mu_miso_target_size.yaml``)
at tiny scale: one CSV per point with the min-rate in % of the max-min optimum, the source
network trained once and shared, the budget cap on the target epochs, and the plot."""

import csv
import json

import pytest
from click.testing import CliRunner

from experiments.sweep import load_sweep_spec, parse_spec, point_configs
from wirelessrl.cli import main

NAME = "mu_miso_target_size-tiny"


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_spec_points_differ_only_in_the_target_size():
    sp = parse_spec(load_sweep_spec("mu_miso_target_size"))
    configs = {v: config for v, (config, _) in point_configs(sp).items()}
    assert list(configs) == [100, 300, 1000, 3000, 10000]
    assert [c["data"]["target_train"] for c in configs.values()] == sp.values
    for c in configs.values():
        assert c["model"]["family"] == "structured"
        assert c["model"]["structured"]["minrate_power"] == "maxmin"
        # at most 100,000 gradient steps per target run: epochs * ceil(n / batch)
        steps = -(-c["data"]["target_train"] // c["target"]["batch_size"])
        assert c["target"]["epochs"] * steps <= 100_000


def test_tiny_mu_miso_sweep(tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    result = CliRunner().invoke(main, ["sweep", "mu_miso_target_size", "--scale", "tiny",
                                       "-o", str(runs), "--results", str(results),
                                       "--threads", "1"])
    assert result.exit_code == 0, result.output
    out = results / NAME
    for value in (100, 200):
        rows = _read(out / f"data.target_train={value}.csv")
        assert {r["strategy"] for r in rows} == {"regular", "reconstruction"}
        point = runs / NAME / f"data.target_train={value}"
        records = json.loads((point / "results.json").read_text())["records"]
        want = {r["method"]: r["pct_min_of_maxmin"] for r in records
                if r["table"] == "paper_settings"}
        for r in rows:  # the CSV carries the point's own report figure, a valid percentage
            assert float(r["metric"]) == pytest.approx(want[r["strategy"]], rel=1e-5)
            assert 0 < float(r["metric"]) <= 100 + 1e-6
        cfg = json.loads((out / f"data.target_train={value}.json").read_text())
        assert cfg["provenance"]["config"]["data"]["target_train"] == value
    # the target size does not change the source step: trained once, restored once
    assert result.output.count("[run ] source/reconstruction") == 1
    assert result.output.count("source/reconstruction (restored from the step cache") == 1
    assert (out / f"{NAME}.png").stat().st_size > 1000
    assert len(_read(out / "summary.csv")) == 4
