"""Plots for reports: CDFs per method, learning curves, bars beside the paper's figures.

All functions write a PNG atomically and return its path. Matplotlib runs headless (Agg).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from wirelessrl.fileio import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_cdf(
    values: Mapping[str, np.ndarray], xlabel: str, path: str | Path, title: str | None = None,
    log_x: bool = False,
) -> Path:
    """Empirical CDF of each method's per-sample values."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for name, v in values.items():
        v = np.sort(np.asarray(v, dtype=np.float64).ravel())
        ax.plot(v, np.arange(1, v.size + 1) / v.size, label=name, lw=1.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("CDF")
    if log_x:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_learning_curves(
    metrics_csvs: Mapping[str, str | Path], column: str, path: str | Path,
    ylabel: str | None = None, title: str | None = None,
) -> Path:
    """One line per run: ``column`` of each run's ``metrics.csv`` against epoch (epochs
    with an empty ``column``, not validated under ``validate_every > 1``, are skipped)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for name, csv_path in metrics_csvs.items():
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or column not in rows[0]:
            continue
        rows = [r for r in rows if r[column] != ""]  # epochs without validation (validate_every)
        ax.plot([int(r["epoch"]) for r in rows], [float(r[column]) for r in rows],
                label=name, lw=1.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or column)
    ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_bars_vs_paper(
    ours: Mapping[str, float], paper: Mapping[str, float], ylabel: str, path: str | Path,
    errors: Mapping[str, float] | None = None, title: str | None = None,
) -> Path:
    """Grouped bars: our figure beside the method paper's, per method."""
    plt = _pyplot()
    names: Sequence[str] = list(dict.fromkeys([*paper, *ours]))
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(names)), 3.8))
    ours_v = [ours.get(n, np.nan) for n in names]
    err = [errors.get(n, 0.0) for n in names] if errors else None
    ax.bar(x - 0.2, [paper.get(n, np.nan) for n in names], 0.4, label="method paper")
    ax.bar(x + 0.2, ours_v, 0.4, yerr=err, capsize=3, label="wirelessrl")
    ax.set_xticks(x, names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_sweep(
    x: Sequence[float], series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str, ylabel: str, path: str | Path, log_x: bool = True, title: str | None = None,
) -> Path:
    """Mean +- std against a swept parameter, one line per strategy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for name, (mean, std) in series.items():
        mean, std = np.asarray(mean, float), np.asarray(std, float)
        ax.errorbar(x, mean, yerr=std, label=name, marker="o", ms=3, capsize=3)
    if log_x:
        ax.set_xscale("symlog", linthresh=min(v for v in x if v > 0) if any(x) else 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return _save(fig, path)
