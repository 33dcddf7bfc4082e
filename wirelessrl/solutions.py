"""Solver result files: solve a D2D data set with a classical method, evaluate results.

Example
-------
>>> path = solve_file("d2d.h5", "fp", "fp.h5")                 # doctest: +SKIP
>>> rows = evaluate_files("d2d.h5", ["fp.h5", "maxmin.h5"])    # doctest: +SKIP
>>> ev = evaluate_solutions("d2d.h5", ["fp.h5", "maxmin.h5"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from baselines import SOLVERS, STATUSES, SeedAt, solve
from simulators.validation import ConfigError, check_choice
from wirelessrl.datasets import DTYPES, MISO_KIND, D2DFile, check_dtype, chunk_rows
from wirelessrl.evaluate import (
    Evaluation,
    MetricSummary,
    ReferenceSpec,
    d2d_link_rates_mbps,
    evaluate_layouts,
    layout_sums_mins,
)
from wirelessrl.fileio import (
    ArrayReader,
    RowArray,
    check_output,
    file_kind,
    provenance,
    read_arrays,
    stream_arrays,
)
from wirelessrl.solution_files import (  # noqa: F401 (data_checksum: API)
    check_none_failed,
    check_per_sample_columns,
    check_same_data,
    check_solution_arrays,
    check_solution_fits,
    data_checksum,
    solution_labels,
)

if TYPE_CHECKING:
    from wirelessrl.executors import DaskExecutor, InProcess

SOLUTION_KIND = "d2d-solution"
PER_LAYOUT_METHODS = ("maxmin-cvxpy",)
"""Solvers that work one layout at a time (milliseconds each): with ``progress`` they get
their own bar over the layouts of a chunk (in-process only)."""
SUM_RATE_REFERENCE = "fp"
MIN_RATE_REFERENCE = "maxmin"
D2D_REFERENCES = (
    ReferenceSpec("sum-rate", (SUM_RATE_REFERENCE, "wmmse"), "FP",
                  "wirelessrl solve {data} --method fp -o fp.h5",
                  "WMMSE and FP give the same iterates for scalar power control"),
    ReferenceSpec("min-rate", (MIN_RATE_REFERENCE, "maxmin-cvxpy"), "the max-min optimum",
                  "wirelessrl solve {data} --method maxmin -o maxmin.h5",
                  "maxmin-cvxpy solves the same max-min problem"),
)
"""The percent columns of a D2D evaluation: FP (or WMMSE, its equal for scalar power
control) for sum-rate, the exact max-min optimum for min-rate."""


def solve_file(
    data_path: str | os.PathLike,
    method: str,
    out_path: str | os.PathLike,
    *,
    overwrite: bool = False,
    fmt: str | None = None,
    chunk_size: int | None = None,
    dtype: str = "float64",
    compression: str | None = None,
    executor: InProcess | DaskExecutor | None = None,
    progress: bool = False,
    **options: Any,
) -> Path:
    """Solve every layout of a D2D file with ``method``; write powers, status, iterations.

    The output holds ``p_w [batch, n]`` (W), ``status [batch]`` (optimal, converged,
    max_iter, failed, heuristic: :data:`baselines.STATUSES`), ``iterations [batch]`` and
    ``objective [batch]`` (bit/s/Hz), with the data file's config and seed, the solver
    options and the stopping rule as provenance. Multi-user MISO data files go to
    :func:`wirelessrl.beamforming_solutions.solve_mu_miso_file`.

    Out of core: the layouts are read, solved and written ``chunk_size`` at a time (None:
    :data:`wirelessrl.datasets.CHUNK_BYTES` of gains), and the data file's checksum is
    verified in the same pass. Chunks run in-process or on ``executor``
    (:func:`wirelessrl.executors.open_executor`). Random draws (``random``, restarts) are
    positioned per layout (:class:`baselines.SeedAt`), so the output's bytes depend neither
    on the chunk size nor on the executor. ``dtype`` (``float64`` / ``float32``) is the
    stored precision of ``p_w`` and ``objective``. ``progress`` shows a tqdm bar over the
    layouts, updated per chunk, and for :data:`PER_LAYOUT_METHODS` run in-process a second
    bar over the layouts of the chunk being solved.

    Example
    -------
    >>> from simulators.d2d import D2DConfig
    >>> from wirelessrl.datasets import simulate_d2d_file
    >>> data = simulate_d2d_file(D2DConfig.from_preset("paper"), n=20, seed=1, path="d2d.h5")
    >>> arrays, meta = load_solution(solve_file(data, "fp", "fp.h5", iterations=50))
    >>> arrays["p_w"].shape, meta["method"]
    ((20, 10), 'fp')
    """
    if _is_mu_miso(data_path):
        from wirelessrl.beamforming_solutions import solve_mu_miso_file

        return solve_mu_miso_file(data_path, method, out_path, overwrite=overwrite, fmt=fmt,
                                  progress=progress, **options)
    if file_kind(data_path) == MISO_KIND:
        from wirelessrl.miso_solutions import solve_miso_file

        return solve_miso_file(data_path, method, out_path, overwrite=overwrite, fmt=fmt,
                               **options)
    check_choice("method", method, tuple(SOLVERS))
    check_dtype(dtype)
    check_output(out_path, overwrite)
    seed = SeedAt(options.pop("seed", 0), 0, 1)  # the seed is checked before any work
    from wirelessrl.executors import InProcess

    run = executor or InProcess()
    inner = progress and method in PER_LAYOUT_METHODS and isinstance(run, InProcess)
    start_time = time.perf_counter()
    with D2DFile(data_path) as data:
        cfg, n, links = data.config, data.n, data.config.n_links
        real = DTYPES[dtype][0]
        rows = {"p_w": RowArray((links,), real), "status": RowArray((), "S16"),
                "iterations": RowArray((), np.int64), "objective": RowArray((), real)}
        chunk = chunk_rows(chunk_size, {"g": RowArray((links, links), np.float64)})
        problem = (cfg.p_max_w, cfg.noise_w, cfg.snr_gap_db)
        tasks = ((method, part["g"], *problem, SeedAt(seed.seed, start, n), options, dtype,
                  inner) for start, part in data.chunks(chunk))
        meta = provenance(SOLUTION_KIND, cfg.to_dict(), data.seed, method=method,
                          data_file=str(data_path), data_n=n,
                          data_sha256=data.reader.meta.get("checksum_sha256"))
        with stream_arrays(out_path, n, rows, meta, fmt=fmt, overwrite=overwrite,
                           compression=compression) as writer, \
                tqdm(total=n, desc=f"solve {method}", unit="layout",
                     disable=not progress) as bar:
            for arrays, task, used in run.map_ordered(solve_chunk, tasks):
                writer.append(arrays)
                writer.meta.setdefault("task", task)
                writer.meta.setdefault("options", used)
                bar.update(len(arrays["status"]))
            writer.meta["seconds"] = time.perf_counter() - start_time
    return Path(out_path)


def solve_chunk(method: str, g: np.ndarray, p_max_w: float, noise_w: float,
                snr_gap_db: float, seed: SeedAt, options: dict,
                dtype: str = "float64",
                progress: bool = False) -> tuple[dict[str, np.ndarray], str, dict]:
    """Solve one chunk of layouts; return the arrays of a solution file, the task and the
    options used (a top-level function, so Dask can send it to workers). ``progress``: a
    bar over the layouts, for :data:`PER_LAYOUT_METHODS` only."""
    if progress:
        options = {**options, "progress": True}
    res = solve(method, g, p_max_w=p_max_w, noise_w=noise_w, snr_gap_db=snr_gap_db,
                seed=seed, **options)
    real = DTYPES[dtype][0]
    arrays = {"p_w": res.p_w.astype(real), "status": res.status.astype("S16"),
              "iterations": np.asarray(res.iterations, dtype=np.int64),
              "objective": np.asarray(res.objective, dtype=real)}
    return arrays, res.task, _plain(res.options)


def _is_mu_miso(path) -> bool:
    from wirelessrl.datasets import MU_MISO_KIND

    return file_kind(path) in (MU_MISO_KIND, "mu-miso-solution")


def _plain(options: dict) -> dict:
    out = {}
    for k, v in options.items():
        if isinstance(v, (np.integer, np.floating)):
            v = v.item()
        elif not isinstance(v, (str, int, float, bool, type(None), list, dict)):
            v = repr(v)
        out[k] = v
    return out


def solution_summary(path: str | os.PathLike) -> tuple[dict, dict[str, int]]:
    """A solution file's metadata and its count of layouts per status, read in chunks."""
    counts: dict[str, int] = {}
    with ArrayReader(path) as f:  # D2D or mu-miso solutions
        for _, part in f.iter_rows(["status"], 1 << 16, verify=False):
            names, k = np.unique(part["status"], return_counts=True)  # bytes: no copy to str
            for name, c in zip(names, k, strict=True):
                label = name.decode() if isinstance(name, bytes) else str(name)
                counts[label] = counts.get(label, 0) + int(c)
        return f.meta, dict(sorted(counts.items()))


def load_solution(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`solve_file`; check its arrays and provenance."""
    if _is_mu_miso(path):
        from wirelessrl.beamforming_solutions import load_mu_miso_solution

        return load_mu_miso_solution(path)
    arrays, meta = read_arrays(path, SOLUTION_KIND)
    where = f"file {str(path)!r}"
    _check_solution_layout(where, {k: a.shape for k, a in arrays.items()},
                           arrays["p_w"].dtype if "p_w" in arrays else None)
    arrays["status"] = _checked_rows(where, arrays["p_w"], arrays["status"])
    _check_solution_meta(where, meta)
    return arrays, meta


def _check_solution_layout(where: str, shapes: dict[str, tuple[int, ...]], p_w_dtype) -> None:
    """The arrays of a D2D solution file and their shapes (read without the rows)."""
    check_solution_arrays(where, shapes, "p_w")
    shape = tuple(shapes["p_w"])
    if len(shape) != 2 or not np.issubdtype(p_w_dtype, np.floating):
        raise ConfigError(f"{where}: p_w has shape {shape} and dtype {p_w_dtype}; "
                          "expected floats of shape (batch, n_links)")
    check_per_sample_columns(where, shapes, shape)


def _checked_rows(where: str, p_w: np.ndarray, status: np.ndarray) -> np.ndarray:
    """Rows of a D2D solution file checked (status known, powers finite and >= 0 where not
    failed); return ``status`` as text."""
    try:
        status = status.astype(str)
    except (TypeError, ValueError, UnicodeDecodeError):
        raise ConfigError(f"{where}: status is not text; expected one of "
                          f"{', '.join(STATUSES)}") from None
    unknown = sorted(set(status) - set(STATUSES))
    if unknown:
        raise ConfigError(f"{where}: status {unknown[0]!r} is invalid; expected one of "
                          f"{', '.join(STATUSES)}")
    ok = status != "failed"
    if not np.all(np.isfinite(p_w[ok])) or np.any(p_w[ok] < 0):
        raise ConfigError(f"{where}: p_w holds negative or non-finite powers on layouts not "
                          "marked failed; expected finite powers >= 0")
    return status


def _check_solution_meta(where: str, meta: dict) -> None:
    for key, kind in (("method", str), ("options", dict), ("config", dict), ("seed", int)):
        if key == "seed" and meta.get(key) is None:
            continue  # solved on imported gains: the data file has no seed either
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise ConfigError(f"{where}: its metadata {key}={meta.get(key)!r}; expected a "
                              f"{kind.__name__}")


class SolutionFile:
    """A D2D solution file opened for reading in chunks of layouts (memory: one chunk).

    Opening checks the kind, the metadata, the arrays and their shapes; :meth:`chunks`
    checks the rows of every chunk as :func:`load_solution` does and, over a full pass,
    the arrays' checksum (raising :class:`ConfigError` after the last chunk if it differs).

    Example
    -------
    >>> with SolutionFile("fp.h5") as f:                          # doctest: +SKIP
    ...     for start, part in f.chunks(10_000):
    ...         part["p_w"].shape, part["status"][:1]              # (<= 10000, n), ['converged']
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self.where = f"file {str(path)!r}"
        self.reader = ArrayReader(path, SOLUTION_KIND)
        try:
            names = self.reader.names
            self.shape = self.reader.shape("p_w") if "p_w" in names else ()
            _check_solution_layout(self.where, {k: self.reader.shape(k) for k in names},
                                   self.reader.dtype("p_w") if "p_w" in names else None)
            self.meta = self.reader.meta
            _check_solution_meta(self.where, self.meta)
        except ConfigError:
            self.reader.close()
            raise

    def __enter__(self) -> SolutionFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying file (also done by ``with``)."""
        self.reader.close()

    def chunks(self, chunk_size: int) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Yield ``(start, {"p_w": [m, n] W, "status": [m] text})`` over all layouts, rows
        checked per chunk, the file's checksum after the last one."""
        for start, part in self.reader.iter_rows(["p_w", "status"], chunk_size):
            part["status"] = _checked_rows(self.where, part["p_w"], part["status"])
            yield start, part


def evaluate_solutions(
    data_path: str | os.PathLike, solution_paths: list[str | os.PathLike], *,
    per_link: bool = False, chunk_size: int | None = None,
) -> Evaluation:
    """Per-layout and summary rates (Mbps, 95 % CIs) of solution files on the data they
    were solved for; with ``per_link`` also every link's rate (:attr:`Evaluation.rates`).

    Percent columns use FP as the sum-rate reference (WMMSE when no FP file is given: the
    two give the same iterates) and the max-min optimum (``maxmin``, else
    ``maxmin-cvxpy``) as the min-rate reference; :attr:`Evaluation.references` says which
    one was used or why a percent column is empty. Two files of one method are labelled
    ``method [file name]``. Multi-user MISO data files go to
    :func:`wirelessrl.beamforming_solutions.evaluate_mu_miso_solutions`, MISO pilot files
    to :func:`wirelessrl.miso_solutions.evaluate_miso_files` (their rows only: no rates);
    both read their files whole.

    Out of core (D2D): the data file and the solution files are read together in chunks
    of ``chunk_size`` layouts (None: :data:`wirelessrl.datasets.CHUNK_BYTES` of gains and
    powers), their checksums verified in the same pass; memory holds one chunk plus the
    per-layout sum-rate and min-rate of every method (16 bytes per layout and method,
    needed for the percentiles), and with ``per_link`` the ``[batch, n]`` link rates.
    The numbers do not depend on the chunk size. ``.mat`` files are read whole.

    Example
    -------
    >>> from simulators.d2d import D2DConfig
    >>> from wirelessrl.datasets import simulate_d2d_file
    >>> data = simulate_d2d_file(D2DConfig.from_preset("paper"), n=20, seed=1, path="d2d.h5")
    >>> files = [solve_file(data, m, f"{m}.h5") for m in ("fp", "full")]
    >>> ev = evaluate_solutions(data, files, per_link=True, chunk_size=8)
    >>> ev.rates["full"].shape, ev.sums["full"].shape, ev.references[0].note
    ((20, 10), (20,), '% of fp (FP, 150 iterations, 1 start)')
    >>> print(ev.references[1].note)   # doctest: +NORMALIZE_WHITESPACE
    empty: no maxmin solution given; pass a file from 'wirelessrl solve d2d.h5 --method
    maxmin -o maxmin.h5' to get % of the max-min optimum
    """
    if _is_mu_miso(data_path):
        from wirelessrl.beamforming_solutions import evaluate_mu_miso_solutions

        return evaluate_mu_miso_solutions(data_path, solution_paths)
    if file_kind(data_path) == MISO_KIND:
        from wirelessrl.miso_solutions import evaluate_miso_files

        rows = evaluate_miso_files(data_path, solution_paths)
        return Evaluation(rows, [], {}, ", ".join(dict.fromkeys(r.unit for r in rows)),
                          sample="sample", data_file=str(data_path))
    if not solution_paths:
        raise ConfigError("solutions: none given; expected one or more files from 'solve'")
    with contextlib.ExitStack() as stack:
        data = stack.enter_context(D2DFile(data_path))
        cfg, links = data.config, data.config.n_links
        data_sha256 = data.reader.meta.get("checksum_sha256")
        files = []
        for path in solution_paths:
            f = stack.enter_context(SolutionFile(path))
            check_same_data(path, f.meta, data_path, data.seed, data_sha256)
            check_solution_fits(path, data_path, f.shape, (data.n, links), f.meta,
                                cfg.to_dict(), data.seed, None, "layouts")
            files.append(f)
        labels = solution_labels([(f.path, f.meta["method"]) for f in files])
        chunk = chunk_rows(chunk_size, {"g": RowArray((links, links)),
                                        **{lab: RowArray((links,)) for lab in labels}})
        parts: dict[str, list] = {name: [] for name in ("sums", "mins", "rates")}
        failed = [0] * len(files)
        for (_, d), *sols in zip(data.chunks(chunk), *(f.chunks(chunk) for f in files),
                                 strict=True):
            rates = {lab: d2d_link_rates_mbps(d["g"], s["p_w"], cfg)
                     for lab, (_, s) in zip(labels, sols, strict=True)}
            sums, mins = layout_sums_mins(rates)
            parts["sums"].append(sums)
            parts["mins"].append(mins)
            if per_link:
                parts["rates"].append(rates)
            for k, (_, s) in enumerate(sols):
                failed[k] += int(np.sum(s["status"] == "failed"))
    for f, n_failed in zip(files, failed, strict=True):
        check_none_failed(f.path, n_failed, "layouts")
    whole = {name: {lab: np.concatenate([p[lab] for p in pieces]) for lab in labels}
             for name, pieces in parts.items() if pieces}
    by_label = dict(zip(labels, files, strict=True))
    ev = evaluate_layouts(
        whole["sums"], whole["mins"],
        {lab: f.meta["method"] for lab, f in by_label.items()},
        {lab: f.meta["options"].get("stopping_rule", f.meta["method"])
         for lab, f in by_label.items()},
        "Mbps", D2D_REFERENCES, rates=whole.get("rates"),
        files={lab: str(f.path) for lab, f in by_label.items()}, data_file=str(data_path))
    ev.meta = {"kind": "d2d-layouts", "seed": data.seed, "config": cfg.to_dict(),
               "version": files[0].meta.get("version")}
    return ev


def evaluate_files(
    data_path: str | os.PathLike, solution_paths: list[str | os.PathLike]
) -> list[MetricSummary]:
    """Sum-rate and min-rate (Mbps) of every solution file on the data it was solved for:
    the rows of :func:`evaluate_solutions`.

    Example
    -------
    >>> from simulators.d2d import D2DConfig
    >>> from wirelessrl.datasets import simulate_d2d_file
    >>> data = simulate_d2d_file(D2DConfig.from_preset("paper"), n=20, seed=1, path="d2d.h5")
    >>> files = [solve_file(data, m, f"{m}.h5") for m in ("fp", "full")]
    >>> [(r.method, r.metric, r.unit, r.reference) for r in evaluate_files(data, files)][:2]
    [('fp', 'sum-rate', 'Mbps', 'fp'), ('fp', 'min-rate', 'Mbps', None)]
    """
    return evaluate_solutions(data_path, solution_paths).rows
