"""Section 1a: malformed command lines, for every command, generated with hypothesis.

Each example holds exactly one bad thing (a config field of the wrong type, out of range or
non-finite, an unknown key, a bad option value, an unwritable output); the command must end
with one line ``error: ...`` naming the field, exit code 2, no traceback and no file
written or changed (a pre-existing output passed with ``--overwrite`` stays as it was).
"""

from __future__ import annotations

import functools
import math
import string
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from rel_helpers import PROPERTY, expect_cli_rejects, workdir

from wirelessrl.config import yaml_load

# ----------------------------------------------------------------- value strategies

NON_NUMBER_TEXTS = ["abc", "[1, 2]", "{a: 1}", "null", "~", "true", "false", "''", "x1",
                    "1,5", "--", "yes", "0x", "1.2.3", "[]", "{}"]
NON_FINITE_TEXTS = [".nan", ".inf", "-.inf", "nan", "inf", "-inf", "1e400", "-1e400", ".NaN",
                    "Infinity"]


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


words = st.text(string.ascii_letters, min_size=1, max_size=8)
non_number = st.one_of(
    st.sampled_from(NON_NUMBER_TEXTS),
    words.filter(lambda t: not _is_real(yaml_load(t))),
)
non_finite = st.sampled_from(NON_FINITE_TEXTS)
finite = dict(allow_nan=False, allow_infinity=False)
non_positive = st.one_of(st.floats(max_value=0.0, **finite).map(repr),
                         st.integers(max_value=0).map(str))
negative = st.one_of(st.floats(max_value=0.0, exclude_max=True, **finite).map(repr),
                     st.integers(max_value=-1).map(str))
non_integer = st.floats(**finite).filter(lambda x: not x.is_integer()).map(repr)

INVALID = {
    "positive": st.one_of(non_number, non_finite, non_positive),
    "finite": st.one_of(non_number, non_finite),
    "nonnegative": st.one_of(non_number, non_finite, negative),
    "int>=1": st.one_of(non_number, non_finite, non_positive, non_integer),
    "bool": st.one_of(st.sampled_from(["3", "0.5", "[true]", "maybe", "null", "''"]),
                      st.integers().map(str),
                      words.filter(lambda t: not isinstance(yaml_load(t), bool))),
    "redraw": words.filter(lambda t: yaml_load(t) not in ("all", "offending")),
    "noise_law": words.filter(
        lambda t: yaml_load(t) not in ("constant-modulus", "gaussian")),
    "bs_positions": st.sampled_from(["abc", "5", "[]", "[[1, 2]]", "[[0, 0, -5]]",
                                     "[[0, 0, .nan]]", "[[0, 0, 50], [1, 2]]", "null",
                                     "[[0, 0, 0]]", "[[a, b, c]]"]),
    "area": st.sampled_from(["5", "[1]", "[1, 2, 3]", "[90, 10]", "[5, 5]", "[.nan, 3]",
                             "[0, .inf]", "abc", "null", "[a, b]"]),
}

D2D_FIELDS = {
    "n_links": "int>=1", "field_m": "positive", "link_distance_min_m": "positive",
    "link_distance_max_m": "positive", "min_cross_distance_m": "positive",
    "carrier_hz": "positive", "h_tx_m": "positive", "h_rx_m": "positive",
    "direct_gain_db": "finite", "p_max_dbm": "finite", "noise_dbm_per_hz": "finite",
    "bandwidth_hz": "positive", "snr_gap_db": "nonnegative",
    "shadowing_sigma_db": "nonnegative", "fading": "bool", "redraw": "redraw",
    "max_redraws": "int>=1",
}
MISO_FIELDS = {
    "bs_positions_m": "bs_positions", "array_rows": "int>=1", "array_cols": "int>=1",
    "user_area_m": "area", "carrier_hz": "positive", "bandwidth_hz": "positive",
    "noise_dbm_per_hz": "finite", "rician_k": "nonnegative", "kappa": "finite",
    "n_pilots": "int>=1", "p_ue_dbm": "finite", "p_bs_dbm": "finite",
    "noise_law": "noise_law",
}


def field_cases(fields: dict[str, str]):
    """(["--set", "field=value"], [field]) with a value the field must refuse."""
    return st.sampled_from(sorted(fields)).flatmap(
        lambda name: INVALID[fields[name]].map(lambda v: (["--set", f"{name}={v}"], [name]))
    )


def unknown_keys(fields: dict[str, str]):
    key = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)
    return st.one_of(
        key.filter(lambda k: k not in fields).map(lambda k: (["--set", f"{k}=1"], [k])),
        st.just((["--set", "preset=paper"], ["preset"])),  # the preset has its own option
    )


malformed_overrides = st.one_of(
    st.text(string.ascii_lowercase, min_size=1, max_size=8).map(
        lambda t: (["--set", t], [t])),  # no '='
    st.text(string.digits, min_size=1, max_size=4).map(
        lambda t: (["--set", f"={t}"], ["key is empty"])),
)

bad_n = st.one_of(st.integers(max_value=0), non_number.filter(lambda t: t.strip()))
bad_seed = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**64, max_value=2**80))


def option_cases(system_seed: bool):
    cases = [
        bad_n.map(lambda v: (["--n", str(v)], ["--n", "n="])),
        bad_seed.map(lambda v: (["--seed", str(v)], ["seed"])),
        words.filter(lambda t: t not in ("h5", "mat")).map(
            lambda f: (["--format", f], ["--format"])),
        words.filter(lambda t: t not in ("paper", "paper-fading", "spatial-2019")).map(
            lambda p: (["--preset", p], ["preset"])),
        st.sampled_from(["/proc/no/such/dir/x.h5", "/proc/version/x.h5"]).map(
            lambda o: (["-o", o], [o])),
        st.just((["-o", "."], ["'.'"])),
    ]
    if system_seed:
        cases.append(st.integers(max_value=-1).map(
            lambda v: (["--system-seed", str(v)], ["system_seed", "--system-seed"])))
    return st.one_of(cases)


d2d_cases = st.one_of(field_cases(D2D_FIELDS), unknown_keys(D2D_FIELDS), malformed_overrides,
                      option_cases(False),
                      st.floats(30.0, 60.0).map(lambda lo: (
                          ["--set", f"link_distance_min_m={lo}", "--set",
                           "link_distance_max_m=25"], ["link_distance_min_m"])),
                      st.floats(1.0, 35.0).map(lambda f: (
                          ["--set", f"field_m={f}"], ["field_m"])))
miso_cases = st.one_of(field_cases(MISO_FIELDS), unknown_keys(MISO_FIELDS), malformed_overrides,
                       option_cases(True))


def _run_simulate(kind: str, case, overwrite_existing: bool) -> None:
    extra, names = case
    with workdir() as d:
        args = ["simulate", kind, "--n", "2"]
        if "-o" not in extra:
            args += ["-o", "out.h5"]
        if overwrite_existing:  # an existing output must survive a rejected --overwrite run
            (d / "out.h5").write_bytes(b"precious")
            args.append("--overwrite")
        expect_cli_rejects(f"cli: simulate {kind}", args + extra, d, names)


@PROPERTY
@given(case=d2d_cases, overwrite_existing=st.booleans())
def test_simulate_d2d_rejects_malformed_command_lines(case, overwrite_existing):
    _run_simulate("d2d", case, overwrite_existing)


@PROPERTY
@given(case=miso_cases, overwrite_existing=st.booleans())
def test_simulate_miso_rejects_malformed_command_lines(case, overwrite_existing):
    _run_simulate("miso", case, overwrite_existing)


# ------------------------------------------------------------------ solve / evaluate

solve_option_cases = st.one_of(
    st.integers(max_value=0).map(lambda v: (["--iterations", str(v)], ["iterations"])),
    st.integers(min_value=10_000_001, max_value=2**62).map(
        lambda v: (["--iterations", str(v)], ["iterations"])),
    st.one_of(st.floats(max_value=0.0, **finite), st.floats(min_value=1.0, exclude_min=True),
              st.just(math.nan)).map(lambda v: (["--tol", repr(v)], ["tol"])),
    st.integers(max_value=0).map(lambda v: (["--restarts", str(v)], ["restarts"])),
    st.integers(max_value=-1).map(lambda v: (["--seed", str(v)], ["seed"])),
    words.filter(lambda t: not t.isdigit()).map(lambda t: (["--iterations", t], ["--iterations"])),
    words.map(lambda t: (["--method", t], ["--method"])).filter(
        lambda c: c[0][1] not in ("fp", "wmmse", "maxmin", "full", "random", "binary")),
)


@PROPERTY
@given(method=st.sampled_from(["fp", "wmmse", "maxmin", "full", "random"]),
       case=solve_option_cases, overwrite_existing=st.booleans())
def test_solve_rejects_malformed_options(d2d_files, method, case, overwrite_existing):
    extra, names = case
    with workdir() as d:
        args = ["solve", str(d2d_files["data"]), "-o", "out.h5"]
        if "--method" not in extra:
            args += ["--method", method]
        if overwrite_existing:
            (d / "out.h5").write_bytes(b"precious")
            args.append("--overwrite")
        expect_cli_rejects("cli: solve options", args + extra, d, names)


def test_solve_and_evaluate_reject_unusable_arguments(d2d_files):
    f = d2d_files
    with workdir() as d:
        (d / "exists.h5").write_bytes(b"precious")
        cases = [
            (["solve", f["data"], "--method", "fp", "-o", "exists.h5"], ["exists.h5"]),
            (["solve", f["data"], "--method", "fp", "-o", "."], ["'.'"]),
            (["solve", "missing.h5", "--method", "fp", "-o", "o.h5"], ["missing.h5"]),
            (["solve", str(d), "--method", "fp", "-o", "o.h5"], ["DATA"]),
            (["solve", f["data"], "-o", "o.h5"], ["--method"]),
            (["solve", f["data"], "--method", "fp"], ["--output"]),
            (["solve", f["data"], "--method", "binary", "-o", "o.h5", "--iterations", "3"],
             ["iterations"]),
            (["evaluate", f["data"]], ["solutions"]),
            (["evaluate", "missing.h5", f["fp"]], ["missing.h5"]),
            (["evaluate", f["data"], "missing.h5"], ["missing.h5"]),
            (["evaluate", f["data"], f["data"]], [str(f["data"])]),
            (["evaluate", f["data"], f["miso"]], [str(f["miso"])]),
            (["evaluate", f["fp"], f["fp"]], [str(f["fp"])]),
            (["evaluate"], ["DATA"]),
            (["bogus-command"], ["bogus-command"]),
            (["--bogus-option"], ["--bogus-option"]),
            (["simulate", "d2d", "-o", "o.h5"], ["--n"]),
            (["simulate", "lte", "--n", "2", "-o", "o.h5"], ["lte"]),
        ]
        for args, names in cases:
            expect_cli_rejects("cli: solve / evaluate / usage", args, d, names)


# ------------------------------------------------------------------------ reproduce

REPRO_FIELDS = {
    "d2d": {
        "data.source_train": "int>=1", "data.test": "int>=1", "data.target_train": "int>=1",
        "source.epochs": "int>=1", "source.batch_size": "int>=1", "source.lr": "positive",
        "source.alpha": "nonnegative", "source.patience": "int>=1",
        "target.epochs": "int>=1", "target.lr": "positive", "target.patience": "int>=1",
        "target.finetune_feature_lr_scale": "positive",
        "baselines.fp_iterations": "int>=1", "baselines.random_seed": "seed",
        "model.input_transform": "word", "target.min_rate_loss": "word",
    },
    "miso": {
        "data.source_train": "int>=1", "data.test": "int>=1", "source.epochs": "int>=1",
        "source.lr": "positive", "source.alpha": "nonnegative", "target.lr": "positive",
        "target.batch_size": "int>=1", "target.finetune_feature_lr_scale": "positive",
        "supervised.lr": "positive", "baselines.knn_k": "int>=1",
        "baselines.grid_step_m": "positive", "source.loss": "word", "source.monitor": "word",
        "system.system_seed": "seed",
    },
    "mnist": {
        "source.epochs": "int>=1", "source.lr": "positive", "source.alpha": "nonnegative",
        "target.lr": "positive", "target.batch_size": "int>=1",
        "target.finetune_feature_lr_scale": "positive", "source.select_on": "word",
        "data.split_seed": "seed",
    },
}
REPRO_INVALID = {
    **INVALID,
    "seed": st.integers(max_value=-1).map(str),
    "word": st.sampled_from(["cubic", "'no such thing'", "xyz"]),
}
LIST_CASES = {  # list-valued keys: (override, name the message must hold)
    "d2d": [("strategies=[]", "strategies"), ("strategies=[regular, magic]", "magic"),
            ("tuning.lrs=[-1]", "lrs"), ("tuning.lrs=[x]", "lrs"), ("tuning.lrs=[.nan]", "lrs"),
            ("model.feature=[]", "model.feature"), ("model.feature=[0]", "feature"),
            ("model.head=[-3]", "head"), ("seeds=[-1]", "seeds"), ("seeds=[a]", "seeds"),
            ("system.overrides={n_links: 0}", "n_links"),
            ("system.overrides={bogus: 1}", "bogus"), ("system.preset=zz", "preset")],
    "miso": [("strategies=[magic]", "magic"), ("tuning.lrs=[0]", "lrs"),
             ("model.feature=[]", "model.feature"), ("seeds=[-2]", "seeds"),
             ("system.overrides={n_pilots: 0}", "n_pilots"),
             ("baselines.grid_estimators=[zz]", "grid_estimators")],
    "mnist": [("strategies=[magic]", "magic"), ("data.splits=[C]", "splits"),
              ("model.feature=[]", "model.feature"), ("seeds=[-1]", "seeds")],
}


def repro_cases(experiment: str):
    fields = REPRO_FIELDS[experiment]
    typed = st.sampled_from(sorted(fields)).flatmap(
        lambda k: REPRO_INVALID[fields[k]].map(lambda v: ([f"{k}={v}"], [k.split(".")[-1]])))
    unknown = st.tuples(
        st.sampled_from(["source", "target", "data", "model"]),
        st.text(string.ascii_lowercase, min_size=1, max_size=10),
    ).filter(lambda t: t[1] not in _section_keys(experiment, t[0])).map(
        lambda t: ([f"{t[0]}.{t[1]}=1"], [f"{t[0]}.{t[1]}"]))
    lists = st.sampled_from(LIST_CASES[experiment]).map(lambda c: ([c[0]], [c[1]]))
    options = st.one_of(
        st.just((["--scale", "huge"], ["--scale"])),
        st.just((["--threads", "0"], ["--threads"])),
        st.sampled_from(["-1", "a,b", ",", "1,-3"]).map(lambda s: (["--seeds", s], ["seeds"])),
        st.just((["--config", "/no/such.yaml"], ["/no/such.yaml"])),
        st.just((["novalue"], ["novalue"])),
    )
    return st.one_of(typed, unknown, lists, options)


@functools.lru_cache
def _section_keys(experiment: str, section: str) -> set[str]:
    from experiments import load_experiment_config

    return set(load_experiment_config(experiment, "tiny")[section])


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    from wirelessrl.data.mnist import make_fake_mnist

    d = tmp_path_factory.mktemp("mnist")
    make_fake_mnist(d, n_train=200, n_test=50, seed=0)
    return d


def _no_work(*args, **kwargs):
    raise AssertionError("validation passed and the experiment started")


@pytest.mark.parametrize("experiment", ["d2d", "miso", "mnist"])
def test_reproduce_rejects_malformed_configs_before_any_work(experiment, fake_mnist):

    @settings(PROPERTY, max_examples=50)
    @given(case=repro_cases(experiment))
    def check(case):
        extra, names = case
        base = ["reproduce", experiment, "--scale", "tiny", "-o", "run"]
        if experiment == "mnist":
            base.append(f"data.mnist_dir={fake_mnist}")
        with workdir() as d, mock.patch("experiments.runner.save_effective_config", _no_work):
            expect_cli_rejects(f"cli: reproduce {experiment}", base + extra, d, names)

    check()


# ---------------------------------------------------------------------------- sweep

SWEEP_BASE = {
    "experiment": "d2d", "scale": "tiny", "seeds": [1],
    "overrides": {"tuning.enabled": False, "strategies": ["reconstruction"]},
    "sweep": {"source.alpha": [0, 3]},
    "collect": {"table": "paper_settings", "metric": "min-rate",
                "field": "pct_of_reference_mean_ratio"},
    "max_target_steps": 1000,
}


def _with(path: str, value):
    """(spec with ``path`` (dotted, top-level or one level down) set to ``value``)."""
    def make():
        spec = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SWEEP_BASE.items()}
        head, _, leaf = path.partition(".")
        if leaf:
            spec[head][leaf] = value
        elif value is _DROP:
            del spec[head]
        else:
            spec[head] = value
        return spec
    return make


_DROP = object()
SWEEP_CASES = [
    ("experiment", "lte", "experiment"), ("experiment", 3, "experiment"),
    ("experiment", _DROP, "experiment"), ("sweep", _DROP, "sweep"),
    ("collect", _DROP, "collect"), ("seeds", [-1], "seeds"), ("seeds", ["a"], "seeds"),
    ("seeds", [], "seeds"), ("overrides", [1], "overrides"), ("overrides", "x", "overrides"),
    ("overrides.source.epochz", 3, "epochz"), ("overrides.source.lr", "fast", "lr"),
    ("overrides.data.test", 0, "test"), ("sweep", {}, "sweep"),
    ("sweep", {"source.alpha": [1], "source.lr": [1e-3]}, "sweep"),
    ("sweep", {"source.alpha": []}, "source.alpha"),
    ("sweep", {"source.alpha": ["x"]}, "source.alpha"),
    ("sweep", {"source.alpha": [1, 1.0]}, "distinct"),
    ("sweep", {"source.alphaz": [1]}, "source.alphaz"),
    ("sweep", {"source.alpha": [-1]}, "alpha"), ("sweep", {"data.test": [0]}, "test"),
    ("sweep", {"source.lr": [0]}, "lr"), ("sweep", {"target.epochs": [0.5]}, "epochs"),
    ("sweep", {"strategies": [1]}, "strategies"), ("collect", "x", "collect"),
    ("collect.zz", 1, "zz"), ("collect.table", "", "collect.table"),
    ("collect.field", 3, "collect.field"), ("collect.methods", [], "collect.methods"),
    ("max_target_steps", 1, "max_target_steps"), ("max_target_steps", "x", "max_target_steps"),
    ("max_target_steps", 1.5, "max_target_steps"), ("plot", "x", "plot"),
    ("plot", {"zz": 1}, "plot"), ("name", "a/b", "name"), ("name", "", "name"),
    ("name", ".hidden", "name"), ("scale", 3, "scale"), ("scale", "huge", "scale"),
    ("scales", [1], "scales"),
]


def _sweep_cases():
    listed = st.sampled_from(SWEEP_CASES).map(lambda c: (_with(c[0], c[1]), [], [c[2]]))
    unknown = st.text(string.ascii_lowercase + "_", min_size=1, max_size=10).filter(
        lambda k: k not in ("name", "experiment", "scale", "seeds", "overrides", "sweep",
                            "collect", "max_target_steps", "plot", "scales")).map(
        lambda k: (_with(k, 1), [], [k]))
    caps = st.integers(max_value=0).map(
        lambda v: (_with("max_target_steps", v), [], ["max_target_steps"]))
    values = st.sampled_from([".nan", ".inf", "-.inf", "true", "null", "[1]"]).map(
        lambda v: (_with("sweep", {"source.alpha": [0, yaml_load(v)]}), [],
                   ["source.alpha"]))
    options = st.sampled_from([
        (_with("seeds", [1]), ["--seeds", "a,b"], ["seeds"]),
        (_with("seeds", [1]), ["--seeds", "-4"], ["seeds"]),
        (_with("seeds", [1]), ["--threads", "0"], ["--threads"]),
        (_with("seeds", [1]), ["--scale", "huge"], ["--scale"]),
        (_with("scales", {"quick": {"zz": 1}}), ["--scale", "quick"], ["zz"]),
        (_with("scales", {"quick": [1]}), ["--scale", "quick"], ["scales.quick"]),
    ])
    return st.one_of(listed, unknown, caps, values, options)


@settings(PROPERTY, max_examples=60)
@given(case=_sweep_cases())
def test_sweep_rejects_malformed_specs_before_any_work(case):
    make, extra, names = case
    with workdir() as d, mock.patch("wirelessrl.steps.StepRunner", _no_work):
        spec = d / "spec.yaml"
        spec.write_text(yaml.safe_dump(make()))
        before = spec.read_bytes()
        expect_cli_rejects("cli: sweep", ["sweep", "spec.yaml", "-o", "runs", "--results",
                                          "results", *extra], d, names,
                           key=before + " ".join(extra).encode())


def test_sweep_rejects_unreadable_specs():
    with workdir() as d:
        (d / "list.yaml").write_text("[1, 2]\n")
        (d / "broken.yaml").write_text("experiment: [d2d\n")
        for name, names in (("missing.yaml", ["missing.yaml"]), ("list.yaml", ["list.yaml"]),
                            ("broken.yaml", ["broken.yaml"])):
            expect_cli_rejects("cli: sweep", ["sweep", name, "-o", "runs", "--results", "r"], d,
                               names)
