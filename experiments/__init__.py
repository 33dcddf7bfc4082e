"""The experiments: one task module per experiment, its YAML config beside it, one runner.

Installed with the package (configs are package data), so ``wirelessrl reproduce d2d``
works from a wheel. :data:`TASKS` maps an experiment name to its task module; each task
module defines a subclass of :class:`experiments.runner.TaskRun` named ``TASK`` and its
config is ``experiments/<name>.yaml``. :func:`run_experiment` runs any of them through the
one runner :func:`experiments.runner.run`. See ``ARCH_STATUS`` in the notes or the README
section "Adding a task" for how a new task is added.

Importing this package is cheap (no torch): the CLI reads :data:`TASKS` for its choices.

Example
-------
>>> sorted(TASKS)[:3]
['d2d', 'miso', 'mnist']
>>> config = load_experiment_config("d2d", "tiny")
>>> config["scale"], config["source"]["epochs"]
('tiny', 3)
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from simulators.validation import ConfigError, check_choice, did_you_mean

if TYPE_CHECKING:
    from wirelessrl.results import Echo

__all__ = ["SCALES", "TASKS", "config_path", "get_task", "load_experiment_config",
           "parse_seeds", "report_run", "run_experiment", "sweep_spec_path"]

TASKS: dict[str, str] = {
    "d2d": "experiments.d2d",
    "miso": "experiments.miso",
    "mnist": "experiments.mnist",
    "mu-miso": "experiments.mu_miso",
}
"""Experiment name -> task module (defines ``TASK``, a :class:`~experiments.runner.TaskRun`
subclass); its report is the module of the same name with ``_report`` appended. A new
experiment is one task module, its report module, one YAML file and one entry here."""

SCALES = ("paper", "quick", "tiny")

SYSTEM_CONFIGS: dict[str, tuple[str, str]] = {
    "d2d": ("simulators.d2d", "D2DConfig"),
    "miso": ("simulators.miso", "MisoConfig"),
    "mu-miso": ("simulators.mu_miso", "MuMisoConfig"),
}
"""Experiment -> (module, class) of its system config: ``system.<field>=value`` overrides
(e.g. ``system.n_links=20``) are fields of this class, kept in ``system.overrides``."""


def get_task(name: str) -> ModuleType:
    """The task module registered under ``name`` (a one-line error for an unknown one).

    Example
    -------
    >>> get_task("d2d").TASK.name
    'd2d'
    """
    check_choice("experiment", name, tuple(TASKS))
    return importlib.import_module(TASKS[name])


def config_path(name: str) -> Path:
    """The packaged YAML config of experiment ``name``: ``experiments/<name>.yaml``.

    Example
    -------
    >>> config_path("miso").name
    'miso.yaml'
    """
    return Path(str(resources.files(__name__).joinpath(f"{name}.yaml")))


def sweep_spec_path(name_or_path: str | Path) -> Path:
    """A sweep spec path as given when it exists, else the packaged
    ``experiments/sweeps/<name>.yaml`` of that name (so a wheel install runs
    ``wirelessrl sweep d2d_target_size``)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    packaged = Path(str(resources.files(__name__).joinpath("sweeps", f"{path.stem}.yaml")))
    return packaged if packaged.is_file() and path.suffix in ("", ".yaml") else path


def load_experiment_config(
    name: str, scale: str = "paper", overrides: Iterable[str] = (), path: str | Path | None = None
) -> dict:
    """Load the experiment's YAML, apply the scale's overrides, then the user's.

    Input
    -----
    name : experiment name (its packaged config is used unless ``path`` is given)
    scale : a key of the config's ``scales`` block (``paper``, ``quick``, ``tiny``)
    overrides : dotted ``key=value`` texts (``source.epochs=50``)
    path : another YAML file, or None

    Output
    ------
    dict, the effective config with ``scale`` set
    """
    from wirelessrl.config import apply_overrides, load_yaml

    base = load_yaml(path or config_path(name))
    scales = base.pop("scales", {}) or {}
    check_choice("scale", scale, tuple(scales) or SCALES)
    scale_overrides = [f"{k}={json.dumps(v)}" for k, v in (scales.get(scale) or {}).items()]
    config = apply_overrides(base, scale_overrides)
    overrides = list(overrides)
    for text in overrides:
        if text.startswith("variants.") and isinstance(config.get("variants"), list):
            raise ConfigError(
                f"override {text!r} is invalid: variants is a list of variant names or specs; "
                f"expected e.g. 'variants=[{text.split('.')[1].split('=')[0]}]'")
    system_fields, overrides = _split_system_overrides(name, config, overrides)
    config = apply_overrides(config, overrides)
    if system_fields:
        config["system"]["overrides"] = {**(config["system"].get("overrides") or {}),
                                         **system_fields}
        _system_class(name).from_preset(config["system"].get("preset", "paper"),
                                        **config["system"]["overrides"])  # checks the values
    config["scale"] = scale
    return config


def _system_class(name: str):
    module, cls = SYSTEM_CONFIGS[name]
    return getattr(importlib.import_module(module), cls)


def _split_system_overrides(name: str, config: dict,
                            overrides: list[str]) -> tuple[dict, list[str]]:
    """``system.<field>=v`` and ``system.overrides.<field>=v`` (fields of the experiment's
    system config) apart from the other overrides; an unknown field is a
    :class:`ConfigError` listing the valid keys."""
    from wirelessrl.config import parse_override

    system = config.get("system")
    if name not in SYSTEM_CONFIGS or not isinstance(system, dict) or "overrides" not in system:
        return {}, overrides
    own = sorted(k for k in system if k != "overrides")
    fields, rest = {}, []
    for text in overrides:
        key = text.split("=", 1)[0].strip()
        parts = key.split(".")
        if parts[0] != "system" or len(parts) < 2 or (len(parts) == 2 and parts[1] in own) or (
                key == "system.overrides"):
            rest.append(text)
            continue
        field = parts[2] if parts[1] == "overrides" and len(parts) == 3 else \
            parts[1] if len(parts) == 2 else None
        cls = _system_class(name)
        if field is None or field not in cls.field_names():
            hint = did_you_mean(field or parts[-1], [*own, *cls.field_names()])
            raise ConfigError(
                f"config key {key!r} does not exist{hint}; expected system.<key> with a key of "
                f"{', '.join([*own, 'overrides'])} or a {cls.KIND} config field: "
                f"{', '.join(cls.field_names())}")
        fields[field] = parse_override(text)[1]
    return fields, rest


def parse_seeds(text: str | None, default: Sequence[int]) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``; None -> ``default`` (the config's list), validated.

    Example
    -------
    >>> parse_seeds("1,2", [0]), parse_seeds(None, [7])
    ([1, 2], [7])
    """
    if text is None:  # the config's seeds: a YAML list of integers
        seeds = default if isinstance(default, (list, tuple)) else [default]
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32
                                for s in seeds):
            raise ConfigError(f"seeds={default!r} is invalid; expected a list of integers in "
                              "[0, 2**32)")
        return [int(s) for s in seeds]
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"seeds={text!r} is invalid; expected comma-separated integers") from None
    if not seeds or any(not 0 <= s < 2**32 for s in seeds):
        raise ConfigError(f"seeds={text!r} is invalid; expected integers in [0, 2**32)")
    return seeds


def run_experiment(name: str, config: dict, run_dir: str | Path, seeds: list[int],
                   echo: Echo = print, step_cache: str | Path | None = None) -> Path:
    """Run experiment ``name`` (every step resumable) and write its report; return it.

    ``config`` from :func:`load_experiment_config`; ``seeds`` e.g. from
    :func:`parse_seeds`; ``step_cache`` a folder where source networks are shared between
    runs of the same config hash. Output: the path of ``run_dir/report.md``.

    Example
    -------
    Minutes even at the ``tiny`` scale, so not run here:

    >>> config = load_experiment_config("d2d", "tiny")
    >>> report = run_experiment("d2d", config, "runs/d2d-tiny", [0])     # doctest: +SKIP
    >>> report_run("runs/d2d-tiny") == report                              # doctest: +SKIP
    True
    """
    from experiments.runner import run

    return run(get_task(name).TASK, config, run_dir, seeds, echo, step_cache)


def report_run(run_dir: str | Path, echo: Echo = print) -> Path:
    """Write the report of a finished run folder from its files only (``results.csv``,
    ``results.json``, ``report.md``, plots); no network runs, torch is not imported.

    Input: ``run_dir``, a folder written by :func:`run_experiment`. Output: ``report.md``.
    """
    from experiments.layout import read_run

    config, run, plan, units = read_run(run_dir)
    check_choice("experiment", run["experiment"], tuple(TASKS))
    report = importlib.import_module(TASKS[run["experiment"]] + "_report")
    return report.write_report(config, Path(run_dir), units, plan, run["provenance"], echo)
