"""Parameter checks shared by every config: one message shape for all bad input.

Every check raises :class:`ConfigError` with the field, the value and what is allowed, so
the CLI can print it as one line and exit with code 2.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A user-supplied parameter is invalid. The message names the field, value and range."""


def check_finite(field: str, value: Any) -> float:
    """``value`` as a finite float, else a :class:`ConfigError` naming ``field``.

    Text numbers are accepted (``"1e-3"``); booleans, NaN and infinities are not.

    Example
    -------
    >>> check_finite("p_max_dbm", "30")
    30.0
    >>> check_finite("p_max_dbm", float("nan"))
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: p_max_dbm=nan is invalid; expected a finite number
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field}={value!r} is invalid; expected a number") from None
    if isinstance(value, bool) or not math.isfinite(x):
        raise ConfigError(f"{field}={value!r} is invalid; expected a finite number")
    return x


def check_positive(field: str, value: Any) -> float:
    """``value`` as a finite float > 0, else a :class:`ConfigError` naming ``field``.

    Example
    -------
    >>> check_positive("bandwidth_hz", 5e6)
    5000000.0
    """
    x = check_finite(field, value)
    if x <= 0:
        raise ConfigError(f"{field}={value!r} is invalid; expected a number > 0")
    return x


def check_nonnegative(field: str, value: Any) -> float:
    """``value`` as a finite float >= 0, else a :class:`ConfigError` naming ``field``.

    Example
    -------
    >>> check_nonnegative("snr_gap_db", 0)
    0.0
    """
    x = check_finite(field, value)
    if x < 0:
        raise ConfigError(f"{field}={value!r} is invalid; expected a number >= 0")
    return x


def check_int(field: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, else a :class:`ConfigError` naming ``field``.

    Python and NumPy integers and integral floats (``20.0``) pass; booleans, text and
    fractional floats do not.

    Example
    -------
    >>> check_int("n_links", 20.0)
    20
    >>> check_int("n_links", 0)
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: n_links=0 is invalid; expected an integer >= 1
    """
    import numpy as np

    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        is_int = True
    if not is_int or int(value) < minimum:
        raise ConfigError(f"{field}={value!r} is invalid; expected an integer >= {minimum}")
    return int(value)


_SCALAR_TYPES = {"float": float, "int": int, "bool": bool, "str": str}


def _declared_kind(declared: str) -> tuple[type | None, bool]:
    text = declared.replace(" ", "")
    optional = text.endswith("|None")
    return _SCALAR_TYPES.get(text.removesuffix("|None")), optional


def parse_scalar(value: Any, declared: str) -> Any:
    """``value`` read as the declared scalar type where it is text or a NumPy scalar.

    Numbers written as text (``"2.4e9"``, ``"1E3"``: a config read by an older loader, a
    MATLAB cell) become numbers, ``"true"`` / ``"false"`` booleans where a ``bool`` is
    declared, NumPy scalars Python ones. Anything else is returned unchanged, for the
    field's range check and then :func:`check_declared`.

    Example
    -------
    >>> parse_scalar("2.4e9", "float"), parse_scalar("20", "int"), parse_scalar("abc", "float")
    (2400000000.0, 20, 'abc')
    """
    import numpy as np

    kind, _ = _declared_kind(declared)
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str) or kind in (None, str):
        return value
    text = value.strip().replace("_", "")
    if kind is bool:
        return {"true": True, "false": False}.get(text.lower(), value)
    try:
        number = float(text)
    except ValueError:
        return value
    return int(number) if kind is int and number.is_integer() else number


def check_declared(field: str, value: Any, declared: str) -> Any:
    """``value`` with the declared scalar type (``"float"``, ``"int"``, ``"bool"``,
    ``"str"``, optionally ``"... | None"``): an int where a float is declared becomes a
    float, an integral float where an int is declared an int; anything else not of that
    type is a :class:`ConfigError` naming the field. Other declarations pass unchanged.

    Example
    -------
    >>> check_declared("p_max_dbm", 30, "float"), check_declared("n_links", 20.0, "int")
    (30.0, 20)
    >>> check_declared("fading", 1, "bool")
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: fading=1 is invalid; expected true or false
    """
    kind, optional = _declared_kind(declared)
    if kind is None or (optional and value is None) or type(value) is kind:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (kind is int and isinstance(value, float) and math.isfinite(value)
            and value.is_integer()):
        return int(value)
    expected = {float: "a number", int: "an integer", bool: "true or false",
                str: "a name (text)"}[kind]
    raise ConfigError(f"{field}={value!r} is invalid; expected {expected}")


def did_you_mean(name: Any, choices: Iterable[Any]) -> str:
    """``" (did you mean 'n_links'?)"`` for the closest of ``choices`` to ``name`` (or to
    each of a list of names), else ``""``.

    Example
    -------
    >>> did_you_mean("n_link", ["n_links", "field_m"])
    " (did you mean 'n_links'?)"
    >>> did_you_mean(["n_link", "feld_m", "zzz"], ["n_links", "field_m"])
    " (did you mean 'n_links', 'field_m'?)"
    """
    names = name if isinstance(name, list) else [name]
    options = [str(c) for c in choices]
    close = [m for n in names for m in difflib.get_close_matches(str(n), options, 1, 0.6)]
    return f" (did you mean {', '.join(repr(m) for m in close)}?)" if close else ""


def check_choice(field: str, value: Any, allowed: tuple[str, ...] | list[str]) -> str:
    """``value`` if it is one of ``allowed``, else a :class:`ConfigError` listing them.

    Example
    -------
    >>> check_choice("redraw", "offending", ("all", "offending"))
    'offending'
    >>> check_choice("redraw", "al", ("all", "offending"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: redraw='al' is invalid; ... (did you mean 'all'?)
    """
    if value not in allowed:
        raise ConfigError(f"{field}={value!r} is invalid; expected one of {', '.join(allowed)}"
                          + did_you_mean(value, allowed))
    return value
