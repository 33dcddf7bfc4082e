"""Transfer at scale (issue 12): the ``d2d_transfer_scale`` sweep at its tiny scale.

Target heads at several target-set sizes, every min-rate network evaluated at two numbers of
links; the sweep collects the ``generalization`` records of each point, one series per
strategy and size (``collect.by: n_links``).
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from experiments.d2d_sizes import check
from experiments.sweep import collect_point, load_sweep_spec, parse_spec, point_configs
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.datasets import load_d2d
from wirelessrl.fileio import read_arrays

SPEC = Path(__file__).resolve().parents[2] / "experiments" / "sweeps" / "d2d_transfer_scale.yaml"
NAME = "d2d_transfer_scale-tiny"
STRATEGIES = ("regular", "conventional", "reconstruction", "finetune")


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer_scale")
    runs, results = root / "runs", root / "results"
    result = CliRunner().invoke(main, ["sweep", str(SPEC), "--scale", "tiny", "-o", str(runs),
                                       "--results", str(results), "--threads", "1"])
    assert result.exit_code == 0, result.output
    return runs / NAME, results / NAME


def _plain_min_rate_bps(g, p_w, system):
    """min_i B log2(1 + SINR_i / Gamma), written out (the reference for the records)."""
    noise_w = 10 ** ((system["noise_dbm_per_hz"] - 30) / 10) * system["bandwidth_hz"]
    gap = 10 ** (system["snr_gap_db"] / 10)
    signal = np.einsum("bii,bi->bi", g, p_w)
    interference = np.einsum("bij,bj->bi", g, p_w) - signal
    rate = system["bandwidth_hz"] * np.log2(1 + signal / (interference + noise_w) / gap)
    return rate.min(axis=-1)


def test_every_strategy_at_every_size_and_target_set(tiny):
    runs, results = tiny
    summary = _read(results / "summary.csv")
    series = {f"target, {s}, n_links={n}" for s in STRATEGIES for n in (5, 10)}
    assert {r["strategy"] for r in summary} == series
    assert sorted({int(r["value"]) for r in summary}) == [50, 100]
    assert len(summary) == len(series) * 2
    assert (results / f"{NAME}.png").stat().st_size > 1000
    for value in (50, 100):
        point = runs / f"data.target_train={value}"
        config = json.loads((results / f"data.target_train={value}.json").read_text())
        assert config["provenance"]["config"]["data"]["target_train"] == value
        assert config["collect"]["by"] == "n_links"
        # generalization.memory: false -> no memory step
        assert not (point / "seed-1" / "generalization" / "n10" / "memory").exists()
        assert (point / "generalization.csv").is_file()


def test_collected_percentages_match_a_plain_recomputation(tiny):
    runs, results = tiny
    for value in (50, 100):
        rows = {r["strategy"]: float(r["metric"])
                for r in _read(results / f"data.target_train={value}.csv")}
        for n_links in (5, 10):
            folder = runs / f"data.target_train={value}" / "seed-1" / "generalization"
            arrays, meta = read_arrays(folder / f"n{n_links}" / "results.h5")
            g = load_d2d(folder / f"n{n_links}" / "test.h5").g
            assert g.shape[1:] == (n_links, n_links)
            best = _plain_min_rate_bps(g, arrays["max_min_optimum__p_w"], meta["config"])
            for s in STRATEGIES:
                mine = _plain_min_rate_bps(g, arrays[f"target_{s}__p_w"], meta["config"])
                pct = 100 * np.mean(mine / best)
                assert rows[f"target, {s}, n_links={n_links}"] == pytest.approx(pct, rel=1e-5)
                assert 0 < pct <= 100 + 1e-6  # nothing beats the exact max-min optimum


def test_collect_by_a_field_the_records_lack_is_named(tiny):
    runs, _ = tiny
    spec = load_sweep_spec(SPEC, "tiny")
    spec["collect"] = {**spec["collect"], "by": "n_antennas"}
    with pytest.raises(ConfigError, match="collect.by='n_antennas' is not in the records"):
        collect_point(parse_spec(spec), 50, runs / "data.target_train=50" / "results.json")


@pytest.mark.parametrize("by", ["", 3, ["n_links"]])
def test_bad_collect_by_is_rejected(by):
    spec = load_sweep_spec(SPEC, "tiny")
    spec["collect"] = {**spec["collect"], "by": by}
    with pytest.raises(ConfigError, match="collect.by=.* is invalid; expected the name"):
        parse_spec(spec)


def test_bad_generalization_memory_is_rejected():
    config = {"model": {"family": "gnn"}, "generalization": {"sizes": [5], "memory": "no"}}
    with pytest.raises(ConfigError, match="generalization.memory='no' is invalid; expected "
                                          "true or false"):
        check(config, ["reconstruction"])


def test_extra_overrides_reach_every_point_and_bad_keys_are_named():
    spec = load_sweep_spec(SPEC, "quick", None, ["model.gnn.head_layers=2"])
    configs = point_configs(parse_spec(spec))
    assert [c["model"]["gnn"]["head_layers"] for c, _ in configs.values()] == [2, 2, 2]
    assert [c["data"]["target_train"] for c, _ in configs.values()] == [100, 1000, 10000]
    bad = load_sweep_spec(SPEC, "quick", None, ["model.gnn.head_layer=2"])
    with pytest.raises(ConfigError, match="model.gnn.head_layer.* does not exist"):
        point_configs(parse_spec(bad))
    with pytest.raises(ConfigError, match="expected key=value"):
        load_sweep_spec(SPEC, "quick", None, ["head_layers"])
