"""Dask executors: a two-worker LocalCluster on loopback gives the in-process bytes, a
killed worker is replaced and the result is unchanged, bad addresses fail in one line."""

import os
import signal

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from simulators.d2d import D2DConfig
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.datasets import d2d_chunk, simulate_d2d_file
from wirelessrl.executors import InProcess, open_executor
from wirelessrl.fileio import read_arrays

pytest.importorskip("distributed")

CFG = D2DConfig.from_preset("paper-fading", n_links=5)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _solution_arrays(path):
    arrays, meta = read_arrays(path, "d2d-solution")
    return arrays, {k: v for k, v in meta.items() if k not in ("seconds", "meta_sha256")}


def test_two_local_workers_give_the_in_process_bytes(tmp_path):
    local, dask = tmp_path / "local.h5", tmp_path / "dask.h5"
    assert _cli("simulate", "d2d", "--preset", "paper-fading", "--set", "n_links=5",
                "--n", 2000, "--seed", 3, "-o", local).exit_code == 0
    result = _cli("simulate", "d2d", "--preset", "paper-fading", "--set", "n_links=5",
                  "--n", 2000, "--seed", 3, "-o", dask, "--workers", 2, "--chunk-size", 150)
    assert result.exit_code == 0, result.output
    assert dask.read_bytes() == local.read_bytes()
    # solve with random restarts (positioned draws) on the workers
    for out, extra in ((tmp_path / "s-local.h5", []),
                       (tmp_path / "s-dask.h5", ["--workers", 2, "--chunk-size", 97])):
        result = _cli("solve", local, "--method", "fp", "--restarts", 2, "--iterations", 20,
                      "--seed", 5, "-o", out, *extra)
        assert result.exit_code == 0, result.output
    (a, ma), (b, mb) = (_solution_arrays(tmp_path / f"s-{k}.h5") for k in ("local", "dask"))
    assert ma == mb
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def _killing_once(fn, marker, at):
    def run(start, stop, *args):
        if start == at and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-task
        return fn(start, stop, *args)
    return run


class _KillOnce:
    def __init__(self, inner, marker, at):
        self.inner, self.marker, self.at = inner, marker, at

    def map_ordered(self, fn, tasks):
        return self.inner.map_ordered(_killing_once(fn, str(self.marker), self.at), tasks)


def test_a_killed_worker_is_replaced_and_the_file_is_unchanged(tmp_path):
    ref = simulate_d2d_file(CFG, 1200, 8, tmp_path / "ref.h5", chunk_size=100)
    marker = tmp_path / "killed"
    with open_executor(workers=2) as dask:
        path = simulate_d2d_file(CFG, 1200, 8, tmp_path / "dask.h5", chunk_size=100,
                                 executor=_KillOnce(dask, marker, 500))
        assert len(dask.client.scheduler_info()["workers"]) >= 1
    assert marker.exists()  # the kill happened
    assert path.read_bytes() == ref.read_bytes()


def test_in_process_executor_needs_no_dask():
    with open_executor() as run:
        assert isinstance(run, InProcess)
        parts = list(run.map_ordered(d2d_chunk, [(0, 3, CFG, 1), (3, 5, CFG, 1)]))
    assert [len(p["g"]) for p in parts] == [3, 2]


@pytest.mark.parametrize("address, reason", [
    ("tcp://127.0.0.1:1", "cannot be reached"),
    ("not-an-address", "cannot be reached"),
    ("", "is invalid"),
])
def test_bad_scheduler_address_is_one_line_exit_2(tmp_path, monkeypatch, address, reason):
    monkeypatch.setenv("WIRELESSRL_SCHEDULER_TIMEOUT_S", "2")
    out = tmp_path / "d.h5"
    result = _cli("simulate", "d2d", "--n", 10, "-o", out, "--scheduler", address)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0] and "scheduler=" in lines[0]
    assert not out.exists()


def test_both_cluster_options_are_refused():
    with pytest.raises(ConfigError, match="expected one of them"):
        with open_executor(scheduler="tcp://127.0.0.1:1", workers=2):
            pass


def test_threaded_local_cluster_solves_like_in_process(tmp_path):
    """processes=False: the same executor code on threads of this process (fast)."""
    from wirelessrl.solutions import solve_file

    data = simulate_d2d_file(CFG, 700, 2, tmp_path / "d.h5")
    ref = solve_file(data, "random", tmp_path / "ref.h5", seed=4)
    with open_executor(workers=2, processes=False) as dask:
        out = solve_file(data, "random", tmp_path / "dask.h5", seed=4, chunk_size=64,
                         executor=dask)
    with h5py.File(ref) as a, h5py.File(out) as b:
        for k in a:
            np.testing.assert_array_equal(a[k][()], b[k][()])
