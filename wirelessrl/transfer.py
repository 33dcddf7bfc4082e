r"""Transfer strategies: how the source model is trained and what is trained on the target.

=================  ==============================  ==================  =====================
strategy           source training                 feature module on   target training
                                                   the target
=================  ==============================  ==================  =====================
``regular``        none (fresh network)            trained             all layers, lr
``conventional``   ``L_task`` (alpha = 0)          frozen              new head, lr
``reconstruction`` ``L_task + alpha L_rec``        frozen              new head, lr
``finetune``       ``L_task + alpha L_rec``        trained at lr / 10  new head at lr,
                                                                       features at lr / 10
=================  ==============================  ==================  =====================

``finetune`` defaults to ``feature_lr_scale = 0.1``: the feature module was trained on
~500x more (source) samples than the target set holds; at the head's full learning rate
the 25,000 target epochs on 1,000 samples would overwrite the common information the
reconstruction loss put into the features (and overfit), while a frozen module cannot adapt
at all. A 10x smaller rate for pretrained layers than for the fresh head is the usual
discriminative fine-tuning choice; it is a parameter (``get_strategy("finetune",
feature_lr_scale=...)``) to be tuned with the same budget as the other strategies.

Everything task-specific comes in a :class:`TransferTask` (network config, head names,
source and target losses, reconstruction key, default alpha, monitored metrics), so D2D,
MISO and MNIST share :func:`train_source` and :func:`train_target` unchanged. A new
strategy is one factory registered in :data:`STRATEGIES`.

The decoder exists only while the source trains: :func:`train_target` drops it, and
``conventional`` sources are built without it, so every target network has the parameter
count of a ``regular`` one. The other source-training-only parts of the variants of
:mod:`wirelessrl.source_options` go with it: learned loss log-variances, and the
log-variance layer of a variational feature layer (the target sees its mean).
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from simulators.validation import ConfigError, check_choice, check_nonnegative, check_positive
from wirelessrl import ddp
from wirelessrl.checkpoint import save_net
from wirelessrl.corruption import InputCorruption
from wirelessrl.device import resolve_device
from wirelessrl.engine import (
    Augment,
    Callback,
    FitResult,
    TrainConfig,
    augment_name,
    check_data,
    fit,
)
from wirelessrl.models import NetConfig, TransferNet
from wirelessrl.objectives import Objective, TaskLoss
from wirelessrl.source_options import (
    PRETRAIN_DIR,
    SourceOptions,
    init_log_variances,
    pretrain_contrastive,
)

__all__ = [
    "STRATEGIES",
    "Strategy",
    "TransferTask",
    "get_strategy",
    "needed_sources",
    "source_of",
    "train_source",
    "train_target",
    "build_source_net",
    "build_target_net",
    "feature_outputs",
    "resolve_strategy",
]

NET_FILE = "net.pt"


@dataclass(frozen=True)
class Strategy:
    """One transfer strategy.

    Attributes
    ----------
    name : str
    source_alpha : float >= 0 or None, reconstruction weight of the source training
        (0: no decoder; None: no source model, the target trains a fresh network)
    train_feature_on_target : bool, whether the feature module trains on the target
    feature_lr_scale : float > 0, feature-module learning rate relative to the target lr
        (used only when ``train_feature_on_target``)
    source : str or None, name of the strategy whose source network this one starts from
        (``finetune`` starts from the ``reconstruction`` source; default: its own name when
        it has a source model, None when it has none)

    Example
    -------
    >>> get_strategy("reconstruction", alpha=3.0)
    Strategy(name='reconstruction', source_alpha=3.0, train_feature_on_target=False, \
feature_lr_scale=1.0, source='reconstruction')
    >>> get_strategy("finetune", alpha=3.0).source
    'reconstruction'
    """

    name: str
    source_alpha: float | None
    train_feature_on_target: bool
    feature_lr_scale: float = 1.0
    source: str | None = None

    def __post_init__(self) -> None:
        if self.source_alpha is not None:
            object.__setattr__(
                self, "source_alpha", check_nonnegative("alpha", self.source_alpha)
            )
        else:
            if not self.train_feature_on_target:
                raise ConfigError(
                    f"strategy {self.name!r}: a fresh network (source_alpha=None) must train "
                    "its feature module; expected train_feature_on_target=True"
                )
        object.__setattr__(
            self, "feature_lr_scale", check_positive("feature_lr_scale", self.feature_lr_scale)
        )
        if self.source_alpha is None and self.source is not None:
            raise ConfigError(
                f"strategy {self.name!r}: source={self.source!r} is invalid without a source "
                "model (source_alpha=None); expected source=None"
            )
        if self.source_alpha is not None and self.source is None:
            object.__setattr__(self, "source", self.name)  # trains its own source network

    @property
    def uses_source(self) -> bool:
        """True when the strategy starts from a source-trained network (``source_alpha`` set)."""
        return self.source_alpha is not None


def _regular(alpha: float | None, feature_lr_scale: float | None) -> Strategy:
    return Strategy("regular", None, True)


def _conventional(alpha: float | None, feature_lr_scale: float | None) -> Strategy:
    return Strategy("conventional", 0.0, False)


def _needs_alpha(name: str, alpha: float | None) -> float:
    if alpha is None:
        raise ConfigError(
            f"alpha=None is invalid for strategy {name!r}; expected a number >= 0 (or pass the "
            "strategy by name to train_source / train_target to use the task's alpha)"
        )
    return alpha


def _reconstruction(alpha: float | None, feature_lr_scale: float | None) -> Strategy:
    return Strategy("reconstruction", _needs_alpha("reconstruction", alpha), False)


def _finetune(alpha: float | None, feature_lr_scale: float | None) -> Strategy:
    scale = 0.1 if feature_lr_scale is None else feature_lr_scale
    return Strategy("finetune", _needs_alpha("finetune", alpha), True, scale,
                    source="reconstruction")


STRATEGIES: dict[str, Callable[[float | None, float | None], Strategy]] = {
    "regular": _regular,
    "conventional": _conventional,
    "reconstruction": _reconstruction,
    "finetune": _finetune,
}
"""Strategy factories by name: ``factory(alpha, feature_lr_scale) -> Strategy``."""


def get_strategy(
    name: str, alpha: float | None = None, feature_lr_scale: float | None = None
) -> Strategy:
    """A registered strategy with its reconstruction weight ``alpha``.

    Input
    -----
    name : str, a key of :data:`STRATEGIES`
    alpha : float >= 0, reconstruction weight (required by ``reconstruction`` and
        ``finetune``; ignored by the others)
    feature_lr_scale : float > 0 or None, overrides the default of ``finetune`` (0.1)

    Output
    ------
    :class:`Strategy`

    Example
    -------
    >>> get_strategy("finetune", alpha=3.0).feature_lr_scale
    0.1
    """
    check_choice("strategy", name, tuple(STRATEGIES))
    if alpha is not None:
        alpha = check_nonnegative("alpha", alpha)
    if feature_lr_scale is not None:
        feature_lr_scale = check_positive("feature_lr_scale", feature_lr_scale)
    return STRATEGIES[name](alpha, feature_lr_scale)


def source_of(name: str) -> str | None:
    """The source network a registered strategy starts from (None: a fresh network).

    Example
    -------
    >>> [source_of(s) for s in STRATEGIES]
    [None, 'conventional', 'reconstruction', 'reconstruction']
    """
    return get_strategy(name, alpha=0.0).source


def needed_sources(names: list[str] | tuple[str, ...]) -> list[str]:
    """The distinct source networks a list of strategies needs, sorted by name.

    Example
    -------
    >>> needed_sources(["regular", "finetune", "reconstruction"])
    ['reconstruction']
    """
    return sorted({s for s in map(source_of, names) if s is not None})


def resolve_strategy(strategy: Strategy | str, task: TransferTask) -> Strategy:
    """A :class:`Strategy`, or a name resolved with the task's default ``alpha``."""
    if isinstance(strategy, str):
        return get_strategy(strategy, alpha=task.alpha)
    if not isinstance(strategy, Strategy):
        raise ConfigError(
            f"strategy={strategy!r} is invalid; expected a name ({', '.join(STRATEGIES)}) "
            "or a Strategy"
        )
    return strategy


@dataclass(frozen=True)
class TransferTask:
    """Everything task-specific the transfer functions need.

    Attributes
    ----------
    net : NetConfig, with both heads and the decoder (e.g.
        :func:`wirelessrl.models.d2d_net_config`)
    source_head, target_head : str, head names in ``net.heads``
    source_loss, target_loss : task losses ``(out, batch) -> (loss, metrics)``
    reconstruction_key : str, batch key of the (standardized) reconstruction target
    alpha : float >= 0, the task's default reconstruction weight (D2D 3, MISO 4, MNIST 5)
    input_key : str, batch key of the network input
    source_monitor, target_monitor : (metric, mode), validation metric that selects the
        kept weights, mode ``min`` or ``max``
    target_input_key : str or None, batch key of the target network's input when it
        differs from ``input_key`` (D2D ``mlp`` with the max-min power head: the input
        followed by the gains, ``x_gains``); None: ``input_key``
    """

    net: NetConfig
    source_head: str
    target_head: str
    source_loss: TaskLoss
    target_loss: TaskLoss
    reconstruction_key: str
    alpha: float
    input_key: str = "x"
    source_monitor: tuple[str, str] = ("loss", "min")
    target_monitor: tuple[str, str] = ("loss", "min")
    target_input_key: str | None = None

    @property
    def target_key(self) -> str:
        """Batch key of the target network's input (``target_input_key`` or ``input_key``)."""
        return self.target_input_key or self.input_key

    def __post_init__(self) -> None:
        if not isinstance(self.net, NetConfig):
            raise ConfigError(f"net={type(self.net).__name__} is invalid; expected a NetConfig")
        check_choice("source_head", self.source_head, tuple(self.net.heads))
        check_choice("target_head", self.target_head, tuple(self.net.heads))
        object.__setattr__(self, "alpha", check_nonnegative("alpha", self.alpha))
        for name in ("source_monitor", "target_monitor"):
            value = getattr(self, name)
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                raise ConfigError(
                    f"{name}={value!r} is invalid; expected (metric name, 'min' or 'max')"
                )
            check_choice(f"{name}[1]", value[1], ("min", "max"))
            object.__setattr__(self, name, tuple(value))


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with torch's RNG seeded, without touching the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def build_source_net(task: TransferTask, strategy: Strategy, seed: int,
                     options: SourceOptions | None = None) -> TransferNet:
    """A fresh source network: feature module, source head, decoder only if alpha > 0;
    with ``options`` a variational feature layer and learned loss log-variances (started
    at the weights 1 and alpha) where they ask for them."""
    alpha = strategy.source_alpha
    if alpha is None:
        raise ConfigError(
            f"strategy {strategy.name!r} trains no source model; call train_target with "
            "source=None"
        )
    cfg = task.net.replace(
        heads={task.source_head: task.net.heads[task.source_head]},
        decoder_widths=task.net.decoder_widths if alpha > 0 else None,
        **(options.net_changes(task.source_loss) if options is not None else {}),
    )
    if alpha > 0 and cfg.decoder_widths is None:
        raise ConfigError(
            f"alpha={alpha!r} needs a decoder, but the task's network config has "
            "decoder_widths=None"
        )
    net = _seeded(seed, lambda: TransferNet.from_config(cfg))
    if net.loss_log_vars is not None:
        init_log_variances(net, alpha)
    return net


def build_target_net(
    task: TransferTask, strategy: Strategy, source: TransferNet | None, seed: int
) -> TransferNet:
    """The network trained on the target: fresh (``regular``) or the source's feature
    module with a freshly initialized target head and no decoder."""
    head = task.net.heads[task.target_head]
    if not strategy.uses_source:
        cfg = task.net.replace(heads={task.target_head: head}, decoder_widths=None)
        return _seeded(seed, lambda: TransferNet.from_config(cfg))
    if not isinstance(source, TransferNet):
        raise ConfigError(
            f"strategy {strategy.name!r} needs a trained source network; got "
            f"source={type(source).__name__}"
        )
    net = copy.deepcopy(source).drop_decoder()
    for name in list(net.heads):
        net.remove_head(name)
    return _seeded(seed, lambda: net.replace_head(task.target_head, head))


def _save(run_dir: Path | None, net: TransferNet, **meta) -> None:
    # rank 0 alone, as the engine's files: another rank writing after the engine's closing
    # barrier could recreate a folder rank 0 has already cleaned up
    if run_dir is not None and ddp.world()[0] == 0:
        save_net(Path(run_dir) / NET_FILE, net, **meta)


def train_source(
    task: TransferTask,
    strategy: Strategy | str,
    train: Mapping[str, torch.Tensor],
    valid: Mapping[str, torch.Tensor],
    config: TrainConfig,
    run_dir: str | os.PathLike | None = None,
    corruption: InputCorruption | None = None,
    options: SourceOptions | None = None,
) -> tuple[TransferNet, FitResult]:
    r"""Train the source network of a strategy: ``L = L_task + alpha L_rec``.

    With ``options`` (:class:`~wirelessrl.source_options.SourceOptions`) the same
    :func:`~wirelessrl.engine.fit` run minimizes a balanced loss (learned weights or a
    warm-up of alpha) and / or ``+ beta KL`` of a variational feature layer, after an
    optional contrastive pre-training of the feature module (its own ``fit`` run in
    ``run_dir/pretrain``); validation always reports and selects on ``L_task + alpha L_rec``
    at the fixed alpha and on ``task.source_monitor``. None (or the defaults): the paper's.

    Input
    -----
    task : :class:`TransferTask`
    strategy : :class:`Strategy` or name (``conventional``: alpha 0, no decoder;
        ``reconstruction`` / ``finetune``: alpha from the strategy or ``task.alpha``)
    train, valid : dicts of tensors with ``task.input_key``, the source loss's keys and
        ``task.reconstruction_key``
    config : :class:`TrainConfig`; ``monitor`` / ``mode`` are taken from
        ``task.source_monitor``; the network is initialized with ``config.seed``
    run_dir : directory for the engine's files and ``net.pt``; None keeps nothing
    corruption : :class:`~wirelessrl.corruption.InputCorruption` or None; corrupts the
        input of every training minibatch while the reconstruction target stays clean
        (denoising / masked reconstruction); only with ``alpha > 0``
    options : :class:`~wirelessrl.source_options.SourceOptions` or None; a loss balance
        other than ``fixed`` only with ``alpha > 0``; the active options are recorded in
        ``net.pt`` (``source_options``)

    Output
    ------
    (net, result): the trained source :class:`TransferNet` (with its decoder, if any) and
    the :class:`FitResult`

    Example
    -------
    A 2-link D2D task on random gains (``x`` the network input, also rebuilt by the decoder):

    >>> from wirelessrl.models import d2d_net_config
    >>> from wirelessrl.objectives import D2DRateLoss
    >>> task = TransferTask(d2d_net_config(2), "sum_rate", "min_rate", D2DRateLoss("sum"),
    ...                     D2DRateLoss("min"), reconstruction_key="x", alpha=3.0)
    >>> data = {"x": torch.randn(40, 4), "g": torch.rand(40, 2, 2)}
    >>> cfg = TrainConfig(epochs=2, batch_size=20, device="cpu")
    >>> net, result = train_source(task, "reconstruction", data, data, cfg)
    >>> net.head_names, net.decoder is not None, result.last_epoch
    (('sum_rate',), True, 2)
    """
    strategy = resolve_strategy(strategy, task)
    alpha = strategy.source_alpha
    options = SourceOptions() if options is None else options
    if not isinstance(options, SourceOptions):
        raise ConfigError(f"options={options!r} is invalid; expected a SourceOptions or None")
    if options.loss_balance != "fixed" and not alpha:
        raise ConfigError(f"loss_balance={options.loss_balance!r} needs alpha > 0; the "
                          f"{strategy.name} source has alpha = {alpha:g}")
    net = build_source_net(task, strategy, config.seed, options)
    rec_key = task.reconstruction_key if alpha > 0 else None
    if corruption is not None:
        if rec_key is None:
            raise ConfigError(f"a {corruption.kind} reconstruction needs alpha > 0; the "
                              f"{strategy.name} source has alpha = {alpha:g}")
        if rec_key == task.input_key:  # the decoder rebuilds the clean input: keep it aside
            rec_key = f"{rec_key}_clean"
            train = {**train, rec_key: train[task.input_key]}
            valid = {**valid, rec_key: valid[task.input_key]}
    if options.pretrain == "contrastive":
        pretrain_contrastive(net, task.input_key, train, valid, config, options,
                             None if run_dir is None else Path(run_dir) / PRETRAIN_DIR)
    balance = options.balance(alpha, task.source_loss)
    objective = Objective(
        task.source_loss, head=task.source_head, input_key=task.input_key, alpha=alpha,
        reconstruction_key=rec_key, balance=balance, beta=options.kl_weight(),
    )
    metric, mode = task.source_monitor
    config = config.replace(monitor=metric, mode=mode)
    callbacks = [balance] if isinstance(balance, Callback) else []
    result = fit(net, objective, train, valid, config, run_dir, augment=corruption,
                 callbacks=callbacks)
    extra = {} if options.is_default else {"source_options": options.active(strategy.source)}
    _save(run_dir, net, role="source", strategy=dataclasses.asdict(strategy), alpha=alpha,
          train_config=config.to_dict(), result=result.to_dict(), **extra)
    return net, result


class _HeadOnly(nn.Module):
    """Runs a network's heads on precomputed (frozen) features; shares the parameters."""

    def __init__(self, net: TransferNet) -> None:
        super().__init__()
        self.heads = net.heads

    def forward(self, f: torch.Tensor, head: str | None = None) -> dict[str, torch.Tensor]:
        """Features ``f : [batch, d]`` -> ``{"out": head(f), "features": f}`` (None: the
        first head)."""
        name = head if head is not None else next(iter(self.heads))
        return {"out": self.heads[name](f), "features": f}


@torch.no_grad()
def feature_outputs(net: TransferNet, x: torch.Tensor, device: str | torch.device = "cpu",
                    chunk: int = 8192) -> torch.Tensor:
    """The feature layer ``net.features(x)`` in eval mode, ``chunk`` samples at a time (no
    gradient): what a frozen-feature target head sees.

    Input
    -----
    net : :class:`~wirelessrl.models.TransferNet`; x : [n, ...], the network input
    device : where the module runs (it must already be there); chunk : int >= 1

    Output
    ------
    f : [n, ...], the feature layer (``mlp``: ``[n, feature_widths[-1]]``)

    Example
    -------
    >>> from wirelessrl.models import d2d_net_config
    >>> feature_outputs(TransferNet.from_config(d2d_net_config(2)), torch.randn(5, 4)).shape
    torch.Size([5, 100])
    """
    was = net.training
    net.eval()
    f = torch.cat([net.features(x[s:s + chunk].to(device)) for s in range(0, len(x), chunk)])
    net.train(was)
    return f


def _features(net: TransferNet, data: Mapping, key: str, device, chunk: int = 8192) -> dict:
    check_data("data", data)
    if key not in data:
        raise ConfigError(f"input key {key!r} is not in the data; expected one of {list(data)}")
    return {**data, key: feature_outputs(net, data[key], device, chunk)}


def train_target(
    task: TransferTask,
    strategy: Strategy | str,
    source: TransferNet | None,
    train: Mapping[str, torch.Tensor],
    valid: Mapping[str, torch.Tensor],
    config: TrainConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    cache_features: bool = True,
    augment: Augment | None = None,
) -> tuple[TransferNet, FitResult]:
    r"""Train the target network of a strategy (the decoder is never part of it).

    ``regular`` trains a fresh network; the transfer strategies copy ``source``, drop its
    decoder and heads, attach a fresh ``task.target_head`` and then train either the head
    alone (frozen feature module) or everything, the feature module at
    ``lr * feature_lr_scale``.

    With a frozen feature module and ``cache_features`` the features of every sample are
    computed once and only the head runs in the training loop: identical training,
    several times faster (25,000 epochs of a 5,000-sample validation); a streamed ``train``
    (:class:`~wirelessrl.loaders.ChunkedDataset`) is never cached. An ``augment``
    changes the input of every training minibatch, so the features cannot be cached: with
    an augmentation the cache is off whatever ``cache_features`` says (the frozen module
    then runs in the loop, and only the head trains).

    Input
    -----
    task : :class:`TransferTask`
    strategy : :class:`Strategy` or name
    source : the network returned by :func:`train_source` (None for ``regular``)
    train, valid : dicts of tensors with ``task.target_key`` and the target loss's keys
    config : :class:`TrainConfig`; ``trainable``, ``lr_scales``, ``monitor`` and ``mode``
        are set here from the strategy and ``task.target_monitor``
    run_dir : directory for the engine's files and ``net.pt``
    cache_features : bool, see above
    augment : ``augment(batch, generator) -> batch`` or None, applied by
        :func:`wirelessrl.engine.fit` to every training minibatch (e.g.
        :class:`wirelessrl.augment.D2DLinkPermutation`); it sees the raw batch (input and
        loss keys), never the cached features

    Output
    ------
    (net, result): the target :class:`TransferNet` (best validation weights; the feature
    module stays frozen for frozen strategies) and the :class:`FitResult`

    Example
    -------
    >>> from wirelessrl.models import d2d_net_config
    >>> from wirelessrl.objectives import D2DRateLoss
    >>> task = TransferTask(d2d_net_config(2), "sum_rate", "min_rate", D2DRateLoss("sum"),
    ...                     D2DRateLoss("min"), reconstruction_key="x", alpha=3.0)
    >>> data = {"x": torch.randn(40, 4), "g": torch.rand(40, 2, 2)}
    >>> cfg = TrainConfig(epochs=2, batch_size=20, device="cpu")
    >>> source, _ = train_source(task, "reconstruction", data, data, cfg)
    >>> net, result = train_target(task, "reconstruction", source, data, data, cfg)
    >>> net.head_names, net.decoder, net(data["x"][:5])["out"].shape
    (('min_rate',), None, torch.Size([5, 2]))
    """
    strategy = resolve_strategy(strategy, task)
    net = build_target_net(task, strategy, source, config.seed)
    objective = Objective(task.target_loss, head=task.target_head, input_key=task.target_key)
    metric, mode = task.target_monitor
    config = config.replace(monitor=metric, mode=mode, trainable=None, lr_scales={})
    model: nn.Module = net
    if not strategy.train_feature_on_target:
        net.freeze_features()
        if cache_features and augment is None and isinstance(train, Mapping):
            device = resolve_device(config.device)
            net.to(device)
            train = _features(net, train, task.target_key, device, config.valid_batch_size)
            valid = _features(net, valid, task.target_key, device, config.valid_batch_size)
            model = _HeadOnly(net)
        else:
            config = config.replace(trainable=(f"heads.{task.target_head}",))
    elif strategy.uses_source and strategy.feature_lr_scale != 1.0:
        config = config.replace(lr_scales={"features": strategy.feature_lr_scale})
    result = fit(model, objective, train, valid, config, run_dir, augment=augment)
    extra = {} if augment is None else {"augment": augment_name(augment)}
    _save(run_dir, net, role="target", strategy=dataclasses.asdict(strategy),
          train_config=config.to_dict(), result=result.to_dict(), **extra)
    return net, result
