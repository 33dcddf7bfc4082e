import json

import numpy as np
import pytest
from click.testing import CliRunner

from simulators.d2d import D2DConfig, generate_d2d
from simulators.rates import min_rate_bps, sum_rate_bps
from wirelessrl.cli import main
from wirelessrl.datasets import save_d2d
from wirelessrl.fileio import write_arrays
from wirelessrl.solutions import load_solution


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("solve") / "d2d.h5"
    save_d2d(generate_d2d(D2DConfig.from_preset("paper", n_links=5), 60, seed=4), path)
    return path


def _solve(data_file, method, tmp_path, *extra):
    out = tmp_path / f"{method}.h5"
    result = CliRunner().invoke(main, ["solve", str(data_file), "--method", method, "-o",
                                       str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("method", ["fp", "wmmse", "maxmin", "full", "random", "binary"])
def test_solve_stores_powers_status_and_provenance(data_file, tmp_path, method):
    arrays, meta = load_solution(_solve(data_file, method, tmp_path))
    assert arrays["p_w"].shape == (60, 5)
    assert np.all((arrays["p_w"] >= 0) & (arrays["p_w"] <= 1.0 + 1e-12))
    if method in ("full", "random"):  # closed forms claim neither optimum nor convergence
        assert set(arrays["status"]) == {"heuristic"}
    else:
        assert set(arrays["status"]) <= {"optimal", "converged", "max_iter"}
    assert meta["method"] == method and meta["seed"] == 4 and meta["version"]
    assert meta["options"]["stopping_rule"]


def test_old_heuristic_files_with_status_converged_still_load(data_file, tmp_path):
    """Files written before the ``heuristic`` status said ``converged`` for full power."""
    arrays, meta = load_solution(_solve(data_file, "full", tmp_path))
    old = tmp_path / "old-full.h5"
    meta = {k: v for k, v in meta.items() if not k.startswith(("checksum", "meta_", "shapes"))}
    write_arrays(old, {**arrays, "status": np.array([b"converged"] * 60)}, meta)
    back, _ = load_solution(old)
    assert set(back["status"]) == {"converged"}
    np.testing.assert_array_equal(back["p_w"], arrays["p_w"])
    result = CliRunner().invoke(main, ["evaluate", str(data_file), str(old)])
    assert result.exit_code == 0, result.output


def test_evaluate_json_matches_numpy_rates(data_file, tmp_path):
    fp, mm = _solve(data_file, "fp", tmp_path), _solve(data_file, "maxmin", tmp_path)
    result = CliRunner().invoke(main, ["evaluate", str(data_file), str(fp), str(mm), "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["method"], r["metric"]): r for r in json.loads(result.output)}
    cfg = D2DConfig.from_preset("paper", n_links=5)
    g = generate_d2d(cfg, 60, seed=4).g
    p_fp = load_solution(fp)[0]["p_w"]
    expected = sum_rate_bps(g, p_fp, cfg.noise_w, cfg.bandwidth_hz).mean() / 1e6
    assert rows[("fp", "sum-rate")]["mean"] == pytest.approx(expected, rel=1e-12)
    p_mm = load_solution(mm)[0]["p_w"]
    expected = min_rate_bps(g, p_mm, cfg.noise_w, cfg.bandwidth_hz).mean() / 1e6
    assert rows[("maxmin", "min-rate")]["mean"] == pytest.approx(expected, rel=1e-12)
    assert rows[("maxmin", "min-rate")]["pct_of_reference_mean_ratio"] == pytest.approx(100)
    assert rows[("fp", "min-rate")]["pct_of_reference_mean_ratio"] < 100


def test_solve_bad_input(data_file, tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["solve", str(tmp_path / "none.h5"), "--method", "fp", "-o",
                             str(tmp_path / "o.h5")])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(main, ["solve", str(data_file), "--method", "fp", "--iterations", "0",
                             "-o", str(tmp_path / "o.h5")])
    assert r.exit_code == 2 and "iterations" in r.output
    assert not (tmp_path / "o.h5").exists()
    r = runner.invoke(main, ["evaluate", str(data_file), str(data_file)])
    assert r.exit_code == 2 and "kind" in r.output


def test_cli_method_lists_follow_the_solver_registries():
    """The ``--method`` choices are spelled out in the CLI (importing the solvers there would
    slow every command's start); this keeps them equal to the registries, so a solver
    registered in ``baselines`` cannot be missing from ``wirelessrl solve``."""
    from baselines import BEAMFORMING_SOLVERS, SOLVERS
    from wirelessrl.cli.solve import METHODS, MISO_METHODS, MU_MISO_METHODS
    from wirelessrl.miso_solutions import MISO_METHODS as MISO_REGISTRY

    assert sorted(METHODS) == sorted(SOLVERS)
    assert set(MU_MISO_METHODS) | {"wmmse", "maxmin", "maxmin-cvxpy"} == set(BEAMFORMING_SOLVERS)
    assert set(MISO_METHODS) | {"mrt", "random"} == set(MISO_REGISTRY)
