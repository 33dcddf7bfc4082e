"""The files of a run, for the runner and for reports (no torch, no training).

A run folder holds ``config.yaml`` (the effective config), ``run.json`` (experiment name,
the :class:`Plan`, the units, provenance) and one folder per unit (``seed-<s>/``, MNIST
``seed-<s>/split-<X>/``) with the data files, the baselines, every training run
(``source/<name>/``, ``target/<strategy>-lr<lr>/``, ``target-<variant>/...``, each with
``net.pt``, ``fit.json``, ``metrics.csv``) and ``evaluation.h5``: the per-sample outputs of
every trained network on the test set (see :meth:`UnitFiles.outputs`). Reports read only
these files: :func:`read_run` gives the config, the plan and a :class:`UnitFiles` per
unit, so a report re-runs without torch and without retraining (``wirelessrl report``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from simulators.validation import ConfigError
from wirelessrl.fileio import read_arrays

__all__ = ["EVALUATION_FILE", "EVALUATION_KIND", "RUN_FILE", "Plan", "RunLayout", "UnitFiles",
           "Variant", "read_run"]

RUN_FILE = "run.json"
EVALUATION_FILE = "evaluation.h5"
EVALUATION_KIND = "evaluation"


@dataclass(frozen=True)
class Variant:
    """A labelled variant of the training, reported in rows (tables) of its own.

    Attributes
    ----------
    name : str, letters, digits, ``-``, ``_``; names the folders ``target-<name>/`` (and
        ``source-<name>/`` when ``source`` is not empty)
    label : str, what the report calls it
    protocol : str, what changes against the paper's protocol ("" when nothing but
        settings change)
    source, target : dict, overrides of keys of the config's ``source`` / ``target``
        sections; a variant with ``source`` overrides trains its own source networks
    lrs : tuple of float, learning-rate grid, chosen on validation per strategy (default:
        the equal-budget grid)
    strategies : tuple of str (default: the config's)
    augment : str or None, a key of the task's ``AUGMENTATIONS`` applied to every target
        training minibatch

    Example
    -------
    >>> v = Variant("long", "longer", "", {}, {"epochs": 10}, (1e-3,), ("regular",))
    >>> v.source_dir, v.target_dir
    ('source', 'target-long')
    """

    name: str
    label: str
    protocol: str
    source: dict
    target: dict
    lrs: tuple[float, ...]
    strategies: tuple[str, ...]
    augment: str | None = None

    KEYS: ClassVar[tuple[str, ...]] = ("name", "label", "protocol", "source", "target", "lrs",
                                       "strategies", "augment")

    @property
    def source_dir(self) -> str:
        """Folder of the source networks this variant transfers from."""
        return f"source-{self.name}" if self.source else "source"

    @property
    def target_dir(self) -> str:
        """Folder of this variant's target runs."""
        return f"target-{self.name}"


@dataclass(frozen=True)
class Plan:
    """What the runner trains: strategies, learning rates and variants (validated by
    :func:`experiments.runner.make_plan`).

    Example
    -------
    >>> p = Plan(["regular"], 1e-3, [1e-3], False)
    >>> Plan.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    True
    """

    strategies: list[str]
    target_lr: float
    tuned_lrs: list[float]
    """The equal-budget grid (with the target lr); ``[target_lr]`` when tuning is off."""
    tuning: bool
    variants: list[Variant] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The plan as plain data (variants as dicts) for ``run.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Plan:
        """Rebuild a plan from :meth:`to_dict` (after a JSON round trip: lists to tuples)."""
        variants = [Variant(**{**v, "lrs": tuple(v["lrs"]),
                               "strategies": tuple(v["strategies"])}) for v in d["variants"]]
        return cls(list(d["strategies"]), float(d["target_lr"]), list(d["tuned_lrs"]),
                   bool(d["tuning"]), variants)


class RunLayout:
    """Where a unit's files are (shared by the runner's :class:`~experiments.runner.TaskRun`
    and the reports' :class:`UnitFiles`). Needs ``self.dir`` and ``self.target_mode``."""

    dir: Path
    target_mode: str

    def path(self, *parts: str) -> Path:
        """``self.dir / parts[0] / parts[1] / ...``, a file or folder of the unit."""
        return self.dir.joinpath(*parts)

    def source_net_path(self, name: str, variant: Variant | None = None) -> Path:
        """``<source dir>/<name>/net.pt``: the source network ``name`` (``conventional``,
        ``reconstruction``) of the run or of ``variant``."""
        return self.path(variant.source_dir if variant else "source", name, "net.pt")

    def target_run_dir(self, strategy: str, lr: float, variant: Variant | None = None) -> Path:
        """``target/<strategy>-lr<lr>`` (or ``target-<variant>/...``): one target training
        run's folder."""
        return self.path(variant.target_dir if variant else "target", f"{strategy}-lr{lr:g}")

    def fit_summary(self, run_dir: Path) -> dict:
        """The ``fit.json`` of a training run (its config and result)."""
        return json.loads((Path(run_dir) / "fit.json").read_text())

    def best_lr(self, strategy: str, lrs: list[float] | tuple[float, ...],
                variant: Variant | None = None) -> float:
        """The lr whose run reached the best validation target metric (``target_mode``
        says whether larger or smaller is better; the first of equal ones)."""
        scores = {lr: self.fit_summary(self.target_run_dir(strategy, lr, variant))["result"]
                  ["best_metric"] for lr in lrs}
        pick = max if self.target_mode == "max" else min
        return pick(scores, key=scores.get)


class UnitFiles(RunLayout):
    """The files of one finished unit, as a report reads them.

    Attributes
    ----------
    seed : int; unit : dict, the unit's other keys (MNIST: ``split``, ``split_seed``)
    dir : Path, the unit folder; target_mode : ``min`` or ``max``
    """

    def __init__(self, run_dir: Path, record: dict, target_mode: str) -> None:
        self.seed = int(record["seed"])
        self.unit = {k: v for k, v in record.items() if k not in ("seed", "dir")}
        self.dir = Path(run_dir) / record["dir"]
        self.target_mode = target_mode
        self.cache: dict = {}  # files a report reads more than once
        self._evaluation: tuple[dict, dict] | None = None

    def __getattr__(self, name: str) -> Any:
        unit = self.__dict__.get("unit", {})
        if name in unit:
            return unit[name]
        raise AttributeError(name)

    def evaluation(self) -> tuple[dict, dict]:
        """Arrays and metadata of ``evaluation.h5``."""
        if self._evaluation is None:
            self._evaluation = read_arrays(self.path(EVALUATION_FILE), EVALUATION_KIND)
        return self._evaluation

    def networks(self, role: str | None = None) -> list[dict]:
        """Records of the evaluated networks (``rel``, ``head``, ``role``, ``name``,
        ``variant``, ``samples_per_s``), optionally of one role (source, target, extra)."""
        nets = self.evaluation()[1]["networks"]
        return [n for n in nets if role is None or n["role"] == role]

    def outputs(self, run_dir: str | Path, head: str) -> tuple[dict, float]:
        """The per-sample test outputs of the network saved in ``run_dir`` (a training
        run folder, or its ``net.pt``) on ``head``, and its inference samples/s."""
        run_dir = Path(run_dir)
        if run_dir.name == "net.pt":
            run_dir = run_dir.parent
        rel = run_dir.relative_to(self.dir).as_posix()
        arrays, meta = self.evaluation()
        for i, net in enumerate(meta["networks"]):
            if net["rel"] == rel and net["head"] == head:
                fields = {f: arrays[f"n{i}_{f}"] for f in net["fields"]}
                return fields, float(net["samples_per_s"])
        raise ConfigError(f"{str(self.path(EVALUATION_FILE))!r} holds no outputs of {rel!r} on "
                          f"head {head!r}; re-run the experiment to evaluate it")


def read_run(run_dir: str | Path) -> tuple[dict, dict, Plan, list[UnitFiles]]:
    """``(config, run, plan, units)`` of a finished run folder (``config.yaml`` and
    ``run.json``); a one-line :class:`ConfigError` when they are missing."""
    from wirelessrl.config import yaml_load

    run_dir = Path(run_dir)
    index = run_dir / RUN_FILE
    if not index.is_file():
        raise ConfigError(f"{str(run_dir)!r} is not a finished run folder: {RUN_FILE} is missing "
                          "(run 'wirelessrl reproduce' into it first)")
    run = json.loads(index.read_text())
    config = yaml_load((run_dir / "config.yaml").read_text())
    plan = Plan.from_dict(run["plan"])
    units = [UnitFiles(run_dir, u, run["target_mode"]) for u in run["units"]]
    return config, run, plan, units
