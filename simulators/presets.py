"""Named presets with field overrides, shared by every system-model config."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from simulators.validation import ConfigError, check_choice


class PresetConfig:
    """Mixin for frozen dataclass configs: ``from_preset``, ``from_dict``, ``to_dict``.

    A subclass sets ``KIND`` (used in messages) and ``PRESETS`` (name -> field overrides).
    """

    KIND: ClassVar[str] = "system"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "preset"]

    @classmethod
    def from_preset(cls, preset: str = "paper", /, **overrides):
        """Config of a named preset with any field overridden.

        ``preset`` is positional-only, so an override named ``preset`` (``--set
        preset=...``) is reported as an unknown field instead of a Python TypeError.
        """
        check_choice("preset", preset, tuple(cls.PRESETS))
        unknown = sorted(set(overrides) - set(cls.field_names()))
        if unknown:
            name = unknown[0]
            raise ConfigError(
                f"{name}={overrides[name]!r} is not a {cls.KIND} config field; expected one of "
                + ", ".join(cls.field_names())
            )
        return cls(preset=preset, **{**cls.PRESETS[preset], **overrides})

    @classmethod
    def from_dict(cls, values: dict):
        """Rebuild a config saved with :meth:`to_dict`."""
        values = dict(values)
        preset = values.pop("preset", "custom")
        if preset in cls.PRESETS:
            return cls.from_preset(preset, **values)
        return cls(preset=preset, **values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
