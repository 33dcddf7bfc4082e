r"""The one training loop of the project: :func:`fit`.

Every task (D2D, MISO, MNIST), every transfer strategy and every experiment trains
through :func:`fit`; what differs is the model, the *objective*
``objective(model, batch) -> (loss, metrics)`` (see :class:`wirelessrl.objectives.Objective`),
the data and a :class:`TrainConfig`.

What the loop does, per epoch:

1. shuffle the training set with a ``torch.Generator`` seeded from ``(seed, epoch)``
   (so a resumed run draws the same minibatches as an uninterrupted one);
2. take minibatches by indexing the tensors directly (no DataLoader: the target runs
   are 25,000 epochs of 10 minibatches, where per-step Python overhead dominates); a
   training set larger than memory is a :class:`wirelessrl.loaders.ChunkedDataset`, read
   from its HDF5 file chunk by chunk; under ``torchrun`` each rank trains on its share of
   every minibatch with DistributedDataParallel and only rank 0 writes (:mod:`wirelessrl.ddp`);
3. validate on the whole validation set without gradients, in chunks of
   ``valid_batch_size`` (one forward pass for 5,000 samples), monitor ``monitor``
   (``mode`` min or max), keep the best weights and stop after ``patience`` epochs
   without improvement;
4. append a row to ``run_dir/metrics.csv`` and, at most every ``checkpoint_every_s``
   seconds, write ``run_dir/last.pt`` (model, optimizer, best weights, RNG state).

An optional ``augment(batch, generator) -> batch`` (for example the link relabelling of
:mod:`wirelessrl.augment`) transforms every *training* minibatch before the objective sees
it; validation data is never augmented. Its ``torch.Generator`` is seeded from
``(seed, epoch)`` like the shuffle, on its own stream, so augmented runs are reproducible
and resume exactly.

At the end the best-validation weights are loaded into the model. A non-finite training
loss or validation metric stops the run with :class:`TrainingDiverged`, naming the
epoch; ``last.pt`` is then still the last good checkpoint. Calling :func:`fit` again on
the same ``run_dir`` with the same config resumes from ``last.pt`` and ends with the same
weights as a run that was never interrupted.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from simulators.validation import (
    ConfigError,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
)
from wirelessrl import ddp
from wirelessrl.checkpoint import check_state_dict, load_checkpoint, save_checkpoint
from wirelessrl.device import check_device_name, resolve_device
from wirelessrl.fileio import atomic_path

__all__ = [
    "OPTIMIZERS",
    "LR_SCHEDULES",
    "BestWeights",
    "Callback",
    "Checkpoints",
    "EarlyStopping",
    "FitState",
    "LRSchedule",
    "MetricsCSV",
    "Progress",
    "TrainConfig",
    "TrainingCheckpoint",
    "FitResult",
    "TrainingDiverged",
    "fit",
    "augment_name",
    "evaluate",
    "check_data",
]

CHECKPOINT_FORMAT = "wirelessrl-fit/1"
CHECKPOINT_NAME = "last.pt"
METRICS_NAME = "metrics.csv"
RESULT_NAME = "fit.json"

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
"""Optimizers by name (``weight_decay`` is passed to each)."""

LR_SCHEDULES = ("constant", "cosine")
"""Values of ``TrainConfig.lr_schedule``: the learning rate of epoch ``e`` of ``E`` is
``lr`` (constant) or ``lr (1 + cos(pi (e - 1) / E)) / 2`` (cosine: ``lr`` at epoch 1,
decaying to ``lr (1 + cos(pi (E - 1) / E)) / 2 > 0`` at the last epoch), per parameter
group (``lr_scales`` keep their ratios)."""

Objective = Callable[[nn.Module, Mapping[str, torch.Tensor]], tuple[torch.Tensor, dict]]
Augment = Callable[[dict[str, torch.Tensor], torch.Generator], dict[str, torch.Tensor]]
"""``augment(batch, generator) -> batch``: a random, label-free transform of a training
minibatch (same keys, same number of samples); all its randomness from ``generator``."""


class TrainingDiverged(RuntimeError):
    """The training loss or a validation metric became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one :func:`fit` run; validated at construction, JSON-serializable.

    Attributes
    ----------
    epochs : int >= 1
    batch_size : int >= 1, minibatch size
    lr : float > 0, learning rate (Adam by default)
    weight_decay : float >= 0
    optimizer : str, a key of :data:`OPTIMIZERS`
    patience : int >= 1 or None, stop after this many epochs without a better
        validation ``monitor`` (None: never stop early)
    monitor : str, validation metric to select the kept weights (``loss`` or a metric of
        the objective such as ``min_rate_bps_per_hz``)
    mode : ``min`` or ``max``, whether smaller or larger ``monitor`` is better
    seed : int >= 0, drives the shuffling and torch's RNG inside the run
    device : ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:<index>``
    trainable : tuple of str or None, parameter-name prefixes to train (e.g.
        ``("heads.min_rate",)``); None trains every parameter with ``requires_grad``
    lr_scales : dict of prefix to float > 0, learning-rate multipliers for parameter
        groups (e.g. ``{"features": 0.1}``); the longest matching prefix wins
    grad_clip : float > 0 or None, clip the global gradient norm
    lr_schedule : ``constant`` or ``cosine`` (:data:`LR_SCHEDULES`), the learning rate per
        epoch, a function of the epoch and ``epochs`` alone (so a resumed run follows the
        schedule of an uninterrupted one with the same ``epochs``)
    validate_every : int >= 1, validate every this many epochs (also at the first and
        last epoch)
    valid_batch_size : int >= 1, chunk size of the no-grad validation passes
    shuffle : bool, reshuffle the training set every epoch
    drop_last : bool, skip a last incomplete minibatch
    checkpoint_every_s : float >= 0 or None, write ``last.pt`` at most this often (and at
        the end); None writes only at the end
    progress : bool, show a tqdm progress bar over epochs
    num_threads : int >= 1 or None, torch CPU threads during the run (restored after);
        None keeps torch's setting. The paper-size networks gain little from a second
        thread, and on a CPU shared with other jobs 1 thread avoids stalls of 10x and more

    Example
    -------
    >>> TrainConfig(epochs=10, batch_size=100, lr=2e-5, trainable=["heads.min_rate"]).trainable
    ('heads.min_rate',)
    """

    epochs: int = 100
    batch_size: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    patience: int | None = None
    monitor: str = "loss"
    mode: str = "min"
    seed: int = 0
    device: str = "auto"
    trainable: tuple[str, ...] | None = None
    lr_scales: dict = field(default_factory=dict)
    grad_clip: float | None = None
    lr_schedule: str = "constant"
    validate_every: int = 1
    valid_batch_size: int = 8192
    shuffle: bool = True
    drop_last: bool = False
    checkpoint_every_s: float | None = 60.0
    progress: bool = False
    num_threads: int | None = None

    RESUME_FREE: ClassVar[tuple[str, ...]] = (
        "epochs", "progress", "checkpoint_every_s", "num_threads"
    )
    """Fields that may change between a checkpoint and the run that resumes it."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "epochs", check_int("epochs", self.epochs, 1))
        set_(self, "batch_size", check_int("batch_size", self.batch_size, 1))
        set_(self, "lr", check_positive("lr", self.lr))
        set_(self, "weight_decay", check_nonnegative("weight_decay", self.weight_decay))
        check_choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        if self.patience is not None:
            set_(self, "patience", check_int("patience", self.patience, 1))
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ConfigError(f"monitor={self.monitor!r} is invalid; expected a metric name")
        check_choice("mode", self.mode, ("min", "max"))
        set_(self, "seed", check_int("seed", self.seed, 0))
        check_device_name(self.device)
        if self.trainable is not None:
            if isinstance(self.trainable, str) or not isinstance(self.trainable, Sequence):
                raise ConfigError(
                    f"trainable={self.trainable!r} is invalid; expected a list of "
                    "parameter-name prefixes or None"
                )
            if not self.trainable or not all(isinstance(p, str) and p for p in self.trainable):
                raise ConfigError(
                    f"trainable={list(self.trainable)!r} is invalid; expected a non-empty list "
                    "of non-empty prefixes (None trains everything)"
                )
            set_(self, "trainable", tuple(self.trainable))
        if not isinstance(self.lr_scales, Mapping):
            raise ConfigError(
                f"lr_scales={self.lr_scales!r} is invalid; expected a mapping prefix -> scale"
            )
        set_(
            self, "lr_scales",
            {str(k): check_positive(f"lr_scales[{k!r}]", v) for k, v in self.lr_scales.items()},
        )
        if self.grad_clip is not None:
            set_(self, "grad_clip", check_positive("grad_clip", self.grad_clip))
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        set_(self, "validate_every", check_int("validate_every", self.validate_every, 1))
        set_(self, "valid_batch_size", check_int("valid_batch_size", self.valid_batch_size, 1))
        for name in ("shuffle", "drop_last", "progress"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"{name}={getattr(self, name)!r} is invalid; expected true or false"
                )
        if self.num_threads is not None:
            set_(self, "num_threads", check_int("num_threads", self.num_threads, 1))
        if self.checkpoint_every_s is not None:
            set_(self, "checkpoint_every_s",
                 check_nonnegative("checkpoint_every_s", self.checkpoint_every_s))

    def to_dict(self) -> dict:
        """Every field by name, JSON-ready (``trainable`` as a list); see :meth:`from_dict`."""
        d = dataclasses.asdict(self)
        if d["trainable"] is not None:
            d["trainable"] = list(d["trainable"])
        return d

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text with sorted keys (as stored in checkpoints)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping) -> TrainConfig:
        """Rebuild a config from :meth:`to_dict`; an unknown key is a :class:`ConfigError`.

        Example
        -------
        >>> cfg = TrainConfig(epochs=3, trainable=["heads.min_rate"])
        >>> TrainConfig.from_dict(cfg.to_dict()) == cfg
        True
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ConfigError(
                f"{sorted(unknown)[0]} is not a training config field; expected one of "
                + ", ".join(sorted(names))
            )
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)


@dataclass
class FitResult:
    """What :func:`fit` returns (the model itself holds the best weights).

    Attributes
    ----------
    monitor, mode : the selection rule
    best_epoch : int, epoch of the kept weights (0 only if no epoch was validated)
    best_metric : float, validation ``monitor`` at ``best_epoch``
    best_metrics : dict, every validation metric at ``best_epoch``
    last_epoch : int, last completed epoch
    stopped_early : bool, stopped by ``patience``
    resumed_from : int or None, epoch of the checkpoint this call resumed from
    seconds : float, wall time of this call
    epochs_per_s : float, epochs trained per second in this call
    history : list of dict, the ``metrics.csv`` rows (valid metrics as ``valid_<name>``)
    run_dir : Path or None
    """

    monitor: str
    mode: str
    best_epoch: int
    best_metric: float
    best_metrics: dict
    last_epoch: int
    stopped_early: bool
    resumed_from: int | None
    seconds: float
    epochs_per_s: float
    history: list = field(default_factory=list, repr=False)
    run_dir: Path | None = None

    def to_dict(self) -> dict:
        """The fields without ``history``, JSON-ready (``run_dir`` as text), for ``fit.json``."""
        d = dataclasses.asdict(self)
        d.pop("history")
        d["run_dir"] = None if self.run_dir is None else str(self.run_dir)
        return d


# --------------------------------------------------------------------------- data


def check_data(name: str, data: Any) -> int:
    """Validate a data dict ``{key: tensor [n, ...]}`` and return ``n``.

    Raises :class:`ConfigError` when it is empty, holds a non-tensor, or the tensors
    disagree on the number of samples.
    """
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(
            f"{name} is empty; expected a dict of tensors with at least one sample"
        )
    n = None
    first = None
    for key, value in data.items():
        if not isinstance(value, torch.Tensor) or value.ndim == 0:
            raise ConfigError(
                f"{name}[{key!r}] is a {type(value).__name__}; expected a tensor [n, ...]"
            )
        if n is None:
            n, first = value.shape[0], key
        elif value.shape[0] != n:
            raise ConfigError(
                f"{name}[{key!r}] has {value.shape[0]} samples but {name}[{first!r}] has {n}; "
                "expected the same number"
            )
    if n == 0:
        raise ConfigError(f"{name} is empty (0 samples); expected at least one sample")
    return int(n)


def _as_tensors(data: Mapping, device: torch.device) -> dict[str, torch.Tensor]:
    """Move a data dict to ``device`` once (NumPy arrays become tensors, dtype kept)."""
    if not isinstance(data, Mapping):
        return data
    out = {}
    for key, value in data.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        out[key] = value.to(device) if isinstance(value, torch.Tensor) else value
    return out


@torch.no_grad()
def evaluate(
    model: nn.Module,
    objective: Objective,
    data: Mapping[str, torch.Tensor],
    batch_size: int = 8192,
) -> dict[str, float]:
    r"""Objective metrics on a whole data set, without gradients, in chunks.

    Every metric (and ``loss``) is averaged over chunks weighted by their size, which is
    exact for metrics that are batch means.

    Input
    -----
    model : nn.Module (set to eval mode during the call, then restored)
    objective : ``objective(model, batch) -> (loss, metrics)``
    data : dict of tensors ``[n, ...]``
    batch_size : int, samples per forward pass

    Output
    ------
    dict of str to float

    Example
    -------
    >>> from wirelessrl.models import TransferNet, d2d_net_config
    >>> from wirelessrl.objectives import Objective, D2DRateLoss
    >>> net = TransferNet.from_config(d2d_net_config(2))
    >>> m = evaluate(net, Objective(D2DRateLoss("sum"), head="sum_rate"),
    ...              {"x": torch.randn(10, 4), "g": torch.rand(10, 2, 2)})
    >>> sorted(m)
    ['loss', 'min_rate_bps_per_hz', 'sum_rate_bps_per_hz', 'task_loss']
    """
    n = check_data("data", data)
    batch_size = check_int("valid_batch_size", batch_size, 1)
    was_training = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    try:
        for start in range(0, n, batch_size):
            batch = {k: v[start:start + batch_size] for k, v in data.items()}
            m = next(iter(batch.values())).shape[0]
            loss, metrics = objective(model, batch)
            metrics = {"loss": loss, **metrics}
            for key, value in metrics.items():
                value = torch.as_tensor(value).detach().to(torch.float64) * m
                sums[key] = sums[key] + value if key in sums else value
    finally:
        model.train(was_training)
    return {k: float(v) / n for k, v in sums.items()}


# --------------------------------------------------------------------------- parameters


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _select_parameters(model: nn.Module, config: TrainConfig):
    """Trainable parameters grouped by learning rate; the others get requires_grad False."""
    named = list(model.named_parameters())
    tops = sorted({n.split(".")[0] for n, _ in named})
    for field_name, prefixes in (("trainable", config.trainable or ()),
                                 ("lr_scales", tuple(config.lr_scales))):
        for prefix in prefixes:
            if not any(_matches(n, prefix) for n, _ in named):
                raise ConfigError(
                    f"{field_name}: prefix {prefix!r} matches no parameter of the model; "
                    f"expected a prefix such as {', '.join(tops)}"
                )
    selected = [
        (n, p) for n, p in named
        if p.requires_grad
        and (config.trainable is None or any(_matches(n, q) for q in config.trainable))
    ]
    if not selected:
        raise ConfigError(
            f"trainable={config.trainable!r} selects no parameter that requires grad; "
            "expected at least one trainable parameter"
        )
    chosen = {id(p) for _, p in selected}
    frozen = [p for _, p in named if id(p) not in chosen and p.requires_grad]
    groups: dict[float, list[torch.Tensor]] = {}
    for n, p in selected:
        scale = 1.0
        best = -1
        for prefix, s in config.lr_scales.items():
            if _matches(n, prefix) and len(prefix) > best:
                scale, best = s, len(prefix)
        groups.setdefault(scale, []).append(p)
    param_groups = [
        {"params": ps, "lr": config.lr * scale} for scale, ps in sorted(groups.items())
    ]
    return [p for _, p in selected], param_groups, frozen


def _make_optimizer(config: TrainConfig, param_groups: list[dict]) -> torch.optim.Optimizer:
    """The optimizer; the fused kernel when available (one call per step, not per tensor)."""
    make = OPTIMIZERS[config.optimizer]
    kwargs = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in ("adam", "adamw"):
        try:
            return make(param_groups, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):
            pass
    return make(param_groups, **kwargs)


# --------------------------------------------------------------------------- fit


def _epoch_generator(seed: int, epoch: int, stream: int | None = None) -> torch.Generator:
    """CPU generator of one epoch; ``stream`` separates independent uses (None: shuffle)."""
    key = [seed, epoch] if stream is None else [seed, epoch, stream]
    state = np.random.SeedSequence(key).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


AUGMENT_STREAM = 1
"""``_epoch_generator`` stream of the augmentation (the shuffle uses the default one)."""


def augment_name(augment: Augment | None) -> str | None:
    """A stable name of an augmentation for checkpoints and ``fit.json``: its ``name``
    attribute when it is a string, else its qualified name (None: no augmentation)."""
    if augment is None:
        return None
    name = getattr(augment, "name", None)
    if isinstance(name, str) and name:
        return name
    target = augment if hasattr(augment, "__qualname__") else type(augment)
    return f"{target.__module__}.{target.__qualname__}"


def _check_augmented_batch(batch: Any, keys, n: int) -> dict:
    if not isinstance(batch, Mapping) or set(batch) != set(keys):
        got = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
        raise ConfigError(
            f"augment returned {got}; expected a dict with the keys {sorted(keys)}"
        )
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor) or value.ndim == 0 or value.shape[0] != n:
            raise ConfigError(
                f"augment returned {key!r} of shape "
                f"{tuple(getattr(value, 'shape', ()))}; expected a tensor with {n} samples"
            )
    return dict(batch)


def _finite_or_raise(value: float, what: str, epoch: int, ckpt: Path | None, ckpt_epoch):
    if math.isfinite(value):
        return
    where = (
        f"; the last good checkpoint is {str(ckpt)!r} (epoch {ckpt_epoch})"
        if ckpt is not None and ckpt_epoch is not None
        else "; no checkpoint was written"
    )
    raise TrainingDiverged(
        f"{what} became {value} at epoch {epoch}{where}. Lower the learning rate, set "
        "grad_clip, or check the inputs for NaN/inf."
    )


class _MetricsLog:
    """``metrics.csv``: one row per epoch; truncated to the checkpoint on resume."""

    def __init__(self, path: Path | None, resume_epoch: int | None):
        self.path = path
        self.columns: list[str] | None = None
        self.rows: list[dict] = []
        self.file = None
        self.writer = None
        self.last_flush = time.perf_counter()
        if path is None:
            return
        if resume_epoch is not None and path.is_file():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = reader.fieldnames
                for row in reader:
                    # a row torn by a kill lacks columns (its epoch may be cut short too)
                    if None in row.values() or int(row["epoch"]) > resume_epoch:
                        break
                    self.rows.append(
                        {k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
                    )
            for row in self.rows:
                row["epoch"] = int(row["epoch"])
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            if self.columns:
                w = csv.DictWriter(f, self.columns)
                w.writeheader()
                w.writerows(self.rows)
        self.file = open(path, "a", newline="")
        if self.columns:
            self.writer = csv.DictWriter(self.file, self.columns, extrasaction="ignore")

    def append(self, row: dict) -> None:
        """Keep ``row`` and write it to the file (the first row fixes the columns); flush
        at most every 2 s."""
        self.rows.append(row)
        if self.file is None:
            return
        if self.writer is None:
            self.columns = list(row)
            self.writer = csv.DictWriter(self.file, self.columns, extrasaction="ignore")
            self.writer.writeheader()
        self.writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in self.columns})
        now = time.perf_counter()
        if now - self.last_flush > 2.0:
            self.flush()

    def flush(self) -> None:
        """Push buffered rows to the file (before a checkpoint is written)."""
        if self.file is not None:
            self.file.flush()
            self.last_flush = time.perf_counter()

    def close(self) -> None:
        """Close the file (rows stay in :attr:`rows`)."""
        if self.file is not None:
            self.file.close()
            self.file = None


@dataclass
class FitState:
    """What the loop carries from epoch to epoch; a checkpoint is this state plus the
    model, optimizer and RNG (:class:`TrainingCheckpoint`).

    Attributes
    ----------
    epoch : int, last completed epoch
    best_epoch, best_metric, best_metrics, best_state : the best validation so far (epoch 0
        and ``inf`` with the mode's sign before any validation; ``best_state`` the weights)
    stopped_early : bool, patience ran out
    complete : bool, the checkpoint this run resumed from had finished
    resumed_from : int or None, epoch of that checkpoint
    elapsed_before : float, training seconds before this call (from the checkpoint)
    last_ckpt_epoch : int or None, epoch of the last checkpoint written (or read)
    """

    epoch: int
    best_metric: float
    best_epoch: int = 0
    best_metrics: dict = field(default_factory=dict)
    best_state: dict | None = None
    stopped_early: bool = False
    complete: bool = False
    resumed_from: int | None = None
    elapsed_before: float = 0.0
    last_ckpt_epoch: int | None = None


@dataclass
class TrainingCheckpoint:
    """The contents of ``last.pt``: its keys are these fields, defined here only.

    :meth:`payload` writes them (``best_metrics`` as JSON, ``augment`` only when set, as
    files of earlier versions did) and :meth:`from_payload` reads them back.
    """

    config: str
    epoch: int
    model: dict
    optimizer: dict
    best_state: dict | None
    best_epoch: int
    best_metric: float
    best_metrics: dict
    stopped_early: bool
    complete: bool
    rng_cpu: torch.Tensor
    rng_cuda: torch.Tensor | None
    elapsed_s: float
    augment: str | None = None
    format: str = CHECKPOINT_FORMAT

    def payload(self) -> dict:
        """The dict saved as ``last.pt``: the fields by name, ``best_metrics`` as JSON text,
        ``augment`` left out when None."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["best_metrics"] = json.dumps(self.best_metrics)
        if self.augment is None:
            del d["augment"]
        return d

    @classmethod
    def from_payload(cls, d: Mapping, path: Path) -> TrainingCheckpoint:
        """Read back a :meth:`payload` loaded from ``path`` (named in errors); a wrong
        ``format`` or a missing key is a :class:`ConfigError`."""
        if d.get("format") != CHECKPOINT_FORMAT:
            raise ConfigError(
                f"{str(path)!r} is not a training checkpoint (format={d.get('format')!r}; "
                f"expected {CHECKPOINT_FORMAT!r})"
            )
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [k for k in names if k not in d and k != "augment"]
        if missing:
            raise ConfigError(f"training checkpoint {str(path)!r} lacks {', '.join(missing)}")
        values = {k: d.get(k) for k in names}
        values["best_metrics"] = json.loads(d["best_metrics"])
        return cls(**values)


def _check_resume(ckpt: TrainingCheckpoint, config: TrainConfig, augment_id: str | None,
                  path: Path) -> None:
    defaults = TrainConfig().to_dict()  # a key newer than the checkpoint: its default
    old = {**defaults, **json.loads(ckpt.config)}
    new = config.to_dict()
    for key in sorted(set(old) | set(new)):
        if key in TrainConfig.RESUME_FREE:
            continue
        if old.get(key) != new.get(key):
            raise ConfigError(
                f"cannot resume from {str(path)!r}: it was written with {key}={old.get(key)!r}, "
                f"this run has {key}={new.get(key)!r}; expected the same config (use another "
                "run_dir, or resume=False to start over)"
            )
    if ckpt.augment != augment_id:
        raise ConfigError(
            f"cannot resume from {str(path)!r}: it was written with augment={ckpt.augment!r}, "
            f"this run has augment={augment_id!r}; expected the same augmentation (use another "
            "run_dir, or resume=False to start over)"
        )


@dataclass
class _Loop:
    """Everything one :func:`fit` call works with; the callbacks read and change it."""

    model: nn.Module
    objective: Objective
    train: dict
    valid: dict
    config: TrainConfig
    optimizer: torch.optim.Optimizer
    params: list
    device: torch.device
    state: FitState
    augment: Augment | None
    augment_id: str | None
    ckpt_path: Path | None
    t_start: float
    sign: float
    epoch_start: float = 0.0
    rank: int = 0  # torchrun: this process's rank; only rank 0 writes files
    world_size: int = 1
    train_model: nn.Module | None = None  # DistributedDataParallel(model) when world_size > 1

    def checkpoint(self, done: bool) -> TrainingCheckpoint:
        """The checkpoint of the current state."""
        s, device = self.state, self.device
        return TrainingCheckpoint(
            config=self.config.to_json(), augment=self.augment_id, epoch=s.epoch,
            model={k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            optimizer=self.optimizer.state_dict(), best_state=s.best_state,
            best_epoch=s.best_epoch, best_metric=s.best_metric, best_metrics=s.best_metrics,
            stopped_early=s.stopped_early, complete=done, rng_cpu=torch.get_rng_state(),
            rng_cuda=torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            elapsed_s=s.elapsed_before + time.perf_counter() - self.t_start,
        )

    def restore(self, ckpt: TrainingCheckpoint) -> None:
        """Continue from a checkpoint (model, optimizer, RNG and loop state)."""
        check_state_dict(self.model, ckpt.model, f"checkpoint {str(self.ckpt_path)!r}")
        self.model.load_state_dict(ckpt.model)
        self.optimizer.load_state_dict(ckpt.optimizer)
        torch.set_rng_state(ckpt.rng_cpu.cpu())
        if self.device.type == "cuda" and ckpt.rng_cuda is not None:
            torch.cuda.set_rng_state(ckpt.rng_cuda.cpu(), self.device)
        epoch = int(ckpt.epoch)
        self.state = FitState(
            epoch=epoch, resumed_from=epoch, last_ckpt_epoch=epoch,
            best_epoch=int(ckpt.best_epoch), best_metric=float(ckpt.best_metric),
            best_metrics=ckpt.best_metrics, best_state=ckpt.best_state,
            stopped_early=bool(ckpt.stopped_early), elapsed_before=float(ckpt.elapsed_s),
            complete=bool(ckpt.stopped_early) or epoch >= self.config.epochs,
        )

    def train_epoch(self, epoch: int) -> float:
        """One pass over the (shuffled, augmented) training minibatches; the mean loss.

        Under torchrun each rank trains on its share of every minibatch (see
        :mod:`wirelessrl.ddp`); the mean is over all ranks."""
        config, model, device = self.config, self.model, self.device
        net = self.train_model or model  # DistributedDataParallel(model) under torchrun
        model.train()
        aug_gen = (None if self.augment is None
                   else _epoch_generator(config.seed, epoch, AUGMENT_STREAM))
        total = torch.zeros((), dtype=torch.float64, device=device)
        seen = 0
        for batch in _minibatches(self.train, config, epoch, device):
            m = _rows(batch)
            if aug_gen is not None:
                batch = _check_augmented_batch(self.augment(batch, aug_gen), batch, m)
            weight = 1.0
            if self.world_size > 1:  # this rank's share of the global minibatch
                if m < self.world_size:
                    continue
                batch, weight = ddp.shard(batch, self.rank, self.world_size)
                m = _rows(batch)
            loss, _ = self.objective(net, batch)
            if not loss.requires_grad:
                raise ConfigError(
                    "the objective's loss does not depend on any trainable parameter; "
                    f"check trainable={config.trainable!r} and the objective's head"
                )
            self.optimizer.zero_grad(set_to_none=True)
            (loss if weight == 1.0 else loss * weight).backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.params, config.grad_clip)
            self.optimizer.step()
            total += loss.detach() * m
            seen += m
        if self.world_size > 1:
            total = ddp.all_sum(total)
            seen = int(ddp.all_sum(torch.tensor(seen, device=device)))
        return float(total) / max(seen, 1)


def _is_streamed(data: Any) -> bool:
    """A data set read in chunks (:class:`wirelessrl.loaders.ChunkedDataset`), not a dict."""
    return not isinstance(data, Mapping) and callable(getattr(data, "batches", None))


def _rows(data: Mapping[str, torch.Tensor]) -> int:
    return next(iter(data.values())).shape[0]


def _minibatches(train, config: TrainConfig, epoch: int, device: torch.device):
    """The training minibatches of one epoch: a seeded permutation of a dict of tensors
    (or its order), or the chunk-wise shuffle of a streamed data set; with ``drop_last``
    an incomplete last minibatch is skipped unless it is the only one."""
    bs = config.batch_size
    n_train = len(train) if _is_streamed(train) else _rows(train)
    gen = _epoch_generator(config.seed, epoch) if config.shuffle else None
    if _is_streamed(train):
        drop_last = config.drop_last and n_train >= bs
        for batch in train.batches(bs, generator=gen, drop_last=drop_last):
            yield {k: v.to(device) for k, v in batch.items()}
        return
    n_used = (n_train // bs) * bs if config.drop_last and n_train >= bs else n_train
    order = None if gen is None else torch.randperm(n_train, generator=gen).to(device)
    for start in range(0, n_used, bs):
        if order is None:
            yield {k: v[start:start + bs] for k, v in train.items()}
        else:
            idx = order[start:start + bs]
            yield {k: v.index_select(0, idx) for k, v in train.items()}


class Callback:
    """A hook of :func:`fit`'s loop (Lightning-style, without Lightning): called before every
    epoch trains (e.g. a schedule of a loss weight, a function of the epoch alone, so a
    resumed run sets it exactly as an uninterrupted one), after every epoch with the training
    loss and the validation metrics (None when the epoch was not validated), and once at the
    end (in reverse order of the list)."""

    def on_epoch_start(self, loop: _Loop, epoch: int) -> None:
        """Before epoch ``epoch`` (1-based) trains."""

    def on_epoch_end(self, loop: _Loop, train_loss: float, metrics: dict | None) -> None:
        """After epoch ``loop.state.epoch``."""

    def on_fit_end(self, loop: _Loop) -> None:
        """After the last epoch (also when the run was complete already)."""


class BestWeights(Callback):
    """Keep the weights of the best validation ``monitor`` (the mode's direction); load them
    into the model at the end."""

    def on_epoch_end(self, loop: _Loop, train_loss: float, metrics: dict | None) -> None:
        """Record the epoch as the best (metric, epoch, metrics and a copy of the weights)
        when its ``monitor`` beats the best so far."""
        s = loop.state
        if metrics is not None and loop.sign * metrics[loop.config.monitor] < \
                loop.sign * s.best_metric:
            s.best_metric, s.best_epoch = metrics[loop.config.monitor], s.epoch
            s.best_metrics = dict(metrics)
            s.best_state = {k: v.detach().clone() for k, v in loop.model.state_dict().items()}

    def on_fit_end(self, loop: _Loop) -> None:
        """Load the best weights into ``loop.model`` (if any epoch was validated)."""
        if loop.state.best_state is not None:
            loop.model.load_state_dict(loop.state.best_state)


class LRSchedule(Callback):
    """Set every parameter group's learning rate for the epoch from ``config.lr_schedule``
    (:data:`LR_SCHEDULES`); the group's base rate is kept in its ``initial_lr`` (saved with
    the optimizer state, as torch's schedulers do), so a resumed run continues the schedule.

    Example
    -------
    >>> [round(LRSchedule.factor("cosine", e, 4), 3) for e in (1, 2, 3, 4)]
    [1.0, 0.854, 0.5, 0.146]
    """

    @staticmethod
    def factor(schedule: str, epoch: int, epochs: int) -> float:
        """The learning rate of epoch ``epoch`` (1-based) of ``epochs``, as a fraction of
        the base rate."""
        if schedule == "constant":
            return 1.0
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))

    def on_epoch_start(self, loop: _Loop, epoch: int) -> None:
        """Scale the base rates for epoch ``epoch``."""
        if loop.config.lr_schedule == "constant":
            return  # the rates as given: the same bytes as before schedules existed
        f = self.factor(loop.config.lr_schedule, epoch, loop.config.epochs)
        for group in loop.optimizer.param_groups:
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * f


class EarlyStopping(Callback):
    """Stop after ``patience`` validated epochs without a better monitor."""

    def on_epoch_end(self, loop: _Loop, train_loss: float, metrics: dict | None) -> None:
        """Set ``loop.state.stopped_early`` once ``patience`` epochs passed since the best."""
        s, patience = loop.state, loop.config.patience
        if metrics is not None and patience is not None and s.epoch - s.best_epoch >= patience:
            s.stopped_early = True


class MetricsCSV(Callback):
    """One row per epoch in ``metrics.csv`` (``train_loss``, ``valid_<metric>``, lr,
    seconds); the rows are the :attr:`FitResult.history`."""

    def __init__(self, log: _MetricsLog) -> None:
        self.log = log

    def on_epoch_end(self, loop: _Loop, train_loss: float, metrics: dict | None) -> None:
        """Append the epoch's row (validation columns empty when it was not validated)."""
        row: dict[str, Any] = {"epoch": loop.state.epoch, "train_loss": train_loss}
        for key in (self.log.columns or [f"valid_{k}" for k in sorted(metrics or {})]):
            if key.startswith("valid_"):
                row[key] = None if metrics is None else metrics.get(key[6:])
        row["lr"] = max(group["lr"] for group in loop.optimizer.param_groups)
        row["seconds"] = time.perf_counter() - loop.epoch_start
        self.log.append(row)


class Progress(Callback):
    """A tqdm bar over epochs with the training loss and the best metric."""

    def __init__(self, config: TrainConfig, start_epoch: int, disable: bool) -> None:
        self.bar = tqdm(total=config.epochs, initial=start_epoch, unit="epoch", mininterval=0.5,
                        disable=disable, dynamic_ncols=True)
        self.last_postfix = 0.0

    def on_epoch_end(self, loop: _Loop, train_loss: float, metrics: dict | None) -> None:
        """Advance the bar; refresh its loss / best text at most once a second."""
        if not loop.config.progress:
            return
        self.bar.update(1)
        if time.perf_counter() - self.last_postfix > 1.0:
            s = loop.state
            self.bar.set_postfix(train_loss=f"{train_loss:.4g}",
                                 best=f"{s.best_metric:.4g}@{s.best_epoch}", refresh=False)
            self.last_postfix = time.perf_counter()

    def on_fit_end(self, loop: _Loop) -> None:
        """Close the bar."""
        self.bar.close()


class Checkpoints(Callback):
    """``last.pt`` at most every ``checkpoint_every_s`` seconds and at the end (not after
    an early stop: the end writes it)."""

    def __init__(self, log: _MetricsLog) -> None:
        self.log = log
        self.last_time = time.perf_counter()

    def save(self, loop: _Loop, done: bool) -> None:
        """Write ``last.pt`` of the current state (rank 0 only, after flushing
        ``metrics.csv``); ``done`` marks the run complete."""
        if loop.ckpt_path is None or loop.rank != 0:
            return
        self.log.flush()
        save_checkpoint(loop.ckpt_path, loop.checkpoint(done).payload())
        loop.state.last_ckpt_epoch, self.last_time = loop.state.epoch, time.perf_counter()

    def on_epoch_end(self, loop: _Loop, train_loss: float, metrics: dict | None) -> None:
        """Save an unfinished checkpoint once ``checkpoint_every_s`` seconds passed since the
        last one (not on an early stop: :meth:`on_fit_end` saves then)."""
        every = loop.config.checkpoint_every_s
        if (not loop.state.stopped_early and every is not None
                and time.perf_counter() - self.last_time >= every):
            self.save(loop, done=False)

    def on_fit_end(self, loop: _Loop) -> None:
        """Save the final checkpoint (unless the run was complete when it started)."""
        if not loop.state.complete:
            self.save(loop, done=True)


def fit(
    model: nn.Module,
    objective: Objective,
    train: Mapping[str, torch.Tensor],
    valid: Mapping[str, torch.Tensor],
    config: TrainConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = True,
    augment: Augment | None = None,
    callbacks: Sequence[Callback] = (),
) -> FitResult:
    r"""Train ``model`` on ``objective``; keep the best-validation weights.

    The loop is :meth:`_Loop.train_epoch`, validation, then the callbacks in order:
    :class:`BestWeights`, :class:`EarlyStopping`, :class:`MetricsCSV`, :class:`Progress`,
    :class:`Checkpoints` (each reads and updates the :class:`FitState`); at the end their
    ``on_fit_end`` in reverse order (the last checkpoint holds the last epoch's weights,
    then the best weights are loaded).

    Input
    -----
    model : nn.Module, trained in place (moved to ``config.device``)
    objective : ``objective(model, batch) -> (loss, metrics)``; ``loss`` a scalar tensor,
        ``metrics`` a dict of scalar batch means (e.g. :class:`wirelessrl.objectives.Objective`)
    train : dict of tensors ``[n_train, ...]``, indexed along the first axis into
        minibatches, or a :class:`wirelessrl.loaders.ChunkedDataset` (read from disk in
        chunks; chunks and the rows inside them shuffled from the epoch's generator)
    valid : dict of tensors ``[n_valid, ...]``
    config : :class:`TrainConfig`
    run_dir : directory for ``metrics.csv``, ``last.pt`` and ``fit.json``; None keeps
        nothing on disk
    resume : continue from ``run_dir/last.pt`` when it exists (its config must match,
        except for the fields in ``TrainConfig.RESUME_FREE``: epochs, progress,
        checkpoint_every_s, num_threads; and so must the augmentation's name)
    augment : ``augment(batch, generator) -> batch`` or None, applied to every training
        minibatch (never to validation); ``generator`` is a CPU ``torch.Generator`` seeded
        from ``(config.seed, epoch)`` on a stream of its own, so the run is reproducible
        and resumable. None (default) trains on the data as given
    callbacks : extra :class:`Callback` objects, run after the built-in ones each epoch

    Output
    ------
    :class:`FitResult`; the model holds the weights of ``best_epoch``

    Raises :class:`ConfigError` on bad input and :class:`TrainingDiverged` on a
    non-finite loss or metric.

    Example
    -------
    >>> from wirelessrl.models import TransferNet, d2d_net_config
    >>> from wirelessrl.objectives import Objective, D2DRateLoss
    >>> net = TransferNet.from_config(d2d_net_config(2))
    >>> data = {"x": torch.randn(40, 4), "g": torch.rand(40, 2, 2)}
    >>> res = fit(net, Objective(D2DRateLoss("sum"), head="sum_rate"), data, data,
    ...           TrainConfig(epochs=3, batch_size=20, device="cpu"))
    >>> res.last_epoch
    3
    """
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a TrainConfig")
    if not callable(objective):
        raise ConfigError(f"objective={objective!r} is invalid; expected a callable")
    if augment is not None and not callable(augment):
        raise ConfigError(
            f"augment={augment!r} is invalid; expected a callable (batch, generator) -> batch "
            "or None"
        )
    augment_id = augment_name(augment)
    device = resolve_device(config.device)
    rank, world_size, device = ddp.setup(device)  # (0, 1) unless run under torchrun
    train = _as_tensors(train, device)
    valid = _as_tensors(valid, device)
    if not _is_streamed(train):
        check_data("train", train)
    check_data("valid", valid)
    model.to(device)
    run_path = Path(run_dir) if run_dir is not None else None
    ckpt_path = run_path / CHECKPOINT_NAME if run_path is not None else None

    params, param_groups, frozen = _select_parameters(model, config)
    probe = evaluate(model, objective, {k: v[:8] for k, v in valid.items()})
    if config.monitor not in probe:
        raise ConfigError(
            f"monitor={config.monitor!r} is not a validation metric; expected one of "
            f"{', '.join(sorted(probe))}"
        )
    optimizer = _make_optimizer(config, param_groups)
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    threads_before = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    for p in frozen:
        p.requires_grad_(False)
    log = None
    sign = 1.0 if config.mode == "min" else -1.0
    loop = _Loop(model, objective, train, valid, config, optimizer, params, device,
                 FitState(epoch=0, best_metric=math.inf * sign), augment, augment_id,
                 ckpt_path, time.perf_counter(), sign, rank=rank, world_size=world_size)
    try:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(config.seed)
            if run_path is not None:
                run_path.mkdir(parents=True, exist_ok=True)
            if ckpt_path is not None and resume and ckpt_path.is_file():
                ckpt = TrainingCheckpoint.from_payload(
                    load_checkpoint(ckpt_path, map_location=device), ckpt_path)
                _check_resume(ckpt, config, augment_id, ckpt_path)
                loop.restore(ckpt)
            state = loop.state
            start_epoch = state.epoch
            log = _MetricsLog(run_path / METRICS_NAME if run_path and rank == 0 else None,
                              state.resumed_from)
            loop.train_model = ddp.wrap(model, device)  # after a resume: same weights
            hooks = [LRSchedule(), BestWeights(), EarlyStopping(), MetricsCSV(log),
                     Progress(config, start_epoch, not config.progress or state.complete),
                     Checkpoints(log), *callbacks]
            for epoch in range(start_epoch + 1, config.epochs + 1):
                if state.complete:
                    break
                loop.epoch_start = time.perf_counter()
                for hook in hooks:
                    hook.on_epoch_start(loop, epoch)
                train_loss = loop.train_epoch(epoch)
                _finite_or_raise(train_loss, "the training loss", epoch, ckpt_path,
                                 state.last_ckpt_epoch)
                state.epoch = epoch
                metrics = None
                if epoch % config.validate_every == 0 or epoch == config.epochs or epoch == 1:
                    metrics = evaluate(model, objective, valid, config.valid_batch_size)
                    for key, value in metrics.items():
                        _finite_or_raise(value, f"validation {key}", epoch, ckpt_path,
                                         state.last_ckpt_epoch)
                for hook in hooks:
                    hook.on_epoch_end(loop, train_loss, metrics)
                if state.stopped_early:
                    break
            for hook in reversed(hooks):  # the last checkpoint before the best weights
                hook.on_fit_end(loop)
    except TrainingDiverged as err:
        if loop.state.best_state is not None:
            model.load_state_dict(loop.state.best_state)
            raise TrainingDiverged(
                f"{err} The model holds the best weights so far (epoch {loop.state.best_epoch})."
            ) from None
        raise
    finally:
        torch.set_num_threads(threads_before)
        for p in frozen:
            p.requires_grad_(True)
        if log is not None:
            log.close()
    state = loop.state
    seconds = time.perf_counter() - loop.t_start
    trained = state.epoch - start_epoch
    result = FitResult(
        monitor=config.monitor, mode=config.mode, best_epoch=state.best_epoch,
        best_metric=state.best_metric, best_metrics=state.best_metrics,
        last_epoch=state.epoch, stopped_early=state.stopped_early,
        resumed_from=state.resumed_from, seconds=seconds,
        epochs_per_s=trained / seconds if seconds > 0 else 0.0,
        history=log.rows, run_dir=run_path,
    )
    if run_path is not None and rank == 0:
        summary = {"config": config.to_dict(), "result": result.to_dict()}
        if augment_id is not None:
            summary["augment"] = augment_id
        with atomic_path(run_path / RESULT_NAME) as tmp:
            tmp.write_text(json.dumps(summary, indent=2, sort_keys=True))
    ddp.barrier()  # under torchrun the other ranks return once rank 0's files are in place
    return result
