"""Numbers in every notation, and declared types, from the CLI, YAML files and files read back.

Regression tests of a user-found bug: ``1e-3`` and ``2.4e9`` were read as strings (PyYAML's
YAML 1.1 float rule wants a dot), so ``reproduce d2d ... target.lr=1e-3`` failed and
``simulate --set carrier_hz=2.4e9`` stored the string ``"2.4e9"`` in the file's config.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from experiments import load_experiment_config
from simulators.d2d import D2DConfig
from simulators.miso import MisoConfig
from simulators.mu_miso import MuMisoConfig
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.config import apply_overrides, load_yaml, parse_override, yaml_load
from wirelessrl.datasets import load_d2d
from wirelessrl.fileio import read_arrays, write_arrays


@pytest.mark.parametrize("text, number", [
    ("1e-3", 1e-3), ("2.4e9", 2.4e9), ("1E3", 1e3), ("-1.5e-3", -1.5e-3), ("+2e5", 2e5),
    (".5e1", 5.0), ("1.0e-3", 1e-3), ("3.", 3.0), ("0.25", 0.25), ("1_000.5", 1000.5),
])
def test_yaml_numbers_with_exponents_are_floats(text, number):
    value = yaml_load(text)
    assert type(value) is float and value == number


@pytest.mark.parametrize("text, expected", [
    ("10", 10), ("-3", -3), ("abc", "abc"), ("e5", "e5"), ("1e", "1e"), ("1.2.3", "1.2.3"),
    ("true", True), ("paper", "paper"), ("[1e-3, 2]", [1e-3, 2]),
])
def test_yaml_other_scalars_keep_their_types(text, expected):
    value = yaml_load(text)
    assert value == expected and type(value) is type(expected)


def test_yaml_loader_constructs_no_objects():
    with pytest.raises(Exception, match="constructor"):
        yaml_load("!!python/object/apply:os.system ['true']")


def test_override_and_config_file_read_exponents(tmp_path):
    assert parse_override("target.lr=1e-3") == ("target.lr", 1e-3)
    path = tmp_path / "c.yaml"
    path.write_text("target:\n  lr: 1e-3\n  epochs: 300\n")
    assert load_yaml(path) == {"target": {"lr": 1e-3, "epochs": 300}}


def test_overrides_get_the_default_type():
    base = {"lr": 2e-5, "epochs": 300, "flag": False}
    out = apply_overrides(base, ["lr=3", "epochs=1e3"])
    assert type(out["lr"]) is float and out["lr"] == 3.0
    assert type(out["epochs"]) is int and out["epochs"] == 1000
    for bad in ("epochs=2.5", "lr=abc", "flag=1", "epochs=true", "lr=[1]"):
        with pytest.raises(ConfigError, match=bad.split("=")[0]):
            apply_overrides(base, [bad])


def test_all_unknown_override_keys_are_reported_at_once_with_suggestions():
    base = {"target": {"lr": 2e-5}, "source": {"epochs": 3}}
    with pytest.raises(ConfigError) as err:
        apply_overrides(base, ["targt.lr=1", "source.epoch=2", "target.lr=x"])
    text = str(err.value)
    assert "'targt'" in text and "did you mean 'target'" in text
    assert "'source.epoch'" in text and "did you mean 'epochs'" in text
    assert "target.lr='x'" in text


def test_reproduce_config_accepts_the_readme_override():
    config = load_experiment_config("d2d", "tiny", ["target.lr=1e-3", "source.epochs=2e0"])
    assert config["target"]["lr"] == 1e-3 and type(config["target"]["lr"]) is float
    assert config["source"]["epochs"] == 2 and type(config["source"]["epochs"]) is int


@pytest.mark.parametrize("cls, preset, field, text, value", [
    (D2DConfig, "paper", "carrier_hz", "2.4e9", 2.4e9),
    (D2DConfig, "paper", "n_links", "2E1", 20),
    (D2DConfig, "paper", "fading", "true", True),
    (MisoConfig, "paper", "p_ue_dbm", "2.5e1", 25.0),
    (MuMisoConfig, "cell", "bandwidth_hz", "1e7", 1e7),
    (MuMisoConfig, "cell", "n_users", np.int64(3), 3),
])
def test_configs_store_declared_types(cls, preset, field, text, value):
    cfg = cls.from_preset(preset, **{field: text})
    assert getattr(cfg, field) == value and type(getattr(cfg, field)) is type(value)


@pytest.mark.parametrize("field, value", [
    ("n_links", "abc"), ("n_links", True), ("n_links", 2.5), ("n_links", "2.5"),
    ("carrier_hz", True), ("carrier_hz", [1.0]), ("carrier_hz", "2,4e9"), ("carrier_hz", None),
    ("fading", 1), ("fading", "yes please"), ("redraw", 3),
])
def test_configs_reject_wrong_types_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=f"^{field}="):
        D2DConfig.from_preset("paper", **{field: value})


def test_unknown_fields_and_presets_get_suggestions():
    with pytest.raises(ConfigError, match="n_link=3, noise_dbm=1 are not D2D config fields "
                                          "\\(did you mean 'n_links', 'noise_dbm_per_hz'\\?\\)"):
        D2DConfig.from_preset("paper", n_link=3, noise_dbm=1)
    with pytest.raises(ConfigError, match="did you mean 'paper'"):
        D2DConfig.from_preset("papr")


def test_simulate_set_stores_a_float_that_loads_back_equal(tmp_path):
    out = tmp_path / "d.h5"
    result = CliRunner().invoke(main, ["simulate", "d2d", "--n", "3", "-o", str(out),
                                       "--set", "carrier_hz=2.4e9", "--set", "n_links=4"])
    assert result.exit_code == 0, result.output
    _, meta = read_arrays(out)
    assert meta["config"]["carrier_hz"] == 2.4e9 and type(meta["config"]["carrier_hz"]) is float
    expected = D2DConfig.from_preset("paper", carrier_hz=2.4e9, n_links=4)
    assert load_d2d(out).config == expected


def test_a_file_with_a_number_stored_as_text_loads_with_the_declared_type(tmp_path):
    """Files written before the fix hold ``"2.4e9"``; their config is read as a float."""
    source = tmp_path / "new.h5"
    CliRunner().invoke(main, ["simulate", "d2d", "--n", "2", "-o", str(source)])
    arrays, meta = read_arrays(source)
    meta["config"]["carrier_hz"] = "2.4e9"
    meta = {k: v for k, v in meta.items()
            if k not in ("shapes", "checksum_scheme", "checksum_sha256", "meta_sha256")}
    old = write_arrays(tmp_path / "old.h5", arrays, json.loads(json.dumps(meta)))
    assert load_d2d(old).config.carrier_hz == 2.4e9
