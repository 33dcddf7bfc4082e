"""Named presets with field overrides, shared by every system-model config."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar

from simulators.validation import (
    ConfigError,
    check_choice,
    check_declared,
    did_you_mean,
    parse_scalar,
)

_Config = TypeVar("_Config", bound="PresetConfig")


class PresetConfig:
    """Mixin for frozen dataclass configs: ``from_preset``, ``from_dict``, ``to_dict``.

    A subclass sets ``KIND`` (used in messages) and ``PRESETS`` (name -> field overrides).
    """

    KIND: ClassVar[str] = "system"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the config's fields that can be set, in declaration order (not ``preset``)."""
        return [f.name for f in dataclasses.fields(cls) if f.name != "preset"]

    @classmethod
    def from_preset(cls: type[_Config], preset: str = "paper", /,
                    **overrides: Any) -> _Config:
        """Config of a named preset with any field overridden.

        ``preset`` is positional-only, so an override named ``preset`` (``--set
        preset=...``) is reported as an unknown field instead of a Python TypeError.
        An unknown preset or field is a :class:`ConfigError` that names it.
        """
        check_choice("preset", preset, tuple(cls.PRESETS))
        unknown = sorted(set(overrides) - set(cls.field_names()))
        if unknown:
            bad = ", ".join(f"{name}={overrides[name]!r}" for name in unknown)
            what = f"is not a {cls.KIND} config field" if len(unknown) == 1 else \
                f"are not {cls.KIND} config fields"
            raise ConfigError(f"{bad} {what}{did_you_mean(unknown, cls.field_names())}; "
                              "expected one of "
                              + ", ".join(cls.field_names()))
        return cls(preset=preset, **{**cls.PRESETS[preset], **overrides})

    @classmethod
    def from_dict(cls: type[_Config], values: dict[str, Any]) -> _Config:
        """Rebuild a config saved with :meth:`to_dict`."""
        values = dict(values)
        preset = values.pop("preset", "custom")
        if preset in cls.PRESETS:
            return cls.from_preset(preset, **values)
        return cls(preset=preset, **values)

    def __post_init__(self) -> None:
        """Read text numbers, run the subclass's range checks (:meth:`_validate`), then give
        every scalar field its declared type (``carrier_hz="2.4e9"`` -> 2.4e9, ``n_links=
        20.0`` -> 20; a field of another type is a :class:`ConfigError` naming it)."""
        self._each_scalar(parse_scalar)
        self._validate()
        self._each_scalar(check_declared)

    def _each_scalar(self, fn) -> None:
        for f in dataclasses.fields(self):
            declared = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            value = getattr(self, f.name)
            new = fn(f.name, value, declared) if fn is check_declared else fn(value, declared)
            if new is not value:
                object.__setattr__(self, f.name, new)

    def _validate(self) -> None:
        """Range checks of the fields (subclasses): :class:`ConfigError` naming a bad one."""

    def to_dict(self) -> dict[str, Any]:
        """Every field (``preset`` included) by name, for files; :meth:`from_dict` reverses it."""
        return dataclasses.asdict(self)

    def replace(self: _Config, **changes: Any) -> _Config:
        """A copy with some fields changed, validated again like a new config."""
        return dataclasses.replace(self, **changes)
