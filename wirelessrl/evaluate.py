"""Evaluation tables: per-layout metrics, percent of a reference, percentiles.

Percent columns follow the method paper's convention, the mean over layouts of the
per-layout ratio ``method / reference``; the ratio of the means is printed beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from simulators.d2d import D2DConfig
from simulators.rates import link_rates_bps


@dataclass
class MetricSummary:
    """Summary of one per-layout metric of one method."""

    method: str
    metric: str
    unit: str
    mean: float
    std: float
    p5: float
    p50: float
    p95: float
    reference: str | None = None
    pct_of_reference_mean_ratio: float | None = None
    pct_of_reference_ratio_of_means: float | None = None

    def as_dict(self) -> dict:
        """The fields by name (one row of a results table or JSON file)."""
        return asdict(self)


def summarize(
    method: str,
    metric: str,
    unit: str,
    values: np.ndarray,
    reference: np.ndarray | None = None,
    reference_name: str | None = None,
) -> MetricSummary:
    """Mean, std and 5/50/95th percentiles; percent of ``reference`` when given.

    ``values`` and ``reference`` are per-layout ``[n]`` arrays in ``unit``; the percent is
    given both as the mean of per-layout ratios and as the ratio of the means.

    Example
    -------
    >>> s = summarize("fp", "sum-rate", "Mbps", np.array([1.0, 2.0, 3.0]),
    ...               np.array([2.0, 2.0, 2.0]), "ref")
    >>> s.mean, s.p50, s.pct_of_reference_ratio_of_means
    (2.0, 2.0, 100.0)
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        bad = int(np.sum(~np.isfinite(values)))
        raise ValueError(f"{method} {metric}: {bad} non-finite per-layout values")
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    out = MetricSummary(method, metric, unit, float(values.mean()), float(values.std()),
                        float(p5), float(p50), float(p95))
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(ref > 0, values / ref, np.nan)
        out.reference = reference_name
        out.pct_of_reference_mean_ratio = float(100 * np.nanmean(ratios))
        out.pct_of_reference_ratio_of_means = float(100 * values.mean() / ref.mean())
    return out


def d2d_link_rates_mbps(g: np.ndarray, p_w: np.ndarray, config: D2DConfig) -> np.ndarray:
    """Per-link rates in Mbps, shape [batch, n]."""
    return 1e-6 * link_rates_bps(g, p_w, config.noise_w, config.bandwidth_hz, config.snr_gap_db)


def d2d_table(
    g: np.ndarray,
    config: D2DConfig,
    powers_w: Mapping[str, np.ndarray],
    sum_reference: str | None = "FP",
    min_reference: str | None = "max-min optimum",
) -> list[MetricSummary]:
    """Sum-rate and min-rate summaries (Mbps) of every method's powers on layouts ``g``.

    Input
    -----
    g : [batch, n, n], float, linear gains
    powers_w : {method name: [batch, n] powers in watts}
    sum_reference, min_reference : method names used as 100 % (skipped if absent)
    """
    rates = {name: d2d_link_rates_mbps(g, p, config) for name, p in powers_w.items()}
    sums = {name: r.sum(axis=-1) for name, r in rates.items()}
    mins = {name: r.min(axis=-1) for name, r in rates.items()}
    rows = []
    for name in powers_w:
        rows.append(summarize(name, "sum-rate", "Mbps", sums[name], sums.get(sum_reference),
                              sum_reference if sum_reference in sums else None))
        rows.append(summarize(name, "min-rate", "Mbps", mins[name], mins.get(min_reference),
                              min_reference if min_reference in mins else None))
    return rows


def rows_to_markdown(rows: list[MetricSummary], metrics: tuple[str, ...]) -> str:
    """A markdown table, one row per method, ``mean (% of reference)`` per metric."""
    methods = list(dict.fromkeys(r.method for r in rows))
    by_key = {(r.method, r.metric): r for r in rows}
    header = ["method"]
    for m in metrics:
        unit = next((r.unit for r in rows if r.metric == m), "")
        ref = next((r.reference for r in rows if r.metric == m and r.reference), None)
        header += [f"{m} ({unit})"]
        if ref:
            header += [f"% of {ref} (mean ratio)", "% (ratio of means)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        cells = [method]
        for m in metrics:
            r = by_key.get((method, m))
            has_ref = any(x.metric == m and x.reference for x in rows)
            if r is None:
                cells += [""] * (3 if has_ref else 1)
                continue
            cells.append(f"{r.mean:.3f}")
            if has_ref:
                if r.pct_of_reference_mean_ratio is None:
                    cells += ["", ""]
                else:
                    cells += [f"{r.pct_of_reference_mean_ratio:.1f}",
                              f"{r.pct_of_reference_ratio_of_means:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
