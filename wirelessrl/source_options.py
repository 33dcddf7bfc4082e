r"""Source-training variants: loss balancing, a variational bottleneck, contrastive pre-training.

Each is a named option of the ``source`` config section, read into one
:class:`SourceOptions`, and changes only what :func:`wirelessrl.transfer.train_source` hands
to the one training loop (:func:`wirelessrl.engine.fit`): the objective, the network config
or an extra ``fit`` call before the usual one. At their defaults nothing changes (the same
network, objective and loop: the same bytes as before these options existed).

``loss_balance`` (how the source's two losses are combined while training)

* ``fixed`` (default, the paper): ``L = L_task + alpha L_rec``.
* ``uncertainty`` (Kendall, Gal and Cipolla, CVPR 2018): learned log-variances ``s_i``,
  minimized jointly with the weights,

  .. math::  L = \sum_i e^{-s_i} L_i + s_i,

  over the reconstruction MSE and, when the task loss is >= 0 on every batch (MSE, cross
  entropy: ``NONNEGATIVE`` task losses such as MISO ``mrt-mse`` and MNIST BCE), the task
  loss too. A signed task loss (the D2D and multi-user rates, ``-rate`` in nats; the
  unsupervised beamforming gain) keeps weight 1: ``e^{-s} L`` with ``L < 0`` is unbounded
  below, and the task loss is the objective the others are measured against (as alpha
  is). The ``s_i`` start at the paper's weights (``s_task = 0``, ``s_rec = -ln alpha``),
  are the parameter ``loss_log_vars`` of the source network (saved in its ``net.pt``,
  checkpointed and resumed with it) and are dropped with the decoder: no target network
  holds them.
* ``warmup``: ``L = L_task + alpha_e L_rec`` with alpha ramped linearly over
  ``warmup_epochs`` epochs from ``warmup_start * alpha``:
  ``alpha_e = alpha (w0 + (1 - w0) min(1, (e - 1) / W))`` for epoch ``e = 1, 2, ...`` (with
  ``W = 4``, ``w0 = 0``: 0, 0.25, 0.5, 0.75, then 1 times alpha from epoch 5 on), a function
  of the epoch alone, so a resumed run uses the weights of an uninterrupted one.

Whatever the balance, validation reports and selects on the paper's objective
``L_task + alpha L_rec`` at the configured alpha (:class:`wirelessrl.objectives.Objective`
in evaluation mode) and on the task's monitored metric; the training weight of the
reconstruction term is logged as the validation metric ``rec_weight``
(``metrics.csv`` column ``valid_rec_weight``; ``valid_task_weight`` when the task loss has a
learned weight too).

``bottleneck`` (the feature layer)

* ``none`` (default): the paper's deterministic feature layer.
* ``variational`` (beta-VAE / variational information bottleneck):
  :class:`wirelessrl.models.VariationalFeatures` turns the feature layer into the mean and
  log-variance of ``q(z | x)``; training uses a reparameterized sample and adds
  ``beta * KL(q(z | x) || N(0, I))`` (summed over the feature dimensions, averaged over
  the samples, and over the nodes / users of the graph and structured families) to the
  training loss; evaluation and inference use the mean. Every target network gets the mean
  only (:meth:`~wirelessrl.models.TransferNet.drop_decoder` drops the log-variance layer),
  so the target strategies see deterministic features.

``pretrain`` (before the source training)

* ``none`` (default).
* ``contrastive``: SimCLR-style pre-training of the feature module for ``pretrain_epochs``
  epochs: two views of every sample, each corrupted independently by
  :class:`wirelessrl.corruption.InputCorruption` (``contrastive_corruption`` at
  ``contrastive_corruption_level``) are positives, the other samples of the minibatch
  negatives, under the NT-Xent loss (:func:`wirelessrl.objectives.nt_xent`, temperature
  ``contrastive_temperature``) on a small projection head (``d -> d -> d`` MLP on the
  learned features, averaged over nodes / users for the per-node families) that is dropped
  afterwards. It is a :func:`~wirelessrl.engine.fit` run of its own (objective
  :class:`ContrastiveObjective`, the views drawn by its ``augment`` hook), in
  ``<run_dir>/pretrain/``, resumable; its validation views are drawn once from the seed.
  The weights of its best validation NT-Xent are the start of the usual source training.

The options apply to the source networks the strategies start from: ``loss_balance`` to
the reconstruction source only (the conventional one has a single loss), the bottleneck
and the pre-training to every source network (so ``conventional`` with them is the variant
without a reconstruction loss).

Example
-------
>>> opts = SourceOptions.from_section({"loss_balance": "warmup", "warmup_epochs": 4})
>>> [opts.balance(3.0, None).alpha_at(e) for e in (1, 2, 5, 9)]
[0.0, 0.75, 3.0, 3.0]
>>> SourceOptions.from_section({"beta": -1})
Traceback (most recent call last):
...
simulators.validation.ConfigError: source.beta=-1 is invalid; expected a number >= 0
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from simulators.validation import (
    ConfigError,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    parse_scalar,
)
from wirelessrl.corruption import InputCorruption
from wirelessrl.engine import Callback, FitResult, TrainConfig, fit
from wirelessrl.models import FAMILIES, MLP, TransferNet
from wirelessrl.objectives import Metrics, combined_loss, nt_xent, uncertainty_weighted

__all__ = ["LOSS_BALANCES", "BOTTLENECKS", "PRETRAININGS", "CONTRASTIVE_CORRUPTIONS",
           "SECTION_KEYS", "SourceOptions", "UncertaintyBalance", "AlphaWarmup",
           "ContrastiveModel", "ContrastiveObjective", "TwoViews", "pretrain_contrastive",
           "source_options", "check_source_options", "hashed_source_options",
           "init_log_variances", "PRETRAIN_DIR"]

LOSS_BALANCES = ("fixed", "uncertainty", "warmup")
"""Values of ``source.loss_balance``."""
BOTTLENECKS = ("none", "variational")
"""Values of ``source.bottleneck``."""
PRETRAININGS = ("none", "contrastive")
"""Values of ``source.pretrain``."""
CONTRASTIVE_CORRUPTIONS = ("denoising", "masked")
"""Values of ``source.contrastive_corruption`` (the kinds of
:class:`wirelessrl.corruption.InputCorruption`)."""
PRETRAIN_DIR = "pretrain"
"""Sub-folder of a source run that holds its contrastive pre-training run."""
PRETRAIN_VIEW_STREAM = 3
"""Seed stream of the validation views of the pre-training (drawn once per run)."""
PROJECTION_STREAM = 4
"""Seed stream of the projection head's initialization."""

_BALANCE_KEYS = {"uncertainty": ("loss_balance",),
                 "warmup": ("loss_balance", "warmup_epochs", "warmup_start")}
_BOTTLENECK_KEYS = ("bottleneck", "beta")
_PRETRAIN_KEYS = ("pretrain", "pretrain_epochs", "pretrain_batch_size",
                  "contrastive_temperature", "contrastive_corruption",
                  "contrastive_corruption_level")


def _int(field: str, value: Any, minimum: int) -> int:
    """An integer >= ``minimum``; numbers given as text are read as the config loader reads
    them (``"20"`` is 20, ``"1e-3"`` a fraction, so not an integer)."""
    try:
        return check_int(field, parse_scalar(value, "int"), minimum)
    except ConfigError:
        raise ConfigError(f"{field}={value!r} is invalid; expected an integer >= {minimum}"
                          ) from None


@dataclass(frozen=True)
class SourceOptions:
    """The source-training variants of a ``source`` config section (see the module
    docstring); validated at construction, errors name the field.

    Attributes
    ----------
    loss_balance : ``fixed`` | ``uncertainty`` | ``warmup``
    warmup_epochs : int >= 1, epochs of the linear ramp of alpha (``warmup``)
    warmup_start : float in [0, 1], alpha at epoch 1 as a fraction of alpha (``warmup``)
    bottleneck : ``none`` | ``variational``
    beta : float >= 0, weight of the KL term (``variational``)
    pretrain : ``none`` | ``contrastive``
    pretrain_epochs : int >= 1, epochs of the contrastive pre-training
    pretrain_batch_size : int >= 1 or None, its minibatch (None: the source's batch size);
        the NT-Xent similarity matrix holds ``(2 B)^2`` entries, so its cost per sample grows
        with ``B`` (D2D quick scale, 1 thread: ~16 s per epoch at B = 2,000)
    contrastive_temperature : float > 0, NT-Xent temperature ``tau``
    contrastive_corruption : ``denoising`` | ``masked``, how each view is corrupted
    contrastive_corruption_level : float > 0, its noise std (standardized input units) or
        hiding probability (< 1)

    Example
    -------
    >>> SourceOptions().is_default, SourceOptions(bottleneck="variational").active()
    (True, {'bottleneck': 'variational', 'beta': 0.001})
    """

    loss_balance: str = "fixed"
    warmup_epochs: int = 10
    warmup_start: float = 0.0
    bottleneck: str = "none"
    beta: float = 1e-3
    pretrain: str = "none"
    pretrain_epochs: int = 20
    pretrain_batch_size: int | None = 256
    contrastive_temperature: float = 0.5
    contrastive_corruption: str = "masked"
    contrastive_corruption_level: float = 0.2

    def __post_init__(self) -> None:
        for key, value in _checked(dataclasses.asdict(self), "source").items():
            object.__setattr__(self, key, value)

    @classmethod
    def from_section(cls, section: Mapping[str, Any], where: str = "source") -> SourceOptions:
        """The options of a config section (absent keys: defaults; other keys ignored);
        errors name ``<where>.<key>``."""
        values = {k: section[k] for k in SECTION_KEYS if k in section}
        return cls(**_checked({**dataclasses.asdict(cls()), **values}, where))

    @property
    def is_default(self) -> bool:
        """True when every option is off (the paper's source training)."""
        return not self.active()

    def active_keys(self, source: str | None = "reconstruction") -> tuple[str, ...]:
        """The keys that change the training of source network ``source``
        (``reconstruction``, ``conventional``; None: no source network, nothing)."""
        if source is None:
            return ()
        keys: tuple[str, ...] = ()
        if source != "conventional":
            keys += _BALANCE_KEYS.get(self.loss_balance, ())
        if self.bottleneck != "none":
            keys += _BOTTLENECK_KEYS
        if self.pretrain != "none":
            keys += _PRETRAIN_KEYS
        return keys

    def active(self, source: str | None = "reconstruction") -> dict[str, Any]:
        """``{key: value}`` of :meth:`active_keys` (for provenance and step hashes)."""
        return {k: getattr(self, k) for k in self.active_keys(source)}

    def for_source(self, source: str) -> SourceOptions:
        """The options source network ``source`` trains with: the conventional source
        (one loss) keeps the fixed balance."""
        if source == "conventional" and self.loss_balance != "fixed":
            return dataclasses.replace(self, loss_balance="fixed")
        return self

    def log_variances(self, task_loss: Any) -> int:
        """Number of learned log-variances (``uncertainty``): the reconstruction's, and
        the task loss's when it is ``NONNEGATIVE``; else 0."""
        if self.loss_balance != "uncertainty":
            return 0
        return 2 if getattr(task_loss, "NONNEGATIVE", False) else 1

    def net_changes(self, task_loss: Any) -> dict[str, Any]:
        """:class:`~wirelessrl.models.NetConfig` fields these options set (empty at the
        defaults)."""
        changes: dict[str, Any] = {}
        if self.bottleneck != "none":
            changes["bottleneck"] = self.bottleneck
        if self.log_variances(task_loss):
            changes["loss_log_variances"] = self.log_variances(task_loss)
        return changes

    def balance(self, alpha: float, task_loss: Any) -> UncertaintyBalance | AlphaWarmup | None:
        """The :data:`~wirelessrl.objectives.LossBalance` of ``loss_balance`` for
        reconstruction weight ``alpha`` (None: ``fixed``)."""
        if self.loss_balance == "uncertainty":
            return UncertaintyBalance(learn_task=self.log_variances(task_loss) == 2)
        if self.loss_balance == "warmup":
            return AlphaWarmup(alpha, self.warmup_epochs, self.warmup_start)
        return None

    def kl_weight(self) -> float:
        """``beta`` with a variational bottleneck, else 0."""
        return self.beta if self.bottleneck == "variational" else 0.0


SECTION_KEYS = tuple(f.name for f in dataclasses.fields(SourceOptions))
"""The config keys of a ``source`` section read by :meth:`SourceOptions.from_section`."""


def _checked(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Validated, normalized option values (numbers as the config loader reads them)."""
    def field(key: str) -> str:
        return f"{where}.{key}"

    out = dict(values)
    check_choice(field("loss_balance"), out["loss_balance"], LOSS_BALANCES)
    out["warmup_epochs"] = _int(field("warmup_epochs"), out["warmup_epochs"], 1)
    start = check_nonnegative(field("warmup_start"), out["warmup_start"])
    if start > 1:
        raise ConfigError(f"{field('warmup_start')}={out['warmup_start']!r} is invalid; "
                          "expected a fraction of alpha in [0, 1]")
    out["warmup_start"] = start
    check_choice(field("bottleneck"), out["bottleneck"], BOTTLENECKS)
    out["beta"] = check_nonnegative(field("beta"), out["beta"])
    check_choice(field("pretrain"), out["pretrain"], PRETRAININGS)
    out["pretrain_epochs"] = _int(field("pretrain_epochs"), out["pretrain_epochs"], 1)
    if out["pretrain_batch_size"] is not None:
        out["pretrain_batch_size"] = _int(field("pretrain_batch_size"),
                                          out["pretrain_batch_size"], 1)
    out["contrastive_temperature"] = check_positive(field("contrastive_temperature"),
                                                    out["contrastive_temperature"])
    check_choice(field("contrastive_corruption"), out["contrastive_corruption"],
                 CONTRASTIVE_CORRUPTIONS)
    level = check_positive(field("contrastive_corruption_level"),
                           out["contrastive_corruption_level"])
    if out["contrastive_corruption"] == "masked" and level >= 1:
        raise ConfigError(f"{field('contrastive_corruption_level')}="
                          f"{out['contrastive_corruption_level']!r} is invalid for masked views; "
                          "expected a hiding probability in (0, 1)")
    out["contrastive_corruption_level"] = level
    return out


def source_options(section: Mapping[str, Any], source: str,
                   where: str = "source") -> SourceOptions:
    """The options source network ``source`` (``conventional``, ``reconstruction``) of a
    config section trains with (:meth:`SourceOptions.for_source`)."""
    return SourceOptions.from_section(section, where).for_source(source)


def check_source_options(section: Mapping[str, Any], where: str = "source") -> None:
    """Config check: valid options, and a loss balance other than ``fixed`` only with a
    reconstruction loss (``alpha > 0``); errors name the field."""
    opts = SourceOptions.from_section(section, where)
    alpha = section.get("alpha", 0.0)
    positive = isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and alpha > 0
    if opts.loss_balance != "fixed" and not positive:
        raise ConfigError(f"{where}.loss_balance={opts.loss_balance!r} needs {where}.alpha > 0 "
                          f"(there is no reconstruction loss to balance); got "
                          f"alpha={section.get('alpha')!r}")


def hashed_source_options(section: Mapping[str, Any], source: str | None) -> dict[str, Any]:
    """The source section as the hash of a step that starts from source network ``source``
    (None: from no source network) should see it: the option keys that do not change that
    network are left out (all of them at the defaults, so runs made before these options
    existed keep their hashes), the others normalized (``1`` and ``1.0`` train the same
    network)."""
    opts = SourceOptions.from_section(section)
    keep = opts.active(source)
    out = {k: v for k, v in section.items() if k not in SECTION_KEYS}
    out.update(keep)
    return out


# ------------------------------------------------------------------ loss balancing


class UncertaintyBalance:
    r"""Learned loss weights (Kendall et al. 2018), read from the model output's
    ``log_variances`` (:attr:`wirelessrl.models.TransferNet.loss_log_vars`):

    ``learn_task``: ``e^{-s_0} L_task + s_0 + e^{-s_1} L_rec + s_1``; otherwise
    ``L_task + e^{-s_0} L_rec + s_0`` (a signed task loss, see the module docstring).

    Call ``(task, rec, model_output) -> (loss, {"rec_weight"[, "task_weight"]})``, the weights
    ``e^{-s_i}``.
    """

    name = "uncertainty"

    def __init__(self, learn_task: bool) -> None:
        self.learn_task = bool(learn_task)

    def __call__(self, task: torch.Tensor, rec: torch.Tensor,
                 res: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        if "log_variances" not in res:
            raise ConfigError("loss_balance='uncertainty' needs the network's loss_log_vars; "
                              "expected loss_log_variances > 0 in the network config")
        s = res["log_variances"]
        if self.learn_task:
            loss = uncertainty_weighted(torch.stack([task, rec.to(task.dtype)]), s)
        else:
            loss = task + uncertainty_weighted(rec.to(task.dtype).reshape(1), s)
        with torch.no_grad():
            metrics = {"rec_weight": torch.exp(-s[-1])}
            if self.learn_task:
                metrics["task_weight"] = torch.exp(-s[0])
        return loss, metrics

    def __repr__(self) -> str:
        return f"UncertaintyBalance(learn_task={self.learn_task})"


def init_log_variances(net: TransferNet, alpha: float) -> None:
    """Start the learned weights at the paper's: ``s_rec = -ln alpha`` (weight alpha) and,
    when present, ``s_task = 0`` (weight 1)."""
    if net.loss_log_vars is not None:
        with torch.no_grad():
            net.loss_log_vars.zero_()
            net.loss_log_vars[-1] = -math.log(alpha)


class AlphaWarmup(Callback):
    r"""``L_task + alpha_e L_rec`` with ``alpha_e = alpha (w0 + (1 - w0) min(1, (e - 1) / W))``:
    a :data:`~wirelessrl.objectives.LossBalance` and a :class:`~wirelessrl.engine.Callback`
    of :func:`~wirelessrl.engine.fit` that sets the epoch ``e`` before each epoch trains.

    Input: ``alpha`` float > 0, ``epochs`` (``W``) int >= 1, ``start`` (``w0``) in [0, 1].

    Example
    -------
    >>> w = AlphaWarmup(4.0, epochs=2, start=0.5)
    >>> [w.alpha_at(e) for e in (1, 2, 3, 4)]
    [2.0, 3.0, 4.0, 4.0]
    """

    name = "warmup"

    def __init__(self, alpha: float, epochs: int, start: float = 0.0) -> None:
        self.alpha = check_positive("alpha", alpha)
        self.epochs = check_int("warmup_epochs", epochs, 1)
        self.start = check_nonnegative("warmup_start", start)
        self.epoch = 1

    def alpha_at(self, epoch: int) -> float:
        """The reconstruction weight of epoch ``epoch`` (1-based)."""
        ramp = min(1.0, (epoch - 1) / self.epochs)
        return self.alpha * (self.start + (1.0 - self.start) * ramp)

    def on_epoch_start(self, loop: Any, epoch: int) -> None:
        """Use the weight of epoch ``epoch`` from now on."""
        self.epoch = int(epoch)

    def __call__(self, task: torch.Tensor, rec: torch.Tensor,
                 res: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        weight = self.alpha_at(self.epoch)
        return combined_loss(task, rec, weight), {"rec_weight": torch.tensor(weight)}

    def __repr__(self) -> str:
        return f"AlphaWarmup(alpha={self.alpha}, epochs={self.epochs}, start={self.start})"


# ------------------------------------------------------------------ contrastive pre-training


def _seed(seed: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0]) % 2**63


class ContrastiveModel(nn.Module):
    """A feature module (shared, trained in place) and a projection head ``d -> d -> d``.

    Call: ``x`` (the network input) -> ``z : [batch, d]``, the projection of the learned
    features ``features(x)[..., :d]`` (``d = features.widths[-1]``), averaged over the node /
    user axis first when ``per_node``.
    """

    def __init__(self, features: nn.Module, per_node: bool) -> None:
        super().__init__()
        self.features = features
        self.per_node = bool(per_node)
        d = int(features.widths[-1])
        self.projection = MLP((d, d, d), "relu", None)

    def forward(self, x: torch.Tensor, head: str | None = None) -> torch.Tensor:
        """``x -> z : [batch, d]`` (``head`` is ignored)."""
        f = self.features(x)[..., :self.features.widths[-1]]
        if self.per_node:
            f = f.mean(dim=-2)
        return self.projection(f)


class ContrastiveObjective:
    r"""NT-Xent objective of the pre-training: ``batch[input_key] : [batch, 2, ...]`` holds
    two views of every sample (:class:`TwoViews`); one forward pass over the ``2 B`` views,
    then :func:`~wirelessrl.objectives.nt_xent`. Metrics: ``loss`` and ``positive_cosine``
    (mean cosine similarity of the two views' projections)."""

    def __init__(self, temperature: float, input_key: str = "x") -> None:
        self.temperature = check_positive("contrastive_temperature", temperature)
        self.input_key = input_key

    def __call__(self, model: nn.Module,
                 batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, Metrics]:
        x = batch[self.input_key]
        if x.ndim < 2 or x.shape[1] != 2:
            raise ConfigError(f"the contrastive objective needs {self.input_key!r} of shape "
                              f"[batch, 2, ...] (two views); got {tuple(x.shape)}")
        n = x.shape[0]
        z = model(torch.cat([x[:, 0], x[:, 1]]))                       # [2 B, d]
        loss = nt_xent(z[:n], z[n:], self.temperature)
        with torch.no_grad():
            cosine = torch.nn.functional.cosine_similarity(z[:n], z[n:], dim=-1).mean()
        return loss, {"loss": loss.detach(), "positive_cosine": cosine}

    def __repr__(self) -> str:
        return f"ContrastiveObjective(temperature={self.temperature}, input_key={self.input_key!r})"


@dataclass(frozen=True)
class TwoViews:
    """``augment(batch, generator)``: ``batch[input_key] : [batch, ...]`` replaced by two
    independently corrupted views ``[batch, 2, ...]`` (the other keys unchanged)."""

    corruption: InputCorruption

    @property
    def name(self) -> str:
        """``two-views-<corruption>``, e.g. ``two-views-masked-0.2``."""
        return f"two-views-{self.corruption.name}"

    def __call__(self, batch: Mapping[str, torch.Tensor],
                 generator: torch.Generator) -> dict[str, torch.Tensor]:
        key = self.corruption.input_key
        x = {key: batch[key]}
        a = self.corruption(x, generator)[key]
        b = self.corruption(x, generator)[key]
        return {**batch, key: torch.stack([a, b], dim=1)}


def pretrain_contrastive(
    net: TransferNet,
    input_key: str,
    train: Any,
    valid: Mapping[str, torch.Tensor],
    config: TrainConfig,
    options: SourceOptions,
    run_dir: str | os.PathLike | None = None,
) -> FitResult:
    r"""Contrastive pre-training of ``net.features`` in place (see the module docstring).

    Input
    -----
    net : the fresh source :class:`~wirelessrl.models.TransferNet`
    input_key : str, the batch key of the network input
    train : dict of tensors or a :class:`~wirelessrl.loaders.ChunkedDataset`, the source
        training set (only ``input_key`` is used)
    valid : dict of tensors, the source validation set (two views of each sample drawn once
        from ``config.seed``)
    config : the source's :class:`~wirelessrl.engine.TrainConfig`; the pre-training runs
        ``options.pretrain_epochs`` epochs at ``options.pretrain_batch_size`` (None: the
        same batch size), monitors the validation NT-Xent (min) and validates in chunks of
        its batch size (the same number of negatives as in training)
    options : :class:`SourceOptions` with ``pretrain='contrastive'``
    run_dir : folder of the pre-training's own ``fit`` files (resumable), or None

    Output
    ------
    :class:`~wirelessrl.engine.FitResult` of the pre-training; ``net.features`` holds its
    best-validation weights, the projection head is gone
    """
    corruption = InputCorruption(options.contrastive_corruption,
                                 options.contrastive_corruption_level, input_key)
    views = TwoViews(corruption)
    batch = options.pretrain_batch_size or config.batch_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_seed(config.seed, PROJECTION_STREAM))
        model = ContrastiveModel(net.features, FAMILIES[net.family].per_node)
    train_views = {input_key: train[input_key]} if isinstance(train, Mapping) else train
    gen = torch.Generator().manual_seed(_seed(config.seed, PRETRAIN_VIEW_STREAM))
    valid_views = views({input_key: torch.as_tensor(valid[input_key]).cpu()}, gen)
    cfg = config.replace(epochs=options.pretrain_epochs, batch_size=batch, monitor="loss",
                         mode="min", valid_batch_size=batch, trainable=None, lr_scales={})
    objective = ContrastiveObjective(options.contrastive_temperature, input_key)
    return fit(model, objective, train_views, valid_views, cfg,
               None if run_dir is None else Path(run_dir), augment=views)
