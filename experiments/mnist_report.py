"""Report of the MNIST 1 -> 8 experiment: test accuracy per strategy and split over seeds.

Writes ``results.csv`` (one row per seed, split and network), ``results.json`` (summary,
rows, provenance with the SHA-256 of the IDX files), ``report.md``, a bar chart beside the
paper's split-A accuracies and the target learning curves of the first seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.layout import Plan, UnitFiles, Variant
from wirelessrl.fileio import read_arrays
from wirelessrl.plots import (
    REPORT_FIGSIZE_IN,
    bars_vs_paper_figure,
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

PAPER_ACCURACY_PCT = {"reconstruction": 97.4, "conventional": 95.2, "regular": 92.8}
"""The method paper's test accuracies (%), split A (SPEC section 4)."""

PAPER_COUNTS = {"A": {"source_train": 12_313, "target_train": 92},
                "B": {"source_train": 11_664, "target_train": 926}}
"""Training-set sizes of the paper's splits on the 18,516 real MNIST images of 0/1/8."""

SOURCE_LABELS = {"conventional": "source, no reconstruction",
                 "reconstruction": "source, with reconstruction"}
MAJORITY = "always \"not an 8\""


DATA_KIND = "mnist-018-split"


def split_data(u: UnitFiles) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and metadata of the unit's ``data.h5`` (counts, IDX file digests)."""
    if "data" not in u.cache:
        u.cache["data"] = read_arrays(u.path("data.h5"), DATA_KIND)
    return u.cache["data"]


def test_scores(u: UnitFiles, run_dir: Path, head: str) -> dict[str, float]:
    """Test-set scores of a trained network on its task (``is_one`` or ``is_eight``) from
    its per-image outputs in ``evaluation.h5``.

    Output: ``accuracy`` (fraction), ``bce`` (nats), ``positive_recall`` (fraction of the
    task's digit recognized) and ``negative_recall`` (fraction of the others rejected).
    """
    fields, _ = u.outputs(run_dir, head)
    digit = 1 if head == "is_one" else 8
    truth = split_data(u)[0]["test_digits"] == digit
    pred = fields["logit"] > 0
    return {"accuracy": float((pred == truth).mean()), "bce": float(np.mean(fields["bce"])),
            "positive_recall": float(pred[truth].mean()) if truth.any() else float("nan"),
            "negative_recall": float((~pred[~truth]).mean()) if (~truth).any()
            else float("nan"),
            "n_test": int(truth.size)}


def fit_row(u: UnitFiles, run_dir: Path) -> dict:
    """Best and last epoch, early stop, seconds and validation accuracy of a run."""
    r = u.fit_summary(run_dir)["result"]
    return {"best_epoch": r["best_epoch"], "last_epoch": r["last_epoch"],
            "stopped_early": r["stopped_early"], "train_seconds": r["seconds"],
            "valid_accuracy": r["best_metrics"].get("accuracy")}


def _counts(u: UnitFiles) -> dict[str, int]:
    return dict(split_data(u)[1]["counts"])


def _records(exp: UnitFiles, strategies: list[str], lr: float,
             variants: tuple[Variant, ...] | list[Variant] = ()) -> list[dict]:
    """One row per network of one seed and split: target strategies (then those of each
    variant, ``<strategy> + <label>`` at the lr of its best validation accuracy / loss), then
    the sources (a variant's own ones as ``... [variant <name>]``)."""
    counts = _counts(exp)
    base = {"seed": exp.seed, "split": exp.split, "split_seed": exp.split_seed,
            "n_source_train": counts["source_train"], "n_target_train": counts["target_train"],
            "n_target_valid": counts["target_valid"]}
    rows = []
    for s in strategies:
        run = exp.target_run_dir(s, lr)
        rows.append({**base, "task": "target: is it an 8", "method": s,
                     **test_scores(exp, run, "is_eight"), **fit_row(exp, run)})
    test_y = split_data(exp)[0]["test_y"]
    rows.append({**base, "task": "target: is it an 8", "method": MAJORITY,
                 "accuracy": float((test_y < 0.5).mean()), "n_test": int(test_y.size)})
    for v in variants:
        for s in v.strategies:
            run = exp.target_run_dir(s, exp.best_lr(s, v.lrs, v), v)
            rows.append({**base, "task": "target: is it an 8", "method": f"{s} + {v.label}",
                         **test_scores(exp, run, "is_eight"), **fit_row(exp, run)})
    by_name = {v.name: v for v in variants}
    for net in exp.networks("source"):
        variant = by_name.get(net["variant"])
        run = exp.source_net_path(net["name"], variant).parent
        method = SOURCE_LABELS[net["name"]] + (f" [variant {variant.name}]" if variant else "")
        rows.append({**base, "task": "source: is it a 1", "method": method,
                     **test_scores(exp, run, "is_one"), **fit_row(exp, run)})
    return rows


def _summary(records: list[dict], splits: list[str]) -> dict:
    """``{split: {method: {accuracy_mean, accuracy_std, ...}}}`` over seeds."""
    out: dict[str, dict] = {}
    for split in splits:
        table: dict[str, dict] = {}
        rows = [r for r in records if r["split"] == split]
        for method in dict.fromkeys(r["method"] for r in rows):
            mine = [r for r in rows if r["method"] == method]
            acc = [r["accuracy"] for r in mine]
            m, s = mean_std(acc)
            entry = {"task": mine[0]["task"], "accuracy_mean": m, "accuracy_std": s,
                     "accuracy": acc, "seeds": [r["seed"] for r in mine]}
            for key in ("bce", "positive_recall", "negative_recall", "best_epoch",
                        "last_epoch", "train_seconds"):
                values = [r[key] for r in mine if r.get(key) is not None]
                if values:
                    entry[f"{key}_mean"] = mean_std(values)[0]
            entry["stopped_early"] = sum(bool(r.get("stopped_early")) for r in mine)
            table[method] = entry
        out[split] = table
    return out


def _patience(section: dict) -> str:
    p = section.get("patience")
    return "none (every epoch runs)" if p is None else f"{p:,} epochs"


def _pct(values: list[float]) -> str:
    return fmt_mean_std([100.0 * v for v in values], 1)


def _split_table(split: str, rows: list[dict], summary: dict, paper: bool) -> str:
    head = ["method", "test accuracy (%)", "8s found (%)", "0/1 rejected (%)", "test BCE",
            "best epoch (mean)", "epochs run (mean)", "stopped early", "paper (%)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, e in summary.items():
        if not e["task"].startswith("target"):
            continue
        mine = [r for r in rows if r["method"] == method]
        cells = [
            method, _pct(e["accuracy"]),
            _pct([r["positive_recall"] for r in mine]) if "positive_recall_mean" in e else "",
            _pct([r["negative_recall"] for r in mine]) if "negative_recall_mean" in e else "",
            fmt_mean_std([r["bce"] for r in mine], 3) if "bce_mean" in e else "",
            f"{e['best_epoch_mean']:,.0f}" if "best_epoch_mean" in e else "",
            f"{e['last_epoch_mean']:,.0f}" if "last_epoch_mean" in e else "",
            f"{e['stopped_early']} of {len(mine)}" if "best_epoch_mean" in e else "",
            f"{PAPER_ACCURACY_PCT[method]:.1f}" if paper and method in PAPER_ACCURACY_PCT
            else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _source_table(records: list[dict], summary: dict, splits: list[str]) -> str:
    lines = ["| split | source network | test accuracy, is it a 1 (%) | best epoch (mean) |",
             "|---|---|---|---|"]
    for split in splits:
        for method, e in summary[split].items():
            if e["task"].startswith("source"):
                lines.append(f"| {split} | {method} | {_pct(e['accuracy'])} | "
                             f"{e.get('best_epoch_mean', float('nan')):,.0f} |")
    return "\n".join(lines)


def _counts_table(experiments: list, splits: list[str]) -> str:
    lines = ["| split | source train | source valid | target train | target valid | test | "
             "paper source / target train |", "|---|---|---|---|---|---|---|"]
    for split in splits:
        exp = next(e for e in experiments if e.split == split)
        c = _counts(exp)
        paper = PAPER_COUNTS[split]
        lines.append(f"| {split} | {c['source_train']:,} | {c['source_valid']:,} | "
                     f"{c['target_train']:,} | {c['target_valid']:,} | {c['test']:,} | "
                     f"{paper['source_train']:,} / {paper['target_train']:,} |")
    return "\n".join(lines)


def write_report(config: dict, run_dir: Path, experiments: list[UnitFiles], plan: Plan,
                 provenance: dict, echo: Echo = print) -> Path:
    """Tables over the seeds and splits (``results.csv``, ``results.json``), plots and
    ``report.md`` from the run's files; returns the report's path."""
    digests = split_data(experiments[0])[1]["files"]
    strategies = plan.strategies
    splits = list(dict.fromkeys(e.split for e in experiments))
    seeds = list(dict.fromkeys(e.seed for e in experiments))
    records = [r for e in experiments
               for r in _records(e, strategies, plan.target_lr, plan.variants)]
    write_csv(run_dir / "results.csv", records)
    summary = _summary(records, splits)
    counts = {split: _counts(next(e for e in experiments if e.split == split))
              for split in splits}
    write_json(run_dir / "results.json", {
        "experiment": "mnist", "summary": summary, "records": records,
        "paper_accuracy_pct_split_A": PAPER_ACCURACY_PCT, "counts_first_seed": counts,
        "provenance": {**provenance, "mnist_files": digests},
    })

    plots: dict[str, Path] = {}
    ours, errs, paper = {}, {}, {}
    for split in splits:
        for s in strategies:
            label = f"{s} ({split})"
            ours[label] = 100.0 * summary[split][s]["accuracy_mean"]
            errs[label] = 100.0 * summary[split][s]["accuracy_std"]
            if split == "A" and s in PAPER_ACCURACY_PCT:
                paper[label] = PAPER_ACCURACY_PCT[s]
    spread = f", ± std over {len(seeds)} seeds" if len(seeds) > 1 else ""
    plots["bars_vs_paper.png"] = save_figure(bars_vs_paper_figure(
        ours, paper, "test accuracy, is it an 8 (%)", errors=errs,
        ours_label=f"wirelessrl{spread}", figsize=REPORT_FIGSIZE_IN,
        legend_title=f"{seeds_text(seeds)}; paper: split A only"),
        run_dir / "bars_vs_paper.png")
    first = experiments[0].seed
    for split in splits:
        exp = next(e for e in experiments if e.seed == first and e.split == split)
        name = f"learning_curves_{split}.png"
        plots[name] = save_figure(learning_curve_figure(
            {s: exp.target_run_dir(s, plan.target_lr) / "metrics.csv" for s in strategies},
            "valid_accuracy", ylabel="validation accuracy, is it an 8 (fraction)",
            legend_title=f"target training, split {split}, seed {first}",
            figsize=REPORT_FIGSIZE_IN), run_dir / name)

    d, src, tgt = config["data"], config["source"], config["target"]
    n_test = records[0]["n_test"]
    seeds_txt = ", ".join(map(str, seeds))
    split_seed = ("the run's seed" if d.get("split_seed") is None
                  else f"fixed seed {d['split_seed']}")
    sections = []
    for split in splits:
        rows = [r for r in records if r["split"] == split]
        sections += [f"## Split {split}: test accuracy, is it an 8", "",
                     _split_table(split, rows, summary[split], paper=split == "A"), ""]
    majority = np.mean([r["accuracy"] for r in records if r["method"] == MAJORITY])
    lines = [
        f"# MNIST 1 -> 8 transfer ({config['scale']} scale)",
        "",
        f"Seed{'s' if len(seeds) > 1 else ''} {seeds_txt}; mean ± std over seeds where there "
        "are several (each seed draws "
        f"the split permutation from {split_seed} and initializes the networks). Digits "
        f"0/1/8, {d['image_side']} x {d['image_side']} images; test set: {n_test:,} images "
        "(3,089 in real MNIST), touched once per network. Source \"is it a 1\": batch "
        f"{src['batch_size']}, ≤ {src['epochs']} epochs, lr {src['lr']:g}, alpha "
        f"{src['alpha']:g}, patience {_patience(src)}, weights of the best validation "
        f"{src.get('select_on', 'loss')}. Target \"is it an 8\": batch {tgt['batch_size']}, "
        f"≤ {tgt['epochs']:,} epochs, lr {tgt['lr']:g}, patience {_patience(tgt)}, weights "
        f"of the best validation {tgt.get('select_on', 'loss')}; finetune trains the feature "
        f"module at {tgt.get('finetune_feature_lr_scale', 0.1):g} x lr. The paper's figures "
        "are for split A.",
        f"A classifier answering always \"not an 8\" scores {100 * majority:.1f} % here.",
        "",
        *sections,
        "## Source networks (is it a 1, same test images)",
        "",
        _source_table(records, summary, splits),
        "",
        f"## Data (seed {first})",
        "",
        _counts_table(experiments, splits),
        "",
        "MNIST files (SHA-256): " + ", ".join(f"{v['name']} {v['sha256'][:12]}"
                                              for v in digests.values()) + ".",
        "",
    ]
    return write_markdown_report(run_dir, lines, plots, echo)


__all__ = ["write_report"]
