"""Report of the MISO experiment from the run's files: tables over seeds, CSV/JSON, markdown
and plots (test users, baselines, ``evaluation.h5``, ``fit.json``, ``metrics.csv``; no
network runs, torch is not imported)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from baselines.miso import (
    beamforming_gain,
    localization_errors_m,
    received_snr_db,
    snr_fraction_of_mrt,
    summarize_errors,
)
from experiments.layout import Plan, UnitFiles
from experiments.systems import miso_pilot_system, miso_system
from wirelessrl.datasets import load_miso
from wirelessrl.fileio import read_arrays
from wirelessrl.plots import (
    REPORT_FIGSIZE_IN,
    bars_vs_paper_figure,
    cdf_figure,
    learning_curve_figure,
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

TARGET_HEAD = "localization"
BEAMFORMERS = ("perfect MRT", "genie LMMSE", "LoS", "random")
"""Test-set beamforming baselines, in report order."""

PAPER_FIGURES = {  # SPEC section 3, authors' models on their 2,000 test users
    "error_mean_m": {"reconstruction": 5.59, "conventional": 6.06, "regular": 6.56,
                     "centre guess": 30.6},
    "bf_gain_pct": {"source, with reconstruction": 91.3, "source, no reconstruction": 91.9},
}
EXPECTED_BF_GAIN_PCT = {"perfect MRT": 100.0, "genie LMMSE": 92.3, "LoS": 91.5}
"""SPEC section 3's expected beamforming baselines (not paper figures)."""

SOURCE_LABELS = {"conventional": "source, no reconstruction",
                 "reconstruction": "source, with reconstruction"}
SUPERVISED = "supervised ceiling"
LOC_METRICS = ("mean_m", "median_m", "p90_m")
BF_METRICS = ("bf_gain_pct", "snr_fraction_pct", "snr_db")


def _loc_record(seed, table, method, pred_m, true_m, labels, **extra) -> tuple[dict, np.ndarray]:
    errors = localization_errors_m(pred_m, true_m)
    if not np.all(np.isfinite(errors)):
        raise ValueError(f"{method}: {int(np.sum(~np.isfinite(errors)))} non-finite errors")
    return ({"seed": seed, "table": table, "method": method, "labels": labels,
             **summarize_errors(errors), **extra}, errors)


def _bf_record(seed, method, gain, snr_fraction, snr_db) -> dict:
    return {"seed": seed, "table": "beamforming", "method": method,
            "bf_gain_pct": 100 * float(np.mean(gain)),
            "snr_fraction_pct": 100 * float(np.mean(snr_fraction)),
            "snr_db": float(np.mean(snr_db))}


def baselines(u: UnitFiles) -> tuple[dict[str, np.ndarray], dict]:
    """Every stored baseline array by ``<kind>/<label>`` and the per-method info."""
    arrays, meta = read_arrays(u.path("baselines.h5"), "miso-baselines")
    return {key: arrays[short] for short, key in meta["names"].items()}, meta["methods"]


def _beamformers(u: UnitFiles, run_dir, cfg) -> tuple[np.ndarray, float]:
    """Test-set beamformers ``[n, B, M]`` complex of a source network, and users/s."""
    fields, speed = u.outputs(run_dir, "beamforming")
    out = fields["out"]
    pairs = out.reshape(out.shape[0], cfg.n_bs, cfg.n_antennas, 2)
    return pairs[..., 0] + 1j * pairs[..., 1], speed


def _seed_results(exp: UnitFiles, config, cfg, pilots, strategies, target_lr, tuned_lrs,
                  variants) -> dict:
    """Every table of one seed: records, per-user errors for the CDFs, speeds."""
    test = load_miso(exp.path("data", "test.h5"), pilots)
    true = test.positions_m
    n_target = int(config["data"]["target_train"])
    n_source = int(config["data"]["source_train"])
    base, info = baselines(exp)
    records, errors, speeds = [], {}, {}

    # beamforming: baselines, then the source networks
    for label in BEAMFORMERS:
        records.append(_bf_record(exp.seed, label, base[f"bf_gain/{label}"],
                                  base[f"snr_fraction/{label}"], base[f"snr_db/{label}"]))
    by_name = {v.name: v for v in variants}
    source_nets = []
    for net in exp.networks("source"):
        var = by_name.get(net["variant"])
        label = SOURCE_LABELS[net["name"]] + (f" [variant {var.name}]" if var else "")
        source_nets.append((label, exp.source_net_path(net["name"], var)))
    for label, path in source_nets:
        v, speed = _beamformers(exp, path, cfg)
        if "[variant" not in label:
            speeds[label] = speed
        records.append(_bf_record(exp.seed, label, beamforming_gain(test.h, v),
                                  snr_fraction_of_mrt(test.h, v),
                                  received_snr_db(test.h, v, cfg.p_bs_w, cfg.noise_w)))

    # localization baselines
    for key, pred in base.items():
        if key.startswith("pos/"):
            label = key[len("pos/"):]
            rec, errors[label] = _loc_record(exp.seed, "localization_baselines", label, pred,
                                             true, info[label]["labels"])
            records.append(rec)
            if label != "centre guess":
                speeds[label] = len(true) / max(info[label]["seconds"], 1e-9)

    def network(table, run_dir, method, labels, **extra):
        fields, speed = exp.outputs(run_dir, TARGET_HEAD)
        pred = fields["pos_m"]
        rec, err = _loc_record(exp.seed, table, method, pred, true, labels, **extra)
        records.append(rec)
        return err, speed, pred

    preds = {}
    for s in strategies:
        errors[s], speeds[s], preds[s] = network("paper_settings",
                                                 exp.target_run_dir(s, target_lr), s, n_target,
                                                 lr=target_lr)
    chosen = {}
    for s in strategies:
        lr = exp.best_lr(s, tuned_lrs)
        chosen[s] = lr
        network("equal_tuning", exp.target_run_dir(s, lr), s, n_target, lr=lr)
    for v in variants:
        for s in v.strategies:
            lr = exp.best_lr(s, v.lrs, v)
            network(f"variant:{v.name}", exp.target_run_dir(s, lr, v), s, n_target, lr=lr)
    if config["supervised"].get("enabled", True):
        errors[SUPERVISED], speeds[SUPERVISED], preds[SUPERVISED] = network(
            "supervised", exp.path("supervised"), SUPERVISED, n_source,
            lr=float(config["supervised"]["lr"]))
    lo, hi = cfg.user_area_m
    inside = all(bool(np.all((p >= lo) & (p <= hi))) for p in preds.values())
    return {"records": records, "errors": errors, "speeds": speeds, "baseline_info": info,
            "chosen": chosen, "outputs_inside_area": inside}


def _aggregate(records: list[dict], table: str, metrics) -> dict[str, dict]:
    """``{method: {metric: [value per seed], "labels": n, "lr": [...]}}`` for one table."""
    out: dict[str, dict] = {}
    for r in records:
        if r["table"] != table:
            continue
        d = out.setdefault(r["method"], {m: [] for m in metrics} | {"lr": []})
        for m in metrics:
            d[m].append(r[m])
        if r.get("labels") is not None:
            d["labels"] = r["labels"]
        if r.get("lr") is not None:
            d["lr"].append(r["lr"])
    return out


def _summary(agg: dict, metrics) -> dict:
    out = {}
    for method, d in agg.items():
        row = {}
        for m in metrics:
            row[m], row[f"{m}_std"] = mean_std(d[m])
        row["n_seeds"] = len(d[metrics[0]])
        if "labels" in d:
            row["labels"] = d["labels"]
        if d["lr"]:
            row["lr"] = d["lr"]
        out[method] = row
    return out


def _loc_table(agg: dict, paper: dict | None = None, lr_col: bool = False,
               labels_text: dict | None = None) -> str:
    head = ["method", "labelled positions", "mean error (m)", "median (m)", "90th pct (m)"]
    if lr_col:
        head.append("lr (chosen on validation)")
    if paper is not None:
        head.append("paper mean (m)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, d in agg.items():
        labels = (labels_text or {}).get(method, f"{d.get('labels', 0):,}")
        cells = [method, labels, *(fmt_mean_std(d[m], 2) for m in LOC_METRICS)]
        if lr_col:
            cells.append(", ".join(f"{v:g}" for v in d["lr"]))
        if paper is not None:
            cells.append(str(paper.get(method, "")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _bf_table(agg: dict) -> str:
    head = ["method", "beamforming gain (% of perfect MRT)", "received SNR (% of perfect MRT)",
            "received SNR (dB, mean over users)", "paper %", "expected (SPEC)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    paper = PAPER_FIGURES["bf_gain_pct"]
    for method, d in agg.items():
        cells = [method, fmt_mean_std(d["bf_gain_pct"], 2),
                 fmt_mean_std(d["snr_fraction_pct"], 2), fmt_mean_std(d["snr_db"], 2),
                 str(paper.get(method, "")),
                 f"~{EXPECTED_BF_GAIN_PCT[method]:g}" if method in EXPECTED_BF_GAIN_PCT else ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _baseline_labels(info: dict, n_source: int) -> dict[str, str]:
    out = {}
    for label, d in info.items():
        if d.get("kind") != "localization":
            continue
        if d.get("labels", 0) == 0:
            out[label] = "0 (label-free)" if label.startswith("grid") else "0"
        else:
            out[label] = f"{d['labels']:,} (source users, k = {d.get('k')})"
    out[SUPERVISED] = f"{n_source:,} (all source users)"
    return out


def _settings(values: dict) -> str:
    return ", ".join(f"{k} = {v:,}" if isinstance(v, int) else f"{k} = {v}"
                     for k, v in values.items()) or "none"


def _system_text(system_seed) -> str:
    if system_seed == "paper":
        return "the paper's own pilots and sensing vectors (system `paper`, legacy seed 123)"
    return f"system seed {system_seed}"


def write_report(config: dict, run_dir: Path, experiments: list[UnitFiles], plan: Plan,
                 provenance: dict, echo: Echo = print) -> Path:
    """Tables over the seeds' runs (``results.csv``, ``results.json``), plots and
    ``report.md`` from the run's files; returns the report's path."""
    strategies, target_lr, tuned_lrs = plan.strategies, plan.target_lr, plan.tuned_lrs
    variants = plan.variants
    seeds = [e.seed for e in experiments]
    cfg, pilots = miso_system(config), miso_pilot_system(config)
    per_seed = [_seed_results(e, config, cfg, pilots, strategies, target_lr, tuned_lrs,
                              variants) for e in experiments]
    records = [r for s in per_seed for r in s["records"]]
    write_csv(run_dir / "results.csv", records)

    loc_tables = ["localization_baselines", "supervised", "paper_settings", "equal_tuning",
                  *[f"variant:{v.name}" for v in variants]]
    aggs = {t: _aggregate(records, t, LOC_METRICS) for t in loc_tables}
    aggs["beamforming"] = _aggregate(records, "beamforming", BF_METRICS)
    summary = {t: _summary(a, BF_METRICS if t == "beamforming" else LOC_METRICS)
               for t, a in aggs.items()}
    speeds = {k: mean_std([s["speeds"][k] for s in per_seed])[0] for k in per_seed[0]["speeds"]}
    info = per_seed[0]["baseline_info"]
    inside = all(s["outputs_inside_area"] for s in per_seed)
    write_json(run_dir / "results.json", {
        "experiment": "miso", "summary": summary, "records": records,
        "inference_users_per_s": speeds, "baselines": info,
        "localization_outputs_inside_user_area": inside,
        "paper_figures": PAPER_FIGURES, "expected_bf_gain_pct": EXPECTED_BF_GAIN_PCT,
        "provenance": provenance,
    })

    exp0, first = experiments[0], per_seed[0]
    plots = {}
    cdf_methods = [*strategies, SUPERVISED, *[k for k in first["errors"] if k not in strategies
                                              and k != SUPERVISED]]
    errors = {k: first["errors"][k] for k in cdf_methods if k in first["errors"]}
    n_test = len(next(iter(errors.values())))
    plots["cdf_localization_error.png"] = save_figure(cdf_figure(
        errors, "localization error (m)", ylabel="CDF (fraction of users)", log_x=True,
        nonpositive="clip", figsize=REPORT_FIGSIZE_IN,
        legend_title=f"{n_test:,} test users, seed {seeds[0]}; networks: paper settings"),
        run_dir / "cdf_localization_error.png")
    curves = {s: exp0.target_run_dir(s, target_lr) / "metrics.csv" for s in strategies}
    if config["supervised"].get("enabled", True):
        curves[f"{SUPERVISED} (source data)"] = exp0.path("supervised", "metrics.csv")
    plots["learning_curves.png"] = save_figure(learning_curve_figure(
        curves, "valid_error_m", ylabel="validation mean error (m)", figsize=REPORT_FIGSIZE_IN,
        legend_title=f"localization training, target lr {target_lr:g}, seed {seeds[0]}"),
        run_dir / "learning_curves.png")
    sources = [n["name"] for n in exp0.networks("source") if n["variant"] is None]
    if sources:
        plots["source_curves.png"] = save_figure(learning_curve_figure(
            {SOURCE_LABELS[n]: exp0.path("source", n, "metrics.csv") for n in sources},
            "valid_bf_gain", figsize=REPORT_FIGSIZE_IN,
            legend_title=f"beamforming (source) training, seed {seeds[0]}"),
            run_dir / "source_curves.png")

    paper_loc = PAPER_FIGURES["error_mean_m"]
    ours = {m: d["mean_m"] for m, d in summary["paper_settings"].items()}
    errs = {m: d["mean_m_std"] for m, d in summary["paper_settings"].items()}
    for m in ("centre guess", "grid MMSE", "kNN fingerprint"):
        if m in summary["localization_baselines"]:
            ours[m] = summary["localization_baselines"][m]["mean_m"]
    if SUPERVISED in summary["supervised"]:
        ours[SUPERVISED] = summary["supervised"][SUPERVISED]["mean_m"]
    spread = f", ± std over {len(seeds)} seeds" if len(seeds) > 1 else ""
    seeds_title = f"{n_test:,} test users, {seeds_text(seeds)}"
    plots["bars_localization_vs_paper.png"] = save_figure(bars_vs_paper_figure(
        ours, paper_loc, "mean localization error (m)", errors=errs,
        ours_label=f"wirelessrl, paper settings{spread}", legend_title=seeds_title,
        figsize=REPORT_FIGSIZE_IN), run_dir / "bars_localization_vs_paper.png")
    bf = summary["beamforming"]
    shortfall = {m.replace(" [variant", "\n[variant"): 100 - d["bf_gain_pct"]
                 for m, d in bf.items() if m not in ("perfect MRT", "random")}
    plots["bars_beamforming_vs_paper.png"] = save_figure(bars_vs_paper_figure(
        shortfall, {m: round(100 - v, 2) for m, v in PAPER_FIGURES["bf_gain_pct"].items()},
        "100 % minus the beamforming gain of perfect MRT (% points)",
        errors={m.replace(" [variant", "\n[variant"): d["bf_gain_pct_std"]
                for m, d in bf.items()},
        ours_label=f"wirelessrl{spread}", legend_title=f"{seeds_title}; lower is better",
        figsize=REPORT_FIGSIZE_IN), run_dir / "bars_beamforming_vs_paper.png")

    n_source = int(config["data"]["source_train"])
    labels_text = _baseline_labels(info, n_source)
    d, t, sup = config["data"], config["target"], config["supervised"]
    src, sysc = config["source"], config["system"]
    source_loss = ("the paper's supervised MSE to the MRT beamformer"
                   if src.get("loss", "mrt-mse") == "mrt-mse"
                   else "unsupervised (maximize the normalized beamforming gain)")
    grid_step = info.get("grid MMSE", info.get("grid ML", {})).get("grid_step_m")
    lines = [
        f"# MISO beamforming -> localization transfer ({config['scale']} scale)",
        "",
        f"Seeds {', '.join(map(str, seeds))}; mean ± std over seeds where there are several. "
        f"Preset `{sysc.get('preset', 'paper')}` (3 BSs with 4 x 4 arrays, Rician K = 10, "
        "4 pilots, constant-modulus pilot noise; path loss 32.6 + 36.7 log10(d) dB as in the "
        f"paper's code, beside a 50 GHz carrier); {_system_text(sysc.get('system_seed', 0))} "
        f"shared by every split. Users: source {d['source_train']:,} / {d['source_valid']:,}, "
        f"target {d['target_train']:,} / {d['target_valid']:,}, test {d['test']:,}.",
        f"Source loss: {source_loss}; alpha = {src['alpha']:g}; batch {src['batch_size']:,}, "
        f"lr {src['lr']:g}, ≤ {src['epochs']} epochs (patience {src.get('patience')}), "
        f"weights of the best validation {src.get('monitor', 'bf_gain')}. Target weights: best "
        "validation mean error.",
        "",
        "## Localization (target task), the paper's settings "
        f"(lr {target_lr:g}, batch {t['batch_size']}, ≤ {t['epochs']:,} epochs, patience "
        f"{t.get('patience')})",
        "",
        _loc_table({**aggs["localization_baselines"], **aggs["supervised"],
                    **aggs["paper_settings"]}, paper_loc, labels_text=labels_text),
        "",
        "Baselines: centre guess = the centre of the user area; grid MMSE/ML = posterior mean "
        f"/ maximum likelihood on a {grid_step:g} m grid from the known model and pilots "
        "(Gaussian approximation of the noise), no labels; kNN fingerprint = mean position of "
        "the k nearest source users in the standardized 24-real observation space. "
        f"Supervised ceiling = the same localization network trained from scratch on all "
        f"{n_source:,} source positions (batch {sup['batch_size']}, lr {sup['lr']:g}, ≤ "
        f"{sup['epochs']} epochs, patience {sup.get('patience')}).",
        "Absolute errors depend on the system draw (the 4 pilots and 12 sensing vectors of "
        "`system_seed`), not only on the method: compare the networks with the grid rows of "
        "the same run rather than with the paper's numbers alone.",
        "",
    ]
    if len(tuned_lrs) > 1:
        lines += [
            "## Localization, equal tuning budget (lr chosen on validation from "
            f"{', '.join(f'{v:g}' for v in tuned_lrs)})",
            "",
            _loc_table(aggs["equal_tuning"], lr_col=True),
            "",
        ]
    for v in variants:
        lines += [
            f"## Variant `{v.name}`: {v.label}",
            "",
            f"Source settings changed: {_settings(v.source)} (sources in `{v.source_dir}/`); "
            f"target settings changed: {_settings(v.target)}; lr chosen on validation from "
            f"{', '.join(f'{x:g}' for x in v.lrs)}.",
            "",
            _loc_table(aggs[f"variant:{v.name}"], lr_col=True),
            "",
        ]
    lines += [
        "## Beamforming (source task), test set",
        "",
        _bf_table(aggs["beamforming"]),
        "",
        "Gain = mean over users and BSs of |h_b^H v_b|^2 / ||h_b||^2; received SNR = "
        "sum_b |h_b^H v_b|^2 P_bs / sigma^2 (40 dBm per BS). Genie LMMSE (position known, "
        "h estimated from the 4 pilots) is the ceiling for any beamformer that sees only the "
        "pilots.",
        "",
        "## Inference speed on the test set (same run)",
        "",
        "| method | users/s |",
        "|---|---|",
        *[f"| {k} | {v:,.0f} |" for k, v in speeds.items()],
        "",
        f"Localization outputs of every network inside the user area: {inside}.",
        "",
    ]
    return write_markdown_report(run_dir, lines, plots, echo)


__all__ = ["write_report"]
