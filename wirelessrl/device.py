"""Choice of the torch device, resolved once at the entry of a run (never at import)."""

from __future__ import annotations

import re

import torch

from simulators.validation import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:<index>")

_CUDA = re.compile(r"cuda(?::(\d+))?")


def check_device_name(device: str) -> str:
    """Validate a device name (``auto``, ``cpu``, ``cuda``, ``cuda:<index>``) without using it."""
    if not isinstance(device, str) or not (device in ("auto", "cpu") or _CUDA.fullmatch(device)):
        raise ConfigError(
            f"device={device!r} is invalid; expected one of {', '.join(DEVICE_CHOICES)}"
        )
    return device


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device for a name; ``auto`` picks CUDA when present, else the CPU.

    Input
    -----
    device : str, ``auto``, ``cpu``, ``cuda`` or ``cuda:<index>``

    Output
    ------
    torch.device

    Example
    -------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    check_device_name(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device={device!r} is invalid; CUDA is not available on this machine "
            "(expected auto or cpu)"
        )
    index = _CUDA.fullmatch(device).group(1)
    if index is not None and int(index) >= torch.cuda.device_count():
        raise ConfigError(
            f"device={device!r} is invalid; this machine has {torch.cuda.device_count()} "
            "CUDA device(s)"
        )
    return torch.device(device)
