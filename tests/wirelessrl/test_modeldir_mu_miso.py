"""``wirelessrl train mu-miso`` / ``predict`` on multi-user MISO files: the model folder of
the D2D models, beamformer solution files that ``evaluate`` scores like a solver, beams on
the power sphere, any K for a ``structured`` model and one-line errors for wrong sizes."""

import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from model_helpers import interrupted_then_resumed, metrics_without_times

from simulators.mu_miso import MuMisoConfig
from simulators.validation import ConfigError
from wirelessrl.beamforming_solutions import evaluate_mu_miso_files, load_mu_miso_solution
from wirelessrl.cli import main
from wirelessrl.datasets import load_mu_miso, simulate_mu_miso_file
from wirelessrl.importer import import_mu_miso
from wirelessrl.modeldir import (
    MODEL_JSON,
    WEIGHTS_FILE,
    load_model,
    predict_file,
    train_mu_miso,
)

K, M = 3, 4
TINY = {"epochs": 2, "batch_size": 40, "threads": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """120 training and 30 test samples (K = 3, M = 4), 20 of 5 users, 20 of 6 antennas and
    20 at 6 dB less power."""
    root = tmp_path_factory.mktemp("mu")

    def cfg(**changes):
        return MuMisoConfig.from_preset("rayleigh-10db", **{"n_users": K, "n_antennas": M,
                                                            **changes})

    return {"cfg": cfg(),
            "train": simulate_mu_miso_file(cfg(), 120, 1, root / "train.h5"),
            "test": simulate_mu_miso_file(cfg(), 30, 2, root / "test.h5"),
            "five": simulate_mu_miso_file(cfg(n_users=5), 20, 3, root / "five.h5"),
            "six": simulate_mu_miso_file(cfg(n_antennas=6), 20, 4, root / "six.h5"),
            "low": simulate_mu_miso_file(cfg(p_max_dbm=cfg().p_max_dbm - 6), 20, 5,
                                         root / "low.h5")}


@pytest.fixture(scope="module")
def structured(files, tmp_path_factory):
    """A reconstruction-trained structured sum-rate beamformer (a source for transfers)."""
    path = tmp_path_factory.mktemp("models") / "sum-beams"
    return train_mu_miso(files["train"], path, objective="sum", family="structured",
                         strategy="reconstruction", alpha=1.0, **TINY)


@pytest.fixture(scope="module")
def mlp(files, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "mlp-beams"
    return train_mu_miso(files["train"], path, objective="sum", family="mlp", **TINY)


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_line_error(result, pattern):
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert re.search(pattern, result.output), result.output


def _plain_rates(h, w, noise_w):
    """Per-user rates (bit/s/Hz) by the textbook formula, one sample and user at a time."""
    out = np.zeros(h.shape[:2])
    for b in range(h.shape[0]):
        for k in range(h.shape[1]):
            gains = [abs(np.vdot(h[b, k], w[b, j])) ** 2 for j in range(h.shape[1])]
            interference = sum(gains) - gains[k]
            out[b, k] = np.log2(1 + gains[k] / (interference + noise_w))
    return out


def _total_power(w):
    return (np.abs(w) ** 2).sum(axis=(-2, -1))


# ------------------------------------------------------------------ round trip


def test_train_predict_evaluate_round_trip(files, tmp_path):
    model_dir = tmp_path / "beams"
    result = _cli("train", "mu-miso", "--data", files["train"], "--objective", "min",
                  "--family", "structured", "--epochs", "2", "--batch-size", "40",
                  "--threads", "1", "--device", "cpu", "-o", model_dir)
    assert result.exit_code == 0, result.output
    assert "trained a structured min-rate network (regular" in result.output
    assert f"{M} antennas, any number of users" in result.output
    assert sorted(p.name for p in model_dir.iterdir()) == ["metrics.csv", MODEL_JSON,
                                                           WEIGHTS_FILE]
    info = json.loads((model_dir / MODEL_JSON).read_text())
    assert info["task"] == "mu-miso-beamforming" and info["family"] == "structured"
    assert info["sizes"] == {"antennas": M, "users": None}
    assert info["trained_sizes"] == {"antennas": M, "users": K}
    assert info["system"] == files["cfg"].to_dict()
    assert info["training"]["n_train"] == 108 and info["training"]["n_valid"] == 12
    assert "softmin_temperature=0.05" in info["training"]["loss"]
    assert info["inputs"]["input"] == "channel" and len(info["inputs"]["mean"]) == 1

    out = tmp_path / "w.h5"
    result = _cli("predict", model_dir, files["test"], "-o", out)
    assert result.exit_code == 0, result.output
    assert "beams: 30 samples" in result.output
    arrays, meta = load_mu_miso_solution(out)  # an ordinary mu-miso solution file
    assert meta["method"] == "beams" and meta["task"] == "min-rate"
    assert set(arrays["status"]) == {"unverified"} and (arrays["iterations"] == 0).all()
    data = load_mu_miso(files["test"])
    cfg = data.config
    w = arrays["w"]
    assert w.shape == (30, K, M) and np.iscomplexobj(w)
    np.testing.assert_allclose(_total_power(w), cfg.p_max_w, rtol=1e-12)  # power constraint
    np.testing.assert_allclose(arrays["objective"], _plain_rates(data.h, w, cfg.noise_w).min(-1),
                               rtol=1e-9)
    for solver in ("maxmin", "wmmse"):
        assert _cli("solve", files["test"], "--method", solver, "-o",
                    tmp_path / f"{solver}.h5").exit_code == 0
    result = _cli("evaluate", files["test"], tmp_path / "maxmin.h5", tmp_path / "wmmse.h5", out)
    assert result.exit_code == 0, result.output
    assert "beams" in result.output
    rows = {(r.method, r.metric): r for r in evaluate_mu_miso_files(
        files["test"], [tmp_path / "maxmin.h5", out])}
    net_min = rows["beams", "min-rate"]
    assert net_min.reference == "maxmin" and 0 < net_min.pct_of_reference_mean_ratio < 100.0001


def test_predictions_equal_the_in_memory_model(files, structured, tmp_path):
    data = load_mu_miso(files["test"])
    res = predict_file(structured.path, files["test"], tmp_path / "p.h5")
    arrays, _ = load_mu_miso_solution(res.path)
    np.testing.assert_array_equal(arrays["w"], structured.beamformers(data))
    # by hand: the noise-normalized channel pairs through the loaded network, rescaled to P
    loaded = load_model(structured.path)
    x = np.stack([data.h.real, data.h.imag], -1) / np.sqrt(data.config.noise_w)
    with torch.no_grad():
        out = loaded.net(torch.from_numpy(x.astype(np.float32)), head="sum_rate")["out"]
    pairs = out.double().numpy().reshape(30, K, M, 2)
    w = pairs[..., 0] + 1j * pairs[..., 1]
    w *= np.sqrt(data.config.p_max_w / _total_power(w))[:, None, None]
    np.testing.assert_allclose(arrays["w"], w, rtol=1e-12, atol=0)
    # in chunks of 7 samples: the same beams to float32 rounding
    chunked, _ = load_mu_miso_solution(predict_file(structured, files["test"], tmp_path / "c.h5",
                                                    chunk_size=7).path)
    np.testing.assert_allclose(chunked["w"], arrays["w"], rtol=0, atol=1e-5)
    assert res.differences == [] and structured.info["training"]["alpha"] == 1.0
    assert structured.net.decoder is None


def test_mlp_beams_meet_the_power_of_the_data(files, mlp, tmp_path):
    arrays, _ = load_mu_miso_solution(predict_file(mlp, files["test"], tmp_path / "p.h5").path)
    np.testing.assert_allclose(_total_power(arrays["w"]), files["cfg"].p_max_w, rtol=1e-12)
    # data at 6 dB less power: a note, and the beams meet the data's power, not the training's
    res = predict_file(mlp, files["low"], tmp_path / "low.h5")
    assert any(d.startswith("p_max_dbm") for d in res.differences)
    low = load_mu_miso(files["low"]).config
    arrays, _ = load_mu_miso_solution(res.path)
    np.testing.assert_allclose(_total_power(arrays["w"]), low.p_max_w, rtol=1e-12)
    assert low.p_max_w < files["cfg"].p_max_w / 3


def test_structured_model_takes_any_number_of_users(files, structured, tmp_path):
    res = predict_file(structured, files["five"], tmp_path / "p5.h5")
    arrays, _ = load_mu_miso_solution(res.path)
    assert arrays["w"].shape == (20, 5, M)
    assert res.differences == []  # n_pilots differs (5 vs 3): no matter to a channel input
    np.testing.assert_allclose(_total_power(arrays["w"]), files["cfg"].p_max_w, rtol=1e-12)
    assert evaluate_mu_miso_files(files["five"], [res.path])


def test_wrong_sizes_are_one_line_errors_naming_both_sizes(files, structured, mlp, tmp_path):
    _one_line_error(_cli("predict", mlp.path, files["five"], "-o", tmp_path / "p.h5"),
                    rf"model '.*mlp-beams' was trained for {M} antennas and {K} users; data "
                    rf"'.*five.h5' has {M} antennas and 5 users \(an mlp model takes one number "
                    r"of users; train a --family structured model for any number of users\)")
    _one_line_error(_cli("predict", structured.path, files["six"], "-o", tmp_path / "p.h5"),
                    rf"model '.*sum-beams' was trained for {M} antennas; data '.*six.h5' has "
                    r"6 antennas \(a model takes the number of antennas it was trained for")
    _one_line_error(_cli("predict", mlp.path, files["six"], "-o", tmp_path / "p.h5"),
                    rf"trained for {M} antennas and {K} users; data '.*six.h5' has 6 antennas "
                    rf"and {K} users \(a model takes the number of antennas")
    assert not (tmp_path / "p.h5").exists()
    with pytest.raises(ConfigError, match=r"trained for 4 antennas; data .*six.h5' has 6 "):
        train_mu_miso(files["six"], tmp_path / "x", objective="min", source=structured.path,
                      **TINY)
    with pytest.raises(ConfigError, match=r"power_fractions is for a d2d model; .*sum-beams' "
                                          r"is a mu-miso model"):
        structured.power_fractions(np.ones((2, 3, 3)))
    assert not (tmp_path / "x").exists()


def test_transfer_from_a_structured_source(files, structured, tmp_path):
    target = train_mu_miso(files["test"], tmp_path / "min", objective="min",
                           source=structured.path, **TINY)
    t = target.info["training"]
    assert t["strategy"] == "reconstruction" and t["from"]["path"] == str(
        structured.path.resolve())
    src, tgt = structured.net.state_dict(), load_model(tmp_path / "min").net.state_dict()
    features = [k for k in src if k.startswith("features.")]
    assert features and all(torch.equal(src[k], tgt[k]) for k in features)  # frozen
    assert target.inputs.to_dict() == structured.inputs.to_dict()
    # the min-rate head takes its powers from the max-min layer, as one trained from scratch
    head = target.net.config.heads["min_rate"]
    assert head.output_params.get("power_rule") == "maxmin" and head.widths[-1] == 1
    scratch = train_mu_miso(files["test"], tmp_path / "scratch", objective="min",
                            family="structured", **TINY).net.config.heads["min_rate"]
    assert head == scratch
    result = _cli("train", "mu-miso", "--data", files["test"], "--objective", "min", "--from",
                  structured.path, "--strategy", "finetune", "--epochs", "1", "--threads", "1",
                  "--device", "cpu", "-o", tmp_path / "fine")
    assert result.exit_code == 0, result.output
    assert "structured min-rate network (finetune" in result.output
    _one_line_error(_cli("train", "mu-miso", "--data", files["test"], "--objective", "min",
                         "--from", structured.path, "--input", "pilots", "-o", tmp_path / "x"),
                    r"input='pilots' is for a new network; a transfer keeps the source's")
    _one_line_error(_cli("train", "mu-miso", "--data", files["test"], "--objective", "min",
                         "--from", structured.path, "--family", "mlp", "-o", tmp_path / "x"),
                    r"family='mlp' differs from the source model's 'structured'")


def test_models_of_another_task_are_refused(files, structured, tmp_path):
    from simulators.d2d import D2DConfig
    from wirelessrl.datasets import simulate_d2d_file

    d2d = simulate_d2d_file(D2DConfig.from_preset("paper", n_links=3), 40, 1, tmp_path / "d.h5")
    _one_line_error(_cli("train", "d2d", "--data", d2d, "--objective", "min", "--from",
                         structured.path, "-o", tmp_path / "x"),
                    r"source model '.*sum-beams' is a mu-miso model; expected a d2d model")
    _one_line_error(_cli("predict", structured.path, d2d, "-o", tmp_path / "p.h5"),
                    r"is a d2d data file; model '.*sum-beams' takes mu-miso data")
    _one_line_error(_cli("train", "mu-miso", "--data", d2d, "--objective", "min",
                         "-o", tmp_path / "x"),
                    r"is a d2d data file; expected a mu-miso data file for .train mu-miso.")
    assert not (tmp_path / "x").exists() and not (tmp_path / "p.h5").exists()


def test_model_on_imported_channels_and_pilot_inputs(files, tmp_path):
    data = load_mu_miso(files["train"])
    np.save(tmp_path / "h.npy", data.h)
    np.save(tmp_path / "y.npy", data.y)
    imported = import_mu_miso(tmp_path / "h.npy", tmp_path / "imp.h5", preset="rayleigh-10db")
    result = _cli("train", "mu-miso", "--data", imported, "--objective", "sum", "--epochs", "1",
                  "--batch-size", "40", "--threads", "1", "--device", "cpu", "-o",
                  tmp_path / "m")
    assert result.exit_code == 0, result.output
    for args in ([imported, "-o", tmp_path / "p.h5"], [files["test"], "-o", tmp_path / "q.h5"]):
        result = _cli("predict", tmp_path / "m", *args)
        assert result.exit_code == 0, result.output
    assert _cli("evaluate", imported, tmp_path / "p.h5").exit_code == 0
    # the pilots' least-squares estimate as input: needs y in the file
    pilots = train_mu_miso(files["train"], tmp_path / "pil", objective="sum", input_kind="pilots",
                           **TINY)
    assert pilots.inputs.input == "pilots"
    arrays, _ = load_mu_miso_solution(predict_file(pilots, files["test"], tmp_path / "r.h5").path)
    np.testing.assert_allclose(_total_power(arrays["w"]), files["cfg"].p_max_w, rtol=1e-12)
    _one_line_error(_cli("predict", tmp_path / "pil", imported, "-o", tmp_path / "s.h5"),
                    r"these samples hold channels only")
    _one_line_error(_cli("predict", tmp_path / "m", imported, "-o", tmp_path / "s.h5",
                         "--label", "wmmse"), r"label='wmmse' is the name of a solver")


def test_valid_file_for_beamformers(files, tmp_path):
    result = _cli("train", "mu-miso", "--data", files["train"], "--valid", files["test"],
                  "--objective", "min", "--family", "structured", "--epochs", "2",
                  "--batch-size", "40", "--threads", "1", "--device", "cpu", "-o",
                  tmp_path / "m")
    assert result.exit_code == 0, result.output
    t = json.loads((tmp_path / "m" / MODEL_JSON).read_text())["training"]
    assert (t["n_train"], t["n_valid"]) == (120, 30)
    _one_line_error(_cli("train", "mu-miso", "--data", files["train"], "--valid",
                         files["five"], "--objective", "min", "-o", tmp_path / "x"),
                    r"valid file '.*five.h5' has another system than data '.*train.h5' "
                    r"\(n_users 5 vs 3; n_pilots 5 vs 3\); expected the same config")
    assert not (tmp_path / "x").exists()


def test_interrupted_transfer_resumes_to_the_uninterrupted_result(files, structured, tmp_path,
                                                                 monkeypatch):
    """The frozen-feature transfer (cached features, the head alone in the loop) resumes."""
    opts = {**TINY, "epochs": 5, "checkpoint_every_s": 0.0, "source": structured.path,
            "objective": "min"}
    ref = train_mu_miso(files["test"], tmp_path / "ref", **opts)
    model = interrupted_then_resumed(train_mu_miso, files["test"], tmp_path / "m", monkeypatch,
                                     2, **opts)
    assert model.info["training"]["result"]["resumed_from"] == 2
    assert model.info["weights_sha256"] == ref.info["weights_sha256"]
    assert metrics_without_times(tmp_path / "m") == metrics_without_times(tmp_path / "ref")


def test_streaming_is_for_d2d_data(files, tmp_path):
    with pytest.raises(ConfigError, match=r"stream=True is for d2d data; 'train mu-miso' holds "
                                          r"its samples in memory"):
        train_mu_miso(files["train"], tmp_path / "x", objective="sum", stream=True, **TINY)
    assert not (tmp_path / "x").exists()
