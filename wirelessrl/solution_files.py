"""Checks shared by every solution file kind (D2D powers, multi-user beamformers)."""

from __future__ import annotations

import numpy as np

from simulators.validation import ConfigError

PER_SAMPLE_COLUMNS = ("status", "iterations", "objective")
"""Arrays of a solution file with one entry per sample, beside the decision array."""


def check_solution_arrays(where: str, arrays: dict, decision: str) -> None:
    """Raise :class:`ConfigError` naming the first array a solution file lacks."""
    names = (decision, *PER_SAMPLE_COLUMNS)
    missing = sorted(set(names) - set(arrays))
    if missing:
        raise ConfigError(f"{where} lacks the array {missing[0]!r}; expected "
                          + ", ".join(names))


def check_per_sample_columns(where: str, arrays: dict, decision: np.ndarray) -> None:
    """Raise :class:`ConfigError` unless every per-sample column has ``decision``'s batch."""
    for name in PER_SAMPLE_COLUMNS:
        if arrays[name].shape != decision.shape[:1]:
            raise ConfigError(f"{where}: {name} has shape {arrays[name].shape}; expected "
                              f"{decision.shape[:1]}")
