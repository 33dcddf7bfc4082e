"""MISO pilot-setting solution files: classical beamformers and position estimators.

The MISO counterpart of :mod:`wirelessrl.solutions` (D2D) and
:mod:`wirelessrl.beamforming_solutions` (multi-user MISO); ``wirelessrl solve`` and
``wirelessrl evaluate`` hand ``miso-samples`` data files here.

Beamformers (``v [batch, n_bs, M]``, unit norm; scored by the gain as % of perfect MRT):

- ``mrt`` - perfect-CSI maximum ratio transmission (the 100 % reference);
- ``los`` - MRT on the line-of-sight part, position known;
- ``lmmse`` - MRT on the genie LMMSE channel estimate (position known, from the pilots);
- ``random`` - isotropic unit-norm beams (``--seed``).

Position estimators (``positions_m [batch, 2]``; scored by the error in m):

- ``centre`` - the centre of the user area;
- ``grid-mmse`` / ``grid-ml`` - posterior mean / maximum likelihood over a position grid
  from the known model (no labels);
- ``knn`` - k nearest fingerprints of a *labelled* MISO file of the same system
  (``fingerprints=FILE``, ``k``).

Example
-------
>>> path = solve_miso_file("miso.h5", "grid-mmse", "grid.h5")          # doctest: +SKIP
>>> rows = evaluate_miso_files("miso.h5", ["grid.h5", "centre.h5"])     # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from baselines import miso as miso_baselines
from simulators.miso import MisoSamples, observations_to_real
from simulators.validation import ConfigError, check_int, check_positive
from wirelessrl.datasets import MISO_KIND, load_miso
from wirelessrl.evaluate import MetricSummary, summarize
from wirelessrl.fileio import check_output, file_kind, provenance, read_arrays, write_arrays

MISO_SOLUTION_KIND = "miso-solution"
BEAMFORMERS = ("mrt", "los", "lmmse", "random")
LOCALIZERS = ("centre", "grid-mmse", "grid-ml", "knn")
MISO_METHODS = BEAMFORMERS + LOCALIZERS
MISO_STATUSES = ("closed-form", "heuristic", "failed")
"""``closed-form``: the estimator's formula, no iterations; ``heuristic``: a rule that
ignores the observations (``centre``, ``random``)."""
OPTIONS = {"random": ("seed",), "grid-mmse": ("grid_step_m",), "grid-ml": ("grid_step_m",),
           "knn": ("fingerprints", "k")}


def is_miso_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a MISO pilot-setting data file (``miso-samples``)."""
    return file_kind(path) == MISO_KIND


def _check_options(method: str, options: dict) -> dict:
    allowed = OPTIONS.get(method, ())
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"{unknown[0]} is not an option of MISO method {method!r}; "
                          f"expected {', '.join(allowed) or 'no options'}")
    return dict(options)


def _estimate(method: str, data: MisoSamples, options: dict) -> tuple[str, np.ndarray, str]:
    """``(decision array name, values, status)`` of ``method`` on ``data``."""
    cfg, n = data.config, len(data)
    if method == "mrt":
        return "v", miso_baselines.mrt(data.h), "closed-form"
    if method == "los":
        return "v", miso_baselines.los_beamformer(cfg, data.positions_m), "closed-form"
    if method == "lmmse":
        return "v", miso_baselines.genie_lmmse_beamformer(cfg, data.system, data.positions_m,
                                                          data.y), "closed-form"
    if method == "random":
        seed = check_int("seed", options.get("seed", 0), 0)
        return "v", miso_baselines.random_beamformer(n, cfg.n_bs, cfg.n_antennas, seed), \
            "heuristic"
    if method == "centre":
        return "positions_m", miso_baselines.centre_guess(n, cfg), "heuristic"
    if method in ("grid-mmse", "grid-ml"):
        step = check_positive("grid_step_m", options.get("grid_step_m", 1.0))
        return "positions_m", miso_baselines.grid_localization(
            cfg, data.system, data.y, estimator=method.removeprefix("grid-"),
            grid_step_m=step), "closed-form"
    path = options.get("fingerprints")
    if path is None:
        raise ConfigError("fingerprints=None is invalid for method 'knn'; expected a labelled "
                          "MISO data file of the same system (--fingerprints FILE)")
    train = load_miso(path, system=data.system)
    k = check_int("k", options.get("k", 10), 1)
    return "positions_m", miso_baselines.knn_fingerprint(
        observations_to_real(train.y), train.positions_m, observations_to_real(data.y), k), \
        "closed-form"


def solve_miso_file(data_path: str | os.PathLike, method: str, out_path: str | os.PathLike,
                    *, overwrite: bool = False, fmt: str | None = None,
                    **options: Any) -> Path:
    """Run a MISO beamformer or position estimator on every sample of a MISO data file.

    The output holds the decision array (``v [batch, n_bs, M]`` complex unit-norm beams, or
    ``positions_m [batch, 2]`` in m), ``status [batch]`` (closed-form, heuristic) and
    ``iterations [batch]`` (0), with the data file's config, seed and system seed, the
    method, its options and the seconds it took.

    Example
    -------
    >>> from simulators.miso import MisoConfig
    >>> from wirelessrl.datasets import simulate_miso_file
    >>> data = simulate_miso_file(MisoConfig.from_preset("paper"), 8, 1, "paper", "miso.h5")
    >>> arrays, meta = load_miso_solution(solve_miso_file(data, "mrt", "mrt.h5"))
    >>> arrays["v"].shape, meta["task"]
    ((8, 3, 16), 'beamforming')
    """
    if method not in MISO_METHODS:
        raise ConfigError(f"method={method!r} is invalid for {str(data_path)!r}, a file of MISO "
                          f"pilot samples; expected one of {', '.join(MISO_METHODS)}")
    options = _check_options(method, options)
    check_output(out_path, overwrite)
    data = load_miso(data_path)
    start = time.perf_counter()
    name, values, status = _estimate(method, data, options)
    seconds = time.perf_counter() - start
    n = len(data)
    arrays = {name: values, "status": np.full(n, status, dtype="S16"),
              "iterations": np.zeros(n, dtype=np.int64)}
    task = "beamforming" if name == "v" else "localization"
    meta = provenance(MISO_SOLUTION_KIND, data.config.to_dict(), data.seed, method=method,
                      task=task, options={k: str(v) for k, v in options.items()},
                      seconds=seconds, data_file=str(data_path), data_n=n,
                      system_seed=data.system.system_seed)
    return write_arrays(out_path, arrays, meta, fmt, overwrite=overwrite)


def load_miso_solution(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`solve_miso_file`; check its arrays and provenance."""
    arrays, meta = read_arrays(path, MISO_SOLUTION_KIND)
    where = f"file {str(path)!r}"
    task = meta.get("task")
    decision = {"beamforming": "v", "localization": "positions_m"}.get(task)
    if decision is None:
        raise ConfigError(f"{where}: its metadata task={task!r}; expected beamforming or "
                          "localization")
    for key in (decision, "status"):
        if key not in arrays:
            raise ConfigError(f"{where} lacks the array {key!r}")
    values = arrays[decision]
    if arrays["status"].shape != values.shape[:1]:
        raise ConfigError(f"{where}: status has shape {arrays['status'].shape}; expected "
                          f"{values.shape[:1]}")
    arrays["status"] = arrays["status"].astype(str)
    unknown = sorted(set(arrays["status"]) - set(MISO_STATUSES))
    if unknown:
        raise ConfigError(f"{where}: status {unknown[0]!r} is invalid; expected one of "
                          f"{', '.join(MISO_STATUSES)}")
    if not np.all(np.isfinite(values[arrays["status"] != "failed"])):
        raise ConfigError(f"{where}: {decision} holds non-finite values on samples not "
                          "marked failed; expected finite values")
    return arrays, meta


def evaluate_miso_files(data_path: str | os.PathLike,
                        solution_paths: list[str | os.PathLike]) -> list[MetricSummary]:
    """Beamforming gain (% of perfect MRT, per sample averaged over BSs) and localization
    error (m) of MISO solution files on the data they were solved for.

    Input
    -----
    data_path : the ``miso-samples`` file; solution_paths : files from :func:`solve_miso_file`

    Output
    ------
    One :class:`~wirelessrl.evaluate.MetricSummary` per file: metric ``gain`` (unit ``% of
    MRT``) for beamformers, ``error`` (unit ``m``) for position estimators.

    Example
    -------
    >>> from simulators.miso import MisoConfig
    >>> from wirelessrl.datasets import simulate_miso_file
    >>> data = simulate_miso_file(MisoConfig.from_preset("paper"), 8, 1, "paper", "miso.h5")
    >>> files = [solve_miso_file(data, m, f"{m}.h5") for m in ("mrt", "centre")]
    >>> [(r.method, r.metric, r.unit) for r in evaluate_miso_files(data, files)]
    [('mrt', 'gain', '% of MRT'), ('centre', 'error', 'm')]
    """
    if not solution_paths:
        raise ConfigError("solutions: none given; expected one or more files from 'solve'")
    data = load_miso(data_path)
    rows = []
    for path in solution_paths:
        kind = file_kind(path)
        if kind is not None and kind != MISO_SOLUTION_KIND:
            raise ConfigError(f"file {str(path)!r} holds kind={kind!r}; {str(data_path)!r} holds "
                              f"MISO pilot samples, so expected kind={MISO_SOLUTION_KIND!r} "
                              f"(files from 'wirelessrl solve {data_path} --method ...')")
        arrays, meta = load_miso_solution(path)
        if meta["config"] != data.config.to_dict() or meta["seed"] != data.seed \
                or meta.get("system_seed") != data.system.system_seed:
            raise ConfigError(f"file {str(path)!r} was solved for other samples (config, seed "
                              f"or system seed differ from {str(data_path)!r})")
        failed = arrays["status"] == "failed"
        if failed.any():
            raise ConfigError(f"file {str(path)!r}: {int(failed.sum())} samples have status "
                              "'failed'; re-solve them before evaluating")
        if meta["task"] == "beamforming":
            _check_shape(path, arrays["v"], data.h.shape, data_path)
            gain = 100 * miso_baselines.beamforming_gain(data.h, arrays["v"]).mean(axis=-1)
            rows.append(summarize(meta["method"], "gain", "% of MRT", gain))
        else:
            _check_shape(path, arrays["positions_m"], data.positions_m.shape, data_path)
            err = miso_baselines.localization_errors_m(arrays["positions_m"], data.positions_m)
            rows.append(summarize(meta["method"], "error", "m", err))
    return rows


def _check_shape(path, values: np.ndarray, expected: tuple, data_path) -> None:
    if values.shape != expected:
        raise ConfigError(f"file {str(path)!r}: shape {values.shape}; expected {expected} to "
                          f"match {str(data_path)!r}")


__all__ = ["BEAMFORMERS", "LOCALIZERS", "MISO_METHODS", "MISO_SOLUTION_KIND",
           "evaluate_miso_files", "is_miso_file", "load_miso_solution", "solve_miso_file"]
