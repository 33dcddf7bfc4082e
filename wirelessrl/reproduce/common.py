"""Shared machinery of the experiments: configs and scales, training settings, reports."""

from __future__ import annotations

import csv
import json
import math
import platform
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulators.validation import ConfigError, check_choice, check_positive
from wirelessrl import __version__
from wirelessrl.config import apply_overrides, load_yaml, save_yaml
from wirelessrl.engine import TrainConfig
from wirelessrl.fileio import atomic_path

SCALES = ("paper", "quick", "tiny")


def experiments_dir() -> Path:
    """The repository's ``experiments/`` folder (configs shipped beside the package)."""
    return Path(__file__).resolve().parents[2] / "experiments"


def load_experiment_config(
    name: str, scale: str = "paper", overrides: Iterable[str] = (), path: str | Path | None = None
) -> dict:
    """Load ``experiments/<name>.yaml``, apply the scale's overrides, then the user's."""
    base = load_yaml(path or experiments_dir() / f"{name}.yaml")
    scales = base.pop("scales", {}) or {}
    check_choice("scale", scale, tuple(scales) or SCALES)
    scale_overrides = [f"{k}={json.dumps(v)}" for k, v in (scales.get(scale) or {}).items()]
    config = apply_overrides(base, scale_overrides)
    config = apply_overrides(config, list(overrides))
    config["scale"] = scale
    return config


def parse_seeds(text: str | None, default: Sequence[int]) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``; None -> ``default``."""
    if text is None:  # the config's seeds: a YAML list of integers
        seeds = default if isinstance(default, (list, tuple)) else [default]
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32
                                for s in seeds):
            raise ConfigError(f"seeds={default!r} is invalid; expected a list of integers in "
                              "[0, 2**32)")
        return [int(s) for s in seeds]
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"seeds={text!r} is invalid; expected comma-separated integers") from None
    if not seeds or any(not 0 <= s < 2**32 for s in seeds):
        raise ConfigError(f"seeds={text!r} is invalid; expected integers in [0, 2**32)")
    return seeds


def feature_width(model: Mapping[str, Any]) -> int:
    """Width of the last feature layer, ``model.feature[-1]``; the list must be non-empty."""
    widths = model.get("feature")
    if not isinstance(widths, (list, tuple)) or not widths or not all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ConfigError(
            f"model.feature={widths!r} is invalid; expected a non-empty list of layer widths "
            "(integers >= 1)"
        )
    return widths[-1]


def check_lrs(field: str, values: Any) -> list[float]:
    """A list of learning rates, each a finite number > 0."""
    if not isinstance(values, (list, tuple)):
        raise ConfigError(f"{field}={values!r} is invalid; expected a list of numbers > 0")
    return [check_positive(field, v) for v in values]


def train_config(section: Mapping[str, Any], seed: int, **extra) -> TrainConfig:
    """A :class:`TrainConfig` from a config section (epochs, batch_size, lr, patience)."""
    keys = ("epochs", "batch_size", "lr", "patience", "weight_decay", "grad_clip",
            "validate_every")
    values = {k: section[k] for k in keys if k in section}
    return TrainConfig(seed=seed, **values, **extra)


def provenance_block(config: Mapping, seeds: Sequence[int]) -> dict:
    return {
        "wirelessrl_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seeds": list(seeds),
        "config": dict(config),
    }


def write_json(path: str | Path, payload: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=_jsonable))
    return Path(path)


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serializable: {type(x).__name__}")


def write_csv(path: str | Path, rows: list[Mapping[str, Any]]) -> Path:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _fmt(v) for k, v in r.items()})
    return Path(path)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if a.size == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def fmt_mean_std(values: Sequence[float], digits: int = 2) -> str:
    m, s = mean_std(values)
    if len(values) > 1:
        return f"{m:.{digits}f} ± {s:.{digits}f}"
    return f"{m:.{digits}f}"


def save_effective_config(run_dir: Path, config: Mapping, seeds: Sequence[int]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    save_yaml({**config, "seeds": list(seeds)}, run_dir / "config.yaml")


Echo = Callable[[str], None]


def write_report(run_dir: Path, lines: list[str], plots: Iterable[str], echo: Echo) -> Path:
    """Append the plots section to a report's lines and write ``run_dir/report.md``."""
    body = [*lines, "## Plots", "", *[f"![{name}]({name})" for name in plots], ""]
    report = Path(run_dir) / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(body))
    echo(f"report: {report}")
    return report
