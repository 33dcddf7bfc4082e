r"""Train once, apply anywhere: a trained network as a folder, for every task.

Behind ``wirelessrl train d2d|mu-miso`` and ``wirelessrl predict``. A model folder holds

``weights.safetensors``  the :class:`~wirelessrl.models.TransferNet` state (safetensors:
                         loading reads tensors, it never executes code); no decoder
``model.json``           format, task, objective and head, model family, the sizes the
                         network is built for, the network config, the input map with
                         its fitted statistics, the training data's system config, the
                         training (strategy, reconstruction weight, source model,
                         :class:`TrainConfig`, best epoch and validation metrics, split
                         sizes), provenance (version, seed, data file path and arrays
                         checksum, creation time) and the SHA-256 of the weights file
                         (verified on load)
``metrics.csv``          the training history, one row per epoch

What differs between the tasks (data files, model families and the sizes they fix, the
network builder, the input map, the loss, the solution file) is a
:class:`~wirelessrl.model_tasks.ModelTask` of :data:`~wirelessrl.model_tasks.MODEL_TASKS`:
``d2d`` (power control: ``mlp`` for one number of links, ``gnn`` for any) and ``mu-miso``
(downlink beamforming: ``mlp`` for one ``K`` and ``M``, ``structured`` for any ``K`` at the
trained ``M``). Everything else here is shared.

Training goes through the project's one engine: :func:`wirelessrl.transfer.train_target`
(``regular``, and every transfer ``--from`` a source model) or
:func:`wirelessrl.transfer.train_source` (``reconstruction`` without a source: the
task loss plus ``alpha`` times the reconstruction loss; the decoder is dropped before
saving), with the task's loss built from the data file's config. :func:`predict_file`
writes an ordinary solution file of the task (``status`` = ``unverified``,
``iterations`` = 0, ``objective`` in bit/s/Hz), so ``wirelessrl evaluate DATA FILE`` scores
it beside any solver.

Large D2D data sets are trained from disk (``stream``; by default when the gains of the
file exceed :data:`STREAM_BYTES`): the input statistics are fitted and the validation
layouts gathered in one chunked pass (which also verifies the file's checksum), then every
epoch reads the training layouts chunk by chunk (:class:`wirelessrl.loaders.ChunkedDataset`:
chunks in a random order, layouts shuffled inside each chunk). Memory holds one chunk, the
validation layouts and the split's indices (16 bytes per layout). With one chunk holding
all training layouts the weights equal those of the in-memory run; with smaller chunks the
minibatches differ (a chunk-wise shuffle instead of a permutation of all layouts), so the
weights differ like those of another seed.

An interrupted ``train`` resumes: while it runs, the engine's checkpoint (``last.pt``,
every ``checkpoint_every_s`` seconds), its ``metrics.csv`` and the settings of the run
(``request.json``) live in a hidden folder beside the output, ``.<name>.training``; a
rerun with the same settings and ``-o`` continues from the last checkpoint and ends with
the same weights as a run that was never interrupted (the engine's guarantee,
:func:`wirelessrl.engine.fit`); only the epoch budget, threads and progress may change.
Other settings are an error (``restart`` discards the interrupted run). The folder is
removed once the model folder is written. A finished model folder is never replaced
without ``overwrite``.

Strategies: without a source model, ``regular`` (a fresh network on the objective) or
``reconstruction`` (the same with the reconstruction loss: a source for a later
reconstruction transfer). With ``source`` (a model folder of the same task),
``conventional`` (frozen features of a source trained without reconstruction, new head),
``reconstruction`` (frozen features of a source trained with it, new head) or ``finetune``
(new head, features trained at ``feature_lr_scale`` times the lr); the default is the
frozen-feature transfer that matches how the source was trained. The input map is the
source's.

Example
-------
>>> from simulators.d2d import D2DConfig
>>> from wirelessrl.datasets import simulate_d2d_file
>>> data = simulate_d2d_file(D2DConfig.from_preset("paper", n_links=3), 60, 1, "d.h5")
>>> model = train_d2d(data, "model", objective="sum", epochs=2, batch_size=20,
...                   threads=1, device="cpu")
>>> load_model("model").family, load_model("model").fixed_sizes, model.head
('gnn', {}, 'sum_rate')
>>> res = predict_file("model", data, "powers.h5")
>>> res.n, res.label
(60, 'model')
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from simulators.validation import ConfigError, check_choice, check_int, check_positive
from wirelessrl.checkpoint import load_checkpoint, load_state_dict
from wirelessrl.engine import CHECKPOINT_NAME, TrainConfig
from wirelessrl.fileio import atomic_path, check_output, infer_format, provenance
from wirelessrl.model_tasks import (
    KINDS,
    OBJECTIVES,
    ModelTask,
    check_data_kind,
    get_model_task,
)
from wirelessrl.models import NetConfig, TransferNet
from wirelessrl.solution_files import data_checksum
from wirelessrl.transfer import TransferTask, get_strategy, train_source, train_target

__all__ = ["MODEL_FORMAT", "OBJECTIVES", "Prediction", "TrainedModel", "load_model",
           "model_summary", "predict_file", "train_d2d", "train_model", "train_mu_miso"]

MODEL_FORMAT = "wirelessrl-model/1"
MODEL_JSON = "model.json"
WEIGHTS_FILE = "weights.safetensors"
METRICS_FILE = "metrics.csv"
REQUEST_JSON = "request.json"
"""The settings of a run, in its training-state folder (:func:`training_state_dir`)."""

FRESH_STRATEGIES = ("regular", "reconstruction")
"""Strategies without a source model."""
TRANSFER_STRATEGIES = ("conventional", "reconstruction", "finetune")
"""Strategies with a source model (``--from``)."""


@dataclass
class TrainedModel:
    """A trained network of a task with everything needed to apply it.

    Attributes
    ----------
    net : TransferNet, one head (``head``), no decoder, in eval mode, on the CPU
    task : :class:`~wirelessrl.model_tasks.ModelTask`
    objective : ``sum`` or ``min``
    inputs : the fitted input map (:mod:`wirelessrl.d2d_inputs`,
        :mod:`wirelessrl.mu_miso_inputs`)
    system : the training data's system config (D2DConfig, MuMisoConfig)
    info : dict, the contents of ``model.json``
    path : Path or None, the folder it was saved to or loaded from
    """

    net: TransferNet
    task: ModelTask
    objective: str
    inputs: Any
    system: Any
    info: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def head(self) -> str:
        return OBJECTIVES[self.objective][0]

    @property
    def family(self) -> str:
        return self.net.family

    @property
    def fixed_sizes(self) -> dict[str, int]:
        """The sizes the network is built for, by unit (``{}``: any size, e.g. ``gnn``;
        ``{"antennas": 4}`` for a ``structured`` beamformer: any number of users)."""
        sizes = self.task.sizes(self.system)
        return {unit: sizes[unit] for unit in self.task.fixed_units(self.family)}

    @property
    def alpha(self) -> float:
        """Reconstruction weight its feature module was trained with (0: none)."""
        return float(self.info.get("training", {}).get("alpha", 0.0))

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "model"

    def check_sizes(self, have: dict[str, int], data: str | os.PathLike) -> None:
        """:class:`ConfigError` unless the network takes data of the sizes ``have`` (by
        unit, :meth:`ModelTask.sizes`); the message names both sizes."""
        fixed = self.fixed_sizes
        wrong = tuple(u for u in fixed if have[u] != fixed[u])
        if wrong:
            def text(sizes):
                return " and ".join(f"{sizes[u]} {u}" for u in fixed)
            raise ConfigError(
                f"model {str(self.path or self.name)!r} was trained for {text(fixed)}; data "
                f"{str(data)!r} has {text(have)} ({self.task.size_hint(self.family, wrong)})")

    @torch.no_grad()
    def outputs(self, chunk: Any) -> np.ndarray:
        """The head's outputs ``[batch, ...]`` (float64) on a chunk of data (gains
        ``g : [batch, N, N]`` for ``d2d``, :class:`~simulators.mu_miso.MuMisoSamples`
        for ``mu-miso``); no size check."""
        self.net.eval()
        x = self.task.net_input(self.inputs, chunk)
        return self.net(x, head=self.head)["out"].double().numpy()

    def power_fractions(self, g: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """``d2d``: ``g : [batch, N, N]`` linear gains -> ``[batch, N]`` float64 fractions
        of P_max.

        Example
        -------
        >>> model = load_model("model")                             # doctest: +SKIP
        >>> p_w = model.power_fractions(g) * cfg.p_max_w            # doctest: +SKIP
        """
        self._check_task("d2d", "power_fractions")
        g = np.asarray(g)
        if g.ndim != 3 or g.shape[1] != g.shape[2]:
            raise ConfigError(f"g has shape {g.shape}; expected (batch, N, N)")
        self.check_sizes({"links": g.shape[1]}, "g")
        return np.concatenate([self.outputs(g[s:s + chunk]) for s in range(0, len(g), chunk)])

    def beamformers(self, samples: Any, chunk: int = 4096) -> np.ndarray:
        """``mu-miso``: :class:`~simulators.mu_miso.MuMisoSamples` -> beams ``w [batch, K,
        M]`` (complex128, sqrt(W)) with ``sum_k ||w_k||^2`` the samples' power ``P``.

        Example
        -------
        >>> w = load_model("beam-model").beamformers(load_mu_miso("mu.h5"))  # doctest: +SKIP
        """
        self._check_task("mu-miso", "beamformers")
        self.check_sizes(self.task.sizes(samples.config), "samples")
        parts = [self.task.beams(self.outputs, samples.subset(slice(s, s + chunk)))
                 for s in range(0, len(samples), chunk)]
        return np.concatenate(parts)

    def _check_task(self, name: str, method: str) -> None:
        if self.task.name != name:
            raise ConfigError(f"{method} is for a {name} model; {str(self.path or self.name)!r}"
                              f" is a {self.task.name} model")

    def save(self, path: str | os.PathLike, overwrite: bool = False,
             history: list[dict] | None = None) -> Path:
        """Write the folder atomically (a temporary folder beside it, then renamed)."""
        from safetensors.torch import save

        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        with _atomic_dir(path, overwrite) as tmp:
            (tmp / WEIGHTS_FILE).write_bytes(save(state, metadata={"format": MODEL_FORMAT}))
            info = {**self.info, "weights_sha256": _file_sha256(tmp / WEIGHTS_FILE)}
            (tmp / MODEL_JSON).write_text(_json_text(info) + "\n")
            if history:
                names = list(dict.fromkeys(k for row in history for k in row))
                with open(tmp / METRICS_FILE, "w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=names)
                    writer.writeheader()
                    writer.writerows(history)
        self.info, self.path = info, Path(path)
        return Path(path)


def _json_text(value: Any, indent: str = "") -> str:
    """JSON with nested objects indented and lists of numbers on one line (readable with
    the input statistics of a few thousand entries)."""
    if isinstance(value, dict) and value:
        inner = indent + "  "
        items = [f"{inner}{json.dumps(str(k))}: {_json_text(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + _json_text(v, inner) for v in value) + "\n" + \
            indent + "]"
    return json.dumps(value)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_output_dir(final: Path, overwrite: bool) -> None:
    if not final.parent.is_dir():
        raise ConfigError(f"output {str(final)!r}: its folder {str(final.parent)!r} does not "
                          "exist; expected an existing folder")
    if final.exists():
        if not final.is_dir():
            raise ConfigError(f"output {str(final)!r} is a file; expected a folder name for "
                              "the model")
        if not overwrite:
            raise ConfigError(f"output {str(final)!r} exists; pass --overwrite to replace it")
        if any(final.iterdir()) and not (final / MODEL_JSON).is_file():
            raise ConfigError(f"output {str(final)!r} is a folder without {MODEL_JSON} (not a "
                              "model folder); expected a new name or a model folder to replace")


@contextlib.contextmanager
def _atomic_dir(path: str | os.PathLike, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``."""
    final = Path(path)
    _check_output_dir(final, overwrite)
    tmp = final.parent / f".{final.name}.{os.getpid()}.partdir"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            old = final.parent / f".{final.name}.{os.getpid()}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------- loading


def load_model(path: str | os.PathLike) -> TrainedModel:
    """Load a model folder written by :func:`train_model` (safetensors: no code is run).

    Raises :class:`ConfigError` naming the folder and what is wrong: missing or invalid
    ``model.json``, a weights file that is missing, corrupt or fails its checksum, weights
    that do not match the network config, NaN weights.
    """
    p = Path(path)
    where = f"model folder {str(path)!r}"
    if not p.exists():
        raise ConfigError(f"{where} does not exist")
    if not p.is_dir():
        raise ConfigError(f"{where} is a file; expected a folder written by 'wirelessrl train'")
    if not (p / MODEL_JSON).is_file():
        raise ConfigError(f"{where} lacks {MODEL_JSON}; expected a folder written by "
                          "'wirelessrl train'")
    try:
        info = json.loads((p / MODEL_JSON).read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}: {MODEL_JSON} is not valid JSON ({err})") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{where}: {MODEL_JSON} holds a {type(info).__name__}; expected an "
                          "object")
    if info.get("format") != MODEL_FORMAT:
        raise ConfigError(f"{where}: {MODEL_JSON} has format={info.get('format')!r}; expected "
                          f"{MODEL_FORMAT!r}")
    for key in ("task", "objective", "family", "net", "inputs", "system", "weights_sha256"):
        if key not in info:
            raise ConfigError(f"{where}: {MODEL_JSON} lacks {key!r}")
    weights = p / WEIGHTS_FILE
    if not weights.is_file():
        raise ConfigError(f"{where} lacks {WEIGHTS_FILE}")
    if _file_sha256(weights) != info["weights_sha256"]:
        raise ConfigError(f"{where}: {WEIGHTS_FILE} failed its checksum (its bytes differ "
                          f"from the weights_sha256 in {MODEL_JSON}: corrupted or replaced)")
    try:
        task = KINDS[check_choice("task", info["task"], tuple(KINDS))]
        objective = check_choice("objective", info["objective"], tuple(OBJECTIVES))
        family = check_choice("family", info["family"], task.families)
        cfg = NetConfig.from_dict(info["net"])
        if cfg.family != family:
            raise ConfigError(f"net.family={cfg.family!r} differs from family={family!r}")
        system = task.system_from_dict(info["system"])
        inputs = task.inputs_from_dict(family, info["inputs"])
        task.check_loaded(family, cfg, inputs, system)
        net = TransferNet.from_config(cfg)
    except ConfigError as err:
        raise ConfigError(f"{where}: {MODEL_JSON}: {err}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as err:
        raise ConfigError(f"{where}: {MODEL_JSON} is invalid ({type(err).__name__}: {err})"
                          ) from None
    head = OBJECTIVES[objective][0]
    if net.head_names != (head,):
        raise ConfigError(f"{where}: {MODEL_JSON}: the network has heads {net.head_names}; "
                          f"expected the one head {head!r} of objective {objective!r}")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise ConfigError(f"{where}: {WEIGHTS_FILE} is not a readable safetensors file "
                          f"({err})") from None
    load_state_dict(net, state, f"{where}: {WEIGHTS_FILE}")
    for name, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ConfigError(f"{where}: weight {name!r} holds NaN or inf; expected finite")
    net.eval()
    return TrainedModel(net, task, objective, inputs, system, info, p)


# ------------------------------------------------------------------------ training


STREAM_BYTES = 1 << 30
"""``train d2d`` reads the training layouts from disk when the file's gains exceed this
many bytes (1 GiB: 1.3 million layouts of 10 links in float64), unless told."""


def training_state_dir(output: str | os.PathLike) -> Path:
    """The hidden folder beside ``output`` that holds a running (or interrupted) training:
    ``.<name>.training`` with the engine's ``last.pt`` and ``metrics.csv`` and
    ``request.json``.

    Example
    -------
    >>> training_state_dir("runs/sum-model").as_posix()
    'runs/.sum-model.training'
    """
    out = Path(output)
    return out.parent / f".{out.name}.training"


def interrupted_epoch(output: str | os.PathLike) -> int | None:
    """The epoch an interrupted training of ``output`` resumes from (None: no checkpoint
    was written yet, a rerun starts over)."""
    ckpt = training_state_dir(output) / CHECKPOINT_NAME
    if not ckpt.is_file():
        return None
    try:
        return int(load_checkpoint(ckpt)["epoch"])
    except (ConfigError, KeyError, TypeError, ValueError):
        return None


def _resume_or_start(output: Path, request: dict, restart: bool, device: str) -> Path:
    """The training-state folder of ``output``: kept when it holds a run of ``request``
    (a resume), else new; an interrupted run of other settings is an error unless
    ``restart``. Under torchrun (the process group joined here, as the engine would) rank 0
    prepares it while the others wait."""
    from wirelessrl import ddp
    from wirelessrl.device import resolve_device

    ddp.setup(resolve_device(device))
    state = training_state_dir(output)
    try:
        if ddp.world()[0] != 0:
            _check_request(state, request, restart, output)
            return state
        return _prepare_state(state, request, restart, output)
    finally:
        ddp.barrier()  # every rank, also after an error: none is left waiting


def _check_request(state: Path, request: dict, restart: bool, output: Path) -> bool:
    """Whether ``state`` holds a run of ``request`` to resume; :class:`ConfigError` when it
    holds one of other settings (unless ``restart``)."""
    if not state.exists() or restart:
        return False
    try:
        old = json.loads((state / REQUEST_JSON).read_text())
    except (OSError, ValueError):
        return False  # killed before its settings were written: nothing to resume
    if isinstance(old, dict) and old != request:
        keys = sorted(k for k in set(old) | set(request) if old.get(k) != request.get(k))
        raise ConfigError(
            f"output {str(output)!r} has an interrupted training with other settings "
            f"(they differ in {', '.join(keys)}) in {str(state)!r}; expected the same "
            "command to resume it, or --restart to discard it and start over")
    return old == request


def _prepare_state(state: Path, request: dict, restart: bool, output: Path) -> Path:
    if _check_request(state, request, restart, output):
        return state
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir()
    with atomic_path(state / REQUEST_JSON) as tmp:
        tmp.write_text(json.dumps(request, indent=1, sort_keys=True) + "\n")
    return state


def _split(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train / validation sample indices, a seeded random split."""
    f = check_positive("valid_fraction", valid_fraction)
    if f >= 1:
        raise ConfigError(f"valid_fraction={valid_fraction!r} is invalid; expected a number in "
                          "(0, 1)")
    n_valid = max(1, int(round(n * f)))
    if n - n_valid < 1:
        raise ConfigError(f"the data has {n} sample(s); expected at least 2 (training and "
                          "validation)")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def _strategy_for(source: TrainedModel | None, strategy: str | None) -> str:
    if source is None:
        strategy = strategy or "regular"
        if strategy not in FRESH_STRATEGIES:
            raise ConfigError(
                f"strategy={strategy!r} is invalid without a source model; expected one of "
                f"{', '.join(FRESH_STRATEGIES)} (or --from SOURCE_MODEL for "
                f"{', '.join(TRANSFER_STRATEGIES)})")
        return strategy
    if strategy is None:
        return "reconstruction" if source.alpha > 0 else "conventional"
    if strategy not in TRANSFER_STRATEGIES:
        raise ConfigError(f"strategy={strategy!r} is invalid with a source model (--from); "
                          f"expected one of {', '.join(TRANSFER_STRATEGIES)} (regular trains a "
                          "fresh network: leave out --from)")
    if strategy == "reconstruction" and source.alpha <= 0:
        raise ConfigError(f"strategy='reconstruction' needs a source trained with the "
                          f"reconstruction loss; {str(source.path)!r} was trained with alpha 0 "
                          "(expected --strategy conventional or finetune)")
    if strategy == "conventional" and source.alpha > 0:
        raise ConfigError(f"strategy='conventional' needs a source trained without the "
                          f"reconstruction loss; {str(source.path)!r} was trained with alpha "
                          f"{source.alpha:g} (expected --strategy reconstruction or finetune)")
    return strategy


def _load_valid(spec: ModelTask, valid: str | os.PathLike, data: str | os.PathLike,
                system: Any) -> Any:
    """The validation file's samples; :class:`ConfigError` unless its system is the
    training data's (the message lists the fields that differ)."""
    check_data_kind(spec, valid)
    samples = spec.load(valid)
    ours, theirs = system.to_dict(), samples.config.to_dict()
    differ = [f"{k} {theirs.get(k)!r} vs {ours.get(k)!r}" for k in ours
              if theirs.get(k) != ours.get(k)]
    if differ:
        raise ConfigError(f"valid file {str(valid)!r} has another system than data "
                          f"{str(data)!r} ({'; '.join(differ)}); expected the same config")
    return samples


def train_model(
    task: str,
    data: str | os.PathLike,
    output: str | os.PathLike,
    *,
    objective: str,
    family: str | None = None,
    input_option: str | None = None,
    source: str | os.PathLike | None = None,
    strategy: str | None = None,
    alpha: float = 3.0,
    feature_lr_scale: float = 0.1,
    valid: str | os.PathLike | None = None,
    valid_fraction: float | None = None,
    epochs: int = 50,
    batch_size: int = 100,
    lr: float = 1e-3,
    lr_schedule: str = "constant",
    patience: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
    checkpoint_every_s: float = 30.0,
    overwrite: bool = False,
    restart: bool = False,
    progress: bool = False,
    stream: bool | None = None,
    chunk_size: int | None = None,
) -> TrainedModel:
    """Train a network of ``task`` on a data file and save it as a model folder.

    Input
    -----
    task : ``d2d`` or ``mu-miso`` (:data:`~wirelessrl.model_tasks.MODEL_TASKS`)
    data : a data file of the task (``simulate`` or ``import``); its config gives the
        power, noise (and SNR gap) of the loss
    output : the model folder to write (its parent must exist)
    objective : ``sum`` (sum-rate) or ``min`` (min-rate)
    family : a family of the task (None: its first, ``gnn`` / ``structured``); with ``source`` the
        source's (a different value is an error)
    input_option : the task's input map (``d2d``: ``input_transform`` ``standardized`` or
        ``log-db``; ``mu-miso``: ``input`` ``channel`` or ``pilots``); None: the first,
        or the source's
    source : a model folder of the same task to transfer from (None: a fresh network)
    strategy : see the module doc (None: ``regular``, or with ``source`` the frozen-feature
        transfer matching the source)
    alpha : float >= 0, reconstruction weight of ``strategy="reconstruction"`` without a
        source
    feature_lr_scale : float > 0, feature-module lr / lr of ``finetune``
    valid : a data file of the same system (config) to select the best epoch on, instead
        of a split of ``data`` (then all of ``data`` trains)
    valid_fraction : float in (0, 1), samples of ``data`` held out (a seeded random split)
        to select the best epoch; None: 0.1 (without ``valid``; with it, an error)
    epochs, batch_size, lr, lr_schedule, patience, seed, device : the :class:`TrainConfig`
    threads : int >= 1 or None, torch CPU threads during training
    checkpoint_every_s : float >= 0, seconds between checkpoints of the training state
        (``.<name>.training/last.pt``; also written at the end)
    overwrite : replace a finished model folder ``output``
    restart : discard an interrupted training of ``output`` instead of resuming it (an
        interrupted training of other settings is an error without it)
    stream : ``d2d``: read the training layouts from disk in chunks (True), hold them in
        memory (False) or choose by size (None: streamed when the gains exceed
        :data:`STREAM_BYTES`); see the module doc. ``mu-miso`` holds its samples in memory
    chunk_size : int >= 1 or None, samples per chunk when streamed (None:
        :data:`wirelessrl.datasets.CHUNK_BYTES` of data)

    Output
    ------
    :class:`TrainedModel` (also saved under ``output``)

    Under ``torchrun`` every rank loads the data and trains its share of each minibatch
    (:mod:`wirelessrl.ddp`; the same weights as one process up to the order of
    floating-point sums); rank 0 alone writes ``output`` (and keeps the training state),
    the other ranks return (with an unsaved model) once it is in place.
    """
    spec = get_model_task(task)
    objective = check_choice("objective", objective, tuple(OBJECTIVES))
    if family is not None:
        check_choice("family", family, spec.families)
    _check_output_dir(Path(output), overwrite)
    src = load_model(source) if source is not None else None
    if src is not None and src.task is not spec:
        raise ConfigError(f"source model {str(source)!r} is a {src.task.name} model; expected "
                          f"a {spec.name} model for 'train {spec.name}'")
    strategy = _strategy_for(src, strategy)
    if src is not None and family is not None and family != src.family:
        raise ConfigError(f"family={family!r} differs from the source model's "
                          f"{src.family!r}; expected no --family or --family {src.family}")
    family = src.family if src is not None else (family or spec.families[0])
    input_option = spec.check_input_option(family, input_option, src is not None)
    train_cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                            lr_schedule=lr_schedule, patience=patience,
                            seed=seed, device=device, num_threads=threads, progress=progress,
                            checkpoint_every_s=checkpoint_every_s)
    check_data_kind(spec, data)
    if stream and not spec.streams:
        raise ConfigError(f"stream=True is for d2d data; 'train {spec.name}' holds its samples "
                          "in memory (expected no --stream)")
    if valid is None:
        valid_fraction = 0.1 if valid_fraction is None else valid_fraction
    elif valid_fraction is not None:
        raise ConfigError(f"valid_fraction={valid_fraction!r} splits the data for "
                          f"validation, and valid={str(valid)!r} is a validation file; "
                          "expected one of --valid and --valid-fraction")
    streamed, chunk = False, None
    if spec.streams:
        system, n_samples, nbytes = spec.peek(data)  # metadata and shapes only
        streamed = nbytes > STREAM_BYTES if stream is None else bool(stream)
    if streamed:
        chunk = spec.chunk(chunk_size, system)
        train_idx = np.arange(n_samples) if valid is not None else \
            _split(n_samples, valid_fraction, seed)[0]
        if src is not None:
            src.check_sizes(spec.sizes(system), data)
        inputs, train_t, valid_t = spec.streamed_splits(
            data, train_idx, chunk, None if src is None else src.inputs, family, input_option)
        n_train, n_valid = len(train_idx), n_samples - len(train_idx)
        if valid is not None:
            valid_part = _load_valid(spec, valid, data, system)
            valid_t, n_valid = spec.tensors(inputs, valid_part), len(valid_part)
    else:
        samples = spec.load(data)
        system = samples.config
        if src is not None:
            src.check_sizes(spec.sizes(system), data)
        if valid is None:
            train_idx, valid_idx = _split(len(samples), valid_fraction, seed)
            train_part, valid_part = samples.subset(train_idx), samples.subset(valid_idx)
        else:
            train_part, valid_part = samples, _load_valid(spec, valid, data, system)
        inputs = src.inputs if src is not None else spec.fit_inputs(
            family, train_part, system, input_option)
        train_t, valid_t = spec.tensors(inputs, train_part), spec.tensors(inputs, valid_part)
        n_train, n_valid = len(train_part), len(valid_part)
    head, metric, _solution_task = OBJECTIVES[objective]
    loss = spec.loss(objective, system)
    monitor = (metric, "max")
    request = {
        "task": spec.name, "data": str(Path(data).resolve()), "data_sha256": data_checksum(data),
        "valid": None if valid is None else str(Path(valid).resolve()),
        "valid_sha256": None if valid is None else data_checksum(valid),
        "valid_fraction": valid_fraction, "objective": objective, "family": family,
        "inputs": input_option, "strategy": strategy, "alpha": float(alpha),
        "feature_lr_scale": float(feature_lr_scale),
        "source": None if src is None else src.info["weights_sha256"],
        "streamed": streamed, "chunk_size": chunk,
        **{f"train_config.{k}": v for k, v in train_cfg.to_dict().items()
           if k not in TrainConfig.RESUME_FREE}}
    run_dir = _resume_or_start(Path(output), request, restart, device)
    start = time.perf_counter()
    if src is None:
        net_cfg = spec.net_config(family, system, head, decoder=strategy == "reconstruction")
        tt = TransferTask(net_cfg, head, head, loss, loss, inputs.reconstruction_key, alpha,
                          source_monitor=monitor, target_monitor=monitor)
        if strategy == "regular":
            net, result = train_target(tt, "regular", None, train_t, valid_t, train_cfg,
                                       run_dir)
            trained_alpha = 0.0
        else:
            net, result = train_source(tt, get_strategy("reconstruction", alpha), train_t,
                                       valid_t, train_cfg, run_dir)
            net.drop_decoder()
            trained_alpha = float(alpha)
    else:
        template = src.net.config.heads[src.head]
        net_cfg = src.net.config.replace(
            heads={src.head: template, head: spec.target_head(template, head)})
        tt = TransferTask(net_cfg, src.head, head, loss, loss, inputs.reconstruction_key,
                          src.alpha, source_monitor=monitor, target_monitor=monitor)
        chosen = get_strategy(strategy, alpha=src.alpha, feature_lr_scale=feature_lr_scale)
        net, result = train_target(tt, chosen, src.net, train_t, valid_t, train_cfg,
                                   run_dir)
        trained_alpha = src.alpha
    net.freeze_features(False).cpu().eval()
    prov = provenance(f"{spec.kind}-model", system.to_dict(), int(seed),
                      data_file=str(Path(data).resolve()), data_sha256=data_checksum(data))
    prov.pop("config")  # the system config is its own entry below
    sizes = spec.sizes(system)
    fixed = spec.fixed_units(family)
    info = {
        "format": MODEL_FORMAT,
        "task": spec.kind,
        "objective": objective,
        "head": head,
        "family": family,
        "sizes": {u: sizes[u] if u in fixed else None for u in spec.units},
        "trained_sizes": sizes,
        "net": net.config.to_dict(),
        "inputs": inputs.to_dict(),
        "system": system.to_dict(),
        "training": {
            "strategy": strategy,
            "alpha": trained_alpha,
            "feature_lr_scale": feature_lr_scale if strategy == "finetune" else None,
            "from": None if src is None else {
                "path": str(src.path.resolve()), "weights_sha256": src.info["weights_sha256"],
                "objective": src.objective, "strategy": src.info["training"]["strategy"]},
            "loss": repr(loss),
            "n_train": n_train,
            "n_valid": n_valid,
            "streamed": streamed,
            "chunk_size": chunk if streamed else None,
            "valid_fraction": valid_fraction,
            "valid_file": None if valid is None else str(Path(valid).resolve()),
            "valid_sha256": None if valid is None else data_checksum(valid),
            "train_config": train_cfg.to_dict(),
            "result": {**result.to_dict(), "run_dir": None},
            "seconds": time.perf_counter() - start,
        },
        "provenance": prov,
    }
    model = TrainedModel(net, spec, objective, inputs, system, info)
    from wirelessrl import ddp

    if ddp.world()[0] == 0:
        model.save(output, overwrite, history=result.history)
        shutil.rmtree(run_dir, ignore_errors=True)
    ddp.barrier()  # under torchrun the other ranks return once the folder is in place
    return model


def train_d2d(data: str | os.PathLike, output: str | os.PathLike, *,
              input_transform: str | None = None, **options: Any) -> TrainedModel:
    """:func:`train_model` of a D2D power-control network (``wirelessrl train d2d``).

    ``input_transform``: ``standardized`` (the paper's: per-entry standardized gains,
    the default) or ``log-db`` (standardized dB gains), the ``mlp`` input without a
    source; ``family``: ``mlp`` (the paper's network, one N; default) or ``gnn`` (any N).
    """
    return train_model("d2d", data, output, input_option=input_transform, **options)


def train_mu_miso(data: str | os.PathLike, output: str | os.PathLike, *,
                  input_kind: str | None = None, **options: Any) -> TrainedModel:
    """:func:`train_model` of a multi-user MISO beamformer (``wirelessrl train mu-miso``).

    ``input_kind``: ``channel`` (perfect CSI, the default) or ``pilots`` (the
    least-squares estimate from the uplink pilots; the file needs ``y``); ``family``:
    ``mlp`` (one K and M; default) or ``structured`` (any K at the trained M).

    Example
    -------
    >>> from simulators.mu_miso import MuMisoConfig
    >>> from wirelessrl.datasets import simulate_mu_miso_file
    >>> cfg = MuMisoConfig.from_preset("rayleigh-10db", n_users=3)
    >>> data = simulate_mu_miso_file(cfg, 40, 1, "mu.h5")
    >>> model = train_mu_miso(data, "beams", objective="min", family="structured",
    ...                       epochs=1, batch_size=20, threads=1, device="cpu")
    >>> model.fixed_sizes
    {'antennas': 4}
    """
    return train_model("mu-miso", data, output, input_option=input_kind, **options)


# ---------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """What :func:`predict_file` wrote: the file, its method label, the number of samples,
    the time, the system fields (power, noise, ...) in which the data differs from the
    training data (the network still runs: a note for the user) and what the samples are
    (``layouts``, ``samples``)."""

    path: Path
    label: str
    n: int
    seconds: float
    differences: list[str]
    items: str = "samples"


def predict_file(
    model: str | os.PathLike | TrainedModel,
    data: str | os.PathLike,
    output: str | os.PathLike,
    *,
    label: str | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    fmt: str | None = None,
) -> Prediction:
    """Apply a model to every sample of a data file of its task; write a solution file.

    Input
    -----
    model : a model folder (or a loaded :class:`TrainedModel`)
    data : a data file of the model's task with the sizes it takes (an ``mlp`` model:
        its number of links, or users and antennas; a ``structured`` one: its antennas)
    output : the solution file (``.h5`` or ``.mat``), the same kind and arrays as
        ``wirelessrl solve`` writes on that data: ``d2d``: ``p_w [batch, N]`` (W, the
        fractions times the data's ``P_max``); ``mu-miso``: ``w [batch, K, M]`` (complex
        sqrt(W), rescaled to the data's total power ``P``); ``status`` (``unverified``),
        ``iterations`` (0), ``objective`` (the model's objective in bit/s/Hz)
    label : the method name ``evaluate`` shows (default: the model folder's name; a solver
        name such as ``fp`` or ``wmmse`` is refused)
    chunk_size : samples per chunk (default: 16 MiB of data)
    threads : torch CPU threads (restored afterwards)

    Output
    ------
    :class:`Prediction`
    """
    fmt = infer_format(output, fmt)
    check_output(output, overwrite)
    m = model if isinstance(model, TrainedModel) else load_model(model)
    label = m.name if label is None else label
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"label={label!r} is invalid; expected a non-empty name")
    if label in m.task.solvers:
        raise ConfigError(f"label={label!r} is the name of a solver (evaluate would take it as "
                          "that reference); expected another --label")
    if threads is not None:
        threads = check_int("threads", threads, 1)
    check_data_kind(m.task, data, str(m.path or m.name))
    rule = (f"{m.family} network ({m.objective}-rate, "
            f"{m.info.get('training', {}).get('strategy', '?')}), one forward pass")
    options = {"stopping_rule": rule, "model": str(m.path.resolve()) if m.path else None,
               "weights_sha256": m.info.get("weights_sha256"), "objective": m.objective}
    before = torch.get_num_threads()
    start = time.perf_counter()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        n, cfg = m.task.write_solution(
            m.outputs, lambda cfg: m.check_sizes(m.task.sizes(cfg), data), data, output,
            label=label, objective=m.objective, options=options, chunk_size=chunk_size,
            fmt=fmt, overwrite=overwrite)
    finally:
        torch.set_num_threads(before)
    return Prediction(Path(output), label, n, time.perf_counter() - start,
                      m.task.differences(m.inputs, m.system, cfg), m.task.items)


def model_summary(model: TrainedModel) -> dict[str, Any]:
    """A few facts about a model for the command line (objective, family, sizes, metric).

    ``sizes`` is text such as ``4 links``, ``any number of links`` or ``4 antennas, any
    number of users``.
    """
    t = model.info.get("training", {})
    res = t.get("result", {})
    fixed, sizes = model.fixed_sizes, model.task.sizes(model.system)
    text = ", ".join(f"{sizes[u]} {u}" if u in fixed else f"any number of {u}"
                     for u in model.task.units)
    return {"task": model.task.name, "objective": model.objective, "family": model.family,
            "sizes": text, "strategy": t.get("strategy"), "best_epoch": res.get("best_epoch"),
            "valid_metric": res.get("monitor"), "valid_value": res.get("best_metric"),
            "resumed_from": res.get("resumed_from"), "parameters": model.net.num_parameters()}
