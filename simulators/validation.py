"""Parameter checks shared by every config: one message shape for all bad input.

Every check raises :class:`ConfigError` with the field, the value and what is allowed, so
the CLI can print it as one line and exit with code 2.
"""

from __future__ import annotations

import math
from typing import Any


class ConfigError(ValueError):
    """A user-supplied parameter is invalid. The message names the field, value and range."""


def check_finite(field: str, value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field}={value!r} is invalid; expected a number") from None
    if isinstance(value, bool) or not math.isfinite(x):
        raise ConfigError(f"{field}={value!r} is invalid; expected a finite number")
    return x


def check_positive(field: str, value: Any) -> float:
    x = check_finite(field, value)
    if x <= 0:
        raise ConfigError(f"{field}={value!r} is invalid; expected a number > 0")
    return x


def check_nonnegative(field: str, value: Any) -> float:
    x = check_finite(field, value)
    if x < 0:
        raise ConfigError(f"{field}={value!r} is invalid; expected a number >= 0")
    return x


def check_int(field: str, value: Any, minimum: int = 1) -> int:
    import numpy as np

    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        is_int = True
    if not is_int or int(value) < minimum:
        raise ConfigError(f"{field}={value!r} is invalid; expected an integer >= {minimum}")
    return int(value)


def check_choice(field: str, value: Any, allowed: tuple[str, ...] | list[str]) -> str:
    if value not in allowed:
        raise ConfigError(f"{field}={value!r} is invalid; expected one of {', '.join(allowed)}")
    return value
