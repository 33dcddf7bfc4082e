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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wirelessrl import __version__
from wirelessrl.fileio import atomic_path

__all__ = ["Echo", "check_result_output", "csv_text", "fmt_mean_std", "mean_std",
           "provenance_block", "read_json", "seeds_text", "write_csv", "write_json",
           "write_markdown_report"]

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
