"""``wirelessrl import mu-miso``: complex channels from .npy / .mat (MATLAB order) / HDF5 -> a
multi-user MISO data file that ``solve`` and ``evaluate`` take like a simulated one; wrong
types and bad values refused with one line, nothing written."""

import hashlib
import re

import h5py
import numpy as np
import pytest
import scipy.io
from click.testing import CliRunner

from baselines.mu_miso import solve_beamforming
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from simulators.validation import ConfigError
from wirelessrl.beamforming_solutions import evaluate_mu_miso_files, load_mu_miso_solution
from wirelessrl.cli import main
from wirelessrl.datasets import load_mu_miso
from wirelessrl.fileio import read_arrays
from wirelessrl.importer import check_channels_array, import_mu_miso, read_channels

K, M, BATCH = 3, 5, 24
CFG = MuMisoConfig.from_preset("rayleigh-10db", n_users=K, n_antennas=M)


@pytest.fixture(scope="module")
def sim():
    """24 simulated samples (K = 3 users, M = 5 antennas), channels and pilots."""
    return generate_mu_miso(CFG, BATCH, seed=7)


@pytest.fixture()
def runner():
    return CliRunner()


def _invoke(runner, *args):
    return runner.invoke(main, ["import", "mu-miso", *map(str, args)])


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------ round trips


def test_npy_round_trip_with_provenance(tmp_path, sim):
    src = tmp_path / "h.npy"
    np.save(src, sim.h)
    out = import_mu_miso(src, tmp_path / "d.h5", preset="rayleigh-10db",
                         overrides={"p_max_dbm": 43.0})
    data = load_mu_miso(out)
    assert data.h.tobytes() == sim.h.tobytes() and data.h.dtype == np.complex128
    assert data.config == MuMisoConfig.from_preset("rayleigh-10db", n_users=K, n_antennas=M,
                                                   p_max_dbm=43.0)
    assert data.seed is None and data.positions_m is None and data.y is None
    assert not data.has_positions and not data.has_pilots
    arrays, meta = read_arrays(out, "mu-miso-samples")
    assert sorted(arrays) == ["h"]
    assert meta["imported_from"] == str(src.resolve()) and meta["source_sha256"] == _sha(src)
    assert meta["source_layout"] == "batch-first" and meta["source_variable"] is None
    assert meta["source_pilots_variable"] is None and meta["seed"] is None and meta["n"] == BATCH
    with pytest.raises(ConfigError, match="channels only .* --pilots-var"):
        data.channel_estimate()
    assert len(data.subset(slice(2, 5))) == 3


def test_matlab_order_mat_from_savemat_with_pilots(runner, tmp_path, sim):
    src = tmp_path / "h.mat"
    # MATLAB: H(k, m, b), pilots Y beside it, and a padded char array
    scipy.io.savemat(src, {"H": np.moveaxis(sim.h, 0, -1), "Y": np.moveaxis(sim.y, 0, -1),
                           "note": np.array(["ab ", "cd "])})
    r = _invoke(runner, src, "--var", "H", "--pilots-var", "Y", "--layout", "matlab",
                "--preset", "rayleigh-10db", "-o", tmp_path / "d.h5")
    assert r.exit_code == 0, r.output
    assert f"imported {BATCH} samples of K={K} users, M={M} antennas" in r.output
    assert "with pilots" in r.output
    data = load_mu_miso(tmp_path / "d.h5")
    np.testing.assert_array_equal(data.h, sim.h)
    np.testing.assert_array_equal(data.y, sim.y)
    np.testing.assert_allclose(data.channel_estimate(), sim.channel_estimate())
    meta = read_arrays(tmp_path / "d.h5")[1]
    assert (meta["source_variable"], meta["source_pilots_variable"]) == ("H", "Y")
    assert meta["source_layout"] == "matlab"
    # a 3-D array from a .mat file needs --layout: (K, M, batch) reads either way
    with pytest.raises(ConfigError, match=r"has shape \(3, 5, 24\), which reads as \(batch, "
                                          r"K, M\) or as MATLAB's \(K, M, batch\); expected "
                                          r"--layout"):
        read_channels(src, var="H")


def test_mat_single_sample_and_real_channels(tmp_path, sim):
    src = tmp_path / "one.mat"
    scipy.io.savemat(src, {"H": sim.h[0]})  # MATLAB drops the trailing batch axis of 1
    np.testing.assert_array_equal(read_channels(src, layout="matlab").h, sim.h[:1])
    real = tmp_path / "real.npy"
    np.save(real, sim.h.real)  # real numbers: complex with zero imaginary part
    h = read_channels(real).h
    assert h.dtype == np.complex128 and np.array_equal(h, sim.h.real.astype(complex))


def test_mat_v73_and_h5(tmp_path, sim):
    """v7.3: HDF5 with MATLAB's column-major array as a real/imag compound; plain HDF5."""
    src = tmp_path / "h73.mat"
    matlab = np.moveaxis(sim.h, 0, -1).T  # what MATLAB writes: reversed axes
    compound = np.empty(matlab.shape, dtype=[("real", "<f8"), ("imag", "<f8")])
    compound["real"], compound["imag"] = matlab.real, matlab.imag
    with h5py.File(src, "w", userblock_size=512) as f:
        f.create_dataset("H", data=compound).attrs["MATLAB_class"] = np.bytes_("double")
    np.testing.assert_array_equal(read_channels(src, var="H", layout="matlab").h, sim.h)
    h5 = tmp_path / "h.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("chan/h", data=sim.h.astype(np.complex64))
        f.create_dataset("chan/y", data=sim.y.astype(np.complex64))
    out = import_mu_miso(h5, tmp_path / "d.h5", var="chan/h", pilots_var="chan/y")
    data = load_mu_miso(out)
    np.testing.assert_array_equal(data.h, sim.h.astype(np.complex64).astype(np.complex128))
    assert data.y.shape == sim.y.shape and data.config.preset == "cell"
    with pytest.raises(ConfigError, match=r"holds 2 data sets \(chan/h, chan/y\); expected "
                                          r"--var NAME"):
        read_channels(h5)


def test_mat_output_round_trip(tmp_path, sim):
    np.save(tmp_path / "h.npy", sim.h)
    data = load_mu_miso(import_mu_miso(tmp_path / "h.npy", tmp_path / "d.mat"))
    np.testing.assert_array_equal(data.h, sim.h)
    assert data.seed is None and data.y is None and data.positions_m is None


# ------------------------------------------------------------------ solve / evaluate on it


@pytest.mark.parametrize("method", ["wmmse", "zf", "mrt", "maxmin"])
def test_solve_on_imported_channels_equals_solving_them_directly(runner, tmp_path, sim, method):
    np.save(tmp_path / "h.npy", sim.h)
    assert _invoke(runner, tmp_path / "h.npy", "--preset", "rayleigh-10db", "-o",
                   tmp_path / "d.h5").exit_code == 0
    r = runner.invoke(main, ["solve", str(tmp_path / "d.h5"), "--method", method, "-o",
                             str(tmp_path / "w.h5")])
    assert r.exit_code == 0, r.output
    arrays, meta = load_mu_miso_solution(tmp_path / "w.h5")
    direct = solve_beamforming(method, sim.h, p_max_w=CFG.p_max_w, noise_w=CFG.noise_w)
    np.testing.assert_array_equal(arrays["w"], direct.w)
    np.testing.assert_array_equal(arrays["objective"], direct.objective)
    assert meta["seed"] is None and meta["data_sha256"]
    r = runner.invoke(main, ["evaluate", str(tmp_path / "d.h5"), str(tmp_path / "w.h5")])
    assert r.exit_code == 0, r.output
    rows = {x.metric: x for x in evaluate_mu_miso_files(tmp_path / "d.h5", [tmp_path / "w.h5"])}
    from simulators.beamforming import user_rates_bps

    rates = user_rates_bps(sim.h, direct.w, CFG.noise_w)
    assert rows["sum-rate"].mean == pytest.approx(rates.sum(-1).mean(), rel=1e-12)
    assert rows["min-rate"].mean == pytest.approx(rates.min(-1).mean(), rel=1e-12)


def test_evaluate_refuses_a_solution_of_other_imported_channels(tmp_path, sim):
    for name, h in (("a", sim.h), ("b", sim.h[::-1].copy())):
        np.save(tmp_path / f"{name}.npy", h)
        import_mu_miso(tmp_path / f"{name}.npy", tmp_path / f"{name}.h5")
    from wirelessrl.solutions import evaluate_files, solve_file

    solve_file(tmp_path / "a.h5", "zf", tmp_path / "zf.h5")  # the generic entry point
    with pytest.raises(ConfigError, match=r"'.*zf.h5' was solved for other samples \(its "
                                          r"data_sha256 \w+\.\.\. differs"):
        evaluate_files(tmp_path / "b.h5", [tmp_path / "zf.h5"])
    assert evaluate_files(tmp_path / "a.h5", [tmp_path / "zf.h5"])


def test_simulated_file_still_needs_its_positions_and_pilots(tmp_path, sim):
    from wirelessrl.datasets import save_mu_miso

    save_mu_miso(sim, tmp_path / "s.h5")
    arrays, meta = read_arrays(tmp_path / "s.h5")
    from wirelessrl.fileio import write_arrays

    del arrays["y"]
    write_arrays(tmp_path / "t.h5", arrays, {k: meta[k] for k in ("kind", "config", "seed")})
    with pytest.raises(ConfigError, match=r"lacks the array 'y'"):
        load_mu_miso(tmp_path / "t.h5")


# ------------------------------------------------------------------ bad input


def _with(h, b, k, m, value):
    h = h.copy()
    h[b, k, m] = value
    return h


@pytest.mark.parametrize(("make", "message"), [
    (lambda h: h.astype(str), r"holds text \(dtype <U\d+\); expected complex channels \(real "
                              r"numbers are read as complex with zero imaginary part\)"),
    (lambda h: np.abs(h) > 1, r"holds logical values; expected complex channels"),
    (lambda h: h[0], r"has shape \(3, 5\); expected 3 axes \(batch, K, M\); one sample\? give "
                     r"it a batch axis, shape \(1, K, M\)"),
    (lambda h: h[:0], r"has shape \(0, 3, 5\) in layout batch-first; expected \(batch, K, M\) "
                      r"with batch, K, M >= 1"),
    (lambda h: _with(h, 7, 1, 2, np.nan), r"sample 7, h\[7, 1, 2\]=\(nan\+0j\) is invalid; "
                                          r"expected finite values"),
    (lambda h: _with(h, 4, 0, 0, complex(1, np.inf)), r"sample 4, h\[4, 0, 0\]=\(1\+infj\)"),
    (lambda h: np.where((np.arange(BATCH)[:, None, None] == 9)
                        & (np.arange(K)[None, :, None] == 2), 0, h),
     r"sample 9, user 2: h\[9, 2, :\] is all zero; expected a nonzero channel for every user"),
])
def test_bad_arrays_are_refused_with_one_line_and_nothing_written(runner, tmp_path, sim,
                                                                  make, message):
    src = tmp_path / "h.npy"
    np.save(src, make(sim.h))
    r = _invoke(runner, src, "-o", tmp_path / "d.h5")
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: ") and r.output.count("\n") == 1
    assert "Traceback" not in r.output
    assert re.search(message, r.output), r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.npy"]


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "n_users=4"], "n_users=4 disagrees with the channels, which have 3 users and 5 "
                             "antennas per sample; expected n_users=3 or no n_users"),
    (["--set", "n_antennas=four"], "n_antennas='four' disagrees with the channels"),
    (["--set", "n_pilots=2"], "n_pilots=2 is invalid; expected at least n_users=3"),
    (["--set", "p_max_dbm=loud"], "p_max_dbm"),
    (["--set", "bogus=1"], "bogus=1 is not a multi-user MISO config field"),
    (["--preset", "paper"], "preset='paper' is invalid"),
    (["--var", "H"], "--var 'H' is invalid for a .npy file"),
    (["--pilots-var", "Y"], "--pilots-var 'Y' is invalid for a .npy file"),
    (["--layout", "diagonal"], "Invalid value for '--layout'"),
])
def test_option_errors_write_nothing(runner, tmp_path, sim, args, message):
    np.save(tmp_path / "h.npy", sim.h)
    r = _invoke(runner, tmp_path / "h.npy", "-o", tmp_path / "d.h5", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.npy"]


def test_source_errors(runner, tmp_path, sim):
    (tmp_path / "h.csv").write_text("1,2\n3,4\n")
    r = _invoke(runner, tmp_path / "h.csv", "-o", tmp_path / "d.h5")
    assert r.exit_code == 2 and ".csv is not accepted for complex channels" in r.output
    mat = tmp_path / "h.mat"
    scipy.io.savemat(mat, {"H": np.moveaxis(sim.h, 0, -1), "Y": np.moveaxis(sim.y, 0, -1)[:2],
                           "name": "x"})
    with pytest.raises(ConfigError, match=r"variable 'Y' has shape \(24, 2, 5\) in layout "
                                          r"matlab; expected \(24, 3, 5\) like the channels 'H'"):
        read_channels(mat, var="H", layout="matlab", pilots_var="Y")
    with pytest.raises(ConfigError, match=r"variable 'name' holds text"):
        read_channels(mat, var="name", layout="batch-first")
    with pytest.raises(ConfigError, match=r"--var 'X' is not in the file; variables present: "
                                          r"H, Y, name"):
        read_channels(mat, var="X")
    with pytest.raises(ConfigError, match=r"--pilots-var 'Y' needs --var NAME"):
        read_channels(mat, pilots_var="Y")
    r = _invoke(runner, tmp_path / "none.npy", "-o", tmp_path / "d.h5")
    assert r.exit_code == 2 and "channels file" in r.output and "does not exist" in r.output
    assert not (tmp_path / "d.h5").exists()


def test_check_channels_array_direct():
    assert check_channels_array(np.ones((1, 1, 1), dtype=np.int64)).dtype == np.complex128
    with pytest.raises(ConfigError, match=r"holds objects \(a cell array\?\)"):
        check_channels_array(np.array([[[1]], [["x"]]], dtype=object))
