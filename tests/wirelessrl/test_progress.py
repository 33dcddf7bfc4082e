"""Progress bars: solve per chunk and per cvxpy layout, the CLI only on a terminal, sweeps
(points done / left, time left)."""

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from experiments.sweep import SweepClock, bar_echo
from simulators.d2d import D2DConfig, generate_d2d
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from wirelessrl.beamforming_solutions import solve_mu_miso_file
from wirelessrl.cli import main
from wirelessrl.datasets import save_d2d, save_mu_miso
from wirelessrl.solutions import solve_file


@pytest.fixture(scope="module")
def d2d_file(tmp_path_factory):
    cfg = D2DConfig.from_preset("paper", n_links=3)
    return save_d2d(generate_d2d(cfg, 12, seed=2), tmp_path_factory.mktemp("p") / "d.h5")


def _arrays(path):
    with h5py.File(path) as f:
        return {k: f[k][()] for k in ("p_w", "status", "iterations")}


def test_cvxpy_solve_shows_chunk_and_layout_bars_and_same_result(d2d_file, tmp_path, capsys):
    solve_file(d2d_file, "maxmin-cvxpy", tmp_path / "quiet.h5", chunk_size=5)
    assert capsys.readouterr().err == ""
    solve_file(d2d_file, "maxmin-cvxpy", tmp_path / "bar.h5", chunk_size=5, progress=True)
    err = capsys.readouterr().err
    assert "solve maxmin-cvxpy" in err and "12/12" in err  # the bar over the chunks
    assert "maxmin-cvxpy:" in err and "/5 [" in err and "/2 [" in err  # per layout, per chunk
    a, b = _arrays(tmp_path / "quiet.h5"), _arrays(tmp_path / "bar.h5")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_fast_solver_gets_the_chunk_bar_only(d2d_file, tmp_path, capsys):
    solve_file(d2d_file, "fp", tmp_path / "fp.h5", chunk_size=5, progress=True)
    err = capsys.readouterr().err
    assert "solve fp" in err and "12/12" in err and "/5 [" not in err


def test_mu_miso_cvxpy_bar_over_samples(tmp_path, capsys):
    cfg = MuMisoConfig.from_preset("rayleigh-10db", n_antennas=2, n_users=2)
    data = save_mu_miso(generate_mu_miso(cfg, 3, seed=1), tmp_path / "mu.h5")
    solve_mu_miso_file(data, "maxmin-cvxpy", tmp_path / "c.h5", progress=True)
    err = capsys.readouterr().err
    assert "maxmin-cvxpy" in err and "3/3" in err and "sample" in err
    solve_mu_miso_file(data, "zf", tmp_path / "zf.h5", progress=True)  # milliseconds: no bar
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("tty", [False, True])
def test_cli_solve_draws_bars_only_on_a_terminal(d2d_file, tmp_path, monkeypatch, tty):
    monkeypatch.setattr("wirelessrl.cli.solve.show_progress", lambda: tty)
    result = CliRunner().invoke(main, ["solve", str(d2d_file), "--method", "maxmin", "-o",
                                       str(tmp_path / "m.h5")])
    assert result.exit_code == 0, result.output
    assert ("solve maxmin" in result.output) == tty


def test_sweep_clock_counts_and_estimates_from_points_run_now():
    times = iter([0.0, 0.5, 100.5, 200.5, 300.5])
    clock = SweepClock(4, [True, False, False, False], now=times.__next__)
    assert clock.tick() == "[sweep] 1/4 points done, 3 left (already done: 1)"
    # one point ran in 100 s; two to run: about 200 s (the skipped point does not count)
    assert clock.tick() == "[sweep] 2/4 points done, 2 left, 2 min elapsed, about 3 min left"
    clock.tick()
    assert clock.tick() == "[sweep] 4/4 points done, 0 left, 5 min elapsed"


def test_sweep_clock_leaves_out_points_still_to_skip():
    times = iter([0.0, 60.0, 60.1])
    clock = SweepClock(3, [False, False, True], now=times.__next__)
    # the last point is already done: only one point left to run, about 1 min
    assert clock.tick().endswith("about 1 min left")


def test_bar_echo_passes_lines_through():
    lines = []
    bar_echo(lines.append)("hello")
    assert lines == ["hello"]
