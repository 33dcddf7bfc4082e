"""``.mat`` round trips for every file kind, and self-describing arrays in both formats.

Regression test of a user-found bug: ``solve d.h5 --method fp -o fp.mat`` wrote a file that
always failed its checksum (MATLAB char matrices pad the status strings) and left it behind
although the error said nothing was written.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from scipy.io import loadmat

from simulators.validation import ConfigError
from wirelessrl import fileio
from wirelessrl.cli import main
from wirelessrl.fileio import read_arrays, write_arrays

D2D_METHODS = ["fp", "wmmse", "maxmin", "full", "random", "binary"]
MU_MISO_METHODS = ["mrt", "zf", "wmmse"]


def _ok(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def d2d_h5(tmp_path_factory):
    path = tmp_path_factory.mktemp("d2d") / "d.h5"
    _ok("simulate", "d2d", "--n", 6, "--seed", 3, "--set", "n_links=4", "-o", path)
    return path


@pytest.mark.parametrize("method", D2D_METHODS)
def test_every_d2d_solution_round_trips_through_mat(d2d_h5, tmp_path, method):
    h5, mat = tmp_path / "s.h5", tmp_path / "s.mat"
    _ok("solve", d2d_h5, "--method", method, "--seed", 1, "-o", h5)
    _ok("solve", d2d_h5, "--method", method, "--seed", 1, "-o", mat)
    a_h5, meta_h5 = read_arrays(h5)
    a_mat, meta_mat = read_arrays(mat)
    assert sorted(a_h5) == sorted(a_mat)
    for name in a_h5:
        assert a_mat[name].dtype == a_h5[name].dtype and a_mat[name].shape == a_h5[name].shape
    np.testing.assert_array_equal(a_mat["status"], a_h5["status"])
    np.testing.assert_allclose(a_mat["p_w"], a_h5["p_w"], rtol=1e-12)
    assert meta_mat["checksum_sha256"] == fileio.arrays_checksum(a_mat)
    out = _ok("evaluate", d2d_h5, mat, "--json")
    assert method in out


def test_data_files_of_every_kind_round_trip_through_mat(tmp_path):
    for model, extra in (("d2d", ()), ("miso", ()), ("mu-miso", ("--set", "n_users=2"))):
        h5, mat = tmp_path / f"{model}.h5", tmp_path / f"{model}.mat"
        for out in (h5, mat):
            _ok("simulate", model, "--n", 4, "--seed", 2, *extra, "-o", out)
        a_h5, _ = read_arrays(h5)
        a_mat, _ = read_arrays(mat)
        assert sorted(a_h5) == sorted(a_mat), model
        for name in a_h5:
            assert a_mat[name].dtype == a_h5[name].dtype, (model, name)
            np.testing.assert_array_equal(a_mat[name], a_h5[name])


def test_mu_miso_solutions_round_trip_through_mat(tmp_path):
    data = tmp_path / "mu.h5"
    _ok("simulate", "mu-miso", "--n", 5, "--seed", 1, "--set", "n_users=2", "-o", data)
    for method in MU_MISO_METHODS:
        mat = tmp_path / f"{method}.mat"
        _ok("solve", data, "--method", method, "-o", mat)
        arrays, meta = read_arrays(mat)
        assert arrays["status"].dtype.kind == "S" and meta["method"] == method
        assert method in _ok("evaluate", data, mat)


def test_mat_file_reads_naturally_in_matlab_terms(d2d_h5, tmp_path):
    """Status as a cell array of strings, 1-D arrays as columns, metadata as a struct."""
    mat = tmp_path / "fp.mat"
    _ok("solve", d2d_h5, "--method", "fp", "-o", mat)
    raw = loadmat(mat)
    status = raw["status"]
    assert status.dtype == object and status.shape == (6, 1)
    assert {str(c[0]) for c in status.ravel()} <= {"optimal", "converged", "max_iter"}
    assert raw["iterations"].shape == (6, 1) and raw["p_w"].shape == (6, 4)
    meta = raw["meta"][0, 0]
    assert str(meta["kind"][0]) == "d2d-solution" and str(meta["method"][0]) == "fp"
    assert float(meta["config"][0, 0]["n_links"][0, 0]) == 4
    assert str(meta["arrays"][0, 0]["p_w"][0, 0]["units"][0]) == "W"


def test_a_mat_file_that_does_not_read_back_is_never_left_behind(tmp_path, monkeypatch):
    out = tmp_path / "x.mat"

    def corrupt(cell, dtype):  # what padded MATLAB strings did: text that differs
        return np.array([b"changed"] * np.asarray(cell).size, dtype=dtype)

    monkeypatch.setattr(fileio, "_from_cellstr", corrupt)
    arrays = {"status": np.array([b"optimal", b"failed"], dtype="S16")}
    with pytest.raises(ConfigError, match="was not written: the MATLAB file did not read back"):
        write_arrays(out, arrays, fileio.provenance("demo", {}, 0))
    assert list(tmp_path.iterdir()) == []


def test_reserved_mat_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="'meta' is reserved"):
        write_arrays(tmp_path / "x.mat", {"meta": np.zeros(2)}, fileio.provenance("d", {}, 0))
    assert list(tmp_path.iterdir()) == []


def test_text_bool_and_scalar_arrays_keep_dtype_and_shape(tmp_path):
    arrays = {"s": np.array([b"a", b"", b"abc"], dtype="S4"), "u": np.array(["x", "yz"]),
              "b": np.array([True, False]), "z": np.array(3.5), "c": np.ones((2, 3), np.complex64),
              "i": np.arange(3, dtype=np.int32)}
    path = write_arrays(tmp_path / "x.mat", arrays, fileio.provenance("demo", {"a": None}, 0))
    back, _ = read_arrays(path)
    for name, a in arrays.items():
        assert back[name].dtype == a.dtype and back[name].shape == a.shape, name
        np.testing.assert_array_equal(back[name], a)


def test_hdf5_arrays_carry_units_and_description(d2d_h5, tmp_path):
    sol = tmp_path / "fp.h5"
    _ok("solve", d2d_h5, "--method", "fp", "-o", sol)
    for path in (d2d_h5, sol):
        with h5py.File(path) as f:
            for name in f:
                assert f[name].attrs["description"], (path.name, name)
                assert "units" in f[name].attrs
    with h5py.File(d2d_h5) as f:
        assert f["g"].attrs["units"].startswith("1 (linear power gain)")
        assert "transmitter j to receiver i" in f["g"].attrs["description"]
    with h5py.File(sol) as f:
        assert f["p_w"].attrs["units"] == "W"
