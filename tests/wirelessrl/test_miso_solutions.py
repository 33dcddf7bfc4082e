"""``solve`` / ``evaluate`` on MISO pilot-setting files: beamformers and position estimators."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from baselines import miso as mb
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.datasets import load_miso
from wirelessrl.miso_solutions import (
    MISO_METHODS,
    evaluate_miso_files,
    load_miso_solution,
    solve_miso_file,
)


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("miso")
    for name, n, seed in (("data.h5", 40, 1), ("prints.h5", 300, 2)):
        assert _run("simulate", "miso", "--n", n, "--seed", seed, "-o", d / name).exit_code == 0
    r = _run("simulate", "miso", "--n", 5, "--seed", 3, "--system-seed", 7, "-o", d / "other.h5")
    assert r.exit_code == 0
    return d


def _options(method, d):
    return {"knn": {"fingerprints": d / "prints.h5", "k": 5},
            "grid-mmse": {"grid_step_m": 4.0}, "grid-ml": {"grid_step_m": 4.0},
            "random": {"seed": 3}}.get(method, {})


@pytest.mark.parametrize("method", MISO_METHODS)
@pytest.mark.parametrize("suffix", [".h5", ".mat"])
def test_every_method_writes_a_file_that_matches_the_baseline(files, tmp_path, method, suffix):
    out = solve_miso_file(files / "data.h5", method, tmp_path / f"s{suffix}",
                          **_options(method, files))
    arrays, meta = load_miso_solution(out)
    data = load_miso(files / "data.h5")
    assert meta["method"] == method and meta["seed"] == 1
    if meta["task"] == "beamforming":
        np.testing.assert_allclose(np.linalg.norm(arrays["v"], axis=-1), 1.0, rtol=1e-12)
        expected = {"mrt": lambda: mb.mrt(data.h),
                    "los": lambda: mb.los_beamformer(data.config, data.positions_m),
                    "lmmse": lambda: mb.genie_lmmse_beamformer(data.config, data.system,
                                                               data.positions_m, data.y),
                    "random": lambda: mb.random_beamformer(40, 3, 16, 3)}[method]()
        np.testing.assert_array_equal(arrays["v"], expected)
    else:
        assert arrays["positions_m"].shape == (40, 2)
        lo, hi = data.config.user_area_m
        assert np.all((arrays["positions_m"] >= lo - 1e-9) & (arrays["positions_m"] <= hi + 1e-9))


def test_evaluate_scores_gain_in_percent_of_mrt_and_error_in_m(files, tmp_path):
    paths = [solve_miso_file(files / "data.h5", m, tmp_path / f"{m}.h5", **_options(m, files))
             for m in ("mrt", "los", "centre", "grid-mmse")]
    rows = {r.method: r for r in evaluate_miso_files(files / "data.h5", paths)}
    data = load_miso(files / "data.h5")
    assert rows["mrt"].mean == pytest.approx(100.0) and rows["mrt"].unit == "% of MRT"
    los_gain = 100 * mb.beamforming_gain(data.h, mb.los_beamformer(data.config,
                                                                   data.positions_m)).mean()
    assert rows["los"].mean == pytest.approx(los_gain, rel=1e-12)
    centre_err = mb.localization_errors_m(mb.centre_guess(40, data.config), data.positions_m)
    assert rows["centre"].mean == pytest.approx(centre_err.mean()) and rows["centre"].unit == "m"
    assert rows["grid-mmse"].mean < rows["centre"].mean  # the pilots carry position information
    r = _run("evaluate", files / "data.h5", *paths)
    assert r.exit_code == 0 and "% of MRT" in r.output and "grid-mmse" in r.output
    assert "Student t interval over the 40 samples" in r.output
    r = _run("evaluate", files / "data.h5", *paths, "--per-link", "--json")
    assert r.exit_code == 2 and "no per-link rates" in r.output


def test_cli_solve_miso_knn_and_bad_input(files, tmp_path):
    out = tmp_path / "knn.h5"
    r = _run("solve", files / "data.h5", "--method", "knn", "--fingerprints",
             files / "prints.h5", "--k", 3, "-o", out)
    assert r.exit_code == 0, r.output
    cases = [
        (("--method", "knn"), "fingerprints=None is invalid"),
        (("--method", "knn", "--fingerprints", files / "other.h5"), "system"),
        (("--method", "centre", "--k", 3), "k is not an option of MISO method 'centre'"),
        (("--method", "fp"), "method='fp' is invalid for"),
        (("--method", "grid-ml", "--grid-step-m", -1), "grid_step_m=-1"),
    ]
    for args, message in cases:
        bad = tmp_path / "bad.h5"
        r = _run("solve", files / "data.h5", *args, "-o", bad)
        assert r.exit_code == 2 and message in r.output, (args, r.output)
        assert not bad.exists()


def test_evaluate_refuses_solutions_of_other_samples(files, tmp_path):
    other = solve_miso_file(files / "other.h5", "centre", tmp_path / "c.h5")
    with pytest.raises(ConfigError, match="was solved for other samples"):
        evaluate_miso_files(files / "data.h5", [other])
