"""Checkpoints: atomic writes, safe reads, clear errors on mismatch.

A checkpoint is a ``torch.save`` of a dict holding only tensors and plain Python types
(state dicts, a config as a JSON string, epoch counters, optimizer state, RNG states).
It is written with :func:`wirelessrl.fileio.atomic_path` (a temporary file in the same
directory, fsynced, then renamed), so a crash never leaves a half-written file under the
final name.
Reading always uses ``torch.load(weights_only=True)``: a file that carries arbitrary
Python objects (a crafted pickle) is refused with a :class:`ConfigError` rather than
executed. Every checkpoint also carries a SHA-256 of its contents (``checksum_sha256``,
verified and removed on load), so a corrupted or hand-edited file is refused instead of
loading different weights.

Trained networks are stored with :func:`save_net` (architecture as JSON + weights +
metadata) and rebuilt by :func:`load_net`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from wirelessrl.models import TransferNet

from simulators.validation import ConfigError
from wirelessrl.fileio import atomic_path

__all__ = [
    "NET_FORMAT",
    "save_checkpoint",
    "load_checkpoint",
    "check_state_dict",
    "load_state_dict",
    "save_net",
    "load_net",
]

NET_FORMAT = "wirelessrl-net/1"
CHECKSUM_KEY = "checksum_sha256"


def payload_checksum(payload: Any) -> str:
    """SHA-256 over a payload of tensors and plain types, walked in a fixed order."""
    digest = hashlib.sha256()

    def walk(obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu().contiguous()
            digest.update(f"T|{t.dtype}|{tuple(t.shape)}|".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(obj, Mapping):
            digest.update(f"D{len(obj)}|".encode())
            for key in sorted(obj, key=repr):
                digest.update(f"{key!r}:".encode())
                walk(obj[key])
        elif isinstance(obj, (list, tuple)):
            digest.update(f"L{len(obj)}|".encode())
            for item in obj:
                walk(item)
        else:
            digest.update(f"{type(obj).__name__}|{obj!r}|".encode())

    walk(payload)
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` atomically (:func:`wirelessrl.fileio.atomic_path` with fsync).

    Input
    -----
    path : file to write (its directory is created if needed)
    payload : dict of tensors, state dicts and plain types (str, int, float, bool, None,
        lists, dicts); anything else would be refused when loading

    Output
    ------
    Path of the written file

    Example
    -------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.pt"
    >>> load_checkpoint(save_checkpoint(p, {"epoch": 3, "w": torch.ones(2)}))["epoch"]
    3
    """
    path = Path(path)
    payload = {k: v for k, v in payload.items() if k != CHECKSUM_KEY}
    payload[CHECKSUM_KEY] = payload_checksum(payload)
    with atomic_path(path, fsync=True) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    Input
    -----
    path : file written by :func:`save_checkpoint` (or any plain ``torch.save`` of
        tensors and plain types)
    map_location : device for the tensors (default CPU)

    Output
    ------
    dict

    Raises :class:`ConfigError` when the file is missing, unreadable, not a dict, fails its
    checksum, or holds Python objects other than tensors and plain types (a pickle is never
    executed). Files without a checksum (written before it existed) load unverified.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {str(path)!r} does not exist")
    try:
        is_zip = zipfile.is_zipfile(path)
    except Exception:  # noqa: BLE001 - a damaged end record raises instead of returning False
        is_zip = False
    if not is_zip:
        raise ConfigError(
            f"checkpoint {str(path)!r} is not a readable torch checkpoint (expected the zip "
            "format written by torch.save)"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"checkpoint {str(path)!r} was refused: it holds Python objects other than tensors "
            f"and plain types, which are not loaded for safety (weights_only=True): {first}"
        ) from None
    except Exception as err:  # a corrupt archive surfaces as many exception types
        raise ConfigError(
            f"checkpoint {str(path)!r} is not a readable torch checkpoint "
            f"({type(err).__name__}: {str(err).strip().splitlines()[0] if str(err) else ''})"
        ) from None
    if not isinstance(payload, dict):
        raise ConfigError(
            f"checkpoint {str(path)!r} holds a {type(payload).__name__}; expected a dict"
        )
    if CHECKSUM_KEY in payload:
        stored = payload.pop(CHECKSUM_KEY)
        if stored != payload_checksum(payload):
            raise ConfigError(
                f"checkpoint {str(path)!r} failed its checksum: its contents no longer match "
                "what was written (corrupted or edited)"
            )
    return payload


def _describe(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise :class:`ConfigError` unless ``state`` has exactly the model's keys and shapes.

    The message names ``source`` (usually the file) and lists missing keys, unexpected
    keys and shape differences.
    """
    if not isinstance(state, Mapping):
        raise ConfigError(f"{source}: the model state is a {type(state).__name__}; expected a dict")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} is {tuple(state[k].shape)} in the file but {tuple(own[k].shape)} in the model"
        for k in own
        if k in state and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"the file lacks {_describe(missing)}")
    if unexpected:
        problems.append(f"the model lacks {_describe(unexpected)}")
    if shapes:
        problems.append(_describe(shapes, 2))
    if problems:
        raise ConfigError(
            f"{source} does not match the model: " + "; ".join(problems)
            + " (was it written for another network config?)"
        )


def load_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """:func:`check_state_dict`, then ``model.load_state_dict(state)``."""
    check_state_dict(model, state, source)
    model.load_state_dict(state)


def save_net(path: str | os.PathLike, net: nn.Module, **meta: Any) -> Path:
    """Save a :class:`~wirelessrl.models.TransferNet`: config JSON, weights and metadata.

    ``meta`` must be JSON-serializable (e.g. training config, seed, input statistics as
    lists, package version).

    Example
    -------
    >>> import tempfile, pathlib
    >>> from wirelessrl.models import TransferNet, d2d_net_config
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "net.pt"
    >>> net, meta = load_net(save_net(p, TransferNet.from_config(d2d_net_config()), seed=1))
    >>> meta["seed"], net.head_names
    (1, ('sum_rate', 'min_rate'))
    """
    try:
        meta_json = json.dumps(meta, sort_keys=True)
    except TypeError as err:
        raise ConfigError(f"save_net: metadata is not JSON-serializable ({err})") from None
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    return save_checkpoint(
        path,
        {"format": NET_FORMAT, "net_config": net.config.to_json(), "state_dict": state,
         "meta": meta_json},
    )


def load_net(path: str | os.PathLike,
             map_location: str | torch.device = "cpu") -> tuple[TransferNet, dict]:
    """Rebuild a network saved by :func:`save_net`; returns ``(net, meta)``."""
    from wirelessrl.models import NetConfig, TransferNet

    payload = load_checkpoint(path, map_location)
    if payload.get("format") != NET_FORMAT:
        raise ConfigError(
            f"{str(path)!r} is not a saved network (format={payload.get('format')!r}; "
            f"expected {NET_FORMAT!r})"
        )
    source = f"network file {str(path)!r}"
    for key in ("net_config", "state_dict", "meta"):
        if key not in payload:
            raise ConfigError(f"{source} lacks {key!r}; expected net_config, state_dict, meta")
    try:
        net = TransferNet.from_config(NetConfig.from_json(payload["net_config"]))
        meta = json.loads(payload["meta"])
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as err:
        raise ConfigError(f"{source} holds an invalid net_config or meta ({err})") from None
    load_state_dict(net, payload["state_dict"], source)
    for name, value in payload["state_dict"].items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ConfigError(f"{source}: weight {name!r} holds NaN or inf; expected finite")
    return net, meta
