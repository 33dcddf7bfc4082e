"""``wirelessrl import d2d``: gains from .npy / .npz / .mat / .csv / HDF5 -> a D2D data file that
every command takes; wrong types and bad values rejected with one line, nothing written."""

import hashlib
import re

import h5py
import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from simulators.d2d import D2DConfig, generate_d2d
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.datasets import D2DFile, load_d2d
from wirelessrl.fileio import read_arrays
from wirelessrl.importer import check_gains_array, import_d2d, read_gains
from wirelessrl.solutions import evaluate_files, load_solution, solve_file

N = 5


@pytest.fixture(scope="module")
def gains():
    """(batch, N, N) linear gains of 40 layouts (``paper`` geometry, N = 5)."""
    return generate_d2d(D2DConfig.from_preset("paper", n_links=N), 40, seed=3).g


@pytest.fixture()
def runner():
    return CliRunner()


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _invoke(runner, *args):
    return runner.invoke(main, ["import", "d2d", *map(str, args)])


# ------------------------------------------------------------------ every source format


def test_npy_round_trip_with_provenance(tmp_path, gains):
    src = tmp_path / "g.npy"
    np.save(src, gains)
    out = import_d2d(src, tmp_path / "d.h5", overrides={"snr_gap_db": 3.0,
                                                          "noise_dbm_per_hz": -160.0})
    data = load_d2d(out)
    np.testing.assert_array_equal(data.g, gains)
    assert data.g.dtype == np.float64
    assert data.config == D2DConfig.from_preset("paper", n_links=N, snr_gap_db=3.0,
                                                noise_dbm_per_hz=-160.0)
    assert data.seed is None and data.tx_m is None and data.rx_m is None
    assert data.redraws is None and not data.has_positions
    _, meta = read_arrays(out, "d2d-layouts")
    assert meta["imported_from"] == str(src.resolve())
    assert meta["source_sha256"] == _sha(src)
    assert meta["source_layout"] == "batch-first" and meta["source_variable"] is None
    assert meta["n"] == 40 and meta["seed"] is None
    with D2DFile(out) as f:  # the chunked reader takes it too
        assert f.n == 40 and f.seed is None
        assert np.array_equal(np.concatenate([p["g"] for _, p in f.chunks(16)]), gains)
    assert not list(tmp_path.glob(".*part"))
    with pytest.raises(ConfigError, match="gains only"):
        _ = data.distance_m


def test_matlab_order_mat_from_savemat(tmp_path, gains):
    src = tmp_path / "g.mat"
    # MATLAB: G(i, j, b), a padded char array and a scalar beside it
    scipy.io.savemat(src, {"G": np.moveaxis(gains, 0, -1), "label": np.array(["ab ", "cd "]),
                           "fc": 2.4e9})
    imported = read_gains(src, var="G", layout="matlab")
    np.testing.assert_array_equal(imported.g, gains)
    assert imported.variable == "G" and imported.layout == "matlab"
    out = import_d2d(src, tmp_path / "d.h5", var="G", layout="matlab")
    np.testing.assert_array_equal(load_d2d(out).g, gains)
    assert read_arrays(out)[1]["source_variable"] == "G"


def test_mat_without_var_uses_the_only_numeric_variable(tmp_path, gains):
    src = tmp_path / "g.mat"
    scipy.io.savemat(src, {"gains": gains, "note": "my scenario"})
    np.testing.assert_array_equal(read_gains(src).g, gains)


def test_mat_single_matlab_layout_is_two_dimensional(tmp_path, gains):
    src = tmp_path / "one.mat"
    scipy.io.savemat(src, {"G": gains[0]})  # MATLAB drops the trailing batch axis of 1
    np.testing.assert_array_equal(read_gains(src, layout="matlab").g, gains[:1])
    with pytest.raises(ConfigError, match=r"shape \(5, 5\); expected 3 axes .*one layout\? give "
                                          r"it a batch axis, shape \(1, N, N\)"):
        read_gains(src)


def test_mat_v73_is_read_in_matlab_order(tmp_path, gains):
    """A -v7.3 .mat file is HDF5 storing MATLAB's column-major array (axes reversed)."""
    src = tmp_path / "g73.mat"
    matlab = np.moveaxis(gains, 0, -1)  # (N, N, batch) as MATLAB shows it
    with h5py.File(src, "w", userblock_size=512) as f:
        ds = f.create_dataset("G", data=matlab.T)  # what MATLAB writes: reversed axes
        ds.attrs["MATLAB_class"] = np.bytes_("double")
        txt = f.create_dataset("title", data=np.frombuffer(b"ab", np.uint8).astype(np.uint16))
        txt.attrs["MATLAB_class"] = np.bytes_("char")
    np.testing.assert_array_equal(read_gains(src, var="G", layout="matlab").g, gains)
    with pytest.raises(ConfigError, match=r"'title' holds text \(a MATLAB char array\)"):
        read_gains(src, var="title", layout="matlab")


def test_npz_and_h5_with_var(tmp_path, gains):
    npz = tmp_path / "g.npz"
    np.savez(npz, H=gains, other=np.ones(3))
    np.testing.assert_array_equal(read_gains(npz, var="H").g, gains)
    h5 = tmp_path / "g.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("channels/gain", data=gains.astype(np.float32))
        f.create_dataset("meta/seed", data=3)
    got = read_gains(h5, var="channels/gain")
    np.testing.assert_array_equal(got.g, gains.astype(np.float32).astype(np.float64))
    with pytest.raises(ConfigError, match=r"--var 'gain' is not in the file; data sets present: "
                                          r"channels/gain, meta/seed"):
        read_gains(h5, var="gain")
    with pytest.raises(ConfigError, match=r"holds 2 data sets \(channels/gain, meta/seed\); "
                                          r"expected --var NAME"):
        read_gains(h5)


@pytest.mark.parametrize("header", [True, False])
def test_csv_one_layout_per_row(tmp_path, gains, header):
    src = tmp_path / "g.csv"
    names = ",".join(f"g_{i}_{j}" for i in range(N) for j in range(N))
    np.savetxt(src, gains.reshape(len(gains), -1), delimiter=",", fmt="%.17g",
               header=names if header else "", comments="")
    np.testing.assert_array_equal(read_gains(src).g, gains)  # row-major: g[i, j] at i*N + j


# ------------------------------------------------------------------ every command on it


def test_solve_evaluate_on_imported_gains_equal_the_simulated_file(runner, tmp_path, gains):
    cfg = D2DConfig.from_preset("paper", n_links=N)
    src = tmp_path / "g.npy"
    np.save(src, gains)
    result = _invoke(runner, src, "-o", tmp_path / "d.h5")
    assert result.exit_code == 0, result.output
    assert "imported 40 layouts of 5 links" in result.output
    for method in ("fp", "maxmin"):
        result = runner.invoke(main, ["solve", str(tmp_path / "d.h5"), "--method", method,
                                      "-o", str(tmp_path / f"{method}.h5")])
        assert result.exit_code == 0, result.output
    arrays, meta = load_solution(tmp_path / "maxmin.h5")
    assert meta["seed"] is None
    from baselines import solve

    np.testing.assert_array_equal(arrays["p_w"], solve("maxmin", gains, system=cfg).p_w)
    result = runner.invoke(main, ["evaluate", str(tmp_path / "d.h5"), str(tmp_path / "fp.h5"),
                                  str(tmp_path / "maxmin.h5"), "--json"])
    assert result.exit_code == 0, result.output
    rows = evaluate_files(tmp_path / "d.h5", [tmp_path / "fp.h5", tmp_path / "maxmin.h5"])
    by = {(r.method, r.metric): r for r in rows}
    assert by["maxmin", "min-rate"].pct_of_reference_mean_ratio == pytest.approx(100.0)


def test_evaluate_refuses_a_solution_of_other_imported_gains(tmp_path, gains):
    for name, g in (("a", gains), ("b", gains[::-1].copy())):
        np.save(tmp_path / f"{name}.npy", g)
        import_d2d(tmp_path / f"{name}.npy", tmp_path / f"{name}.h5")
    solve_file(tmp_path / "a.h5", "full", tmp_path / "full.h5")
    with pytest.raises(ConfigError, match="was solved for other layouts"):
        evaluate_files(tmp_path / "b.h5", [tmp_path / "full.h5"])
    assert evaluate_files(tmp_path / "a.h5", [tmp_path / "full.h5"])


def test_mat_output_round_trip(tmp_path, gains):
    np.save(tmp_path / "g.npy", gains)
    out = import_d2d(tmp_path / "g.npy", tmp_path / "d.mat")
    data = load_d2d(out)
    np.testing.assert_array_equal(data.g, gains)
    assert data.seed is None and data.tx_m is None


def test_n_links_from_the_data_and_overrides(tmp_path, gains):
    np.save(tmp_path / "g.npy", gains)
    out = import_d2d(tmp_path / "g.npy", tmp_path / "d.h5", preset="spatial-2019",
                     overrides={"n_links": N, "bandwidth_hz": 20e6})
    cfg = load_d2d(out).config
    assert cfg.n_links == N and cfg.bandwidth_hz == 20e6 and cfg.snr_gap_db == 6.0
    with pytest.raises(ConfigError, match=r"n_links=10 disagrees with the gains, which have 5 "
                                          r"links per layout; expected n_links=5"):
        import_d2d(tmp_path / "g.npy", tmp_path / "e.h5", overrides={"n_links": 10})
    with pytest.raises(ConfigError, match=r"bogus=1 is not a D2D config field"):
        import_d2d(tmp_path / "g.npy", tmp_path / "e.h5", overrides={"bogus": 1})
    assert not (tmp_path / "e.h5").exists()


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("make", "message"), [
    (lambda g: g.astype(np.complex128), r"holds complex values \(dtype complex128\); expected "
                                        r"real linear power gains: import abs\(h\)\*\*2"),
    (lambda g: g.astype(str), r"holds text \(dtype <U\d+\)"),
    (lambda g: g > 0, r"holds logical values"),
    (lambda g: g[0], r"has shape \(5, 5\); expected 3 axes \(batch, N, N\); one layout\?"),
    (lambda g: g[:, :, :4], r"has shape \(40, 5, 4\) in layout batch-first; expected square"),
    (lambda g: g[:0], r"has shape \(0, 5, 5\) in layout batch-first; expected square gain "
                      r"matrices \(batch, N, N\) with batch >= 1"),
    (lambda g: np.where(np.arange(40)[:, None, None] == 7, np.nan, g),
     r"layout 7, g\[7, 0, 0\]=nan is invalid; expected finite gains >= 0"),
    (lambda g: np.where((np.arange(40)[:, None, None] == 12) & (np.eye(N) == 0), -1e-9, g),
     r"layout 12, g\[12, 0, 1\]=-1e-09 is invalid; expected finite gains >= 0 \(linear power "
     r"gains, not dB\)"),
    (lambda g: np.where((np.arange(40)[:, None, None] == 3) & (np.eye(N) == 1), 0.0, g),
     r"layout 3, direct gain g\[3, 0, 0\]=0.0 is invalid; expected > 0"),
    (lambda g: np.where(np.arange(40)[:, None, None] == 5, np.inf, g), r"g\[5, 0, 0\]=inf"),
])
def test_bad_arrays_are_refused_with_one_line_and_nothing_written(runner, tmp_path, gains,
                                                                  make, message):
    src = tmp_path / "g.npy"
    np.save(src, make(gains))
    result = _invoke(runner, src, "-o", tmp_path / "d.h5")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output
    assert re.search(message, result.output), result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npy"]


def test_gains_in_db_are_refused_as_negative(tmp_path, gains):
    with pytest.raises(ConfigError, match="not dB"):
        check_gains_array(10 * np.log10(gains))


def test_pickled_object_array_is_not_loaded(tmp_path):
    src = tmp_path / "g.npy"
    np.save(src, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ConfigError, match="holds Python objects .* not loaded for safety"):
        read_gains(src)


def test_mat_errors(tmp_path, gains):
    src = tmp_path / "g.mat"
    scipy.io.savemat(src, {"G": np.moveaxis(gains, 0, -1), "H": gains, "name": "x"})
    with pytest.raises(ConfigError, match=r"--var 'X' is not in the file; variables present: G, "
                                          r"H, name"):
        read_gains(src, var="X")
    with pytest.raises(ConfigError, match=r"holds 3 variables \(G, H, name\); expected --var"):
        read_gains(src)
    with pytest.raises(ConfigError, match=r"is it MATLAB's \(N, N, batch\)\? pass --layout "
                                          r"matlab"):
        read_gains(src, var="G")
    with pytest.raises(ConfigError, match=r"variable 'name' holds text"):
        read_gains(src, var="name")
    cube = tmp_path / "cube.mat"
    scipy.io.savemat(cube, {"G": np.ones((5, 5, 5))})
    with pytest.raises(ConfigError, match=r"\(5, 5, 5\), which reads as \(batch, N, N\) or as "
                                          r"MATLAB's \(N, N, batch\); expected --layout"):
        read_gains(cube)
    assert read_gains(cube, layout="batch-first").g.shape == (5, 5, 5)
    cells = tmp_path / "cell.mat"
    scipy.io.savemat(cells, {"C": np.array([gains[0], "x"], dtype=object)})
    with pytest.raises(ConfigError, match=r"holds objects \(a cell array\?\)"):
        read_gains(cells, var="C")
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ConfigError, match="is not a readable MATLAB file"):
        read_gains(junk)


@pytest.mark.parametrize(("text", "message"), [
    ("1,2,3,4\n5,x,7,8\n", r"line 2, column 2: 'x' is not a number"),
    ("1,2,3,4\n5,6,7\n", r"line 2 has 3 values; expected 4"),
    ("1,2,3\n4,5,6\n", r"rows have 3 values; expected N\*N values"),
    ("1,2,3,4\n1+2j,1,1,1\n", r"line 2, column 1: '1\+2j' is not a number"),
    ("a,b\n", r"holds no rows of numbers"),
    ("1,-2,3,4\n", r"layout 0, g\[0, 0, 1\]=-2.0 is invalid"),
    ("1,2,3,4\n5,6,7," + "8" * 100 + "z\n", r"column 4: '8{40}'\.\.\. is not a number"),
])
def test_csv_errors(tmp_path, text, message):
    src = tmp_path / "g.csv"
    src.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_gains(src)


@pytest.mark.parametrize(("args", "message"), [
    (["--var", "G"], r"--var 'G' is invalid for a .npy file"),
    (["--layout", "diagonal"], r"Invalid value for '--layout'"),
])
def test_cli_option_errors(runner, tmp_path, gains, args, message):
    np.save(tmp_path / "g.npy", gains)
    result = _invoke(runner, tmp_path / "g.npy", "-o", tmp_path / "d.h5", *args)
    assert result.exit_code == 2 and message.replace("\\", "") in result.output.replace("\\", "")
    assert not (tmp_path / "d.h5").exists()


def test_cli_file_errors(runner, tmp_path, gains):
    result = _invoke(runner, tmp_path / "none.npy", "-o", tmp_path / "d.h5")
    assert result.exit_code == 2 and "does not exist" in result.output
    (tmp_path / "g.txt").write_text("1")
    result = _invoke(runner, tmp_path / "g.txt", "-o", tmp_path / "d.h5")
    assert result.exit_code == 2 and "suffix '.txt'; expected one of .npy" in result.output
    np.save(tmp_path / "g.npy", gains)
    (tmp_path / "d.h5").write_text("keep")
    result = _invoke(runner, tmp_path / "g.npy", "-o", tmp_path / "d.h5")
    assert result.exit_code == 2 and "exists; pass --overwrite" in result.output
    assert (tmp_path / "d.h5").read_text() == "keep"
    result = _invoke(runner, tmp_path / "g.npy", "-o", tmp_path / "d.h5", "--overwrite")
    assert result.exit_code == 0, result.output
    result = _invoke(runner, tmp_path / "g.npy", "-o", tmp_path / "d.npy")
    assert result.exit_code == 2 and "has the suffix '.npy'; expected one of .h5" in result.output
    with pytest.raises(ConfigError, match="is the gains file itself"):
        import_d2d(tmp_path / "d.h5", tmp_path / "d.h5", var="g", overwrite=True)


def test_csv_without_commas_is_read_as_numpy_savetxt_writes_it(tmp_path):
    g = np.random.default_rng(3).uniform(1e-12, 1e-6, size=(5, 3, 3))
    spaced, commas = tmp_path / "spaced.csv", tmp_path / "commas.csv"
    np.savetxt(spaced, g.reshape(5, 9))                  # default: spaces, %.18e
    np.savetxt(commas, g.reshape(5, 9), delimiter=",")
    np.testing.assert_array_equal(read_gains(spaced).g, g)
    np.testing.assert_array_equal(read_gains(commas).g, g)
