"""User-named outputs: a wrong suffix or a missing folder is a one-line error, nothing made."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from wirelessrl.cli import main


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    assert _run("simulate", "d2d", "--n", 3, "-o", d / "d.h5").exit_code == 0
    return d / "d.h5"


@pytest.mark.parametrize("command", [
    ("simulate", "d2d", "--n", 2), ("simulate", "miso", "--n", 2),
    ("simulate", "mu-miso", "--n", 2), ("solve", "DATA", "--method", "full"),
])
@pytest.mark.parametrize("name, message", [
    ("fp.txt", "has the suffix '.txt'; expected one of .h5, .hdf5, .mat"),
    ("fp", "has the suffix '(none)'"),
    ("missing/fp.h5", "the folder"),
])
def test_bad_output_names_are_refused_before_any_work(data, tmp_path, command, name, message):
    command = tuple(str(data) if c == "DATA" else c for c in command)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = _run(*command, "-o", tmp_path / name)
    assert r.exit_code == 2 and message in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no file, no folder


def test_hdf5_suffix_variants_are_accepted(data, tmp_path):
    for name in ("a.hdf5", "b.H5", "c.MAT"):
        r = _run("solve", data, "--method", "full", "-o", tmp_path / name)
        assert r.exit_code == 0, r.output
        assert (tmp_path / name).is_file()
    assert not (tmp_path / "b.H5").read_bytes().startswith(b"MATLAB")
    assert (tmp_path / "c.MAT").read_bytes().startswith(b"MATLAB")
