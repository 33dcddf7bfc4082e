"""YAML experiment configs with ``key=value`` command-line overrides.

Nested keys use dots (``train.source.epochs=10``). Values are parsed as YAML scalars, so
``3``, ``1e-3``, ``true`` and ``[1, 2]`` get their natural types. Numbers follow YAML 1.2:
``1e-3``, ``2.4e9`` and ``1E3`` are floats (PyYAML's YAML 1.1 rule, which wants a dot,
would read them as strings). An unknown key, or a value whose type differs from the
default's, is a :class:`ConfigError` naming it and listing the keys (with a "did you mean").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from simulators.validation import ConfigError, did_you_mean


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 float rule (exponent without a dot)."""


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    r"""Parse YAML text safely (no object construction), numbers as in YAML 1.2.

    Example
    -------
    >>> yaml_load("lr: 1e-3\ncarrier_hz: 2.4e9\nn: 1E3\nk: 10\nname: paper")
    {'lr': 0.001, 'carrier_hz': 2400000000.0, 'n': 1000.0, 'k': 10, 'name': 'paper'}
    """
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=3"`` -> ``("a.b", 3)``."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is invalid; expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} is invalid; the key is empty")
    try:
        value = yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


UNION_LEAVES: dict[str, tuple[type, ...]] = {"system_seed": (int, str)}
"""Leaves that take more than one type (checked by their own validator downstream), e.g.
``system.system_seed``: an integer seed or the name of a fixed draw (``paper``)."""


def _compatible(default: Any, value: Any, leaf: str = "") -> bool:
    if leaf in UNION_LEAVES and isinstance(value, UNION_LEAVES[leaf]):
        return not isinstance(value, bool)
    if default is None or value is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float) and isinstance(value, int):
        return True
    if isinstance(default, int) and isinstance(value, float):
        return value.is_integer()
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def apply_overrides(config: Mapping, overrides: Iterable[str], strict: bool = True) -> dict:
    """Return a copy of ``config`` with dotted ``key=value`` overrides applied.

    Every bad override is reported at once, in one :class:`ConfigError` (unknown keys with
    a "did you mean" and the keys that exist there; values of the wrong type).

    Example
    -------
    >>> apply_overrides({"target": {"lr": 2e-5, "epochs": 300}}, ["target.lr=1e-3"])
    {'target': {'lr': 0.001, 'epochs': 300}}
    """
    out = copy.deepcopy(dict(config))
    problems = []
    for text in overrides:
        try:
            _apply_one(out, text, strict)
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        raise ConfigError("; ".join(problems))
    return out


def _apply_one(out: dict, text: str, strict: bool) -> None:
    key, value = parse_override(text)
    node = out
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            where = ".".join(parts[: depth + 1])
            groups = sorted(k for k in node if isinstance(node[k], dict))
            raise ConfigError(
                f"config key {where!r} does not exist (in override {text!r})"
                f"{did_you_mean(part, groups)}; keys here: {', '.join(groups) or 'none'}"
            )
        node = node[part]
    leaf = parts[-1]
    if strict and leaf not in node:
        raise ConfigError(f"config key {key!r} does not exist{did_you_mean(leaf, node)}; "
                          f"keys here: {', '.join(sorted(node)) or 'none'}")
    if strict and leaf in node and not _compatible(node[leaf], value, leaf):
        raise ConfigError(
            f"config key {key}={value!r} has type {type(value).__name__}; "
            f"expected {type(node[leaf]).__name__}"
        )
    default = node.get(leaf)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif (isinstance(default, int) and not isinstance(default, bool)
          and isinstance(value, float) and value.is_integer()):
        value = int(value)
    node[leaf] = value


def load_yaml(path: str | Path) -> dict:
    """The mapping at the top of a YAML file; a missing file, invalid YAML or another top
    level is a one-line :class:`ConfigError` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        data = yaml_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping at the top level")
    return data


def save_yaml(config: Mapping, path: str | Path) -> None:
    """Write ``config`` as block YAML, keys in their order, atomically (temp name + rename).

    Example
    -------
    >>> save_yaml({"epochs": 3, "lr": 1e-3}, "run.yaml")
    >>> load_yaml("run.yaml")
    {'epochs': 3, 'lr': 0.001}
    """
    from wirelessrl.fileio import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False))
