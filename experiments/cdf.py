"""CDFs of per-sample rates over the seeds of several finished runs (``wirelessrl plot
cdf-runs``): one seed per machine or per day, drawn as one figure, every seed's test samples
pooled. A task joins by giving its report module ``seed_rates``, ``cdf_series``,
``CDF_SAMPLE`` and ``CDF_UNIT`` (today: ``d2d`` and ``mu-miso``); torch is not imported."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from experiments import TASKS
from experiments.layout import read_run
from simulators.validation import ConfigError, check_choice
from wirelessrl.plots import pooled_cdf_figure

CDF_HOOKS = ("seed_rates", "cdf_series", "CDF_SAMPLE", "CDF_UNIT")


def _report_module(name: str, run_dir: Path):
    module = importlib.import_module(TASKS[name] + "_report")
    if not all(hasattr(module, hook) for hook in CDF_HOOKS):
        drawn = sorted(n for n in TASKS if all(
            hasattr(importlib.import_module(TASKS[n] + "_report"), h) for h in CDF_HOOKS))
        raise ConfigError(f"run {str(run_dir)!r} is a {name!r} experiment; CDFs of per-sample "
                          f"(D2D: per-layout) rates are drawn for {drawn}")
    return module


def _first_difference(a: dict, b: dict, prefix: str = "") -> str:
    for key in sorted(set(a) | set(b), key=str):
        x, y = a.get(key, "(not set)"), b.get(key, "(not set)")
        name = f"{prefix}{key}"
        if isinstance(x, dict) and isinstance(y, dict):
            if x != y:
                return _first_difference(x, y, f"{name}.")
        elif x != y:
            return f"{name} ({y!r} against {x!r})"
    return prefix.rstrip(".") or "(nothing)"


def _comparable(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "seeds"}


def runs_cdf_figure(run_dirs: Sequence[str | Path], metric: str = "min", *,
                    methods: Sequence[str] | None = None, log_x: bool = False,
                    nonpositive: str = "error", figsize: tuple[float, float] | None = None):
    """CDF of the per-sample sum-rate or min-rate over every seed of the runs ``run_dirs``
    (folders of ``wirelessrl reproduce`` of one experiment and one config, seeds aside),
    each line pooling the seeds' test samples: the report's CDF plot for seeds run
    separately.

    Input
    -----
    run_dirs : finished run folders; each folder and each seed may appear only once
    metric : ``min`` or ``sum``; methods : labels to draw, in order (default: every label the
    report's CDF plot draws that all seeds have)
    log_x, nonpositive : as in :func:`~wirelessrl.plots.cdf_figure`

    Output
    ------
    matplotlib Figure, x in Mbps (D2D, per layout) or bit/s/Hz (mu-miso, per sample)

    Example
    -------
    >>> fig = runs_cdf_figure(["runs/d2d-s1", "runs/d2d-s2"], "min")   # doctest: +SKIP
    """
    check_choice("metric", metric, ("sum", "min"))
    if not run_dirs:
        raise ConfigError("run_dirs is empty; expected at least one finished run folder")
    runs, where = [], {}
    for run_dir in map(Path, run_dirs):  # every check before any data is read
        if any(run_dir.resolve() == r[0].resolve() for r in runs):
            raise ConfigError(f"run {str(run_dir)!r} is given twice; expected each run once")
        config, run, plan, units = read_run(run_dir)
        module = _report_module(run["experiment"], run_dir)
        if runs:
            first_dir, first_config, first_run = runs[0][0], runs[0][1], runs[0][2]
            if run["experiment"] != first_run["experiment"]:
                raise ConfigError(f"run {str(run_dir)!r} is a {run['experiment']!r} experiment "
                                  f"and {str(first_dir)!r} a {first_run['experiment']!r} one; "
                                  "expected runs of one experiment")
            if _comparable(config) != _comparable(first_config):
                diff = _first_difference(_comparable(first_config), _comparable(config))
                raise ConfigError(f"run {str(run_dir)!r} differs from {str(first_dir)!r} in "
                                  f"{diff}; expected runs of one config (seeds aside)")
        for u in units:
            if u.seed in where:
                raise ConfigError(f"seed {u.seed} is in {str(where[u.seed])!r} and in "
                                  f"{str(run_dir)!r}; expected each seed once")
            where[u.seed] = run_dir
        runs.append((run_dir, config, run, plan, units, module))
    per_seed, seeds = [], []
    for _, config, _, plan, units, module in runs:
        for u in units:
            seeds.append(u.seed)
            per_seed.append(module.cdf_series(module.seed_rates(config, u, plan), metric))
    return pooled_cdf_figure(per_seed, seeds, metric, module.CDF_SAMPLE, module.CDF_UNIT,
                             methods=methods, log_x=log_x, nonpositive=nonpositive,
                             figsize=figsize)
