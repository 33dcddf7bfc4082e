"""Per-field documentation of the system-model configs: unit, allowed range, meaning.

Each config dataclass (:class:`~simulators.d2d.D2DConfig`,
:class:`~simulators.miso.MisoConfig`, :class:`~simulators.mu_miso.MuMisoConfig`) declares
its fields with :func:`documented`, which keeps the default and stores the unit, the
allowed values and a one-line meaning in the field's ``metadata``. :func:`field_docs` and
:func:`preset_docs` read them back, and :func:`config_help` renders the text shown by
``wirelessrl presets d2d`` and ``wirelessrl simulate d2d --help``.

Units are written as in the names: ``m``, ``Hz``, ``dB``, ``dBm``, ``dBm/Hz``, ``rad``;
``linear`` is a dimensionless power ratio, ``-`` a count or a choice, ``bool`` a flag.

Example
-------
>>> from simulators.d2d import D2DConfig
>>> doc = {d.name: d for d in field_docs(D2DConfig)}["carrier_hz"]
>>> doc.unit, doc.default, doc.allowed
('Hz', 50000000000.0, '> 0')
>>> print(config_help(D2DConfig).splitlines()[0])
D2D config fields (set with --set FIELD=VALUE; - = no unit):
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, NamedTuple

SYSTEM_CONFIGS: dict[str, str] = {
    "d2d": "simulators.d2d:D2DConfig",
    "miso": "simulators.miso:MisoConfig",
    "mu-miso": "simulators.mu_miso:MuMisoConfig",
}
"""System-model name (as in ``wirelessrl simulate NAME``) -> its config class."""

UNITS = ("m", "Hz", "dB", "dBm", "dBm/Hz", "rad", "linear", "-", "bool")
"""Every unit a field may declare."""


def config_class(name: str) -> type:
    """The config class of a system model of :data:`SYSTEM_CONFIGS` (imported on use).

    Example
    -------
    >>> config_class("mu-miso").__name__
    'MuMisoConfig'
    """
    from simulators.validation import check_choice

    module, cls = SYSTEM_CONFIGS[check_choice("system", name, tuple(SYSTEM_CONFIGS))].split(":")
    return getattr(importlib.import_module(module), cls)


def documented(default: Any, unit: str, allowed: str, help: str, **kwargs: Any):
    """A dataclass field with ``default`` and its documentation in ``metadata``.

    Input
    -----
    default : the field's default value (immutable: a number, string, tuple or None)
    unit : one of :data:`UNITS`
    allowed : the allowed values as the config's checks enforce them, e.g. ``"> 0"``
    help : one line saying what the field means
    kwargs : passed on to :func:`dataclasses.field` (e.g. ``compare=False``)

    Output
    ------
    dataclasses.Field

    Example
    -------
    >>> f = documented(1.5, "m", "> 0", "antenna height")
    >>> f.default, dict(f.metadata)["unit"]
    (1.5, 'm')
    """
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r} is invalid; expected one of {', '.join(UNITS)}")
    return dataclasses.field(default=default, metadata={"unit": unit, "allowed": allowed,
                                                        "help": help}, **kwargs)


class FieldDoc(NamedTuple):
    """One config field: name, default, unit, allowed values, meaning."""

    name: str
    default: Any
    unit: str
    allowed: str
    help: str


def field_docs(cls: type) -> list[FieldDoc]:
    """The documented fields of a config class in declaration order (``preset`` left out).

    A field declared without :func:`documented` gets empty unit, allowed and help (the
    tests require every field to be documented).
    """
    out = []
    for f in dataclasses.fields(cls):
        if f.name == "preset":
            continue
        meta = f.metadata
        out.append(FieldDoc(f.name, f.default, meta.get("unit", ""), meta.get("allowed", ""),
                            meta.get("help", "")))
    return out


def preset_docs(cls: type) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, note, changes)`` for each preset of ``cls``: its one-line note
    (``cls.PRESET_NOTES``) and the fields it changes from the defaults."""
    notes = getattr(cls, "PRESET_NOTES", {})
    return [(name, notes.get(name, ""), dict(changes)) for name, changes in cls.PRESETS.items()]


def format_value(value: Any) -> str:
    """A default as a user types it after ``--set``: ``true``, ``null``, ``[lo, hi]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")
    return str(value)


def config_help(cls: type) -> str:
    """The text listing every field (unit, default, allowed, meaning) and the presets."""
    docs = field_docs(cls)
    header = ("field", "unit", "default", "allowed", "meaning")
    rows = [header] + [(d.name, d.unit, format_value(d.default), d.allowed, d.help)
                       for d in docs]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"{cls.KIND} config fields (set with --set FIELD=VALUE; - = no unit):"]
    for r in rows:
        lines.append("  " + "  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4])
    lines.append("")
    lines.append("presets (--preset NAME; the fields each one changes from the defaults):")
    for name, note, changes in preset_docs(cls):
        changed = ", ".join(f"{k}={format_value(v)}" for k, v in changes.items()) or \
            "(the defaults)"
        lines.append(f"  {name}: {note}" if note else f"  {name}:")
        lines.append(f"      {changed}")
    return "\n".join(lines)
