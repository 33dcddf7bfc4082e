"""Sweeps: a grid of ``reproduce`` runs over one config key, resumable, with small CSVs.

A sweep spec (YAML, ``experiments/sweeps/<name>.yaml``, shipped with the package) names an
experiment of :data:`experiments.TASKS`, its scale and seeds, fixed dotted overrides, one
swept key with its values, and the number to collect from each point's ``results.json``::

    experiment: d2d
    scale: paper
    seeds: [1, 2, 3]
    overrides: {data.source_train: 100000, tuning.enabled: false}
    sweep: {data.target_train: [100, 300, 1000, 3000, 10000]}
    collect:                        # records with this table (and metric), this field
      table: paper_settings         # or a list: [paper_settings, localization_baselines]
      metric: min-rate              # optional: D2D records carry a metric, MISO ones do not
      field: pct_of_reference_mean_ratio
      label: min-rate (% of the max-min optimum)    # y-axis label, ending in its unit
      methods: [regular, reconstruction]  # optional: only these records' methods
      by: n_links                   # optional: one series per method and value of this
                                    # record field ("regular, n_links=200")
    max_target_steps: 100000        # budget cap per target training run (below)
    plot: {log_x: true, xlabel: target training set (layouts)}   # a unit here too
    scales:                         # --scale <name>: these keys replace the ones above
      tiny: {scale: tiny, seeds: [1], sweep: {...}, overrides: {...}}

Each point ``<key>=<value>`` is one ordinary ``reproduce`` run in
``<out_dir>/<name>/<key>=<value>/`` with the config ``experiments/<experiment>.yaml`` +
scale overrides + ``overrides`` + the swept value, so every step inside it (data, baselines,
sources, targets) is skipped when re-run unchanged. Source networks are shared through
``<out_dir>/step-cache/``: a point whose source step has the config hash of one already
trained (in this sweep or another under the same ``out_dir``) copies it instead of training.
The point itself is a :class:`~wirelessrl.steps.StepRunner` step of the sweep: it is done when its
``results.json`` exists and the hash of (experiment, config, seeds) matches, in which case the
experiment is not even re-entered.

Budget cap: with ``max_target_steps = S``, every point's ``target.epochs`` is lowered to
``floor(S / ceil(data.target_train / target.batch_size))`` when above it, so that
``epochs * ceil(n_train / batch) <= S`` gradient steps per target training run (one
strategy, one learning rate, one seed; the engine keeps an incomplete last minibatch). Early
stopping (``target.patience``) still applies below the cap. A cap below one epoch is an
error.

Outputs, small enough to commit, under ``<results_dir>/<name>/``: one CSV per point
``<key>=<value>.csv`` (columns ``seed, strategy, value, metric``) with its provenance
``<key>=<value>.json`` (effective config, seeds, versions), ``summary.csv`` (columns
``strategy, value, mean, std, n_seeds``; std is the sample std over seeds, 0 for one seed)
``summary.md`` (the same as a markdown table, strategies by values, ``mean ± std (n)``)
and ``<name>.png`` (metric against the swept value, one line per strategy, error bars = std,
300 dpi, :mod:`wirelessrl.plots` style; ``plot.title`` is not drawn: figures carry no
titles). Axis labels must end in their unit (checked when the spec is read, before any
training).
:func:`plot_sweep_results` rebuilds ``summary.csv`` and the PNG from the point CSVs alone.

Example
-------
>>> spec = load_sweep_spec("experiments/sweeps/d2d_target_size.yaml", scale="tiny")
>>> run_sweep(spec, "runs/sweeps", print, results_dir="results/sweeps")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments import (
    TASKS,
    get_task,
    load_experiment_config,
    parse_seeds,
    run_experiment,
    sweep_spec_path,
)
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.config import apply_overrides, load_yaml, parse_override
from wirelessrl.fileio import atomic_path
from wirelessrl.plots import check_label
from wirelessrl.results import Echo, mean_std, seeds_text, write_csv, write_json

if TYPE_CHECKING:
    from wirelessrl.executors import DaskExecutor, InProcess

SPEC_KEYS = ("name", "experiment", "scale", "seeds", "overrides", "sweep", "collect",
             "max_target_steps", "plot", "scales")
COLLECT_KEYS = ("table", "metric", "field", "label", "methods", "by")
PLOT_KEYS = ("log_x", "xlabel", "title")
POINT_COLUMNS = ("seed", "strategy", "value", "metric")
STEP_CACHE = "step-cache"  # source networks shared by points and sweeps (same config hash)
BUDGET_KEYS = ("data.target_train", "target.batch_size", "target.epochs")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (see the module docstring for the YAML)."""

    name: str
    experiment: str
    scale: str
    seeds: list[int]
    overrides: dict[str, Any]
    key: str
    values: list[int | float]
    table: str | list[str]
    metric: str | None
    field: str
    label: str
    methods: list[str] | None
    by: str | None
    max_target_steps: int | None
    log_x: bool
    xlabel: str
    title: str

    def point_name(self, value: int | float) -> str:
        """``"data.target_train=100"``: the point's run folder and CSV stem."""
        return f"{self.key}={value_text(value)}"


# ------------------------------------------------------------------- the spec
def load_sweep_spec(path: str | Path, scale: str | None = None,
                    seeds: str | None = None, overrides: Iterable[str] = ()) -> dict:
    """Read a sweep spec and resolve ``--scale``, ``--seeds`` and extra ``key=value``
    overrides (added to the spec's ``overrides`` for every point, after the scale block);
    return the plain dict.

    With ``scale`` different from the spec's own, the entries of ``scales[scale]`` (if any)
    replace the top-level ones wholesale (``overrides`` included, so a tiny block does not
    inherit paper-size overrides), ``scale`` is set and the sweep name gets ``-<scale>``, so
    its results never overwrite the full-scale ones. ``seeds`` is ``"1,2,3"`` text.
    """
    path = sweep_spec_path(path)
    raw = load_yaml(path)
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"sweep spec {str(path)!r} has unknown key(s) {', '.join(unknown)}; "
                          f"expected {', '.join(SPEC_KEYS)}")
    spec = {k: v for k, v in raw.items() if k != "scales"}
    spec.setdefault("name", path.stem)
    scales = raw.get("scales") or {}
    if not isinstance(scales, dict):
        raise ConfigError(f"scales={scales!r} is invalid; expected a mapping of scale name to "
                          "spec entries")
    if scale is not None and scale != spec.get("scale"):
        block = scales.get(scale) or {}
        if not isinstance(block, dict):
            raise ConfigError(f"scales.{scale}={block!r} is invalid; expected a mapping")
        allowed = [k for k in SPEC_KEYS if k not in ("name", "scales")]
        bad = sorted(set(block) - set(allowed))
        if bad:
            raise ConfigError(f"scales.{scale} has unknown key(s) {', '.join(bad)}; expected "
                              f"{', '.join(allowed)}")
        spec.update(block)
        spec["scale"] = scale
        spec["name"] = f"{spec['name']}-{scale}"
    if seeds is not None:
        spec["seeds"] = parse_seeds(seeds, [])
    extra = dict(parse_override(text) for text in overrides)
    if extra:
        spec["overrides"] = {**(spec.get("overrides") or {}), **extra}
    return spec


def parse_spec(spec: dict) -> SweepSpec:
    """Check a spec's structure (no experiment config is read); raise :class:`ConfigError`."""
    if not isinstance(spec, dict):
        raise ConfigError(f"sweep spec {spec!r} is invalid; expected a mapping")
    for k in ("experiment", "sweep", "collect"):
        if k not in spec:
            raise ConfigError(f"sweep spec has no {k!r}; expected keys "
                              f"{', '.join(SPEC_KEYS)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ConfigError(f"name={name!r} is invalid; expected a folder name")
    experiment = check_choice("experiment", spec["experiment"], tuple(TASKS))
    scale = spec.get("scale", "paper")
    if not isinstance(scale, str):
        raise ConfigError(f"scale={scale!r} is invalid; expected a scale name")
    seeds = parse_seeds(None, spec.get("seeds", [0]))
    overrides = spec.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"overrides={overrides!r} is invalid; expected a mapping of dotted "
                          "config keys to values")

    sweep = spec["sweep"]
    if not isinstance(sweep, dict) or len(sweep) != 1:
        raise ConfigError(f"sweep={sweep!r} is invalid; expected one entry, "
                          "<dotted config key>: [values]")
    (key, values), = sweep.items()
    if not isinstance(values, list) or not values:
        raise ConfigError(f"sweep values of {key!r} are {values!r}; expected a non-empty list")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"sweep value {key}={v!r} is invalid; expected finite numbers")
    names = [value_text(v) for v in values]
    if len(set(names)) != len(names):
        raise ConfigError(f"sweep values of {key!r} are {values!r}; expected distinct values")
    if key in overrides:
        raise ConfigError(f"sweep key {key!r} is also in overrides; remove it from one of them")

    collect = spec["collect"]
    if not isinstance(collect, dict):
        raise ConfigError(f"collect={collect!r} is invalid; expected table, field, metric")
    bad = sorted(set(collect) - set(COLLECT_KEYS))
    if bad:
        raise ConfigError(f"collect has unknown key(s) {', '.join(bad)}; expected "
                          f"{', '.join(COLLECT_KEYS)}")
    if not isinstance(collect.get("field"), str) or not collect["field"]:
        raise ConfigError(f"collect.field={collect.get('field')!r} is invalid; expected a name")
    table = collect.get("table")
    if not (isinstance(table, str) and table or isinstance(table, list) and table
            and all(isinstance(t, str) and t for t in table)):
        raise ConfigError(f"collect.table={table!r} is invalid; expected a table name or a "
                          "non-empty list of them")
    methods = collect.get("methods")
    if methods is not None and (not isinstance(methods, list) or not methods):
        raise ConfigError(f"collect.methods={methods!r} is invalid; expected a non-empty list")
    by = collect.get("by")
    if by is not None and (not isinstance(by, str) or not by):
        raise ConfigError(f"collect.by={by!r} is invalid; expected the name of a record field")
    metric = collect.get("metric")
    label = collect.get("label") or " ".join(
        str(p) for p in (_tables_text(table), metric, collect["field"]) if p) + " (as reported)"

    cap = spec.get("max_target_steps")
    if cap is not None:
        cap = check_int("max_target_steps", cap, 1)
    plot = spec.get("plot") or {}
    if not isinstance(plot, dict) or set(plot) - set(PLOT_KEYS):
        raise ConfigError(f"plot={plot!r} is invalid; expected keys {', '.join(PLOT_KEYS)}")
    xlabel = str(plot.get("xlabel", f"{key} (config value)"))
    check_label("plot.xlabel", xlabel)  # before any training, not when the plot is drawn
    check_label("collect.label", label)
    return SweepSpec(
        name=name, experiment=experiment, scale=scale, seeds=seeds, overrides=dict(overrides),
        key=str(key), values=list(values), table=collect["table"], metric=metric,
        field=collect["field"], label=label, methods=methods, by=by, max_target_steps=cap,
        log_x=bool(plot.get("log_x", True)), xlabel=xlabel,
        title=str(plot.get("title", f"{experiment}: {label} ({scale} scale)")),
    )


def value_text(value: int | float) -> str:
    """Shortest text that reads back as ``value``: ``100``, ``0.3``, ``1e-05``."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


# ------------------------------------------------------------------ the points
def cap_target_epochs(config: dict, max_target_steps: int | None) -> tuple[dict, str | None]:
    """Lower ``target.epochs`` so that ``epochs * ceil(n_train / batch) <= max_target_steps``.

    Input: an experiment config with ``data.target_train``, ``target.batch_size`` and
    ``target.epochs``. Output: the (copied) config and a one-line note when the cap bit.
    """
    if max_target_steps is None:
        return config, None
    try:
        n_train = config["data"]["target_train"]
        batch = config["target"]["batch_size"]
        epochs = config["target"]["epochs"]
    except KeyError:
        raise ConfigError("max_target_steps needs the config keys "
                          f"{', '.join(BUDGET_KEYS)}; set max_target_steps: null") from None
    n_train = check_int("data.target_train", n_train, 1)
    batch = check_int("target.batch_size", batch, 1)
    epochs = check_int("target.epochs", epochs, 1)
    steps_per_epoch = math.ceil(n_train / batch)
    max_epochs = max_target_steps // steps_per_epoch
    if max_epochs < 1:
        raise ConfigError(
            f"max_target_steps={max_target_steps} is below one epoch ({steps_per_epoch} steps "
            f"at data.target_train={n_train}, target.batch_size={batch}); expected >= "
            f"{steps_per_epoch}")
    if epochs <= max_epochs:
        return config, None
    config = {**config, "target": {**config["target"], "epochs": max_epochs}}
    return config, (f"budget: target.epochs {epochs} -> {max_epochs} "
                    f"({max_epochs * steps_per_epoch} <= {max_target_steps} steps at "
                    f"{steps_per_epoch} steps/epoch)")


def point_configs(sp: SweepSpec) -> dict[int | float, tuple[dict, str | None]]:
    """Every point's full experiment config (and budget note), checked before any work."""
    fixed = [f"{k}={json.dumps(v)}" for k, v in sp.overrides.items()]
    base = load_experiment_config(sp.experiment, sp.scale, fixed)
    from experiments.runner import check_config

    task = get_task(sp.experiment).TASK
    out = {}
    for value in sp.values:
        try:
            config = apply_overrides(base, [f"{sp.key}={json.dumps(value)}"])
        except ConfigError as err:
            raise ConfigError(f"sweep key {sp.key!r} is invalid: {err}") from None
        config, note = cap_target_epochs(config, sp.max_target_steps)
        check_config(task, config)
        out[value] = (config, note)
    return out


def run_sweep(spec: dict, out_dir: str | Path, echo: Echo = print,
              results_dir: str | Path = "results/sweeps",
              executor: InProcess | DaskExecutor | None = None) -> Path:
    """Run (or resume) every point of a sweep, collect its CSVs, plot; return the PNG.

    Input: ``spec`` from :func:`load_sweep_spec`; ``out_dir`` holds the run folders
    (``<out_dir>/<name>/<key>=<value>/``); ``results_dir`` the small outputs
    (``<results_dir>/<name>/``); ``executor`` (:func:`wirelessrl.executors.open_executor`)
    runs whole points on Dask workers (None: one after the other, in-process). Workers
    must see ``out_dir`` (a shared file system on a cluster). Points run at the same time
    may each train a source that they would otherwise share through the step cache (the
    cache keeps one copy). Every point config is validated before anything is written.
    Output: path of ``<results_dir>/<name>/<name>.png``.
    """
    from wirelessrl.executors import InProcess

    sp = parse_spec(spec)
    configs = point_configs(sp)  # every check, before any file appears
    sweep_dir = Path(out_dir) / sp.name
    cache = Path(out_dir) / STEP_CACHE  # shared by every sweep under out_dir
    results = Path(results_dir) / sp.name
    run = executor or InProcess()
    if not isinstance(run, InProcess):  # workers may run in another folder
        sweep_dir, cache = sweep_dir.resolve(), cache.resolve()
    clock = SweepClock(len(sp.values),
                       [(sweep_dir / sp.point_name(v) / "results.json").is_file()
                        for v in sp.values])
    bar, echo = clock.bar(sp.name), bar_echo(echo)
    point_echo = echo if isinstance(run, InProcess) else _quiet
    tasks = []
    for i, value in enumerate(sp.values, start=1):
        config, note = configs[value]
        header = f"== sweep {sp.name}: point {i}/{len(sp.values)} {sp.point_name(value)} =="
        tasks.append((sp.experiment, config, sp.seeds, sweep_dir, sp.point_name(value), cache,
                      point_echo, [header] + ([note] if note else [])))
    if not isinstance(run, InProcess):
        echo(f"sweep {sp.name}: {len(tasks)} points on {run.name}")
    with bar:
        for value, point in zip(sp.values, run.map_ordered(run_point, tasks), strict=True):
            if not isinstance(run, InProcess):
                echo(f"[done] point {point}")
            rows = collect_point(sp, value, sweep_dir / point / "results.json")
            write_csv(results / f"{point}.csv", rows)
            write_point_provenance(sp, value, sweep_dir / point / "results.json",
                                   results / f"{point}.json")
            bar.update(1)
            echo(clock.tick())
    return plot_sweep_results(spec, results_dir, echo)


class SweepClock:
    """Points done and left of a sweep, and an estimate of the time left: the mean time of
    the points run by this invocation (points already done when it started are skipped in
    a moment and left out of the mean) times the points left to run.

    Example
    -------
    >>> clock = SweepClock(3, [True, False, False], now=iter([0.0, 0.1, 60.1]).__next__)
    >>> clock.tick()
    '[sweep] 1/3 points done, 2 left (already done: 1)'
    >>> clock.tick()
    '[sweep] 2/3 points done, 1 left, 1 min elapsed, about 1 min left'
    """

    def __init__(self, total: int, done_before: list[bool], now=time.perf_counter) -> None:
        self.total, self.done_before, self.now = total, list(done_before), now
        self.done = 0
        self.start = self.last = now()
        self.ran_seconds, self.ran = 0.0, 0

    def bar(self, name: str):
        """A tqdm bar over the points (drawn on a terminal only)."""
        from tqdm.auto import tqdm

        return tqdm(total=self.total, desc=f"sweep {name}", unit="point", disable=None,
                    dynamic_ncols=True)

    def tick(self) -> str:
        """Record one more point done; return the progress line."""
        t = self.now()
        skipped = self.done_before[self.done] if self.done < len(self.done_before) else False
        if not skipped:
            self.ran_seconds += t - self.last
            self.ran += 1
        self.last = t
        self.done += 1
        left = self.total - self.done
        line = f"[sweep] {self.done}/{self.total} points done, {left} left"
        if self.ran == 0:
            return line + f" (already done: {self.done})"
        line += f", {_duration(t - self.start)} elapsed"
        if left:
            to_run = left - sum(self.done_before[self.done:])
            line += f", about {_duration(self.ran_seconds / self.ran * to_run)} left"
        return line


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min``, ``2 h 05 min``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def bar_echo(echo: Echo) -> Echo:
    """``echo`` that clears the tqdm bars while it prints (lines and bars do not mix)."""
    from tqdm.auto import tqdm

    def write(message: str) -> None:
        with tqdm.external_write_mode():
            echo(message)

    return write


def run_point(experiment: str, config: dict, seeds: list[int], sweep_dir: Path, point: str,
              cache: Path, echo: Echo = print, notes: tuple[str, ...] = ()) -> str:
    """Run (or skip, when done) one sweep point: the ``reproduce`` run of ``experiment``
    in ``<sweep_dir>/<point>/``, as a step of the sweep; return ``point``. A top-level
    function, so Dask can send whole points to workers."""
    from wirelessrl.source_options import hashed_source_options
    from wirelessrl.steps import StepRunner

    for line in notes:
        echo(line)
    point_dir = Path(sweep_dir) / point
    hashed = config  # the source-training options at their defaults do not change a point
    if isinstance(config.get("source"), dict):
        hashed = {**config, "source": hashed_source_options(config["source"], "reconstruction")}
    StepRunner(sweep_dir, echo).run(
        f"point/{point}", {"experiment": experiment, "config": hashed, "seeds": seeds},
        lambda: run_experiment(experiment, config, point_dir, seeds, echo, step_cache=cache),
        [f"{point}/results.json"])
    return point


def _quiet(message: str) -> None:
    """Echo of points run on workers: their progress stays in the run folders."""


def write_point_provenance(sp: SweepSpec, value: int | float, results_json: Path,
                           path: Path) -> Path:
    """``<point>.json``: what made a point CSV (sweep, value, and the point's provenance:
    effective config, seeds, versions of wirelessrl, torch, numpy and Python)."""
    provenance = json.loads(Path(results_json).read_text())["provenance"]
    return write_json(path, {"sweep": sp.name, "key": sp.key, "value": value,
                             "collect": {"table": sp.table, "metric": sp.metric,
                                         "field": sp.field, "by": sp.by},
                             "plot": {"xlabel": sp.xlabel, "label": sp.label,
                                      "log_x": sp.log_x},
                             "provenance": provenance})


def _tables(sp: SweepSpec) -> tuple[str, ...]:
    """The record tables ``collect.table`` names (one name or a list)."""
    return (sp.table,) if isinstance(sp.table, str) else tuple(sp.table)


def _tables_text(table: str | list[str]) -> str:
    return table if isinstance(table, str) else "+".join(table)


def collect_point(sp: SweepSpec, value: int | float, results_json: Path) -> list[dict]:
    """Rows ``seed, strategy, value, metric`` of one point from its ``results.json``
    (``strategy``: the record's method, and ``, <by>=<value>`` with ``collect.by``)."""
    records = json.loads(Path(results_json).read_text())["records"]
    rows = []
    for r in records:
        if r.get("table") not in _tables(sp) or (sp.metric is not None
                                                 and r.get("metric") != sp.metric):
            continue
        if sp.methods is not None and r.get("method") not in sp.methods:
            continue
        if sp.field not in r:
            raise ConfigError(f"collect.field={sp.field!r} is not in the records of table "
                              f"{r['table']!r}; fields: {', '.join(r)}")
        x = r[sp.field]
        strategy = r["method"]
        if sp.by is not None:
            if sp.by not in r:
                raise ConfigError(f"collect.by={sp.by!r} is not in the records of table "
                                  f"{r['table']!r}; fields: {', '.join(r)}")
            strategy = f"{strategy}, {sp.by}={r[sp.by]}"
        rows.append({"seed": r["seed"], "strategy": strategy, "value": value,
                     "metric": float("nan") if x is None else float(x)})
    seen = [(row["seed"], row["strategy"]) for row in rows]
    if len(set(seen)) < len(seen):
        raise ConfigError(f"collect.table={sp.table!r} gives one method twice for a seed in "
                          f"{str(results_json)!r}; name tables whose methods differ, or "
                          "narrow them with collect.methods")
    if not rows:
        tables = sorted({(r.get("table"), r.get("metric")) for r in records}, key=str)
        have = ", ".join(t if m is None else f"{t}/{m}" for t, m in tables)
        want = _tables_text(sp.table) if sp.metric is None else f"{sp.table}/{sp.metric}"
        raise ConfigError(f"collect table {want!r} matches no record in {str(results_json)!r}; "
                          f"tables there: {have}")
    return rows


# ------------------------------------------------------------------ summary + plot
def read_point_csvs(sp: SweepSpec, results: Path) -> dict[int | float, list[dict]]:
    """The point CSVs present for the spec's values, in the spec's order."""
    out = {}
    for value in sp.values:
        path = results / f"{sp.point_name(value)}.csv"
        if path.is_file():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            if rows and set(POINT_COLUMNS) - set(rows[0]):
                raise ConfigError(f"point CSV {str(path)!r} lacks columns "
                                  f"{', '.join(sorted(set(POINT_COLUMNS) - set(rows[0])))}")
            out[value] = rows
    return out


def write_summary_table(sp: SweepSpec, xs: list, per: dict[str, dict], path: Path) -> Path:
    """``summary.md``: one row per strategy, one column per swept value, cells
    ``mean ± std (n)`` over the seeds (n: seeds with a finite metric)."""
    header = [sp.key + " →"] + [value_text(x) for x in xs]
    lines = [f"{sp.label}, mean ± std over seeds (n seeds)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for strategy, by_value in per.items():
        cells = []
        for x in xs:
            values = by_value.get(x, [])
            m, s = mean_std(values)
            n = sum(math.isfinite(v) for v in values)
            cells.append("" if not n else f"{m:.3g} ± {s:.2g} ({n})")
        lines.append("| " + " | ".join([strategy, *cells]) + " |")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


def plot_sweep_results(spec: dict, results_dir: str | Path = "results/sweeps",
                       echo: Echo = print) -> Path:
    """Rebuild ``summary.csv`` and ``<name>.png`` from the point CSVs; return the PNG path.

    Values whose CSV is missing are left out (and named); none at all is a ConfigError.
    The figure is :func:`wirelessrl.plots.curves_from_files` on ``summary.csv`` (mean ± std
    over seeds, the numbers of ``summary.md``), 300 dpi; ``wirelessrl plot curves
    <results>/<name> -o fig.pdf`` draws the same figure as vector output.
    """
    from wirelessrl.plots import curves_from_files, save_figure

    sp = parse_spec(spec)
    results = Path(results_dir) / sp.name
    points = read_point_csvs(sp, results)
    if not points:
        raise ConfigError(f"no point CSVs of sweep {sp.name!r} under {str(results)!r}; "
                          "run the sweep first (without --plot-only)")
    missing = [sp.point_name(v) for v in sp.values if v not in points]
    if missing:
        echo(f"not yet run (left out): {', '.join(missing)}")
    per: dict[str, dict[int | float, list[float]]] = {}
    for value, rows in points.items():
        for r in rows:
            per.setdefault(r["strategy"], {}).setdefault(value, []).append(
                float(r["metric"]) if r["metric"] not in ("", None) else float("nan"))
    summary = []
    xs = list(points)
    for strategy, by_value in per.items():
        for value in xs:
            m, s = mean_std(by_value.get(value, []))
            n = sum(math.isfinite(v) for v in by_value.get(value, []))
            summary.append({"strategy": strategy, "value": value, "mean": m, "std": s,
                            "n_seeds": n})
    write_csv(results / "summary.csv", summary)
    write_summary_table(sp, xs, per, results / "summary.md")
    seeds = sorted({int(r["seed"]) for rows in points.values() for r in rows})
    fig = curves_from_files([results / "summary.csv"], xlabel=sp.xlabel, ylabel=sp.label,
                            errors="std", log_x=sp.log_x,
                            legend_title=(f"mean ± std over {seeds_text(seeds)}"
                                          if len(seeds) > 1 else seeds_text(seeds)))
    png = save_figure(fig, results / f"{sp.name}.png",
                      source=f"sweep {sp.name}: {results / 'summary.csv'}")
    echo(f"summary: {results / 'summary.csv'}, {results / 'summary.md'}")
    echo(f"plot: {png}")
    return png


def sweep_plot_labels(results: str | Path) -> tuple[str, str, bool] | None:
    """Axis labels and log-x choice of a sweep's results folder (or its ``summary.csv``):
    from its point JSONs (sweeps run since they carry them), else from the packaged spec
    of the folder's name (``d2d_target_size``, ``d2d_target_size-tiny``); None if neither.

    Example
    -------
    >>> sweep_plot_labels("results/sweeps/d2d_target_size")[0]   # doctest: +SKIP
    'target training set (layouts)'
    """
    folder = Path(results)
    folder = folder.parent if folder.name == "summary.csv" else folder
    if not (folder / "summary.csv").is_file():
        return None
    for point in sorted(folder.glob("*.json")):
        try:
            plot = json.loads(point.read_text()).get("plot")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(plot, dict) and {"xlabel", "label", "log_x"} <= set(plot):
            return str(plot["xlabel"]), str(plot["label"]), bool(plot["log_x"])
    name, _, scale = folder.name.partition("-")
    path = sweep_spec_path(name)
    if not path.is_file():
        return None
    sp = parse_spec(load_sweep_spec(path, scale=scale or None))
    return sp.xlabel, sp.label, sp.log_x


__all__ = ["SweepSpec", "cap_target_epochs", "collect_point", "load_sweep_spec",
           "parse_spec", "plot_sweep_results", "point_configs", "run_sweep",
           "sweep_plot_labels", "value_text"]
