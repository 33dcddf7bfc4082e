r"""Diagnostics of a finished run (``wirelessrl analyze RUN_DIR``): what the frozen features
of each source network hold about the target task, from the run's files alone.

Per unit (a seed; MNIST a seed and a split), for every trained source network (the
``conventional`` source without a decoder, the ``reconstruction`` source and any variant's
own sources), the raw network input and the sources' own initial weights (the feature
module before training, same architecture and seed):

1. **Linear probe**: a ridge regression (:func:`wirelessrl.probes.fit_ridge_probe`) from
   the representation to the target task's optimal solution (the task says what that is:
   D2D the max-min optimum power fractions, MISO the user position, MNIST the label),
   fitted on ``target_train``, its strength chosen on ``target_valid`` from
   :data:`~wirelessrl.probes.RIDGE_GRID`, scored once on ``test`` with the task's own
   metrics, beside the task's reference predictions (full power, centre guess, ...).
   Per-node features (a graph network on D2D, ``[n, N, width]``) get a second, per-link
   probe: one ridge map shared by all links from a link's own features to its own optimal
   power fraction (what a frozen per-node head can use, at any N).
2. **Spectra**: the eigenvalues of the test-set covariance of every representation, and
   the probe on the input projected onto its top-k or bottom-k principal directions
   (basis from the source-training inputs, k = 10 %, 25 %, 50 % and 100 % of the input
   dimension).
3. **Reconstruction per entry** (sources with a decoder): the test-set MSE of every entry
   of the reconstruction target beside the entry's usefulness for the target task (the
   largest |correlation| of the entry with a target column, and the L2 norm of its ridge
   coefficients), with their Spearman rank correlations.

Writes ``analysis.md``, ``analysis.json`` (per unit and aggregated, with the eigenvalues and
per-entry arrays), ``analysis.csv`` (one row per unit and result) and ``analysis_*.png``
into the run folder; never trains, never touches the training files. A task takes part by
defining :meth:`experiments.runner.TaskRun.analysis_task` (a
:class:`~wirelessrl.probes.ProbeTask`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.layout import UnitFiles, read_run
from simulators.validation import ConfigError
from wirelessrl.probes import (
    PCA_FRACTIONS,
    PROBE_SPLITS,
    RIDGE_GRID,
    ProbeTask,
    effective_dimension,
    entry_correlation,
    fit_ridge_probe,
    per_entry_mse,
    principal_directions,
    principal_sizes,
    rank_correlation,
)
from wirelessrl.results import Echo, mean_std, seeds_text

if TYPE_CHECKING:
    from experiments.runner import TaskRun

__all__ = ["ANALYSIS_FILES", "PCA_MAX_ROWS", "analyze_run", "analyze_unit"]

ANALYSIS_FILES = ("analysis.md", "analysis.json", "analysis.csv")
PCA_MAX_ROWS = 100_000
"""The principal directions of the input come from at most this many source-training
samples (the first ones; samples are i.i.d.)."""
ENTRY_GROUP_ALL = "all entries"


@dataclass
class _Representation:
    label: str
    kind: str  # input, source, random
    rel: str | None = None
    net: Any = None


def _numpy(a: Any) -> np.ndarray:
    """A tensor or array as float64, shape kept."""
    a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    return a.astype(np.float64)


def _flat(a: Any) -> np.ndarray:
    """A tensor or array ``[n, ...]`` as float64 ``[n, d]``."""
    a = _numpy(a)
    return a.reshape(len(a), -1)


SOURCE_LABELS = {"conventional": "conventional source (no reconstruction)",
                 "reconstruction": "reconstruction source"}
INPUT_LABEL = "raw input (the network's input)"
RANDOM_LABEL = "random init (the sources' initial weights)"


def _source_label(files: UnitFiles, net: dict) -> str:
    label = SOURCE_LABELS.get(net["name"], f"{net['name']} source")
    fit_file = files.path(net["rel"], "fit.json")
    augment = files.fit_summary(fit_file.parent).get("augment") if fit_file.is_file() else None
    extras = [e for e in (augment, None if net["variant"] is None else
                          f"variant {net['variant']}") if e]
    return label + (f" ({', '.join(extras)})" if extras else "")


def _representations(run: TaskRun, files: UnitFiles) -> list[_Representation]:
    """The raw input, every source network of the run (files: ``evaluation.h5``), and the
    sources' initial weights."""
    from wirelessrl.checkpoint import load_net
    from wirelessrl.transfer import build_source_net, get_strategy

    reps = [_Representation(INPUT_LABEL, "input")]
    for net in files.networks("source"):
        model, _ = load_net(files.path(net["rel"], "net.pt"))
        reps.append(_Representation(_source_label(files, net), "source", net["rel"], model))
    initial = build_source_net(run.task, get_strategy("conventional"), run.seed)
    reps.append(_Representation(RANDOM_LABEL, "random", None, initial))
    return reps


def _probe(spec: ProbeTask, x: Mapping[str, np.ndarray]) -> dict:
    """Fit on target_train, strength on target_valid, the task's metrics on test."""
    y = spec.target
    probe = fit_ridge_probe(x["target_train"], y["target_train"], x["target_valid"],
                            y["target_valid"], score=spec.select)
    return {"strength": probe.strength, "valid_select": probe.valid_scores[probe.strength],
            **spec.score(probe.predict(x["test"]))}


PER_LINK_SUFFIX = ", per link"
"""Label suffix of the per-link probe (:func:`_per_link_probe`)."""


def _is_per_link(features: np.ndarray, spec: ProbeTask) -> bool:
    """Whether the features are per node, ``[n, N, d]``, with one target column per node
    (``spec.target: [n, N]``): a graph network's feature layer on D2D."""
    return features.ndim == 3 and spec.target["test"].shape == features.shape[:2]


def _per_link_probe(spec: ProbeTask, nodes: Mapping[str, np.ndarray]) -> dict:
    """One ridge probe shared by every link, from a node's features ``[d]`` to its own
    target column, fitted on the links of all target_train samples (the probe a frozen
    per-node head can realize: equivariant and of any N); scored like :func:`_probe` on the
    test samples' ``[n, N]`` predictions."""
    y = spec.target
    pooled = {s: (v.reshape(-1, v.shape[2]), y[s].reshape(-1, 1)) for s, v in nodes.items()}

    def select(pred: np.ndarray, truth: np.ndarray) -> float:
        n = len(nodes["target_valid"])
        return spec.select(pred.reshape(n, -1), truth.reshape(n, -1))

    probe = fit_ridge_probe(*pooled["target_train"], *pooled["target_valid"], score=select)
    pred = probe.predict(pooled["test"][0]).reshape(y["test"].shape)
    return {"strength": probe.strength, "valid_select": probe.valid_scores[probe.strength],
            **spec.score(pred)}


def _spectrum_row(eigenvalues: np.ndarray) -> dict:
    total = float(eigenvalues.sum())
    top = max(1, int(round(0.1 * eigenvalues.size)))
    return {"total_variance": total, "effective_dim": effective_dimension(eigenvalues),
            "top10pct_share": float(eigenvalues[:top].sum() / total) if total > 0
            else float("nan")}


def _pca_rows(spec: ProbeTask, basis_inputs: np.ndarray,
              inputs: Mapping[str, np.ndarray]) -> list[dict]:
    """The probe on the input's top-k and bottom-k principal directions (and all d)."""
    pca = principal_directions(basis_inputs[:PCA_MAX_ROWS])
    d = basis_inputs.shape[1]
    rows = []
    for k in principal_sizes(d, PCA_FRACTIONS):
        if k == d:
            continue
        for part in ("top", "bottom"):
            x = {s: pca.project(inputs[s], part, k) for s in PROBE_SPLITS}
            rows.append({"part": part, "k": k, "k_fraction": k / d, **_probe(spec, x)})
    x = {s: pca.project(inputs[s], "top", d) for s in PROBE_SPLITS}
    rows.append({"part": "all", "k": d, "k_fraction": 1.0, **_probe(spec, x)})
    return rows


def _entry_usefulness(run: TaskRun, spec: ProbeTask, data: dict) -> dict[str, np.ndarray]:
    """``abs_corr [e]``: the largest |correlation| (test set) of each reconstruction-target
    entry with a target column; ``coef_norm [e]``: the L2 norm of its weights in a ridge
    probe from the reconstruction target to the target solution."""
    key = run.task.reconstruction_key
    entries = {s: _flat(data[s][key]) for s in PROBE_SPLITS}
    corr = np.abs(entry_correlation(entries["test"], spec.target["test"])).max(axis=1)
    probe = fit_ridge_probe(entries["target_train"], spec.target["target_train"],
                            entries["target_valid"], spec.target["target_valid"],
                            score=spec.select)
    return {"abs_corr": corr, "coef_norm": probe.coefficient_norms}


def _reconstruction(run: TaskRun, spec: ProbeTask, rep: _Representation, data: dict,
                    useful: dict[str, np.ndarray]) -> dict | None:
    """Per-entry test MSE of the source's decoder against the input reconstruction target,
    or None when its decoder rebuilds something else (``source.reconstruction_target``)."""
    import torch

    from wirelessrl.transfer import feature_outputs

    x = data["test"][run.task.input_key]
    with torch.no_grad():
        rec = _flat(rep.net.decoder(feature_outputs(rep.net, x)))
    target = _flat(data["test"][run.task.reconstruction_key])
    if rec.shape != target.shape:  # the decoder rebuilds another target (a solver's output)
        return None
    mse = per_entry_mse(rec, target)
    groups = {ENTRY_GROUP_ALL: np.arange(mse.size), **spec.entry_groups}
    rows = []
    for g, index in groups.items():
        i = np.asarray(index)
        rows.append({"entry_group": g, "entries": int(i.size), "mse": float(mse[i].mean()),
                     "spearman_abs_corr": rank_correlation(mse[i], useful["abs_corr"][i]),
                     "spearman_coef_norm": rank_correlation(mse[i], useful["coef_norm"][i])})
    return {"representation": rep.label, "mse_per_entry": mse, "groups": rows}


def analyze_unit(run: TaskRun, files: UnitFiles, spec: ProbeTask | None = None) -> dict:
    """Every diagnostic of one unit (see the module docstring), as plain data.

    Input
    -----
    run : the unit's :class:`~experiments.runner.TaskRun` (its ``data()`` reads the unit's
        data files); files : the same unit's :class:`~experiments.layout.UnitFiles`
    spec : the unit's :class:`ProbeTask` (None: ``run.analysis_task()``)

    Output
    ------
    dict with ``probe`` (rows per representation and reference), ``spectra``
    (``{label: eigenvalues [d]}``), ``spectrum`` (rows), ``pca`` (rows), ``entries``
    (usefulness arrays ``[e]``) and ``reconstruction`` (per decoder source)
    """
    from wirelessrl.transfer import feature_outputs

    spec = run.analysis_task() if spec is None else spec
    data = run.data()
    key = run.task.input_key
    inputs = {s: _flat(data[s][key]) for s in PROBE_SPLITS}
    probe_rows, spectrum_rows, spectra = [], [], {}
    useful = _entry_usefulness(run, spec, data)
    reconstruction = []
    for rep in _representations(run, files):
        nodes = None if rep.net is None else {
            s: _numpy(feature_outputs(rep.net, data[s][key])) for s in PROBE_SPLITS}
        feats = inputs if nodes is None else {s: _flat(v) for s, v in nodes.items()}
        probe_rows.append({"representation": rep.label, "kind": rep.kind,
                           "net": rep.rel or "", "dim": feats["test"].shape[1],
                           **_probe(spec, feats)})
        if nodes is not None and _is_per_link(nodes["test"], spec):
            probe_rows.append({"representation": rep.label + PER_LINK_SUFFIX,
                               "kind": rep.kind, "net": rep.rel or "",
                               "dim": nodes["test"].shape[2], **_per_link_probe(spec, nodes)})
        eigenvalues = principal_directions(feats["test"]).eigenvalues
        spectra[rep.label] = eigenvalues
        spectrum_rows.append({"representation": rep.label, "kind": rep.kind,
                              "dim": eigenvalues.size, **_spectrum_row(eigenvalues)})
        if rep.net is not None and rep.net.decoder is not None:
            rec = _reconstruction(run, spec, rep, data, useful)
            if rec is not None:
                reconstruction.append(rec)
    for label, pred in spec.references.items():
        probe_rows.append({"representation": label, "kind": "reference", "net": "",
                           **spec.score(np.asarray(pred, dtype=np.float64))})
    pca = _pca_rows(spec, _flat(data["source_train"][key]), inputs)
    return {"probe": probe_rows, "spectrum": spectrum_rows, "spectra": spectra, "pca": pca,
            "entries": useful, "reconstruction": reconstruction}


# ------------------------------------------------------------------ aggregation


def _group(run_dir: Path, files: UnitFiles) -> str:
    """The unit's folder below its seed folder (MNIST ``split-A``; ``""`` for one unit per
    seed): units of one group are aggregated over seeds."""
    return "/".join(files.dir.relative_to(run_dir).parts[1:])


def _summarize(rows: list[dict], keys: Sequence[str], metrics: Sequence[str]) -> list[dict]:
    """Mean and std over units of ``metrics`` for each distinct value of ``keys``."""
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    summary = []
    for values, mine in out.items():
        entry = dict(zip(keys, values, strict=True))
        entry["units"] = len(mine)
        for m in metrics:
            vals = [r[m] for r in mine if isinstance(r.get(m), (int, float))]
            if vals:
                entry[f"{m}_mean"], entry[f"{m}_std"] = mean_std(vals)
        summary.append(entry)
    return summary


def _fmt(entry: dict, metric: str, digits: int = 2) -> str:
    m, s = entry.get(f"{metric}_mean"), entry.get(f"{metric}_std")
    if m is None or not np.isfinite(m):
        return ""
    return f"{m:.{digits}f}" + (f" ± {s:.{digits}f}" if entry["units"] > 1 else "")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *["| " + " | ".join(r) + " |" for r in rows]]


def _digits(metric: str) -> int:
    return 3 if metric.startswith("r2") else 2


# ------------------------------------------------------------------ plots


def _plots(run_dir: Path, group: str, spec: ProbeTask, summary: dict, units: list[dict],
           seeds: list[int]) -> dict[str, Path]:
    from wirelessrl.plots import (
        REPORT_FIGSIZE_IN,
        bar_figure,
        curve_figure,
        image_figure,
        save_figure,
        scatter_figure,
    )

    suffix = f"_{group.replace('/', '_')}" if group else ""
    head, label = spec.headline, spec.metrics[spec.headline]
    spread = f"mean ± std over {seeds_text(seeds)}" if len(seeds) > 1 else seeds_text(seeds)
    plots: dict[str, Path] = {}
    probe = summary["probe"]
    name = f"analysis_probe{suffix}.png"
    plots[name] = save_figure(bar_figure(
        {e["representation"]: e[f"{head}_mean"] for e in probe if f"{head}_mean" in e},
        label, errors={e["representation"]: e[f"{head}_std"] for e in probe
                       if f"{head}_std" in e},
        legend_title=f"linear probe on the test set, {spread}", figsize=REPORT_FIGSIZE_IN),
        run_dir / name)

    curves = {}
    for rep in dict.fromkeys(k for u in units for k in u["spectra"]):
        spectra = [np.asarray(u["spectra"][rep]) for u in units if rep in u["spectra"]]
        fractions = np.mean([s / s.sum() if s.sum() > 0 else s for s in spectra], axis=0)
        keep = fractions > 1e-12
        curves[rep] = (np.arange(1, fractions.size + 1)[keep], fractions[keep])
    name = f"analysis_spectra{suffix}.png"
    plots[name] = save_figure(curve_figure(
        curves, "principal direction (rank)", "eigenvalue (fraction of total variance)",
        log_y=True, legend_title=f"test-set covariance, {spread}; "
                                 "eigenvalues below 1e-12 left out",
        figsize=REPORT_FIGSIZE_IN), run_dir / name)

    pca = summary["pca"]
    full = next(e for e in pca if e["part"] == "all")
    series = {}
    for part, text in (("top", "top-k principal directions"),
                       ("bottom", "bottom-k principal directions")):
        rows = sorted((e for e in pca if e["part"] == part), key=lambda e: e["k"]) + [full]
        series[text] = ([e["k"] for e in rows], [e[f"{head}_mean"] for e in rows],
                        [e.get(f"{head}_std", 0.0) for e in rows])
    name = f"analysis_pca{suffix}.png"
    plots[name] = save_figure(curve_figure(
        series, "principal directions kept (count)", label,
        legend_title=f"probe on the projected input, {spread}", figsize=REPORT_FIGSIZE_IN),
        run_dir / name)

    recs = summary["reconstruction_entries"]
    if recs and len(spec.entry_shape) == 2:
        images = {f"{r} MSE": np.asarray(v).reshape(spec.entry_shape) for r, v in recs.items()}
        useful = np.mean([u["entries"]["abs_corr"] for u in units], axis=0)
        images["|correlation| with the target"] = useful.reshape(spec.entry_shape)
        bars = {k: "MSE (standardized units^2)" for k in images}
        bars["|correlation| with the target"] = "max |correlation| (unitless)"
        name = f"analysis_reconstruction{suffix}.png"
        plots[name] = save_figure(image_figure(images, bars, xlabel=spec.entry_axes[0],
                                               ylabel=spec.entry_axes[1]), run_dir / name)
    if recs:
        useful = np.mean([u["entries"]["abs_corr"] for u in units], axis=0)
        points = {}
        for r, v in recs.items():
            rho = rank_correlation(v, useful)
            points[f"{r} (Spearman {rho:+.2f})"] = (np.asarray(v), useful)
        name = f"analysis_reconstruction_scatter{suffix}.png"
        plots[name] = save_figure(scatter_figure(
            points, f"reconstruction MSE per {spec.entry_name} (standardized units^2)",
            "max |correlation| with the target (unitless)",
            legend_title=f"test set, mean over {seeds_text(seeds)}",
            figsize=REPORT_FIGSIZE_IN), run_dir / name)
    return plots


# ------------------------------------------------------------------ the command


def _unit_run(cls: type[TaskRun], config: dict, run_dir: Path, files: UnitFiles,
              echo: Echo) -> TaskRun:
    return cls.for_unit(config, run_dir, {"seed": files.seed, **files.unit}, echo=echo)


def _group_summary(spec: ProbeTask, units: list[dict]) -> dict:
    metrics = ["strength", *spec.metrics]
    probe = _summarize([r for u in units for r in u["probe"]], ["representation", "kind"],
                       [*metrics, "dim"])
    spectrum = _summarize([r for u in units for r in u["spectrum"]],
                          ["representation", "kind"],
                          ["dim", "total_variance", "effective_dim", "top10pct_share"])
    pca = _summarize([r for u in units for r in u["pca"]], ["part", "k"], metrics)
    rec_rows = [{"representation": r["representation"], **g}
                for u in units for r in u["reconstruction"] for g in r["groups"]]
    reconstruction = _summarize(rec_rows, ["representation", "entry_group"],
                                ["mse", "spearman_abs_corr", "spearman_coef_norm"])
    entries = {}
    for rep in dict.fromkeys(r["representation"] for u in units for r in u["reconstruction"]):
        entries[rep] = np.mean([r["mse_per_entry"] for u in units for r in u["reconstruction"]
                                if r["representation"] == rep], axis=0)
    return {"probe": probe, "spectrum": spectrum, "pca": pca, "reconstruction": reconstruction,
            "reconstruction_entries": entries}


def _markdown(group: str, spec: ProbeTask, summary: dict) -> list[str]:
    where = f" ({group})" if group else ""
    metrics = list(spec.metrics)
    lines = [f"## Linear probe{where}: {spec.target_label}", ""]
    head = ["representation", "width", *[spec.metrics[m] for m in metrics],
            "ridge strength r (mean)"]
    rows = [[e["representation"], f"{e['dim_mean']:.0f}" if "dim_mean" in e else "",
             *[_fmt(e, m, _digits(m)) for m in metrics],
             f"{e['strength_mean']:.2g}" if "strength_mean" in e else ""]
            for e in summary["probe"]]
    lines += [*_table(head, rows), ""]
    lines += [f"## Top vs bottom principal directions of the input{where}", ""]
    shown = metrics[:2]
    k_rows = []
    for k in sorted({e["k"] for e in summary["pca"]}):
        cells = {e["part"]: e for e in summary["pca"] if e["k"] == k}
        parts = ["all", "all"] if "all" in cells else ["top", "bottom"]
        k_rows.append([f"{k} (all)" if "all" in cells else str(k),
                       *[_fmt(cells[p], m, _digits(m)) for m in shown for p in parts]])
    head = ["directions kept k",
            *[f"{p}-k: {spec.metrics[m]}" for m in shown for p in ("top", "bottom")]]
    lines += [*_table(head, k_rows), ""]
    lines += [f"## Covariance spectra (test set){where}", ""]
    rows = [[e["representation"], f"{e['dim_mean']:.0f}", _fmt(e, "effective_dim", 1),
             _fmt(e, "top10pct_share", 3)] for e in summary["spectrum"]]
    lines += [*_table(["representation", "dimension", "effective dimension (participation "
                       "ratio)", "variance share of the top 10 % directions"], rows), ""]
    if summary["reconstruction"]:
        lines += [f"## Reconstruction error per {spec.entry_name}{where}", ""]
        rows = [[e["representation"], e["entry_group"], _fmt(e, "mse", 4),
                 _fmt(e, "spearman_abs_corr"), _fmt(e, "spearman_coef_norm")]
                for e in summary["reconstruction"]]
        lines += [*_table(["source", "entries", "test MSE (standardized units^2)",
                           "Spearman(MSE, largest abs. correlation with the target)",
                           "Spearman(MSE, ridge coefficient norm)"], rows), ""]
        lines += ["Usefulness of an entry: its largest absolute correlation with a column "
                  "of the target solution (test set), or the L2 norm of its weights in a "
                  "ridge probe from the reconstruction target to the target solution. A "
                  "negative rank correlation (within each group of entries) means the "
                  "decoder rebuilds best the entries that matter most for the target.", ""]
    return lines


def _csv_rows(files: UnitFiles, group: str, result: dict) -> list[dict]:
    base = {"seed": files.seed, "group": group}
    rows = [{"section": "probe", **base, **r} for r in result["probe"]]
    rows += [{"section": "spectrum", **base, **r} for r in result["spectrum"]]
    rows += [{"section": "pca", **base, **r} for r in result["pca"]]
    rows += [{"section": "reconstruction", **base, "representation": r["representation"], **g}
             for r in result["reconstruction"] for g in r["groups"]]
    return rows


def analyze_run(run_dir: str | Path, echo: Echo = print) -> Path:
    """Write the analysis of a finished ``wirelessrl reproduce`` run folder; return
    ``analysis.md``.

    Input
    -----
    run_dir : a run folder (``config.yaml``, ``run.json``, the units' data, sources and
        ``evaluation.h5``); a folder that is not one, or a run of an experiment without an
        :meth:`~experiments.runner.TaskRun.analysis_task`, is a one-line
        :class:`~simulators.validation.ConfigError`
    echo : printer of the progress and of the headline tables

    Output
    ------
    Path of ``run_dir/analysis.md`` (beside it ``analysis.json``, ``analysis.csv`` and the
    ``analysis_*.png`` plots)
    """
    from experiments import get_task
    from experiments.runner import TaskRun
    from wirelessrl.fileio import atomic_path
    from wirelessrl.results import provenance_block, write_csv, write_json

    run_dir = Path(run_dir)
    config, run, plan, units = read_run(run_dir)
    cls = get_task(run["experiment"]).TASK
    if cls.analysis_task is TaskRun.analysis_task:  # before any file is read or written
        raise ConfigError(f"'wirelessrl analyze' does not support experiment "
                          f"{run['experiment']!r} (run folder {str(run_dir)!r}); expected a "
                          "run of d2d, miso or mnist")
    seeds = list(dict.fromkeys(u.seed for u in units))
    groups: dict[str, list[tuple[UnitFiles, dict]]] = {}
    spec = None
    for files in units:
        group = _group(run_dir, files)
        echo(f"analyze: {run['experiment']} seed {files.seed}" + (f", {group}" if group else ""))
        unit_run = _unit_run(cls, config, run_dir, files, echo)
        spec = unit_run.analysis_task()
        result = analyze_unit(unit_run, files, spec)
        groups.setdefault(group, []).append((files, result))

    assert spec is not None
    records, summaries, lines, plots = [], {}, [], {}
    for group, members in groups.items():
        results = [r for _, r in members]
        records += [row for f, r in members for row in _csv_rows(f, group, r)]
        summary = _group_summary(spec, results)
        summaries[group or "all"] = summary
        group_seeds = [f.seed for f, _ in members]
        lines += _markdown(group, spec, summary)
        plots.update(_plots(run_dir, group, spec, summary, results, group_seeds))
        for line in _echo_lines(group, spec, summary):
            echo(line)

    write_csv(run_dir / "analysis.csv", records)
    write_json(run_dir / "analysis.json", {
        "experiment": run["experiment"], "target": spec.target_label,
        "metrics": spec.metrics, "headline": spec.headline, "mode": spec.mode,
        "protocol": {"fit": "target_train", "strength": f"target_valid ({spec.select_label})",
                     "score": "test", "ridge_grid_relative": list(RIDGE_GRID),
                     "pca_fractions": list(PCA_FRACTIONS),
                     "pca_basis": f"source_train inputs (first {PCA_MAX_ROWS:,} at most)"},
        "summary": summaries,
        "units": [{"seed": f.seed, "group": g, **r} for g, m in groups.items() for f, r in m],
        "provenance": provenance_block(config, seeds),
    })
    per_link = any(row["representation"].endswith(PER_LINK_SUFFIX)
                   for _, m in groups.items() for _, r in m for row in r["probe"])
    per_link_note = (f" Rows ending in '{PER_LINK_SUFFIX.strip(', ')}' (per-node features "
                     "of a graph network): one ridge map shared by every link, from a link's "
                     "own features (the width shown) to its own power fraction.")
    intro = [
        f"# Analysis of the {run['experiment']} run ({config.get('scale', '')} scale, "
        f"{seeds_text(seeds)})", "",
        f"Linear probes from frozen representations to the target task's optimal solution "
        f"({spec.target_label}): ridge regression fitted on the target training set, its "
        f"strength r (lambda = r n_train, columns centred and scaled by their root mean "
        f"variance, grid "
        f"{', '.join(f'{r:g}' for r in RIDGE_GRID)}) chosen on the target validation set "
        f"({spec.select_label}), scored once on the test set; mean ± std over seeds where "
        f"there are several. '{INPUT_LABEL}' is the network input itself; '{RANDOM_LABEL}' "
        "the feature module of the same architecture with the seed's initial weights, "
        "before any training." + (per_link_note if per_link else "") + " Principal "
        "directions of the input come from the source training inputs; spectra are of the "
        "test-set covariance.", ""]
    md = run_dir / "analysis.md"
    body = [*intro, *lines, "## Plots", "", *[f"![{n}]({n})" for n in plots], ""]
    with atomic_path(md) as tmp:
        tmp.write_text("\n".join(body))
    echo(f"analysis: {md}")
    return md


def _echo_lines(group: str, spec: ProbeTask, summary: dict) -> list[str]:
    where = f" [{group}]" if group else ""
    out = [f"probe{where} -> {spec.target_label}:"]
    for e in summary["probe"]:
        cells = ", ".join(f"{m} {_fmt(e, m, _digits(m))}" for m in spec.metrics
                          if f"{m}_mean" in e)
        out.append(f"  {e['representation']}: {cells}")
    shown = list(spec.metrics)[:2]
    out.append(f"top/bottom principal directions of the input{where}:")
    for k in sorted({e["k"] for e in summary["pca"]}):
        cells = {e["part"]: e for e in summary["pca"] if e["k"] == k}
        if "all" in cells:
            text = ", ".join(f"{m} {_fmt(cells['all'], m, _digits(m))}" for m in shown)
            out.append(f"  k={k} (all): {text}")
        else:
            text = "; ".join(f"{m} top {_fmt(cells['top'], m, _digits(m))}, bottom "
                             f"{_fmt(cells['bottom'], m, _digits(m))}" for m in shown)
            out.append(f"  k={k}: {text}")
    for e in summary["reconstruction"]:
        if e["entry_group"] == ENTRY_GROUP_ALL:
            out.append(f"reconstruction{where} {e['representation']}: MSE {_fmt(e, 'mse', 4)}, "
                       f"Spearman(MSE, |corr|) {_fmt(e, 'spearman_abs_corr')}")
    return out
