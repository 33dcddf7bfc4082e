"""``wirelessrl presets``, ``simulate NAME --help`` (every field with unit, default, allowed
values; the presets) and ``--threads`` on simulate / solve."""

import math
import shlex

import numba
import pytest
from click.testing import CliRunner

from simulators.config_docs import (
    SYSTEM_CONFIGS,
    UNITS,
    config_class,
    config_help,
    field_docs,
    format_value,
    preset_docs,
)
from simulators.threads import max_numba_threads, set_numba_threads
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.cli.presets import EXAMPLES

SYSTEMS = list(SYSTEM_CONFIGS)

# the unit a field name implies (longest suffix first)
SUFFIX_UNITS = [("_dbm_per_hz", "dBm/Hz"), ("_dbm", "dBm"), ("_db", "dB"), ("_hz", "Hz"),
                ("_m", "m")]


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture()
def restore_numba_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def test_registry_covers_every_simulate_command():
    assert set(main.commands["simulate"].commands) == set(SYSTEM_CONFIGS)


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_field_is_documented(system):
    cls = config_class(system)
    docs = field_docs(cls)
    assert [d.name for d in docs] == cls.field_names()
    for d in docs:
        assert d.unit in UNITS, d
        assert d.allowed and d.help, d


@pytest.mark.parametrize("system", SYSTEMS)
def test_units_agree_with_the_field_names(system):
    for d in field_docs(config_class(system)):
        implied = next((u for suffix, u in SUFFIX_UNITS if d.name.endswith(suffix)), None)
        if implied is not None:
            assert d.unit == implied, d
        else:
            assert d.unit in ("-", "bool", "linear", "rad"), d


@pytest.mark.parametrize("system", SYSTEMS)
def test_documented_defaults_are_what_a_plain_config_holds(system):
    cls = config_class(system)
    plain = cls()
    for d in field_docs(cls):
        if d.default is None:  # n_pilots: None means n_users
            assert getattr(plain, d.name) == plain.n_users
        else:
            assert getattr(plain, d.name) == d.default, d.name


def _violations(allowed: str):
    """Values that break a documented rule (the first clause), for the rule checks."""
    if allowed.startswith("integer"):
        return [0, 1.5, "many", True, -1]  # ("3" is text for 3: accepted)
    if allowed.startswith(">= 0"):
        return [-1.0, math.inf, "abc", [1.0]]
    if allowed.startswith("> 0"):
        return [0.0, -1.0, math.nan, "abc", [1.0]]
    if allowed == "finite":
        return [math.inf, math.nan, "abc", [1.0]]
    if allowed.startswith("one of"):
        return ["bogus", 3]
    if allowed == "true or false":
        return ["yes", 1.0]
    return []


@pytest.mark.parametrize("system", SYSTEMS)
def test_documented_ranges_are_enforced(system):
    cls = config_class(system)
    preset = next(iter(cls.PRESETS))
    checked = 0
    for d in field_docs(cls):
        for bad in _violations(d.allowed):
            with pytest.raises(ConfigError, match=d.name):
                cls.from_preset(preset, **{d.name: bad})
            checked += 1
    assert checked >= 3 * len(field_docs(cls)) // 2


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("how", ["help", "presets"])
def test_help_lists_every_field_with_unit_default_and_allowed(system, how):
    args = ["simulate", system, "--help"] if how == "help" else ["presets", system]
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for d in field_docs(config_class(system)):
        line = next((x for x in lines if x.split()[:1] == [d.name]), None)
        assert line is not None, d.name
        cells = line.split()
        assert cells[1] == d.unit, line
        assert format_value(d.default) in line and d.allowed in line and d.help in line


@pytest.mark.parametrize("system", SYSTEMS)
def test_help_lists_every_preset_with_what_it_changes(system):
    text = _invoke("simulate", system, "--help").output
    for name, note, changes in preset_docs(config_class(system)):
        assert f"  {name}: {note}" in text
        for key, value in changes.items():
            assert f"{key}={format_value(value)}" in text


def test_presets_without_a_system_lists_all():
    result = _invoke("presets")
    assert result.exit_code == 0
    for system in SYSTEMS:
        assert config_help(config_class(system)).splitlines()[0] in result.output


def test_unknown_system_is_one_line_exit_2():
    result = _invoke("presets", "d2x")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "d2d" in result.output


@pytest.mark.parametrize("system", SYSTEMS)
def test_help_example_is_the_command_and_runs(system, tmp_path, monkeypatch,
                                              restore_numba_threads):
    assert EXAMPLES[system] in _invoke("simulate", system, "--help").output
    monkeypatch.chdir(tmp_path)
    words = shlex.split(EXAMPLES[system])
    assert words[:3] == ["wirelessrl", "simulate", system]
    result = _invoke(*words[1:], "--threads", 1)
    assert result.exit_code == 0, result.output
    out = words[words.index("-o") + 1]
    assert (tmp_path / out).is_file()


# -- --threads ---------------------------------------------------------------------------


def test_set_numba_threads_sets_and_checks(restore_numba_threads):
    assert set_numba_threads(1) == 1 and numba.get_num_threads() == 1
    top = max_numba_threads()
    assert set_numba_threads(top) == top
    for bad in (0, top + 1, -1, 1.0, "1", True):
        with pytest.raises(ConfigError, match=r"threads=.* expected an integer from 1 to"):
            set_numba_threads(bad)


def test_simulate_threads_is_applied(tmp_path, restore_numba_threads):
    numba.set_num_threads(max_numba_threads())
    result = _invoke("simulate", "d2d", "--n", 5, "--set", "n_links=3", "--threads", 1,
                     "-o", tmp_path / "d.h5")
    assert result.exit_code == 0, result.output
    assert numba.get_num_threads() == 1


@pytest.mark.parametrize("command", ["simulate", "solve"])
@pytest.mark.parametrize("value", ["0", str(max_numba_threads() + 1), "two", "1.5"])
def test_bad_threads_is_one_line_and_writes_nothing(command, value, tmp_path,
                                                    restore_numba_threads):
    data = tmp_path / "d.h5"
    assert _invoke("simulate", "d2d", "--n", 5, "--set", "n_links=3", "-o", data).exit_code == 0
    out = tmp_path / "out.h5"
    args = (["simulate", "d2d", "--n", 5] if command == "simulate"
            else ["solve", data, "--method", "fp"])
    result = _invoke(*args, "--threads", value, "-o", out)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "threads" in result.output
    assert not out.exists()


def test_solve_threads_gives_the_same_powers(tmp_path, restore_numba_threads):
    import h5py

    data = tmp_path / "d.h5"
    _invoke("simulate", "d2d", "--n", 40, "--set", "n_links=4", "-o", data)
    powers = []
    for threads in sorted({1, max_numba_threads()}):
        out = tmp_path / f"fp{threads}.h5"
        result = _invoke("solve", data, "--method", "fp", "--threads", threads, "-o", out)
        assert result.exit_code == 0, result.output
        with h5py.File(out) as f:
            powers.append(f["p_w"][()].tobytes())
    assert len(set(powers)) == 1
