"""Report of the D2D experiment from the run's files: tables over seeds, CSV/JSON, markdown
and plots (test layouts, baseline powers, ``evaluation.h5``, ``fit.json``, ``metrics.csv``;
no network runs, torch is not imported)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments import d2d_sizes_report
from experiments.d2d_sizes import enabled as generalization_enabled
from experiments.layout import Plan, UnitFiles, Variant
from experiments.systems import d2d_system
from simulators.d2d import D2DConfig
from wirelessrl.datasets import load_d2d
from wirelessrl.evaluate import MetricSummary, d2d_link_rates_mbps, d2d_table
from wirelessrl.fileio import read_arrays
from wirelessrl.plots import (
    REPORT_FIGSIZE_IN,
    bars_vs_paper_figure,
    learning_curve_figure,
    pooled_cdf_figure,
    save_figure,
)
from wirelessrl.results import (
    Echo,
    fmt_mean_std,
    mean_std,
    seeds_text,
    write_csv,
    write_json,
    write_markdown_report,
)

BASELINE_METHODS = {"max-min optimum": "maxmin", "FP": "fp", "WMMSE": "wmmse",
                    "full power": "full", "random power": "random"}
"""Report label -> :data:`baselines.SOLVERS` name, solved on the test set (report order)."""

PAPER_FIGURES = {  # SPEC section 2, authors' models on their test set
    "min_rate_mbps": {"max-min optimum": 9.163, "reconstruction": 6.005, "regular": 5.322,
                      "conventional": 4.799, "full power": 4.833, "random power": 2.5},
    "min_rate_pct": {"reconstruction": 64.1, "regular": 55.9, "conventional": 51.1,
                     "full power": 52.0, "random power": 27.0},
    "sum_rate_mbps": {"FP": 157.45, "source, with reconstruction": 153.96,
                      "source, no reconstruction": 155.69, "full power": 140.12,
                      "random power": 132.3},
}

SOURCE_LABELS = {"conventional": "source, no reconstruction",
                 "reconstruction": "source, with reconstruction"}

PAPER_SYSTEM = D2DConfig.from_preset("paper")
"""The system of the method paper's data: :data:`PAPER_FIGURES` are shown beside a run's
numbers only when its system equals this one."""


def is_paper_system(system: D2DConfig) -> bool:
    """Whether ``system`` is the method paper's (the ``paper`` preset, no field changed).

    Example
    -------
    >>> is_paper_system(D2DConfig.from_preset("paper")), is_paper_system(
    ...     D2DConfig.from_preset("paper", n_links=20))
    (True, False)
    """
    return system == PAPER_SYSTEM


def describe_system(system: D2DConfig) -> str:
    """One sentence on the scenario actually run: links, field, carrier, fading, powers.

    Example
    -------
    >>> describe_system(D2DConfig.from_preset("paper", n_links=20, carrier_hz=2.4e9))[:50]
    '20 links in a 150 m x 150 m field, carrier 2.4 GHz'
    """
    fading = "Rayleigh fading" if system.fading else "no fading"
    shadow = (f"{system.shadowing_sigma_db:g} dB log-normal shadowing"
              if system.shadowing_sigma_db > 0 else "no shadowing")
    return (f"{system.n_links} links in a {system.field_m:g} m x {system.field_m:g} m field, "
            f"carrier {system.carrier_hz / 1e9:g} GHz, link lengths "
            f"{system.link_distance_min_m:g}-{system.link_distance_max_m:g} m, {shadow}, "
            f"{fading}; P_max {system.p_max_dbm:g} dBm, noise {system.noise_dbm_per_hz:g} dBm/Hz "
            f"over {system.bandwidth_hz / 1e6:g} MHz, SNR gap {system.snr_gap_db:g} dB")


def _changed_fields(system: D2DConfig) -> str:
    """The fields in which ``system`` differs from the method paper's, e.g.
    ``n_links 20 (paper 10)``."""
    return ", ".join(f"{k} {getattr(system, k)!r} (paper {getattr(PAPER_SYSTEM, k)!r})"
                     for k in D2DConfig.field_names()
                     if getattr(system, k) != getattr(PAPER_SYSTEM, k))


def _rows_to_records(seed: int, table: str, rows: list[MetricSummary], extra=None) -> list[dict]:
    out = []
    for r in rows:
        rec = {"seed": seed, "table": table, **r.as_dict()}
        rec.update((extra or {}).get(r.method, {}))
        out.append(rec)
    return out


def variant_table(variant: Variant) -> str:
    """Record-table name of a variant (``variant_<name>``)."""
    return f"variant_{variant.name}"


def variant_method(strategy: str, variant: Variant) -> str:
    """Report-row label of a strategy trained under a variant."""
    return f"{strategy} + {variant.label}"


def baseline_powers(u: UnitFiles) -> tuple[dict[str, np.ndarray], dict]:
    """Test-set powers (W) of every baseline by report label (in the order of
    :data:`BASELINE_METHODS`), and the per-method info."""
    arrays, meta = read_arrays(u.path("baselines.h5"), "d2d-solutions")
    info = meta["methods"]
    return {label: arrays[f"{m}_p_w"] for label, m in BASELINE_METHODS.items()}, info


def _net_powers(u: UnitFiles, run_dir, head: str) -> tuple[np.ndarray, float]:
    fields, speed = u.outputs(run_dir, head)
    return fields["p_w"], speed


def _seed_results(exp: UnitFiles, system, strategies, target_lr, tuned_lrs,
                  variants=()) -> dict:
    """Every table of one seed: records, per-layout rates for the CDFs, speeds."""
    g = load_d2d(exp.path("data", "test.h5")).g
    base_powers, base_info = baseline_powers(exp)
    sources = [n["name"] for n in exp.networks("source") if n["variant"] is None]
    source_powers, speeds = {}, {}
    for name in sources:
        p, rate = _net_powers(exp, exp.path("source", name), "sum_rate")
        source_powers[SOURCE_LABELS[name]] = p
        speeds[SOURCE_LABELS[name]] = rate
    by_name = {v.name: v for v in variants}
    for net in exp.networks("source"):  # a variant's own sources: rows "... [variant <name>]"
        variant = by_name.get(net["variant"])
        if variant is not None:
            label = f"{SOURCE_LABELS[net['name']]} [variant {variant.name}]"
            source_powers[label], _ = _net_powers(
                exp, exp.source_net_path(net["name"], variant), "sum_rate")
    paper_powers = {}
    for s in strategies:
        paper_powers[s], speeds[s] = _net_powers(exp, exp.target_run_dir(s, target_lr),
                                                 "min_rate")
    tuned_powers, chosen = {}, {}
    for s in strategies:
        lr = exp.best_lr(s, tuned_lrs)
        chosen[s] = {"lr": lr}
        tuned_powers[s], _ = _net_powers(exp, exp.target_run_dir(s, lr), "min_rate")
    refs = {k: base_powers[k] for k in ("FP", "max-min optimum")}
    tables = {
        "baselines": d2d_table(g, system, base_powers),
        "sources": d2d_table(g, system, {**refs, **source_powers}),
        "paper_settings": d2d_table(g, system, {**refs, **paper_powers}),
        "equal_tuning": d2d_table(g, system, {**refs, **tuned_powers}),
    }
    chosen_by_table = {"equal_tuning": chosen}
    for variant in variants:
        powers, picked = {}, {}
        for s in variant.strategies:
            lr = exp.best_lr(s, variant.lrs, variant)
            label = variant_method(s, variant)
            picked[label] = {"lr": lr}
            powers[label], speeds[label] = _net_powers(
                exp, exp.target_run_dir(s, lr, variant), "min_rate")
        tables[variant_table(variant)] = d2d_table(g, system, {**refs, **powers})
        chosen_by_table[variant_table(variant)] = picked
    records = []
    for name, rows in tables.items():
        keep = [r for r in rows if name == "baselines" or r.method not in refs]
        records += _rows_to_records(exp.seed, name, keep, chosen_by_table.get(name))
    fp_layouts_per_s = len(g) / base_info["FP"]["seconds"]
    rates = {label: d2d_link_rates_mbps(g, p, system)
             for label, p in {**base_powers, **{f"{k} (transfer)": v
                                                for k, v in paper_powers.items()}}.items()}
    return {"records": records, "rates": rates, "speeds": speeds,
            "fp_layouts_per_s": fp_layouts_per_s, "baseline_info": base_info, "chosen": chosen}


CDF_SAMPLE, CDF_UNIT = "layout", "Mbps"
"""What one CDF value is (a test layout) and its unit (:func:`cdf_series`)."""


def seed_rates(config: dict, u: UnitFiles, plan: Plan) -> dict[str, np.ndarray]:
    """Per-link rates ``[n, N]`` (Mbps) on one seed's test layouts by label: the baselines
    and the target networks at ``plan.target_lr`` (``"<strategy> (transfer)"``)."""
    return _seed_results(u, d2d_system(config), plan.strategies, plan.target_lr,
                         plan.tuned_lrs, plan.variants)["rates"]


def cdf_series(rates: dict[str, np.ndarray], metric: str) -> dict[str, np.ndarray]:
    """The per-layout values the CDF plots draw, from :func:`seed_rates`: ``metric`` ``sum``
    (every label) or ``min`` (FP and WMMSE left out: they maximize the sum-rate).

    Example
    -------
    >>> r = {"FP": np.ones((2, 3)), "max-min optimum": np.full((2, 3), 2.0)}
    >>> {k: v.tolist() for k, v in cdf_series(r, "min").items()}
    {'max-min optimum': [2.0, 2.0]}
    """
    if metric == "min":
        return {k: v.min(axis=-1) for k, v in rates.items() if k not in ("FP", "WMMSE")}
    return {k: v.sum(axis=-1) for k, v in rates.items()}


def _aggregate(records: list[dict], table: str, metric: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in records:
        if r["table"] != table or r["metric"] != metric:
            continue
        d = out.setdefault(r["method"], {"mean": [], "pct": [], "pct_rom": [], "lr": []})
        d["mean"].append(r["mean"])
        d["pct"].append(r["pct_of_reference_mean_ratio"])
        d["pct_rom"].append(r["pct_of_reference_ratio_of_means"])
        if r.get("lr") is not None:
            d["lr"].append(r["lr"])
    return out


def _md_table(agg: dict, paper_mbps: dict | None, paper_pct: dict | None, unit_ref: str,
              lr_col=False) -> str:
    """Rows of ``agg``; the paper's columns only when ``paper_mbps`` is not None."""
    head = ["method", "Mbps", f"% of {unit_ref} (mean of ratios)", "% (ratio of means)"]
    if lr_col:
        head.append("lr chosen on validation")
    if paper_mbps is not None:
        head += ["paper Mbps", "paper %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, d in agg.items():
        pct = [v for v in d["pct"] if v is not None]
        rom = [v for v in d["pct_rom"] if v is not None]
        cells = [method, fmt_mean_std(d["mean"], 3), fmt_mean_std(pct, 1) if pct else "",
                 fmt_mean_std(rom, 1) if rom else ""]
        if lr_col:
            cells.append(", ".join(f"{v:g}" for v in d["lr"]))
        if paper_mbps is not None:
            cells += [str(paper_mbps.get(method, "")), str((paper_pct or {}).get(method, ""))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _settings(values: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in values.items()) or "none"


def _variant_sections(config, tables: dict, variants) -> list[str]:
    """Markdown of the variants: one labelled table each."""
    lines = []
    for v in variants:
        target = {**config["target"], **v.target}
        what = (f"Not the paper's protocol: {v.protocol}." if v.protocol else
                "The paper's protocol with other settings.")
        lines += [
            f"## Min-rate, variant `{v.name}`: {v.label}"
            + (" (protocol change)" if v.protocol else ""),
            "",
            f"{what} Source settings changed: {_settings(v.source)}; target settings changed: "
            f"{_settings(v.target)} (≤ {target['epochs']:,} epochs, patience "
            f"{target['patience']}); lr chosen on validation from "
            f"{', '.join(f'{x:g}' for x in v.lrs)}; test set touched once per row.",
            "",
            _md_table(tables[f"min_rate_{variant_table(v)}"], None, None, "optimum",
                      lr_col=True),
            "",
        ]
    return lines


def write_report(config: dict, run_dir: Path, experiments: list[UnitFiles], plan: Plan,
                 provenance: dict, echo: Echo = print) -> Path:
    """Tables over the seeds' runs (``results.csv``, ``results.json``), plots and
    ``report.md`` from the run's files; returns the report's path."""
    strategies, target_lr, tuned_lrs = plan.strategies, plan.target_lr, plan.tuned_lrs
    variants = plan.variants
    system = d2d_system(config)
    seeds = [e.seed for e in experiments]
    per_seed = [_seed_results(e, system, strategies, target_lr, tuned_lrs, variants)
                for e in experiments]
    records = [r for s in per_seed for r in s["records"]]
    gen_rows = None
    if generalization_enabled(config):  # table "generalization": read by sweeps (n_links)
        gen_rows = [r for e in experiments for r in d2d_sizes_report.seed_rows(e, config)]
        records += d2d_sizes_report.records(gen_rows)
    write_csv(run_dir / "results.csv", records)

    fp_rule = per_seed[0]["baseline_info"]["FP"]["stopping_rule"]
    wmmse_rule = per_seed[0]["baseline_info"]["WMMSE"]["stopping_rule"]
    paper = is_paper_system(system)
    min_paper = PAPER_FIGURES["min_rate_mbps"] if paper else None
    pct_paper = PAPER_FIGURES["min_rate_pct"] if paper else None
    sum_paper = PAPER_FIGURES["sum_rate_mbps"] if paper else None
    tables = {
        "min_rate_baselines": _aggregate(records, "baselines", "min-rate"),
        "min_rate_paper_settings": _aggregate(records, "paper_settings", "min-rate"),
        "min_rate_equal_tuning": _aggregate(records, "equal_tuning", "min-rate"),
        "sum_rate_baselines": _aggregate(records, "baselines", "sum-rate"),
        "sum_rate_sources": _aggregate(records, "sources", "sum-rate"),
        **{f"min_rate_{variant_table(v)}": _aggregate(records, variant_table(v), "min-rate")
           for v in variants},
    }
    speeds = {k: mean_std([s["speeds"][k] for s in per_seed])[0] for k in per_seed[0]["speeds"]}
    fp_speed = mean_std([s["fp_layouts_per_s"] for s in per_seed])[0]
    summary = {name: {m: {"mean": mean_std(d["mean"])[0], "std": mean_std(d["mean"])[1],
                          "pct_mean_ratio": mean_std([v for v in d["pct"] if v is not None])[0],
                          "lr": d["lr"]}
                      for m, d in agg.items()} for name, agg in tables.items()}
    write_json(run_dir / "results.json", {
        "experiment": "d2d", "summary": summary, "records": records,
        "inference_layouts_per_s": speeds, "fp_layouts_per_s": fp_speed,
        "baselines": per_seed[0]["baseline_info"], "provenance": provenance,
    })

    n_test = len(next(iter(per_seed[0]["rates"].values())))
    wide = REPORT_FIGSIZE_IN
    plots = {
        f"cdf_{metric}_rate.png": save_figure(pooled_cdf_figure(
            [cdf_series(s["rates"], metric) for s in per_seed], seeds, metric, CDF_SAMPLE,
            CDF_UNIT, figsize=wide), run_dir / f"cdf_{metric}_rate.png")
        for metric in ("min", "sum")
    }
    plots.update({
        "learning_curves.png": save_figure(learning_curve_figure(
            {s: experiments[0].target_run_dir(s, target_lr) / "metrics.csv"
             for s in strategies}, "valid_min_rate_bps_per_hz",
            legend_title=f"target training, lr {target_lr:g}, seed {seeds[0]}", figsize=wide),
            run_dir / "learning_curves.png"),
    })
    ours = {m: d["mean"] for m, d in summary["min_rate_paper_settings"].items()}
    ours.update({m: summary["min_rate_baselines"][m]["mean"]
                 for m in ("max-min optimum", "full power", "random power")})
    errs = {m: d["std"] for m, d in summary["min_rate_paper_settings"].items()}
    spread = f", ± std over {len(seeds)} seeds" if len(seeds) > 1 else ""
    if paper:
        plots["bars_vs_paper.png"] = save_figure(bars_vs_paper_figure(
            ours, min_paper, "mean min-rate (Mbps)", errors=errs,
            ours_label=f"wirelessrl, paper settings{spread}",
            legend_title=f"{n_test:,} test layouts{' per seed' if len(seeds) > 1 else ''}, "
                         f"{seeds_text(seeds)}",
            figsize=wide), run_dir / "bars_vs_paper.png")
    else:
        (run_dir / "bars_vs_paper.png").unlink(missing_ok=True)  # of an earlier paper run
    overrides = config["system"].get("overrides") or {}
    scenario = (f"Scenario: {describe_system(system)} (preset `{config['system']['preset']}`"
                + (f", overrides {_settings(overrides)}" if overrides else "") + ").")
    comparison = ("The paper's columns are the method paper's published figures on this "
                  "system." if paper else
                  "Not the method paper's system (" + _changed_fields(system) + "): its "
                  "published figures do not apply and are not shown.")

    seeds_txt = ", ".join(map(str, seeds))
    d = config["data"]
    lines = [
        f"# D2D sum-rate -> min-rate transfer ({config['scale']} scale)",
        "",
        scenario,
        comparison,
        "",
        f"Seeds {seeds_txt}; mean ± std over seeds where there are several. Layouts: "
        f"source {d['source_train']:,} / "
        f"{d['source_valid']:,}, target {d['target_train']:,} / {d['target_valid']:,}, "
        f"test {d['test']:,}. Percentages: mean over test layouts of the per-layout ratio "
        "(the paper's convention), ratio of the means beside it.",
        f"References: max-min optimum = exact global optimum (batched solver); FP = {fp_rule}; "
        f"WMMSE = {wmmse_rule}.",
        "",
        "## Min-rate, the paper's settings "
        f"(target lr {target_lr:g}, ≤ {config['target']['epochs']:,} epochs, patience "
        f"{config['target']['patience']})",
        "",
        _md_table({**tables["min_rate_baselines"], **tables["min_rate_paper_settings"]},
                  min_paper, pct_paper, "optimum"),
        "",
        "## Min-rate, equal tuning budget (lr chosen on validation from "
        f"{', '.join(f'{v:g}' for v in tuned_lrs)})",
        "",
        _md_table(tables["min_rate_equal_tuning"], None, None, "optimum", lr_col=True),
        "",
        *_variant_sections(config, tables, variants),
        "## Sum-rate (source task)",
        "",
        _md_table({**tables["sum_rate_baselines"], **tables["sum_rate_sources"]},
                  sum_paper, {} if paper else None, "FP"),
        "",
        "## Inference speed on the test set (same run)",
        "",
        "| method | layouts/s |",
        "|---|---|",
        *[f"| network: {k} | {v:,.0f} |" for k, v in speeds.items()],
        f"| FP ({fp_rule}) | {fp_speed:,.0f} |",
        "",
    ]
    if gen_rows is not None:
        lines += d2d_sizes_report.write_tables(config, run_dir, experiments, echo, gen_rows)
    return write_markdown_report(run_dir, lines, plots, echo)


__all__ = ["CDF_SAMPLE", "CDF_UNIT", "cdf_series", "describe_system", "is_paper_system",
           "seed_rates", "write_report"]
