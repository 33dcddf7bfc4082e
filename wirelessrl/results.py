"""Result files of experiments: JSON, CSV and markdown written atomically, provenance,
mean ± std over seeds.

Reports are built from these files only (see :mod:`experiments`), so each writer has a
reader beside it where a report needs one.
"""

from __future__ import annotations

import csv
import io
import json
import math
import platform
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wirelessrl import __version__
from wirelessrl.fileio import atomic_path

__all__ = ["Echo", "check_result_output", "csv_text", "fmt_mean_std", "mean_std",
           "merge_seeds", "merged_markdown", "provenance_block", "read_json", "seeds_text",
           "write_csv", "write_json", "write_markdown_report"]

Echo = Callable[[str], None]
"""A one-line progress printer (``print``, ``click.echo``)."""


def provenance_block(config: Mapping, seeds: Sequence[int]) -> dict:
    """Versions, machine, seeds and the effective config of a run (for ``results.json``).

    Example
    -------
    >>> sorted(provenance_block({"scale": "tiny"}, [1]))[:3]
    ['config', 'machine', 'numpy_version']
    """
    import torch

    return {
        "wirelessrl_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seeds": list(seeds),
        "config": dict(config),
    }


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serializable: {type(x).__name__}")


def check_result_output(path: str | Path, suffixes: Sequence[str], overwrite: bool) -> Path:
    """Refuse early a user-named result output (JSON, CSV, a figure) that would surprise:
    a suffix not in ``suffixes``, an existing file (unless ``overwrite``), a folder, or a
    folder that does not exist (never created silently), as
    :func:`wirelessrl.fileio.check_output` does for data files.

    Example
    -------
    >>> check_result_output("fig.jpg", (".pdf", ".png"), overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: output 'fig.jpg' has the suffix '.jpg'; expected ...
    """
    from simulators.validation import ConfigError
    from wirelessrl.fileio import ensure_writable

    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise ConfigError(f"output {str(path)!r} has the suffix {p.suffix or '(none)'!r}; "
                          f"expected one of {', '.join(suffixes)}")
    ensure_writable(p, overwrite)
    if not p.parent.is_dir():
        raise ConfigError(f"output {str(path)!r}: the folder {str(p.parent)!r} does not "
                          "exist; create it first")
    return p


def write_json(path: str | Path, payload: Any) -> Path:
    """Write ``payload`` as indented JSON under a temporary name, then rename.

    NumPy scalars and arrays and paths are converted.

    Example
    -------
    >>> read_json(write_json("r.json", {"rate": np.float64(1.5), "p": np.arange(2)}))
    {'rate': 1.5, 'p': [0, 1]}
    """
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=_jsonable))
    return Path(path)


def read_json(path: str | Path) -> Any:
    """The JSON document in ``path``."""
    return json.loads(Path(path).read_text())


def _fmt(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else v


def _write_rows(f, rows: list[Mapping[str, Any]]) -> None:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _fmt(v) for k, v in r.items()})


def write_csv(path: str | Path, rows: list[Mapping[str, Any]]) -> Path:
    """Write records as CSV (columns: every key in first-seen order; floats to 6 digits)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        _write_rows(f, rows)
    return Path(path)


def csv_text(rows: list[Mapping[str, Any]]) -> str:
    """The text :func:`write_csv` writes.

    Example
    -------
    >>> csv_text([{"method": "fp", "mean": 1 / 3}]).splitlines()
    ['method,mean', 'fp,0.333333']
    """
    f = io.StringIO(newline="")
    _write_rows(f, rows)
    return f.getvalue()


def seeds_text(seeds: Sequence[int]) -> str:
    """``"seed 1"`` or ``"seeds 1, 2, 3"``, for legends and captions.

    Example
    -------
    >>> seeds_text([123]), seeds_text([1, 2, 3])
    ('seed 123', 'seeds 1, 2, 3')
    """
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))


def mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation of the finite values (std 0 for one value,
    NaN for none).

    Example
    -------
    >>> mean_std([1.0, 3.0, None])
    (2.0, 1.4142135623730951)
    """
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if a.size == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def fmt_mean_std(values: Sequence[float], digits: int = 2) -> str:
    """``"m ± s"`` for several values, ``"m"`` for one.

    Example
    -------
    >>> fmt_mean_std([1.0, 3.0], 1), fmt_mean_std([2.0])
    ('2.0 ± 1.4', '2.00')
    """
    m, s = mean_std(values)
    if len(values) > 1:
        return f"{m:.{digits}f} ± {s:.{digits}f}"
    return f"{m:.{digits}f}"


def write_markdown_report(run_dir: str | Path, lines: list[str], plots: Iterable[str],
                          echo: Echo = print) -> Path:
    """Append the plots section to a report's lines and write ``run_dir/report.md``."""
    body = [*lines, "## Plots", "", *[f"![{name}]({name})" for name in plots], ""]
    report = Path(run_dir) / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(body))
    echo(f"report: {report}")
    return report


_SEED_INTEGER = re.compile(r"-?[0-9]+")


def _read_records(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str | None]]]]:
    """The header and ``(line number, record)`` pairs of a CSV file; one-line errors."""
    from simulators.validation import ConfigError

    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(f"results file {str(path)!r} {what}; expected a CSV file")
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            records = [(reader.line_num, row) for row in reader]
            header = list(reader.fieldnames or [])
    except (csv.Error, UnicodeDecodeError) as err:
        raise ConfigError(f"results file {str(path)!r} is not a readable CSV file: {err}") \
            from None
    if not header:
        raise ConfigError(f"results file {str(path)!r} is empty; expected a header line")
    if not records:
        raise ConfigError(f"results file {str(path)!r} has a header but no rows")
    return header, records


def _seed(text: str | None, location: str) -> int:
    from simulators.validation import ConfigError

    if text is None or not _SEED_INTEGER.fullmatch(text):
        raise ConfigError(f"{location}: seed={text!r} is invalid; expected an integer")
    return int(text)


def _number(text: str | None, column: str, location: str) -> float:
    from simulators.validation import ConfigError

    try:
        x = float(text)  # None (a short row) raises TypeError
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x):
        raise ConfigError(f"{location}: {column}={text!r} is invalid; expected a finite "
                          "number")
    return x


def _check_columns(by: Sequence[str], value: str, where: Mapping[str, str]) -> None:
    from simulators.validation import ConfigError

    if isinstance(by, str):
        raise ConfigError(f"by={by!r} is a single string; expected a list of columns")
    if not by:
        raise ConfigError("by=[] is invalid; expected at least one column naming a row, "
                          "e.g. ['table', 'method']")
    clash = [c for c in by if c in ("mean", "std", "n_seeds", "seed") or c.startswith("seed ")]
    if len(set(by)) != len(by) or clash:
        raise ConfigError(f"by={list(by)!r} is invalid; expected distinct columns other than "
                          "seed, mean, std and n_seeds")
    bad = {k: v for k, v in where.items() if not isinstance(v, str)}
    if bad:
        raise ConfigError(f"where={bad!r} is invalid; expected strings (CSV cells are text)")
    if not isinstance(value, str):
        raise ConfigError(f"value={value!r} is invalid; expected a column name")


def merge_seeds(paths: Sequence[str | Path], by: Sequence[str], value: str,
                where: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Mean and sample std over seeds of one numeric column of several ``results.csv`` files
    (runs made separately, e.g. one seed per machine or per day).

    Rows are grouped by the columns ``by``; each group gets the value of every seed it holds
    (the ``seed`` column), its mean, std (ddof 1; 0 for one seed) and seed count. Rows whose
    ``value`` cell is empty are skipped; ``where`` keeps only rows whose columns equal the
    given strings. A seed given twice for one group is an error naming both places.

    Parameters
    ----------
    paths : the CSV files (each with a ``seed`` column, the ``by`` columns and ``value``).
    by : str columns naming a row, e.g. ``("table", "method")``.
    value : the numeric column to merge, e.g. ``"pct_of_reference_mean_ratio"``.
    where : optional ``{column: exact string}`` filter, e.g. ``{"metric": "min-rate"}``.

    Returns
    -------
    One dict per group in first-seen order: the ``by`` columns, ``mean``, ``std``,
    ``n_seeds`` and ``seed <s>`` for every seed of any group, in ascending order (None
    where a group lacks that seed).

    Example
    -------
    >>> _ = Path("a.csv").write_text("seed,method,pct\\n1,fp,90\\n1,full,50\\n")
    >>> _ = Path("b.csv").write_text("seed,method,pct\\n2,fp,94\\n2,full,\\n")
    >>> fp, full = merge_seeds(["a.csv", "b.csv"], by=["method"], value="pct")
    >>> fp["mean"], round(fp["std"], 3), fp["seed 2"], full["n_seeds"], full["seed 2"]
    (92.0, 2.828, 94.0, 1, None)
    """
    from simulators.validation import ConfigError

    where = dict(where or {})
    if isinstance(paths, (str, Path)):
        raise ConfigError(f"paths={str(paths)!r} is a single path; expected a list of them")
    _check_columns(by, value, where)
    if not paths:
        raise ConfigError("merge_seeds: no results files given")
    groups: dict[tuple[str, ...], dict[int, tuple[float, str]]] = {}
    for path in map(Path, paths):
        header, records = _read_records(path)
        missing = [c for c in ("seed", *by, value, *where) if c not in header]
        if missing:
            raise ConfigError(f"{path}: no column {', '.join(map(repr, missing))}; its "
                              f"columns are {', '.join(sorted(header))}")
        for line, row in records:
            location = f"{path}, line {line}"
            if any(row.get(k) != v for k, v in where.items()) or row[value] == "":
                continue
            seed, x = _seed(row["seed"], location), _number(row[value], value, location)
            key = tuple(row[c] or "" for c in by)
            seeds = groups.setdefault(key, {})
            if seed in seeds:
                raise ConfigError(f"{location}: seed {seed} of {dict(zip(by, key, strict=True))} "
                                  f"was already given at {seeds[seed][1]}; give each seed's "
                                  "results once, or add a column to by (e.g. metric)")
            seeds[seed] = (x, location)
    if not groups:
        raise ConfigError(f"merge_seeds: no row matches where={where} with a value in "
                          f"{value!r}" if where else
                          f"merge_seeds: no row has a value in {value!r}")
    all_seeds = sorted({s for seeds in groups.values() for s in seeds})
    merged = []
    for key, seeds in groups.items():
        m, sd = mean_std([x for x, _ in seeds.values()])
        merged.append({**dict(zip(by, key, strict=True)), "mean": m, "std": sd,
                       "n_seeds": len(seeds),
                       **{f"seed {s}": seeds[s][0] if s in seeds else None
                          for s in all_seeds}})
    return merged


def merged_markdown(rows: Sequence[Mapping[str, Any]], by: Sequence[str],
                    digits: int = 1) -> str:
    """A markdown table of :func:`merge_seeds` rows: the ``by`` columns, one column per
    seed, then ``mean ± std (n seeds)``.

    Example
    -------
    >>> print(merged_markdown([{"method": "fp", "mean": 92.0, "std": 2.83, "n_seeds": 2,
    ...                         "seed 1": 90.0, "seed 2": 94.0}], by=["method"]))
    | method | seed 1 | seed 2 | mean ± std (n) |
    |---|---|---|---|
    | fp | 90.0 | 94.0 | 92.0 ± 2.8 (2) |
    """
    seeds = sorted({k for r in rows for k in r if k.startswith("seed ")},
                   key=lambda k: int(k.split()[1]))
    header = [*by, *seeds, "mean ± std (n)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [str(r[c]).replace("|", "\\|") for c in by]
        cells += ["" if r.get(s) is None else f"{r[s]:.{digits}f}" for s in seeds]
        cells.append(f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f} ({r['n_seeds']})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
