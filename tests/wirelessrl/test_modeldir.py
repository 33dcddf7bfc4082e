"""``wirelessrl train d2d`` / ``predict``: a model folder that applies to any compatible data
file and that ``evaluate`` scores like a solver; transfers ``--from`` a source model; clear
errors for wrong sizes and damaged folders."""

import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from model_helpers import interrupt_after, interrupted_then_resumed, metrics_without_times
from safetensors.torch import save_file

from simulators.d2d import D2DConfig
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.datasets import load_d2d, simulate_d2d_file
from wirelessrl.importer import import_d2d
from wirelessrl.model_tasks import GNN_HEAD_LAYERS
from wirelessrl.modeldir import MODEL_JSON, WEIGHTS_FILE, load_model, predict_file, train_d2d
from wirelessrl.solution_files import data_checksum
from wirelessrl.solutions import evaluate_files, load_solution

N = 4
TINY = {"epochs": 2, "batch_size": 50, "threads": 1, "device": "cpu"}
MLP = {**TINY, "family": "mlp"}  # the paper's network; gnn is the default family
FAM = ("--family", "mlp")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Data files: 200 and 60 layouts of 4 links, 30 of 6 links (``paper`` geometry)."""
    root = tmp_path_factory.mktemp("data")
    cfg = D2DConfig.from_preset("paper", n_links=N, snr_gap_db=3.0)
    return {"train": simulate_d2d_file(cfg, 200, 1, root / "train.h5"),
            "test": simulate_d2d_file(cfg, 60, 2, root / "test.h5"),
            "six": simulate_d2d_file(cfg.replace(n_links=6), 30, 3, root / "six.h5")}


@pytest.fixture(scope="module")
def sum_model(files, tmp_path_factory):
    """A reconstruction-trained sum-rate MLP (a source for transfers) and its folder."""
    path = tmp_path_factory.mktemp("models") / "sum"
    return train_d2d(files["train"], path, objective="sum", strategy="reconstruction", **MLP)


@pytest.fixture()
def runner():
    return CliRunner()


def _cli(runner, *args):
    return runner.invoke(main, [str(a) for a in args])


def _one_line_error(result, pattern):
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert re.search(pattern, result.output), result.output


# ------------------------------------------------------------------ round trip


def test_train_predict_evaluate_round_trip(runner, files, tmp_path):
    model_dir = tmp_path / "mymodel"
    result = _cli(runner, "train", "d2d", *FAM, "--data", files["train"], "--objective", "min",
                  "--epochs", "2", "--batch-size", "50", "--lr", "1e-3", "--threads", "1",
                  "--device", "cpu", "-o", model_dir)
    assert result.exit_code == 0, result.output
    assert "trained a mlp min-rate network (regular" in result.output
    assert sorted(p.name for p in model_dir.iterdir()) == ["metrics.csv", MODEL_JSON,
                                                           WEIGHTS_FILE]
    info = json.loads((model_dir / MODEL_JSON).read_text())
    assert info["objective"] == "min" and info["sizes"] == {"links": N} and info["family"] == "mlp"
    assert info["system"] == load_d2d(files["train"]).config.to_dict()
    assert info["training"]["n_train"] == 180 and info["training"]["n_valid"] == 20
    assert info["training"]["train_config"]["epochs"] == 2
    assert info["provenance"]["data_file"] == str(files["train"].resolve())
    assert info["provenance"]["seed"] == 0 and info["provenance"]["version"]
    assert info["inputs"]["transform"] == "standardized" and len(info["inputs"]["mean"]) == N * N
    assert not list(tmp_path.glob(".*"))  # no temporary folder left
    result = _cli(runner, "predict", model_dir, files["test"], "-o", tmp_path / "p.h5")
    assert result.exit_code == 0, result.output
    assert "mymodel: 60 layouts" in result.output
    arrays, meta = load_solution(tmp_path / "p.h5")
    assert meta["method"] == "mymodel" and meta["task"] == "min-rate"
    assert set(arrays["status"]) == {"unverified"} and (arrays["iterations"] == 0).all()
    for solver in ("maxmin", "fp"):
        assert _cli(runner, "solve", files["test"], "--method", solver, "-o",
                    tmp_path / f"{solver}.h5").exit_code == 0
    result = _cli(runner, "evaluate", files["test"], tmp_path / "maxmin.h5", tmp_path / "fp.h5",
                  tmp_path / "p.h5")
    assert result.exit_code == 0, result.output
    rows = {(r.method, r.metric): r for r in evaluate_files(
        files["test"], [tmp_path / "maxmin.h5", tmp_path / "p.h5"])}
    net_min = rows["mymodel", "min-rate"]
    assert net_min.reference == "maxmin" and 0 < net_min.pct_of_reference_mean_ratio < 100.0001
    # the file's objective column is the min-rate of its powers (bit/s/Hz)
    cfg = load_d2d(files["test"]).config
    assert np.isclose(arrays["objective"].mean() * cfg.bandwidth_hz / 1e6, net_min.mean)


def test_predictions_equal_the_in_memory_model(files, sum_model, tmp_path):
    data = load_d2d(files["test"])
    in_memory = sum_model.power_fractions(data.g) * data.config.p_max_w
    res = predict_file(sum_model.path, files["test"], tmp_path / "p.h5")
    arrays, _ = load_solution(res.path)
    np.testing.assert_array_equal(arrays["p_w"], in_memory)
    # in chunks of 7 layouts: float32 matrix products of another batch size, ~1 ulp
    chunked, _ = load_solution(predict_file(sum_model.path, files["test"], tmp_path / "c.h5",
                                            chunk_size=7).path)
    np.testing.assert_allclose(chunked["p_w"], in_memory, rtol=1e-6, atol=0)
    # the same numbers by hand: the standardized flat gains through the loaded network
    loaded = load_model(sum_model.path)
    s = loaded.inputs.standardizer
    x = ((data.g.reshape(len(data.g), -1) - s.mean) / s.std).astype(np.float32)
    with torch.no_grad():
        out = loaded.net(torch.from_numpy(x), head="sum_rate")["out"].double().numpy()
    np.testing.assert_array_equal(arrays["p_w"], out * data.config.p_max_w)
    assert all(torch.equal(a, b) for a, b in zip(loaded.net.state_dict().values(),
                                                 sum_model.net.state_dict().values(),
                                                 strict=True))
    assert res.differences == []


def test_log_db_input_transform(files, sum_model, tmp_path):
    model = train_d2d(files["train"], tmp_path / "l", objective="sum",
                      input_transform="log-db", **MLP)
    assert load_model(tmp_path / "l").inputs.standardizer.log_db
    g = load_d2d(files["test"]).g
    np.testing.assert_array_equal(load_model(tmp_path / "l").power_fractions(g),
                                  model.power_fractions(g))
    with pytest.raises(ConfigError, match=r"input_transform='log-db' is for a new mlp"):
        train_d2d(files["train"], tmp_path / "x", objective="min", source=sum_model.path,
                  input_transform="log-db", **MLP)


def test_the_default_family_is_the_graph_network(runner, files, tmp_path):
    result = _cli(runner, "train", "d2d", "--data", files["train"], "--objective", "sum",
                  "--epochs", "1", "--batch-size", "50", "--threads", "1", "--device", "cpu",
                  "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "m" / MODEL_JSON).read_text())
    assert info["family"] == "gnn" and info["sizes"] == {"links": None}
    assert info["net"]["graph"].get("head_layers", 0) == GNN_HEAD_LAYERS


def test_gnn_model_takes_any_number_of_links(files, tmp_path):
    model = train_d2d(files["train"], tmp_path / "g", objective="sum", family="gnn", **TINY)
    assert model.fixed_sizes == {}
    res = predict_file(tmp_path / "g", files["six"], tmp_path / "p6.h5")
    arrays, _ = load_solution(res.path)
    assert arrays["p_w"].shape == (30, 6)
    assert json.loads((tmp_path / "g" / MODEL_JSON).read_text())["sizes"] == {"links": None}


def test_model_on_imported_gains(runner, files, tmp_path):
    np.save(tmp_path / "g.npy", load_d2d(files["train"]).g)
    import_d2d(tmp_path / "g.npy", tmp_path / "imp.h5", overrides={"snr_gap_db": 3.0})
    result = _cli(runner, "train", "d2d", *FAM, "--data", tmp_path / "imp.h5", "--objective", "sum",
                  "--epochs", "1", "--threads", "1", "--device", "cpu", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    result = _cli(runner, "predict", tmp_path / "m", tmp_path / "imp.h5", "-o", tmp_path / "p.h5")
    assert result.exit_code == 0, result.output
    assert _cli(runner, "evaluate", tmp_path / "imp.h5", tmp_path / "p.h5").exit_code == 0
    # a model trained on 3 dB gap data applied to 0 dB data: a note, not an error
    import_d2d(tmp_path / "g.npy", tmp_path / "gap0.h5")
    result = _cli(runner, "predict", tmp_path / "m", tmp_path / "gap0.h5", "-o",
                  tmp_path / "p0.h5")
    assert result.exit_code == 0 and "note: the data's system differs" in result.output
    assert "snr_gap_db 3.0 (training) vs 0.0 (data)" in result.output


# ------------------------------------------------------------------ transfer


def test_reconstruction_transfer_keeps_the_source_features(files, sum_model, tmp_path):
    target = train_d2d(files["test"], tmp_path / "min", objective="min", source=sum_model.path,
                       **MLP)
    t = target.info["training"]
    assert t["strategy"] == "reconstruction" and t["alpha"] == 3.0
    assert t["from"]["path"] == str(sum_model.path.resolve())
    assert t["from"]["weights_sha256"] == sum_model.info["weights_sha256"]
    assert target.head == "min_rate" and target.net.head_names == ("min_rate",)
    src, tgt = sum_model.net.state_dict(), load_model(tmp_path / "min").net.state_dict()
    features = [k for k in src if k.startswith("features.")]
    assert features and all(torch.equal(src[k], tgt[k]) for k in features)  # frozen
    assert target.inputs.to_dict() == sum_model.inputs.to_dict()  # the source's input map
    fine = train_d2d(files["test"], tmp_path / "fine", objective="min", source=sum_model.path,
                     strategy="finetune", **MLP)
    assert fine.info["training"]["feature_lr_scale"] == 0.1
    assert not all(torch.equal(src[k], fine.net.state_dict()[k]) for k in features)


def test_transfer_errors(files, sum_model, tmp_path):
    with pytest.raises(ConfigError, match=r"strategy='conventional' needs a source trained "
                                          r"without the reconstruction loss"):
        train_d2d(files["test"], tmp_path / "x", objective="min", source=sum_model.path,
                  strategy="conventional", **MLP)
    with pytest.raises(ConfigError, match=r"strategy='regular' is invalid with a source model"):
        train_d2d(files["test"], tmp_path / "x", objective="min", source=sum_model.path,
                  strategy="regular", **MLP)
    with pytest.raises(ConfigError, match=r"strategy='finetune' is invalid without a source"):
        train_d2d(files["test"], tmp_path / "x", objective="min", strategy="finetune", **MLP)
    with pytest.raises(ConfigError, match=r"family='gnn' differs from the source model's 'mlp'"):
        train_d2d(files["test"], tmp_path / "x", objective="min", source=sum_model.path,
                  family="gnn", **TINY)
    with pytest.raises(ConfigError, match=r"was trained for 4 links; data .*six.h5' has 6 links"):
        train_d2d(files["six"], tmp_path / "x", objective="min", source=sum_model.path, **MLP)
    plain = train_d2d(files["test"], tmp_path / "plain", objective="sum", **MLP)
    with pytest.raises(ConfigError, match=r"strategy='reconstruction' needs a source trained "
                                          r"with the reconstruction loss"):
        train_d2d(files["test"], tmp_path / "x", objective="min", source=plain.path,
                  strategy="reconstruction", **MLP)
    conv = train_d2d(files["test"], tmp_path / "conv", objective="min", source=plain.path,
                     **MLP)
    assert conv.info["training"]["strategy"] == "conventional"
    assert not (tmp_path / "x").exists()


def test_cli_transfer_from_a_source_model(runner, files, sum_model, tmp_path):
    result = _cli(runner, "train", "d2d", *FAM, "--data", files["test"], "--objective", "min",
                  "--from", sum_model.path, "--strategy", "reconstruction", "--epochs", "2",
                  "--threads", "1", "--device", "cpu", "-o", tmp_path / "t")
    assert result.exit_code == 0, result.output
    assert "min-rate network (reconstruction" in result.output


# ------------------------------------------------------------------ errors


def test_size_mismatch_is_one_line_naming_both_sizes(runner, files, sum_model, tmp_path):
    result = _cli(runner, "predict", sum_model.path, files["six"], "-o", tmp_path / "p.h5")
    _one_line_error(result, r"model '.*sum' was trained for 4 links; data '.*six.h5' has 6 "
                            r"links \(an mlp model takes one size; train a --family gnn model")
    assert not (tmp_path / "p.h5").exists()


def _copy(model, tmp_path, name="m"):
    import shutil

    return shutil.copytree(model.path, tmp_path / name)


def test_missing_or_corrupted_model_json(files, sum_model, tmp_path):
    m = _copy(sum_model, tmp_path)
    text = (m / MODEL_JSON).read_text()
    (m / MODEL_JSON).unlink()
    with pytest.raises(ConfigError, match=r"lacks model.json; expected a folder written by "
                                          r"'wirelessrl train'"):
        load_model(m)
    (m / MODEL_JSON).write_text(text[: len(text) // 2])
    with pytest.raises(ConfigError, match=r"model.json is not valid JSON"):
        load_model(m)
    (m / MODEL_JSON).write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"model.json holds a list; expected an object"):
        load_model(m)
    info = json.loads(text)
    for change, message in [
        ({"format": "other/1"}, r"format='other/1'; expected 'wirelessrl-model/1'"),
        ({"objective": "max"}, r"objective='max' is invalid; expected one of sum, min"),
        ({"system": {**info["system"], "n_links": "four"}}, r"n_links='four' is invalid"),
        ({"net": {**info["net"], "feature_widths": [25, 150, 150, 100]}},
         r"does not match the model|takes 25 inputs"),
        ({"inputs": {"transform": "standardized", "mean": [0.0], "std": [0.0]}},
         r"inputs: mean \(1,\) / std \(1,\) are invalid"),
    ]:
        (m / MODEL_JSON).write_text(json.dumps({**info, **change}))
        with pytest.raises(ConfigError, match=message):
            load_model(m)
    broken = {k: v for k, v in info.items() if k != "inputs"}
    (m / MODEL_JSON).write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match=r"model.json lacks 'inputs'"):
        load_model(m)


def test_damaged_or_foreign_weights(files, sum_model, tmp_path):
    m = _copy(sum_model, tmp_path)
    weights = m / WEIGHTS_FILE
    raw = bytearray(weights.read_bytes())
    raw[-5] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match=r"weights.safetensors failed its checksum"):
        load_model(m)
    info = json.loads((m / MODEL_JSON).read_text())

    def install(data: bytes) -> None:
        weights.write_bytes(data)
        import hashlib

        info["weights_sha256"] = hashlib.sha256(data).hexdigest()
        (m / MODEL_JSON).write_text(json.dumps(info))

    import pickle

    install(pickle.dumps({"features.layers.0.weight": "code"}))  # never unpickled
    with pytest.raises(ConfigError, match=r"is not a readable safetensors file"):
        load_model(m)
    save_file({"other.weight": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    install((tmp_path / "w.safetensors").read_bytes())
    with pytest.raises(ConfigError, match=r"does not match the model: the file lacks"):
        load_model(m)
    state = {k: v.clone() for k, v in sum_model.net.state_dict().items()}
    next(iter(state.values()))[0] = float("nan")
    save_file(state, str(tmp_path / "w.safetensors"))
    install((tmp_path / "w.safetensors").read_bytes())
    with pytest.raises(ConfigError, match=r"holds NaN or inf"):
        load_model(m)
    weights.unlink()
    with pytest.raises(ConfigError, match=r"lacks weights.safetensors"):
        load_model(m)
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_model(tmp_path / "none")
    with pytest.raises(ConfigError, match=r"is a file; expected a folder"):
        load_model(weights.parent / MODEL_JSON)


def test_output_folder_rules(runner, files, sum_model, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    base = ["train", "d2d", *FAM, "--data", files["test"], "--objective", "sum", "--epochs", "1",
            "--threads", "1", "--device", "cpu", "-o"]
    _one_line_error(_cli(runner, *base, tmp_path / "taken"), r"exists; pass --overwrite")
    _one_line_error(_cli(runner, *base, tmp_path / "taken", "--overwrite"),
                    r"is a folder without model.json \(not a model folder\)")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    _one_line_error(_cli(runner, *base, tmp_path / "no" / "such" / "m"),
                    r"its folder .* does not exist")
    m = _copy(sum_model, tmp_path, "again")
    old = json.loads((m / MODEL_JSON).read_text())["weights_sha256"]
    assert _cli(runner, *base, m, "--overwrite").exit_code == 0
    assert json.loads((m / MODEL_JSON).read_text())["weights_sha256"] != old
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_train_with_a_cosine_schedule_logs_the_decaying_rate(runner, files, tmp_path):
    import csv
    import math

    model_dir = tmp_path / "cos"
    result = _cli(runner, "train", "d2d", *FAM, "--data", files["train"], "--objective", "sum",
                  "--epochs", "3", "--batch-size", "50", "--lr", "2e-3", "--threads", "1",
                  "--lr-schedule", "cosine", "--device", "cpu", "-o", model_dir)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(model_dir / "metrics.csv")))
    want = [2e-3 * 0.5 * (1 + math.cos(math.pi * e / 3)) for e in range(3)]
    assert [float(r["lr"]) for r in rows] == pytest.approx(want, rel=1e-12)
    info = json.loads((model_dir / MODEL_JSON).read_text())
    assert info["training"]["train_config"]["lr_schedule"] == "cosine"


@pytest.mark.parametrize(("args", "pattern"), [
    (["--epochs", "0"], r"epochs=0 is invalid; expected an integer >= 1"),
    (["--valid-fraction", "1.5"], r"valid_fraction=1.5 is invalid; expected a number in \(0, 1\)"),
    (["--lr", "-1"], r"lr=-1.0 is invalid; expected a number > 0"),
    (["--objective", "max"], r"Invalid value for '--objective'"),
    (["--lr-schedule", "linear"], r"Invalid value for '--lr-schedule'.*constant.*cosine"),
])
def test_bad_training_options(runner, files, tmp_path, args, pattern):
    base = {"--data": str(files["test"]), "--objective": "sum", "--threads": "1"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    flat = [x for kv in base.items() for x in kv]
    _one_line_error(_cli(runner, "train", "d2d", *flat, "-o", tmp_path / "m"), pattern)
    assert not list(tmp_path.iterdir())


def test_predict_label_and_output_rules(runner, files, sum_model, tmp_path):
    _one_line_error(_cli(runner, "predict", sum_model.path, files["test"], "-o",
                         tmp_path / "p.h5", "--label", "fp"),
                    r"label='fp' is the name of a solver")
    (tmp_path / "p.h5").write_text("keep")
    _one_line_error(_cli(runner, "predict", sum_model.path, files["test"], "-o",
                         tmp_path / "p.h5"), r"exists; pass --overwrite")
    assert (tmp_path / "p.h5").read_text() == "keep"
    _one_line_error(_cli(runner, "predict", tmp_path / "nomodel", files["test"], "-o",
                         tmp_path / "q.h5"), r"model folder '.*nomodel' does not exist")
    res = predict_file(sum_model, files["test"], tmp_path / "p2.mat", label="net")
    arrays, meta = load_solution(res.path)  # a MATLAB file, like solve -o x.mat
    assert meta["method"] == "net" and arrays["p_w"].shape == (60, N)
    assert set(arrays["status"]) == {"unverified"}
    assert evaluate_files(files["test"], [res.path])
    _one_line_error(_cli(runner, "predict", sum_model.path, files["test"], "-o",
                         tmp_path / "p.txt"), r"has the suffix '.txt'; expected one of")
    _one_line_error(_cli(runner, "predict", sum_model.path, files["test"], "-o",
                         tmp_path / "none" / "p.h5"), r"does not exist; create it first")


# ------------------------------------------------------------------ training from disk

def _weights(model):
    return {k: v.clone() for k, v in model.net.state_dict().items()}


@pytest.mark.parametrize("family, strategy", [("mlp", "regular"), ("gnn", "reconstruction")])
def test_streamed_training_in_one_chunk_gives_the_in_memory_weights(files, tmp_path, family,
                                                                    strategy):
    """One chunk of all 180 training layouts: the same split, statistics, minibatches and
    hence weights, bit for bit (the chunk-wise shuffle of one chunk is the permutation)."""
    kw = {**MLP, "objective": "min", "family": family, "strategy": strategy, "seed": 5}
    ref = train_d2d(files["train"], tmp_path / "mem", stream=False, **kw)
    disk = train_d2d(files["train"], tmp_path / "disk", stream=True, chunk_size=200, **kw)
    assert disk.info["training"]["streamed"] and not ref.info["training"]["streamed"]
    assert disk.inputs.to_dict() == ref.inputs.to_dict()
    a, b = _weights(ref), _weights(disk)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_streamed_training_in_small_chunks_is_reproducible_and_close(files, tmp_path,
                                                                     monkeypatch):
    """Chunks of 32 layouts: statistics merged over chunks (agree to 1e-12), minibatches
    of a chunk-wise shuffle (other weights, like another seed: the validation figure
    within 1 % after 2 epochs; 3e-5 measured), the same weights on a rerun; automatic above
    STREAM_BYTES (here 0)."""
    import wirelessrl.modeldir as modeldir

    kw = {**MLP, "objective": "sum", "seed": 1}
    ref = train_d2d(files["train"], tmp_path / "mem", **kw)
    monkeypatch.setattr(modeldir, "STREAM_BYTES", 0)
    runs = [train_d2d(files["train"], tmp_path / f"disk{k}", chunk_size=32, **kw)
            for k in range(2)]
    assert runs[0].info["training"]["streamed"] and runs[0].info["training"]["chunk_size"] == 32
    np.testing.assert_allclose(runs[0].inputs.standardizer.mean, ref.inputs.standardizer.mean,
                               rtol=1e-12)
    np.testing.assert_allclose(runs[0].inputs.standardizer.std, ref.inputs.standardizer.std,
                               rtol=1e-12)
    a, b, c = _weights(ref), _weights(runs[0]), _weights(runs[1])
    assert all(torch.equal(b[k], c[k]) for k in b)
    assert not all(torch.equal(a[k], b[k]) for k in a)
    mem, disk = (m.info["training"]["result"]["best_metric"] for m in (ref, runs[0]))
    assert disk == pytest.approx(mem, rel=0.01), (disk, mem)


# ------------------------------------------------------------------ --valid FILE


def test_valid_file_selects_the_best_epoch_on_that_file(runner, files, tmp_path):
    result = _cli(runner, "train", "d2d", *FAM, "--data", files["train"], "--valid", files["test"],
                  "--objective", "sum", "--epochs", "3", "--batch-size", "50", "--threads", "1",
                  "--device", "cpu", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "m" / MODEL_JSON).read_text())
    t = info["training"]
    assert (t["n_train"], t["n_valid"]) == (200, 60)  # all of --data trains
    assert t["valid_file"] == str(files["test"].resolve()) and t["valid_fraction"] is None
    assert t["valid_sha256"] == data_checksum(files["test"])
    # the kept validation figure is the model's sum-rate on the validation file
    arrays, _ = load_solution(predict_file(tmp_path / "m", files["test"], tmp_path / "p.h5").path)
    assert np.isclose(t["result"]["best_metric"], arrays["objective"].mean(), rtol=1e-4)


def test_valid_file_of_another_system_is_a_one_line_error(runner, files, tmp_path):
    base = ["train", "d2d", *FAM, "--data", files["train"], "--objective", "sum", "--epochs", "1",
            "--threads", "1", "--device", "cpu", "-o", tmp_path / "m"]
    _one_line_error(_cli(runner, *base, "--valid", files["six"]),
                    r"valid file '.*six.h5' has another system than data '.*train.h5' "
                    r"\(n_links 6 vs 4\); expected the same config")
    cfg = load_d2d(files["train"]).config
    other = simulate_d2d_file(cfg.replace(snr_gap_db=0.0), 20, 9, tmp_path / "gap0.h5")
    _one_line_error(_cli(runner, *base, "--valid", other),
                    r"\(snr_gap_db 0.0 vs 3.0\); expected the same config")
    _one_line_error(_cli(runner, *base, "--valid", files["test"], "--valid-fraction", "0.2"),
                    r"expected one of --valid and --valid-fraction")
    _one_line_error(_cli(runner, *base, "--valid", tmp_path / "none.h5"), r"none.h5")
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------ resume


def test_interrupted_train_resumes_to_the_uninterrupted_result(runner, files, tmp_path,
                                                              monkeypatch):
    from wirelessrl.modeldir import training_state_dir

    args = ["train", "d2d", *FAM, "--data", files["train"], "--objective", "sum", "--strategy",
            "reconstruction", "--epochs", "6", "--batch-size", "50", "--threads", "1",
            "--device", "cpu", "--checkpoint-every", "0", "-o"]
    assert _cli(runner, *args, tmp_path / "ref").exit_code == 0
    interrupt_after(monkeypatch, 3)
    result = _cli(runner, *args, tmp_path / "m")
    assert result.exit_code == 130, result.output
    assert "interrupted: stopped by Ctrl-C; no model folder was written; rerun the same " \
           "command to resume from epoch 3" in result.output
    state = training_state_dir(tmp_path / "m")
    assert not (tmp_path / "m").exists() and (state / "last.pt").is_file()
    monkeypatch.undo()
    # other settings: an error that names them, and the interrupted state stays
    _one_line_error(_cli(runner, *args, tmp_path / "m", "--lr", "2e-3"),
                    r"has an interrupted training with other settings \(they differ in "
                    r"train_config.lr\).*expected the same command to resume it, or --restart")
    result = _cli(runner, *args, tmp_path / "m")  # the same command (the epoch budget may grow)
    assert result.exit_code == 0, result.output
    assert "resumed from epoch 3, best epoch" in result.output
    ref, res = (json.loads((tmp_path / n / MODEL_JSON).read_text()) for n in ("ref", "m"))
    assert res["weights_sha256"] == ref["weights_sha256"]  # bitwise the same weights
    assert res["training"]["result"]["resumed_from"] == 3
    assert res["training"]["result"]["best_metric"] == ref["training"]["result"]["best_metric"]
    assert metrics_without_times(tmp_path / "m") == metrics_without_times(tmp_path / "ref")
    assert len(metrics_without_times(tmp_path / "m")) == 6
    assert not state.exists()
    # a finished model folder stays an error without --overwrite
    _one_line_error(_cli(runner, *args, tmp_path / "m"), r"exists; pass --overwrite")


def test_restart_discards_an_interrupted_training(runner, files, tmp_path, monkeypatch):
    from wirelessrl.modeldir import training_state_dir

    args = ["train", "d2d", *FAM, "--data", files["test"], "--objective", "min", "--epochs", "3",
            "--batch-size", "50", "--threads", "1", "--device", "cpu", "--checkpoint-every",
            "0", "-o", tmp_path / "m"]
    interrupt_after(monkeypatch, 1)
    assert _cli(runner, *args).exit_code == 130
    monkeypatch.undo()
    result = _cli(runner, *args, "--lr", "2e-3", "--restart")
    assert result.exit_code == 0 and "resumed" not in result.output, result.output
    assert json.loads((tmp_path / "m" / MODEL_JSON).read_text())["training"][
        "train_config"]["lr"] == 2e-3
    assert not training_state_dir(tmp_path / "m").exists()


def test_interrupted_streamed_train_resumes_to_the_uninterrupted_result(files, tmp_path,
                                                                       monkeypatch):
    kw = {**MLP, "epochs": 4, "objective": "sum", "stream": True, "chunk_size": 32,
          "checkpoint_every_s": 0.0}
    ref = train_d2d(files["train"], tmp_path / "ref", **kw)
    model = interrupted_then_resumed(train_d2d, files["train"], tmp_path / "m", monkeypatch, 2,
                                     **kw)
    assert model.info["training"]["streamed"]
    assert model.info["training"]["result"]["resumed_from"] == 2
    assert model.info["weights_sha256"] == ref.info["weights_sha256"]
    assert metrics_without_times(tmp_path / "m") == metrics_without_times(tmp_path / "ref")
