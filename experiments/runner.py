r"""The one experiment runner: steps, hashing, source and target training, lr choice,
variants, for every task.

A task module (``experiments/d2d.py``, ...) subclasses :class:`TaskRun` and supplies only
what differs between tasks: the :class:`~wirelessrl.transfer.TransferTask` built from the
config, the data and baseline steps, the batch tensors, per-sample evaluation and the
report. :func:`run` drives any of them the same way, per unit (a seed; for MNIST a seed
and a split), every step resumable through :class:`wirelessrl.steps.StepRunner`:

1. ``data`` and ``baselines`` (the task's);
2. ``source/<name>``: the source networks the strategies need
   (:attr:`wirelessrl.transfer.Strategy.source`), shared through the step cache;
3. ``target/<strategy>-lr<lr>``: every strategy at the target lr and, with
   ``tuning.enabled``, at every lr of ``tuning.lrs``; :meth:`TaskRun.best_lr` picks the lr
   of the best validation ``task.target_monitor`` (its mode says min or max);
4. the task's extra steps (MISO: the supervised ceiling);
5. ``target-<variant>/<strategy>-lr<lr>`` (and ``source-<variant>/<name>`` when the variant
   changes the source settings): every labelled variant (:class:`Variant`);
6. the report (the task's), over every unit.

A step's hash covers what it depends on (:meth:`TaskRun.step_config`): the task's data
config, the model, the source section (without corruption keys that do not apply) and the
step's own section, so a changed key re-runs exactly the steps that read it.

Variants, one schema for every task: the config key ``variants`` is a list whose entries
are either the name of a task preset (``variants=[augment_permutations]``) or a mapping
``{name, label, protocol, source, target, lrs, strategies, augment}``; a mapping whose
name is a preset starts from that preset.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from experiments.layout import (
    EVALUATION_FILE,
    EVALUATION_KIND,
    RUN_FILE,
    Plan,
    RunLayout,
    Variant,
)
from simulators.validation import ConfigError, check_choice, check_positive
from wirelessrl.config import save_yaml
from wirelessrl.corruption import check_source_corruption, hashed_source_section, source_corruption
from wirelessrl.fileio import provenance, write_arrays
from wirelessrl.results import Echo, provenance_block, write_json
from wirelessrl.source_options import check_source_options, hashed_source_options, source_options
from wirelessrl.steps import StepRunner, config_hash
from wirelessrl.transfer import (
    STRATEGIES,
    TransferTask,
    get_strategy,
    needed_sources,
    source_of,
    train_source,
    train_target,
)

if TYPE_CHECKING:
    from wirelessrl.engine import Augment, TrainConfig
    from wirelessrl.probes import ProbeTask

__all__ = ["Plan", "TaskRun", "Variant", "check_config", "check_lrs", "feature_width",
           "make_plan", "parse_variant", "run", "save_effective_config", "train_config"]


# ------------------------------------------------------------------ config helpers


def feature_width(model: Mapping[str, Any]) -> int:
    """Width of the last feature layer, ``model.feature[-1]``; the list must be non-empty.

    Example
    -------
    >>> feature_width({"feature": [150, 100]})
    100
    """
    widths = model.get("feature")
    if not isinstance(widths, (list, tuple)) or not widths or not all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths
    ):
        raise ConfigError(
            f"model.feature={widths!r} is invalid; expected a non-empty list of layer widths "
            "(integers >= 1)"
        )
    return widths[-1]


def check_lrs(field: str, values: Any) -> list[float]:
    """A list of learning rates, each a finite number > 0.

    Example
    -------
    >>> check_lrs("tuning.lrs", [1e-3, 2e-5])
    [0.001, 2e-05]
    """
    if not isinstance(values, (list, tuple)):
        raise ConfigError(f"{field}={values!r} is invalid; expected a list of numbers > 0")
    return [check_positive(field, v) for v in values]


def train_config(section: Mapping[str, Any], seed: int, where: str | None = None,
                 **extra: Any) -> TrainConfig:
    """A :class:`~wirelessrl.engine.TrainConfig` from a config section (epochs,
    batch_size, lr, patience, weight_decay, grad_clip, lr_schedule, validate_every) and a
    seed; a bad value is a :class:`ConfigError` naming the key within ``where`` (the
    section's name in the config).

    Example
    -------
    >>> train_config({"epochs": 0}, 0, "source")
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: source.epochs=0 is invalid; expected an integer >= 1
    """
    from wirelessrl.engine import TrainConfig

    keys = ("epochs", "batch_size", "lr", "patience", "weight_decay", "grad_clip",
            "lr_schedule", "validate_every")
    values = {k: section[k] for k in keys if k in section}
    if where is not None:
        try:  # the section's own keys first, so that only their errors carry its name
            TrainConfig(seed=0, **values)
        except ConfigError as error:
            raise ConfigError(f"{where}.{error}") from error
    return TrainConfig(seed=seed, **values, **extra)


UNHASHED_DEFAULTS = {"lr_schedule": "constant"}
"""Training keys left out of a step's hash at these values: the steps of runs made before
the keys existed keep their hashes (and their finished networks)."""


def hashed_training_section(section: Mapping[str, Any]) -> dict:
    """``section`` without the :data:`UNHASHED_DEFAULTS` keys that hold their default."""
    return {k: v for k, v in section.items()
            if k not in UNHASHED_DEFAULTS or v != UNHASHED_DEFAULTS[k]}


def save_effective_config(run_dir: Path, config: Mapping, seeds: list[int]) -> None:
    """``run_dir/config.yaml``: the effective config with the seeds (before any step)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    save_yaml({**config, "seeds": list(seeds)}, run_dir / "config.yaml")


def check_strategies(config: Mapping[str, Any]) -> list[str]:
    """The config's ``strategies``: a non-empty list of registered names (duplicates
    dropped, order kept)."""
    names = config.get("strategies")
    if not isinstance(names, list) or not names:
        raise ConfigError(f"strategies={names!r} is invalid; expected a non-empty list of "
                          f"{', '.join(STRATEGIES)}")
    for s in names:
        check_choice("strategies", s, tuple(STRATEGIES))
    return list(dict.fromkeys(names))


# ------------------------------------------------------------------ variants


def parse_variant(value: Any, config: Mapping, index: int, presets: Mapping[str, dict],
                  default_lrs: list[float], augmentations: tuple[str, ...]) -> Variant:
    """Validate one entry of ``variants`` (a preset name or a mapping) into a
    :class:`~experiments.layout.Variant`."""
    where = f"variants[{index}]"
    if isinstance(value, str):
        if value not in presets:
            raise ConfigError(f"{where}={value!r} is not a variant preset; expected one of "
                              f"{', '.join(presets) or 'none'} or a mapping with a name")
        value = {"name": value}
    if not isinstance(value, dict) or "name" not in value:
        raise ConfigError(f"{where}={value!r} is invalid; expected a mapping with a name")
    value = {**presets.get(str(value["name"]), {}), **value}
    unknown = set(value) - set(Variant.KEYS)
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]} is not a variant key; expected "
                          + ", ".join(Variant.KEYS))
    name = str(value["name"])
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where}.name={name!r} is invalid; expected letters, digits, "
                          "- or _")
    sections = {}
    for section in ("target", "source"):
        sections[section] = dict(value.get(section) or {})
        for key in sections[section]:
            if key not in config[section]:
                raise ConfigError(f"{where}.{section}.{key} is not a {section} key; "
                                  "expected one of " + ", ".join(config[section]))
    lrs = tuple(float(v) for v in check_lrs(f"{where}.lrs", value.get("lrs") or default_lrs))
    strategies = tuple(value.get("strategies") or config["strategies"])
    for s in strategies:
        check_choice(f"{where}.strategies", s, tuple(STRATEGIES))
    augment = value.get("augment")
    if augment is not None:
        check_choice(f"{where}.augment", augment, augmentations)
    return Variant(name, str(value.get("label", name)), str(value.get("protocol", "")),
                   sections["source"], sections["target"], lrs, strategies, augment)


def make_plan(cls: type[TaskRun], config: Mapping[str, Any]) -> Plan:
    """The validated :class:`Plan` of a config (no file is touched)."""
    strategies = check_strategies(config)
    target_lr = float(check_positive("target.lr", config["target"]["lr"]))
    tuning = config.get("tuning") or {}
    enabled = bool(tuning.get("enabled", True)) if tuning else False
    grid = check_lrs("tuning.lrs", tuning["lrs"]) if "lrs" in tuning else []
    tuned = sorted({float(v) for v in grid} | {target_lr}) if enabled else [target_lr]
    raw = config.get("variants") or []
    if not isinstance(raw, list):
        raise ConfigError(f"variants={raw!r} is invalid; expected a list of variant names "
                          f"({', '.join(cls.VARIANT_PRESETS) or 'none'}) or mappings")
    variants = [parse_variant(v, config, i, cls.VARIANT_PRESETS, tuned, tuple(cls.AUGMENTATIONS))
                for i, v in enumerate(raw)]
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"variants names {names} are invalid; expected distinct names")
    return Plan(strategies, target_lr, tuned, enabled, variants)


# ------------------------------------------------------------------ one unit


class TaskRun(RunLayout):
    """One unit (a seed; for MNIST a seed and a split) of an experiment, under
    ``run_dir/<unit_dir>``. Task modules subclass it; :func:`run` drives it.

    A subclass provides
    -------------------
    name, title : class attributes, the registry name and the report/echo title
    make_task(config) : classmethod, the :class:`~wirelessrl.transfer.TransferTask`
    check_task_config(config) : classmethod, the task's own checks (one-line errors)
    data_config() : what the data depends on (the base of every step hash)
    make_data(), solve_baselines() : the data and baseline steps
    data() : ``{split: {key: tensor}}`` with ``source_train``, ``source_valid``,
        ``target_train``, ``target_valid`` and ``test``
    evaluate(out, head) : the per-sample results of a network's test outputs, a dict of
        NumPy arrays ``[n_test, ...]`` (written to ``evaluation.h5``)
    and optionally units(config, seeds), source_data_config(), hashed_model(),
    extra_steps(), extra_networks(), source_splits(section, name), network_input(net, split),
    hashed_target_section(section), ``VARIANT_PRESETS`` and ``AUGMENTATIONS``. The report
    is the module ``experiments.<name>_report`` with ``write_report(config, run_dir, units,
    plan, echo)``, reading files only (:func:`experiments.layout.read_run`).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    VARIANT_PRESETS: ClassVar[dict[str, dict]] = {}
    """Named variant specs a config can switch on by name (``variants=[<name>]``)."""
    AUGMENTATIONS: ClassVar[dict[str, Callable[[TaskRun], Augment]]] = {}
    """Augmentation name -> factory ``(run) -> augment`` for :attr:`Variant.augment`."""

    def __init__(self, config: dict, run_dir: Path, seed: int, echo: Echo = print,
                 step_cache: str | Path | None = None, **unit: Any) -> None:
        self.config = config
        self.seed = seed
        self.unit = unit
        self.echo = echo
        self.dir = Path(run_dir) / self.unit_dir(seed, **unit)
        self.steps = StepRunner(self.dir, echo, cache_dir=step_cache)
        self.task = self.make_task(config)
        self.plan = make_plan(type(self), config)

    # --------------------------------------------------------- what a task provides
    @classmethod
    def make_task(cls, config: dict) -> TransferTask:
        """The :class:`~wirelessrl.transfer.TransferTask` of ``config`` (network, heads,
        losses, monitors); every task module implements it."""
        raise NotImplementedError

    @classmethod
    def check_task_config(cls, config: dict) -> None:
        """The task's own checks (beyond the runner's)."""

    @classmethod
    def units(cls, config: dict, seeds: list[int]) -> list[dict]:
        """Keyword arguments of every unit; default one per seed."""
        return [{"seed": s} for s in seeds]

    @classmethod
    def unit_dir(cls, seed: int, **unit: Any) -> str:
        """Folder of a unit relative to ``run_dir``: ``seed-<seed>`` by default."""
        return f"seed-{seed}"

    def label(self) -> str:
        """How the unit is announced: ``seed 123``."""
        return f"seed {self.seed}"

    def data_config(self) -> dict:
        """What the unit's data depends on (system, split sizes, seed), JSON-ready: the base
        of every step's config hash; every task module implements it."""
        raise NotImplementedError

    def source_data_config(self) -> dict:
        """The data keys a source step depends on: by default the source splits only (a
        sample of a seed does not depend on the other splits' sizes), so a target-size
        sweep reuses one source model."""
        cfg = self.data_config()
        return {**cfg, "data": {k: cfg["data"][k] for k in ("source_train", "source_valid")}}

    def hashed_model(self) -> dict:
        """The ``model`` section as the step hashes see it: by default the section as is; a
        task drops options that do not change its networks (so adding an option with a
        default keeps earlier run folders valid)."""
        return self.config["model"]

    def make_data(self) -> None:
        """The ``data`` step: write the unit's data files (skipped when done); every task
        module implements it."""
        raise NotImplementedError

    def solve_baselines(self) -> None:
        """The baseline step (none by default)."""

    def data(self) -> dict[str, dict]:
        """``{split: {key: tensor [n, ...]}}`` for ``source_train``, ``source_valid``,
        ``target_train``, ``target_valid`` and ``test``; every task module implements it."""
        raise NotImplementedError

    def extra_steps(self) -> None:
        """Task-specific training steps after the targets (none by default)."""

    def extra_networks(self) -> list[dict]:
        """Networks of the extra steps to evaluate: ``{"rel", "head", "name"}`` each."""
        return []

    def source_splits(self, section: Mapping, name: str | None = None) -> tuple[dict, dict]:
        """The training and validation batches of the source network ``name``
        (``conventional``, ``reconstruction``) trained with the ``source`` section
        ``section`` (default: ``source_train`` and ``source_valid`` of :meth:`data`; D2D
        adds the decoder's per-link target)."""
        d = self.data()
        return d["source_train"], d["source_valid"]

    def network_input(self, net: Any, split: str = "test") -> Any:
        """The input of a trained network on a split (default ``task.input_key``; D2D: the
        input with the gains for a network whose head is built from them)."""
        return self.data()[split][self.task.input_key]

    def hashed_target_section(self, section: Mapping) -> dict:
        """The ``target`` section as a step hash sees it (default: all of it; a task drops
        keys at their default that older runs did not have)."""
        return dict(section)

    def task_for(self, source: Mapping | None = None,
                 target: Mapping | None = None) -> TransferTask:
        """The task of the config with other ``source`` / ``target`` sections (a variant's;
        None: the config's)."""
        return self.make_task({**self.config, "source": dict(source or self.config["source"]),
                               "target": dict(target or self.config["target"])})

    def evaluate(self, out: Any, head: str) -> dict[str, np.ndarray]:
        """Per-sample results ``{field: [n_test, ...]}`` of the test outputs ``out`` of a
        network on ``head``."""
        raise NotImplementedError

    def analysis_task(self) -> ProbeTask:
        """What ``wirelessrl analyze`` probes for (:class:`wirelessrl.probes.ProbeTask`:
        the target task's optimal solution on ``target_train``, ``target_valid`` and
        ``test``, its metrics, the reconstruction entries); a task without one is not
        supported by the analysis."""
        raise ConfigError(f"'wirelessrl analyze' does not support experiment {self.name!r}; "
                          "expected a run of d2d, miso or mnist")

    @classmethod
    def for_unit(cls, config: dict, run_dir: Path, record: Mapping[str, Any],
                 echo: Echo = print) -> TaskRun:
        """The unit of a finished run from its :meth:`unit_record` (``seed`` and the plain
        unit keys), to read its files again (the analysis); nothing is trained."""
        unit = {k: v for k, v in record.items() if k not in ("dir", "seed")}
        return cls(config, run_dir, int(record["seed"]), echo=echo, **unit)

    @classmethod
    def unit_record(cls, seed: int, **unit: Any) -> dict:
        """What ``run.json`` keeps of a unit (JSON): its folder, seed and plain keys."""
        plain = {k: v for k, v in unit.items() if isinstance(v, (str, int, float, bool))}
        return {"dir": cls.unit_dir(seed, **unit), "seed": seed, **plain}

    # --------------------------------------------------------------- the runner's part
    @property
    def target_mode(self) -> str:
        """``"min"`` or ``"max"``: the direction of the task's target monitor (it picks the
        best learning rate)."""
        return self.task.target_monitor[1]

    def step_config(self, source: Mapping | None = None, strategy: str | None = None,
                    **extra: Any) -> dict:
        """What a training step depends on. A source step (only ``strategy``) sees the
        source data only; the source section is hashed without corruption keys and
        source-training options that do not apply to the step
        (:func:`wirelessrl.corruption.hashed_source_section`,
        :func:`wirelessrl.source_options.hashed_source_options`)."""
        section = hashed_training_section(self.config["source"] if source is None else source)
        if "target" in extra:
            extra = {**extra, "target": hashed_training_section(extra["target"])}
        base = self.data_config() if extra else self.source_data_config()
        cfg = {**base, "model": self.hashed_model(), **extra}
        if strategy is not None:
            cfg["strategy"] = strategy
        source_name = None if strategy is None else source_of(strategy)
        uses_corruption = source_name == "reconstruction"
        cfg["source"] = hashed_source_options(hashed_source_section(section, uses_corruption),
                                              source_name)
        return cfg

    def augmentation(self, name: str | None) -> Augment | None:
        """The training-minibatch augmentation ``AUGMENTATIONS[name]`` built for this unit,
        or None when ``name`` is None."""
        return None if name is None else self.AUGMENTATIONS[name](self)

    def train_sources(self, strategies: list[str] | tuple[str, ...],
                      variant: Variant | None = None) -> None:
        """The source networks the strategies need (a variant's own, if it changes them)."""
        section = {**self.config["source"], **(variant.source if variant else {})}
        folder = variant.source_dir if variant else "source"
        task = self.task if variant is None else self.task_for(source=section)
        for name in needed_sources(list(strategies)):
            out = self.path(folder, name)

            def build(name: str = name, out: Path = out) -> None:
                train, valid = self.source_splits(section, name)
                train_source(task, get_strategy(name, alpha=float(section["alpha"])),
                             train, valid, train_config(section, self.seed, progress=True),
                             out, corruption=source_corruption(section, name, task.input_key),
                             options=source_options(section, name))

            self.steps.run(f"{folder}/{name}", self.step_config(section, name), build,
                           [f"{folder}/{name}/net.pt"], folder=f"{folder}/{name}", share=True)

    def train_targets(self, strategies: list[str] | tuple[str, ...], lrs: list[float],
                      variant: Variant | None = None) -> None:
        """Every strategy at every lr (a variant's settings, sources and augmentation)."""
        from wirelessrl.checkpoint import load_net

        base = {**self.config["target"], **(variant.target if variant else {})}
        source_section = {**self.config["source"], **(variant.source if variant else {})}
        augment = variant.augment if variant else None
        task = self.task if variant is None else self.task_for(source_section, base)
        for strategy in strategies:
            for lr in lrs:
                out = self.target_run_dir(strategy, lr, variant)
                section = {**base, "lr": float(lr)}

                def build(strategy: str = strategy, out: Path = out,
                          section: dict = section) -> None:
                    d = self.data()
                    strat = get_strategy(strategy, alpha=task.alpha,
                                         feature_lr_scale=section.get("finetune_feature_lr_scale"))
                    source = None
                    if strat.source is not None:
                        source, _ = load_net(self.source_net_path(strat.source, variant))
                    train_target(task, strat, source, d["target_train"], d["target_valid"],
                                 train_config(section, self.seed, progress=True,
                                              checkpoint_every_s=30.0), out,
                                 augment=self.augmentation(augment))

                rel = str(out.relative_to(self.dir))
                cfg = self.step_config(source_section, strategy,
                                       target=self.hashed_target_section(section))
                if augment is not None:
                    cfg["augment"] = augment
                self.steps.run(rel, cfg, build, [f"{rel}/net.pt"], folder=rel)

    def networks(self, plan: Plan) -> list[dict]:
        """Every network the runs trained: ``{"rel", "head", "role", "name", "variant"}``."""
        nets = []
        for variant in [None, *(v for v in plan.variants if v.source)]:
            folder = variant.source_dir if variant else "source"
            strategies = variant.strategies if variant else plan.strategies + [
                s for v in plan.variants if not v.source for s in v.strategies]
            for name in needed_sources(list(strategies)):
                nets.append({"rel": f"{folder}/{name}", "head": self.task.source_head,
                             "role": "source", "name": name,
                             "variant": variant.name if variant else None})
        runs = [(None, s, lr) for s in plan.strategies for lr in plan.tuned_lrs]
        runs += [(v, s, lr) for v in plan.variants for s in v.strategies for lr in v.lrs]
        for variant, strategy, lr in runs:
            rel = self.target_run_dir(strategy, lr, variant).relative_to(self.dir).as_posix()
            nets.append({"rel": rel, "head": self.task.target_head, "role": "target",
                         "name": strategy, "lr": lr,
                         "variant": variant.name if variant else None})
        nets += [{**n, "role": "extra", "variant": None} for n in self.extra_networks()]
        return nets

    def infer(self, rel: str, head: str) -> tuple[Any, float]:
        """Test-set outputs of the network saved in ``rel/net.pt`` on ``head`` (decoder
        dropped: inference runs the feature module and the head only) and samples/s."""
        import torch

        from wirelessrl.checkpoint import load_net

        net, _ = load_net(self.path(rel, "net.pt"))
        net.drop_decoder().eval()
        x = self.network_input(net, "test")
        with torch.no_grad():
            net(x[:8], head=head)
            start = time.perf_counter()
            out = net(x, head=head)["out"]
            seconds = time.perf_counter() - start
        return out, len(x) / seconds

    def evaluate_networks(self, plan: Plan) -> None:
        """The ``evaluate`` step: per-sample test results of every trained network in
        ``evaluation.h5`` (re-run when any of those networks was retrained)."""
        nets = self.networks(plan)
        stamps = {}
        for n in nets:
            recorded = self.steps._recorded(n["rel"])
            stamps[n["rel"]] = None if recorded is None else recorded.get("config_hash")
        cfg = {"data": config_hash(self.data_config()), "networks": stamps,
               "heads": [n["head"] for n in nets]}

        def build() -> None:
            arrays, records = {}, []
            for i, n in enumerate(nets):
                out, speed = self.infer(n["rel"], n["head"])
                fields = self.evaluate(out, n["head"])
                arrays.update({f"n{i}_{k}": np.asarray(v) for k, v in fields.items()})
                records.append({**n, "fields": list(fields), "samples_per_s": speed})
            meta = provenance(EVALUATION_KIND, self.data_config(), self.seed, networks=records,
                              target_monitor=list(self.task.target_monitor))
            write_arrays(self.path(EVALUATION_FILE), arrays, meta)

        self.steps.run("evaluate", cfg, build, [EVALUATION_FILE])


# ------------------------------------------------------------------ the runner


def check_config(cls: type[TaskRun], config: dict) -> Plan:
    """Every check that can fail, before any work (nothing is written when one fails)."""
    plan = make_plan(cls, config)
    cls.make_task(config)
    train_config(config["source"], 0, "source")
    train_config(config["target"], 0, "target")
    check_source_corruption(config["source"])
    check_source_options(config["source"])
    for v in plan.variants:
        check_source_corruption({**config["source"], **v.source}, f"variants.{v.name}.source")
        check_source_options({**config["source"], **v.source}, f"variants.{v.name}.source")
        train_config({**config["source"], **v.source}, 0, f"variants.{v.name}.source")
        train_config({**config["target"], **v.target}, 0, f"variants.{v.name}.target")
    scale = config["target"].get("finetune_feature_lr_scale")
    if scale is not None:
        check_positive("target.finetune_feature_lr_scale", scale)
    cls.check_task_config(config)
    return plan


def run(cls: type[TaskRun], config: dict, run_dir: str | Path, seeds: list[int],
        echo: Echo = print, step_cache: str | Path | None = None) -> Path:
    """Run an experiment for every unit, then its report; return ``report.md``.

    Input
    -----
    cls : the task's :class:`TaskRun` subclass (``experiments.<name>.TASK``)
    config : the effective config (:func:`experiments.load_experiment_config`)
    run_dir : the run folder; seeds : list of int
    step_cache : folder of source networks shared between runs (sweeps), or None
    """
    run_dir = Path(run_dir)
    plan = check_config(cls, config)
    units = cls.units(config, seeds)
    save_effective_config(run_dir, config, seeds)
    runs = []
    extra_sources = [s for v in plan.variants if not v.source for s in v.strategies]
    for unit in units:
        r = cls(config, run_dir, echo=echo, step_cache=step_cache, **unit)
        echo(f"== {cls.title} {r.label()} ==")
        r.make_data()
        r.solve_baselines()
        r.train_sources(plan.strategies + extra_sources)
        r.train_targets(plan.strategies, [plan.target_lr])
        if plan.tuning:
            r.train_targets(plan.strategies, [lr for lr in plan.tuned_lrs if lr != plan.target_lr])
        r.extra_steps()
        for v in plan.variants:
            if v.source:
                r.train_sources(v.strategies, v)
            r.train_targets(v.strategies, list(v.lrs), v)
        r.evaluate_networks(plan)
        runs.append(r)
    write_json(run_dir / RUN_FILE, {
        "experiment": cls.name, "plan": plan.to_dict(), "target_mode": runs[0].target_mode,
        "units": [cls.unit_record(**u) for u in units],
        "provenance": provenance_block(config, seeds)})
    from experiments import report_run

    return report_run(run_dir, echo)
