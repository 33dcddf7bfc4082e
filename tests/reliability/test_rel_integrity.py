"""Section 3: integrity and safety. Checksummed files are refused when tampered (arrays or
metadata, HDF5 or MATLAB, data, solutions, networks, training checkpoints); a checkpoint
carrying a pickle is refused without running it, also when ``fit`` would resume from it;
the CLI never replaces an existing file without ``--overwrite``.
"""

from __future__ import annotations

import json
import os

import h5py
import pytest
import torch
from rel_helpers import digest, expect_cli_rejects, expect_load_rejects, invoke, workdir
from scipy.io import loadmat, savemat

from simulators.validation import ConfigError
from wirelessrl.checkpoint import load_checkpoint, load_net, save_checkpoint, save_net
from wirelessrl.datasets import load_d2d, load_miso
from wirelessrl.engine import TrainConfig, fit
from wirelessrl.fileio import read_arrays
from wirelessrl.models import TransferNet, d2d_net_config
from wirelessrl.objectives import D2DRateLoss, Objective
from wirelessrl.solutions import load_solution


def _tamper_h5(path, edit):
    with h5py.File(path, "r+") as f:
        edit(f)


def _edit_meta(key, value):
    def edit(f):
        meta = json.loads(f.attrs["meta_json"])
        meta[key] = value
        f.attrs["meta_json"] = json.dumps(meta)
    return edit


def _edit_config(key, value):
    def edit(f):
        meta = json.loads(f.attrs["meta_json"])
        meta["config"][key] = value
        f.attrs["meta_json"] = json.dumps(meta)
    return edit


def _edit_array(name, index, value):
    def edit(f):
        f[name][index] = value
    return edit


@pytest.mark.parametrize(("source", "loader", "edit"), [
    ("data", load_d2d, _edit_array("g", (0, 0, 1), 1e-9)),
    ("data", load_d2d, _edit_array("tx_m", (0, 0, 0), 3.0)),
    ("data", load_d2d, _edit_config("p_max_dbm", 33.0)),
    ("data", load_d2d, _edit_config("noise_dbm_per_hz", -160.0)),
    ("data", load_d2d, _edit_meta("seed", 4)),
    ("miso", load_miso, _edit_array("h", (0, 0, 0), 1 + 1j)),
    ("miso", load_miso, _edit_meta("system_seed", 9)),
    ("fp", load_solution, _edit_array("p_w", (0, 0), 0.5)),
    ("fp", load_solution, _edit_meta("method", "maxmin")),
])
def test_tampered_hdf5_files_fail_their_checksum(d2d_files, tmp_path, source, loader, edit):
    path = tmp_path / "tampered.h5"
    path.write_bytes(d2d_files[source].read_bytes())
    _tamper_h5(path, edit)
    msg = expect_load_rejects("integrity: tampered checksummed file", path.read_bytes(),
                              lambda: loader(path), [str(path)])
    assert "checksum" in msg
    if source == "data":  # and the CLI refuses it too, writing nothing
        with workdir() as d:
            expect_cli_rejects("integrity: tampered checksummed file",
                               ["solve", path, "--method", "full", "-o", "out.h5"], d,
                               ["checksum"], key=path.read_bytes())


def test_tampered_mat_file_fails_its_checksum(d2d_files, tmp_path):
    path = tmp_path / "d.mat"
    result = invoke(["simulate", "d2d", "--n", "4", "--set", "n_links=3", "-o", path], tmp_path)
    assert result.exit_code == 0, result.output
    raw = loadmat(path)
    raw["g"][0, 0, 1] *= 2.0
    savemat(path, {k: v for k, v in raw.items() if not k.startswith("__")})
    msg = expect_load_rejects("integrity: tampered checksummed file", path.read_bytes(),
                              lambda: load_d2d(path), [str(path)])
    assert "checksum" in msg


def test_format_flag_and_suffix_disagreeing_still_round_trips(tmp_path):
    """``--format h5 -o x.mat`` writes HDF5 under a .mat name; loading goes by content."""
    for fmt, name in (("h5", "x.mat"), ("mat", "y.h5")):
        result = invoke(["simulate", "d2d", "--n", "3", "--set", "n_links=2", "--format", fmt,
                         "-o", name], tmp_path)
        assert result.exit_code == 0, result.output
        assert load_d2d(tmp_path / name).g.shape == (3, 2, 2)


def _payload_tamper(path, edit):
    """Change a checkpoint's contents but keep its stored checksum (a hand edit)."""
    payload = torch.load(path, weights_only=True)
    edit(payload)
    torch.save(payload, path)


def test_tampered_checkpoints_fail_their_checksum(tmp_path):
    net_path = save_net(tmp_path / "net.pt", TransferNet.from_config(d2d_net_config(3)))
    cases = [
        lambda p: p["state_dict"]["features.0.weight"].mul_(1.0001),
        lambda p: p.update(meta=json.dumps({"seed": 99})),
        lambda p: p.update(net_config=p["net_config"] + " "),
    ]
    for k, edit in enumerate(cases):
        path = tmp_path / f"t{k}.pt"
        path.write_bytes(net_path.read_bytes())
        _payload_tamper(path, edit)
        msg = expect_load_rejects("integrity: tampered checkpoint", path.read_bytes(),
                                  lambda p=path: load_net(p), [str(path)])
        assert "checksum" in msg


def _tiny_fit(run_dir, epochs=2):
    torch.manual_seed(0)
    g = torch.rand(32, 2, 2) + 3 * torch.eye(2)
    data = {"x": g.reshape(32, -1), "g": g}
    net = TransferNet.from_config(d2d_net_config(2))
    return fit(net, Objective(D2DRateLoss("sum"), head="sum_rate"), data, data,
               TrainConfig(epochs=epochs, batch_size=16, device="cpu", num_threads=1),
               run_dir)


class _Marker:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_pickle_bearing_or_tampered_last_checkpoint_is_refused_and_kept(tmp_path):
    """``fit`` resuming from a poisoned ``last.pt`` refuses it and changes nothing."""
    _tiny_fit(tmp_path / "run")
    ckpt = tmp_path / "run" / "last.pt"
    marker = tmp_path / "pwned"
    payload = load_checkpoint(ckpt)
    poisoned = {**payload, "best_metrics": _Marker(marker)}
    torch.save(poisoned, ckpt)
    before = digest(ckpt)
    with pytest.raises(ConfigError, match="refused") as err:
        _tiny_fit(tmp_path / "run", epochs=3)
    assert str(tmp_path / "run" / "last.pt") in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists() and digest(ckpt) == before
    # a checkpoint written for a different network is refused as well, and kept
    other = save_checkpoint(ckpt, {**payload, "model": TransferNet.from_config(
        d2d_net_config(3)).state_dict()})
    before = digest(other)
    with pytest.raises(ConfigError, match="does not match the model"):
        _tiny_fit(tmp_path / "run", epochs=3)
    assert digest(other) == before


@pytest.mark.parametrize("command", [
    ["simulate", "d2d", "--n", "2", "--set", "n_links=2"],
    ["simulate", "miso", "--n", "2"],
    ["solve", "{data}", "--method", "full"],
    ["solve", "{data}", "--method", "fp", "--iterations", "5"],
])
def test_cli_never_overwrites_without_the_flag(d2d_files, command, tmp_path):
    args = [a.format(data=d2d_files["data"]) for a in command]
    out = tmp_path / "out.h5"
    for existing in (b"precious bytes", d2d_files["full"].read_bytes()):
        out.write_bytes(existing)
        expect_cli_rejects("integrity: refused overwrite", [*args, "-o", "out.h5"], tmp_path,
                           ["exists", "--overwrite"], key=json.dumps(args) + str(len(existing)))
        assert out.read_bytes() == existing
    result = invoke([*args, "-o", "out.h5", "--overwrite"], tmp_path)
    assert result.exit_code == 0, result.output
    read_arrays(out)  # replaced by a complete, verified file
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]  # no temporary left behind
