import csv
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from experiments.sweep import (
    cap_target_epochs,
    collect_point,
    load_sweep_spec,
    parse_spec,
    point_configs,
    value_text,
)
from simulators.validation import ConfigError
from wirelessrl.cli import main

SPECS = Path(__file__).resolve().parents[2] / "experiments" / "sweeps"
D2D_SIZE = SPECS / "d2d_target_size.yaml"
NAME = "d2d_target_size-tiny"


def _sweep(*args):
    return CliRunner().invoke(main, ["sweep", *map(str, args)])


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    runs, results = root / "runs", root / "results"
    start = time.perf_counter()
    result = _sweep(D2D_SIZE, "--scale", "tiny", "-o", runs, "--results", results,
                    "--threads", "1")
    seconds = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    return runs, results, result.output, seconds


def test_tiny_sweep_writes_point_csvs_summary_and_plot(tiny_sweep):
    runs, results, output, seconds = tiny_sweep
    assert seconds <= 40, f"tiny sweep took {seconds:.1f} s"
    out = results / NAME
    for value in (100, 200):
        rows = _read(out / f"data.target_train={value}.csv")
        assert list(rows[0]) == ["seed", "strategy", "value", "metric"]
        assert {r["strategy"] for r in rows} == {"regular", "reconstruction"}
        assert all(r["seed"] == "1" and r["value"] == str(value) for r in rows)
        # a learned power control is a positive fraction of the exact max-min optimum
        assert all(0 < float(r["metric"]) <= 100 + 1e-6 for r in rows)
        assert (runs / NAME / f"data.target_train={value}" / "results.json").is_file()
        prov = json.loads((out / f"data.target_train={value}.json").read_text())
        assert prov["value"] == value and prov["provenance"]["seeds"] == [1]
        assert prov["provenance"]["config"]["data"]["target_train"] == value
        assert prov["provenance"]["wirelessrl_version"] and prov["provenance"]["torch_version"]
    summary = _read(out / "summary.csv")
    assert len(summary) == 4 and list(summary[0]) == ["strategy", "value", "mean", "std",
                                                      "n_seeds"]
    assert all(r["n_seeds"] == "1" and float(r["std"]) == 0 for r in summary)
    table = (out / "summary.md").read_text().splitlines()
    assert table[2] == "| data.target_train → | 100 | 200 |"
    for r in summary:  # every summary.csv mean appears in its strategy's row
        row = next(line for line in table if line.startswith(f"| {r['strategy']} |"))
        assert f"{float(r['mean']):.3g} ± 0 (1)" in row
    assert (out / f"{NAME}.png").stat().st_size > 1000


def test_second_point_reuses_the_source_network(tiny_sweep):
    runs, _, output, _ = tiny_sweep
    # the target size does not change the source step's config: one training, one restore
    assert output.count("[run ] source/reconstruction") == 1
    assert output.count("source/reconstruction (restored from the step cache") == 1
    nets = [(runs / NAME / f"data.target_train={v}" / "seed-1" / "source" / "reconstruction"
             / "net.pt").read_bytes() for v in (100, 200)]
    assert nets[0] == nets[1]


def test_budget_cap_lowers_target_epochs(tiny_sweep):
    runs, _, output, _ = tiny_sweep
    # tiny: max_target_steps 8; 200 layouts / batch 100 = 2 steps per epoch -> 4 epochs
    assert "budget: target.epochs 5 -> 4" in output
    cfg = yaml.safe_load((runs / NAME / "data.target_train=200" / "config.yaml").read_text())
    assert cfg["target"]["epochs"] == 4 and cfg["data"]["target_train"] == 200
    cfg = yaml.safe_load((runs / NAME / "data.target_train=100" / "config.yaml").read_text())
    assert cfg["target"]["epochs"] == 5  # 1 step per epoch: the cap does not bite


def test_rerun_skips_finished_points(tiny_sweep):
    runs, results, _, _ = tiny_sweep
    result = _sweep(D2D_SIZE, "--scale", "tiny", "-o", runs, "--results", results)
    assert result.exit_code == 0, result.output
    assert "[skip] point/data.target_train=100" in result.output
    assert "[skip] point/data.target_train=200" in result.output
    assert "[run ]" not in result.output and "== D2D seed" not in result.output


def test_plot_only_rebuilds_from_csvs(tiny_sweep, tmp_path):
    _, results, _, _ = tiny_sweep
    out = results / NAME
    before = _read(out / "summary.csv")
    (out / f"{NAME}.png").unlink()
    (out / "summary.csv").unlink()
    # no run folders needed: point the run root somewhere empty
    result = _sweep(D2D_SIZE, "--scale", "tiny", "--plot-only", "-o", tmp_path / "none",
                    "--results", results)
    assert result.exit_code == 0, result.output
    assert (out / f"{NAME}.png").is_file() and _read(out / "summary.csv") == before
    assert not (tmp_path / "none").exists()


def test_sweep_reports_points_done_and_left(tiny_sweep):
    _, _, output, _ = tiny_sweep
    assert "[sweep] 1/2 points done, 1 left" in output
    assert "[sweep] 2/2 points done, 0 left" in output


def test_packaged_spec_by_name_from_any_folder(tiny_sweep, tmp_path, monkeypatch):
    _, results, _, _ = tiny_sweep
    shutil.copytree(results, tmp_path / "results")
    (tmp_path / "results" / NAME / "summary.csv").unlink()
    monkeypatch.chdir(tmp_path)  # no experiments/ folder here: the packaged spec is used
    assert not (tmp_path / "experiments").exists()
    result = _sweep("d2d_target_size", "--scale", "tiny", "--plot-only", "--results", "results")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "results" / NAME / "summary.csv").is_file()
    assert load_sweep_spec("d2d_target_size", "tiny")["name"] == NAME


def test_plot_only_without_csvs_fails(tmp_path):
    result = _sweep(D2D_SIZE, "--scale", "tiny", "--plot-only", "--results", tmp_path)
    assert result.exit_code == 2 and "no point CSVs" in result.output


def _bad_spec(tmp_path, **changes):
    spec = yaml.safe_load(D2D_SIZE.read_text())
    spec["scales"]["tiny"].update(changes)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sweep": {"data.target_trian": [100, 200]}}, "data.target_trian"),
        ({"sweep": {"target.epochz": [1, 2]}}, "target.epochz"),
        ({"sweep": {"data.target_train": []}}, "non-empty list"),
        ({"sweep": {"data.target_train": [100, "many"]}}, "many"),
        ({"sweep": {"data.target_train": [100, 100]}}, "distinct"),
        ({"sweep": {"data.target_train": [0, 100]}}, "data.target_train"),
        ({"max_target_steps": 1, "sweep": {"data.target_train": [300]}}, "max_target_steps"),
        ({"collect": {"field": "mean"}}, "collect.table"),
    ],
)
def test_bad_spec_fails_with_exit_2_and_writes_nothing(tmp_path, changes, message):
    path = _bad_spec(tmp_path, **changes)
    runs, results = tmp_path / "runs", tmp_path / "results"
    result = _sweep(path, "--scale", "tiny", "-o", runs, "--results", results)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not runs.exists() and not results.exists()


def test_unknown_spec_key_is_named(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(D2D_SIZE.read_text()), "sweeep": {}}))
    result = _sweep(path, "--plot-only")
    assert result.exit_code == 2 and "sweeep" in result.output


def test_cap_target_epochs_formula():
    cfg = {"data": {"target_train": 1000}, "target": {"epochs": 25000, "batch_size": 100}}
    capped, note = cap_target_epochs(cfg, 100_000)
    assert capped["target"]["epochs"] == 10_000 and "25000 -> 10000" in note
    assert cfg["target"]["epochs"] == 25000  # the input is not modified
    cfg["data"]["target_train"] = 1001  # 11 steps per epoch
    assert cap_target_epochs(cfg, 100_000)[0]["target"]["epochs"] == 9090
    assert cap_target_epochs(cfg, None) == (cfg, None)
    cfg["target"]["epochs"] = 10
    assert cap_target_epochs(cfg, 100_000) == (cfg, None)
    with pytest.raises(ConfigError, match="below one epoch"):
        cap_target_epochs(cfg, 10)


def test_every_shipped_spec_parses_at_each_scale():
    for path in sorted(SPECS.glob("*.yaml")):
        own = yaml.safe_load(path.read_text())["scale"]  # paper, or quick where paper is days
        for scale in (None, "quick", "tiny"):
            sp = parse_spec(load_sweep_spec(path, scale))
            assert sp.max_target_steps is not None and sp.values
            configs = point_configs(sp)  # every point config passes the experiment's checks
            assert list(configs) == sp.values
            assert sp.name == path.stem + ("" if scale in (None, own) else f"-{scale}")
        paper = parse_spec(load_sweep_spec(path))
        assert paper.max_target_steps == 100_000 and paper.seeds == [1, 2, 3]


def test_value_text_round_trips():
    assert [value_text(v) for v in (100, 0, 0.3, 1.0, 1e-5, 10)] == [
        "100", "0", "0.3", "1", "1e-05", "10"]
    assert float(value_text(0.1234567891)) == 0.1234567891


def test_points_run_on_dask_workers_give_the_same_csvs(tiny_sweep, tmp_path):
    """Whole points go to Dask workers (threads here, for speed; ``--workers N`` starts
    processes); a point re-run there (its folder deleted, its source restored from the step
    cache) gives the CSV of the in-process run."""
    import shutil

    pytest.importorskip("distributed")
    from experiments.sweep import run_sweep
    from wirelessrl.executors import open_executor

    runs, results, _, _ = tiny_sweep
    shutil.copytree(runs, tmp_path / "runs")
    shutil.rmtree(tmp_path / "runs" / NAME / "data.target_train=200")
    lines = []
    with open_executor(workers=2, processes=False) as dask:
        run_sweep(load_sweep_spec(D2D_SIZE, "tiny"), tmp_path / "runs", lines.append,
                  tmp_path / "results", executor=dask)
    assert "sweep d2d_target_size-tiny: 2 points on dask (2 workers)" in lines
    for value in (100, 200):
        name = f"data.target_train={value}.csv"
        assert _read(tmp_path / "results" / NAME / name) == _read(results / NAME / name)
    assert (tmp_path / "runs" / NAME / "data.target_train=200" / "results.json").is_file()


def _records_file(tmp_path, records):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"records": records}))
    return path


def test_collect_reads_several_tables_and_filters_methods(tmp_path):
    spec = parse_spec(load_sweep_spec(SPECS / "miso_system_seed.yaml", "tiny"))
    assert spec.table == ["paper_settings", "localization_baselines"]
    records = [
        {"seed": 1, "table": "paper_settings", "method": "regular", "mean_m": 6.5},
        {"seed": 1, "table": "localization_baselines", "method": "grid MMSE", "mean_m": 5.3},
        {"seed": 1, "table": "localization_baselines", "method": "centre guess", "mean_m": 30.},
        {"seed": 1, "table": "equal_tuning", "method": "regular", "mean_m": 6.0},
    ]
    rows = collect_point(spec, 3, _records_file(tmp_path, records))
    assert {(r["strategy"], r["metric"]) for r in rows} == {("regular", 6.5), ("grid MMSE", 5.3)}
    assert {r["value"] for r in rows} == {3}


def test_collect_tables_that_repeat_a_method_are_refused(tmp_path):
    spec = parse_spec({**load_sweep_spec(SPECS / "miso_system_seed.yaml", "tiny"),
                       "collect": {"table": ["paper_settings", "equal_tuning"],
                                   "field": "mean_m", "label": "mean error (m)"}})
    records = [{"seed": 1, "table": t, "method": "regular", "mean_m": 6.0}
               for t in ("paper_settings", "equal_tuning")]
    with pytest.raises(ConfigError, match="gives one method twice"):
        collect_point(spec, 0, _records_file(tmp_path, records))


@pytest.mark.parametrize("table", ["", [], ["paper_settings", ""], 3, {"a": 1}])
def test_bad_collect_table_is_rejected(table):
    spec = load_sweep_spec(SPECS / "miso_system_seed.yaml", "tiny")
    spec["collect"] = {**spec["collect"], "table": table}
    with pytest.raises(ConfigError, match="collect.table=.* is invalid; expected a table name"):
        parse_spec(spec)
