"""Report of the multi-user MISO experiment from the run's files: sum-rate in % of
best-of-K WMMSE and min-rate in % of the exact max-min optimum, per strategy and baseline,
over seeds (CSV, JSON, markdown), and the CDFs of the per-sample sum-rate and min-rate on
every seed's test set (``cdf_sum_rate.png``, ``cdf_min_rate.png``); from the test data,
``baselines.h5`` and ``evaluation.h5`` (torch is not imported)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.layout import Plan, UnitFiles
from simulators.beamforming import user_rates_bps
from wirelessrl.datasets import load_mu_miso
from wirelessrl.fileio import read_arrays
from wirelessrl.plots import REPORT_FIGSIZE_IN, pooled_cdf_figure, save_figure
from wirelessrl.results import (
    Echo,
    fmt_mean_std,
    write_csv,
    write_json,
    write_markdown_report,
)

SOURCE_LABELS = {"conventional": "source, no reconstruction",
                 "reconstruction": "source, with reconstruction"}
COLUMNS = [("sum_rate", "sum-rate (bit/s/Hz)", 3), ("pct_sum_of_wmmse", "% of WMMSE-K", 1),
           ("min_rate", "min-rate (bit/s/Hz)", 3), ("pct_min_of_maxmin", "% of max-min", 1),
           ("samples_per_s", "samples/s", 0)]


def baseline_beams(u: UnitFiles) -> tuple[dict[str, np.ndarray], dict]:
    """Test-set beamformers ``[n, K, M]`` of every baseline by label, and their info."""
    arrays, meta = read_arrays(u.path("baselines.h5"), "mu-miso-baselines")
    return {label: arrays[m["key"]] for label, m in meta["methods"].items()}, meta["methods"]


def _row(seed, table, label, rates, ref_sum, ref_min, speed, extra=None) -> dict:
    s, m = rates.sum(axis=1), rates.min(axis=1)
    return {"seed": seed, "table": table, "method": label, "sum_rate": float(s.mean()),
            "min_rate": float(m.mean()), "pct_sum_of_wmmse": float(100 * np.mean(s / ref_sum)),
            "pct_min_of_maxmin": float(100 * np.mean(m / ref_min)), "samples_per_s": speed,
            **(extra or {})}


CDF_SKIP = ("WMMSE", "MRT", "ZF", "source, with reconstruction")
"""Left out of the CDF plots (eight distinct line styles): WMMSE with 1 start (on top of
best of K), MRT and ZF (below RZF), the second source (on top of the first); of the
baselines solved on the LS channel estimate (``model.input=pilots``) only the max-min
solution is drawn."""
ESTIMATE_SUFFIX = " (LS estimate)"


def in_cdf(label: str) -> bool:
    """Whether the CDF plots draw ``label`` (:data:`CDF_SKIP`)."""
    if label.endswith(ESTIMATE_SUFFIX):
        return label == "max-min optimum" + ESTIMATE_SUFFIX
    return label not in CDF_SKIP


def seed_records(u: UnitFiles, plan: Plan) -> tuple[list[dict], dict, dict[str, np.ndarray]]:
    """Every row of one seed, the baselines' info (stopping rules, statuses, times) and the
    per-sample user rates ``[n, K]`` (bit/s/Hz) by label: baselines, sources and the target
    networks at ``plan.target_lr``."""
    test = load_mu_miso(u.path("data", "test.h5"))
    h, noise = test.h, test.config.noise_w
    base, info = baseline_beams(u)
    wmmse_label = next(k for k in base if k.startswith("WMMSE best of"))
    ref_sum = user_rates_bps(h, base[wmmse_label], noise).sum(axis=1)
    ref_min = user_rates_bps(h, base["max-min optimum"], noise).min(axis=1)
    rates = {label: user_rates_bps(h, w, noise) for label, w in base.items()}
    records = [_row(u.seed, "baselines", label, r, ref_sum, ref_min,
                    len(h) / info[label]["seconds"]) for label, r in rates.items()]
    for net in u.networks("source"):
        if net.get("variant") is None:
            fields, speed = u.outputs(u.path("source", net["name"]), "sum_rate")
            label = SOURCE_LABELS[net["name"]]
            rates[label] = fields["rates"]
            records.append(_row(u.seed, "sources", label, fields["rates"], ref_sum, ref_min,
                                speed))
    tables = {"paper_settings": {s: plan.target_lr for s in plan.strategies}}
    if plan.tuning:
        tables["equal_tuning"] = {s: u.best_lr(s, plan.tuned_lrs) for s in plan.strategies}
    for table, lrs in tables.items():
        for s, lr in lrs.items():
            fields, speed = u.outputs(u.target_run_dir(s, lr), "min_rate")
            records.append(_row(u.seed, table, s, fields["rates"], ref_sum, ref_min, speed,
                                {"lr": lr}))
            if table == "paper_settings":
                rates[s] = fields["rates"]
    return records, info, rates


CDF_SAMPLE, CDF_UNIT = "sample", "bit/s/Hz"
"""What one CDF value is (a test sample) and its unit (:func:`cdf_series`)."""


def seed_rates(config: dict, u: UnitFiles, plan: Plan) -> dict[str, np.ndarray]:
    """Per-user rates ``[n, K]`` (bit/s/Hz) on one seed's test samples by label
    (:func:`seed_records`)."""
    return seed_records(u, plan)[2]


def cdf_series(rates: dict[str, np.ndarray], metric: str) -> dict[str, np.ndarray]:
    """The per-sample sum-rate or min-rate (``metric``: ``sum`` / ``min``) of the labels the
    CDF plots draw (:func:`in_cdf`).

    Example
    -------
    >>> r = {"MRT": np.ones((2, 3)), "RZF": np.full((2, 3), 2.0)}
    >>> {k: v.tolist() for k, v in cdf_series(r, "sum").items()}
    {'RZF': [6.0, 6.0]}
    """
    reduce = np.sum if metric == "sum" else np.min
    return {k: reduce(v, axis=-1) for k, v in rates.items() if in_cdf(k)}


def cdf_plots(run_dir: Path, per_seed_rates: list[dict[str, np.ndarray]],
              seeds: list[int]) -> list[str]:
    """``cdf_sum_rate.png`` and ``cdf_min_rate.png`` in ``run_dir``, pooled over the seeds:
    ``per_seed_rates`` holds one ``{label: [n, K] user rates (bit/s/Hz)}`` per seed; returns
    the file names."""
    names = []
    for metric in ("sum", "min"):
        name = f"cdf_{metric}_rate.png"
        fig = pooled_cdf_figure([cdf_series(r, metric) for r in per_seed_rates], seeds, metric,
                                CDF_SAMPLE, CDF_UNIT, figsize=REPORT_FIGSIZE_IN)
        save_figure(fig, Path(run_dir) / name)
        names.append(name)
    return names


def _table(records: list[dict], table: str) -> list[str]:
    methods = list(dict.fromkeys(r["method"] for r in records if r["table"] == table))
    head = ["method", *[title for _, title, _ in COLUMNS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in methods:
        sel = [r for r in records if r["table"] == table and r["method"] == m]
        cells = [m]
        for key, _, digits in COLUMNS:
            vals = [r[key] for r in sel if r.get(key) is not None]
            cells.append(fmt_mean_std(vals, digits) if vals else "")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(config: dict, run_dir: Path, units: list[UnitFiles], plan: Plan,
                 provenance: dict, echo: Echo) -> Path:
    """Tables over seeds (mean ± std) to ``results.csv``, ``results.json``, ``report.md``,
    and the CDF plots over every seed (:func:`cdf_plots`)."""
    records, infos, rates = [], {}, []
    for u in units:
        rec, info, by_label = seed_records(u, plan)
        records += rec
        infos[u.seed] = info
        rates.append(by_label)
    seeds = [u.seed for u in units]
    write_csv(Path(run_dir) / "results.csv", records)
    write_json(Path(run_dir) / "results.json",
               {"provenance": provenance, "records": records, "baselines": infos})
    first = next(iter(infos.values()))
    rules = [f"- {label}: {m['stopping_rule']}; status {m['status_counts']}"
             for label, m in first.items()]
    system = config["system"]
    lines = [
        "# Multi-user MISO beamforming: sum-rate -> min-rate transfer", "",
        f"System `{system.get('preset')}` (overrides {system.get('overrides') or {}}), "
        f"input `{config['model']['input']}`, seeds {seeds}, scale `{config.get('scale')}`; "
        f"source {config['data']['source_train']} samples, target "
        f"{config['data']['target_train']}, test {config['data']['test']}. Percentages are "
        "means of per-sample ratios: the sum-rate to best-of-K WMMSE, the min-rate to the "
        "exact max-min optimum. Rates in bit/s/Hz; mean ± std over seeds.", "",
        "Baselines (stopping rules, first seed's statuses):", *rules, "",
        *([f"`{ESTIMATE_SUFFIX.strip(' ()')}`: the same solver on the least-squares channel "
           "estimate from the uplink pilots (what the network sees), evaluated on the true "
           "channel; the percentages stay relative to the perfect-CSI references.", ""]
          if config["model"]["input"] == "pilots" else []),
        "## Baselines", "", *_table(records, "baselines"), "",
        "## Source networks (sum-rate head)", "", *_table(records, "sources"), "",
        f"## Target networks, min-rate head, target lr {plan.target_lr:g}", "",
        *_table(records, "paper_settings"), "",
    ]
    if plan.tuning:
        lines += [f"## Target networks, lr chosen on validation from {plan.tuned_lrs}", "",
                  *_table(records, "equal_tuning"), ""]
    plots = cdf_plots(Path(run_dir), rates, seeds)
    return write_markdown_report(run_dir, lines, plots, echo)
