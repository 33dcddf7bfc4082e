"""YAML experiment configs with ``key=value`` command-line overrides.

Nested keys use dots (``train.source.epochs=10``). Values are parsed as YAML scalars, so
``3``, ``1e-3``, ``true`` and ``[1, 2]`` get their natural types. An unknown key, or a value
whose type differs from the default's, is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from simulators.validation import ConfigError


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=3"`` -> ``("a.b", 3)``."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is invalid; expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} is invalid; the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
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
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def apply_overrides(config: Mapping, overrides: Iterable[str], strict: bool = True) -> dict:
    """Return a copy of ``config`` with dotted ``key=value`` overrides applied."""
    out = copy.deepcopy(dict(config))
    for text in overrides:
        key, value = parse_override(text)
        node = out
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"config key {where!r} does not exist (in override {text!r})")
            node = node[part]
        leaf = parts[-1]
        if strict and leaf not in node:
            allowed = ", ".join(sorted(node)) or "none"
            raise ConfigError(f"config key {key!r} does not exist; keys here: {allowed}")
        if strict and leaf in node and not _compatible(node[leaf], value, leaf):
            raise ConfigError(
                f"config key {key}={value!r} has type {type(value).__name__}; "
                f"expected {type(node[leaf]).__name__}"
            )
        if isinstance(node.get(leaf), float) and isinstance(value, int):
            value = float(value)
        node[leaf] = value
    return out


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping at the top level")
    return data


def save_yaml(config: Mapping, path: str | Path) -> None:
    from wirelessrl.fileio import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False))
