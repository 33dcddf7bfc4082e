"""Section 1b: malformed files, generated with hypothesis, through the CLI and the loaders.

D2D data files (wrong shapes, dtypes, NaN / negative / zero gains, missing arrays, broken
metadata, other kinds, truncated or bit-flipped bytes), solution files, MISO files (also
from another system seed) and network checkpoints (truncated, flipped, not matching the
model, NaN weights, crafted pickles). ``solve`` and ``evaluate`` must end with one line
``error: ...`` naming the file, exit 2, and leave an existing output untouched; the
loaders must raise :class:`ConfigError` with a one-line message naming the file.

Two kinds of malformed file are made: *crafted* ones with both checksums recomputed (as a
user writing a file by hand would), which exercise the content checks, and *tampered* ones
that keep the stored checksums, which the checksums must catch.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rel_helpers import (
    PROPERTY,
    expect_cli_rejects,
    expect_load_rejects,
    read_h5,
    record_harmless,
    workdir,
    write_h5,
)

from simulators.miso import MisoConfig, make_system
from wirelessrl.checkpoint import load_checkpoint, load_net, save_checkpoint, save_net
from wirelessrl.datasets import load_d2d, load_miso
from wirelessrl.solutions import load_solution

# ------------------------------------------------------------------ corruptions


def _set_value(name, index, value):
    def apply(arrays, meta):
        a = arrays[name].astype(np.float64).copy()
        a[tuple(i % s for i, s in zip(index, a.shape, strict=False))] = value
        arrays[name] = a
    return apply


def _replace(name, fn):
    def apply(arrays, meta):
        arrays[name] = fn(arrays[name])
    return apply


def _drop(name):
    def apply(arrays, meta):
        del arrays[name]
    return apply


def _meta(fn):
    def apply(arrays, meta):
        fn(meta)
    return apply


def _config(key, value):
    def apply(arrays, meta):
        meta["config"] = {**meta["config"], key: value}
    return apply


index3 = st.tuples(st.integers(0, 50), st.integers(0, 2), st.integers(0, 2))
bad_gain = st.one_of(st.sampled_from([np.nan, np.inf, -np.inf, -0.5]),
                     st.floats(max_value=-1e-300, allow_infinity=False, allow_nan=False))
bad_seed_values = st.sampled_from([None, -1, "x", 1.5, True, [1], {"a": 1}])
bad_configs = st.one_of(
    st.sampled_from([None, [1, 2], "paper", 3]).map(lambda v: _meta(lambda m: m.update(config=v))),
    st.tuples(st.sampled_from(["n_links", "field_m", "p_max_dbm", "bandwidth_hz", "fading",
                               "redraw", "snr_gap_db"]),
              st.sampled_from(["x", None, -1, float("nan"), [1], 0])).map(lambda t: _config(*t)),
    st.text("abcdefgh_", min_size=1, max_size=6).map(lambda k: _config("zz_" + k, 1)),
    st.integers(4, 9).map(lambda n: _config("n_links", n)),  # config says n links, g has 3
)

d2d_content = st.one_of(
    st.tuples(index3, bad_gain).map(lambda t: _set_value("g", t[0], t[1])),
    st.integers(0, 50).flatmap(lambda b: st.integers(0, 2).map(
        lambda i: _set_value("g", (b, i, i), 0.0))),                      # zero direct gain
    st.sampled_from([
        _replace("g", lambda g: g[:, :2, :2]), _replace("g", lambda g: g[0]),
        _replace("g", lambda g: g[None]), _replace("g", lambda g: g[:0]),
        _replace("g", lambda g: g.reshape(g.shape[0], -1)),
        _replace("g", lambda g: g.astype("S8")), _replace("g", lambda g: (g * 1e12).astype(int)),
        _replace("g", lambda g: g.astype(np.complex128)),
        _replace("tx_m", lambda a: a[:, :, :1]), _replace("rx_m", lambda a: a[:-1]),
        _replace("redraws", lambda a: a[:, None]), _replace("tx_m", lambda a: a[0]),
        _drop("g"), _drop("tx_m"), _drop("rx_m"), _drop("redraws"),
    ]),
    st.sampled_from(["config", "seed", "kind"]).map(lambda k: _meta(lambda m: m.pop(k))),
    bad_seed_values.map(lambda v: _meta(lambda m: m.update(seed=v))),
    st.sampled_from(["miso-samples", "d2d-solution", "", None, 3]).map(
        lambda v: _meta(lambda m: m.update(kind=v))),
    bad_configs,
)

tampering = st.one_of(  # stored checksums kept: the checksums must catch these
    st.tuples(index3, st.floats(1e-12, 1e-3)).map(lambda t: _set_value("g", t[0], t[1])),
    st.sampled_from(["p_max_dbm", "noise_dbm_per_hz", "snr_gap_db"]).flatmap(
        lambda k: st.floats(-20, 60).map(lambda v: _config(k, v))),
    st.integers(1, 10**6).map(lambda s: _meta(lambda m: m.update(seed=s))),
    st.just(_meta(lambda m: m.pop("checksum_sha256"))),
)


def _make_variant(base, out, corrupt, reseal) -> bytes:
    arrays, meta = read_h5(base)
    corrupt(arrays, meta)
    write_h5(out, arrays, meta, reseal=reseal)
    return out.read_bytes()


def _reject_d2d_everywhere(files, bad, key, category):
    """``load_d2d``, ``solve`` and ``evaluate`` on a malformed data file."""
    expect_load_rejects(f"loader: {category}", key, lambda: load_d2d(bad), [str(bad)])
    with workdir() as d:
        (d / "out.h5").write_bytes(b"precious")
        expect_cli_rejects(f"cli: solve, {category}",
                           ["solve", bad, "--method", "full", "-o", "out.h5", "--overwrite"],
                           d, [str(bad)], key=key)
        expect_cli_rejects(f"cli: evaluate, {category}", ["evaluate", bad, files["fp"]], d,
                           [str(bad)], key=key)


@PROPERTY
@given(corrupt=d2d_content)
def test_crafted_d2d_files_are_rejected(d2d_files, corrupt):
    with workdir() as d:
        bad = d / "bad.h5"
        content = _make_variant(d2d_files["data"], bad, corrupt, reseal=True)
        _reject_d2d_everywhere(d2d_files, bad, content, "crafted D2D data file")


@settings(PROPERTY, max_examples=40)
@given(corrupt=tampering)
def test_tampered_d2d_files_fail_their_checksum(d2d_files, corrupt):
    with workdir() as d:
        bad = d / "bad.h5"
        content = _make_variant(d2d_files["data"], bad, corrupt, reseal=False)
        arrays, meta = read_h5(bad)
        base_arrays, base_meta = read_h5(d2d_files["data"])
        same = meta == base_meta and all(np.array_equal(arrays[k], base_arrays[k])
                                         for k in arrays)
        if same:  # the drawn "change" wrote the old value back: not malformed
            return
        msg = expect_load_rejects("loader: tampered D2D data file", content,
                                  lambda: load_d2d(bad), [str(bad)])
        assert "checksum" in msg


@settings(PROPERTY, max_examples=60)
@given(data=st.data())
def test_truncated_and_bit_flipped_files_are_rejected_or_harmless(d2d_files, data):
    """Truncations always reject. A flipped byte either rejects, or it fell in HDF5 padding
    and the file still holds exactly the same arrays and metadata (counted as harmless)."""
    raw = d2d_files["data"].read_bytes()
    with workdir() as d:
        bad = d / "bad.h5"
        if data.draw(st.booleans(), label="truncate"):
            cut = data.draw(st.integers(0, len(raw) - 1), label="keep bytes")
            bad.write_bytes(raw[:cut])
            _reject_d2d_everywhere(d2d_files, bad, raw[:cut], "truncated HDF5")
            return
        pos = data.draw(st.integers(0, len(raw) - 1), label="offset")
        mask = data.draw(st.integers(1, 255), label="xor")
        flipped = bytearray(raw)
        flipped[pos] ^= mask
        bad.write_bytes(bytes(flipped))
        try:
            arrays, meta = read_h5(bad)
            base_arrays, base_meta = read_h5(d2d_files["data"])
            harmless = meta == base_meta and sorted(arrays) == sorted(base_arrays) and all(
                arrays[k].dtype == base_arrays[k].dtype and np.array_equal(arrays[k],
                                                                           base_arrays[k])
                for k in arrays)
        except Exception:  # noqa: BLE001 - unreadable by h5py itself: certainly malformed
            harmless = False
        if harmless:
            record_harmless("byte flips in HDF5 padding", bytes(flipped))
            np.testing.assert_array_equal(load_d2d(bad).g, load_d2d(d2d_files["data"]).g)
            return
        _reject_d2d_everywhere(d2d_files, bad, bytes(flipped), "bit-flipped HDF5")


def test_files_of_the_wrong_kind_are_rejected(d2d_files, tmp_path):
    net = tmp_path / "net.pt"
    from wirelessrl.models import TransferNet, d2d_net_config

    save_net(net, TransferNet.from_config(d2d_net_config(3)))
    (tmp_path / "empty.h5").write_bytes(b"")
    (tmp_path / "text.h5").write_text("n_links: 3\n")
    (tmp_path / "noise.h5").write_bytes(np.random.default_rng(0).bytes(4096))
    np.save(tmp_path / "array.npy", np.ones((2, 3, 3)))
    (tmp_path / "hdf5-with-mat-name.mat").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    (tmp_path / "fake.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 200)
    import h5py

    with h5py.File(tmp_path / "foreign.h5", "w") as f:  # an HDF5 file from another program
        f["g"] = np.ones((2, 3, 3))
    candidates = [d2d_files["miso"], d2d_files["fp"], net, tmp_path / "empty.h5",
                  tmp_path / "text.h5", tmp_path / "noise.h5", tmp_path / "array.npy",
                  tmp_path / "hdf5-with-mat-name.mat", tmp_path / "fake.mat",
                  tmp_path / "foreign.h5"]
    for bad in candidates:
        _reject_d2d_everywhere(d2d_files, bad, f"wrong kind: {bad.name}", "file of another kind")


# ------------------------------------------------------------------ solution files

solution_content = st.one_of(
    st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from([np.nan, np.inf, -1.0]))
    .map(lambda t: _set_value("p_w", (t[0], t[1]), t[2])),
    st.sampled_from([
        _replace("p_w", lambda a: a[:, :2]), _replace("p_w", lambda a: a[:-1]),
        _replace("p_w", lambda a: a[0]), _replace("p_w", lambda a: a.astype("S4")),
        _replace("status", lambda a: np.array([b"great"] * len(a))),
        _replace("status", lambda a: a[:-1]), _replace("iterations", lambda a: a[:, None]),
        _replace("objective", lambda a: a[:2]), _drop("p_w"), _drop("status"),
        _drop("objective"),
    ]),
    st.sampled_from(["method", "options", "config", "seed"]).flatmap(
        lambda k: st.sampled_from([None, 7.5, [1]] + ([] if k == "method" else ["x"])).map(
            lambda v: _meta(lambda m: m.update({k: v})))),
    st.integers(4, 10**6).map(lambda s: _meta(lambda m: m.update(seed=s))),   # other layouts
    st.sampled_from(["d2d-layouts", "miso-samples"]).map(lambda k: _meta(
        lambda m: m.update(kind=k))),
)


@PROPERTY
@given(corrupt=solution_content)
def test_crafted_solution_files_are_rejected_by_evaluate(d2d_files, corrupt):
    with workdir() as d:
        bad = d / "bad-solution.h5"
        content = _make_variant(d2d_files["fp"], bad, corrupt, reseal=True)
        expect_load_rejects("loader: crafted solution file", content,
                            lambda: _load_and_match(bad, d2d_files), [str(bad)])
        expect_cli_rejects("cli: evaluate, crafted solution file",
                           ["evaluate", d2d_files["data"], bad], d, [str(bad)],
                           key=content)


def _load_and_match(bad, files):
    from wirelessrl.solutions import evaluate_files

    load_solution(bad)
    evaluate_files(files["data"], [bad])


# ----------------------------------------------------------------------- MISO files

miso_content = st.one_of(
    st.sampled_from(["h", "y", "positions_m", "factors"]).flatmap(lambda name: st.sampled_from([
        _replace(name, lambda a: a[:, :1]), _replace(name, lambda a: a[0]), _drop(name),
        _replace(name, lambda a: np.where(np.ones(a.shape, bool), np.nan, a).astype(a.dtype)),
        _replace(name, lambda a: a.astype("S4")),
    ])),
    st.sampled_from([
        _replace("pilots", lambda a: a * 2.0), _replace("pilots", lambda a: a[:2]),
        _replace("pilots", lambda a: a[None]), _replace("sensing", lambda a: a[:2]),
        _replace("sensing", lambda a: a[0]), _replace("pilots", lambda a: a.astype("S4")),
        _drop("pilots"), _drop("sensing"),
    ]),
    st.sampled_from(["config", "seed", "system_seed"]).map(lambda k: _meta(lambda m: m.pop(k))),
    st.sampled_from(["seed", "system_seed"]).flatmap(lambda k: bad_seed_values.map(
        lambda v: _meta(lambda m: m.update({k: v})))),
    st.sampled_from([("n_pilots", 0), ("n_pilots", 6), ("array_rows", 2), ("p_ue_dbm", 20.0),
                     ("noise_law", "x"), ("rician_k", -1), ("bs_positions_m", [[0, 0]]),
                     ("zz", 1)]).map(lambda t: _config(*t)),
)


@settings(PROPERTY, max_examples=60)
@given(corrupt=miso_content)
def test_crafted_miso_files_are_rejected(d2d_files, corrupt):
    with workdir() as d:
        bad = d / "bad-miso.h5"
        content = _make_variant(d2d_files["miso"], bad, corrupt, reseal=True)
        expect_load_rejects("loader: crafted MISO file", content, lambda: load_miso(bad),
                            [str(bad)])


@settings(PROPERTY, max_examples=10)
@given(other=st.integers(1, 2**40))
def test_miso_files_from_another_system_seed_are_rejected(d2d_files, other):
    system = make_system(MisoConfig.from_preset("paper"), other)
    msg = expect_load_rejects("loader: MISO file of another system seed", f"system {other}",
                              lambda: load_miso(d2d_files["miso"], system),
                              [str(d2d_files["miso"])])
    assert "system_seed" in msg


# ----------------------------------------------------------------------- checkpoints


class _Exploit:
    """Unpickling it would create the folder ``path``: the proof that a pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.fixture(scope="module")
def net_file(tmp_path_factory):
    from wirelessrl.models import TransferNet, d2d_net_config

    path = tmp_path_factory.mktemp("net") / "net.pt"
    save_net(path, TransferNet.from_config(d2d_net_config(3)), seed=1)
    return path


def _payload_edit(kind):
    def edit(payload):
        state = dict(payload["state_dict"])
        first = sorted(state)[0]
        if kind == "nan":
            state[first] = state[first] * float("nan")
        elif kind == "shape":
            state[first] = torch.zeros(2, 2)
        elif kind == "extra":
            state["bogus.weight"] = torch.zeros(1)
        elif kind == "missing":
            del state[first]
        elif kind == "other-net":
            from wirelessrl.models import TransferNet, d2d_net_config

            state = TransferNet.from_config(d2d_net_config(4)).state_dict()
        payload["state_dict"] = state
    return edit


checkpoint_edits = st.one_of(
    st.sampled_from(["nan", "shape", "extra", "missing", "other-net"]).map(_payload_edit),
    st.sampled_from(["format", "net_config", "state_dict", "meta"]).map(
        lambda k: lambda p: p.pop(k)),
    st.sampled_from([("format", "wirelessrl-net/0"), ("net_config", "{bad"), ("net_config", 5),
                     ("net_config", '{"a": 1}'), ("net_config", "[]"), ("meta", "{bad"),
                     ("state_dict", "x"), ("state_dict", [1, 2])]).map(
        lambda t: lambda p: p.update({t[0]: t[1]})),
)


@settings(PROPERTY, max_examples=40)
@given(edit=checkpoint_edits)
def test_checkpoints_not_matching_the_model_are_rejected(net_file, edit):
    payload = load_checkpoint(net_file)
    edit(payload)
    with workdir() as d:
        bad = save_checkpoint(d / "bad.pt", payload)  # consistently checksummed, wrong inside
        expect_load_rejects("loader: crafted checkpoint", bad.read_bytes(),
                            lambda: load_net(bad), [str(bad)])


@settings(PROPERTY, max_examples=60)
@given(data=st.data())
def test_truncated_flipped_and_pickled_checkpoints_are_rejected(net_file, data):
    raw = net_file.read_bytes()
    how = data.draw(st.sampled_from(["truncate", "flip", "flip-head", "pickle", "not-a-dict"]))
    with workdir() as d:
        bad = d / "bad.pt"
        if how == "truncate":
            content = raw[:data.draw(st.integers(0, len(raw) - 1))]
        elif how.startswith("flip"):
            hi = 4096 if how == "flip-head" else len(raw) - 1  # the head holds the pickle
            pos = data.draw(st.integers(0, min(hi, len(raw) - 1)))
            b = bytearray(raw)
            b[pos] ^= data.draw(st.integers(1, 255))
            content = bytes(b)
        elif how == "pickle":
            torch.save({"format": "wirelessrl-net/1", "x": _Exploit(d / "pwned"),
                        "n": data.draw(st.integers(0, 10**6))}, bad)
            content = bad.read_bytes()
        else:
            torch.save(data.draw(st.sampled_from([[1, 2], 3, "net", (torch.ones(2),)])), bad)
            content = bad.read_bytes()
        bad.write_bytes(content)
        if how.startswith("flip") and _same_network(bad, net_file):
            # the flip hit zip framing or padding that torch never reads: same weights
            record_harmless("byte flips in checkpoint zip framing", content)
            return
        expect_load_rejects(f"loader: {how} checkpoint", content, lambda: load_net(bad),
                            [str(bad)])
        assert not (d / "pwned").exists()


def _same_network(path, original) -> bool:
    try:
        net, meta = load_net(path)
    except Exception:  # noqa: BLE001 - judged by expect_load_rejects
        return False
    ref, ref_meta = load_net(original)
    ref_state = ref.state_dict()
    same = meta == ref_meta and all(torch.equal(v, ref_state[k])
                                    for k, v in net.state_dict().items())
    assert same, f"{path} loaded with different weights or metadata"
    return True


def test_raw_pickle_checkpoint_is_refused_not_executed(tmp_path):
    bad = tmp_path / "exploit.pt"
    marker = tmp_path / "ran"
    bad.write_bytes(pickle.dumps(_Exploit(marker)))
    expect_load_rejects("loader: pickled checkpoint", bad.read_bytes(), lambda: load_net(bad),
                        [str(bad)])
    assert not marker.exists()
