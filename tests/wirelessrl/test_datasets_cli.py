import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from simulators.d2d import D2DConfig, generate_d2d
from simulators.validation import ConfigError
from wirelessrl import __version__
from wirelessrl.cli import main
from wirelessrl.datasets import load_d2d, save_d2d


@pytest.fixture()
def runner():
    return CliRunner()


@pytest.mark.parametrize("suffix", ["h5", "mat"])
def test_d2d_file_round_trip_with_provenance(tmp_path, suffix):
    cfg = D2DConfig.from_preset("paper-fading", n_links=6)
    data = generate_d2d(cfg, 50, seed=9)
    path = save_d2d(data, tmp_path / f"d.{suffix}")
    back = load_d2d(path)
    assert back.config == cfg and back.seed == 9
    assert back.g.tobytes() == data.g.tobytes()
    assert back.tx_m.shape == (50, 6, 2) and back.redraws.shape == (50,)
    assert not list(tmp_path.glob(".*part"))


def test_h5_attributes_hold_config_seed_version(tmp_path):
    path = save_d2d(generate_d2d(D2DConfig.from_preset("paper"), 5, seed=3), tmp_path / "d.h5")
    with h5py.File(path) as f:
        assert f.attrs["seed"] == 3
        assert f.attrs["version"] == __version__
        assert '"n_links": 10' in f.attrs["config_json"]


def test_tampered_file_fails_checksum(tmp_path):
    path = save_d2d(generate_d2d(D2DConfig.from_preset("paper"), 5, seed=3), tmp_path / "d.h5")
    with h5py.File(path, "r+") as f:
        f["g"][0, 0, 0] = 1.0
    with pytest.raises(ConfigError, match="checksum"):
        load_d2d(path)


def test_cli_simulate_writes_a_loadable_file(runner, tmp_path):
    out = tmp_path / "d2d.h5"
    result = runner.invoke(main, ["simulate", "d2d", "--n", "20", "--seed", "1", "-o", str(out),
                                  "--set", "n_links=4"])
    assert result.exit_code == 0, result.output
    data = load_d2d(out)
    assert data.g.shape == (20, 4, 4)
    np.testing.assert_array_equal(
        data.g, generate_d2d(D2DConfig.from_preset("paper", n_links=4), 20, 1).g
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "n=0"),
        (["--n", "5", "--set", "link_distance_min_m=30"], "link_distance_min_m=30"),
        (["--n", "5", "--set", "field_m=10"], "field_m=10"),
        (["--n", "5", "--set", "p_max_dbm=nan"], "p_max_dbm"),
        (["--n", "5", "--preset", "nope"], "preset='nope'"),
        (["--n", "5", "--set", "bogus=1"], "bogus"),
        (["--n", "5", "--set", "n_links"], "key=value"),
    ],
)
def test_cli_bad_input_one_line_exit_2_nothing_written(runner, tmp_path, args, message):
    out = tmp_path / "x.h5"
    result = runner.invoke(main, ["simulate", "d2d", "-o", str(out), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_cli_refuses_to_overwrite_without_flag(runner, tmp_path):
    out = tmp_path / "x.h5"
    out.write_bytes(b"keep me")
    result = runner.invoke(main, ["simulate", "d2d", "--n", "3", "-o", str(out)])
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert out.read_bytes() == b"keep me"
    result = runner.invoke(main, ["simulate", "d2d", "--n", "3", "-o", str(out), "--overwrite"])
    assert result.exit_code == 0
    assert load_d2d(out).g.shape == (3, 10, 10)


def test_loading_missing_or_foreign_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_d2d(tmp_path / "none.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(ConfigError, match="not a readable"):
        load_d2d(junk)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["meta_json"] = '{"kind": "something-else"}'
    with pytest.raises(ConfigError, match="kind='something-else'"):
        load_d2d(tmp_path / "other.h5")


def test_cli_simulate_miso_shares_the_system_across_files(runner, tmp_path):
    from simulators.miso import MisoConfig, make_system
    from wirelessrl.datasets import load_miso

    a, b = tmp_path / "a.h5", tmp_path / "b.mat"
    for seed, out in ((1, a), (2, b)):
        result = runner.invoke(main, ["simulate", "miso", "--n", "30", "--seed", str(seed),
                                      "--system-seed", "4", "-o", str(out)])
        assert result.exit_code == 0, result.output
    system = make_system(MisoConfig.from_preset("paper"), 4)
    first, second = load_miso(a, system), load_miso(b, system)
    assert first.y.shape == (30, 3, 4) and second.h.shape == (30, 3, 16)
    assert not (first.y == second.y).all()
    with pytest.raises(ConfigError, match="system_seed"):
        load_miso(a, make_system(MisoConfig.from_preset("paper"), 5))
    with pytest.raises(ConfigError, match="kind='miso-samples'"):
        load_d2d(a)


@pytest.mark.parametrize("suffix", ["h5", "mat"])
def test_cli_simulate_miso_with_the_paper_system_round_trips(runner, tmp_path, suffix):
    from simulators.miso import MisoConfig, make_system
    from wirelessrl.datasets import load_miso

    out = tmp_path / f"paper.{suffix}"
    result = runner.invoke(main, ["simulate", "miso", "--n", "20", "--system-seed", "paper",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "system seed paper" in result.output
    data = load_miso(out, make_system(MisoConfig.from_preset("paper"), "paper"))
    assert data.system.system_seed == "paper"
    with pytest.raises(ConfigError, match="system_seed differs: 0 vs paper"):
        load_miso(out, make_system(MisoConfig.from_preset("paper"), 0))


@pytest.mark.parametrize("value", ["papr", "-3", "1.5"])
def test_cli_simulate_miso_rejects_unknown_system_names(runner, tmp_path, value):
    out = tmp_path / "x.h5"
    result = runner.invoke(main, ["simulate", "miso", "--n", "5", "--system-seed", value,
                                  "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "system_seed=" in result.output and "'paper'" in result.output
    assert "Traceback" not in result.output and not out.exists()
