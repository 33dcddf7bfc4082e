"""Tables and plots of the size generalization (``generalization`` section of the d2d
config), from the files of :mod:`experiments.d2d_sizes` alone (no torch, no network run)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from experiments.d2d_sizes import _key, section
from experiments.layout import UnitFiles
from experiments.systems import d2d_system
from wirelessrl.fileio import provenance, read_arrays
from wirelessrl.results import Echo, mean_std, read_json, write_csv, write_json


def _ratio(a: np.ndarray, ref: np.ndarray) -> float:
    """Mean of the per-layout ratios, in % (the paper's convention)."""
    return float(100.0 * np.mean(a / ref))


def seed_rows(exp: UnitFiles, config: dict) -> list[dict]:
    """One row per (size, method) of one seed: % of the references, time, memory."""
    rows = []
    for n_links in [int(n) for n in section(config)["sizes"]]:
        folder = exp.path(f"generalization/n{n_links}")
        arrays, meta = read_arrays(folder / "results.h5", "d2d-generalization")
        metrics = meta["metrics"]
        memory = {}
        if section(config).get("memory", True):
            memory = read_json(exp.path(f"generalization/n{n_links}", "memory",
                                        "memory.json"))["peak_memory_mib"]
        ref_sum = arrays[_key("FP best-of-K", "sum_rate_bps")]
        ref_min = arrays.get(_key("max-min optimum", "min_rate_bps"))
        for label, info in metrics["methods"].items():
            s, m = arrays[_key(label, "sum_rate_bps")], arrays[_key(label, "min_rate_bps")]
            rows.append({
                "seed": exp.seed, "n_links": n_links, "field_m": metrics["field_m"],
                "layouts": metrics["layouts"], "method": label, "kind": info["kind"],
                "sum_rate_mbps": float(s.mean() / 1e6),
                "pct_best_of_k_fp": _ratio(s, ref_sum),
                "pct_fp_1_start": _ratio(s, arrays[_key("FP", "sum_rate_bps")]),
                "pct_wmmse": _ratio(s, arrays[_key("WMMSE", "sum_rate_bps")]),
                "min_rate_mbps": float(m.mean() / 1e6),
                "pct_maxmin": _ratio(m, ref_min) if ref_min is not None else float("nan"),
                "seconds_per_layout": info["seconds_per_layout"],
                "layouts_per_s": 1.0 / info["seconds_per_layout"],
                "peak_memory_mib": memory.get(label, float("nan")),
                "stopping_rule": info.get("stopping_rule", ""),
            })
    return rows


RECORD_REFERENCES = {"min-rate": ("min_rate_mbps", "pct_maxmin", "max-min optimum"),
                     "sum-rate": ("sum_rate_mbps", "pct_best_of_k_fp", "FP best-of-K")}


def records(rows: list[dict]) -> list[dict]:
    """The rows of :func:`seed_rows` as records of the run's ``results.json`` (table
    ``generalization``, one record per seed, size, method and metric), so that a sweep can
    collect them (``collect: {table: generalization, by: n_links}``).

    Input: rows of :func:`seed_rows`. Output: records with the fields ``seed, table,
    method, metric, unit, mean`` (Mbps, mean over the layouts of size ``n_links``),
    ``n_links, layouts, reference`` and ``pct_of_reference_mean_ratio`` (mean of per-layout
    ratios, %; min-rate against the exact max-min optimum, sum-rate against best-of-K FP).

    Example
    -------
    >>> row = {"seed": 1, "n_links": 50, "layouts": 4, "method": "target, regular",
    ...        "kind": "network", "sum_rate_mbps": 500.0, "pct_best_of_k_fp": 60.0,
    ...        "min_rate_mbps": 0.9, "pct_maxmin": 90.0}
    >>> [(r["metric"], r["pct_of_reference_mean_ratio"]) for r in records([row])]
    [('min-rate', 90.0), ('sum-rate', 60.0)]
    """
    out = []
    for r in rows:
        for metric, (mbps, pct, reference) in RECORD_REFERENCES.items():
            out.append({"seed": r["seed"], "table": "generalization", "method": r["method"],
                        "metric": metric, "unit": "Mbps", "mean": r[mbps],
                        "n_links": r["n_links"], "layouts": r["layouts"], "kind": r["kind"],
                        "reference": reference, "pct_of_reference_mean_ratio": r[pct]})
    return out


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and std over seeds per (size, method)."""
    keys = sorted({(r["n_links"], r["method"]) for r in rows})
    out = []
    for n_links, method in keys:
        group = [r for r in rows if r["n_links"] == n_links and r["method"] == method]
        row = {"n_links": n_links, "method": method, "seeds": len(group),
               "layouts_per_seed": group[0]["layouts"], "kind": group[0]["kind"],
               "stopping_rule": group[0]["stopping_rule"]}
        for col in ("sum_rate_mbps", "pct_best_of_k_fp", "pct_fp_1_start", "pct_wmmse",
                    "min_rate_mbps", "pct_maxmin", "layouts_per_s", "seconds_per_layout",
                    "peak_memory_mib"):
            m, s = mean_std([r[col] for r in group])
            row[col], row[f"{col}_std"] = m, s
        out.append(row)
    return out


def _speedups(summary: list[dict]) -> dict[int, dict]:
    """Network layouts/s over FP's and WMMSE's per size."""
    out = {}
    for n in sorted({r["n_links"] for r in summary}):
        at = {r["method"]: r for r in summary if r["n_links"] == n}
        out[n] = {m: {"x_fp": r["layouts_per_s"] / at["FP"]["layouts_per_s"],
                      "x_wmmse": r["layouts_per_s"] / at["WMMSE"]["layouts_per_s"]}
                  for m, r in at.items() if r["kind"] == "network"}
    return out


def write_tables(config: dict, run_dir: Path, experiments: list[UnitFiles],
                 echo: Echo = print, rows: list[dict] | None = None) -> list[str]:
    """CSV, JSON and plots over seeds; returns the markdown lines of the report section.
    ``rows``: the seeds' :func:`seed_rows` if already read (None: read them)."""
    if rows is None:
        rows = [r for exp in experiments for r in seed_rows(exp, config)]
    summary = summarize(rows)
    out = Path(run_dir)
    write_csv(out / "generalization_per_seed.csv", rows)
    write_csv(out / "generalization.csv", summary)
    gen = section(config)
    write_json(out / "generalization.json", {
        "summary": summary, "speedup": _speedups(summary), "generalization": gen,
        "seeds": [exp.seed for exp in experiments],
        "provenance": provenance("d2d-generalization-report", config, None)})
    _plots(out, experiments, summary, [int(n) for n in gen["sizes"]])
    first = read_json(experiments[0].path(f"generalization/n{gen['sizes'][0]}",
                                          "metrics.json"))
    k = int(gen.get("fp_restarts", 8))
    lines = [
        "## Size generalization", "",
        f"Trained at N = {d2d_system(config).n_links}; tested at "
        f"{', '.join(str(n) for n in gen['sizes'])} links "
        + ("at the training density (field side grows with sqrt(N))"
           if gen.get("constant_density", True) else "in the training field") + ". "
        f"% of best-of-{k} FP (FP, {config['baselines']['fp_iterations']} iterations, best "
        f"of {k} starts: full power and {k - 1} random) for sum-rate, % of the exact max-min "
        "optimum for min-rate; means of per-layout ratios, mean ± std over "
        f"{len(experiments)} seed(s). Times per layout on this machine, "
        f"{first['torch_threads']} torch thread(s); networks timed from the linear gains "
        "(input transform included); peak MiB: increase of the peak resident memory during "
        "one forward chunk, in a fresh process.",
        "",
        "| N | method | % best-of-K FP | % FP 1 start | % max-min opt. | layouts/s | "
        "peak MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary:
        mem = "" if math.isnan(r["peak_memory_mib"]) else f"{r['peak_memory_mib']:.1f}"
        lines.append(
            f"| {r['n_links']} | {r['method']} | {_pm(r, 'pct_best_of_k_fp')} | "
            f"{_pm(r, 'pct_fp_1_start')} | {_pm(r, 'pct_maxmin')} | "
            f"{r['layouts_per_s']:.3g} | {mem} |")
    lines += ["", "![% of reference vs N](generalization_pct.png)",
              "![CDFs](generalization_cdf.png)", "![time per layout](generalization_time.png)",
              ""]
    echo(f"generalization: {out / 'generalization.csv'}")
    return lines


def _pm(row: dict, col: str) -> str:
    m, s = row[col], row[f"{col}_std"]
    if math.isnan(m):
        return ""
    return f"{m:.1f} ± {s:.1f}" if row["seeds"] > 1 else f"{m:.1f}"


def _plots(out: Path, experiments: list[UnitFiles], summary: list[dict],
           sizes: list[int]) -> None:
    from wirelessrl.plots import (
        REPORT_FIGSIZE_IN,
        cdf_figure,
        curve_figure,
        new_figure,
        save_figure,
    )

    seeds = ", ".join(str(e.seed) for e in experiments)
    spread = f"mean ± std over seeds {seeds}" if len(experiments) > 1 else f"seed {seeds}"
    nets = sorted({r["method"] for r in summary if r["kind"] == "network"})
    # % of reference vs N, error bars over seeds
    series = {}
    for m in nets:
        rs = [r for r in summary if r["method"] == m]
        col = "pct_maxmin" if m.startswith("target") else "pct_best_of_k_fp"
        ref = "% max-min opt." if col == "pct_maxmin" else "% best-of-K FP"
        series[f"{m} ({ref})"] = ([r["n_links"] for r in rs], [r[col] for r in rs],
                                  [r[f"{col}_std"] for r in rs])
    save_figure(curve_figure(series, "links N (count)", "network rate (% of reference)",
                             log_x=True, legend_title=spread, figsize=REPORT_FIGSIZE_IN),
                out / "generalization_pct.png")
    # CDFs at the smallest and the largest N (first seed)
    exp = experiments[0]
    fig, axes = new_figure((7.0, 5.0), 2, 2)
    for col, n_links in enumerate((sizes[0], sizes[-1])):
        arrays, meta = read_arrays(exp.path(f"generalization/n{n_links}", "results.h5"),
                                   "d2d-generalization")
        for row, kind in enumerate(("sum_rate_bps", "min_rate_bps")):
            values = {label: arrays[_key(label, kind)] / 1e6
                      for label in meta["metrics"]["methods"]}
            n = len(next(iter(values.values())))
            cdf_figure(values, f"per-layout {kind.split('_rate')[0]}-rate (Mbps)",
                       ax=axes[row, col],
                       legend_title=f"N = {n_links}, {n:,} layouts, seed {exp.seed}")
    save_figure(fig, out / "generalization_cdf.png")
    # time per layout vs N, log-log
    series = {}
    for m in sorted({r["method"] for r in summary}):
        rs = [r for r in summary if r["method"] == m]
        series[m] = ([r["n_links"] for r in rs], [r["seconds_per_layout"] for r in rs])
    save_figure(curve_figure(series, "links N (count)", "time per layout (s)", log_x=True,
                             log_y=True, nonpositive="clip", figsize=REPORT_FIGSIZE_IN,
                             legend_title=f"this machine, seed {experiments[0].seed}"),
                out / "generalization_time.png")
