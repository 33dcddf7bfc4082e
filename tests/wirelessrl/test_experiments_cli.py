"""``wirelessrl experiments``: every registered experiment and packaged sweep, from any
folder."""

from pathlib import Path

from click.testing import CliRunner

from experiments import TASKS
from experiments.catalog import experiment_catalog, sweep_catalog
from wirelessrl.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_lists_every_task_and_every_shipped_sweep_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["experiments"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in TASKS:
        assert any(line.split()[:1] == [name] for line in lines), name
    shipped = sorted(p.stem for p in (REPO / "experiments" / "sweeps").glob("*.yaml"))
    assert [s.name for s in sweep_catalog()] == shipped
    for name in shipped:
        assert any(line.split()[:1] == [name] for line in lines), name
    assert "data.target_train in [100, 300, 1000, 3000, 10000]" in result.output


def test_catalog_entries_point_at_real_configs():
    entries = experiment_catalog()
    assert [e.name for e in entries] == list(TASKS)
    for e in entries:
        assert e.config.is_file() and e.title and "tiny" in e.scales, e
    for s in sweep_catalog():
        assert s.experiment in TASKS and s.values and s.title and "(issue" not in s.title, s
