"""Checks shared by every solution file kind (D2D powers, multi-user beamformers)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from simulators.validation import ConfigError
from wirelessrl.fileio import ArrayReader

PER_SAMPLE_COLUMNS = ("status", "iterations", "objective")
"""Arrays of a solution file with one entry per sample, beside the decision array."""


def check_solution_arrays(where: str, arrays: dict, decision: str) -> None:
    """Raise :class:`ConfigError` naming the first array a solution file lacks."""
    names = (decision, *PER_SAMPLE_COLUMNS)
    missing = sorted(set(names) - set(arrays))
    if missing:
        raise ConfigError(f"{where} lacks the array {missing[0]!r}; expected "
                          + ", ".join(names))


def check_per_sample_columns(where: str, shapes: Mapping[str, tuple[int, ...]],
                             decision_shape: tuple[int, ...]) -> None:
    """Raise :class:`ConfigError` unless every per-sample column (``shapes``: name ->
    stored shape) has the batch of the decision array (``decision_shape``)."""
    for name in PER_SAMPLE_COLUMNS:
        if tuple(shapes[name]) != tuple(decision_shape[:1]):
            raise ConfigError(f"{where}: {name} has shape {tuple(shapes[name])}; expected "
                              f"{tuple(decision_shape[:1])}")


def solution_labels(files: list[tuple[str | os.PathLike, str]]) -> list[str]:
    """Row labels of solution files: the method, or ``method [file name]`` when two files
    share a method (the whole path when the file names are the same too).

    Example
    -------
    >>> solution_labels([("a/fp.h5", "fp"), ("b/fp150.h5", "fp"), ("mm.h5", "maxmin")])
    ['fp [fp.h5]', 'fp [fp150.h5]', 'maxmin']
    >>> solution_labels([("a/fp.h5", "fp"), ("b/fp.h5", "fp")])
    ['fp [a/fp.h5]', 'fp [b/fp.h5]']
    """
    counts: dict[str, int] = {}
    for _, method in files:
        counts[method] = counts.get(method, 0) + 1
    names = [os.path.basename(path) for path, _ in files]
    short = len(set(names)) == len(names)
    labels = [method if counts[method] == 1 else
              f"{method} [{name if short else str(path)}]"
              for (path, method), name in zip(files, names, strict=True)]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"solutions: a file is given twice ({', '.join(labels)}); expected "
                          "each file once")
    return labels


def check_solution_fits(path: str | os.PathLike, data_path: str | os.PathLike,
                        shape: tuple[int, ...], expected_shape: tuple[int, ...], meta: dict,
                        config: dict, seed: int | None, status: np.ndarray | None,
                        what: str) -> None:
    """Raise :class:`ConfigError` unless a solution file was solved for these samples and
    none of them failed (shared by the D2D and multi-user MISO evaluations; ``status``
    None: the failed samples are counted later, :func:`check_none_failed`)."""
    name = "p_w" if len(expected_shape) == 2 else "w"
    if tuple(shape) != tuple(expected_shape):
        raise ConfigError(f"file {str(path)!r}: {name} has shape {tuple(shape)}; expected "
                          f"{tuple(expected_shape)} to match {str(data_path)!r}")
    if meta["config"] != config or meta["seed"] != seed:
        raise ConfigError(f"file {str(path)!r} was solved for other {what} (config or seed "
                          f"differ from {str(data_path)!r})")
    if status is not None:
        check_none_failed(path, int(np.sum(status == "failed")), what)


def check_none_failed(path: str | os.PathLike, n_failed: int, what: str) -> None:
    """Raise :class:`ConfigError` when ``n_failed`` samples of a solution file failed."""
    if n_failed:
        raise ConfigError(f"file {str(path)!r}: {n_failed} {what} have status "
                          "'failed'; re-solve them before evaluating")


def data_checksum(data_path: str | os.PathLike) -> str | None:
    """The arrays checksum stored in a data file's metadata (read without its arrays)."""
    with ArrayReader(data_path) as f:
        return f.meta.get("checksum_sha256")


def check_same_data(path: str | os.PathLike, meta: dict, data_path: str | os.PathLike,
                    data_seed: int | None, data_sha256: str | None,
                    items: str = "layouts") -> None:
    """Imported data (gains, channels) have no seed to tell two data files apart: a
    solution of such a file must carry its arrays checksum (``data_sha256``), else
    :class:`ConfigError` (``items``: what the data holds, for the message)."""
    if data_seed is None and meta.get("data_sha256") != data_sha256:
        raise ConfigError(
            f"file {str(path)!r} was solved for other {items} (its data_sha256 "
            f"{str(meta.get('data_sha256'))[:12]}... differs from {str(data_path)!r}'s "
            f"{str(data_sha256)[:12]}...)"
        )
