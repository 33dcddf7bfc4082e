"""Multi-user MISO solution files: solve a ``mu-miso`` data set, evaluate beamformers.

The D2D counterpart is :mod:`wirelessrl.solutions`, which hands ``mu-miso`` data files to
this module, so ``wirelessrl solve`` and ``wirelessrl evaluate`` serve both.

Example
-------
>>> path = solve_mu_miso_file("mu.h5", "wmmse", "wmmse.h5", restarts=4)   # doctest: +SKIP
>>> rows = evaluate_mu_miso_files("mu.h5", ["wmmse.h5", "maxmin.h5"])    # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from baselines.mu_miso import BEAMFORMING_SOLVERS, STATUSES, solve_beamforming
from simulators.beamforming import user_rates_bps
from simulators.validation import ConfigError, check_choice
from wirelessrl.datasets import load_mu_miso
from wirelessrl.evaluate import (
    Evaluation,
    MetricSummary,
    ReferenceSpec,
    evaluate_rates,
    rate_table,
)
from wirelessrl.fileio import check_output, provenance, read_arrays, write_arrays
from wirelessrl.solution_files import (
    check_per_sample_columns,
    check_same_data,
    check_solution_arrays,
    check_solution_fits,
    data_checksum,
    solution_labels,
)

MU_MISO_SOLUTION_KIND = "mu-miso-solution"
SUM_RATE_REFERENCE = "wmmse"
MIN_RATE_REFERENCE = "maxmin"
PER_SAMPLE_METHODS = ("maxmin-cvxpy",)
"""Solvers that work one sample at a time (a cvxpy bisection: about a second each)."""
MU_MISO_REFERENCES = (
    ReferenceSpec("sum-rate", (SUM_RATE_REFERENCE,), "WMMSE",
                  "wirelessrl solve {data} --method wmmse -o wmmse.h5"),
    ReferenceSpec("min-rate", (MIN_RATE_REFERENCE, "maxmin-cvxpy"), "the max-min optimum",
                  "wirelessrl solve {data} --method maxmin -o maxmin.h5",
                  "maxmin-cvxpy solves the same max-min problem"),
)
"""The percent columns of a multi-user MISO evaluation."""


def solve_mu_miso_file(data_path: str | os.PathLike, method: str, out_path: str | os.PathLike,
                       *, overwrite: bool = False, fmt: str | None = None,
                       progress: bool = False, **options: Any) -> Path:
    """Solve every sample of a multi-user MISO file with ``method``; write the beamformers.

    The output holds ``w [batch, K, M]`` (complex, sqrt(W)), ``status [batch]``,
    ``iterations [batch]`` and ``objective [batch]`` (bit/s/Hz: sum-rate or min-rate), with
    the data file's config, seed and arrays checksum (``data_sha256``: imported channels
    have no seed), the solver options and the stopping rule.
    ``progress``: a tqdm bar over the samples for the per-sample solvers
    (:data:`PER_SAMPLE_METHODS`; the others take milliseconds for the whole file).

    Example
    -------
    >>> from simulators.mu_miso import MuMisoConfig
    >>> from wirelessrl.datasets import simulate_mu_miso_file
    >>> data = simulate_mu_miso_file(MuMisoConfig.from_preset("rayleigh-10db"), 6, 1, "mu.h5")
    >>> arrays, meta = load_mu_miso_solution(solve_mu_miso_file(data, "zf", "zf.h5"))
    >>> arrays["w"].shape, meta["task"]
    ((6, 4, 4), 'sum-rate')
    """
    check_choice("method", method, tuple(BEAMFORMING_SOLVERS))
    check_output(out_path, overwrite)
    data = load_mu_miso(data_path)
    cfg = data.config
    start = time.perf_counter()
    if progress and method in PER_SAMPLE_METHODS:
        options = {**options, "progress": True}
    res = solve_beamforming(method, data.h, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w,
                            **options)
    seconds = time.perf_counter() - start
    arrays = {"w": res.w, "status": res.status.astype("S16"),
              "iterations": np.asarray(res.iterations, dtype=np.int64),
              "objective": np.asarray(res.objective, dtype=np.float64)}
    meta = provenance(MU_MISO_SOLUTION_KIND, cfg.to_dict(), data.seed, method=method,
                      task=res.task, options=dict(res.options), seconds=seconds,
                      data_file=str(data_path), data_n=len(data),
                      data_sha256=data_checksum(data_path))
    return write_arrays(out_path, arrays, meta, fmt, overwrite=overwrite)


def load_mu_miso_solution(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`solve_mu_miso_file`; check its arrays and provenance."""
    arrays, meta = read_arrays(path, MU_MISO_SOLUTION_KIND)
    where = f"file {str(path)!r}"
    check_solution_arrays(where, arrays, "w")
    w = arrays["w"]
    if w.ndim != 3 or not np.issubdtype(w.dtype, np.complexfloating):
        raise ConfigError(f"{where}: w has shape {w.shape} and dtype {w.dtype}; expected "
                          "complex beamformers of shape (batch, K, M)")
    check_per_sample_columns(where, {k: a.shape for k, a in arrays.items()}, w.shape)
    arrays["status"] = arrays["status"].astype(str)
    unknown = sorted(set(arrays["status"]) - set(STATUSES))
    if unknown:
        raise ConfigError(f"{where}: status {unknown[0]!r} is invalid; expected one of "
                          f"{', '.join(STATUSES)}")
    ok = arrays["status"] != "failed"
    if not np.all(np.isfinite(w[ok])):
        raise ConfigError(f"{where}: w holds non-finite beamformers on samples not marked "
                          "failed; expected finite values")
    for key, kind in (("method", str), ("options", dict), ("config", dict), ("seed", int)):
        if key == "seed" and meta.get(key) is None:
            continue  # solved on imported channels: the data file has no seed either
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ConfigError(f"{where}: its metadata {key}={meta.get(key)!r}; expected a "
                              f"{kind.__name__}")
    return arrays, meta


def mu_miso_table(h: np.ndarray, noise_w: float, beams: Mapping[str, np.ndarray],
                  sum_reference: str | None = SUM_RATE_REFERENCE,
                  min_reference: str | None = MIN_RATE_REFERENCE) -> list[MetricSummary]:
    """Sum-rate and min-rate summaries (bit/s/Hz) of every method's beamformers.

    Input
    -----
    h : [batch, K, M], complex; noise_w : float, W
    beams : {method name: [batch, K, M] complex beamformers}
    sum_reference, min_reference : method names used as 100 % (skipped if absent)
    """
    rates = {name: user_rates_bps(h, w, noise_w) for name, w in beams.items()}
    return rate_table(rates, "bit/s/Hz", sum_reference, min_reference)


def evaluate_mu_miso_solutions(data_path: str | os.PathLike,
                               solution_paths: list[str | os.PathLike]) -> Evaluation:
    """Per-user, per-sample and summary rates (bit/s/Hz, 95 % CIs) of solution files on
    the data they were solved for, with % of WMMSE and of the max-min optimum when those
    files are among them (:attr:`Evaluation.references` says which, or why not)."""
    if not solution_paths:
        raise ConfigError("solutions: none given; expected one or more files from 'solve'")
    data = load_mu_miso(data_path)
    data_sha256 = data_checksum(data_path)
    loaded = []
    for path in solution_paths:
        arrays, meta = load_mu_miso_solution(path)
        check_same_data(path, meta, data_path, data.seed, data_sha256, "samples")
        check_solution_fits(path, data_path, arrays["w"].shape, data.h.shape, meta,
                            data.config.to_dict(), data.seed, arrays["status"], "samples")
        loaded.append((path, arrays["w"], meta))
    labels = solution_labels([(path, meta["method"]) for path, _, meta in loaded])
    by_label = dict(zip(labels, loaded, strict=True))
    ev = evaluate_rates(
        {lab: user_rates_bps(data.h, w, data.config.noise_w)
         for lab, (_, w, _) in by_label.items()},
        {lab: meta["method"] for lab, (_, _, meta) in by_label.items()},
        {lab: meta["options"].get("stopping_rule", meta["method"])
         for lab, (_, _, meta) in by_label.items()},
        "bit/s/Hz", MU_MISO_REFERENCES, sample="sample", link="user",
        files={lab: str(path) for lab, (path, _, _) in by_label.items()},
        data_file=str(data_path))
    ev.meta = {"kind": "mu-miso-samples", "seed": data.seed, "config": data.config.to_dict(),
               "version": loaded[0][2].get("version")}
    return ev


def evaluate_mu_miso_files(data_path: str | os.PathLike,
                           solution_paths: list[str | os.PathLike]) -> list[MetricSummary]:
    """Sum-rate and min-rate (bit/s/Hz) of solution files on the data they were solved for:
    the rows of :func:`evaluate_mu_miso_solutions`.

    Example
    -------
    >>> from simulators.mu_miso import MuMisoConfig
    >>> from wirelessrl.datasets import simulate_mu_miso_file
    >>> data = simulate_mu_miso_file(MuMisoConfig.from_preset("rayleigh-10db"), 6, 1, "mu.h5")
    >>> files = [solve_mu_miso_file(data, m, f"{m}.h5") for m in ("maxmin", "zf")]
    >>> rows = evaluate_mu_miso_files(data, files)
    >>> [(r.method, r.metric, r.reference) for r in rows][:2]
    [('maxmin', 'sum-rate', None), ('maxmin', 'min-rate', 'maxmin')]
    >>> round(rows[1].pct_of_reference_mean_ratio, 6)
    100.0
    """
    return evaluate_mu_miso_solutions(data_path, solution_paths).rows


__all__ = ["MU_MISO_SOLUTION_KIND", "evaluate_mu_miso_files", "evaluate_mu_miso_solutions",
           "load_mu_miso_solution", "mu_miso_table", "solve_mu_miso_file"]
