r"""Train once, apply anywhere: a trained D2D power-control network as a folder.

Behind ``wirelessrl train d2d`` and ``wirelessrl predict``. A model folder holds

``weights.safetensors``  the :class:`~wirelessrl.models.TransferNet` state (safetensors:
                         loading reads tensors, it never executes code); no decoder
``model.json``           format, task, objective and head, model family, ``n_links``
                         (``null`` for ``gnn``: any size), the network config, the input
                         map with its fitted statistics (:mod:`wirelessrl.d2d_inputs`),
                         the training data's system config, the training (strategy,
                         reconstruction weight, source model, :class:`TrainConfig`, best
                         epoch and validation metrics, split sizes), provenance (version,
                         seed, data file path and arrays checksum, creation time) and the
                         SHA-256 of the weights file (verified on load)
``metrics.csv``          the training history, one row per epoch

Training goes through the project's one engine: :func:`wirelessrl.transfer.train_target`
(``regular``, and every transfer ``--from`` a source model) or
:func:`wirelessrl.transfer.train_source` (``reconstruction`` without a source: the
task loss plus ``alpha`` times the reconstruction loss; the decoder is dropped before
saving), with :class:`~wirelessrl.objectives.D2DRateLoss` built from the data file's
config (power, noise, SNR gap in dB). :func:`predict_file` writes an ordinary D2D solution
file (``p_w``, ``status`` = ``unverified``, ``iterations`` = 0, ``objective`` in bit/s/Hz),
so ``wirelessrl evaluate data.h5 powers.h5`` scores it beside any solver.

Large data sets are trained from disk (``stream``; by default when the gains of the file
exceed :data:`STREAM_BYTES`): the input statistics are fitted and the validation layouts
gathered in one chunked pass (which also verifies the file's checksum), then every epoch
reads the training layouts chunk by chunk (:class:`wirelessrl.loaders.ChunkedDataset`:
chunks in a random order, layouts shuffled inside each chunk). Memory holds one chunk, the
validation layouts and the split's indices (16 bytes per layout). With one chunk holding
all training layouts the weights equal those of the in-memory run; with smaller chunks the
minibatches differ (a chunk-wise shuffle instead of a permutation of all layouts), so the
weights differ like those of another seed.

Strategies: without a source model, ``regular`` (a fresh network on the objective) or
``reconstruction`` (the same with the reconstruction loss: a source for a later
reconstruction transfer). With ``source`` (a model folder), ``conventional`` (frozen
features of a source trained without reconstruction, new head), ``reconstruction`` (frozen
features of a source trained with it, new head) or ``finetune`` (new head, features
trained at ``feature_lr_scale`` times the lr); the default is the frozen-feature transfer
that matches how the source was trained. The input map is the source's.

Example
-------
>>> from simulators.d2d import D2DConfig
>>> from wirelessrl.datasets import simulate_d2d_file
>>> data = simulate_d2d_file(D2DConfig.from_preset("paper", n_links=3), 60, 1, "d.h5")
>>> model = train_d2d(data, "model", objective="sum", epochs=2, batch_size=20,
...                   threads=1, device="cpu")
>>> load_model("model").n_links, model.head
(3, 'sum_rate')
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

from baselines import SOLVERS
from simulators.d2d import D2DConfig
from simulators.rates import link_rates_bps
from simulators.validation import ConfigError, check_choice, check_int, check_positive
from wirelessrl.checkpoint import load_state_dict
from wirelessrl.d2d_inputs import (
    FAMILIES,
    INPUT_TRANSFORMS,
    FlatInputs,
    GraphInputs,
    fit_d2d_inputs,
    fit_d2d_inputs_chunks,
    inputs_from_dict,
)
from wirelessrl.datasets import D2DFile, chunk_rows, load_d2d
from wirelessrl.engine import TrainConfig
from wirelessrl.fileio import RowArray, check_output, infer_format, provenance, stream_arrays
from wirelessrl.models import NetConfig, TransferNet, d2d_gnn_config, d2d_net_config
from wirelessrl.objectives import D2DRateLoss
from wirelessrl.solutions import SOLUTION_KIND, data_checksum
from wirelessrl.transfer import TransferTask, get_strategy, train_source, train_target

__all__ = ["MODEL_FORMAT", "OBJECTIVES", "D2DModel", "Prediction", "load_model", "predict_file",
           "train_d2d"]

MODEL_FORMAT = "wirelessrl-model/1"
MODEL_KIND = "d2d-power-control-model"
MODEL_JSON = "model.json"
WEIGHTS_FILE = "weights.safetensors"
METRICS_FILE = "metrics.csv"

OBJECTIVES = {"sum": ("sum_rate", "sum_rate_bps_per_hz", "sum-rate"),
              "min": ("min_rate", "min_rate_bps_per_hz", "min-rate")}
"""Objective -> (head name, validation metric in bit/s/Hz, solution task)."""

FRESH_STRATEGIES = ("regular", "reconstruction")
"""Strategies without a source model."""
TRANSFER_STRATEGIES = ("conventional", "reconstruction", "finetune")
"""Strategies with a source model (``--from``)."""

_SYSTEM_FIELDS = ("p_max_dbm", "noise_dbm_per_hz", "bandwidth_hz", "snr_gap_db")


@dataclass
class D2DModel:
    """A trained D2D power-control network with everything needed to apply it.

    Attributes
    ----------
    net : TransferNet, one head (``head``), no decoder, in eval mode, on the CPU
    objective : ``sum`` or ``min``
    inputs : :class:`~wirelessrl.d2d_inputs.FlatInputs` (``mlp``) or
        :class:`~wirelessrl.d2d_inputs.GraphInputs` (``gnn``), the fitted input map
    system : D2DConfig of the training data
    info : dict, the contents of ``model.json``
    path : Path or None, the folder it was saved to or loaded from
    """

    net: TransferNet
    objective: str
    inputs: FlatInputs | GraphInputs
    system: D2DConfig
    info: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def head(self) -> str:
        return OBJECTIVES[self.objective][0]

    @property
    def family(self) -> str:
        return self.net.family

    @property
    def n_links(self) -> int | None:
        """Links the network takes (None: any, the ``gnn`` family)."""
        return None if self.family == "gnn" else int(self.info.get("n_links") or
                                                      self.inputs.n_links)

    @property
    def alpha(self) -> float:
        """Reconstruction weight its feature module was trained with (0: none)."""
        return float(self.info.get("training", {}).get("alpha", 0.0))

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "model"

    def check_links(self, n_links: int, data: str | os.PathLike) -> None:
        """:class:`ConfigError` unless the network takes layouts of ``n_links`` links."""
        if self.n_links is not None and n_links != self.n_links:
            raise ConfigError(
                f"model {str(self.path or self.name)!r} was trained for {self.n_links} links; "
                f"data {str(data)!r} has {n_links} links (an mlp model takes one size; "
                "train a --family gnn model for any number of links)")

    @torch.no_grad()
    def power_fractions(self, g: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """``g : [batch, N, N]`` linear gains -> ``[batch, N]`` float64 fractions of P_max.

        Example
        -------
        >>> model = load_model("model")                             # doctest: +SKIP
        >>> p_w = model.power_fractions(g) * cfg.p_max_w            # doctest: +SKIP
        """
        g = np.asarray(g)
        if g.ndim != 3 or g.shape[1] != g.shape[2]:
            raise ConfigError(f"g has shape {g.shape}; expected (batch, N, N)")
        self.check_links(g.shape[1], "g")
        self.net.eval()
        out = [self.net(self.inputs.tensors(g[s:s + chunk])["x"], head=self.head)["out"]
               for s in range(0, len(g), chunk)]
        return torch.cat(out).double().numpy()

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


def load_model(path: str | os.PathLike) -> D2DModel:
    """Load a model folder written by :func:`train_d2d` (safetensors: no code is run).

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
    for key in ("objective", "family", "net", "inputs", "system", "weights_sha256"):
        if key not in info:
            raise ConfigError(f"{where}: {MODEL_JSON} lacks {key!r}")
    weights = p / WEIGHTS_FILE
    if not weights.is_file():
        raise ConfigError(f"{where} lacks {WEIGHTS_FILE}")
    if _file_sha256(weights) != info["weights_sha256"]:
        raise ConfigError(f"{where}: {WEIGHTS_FILE} failed its checksum (its bytes differ "
                          f"from the weights_sha256 in {MODEL_JSON}: corrupted or replaced)")
    try:
        objective = check_choice("objective", info["objective"], tuple(OBJECTIVES))
        family = check_choice("family", info["family"], FAMILIES)
        cfg = NetConfig.from_dict(info["net"])
        if cfg.family != family:
            raise ConfigError(f"net.family={cfg.family!r} differs from family={family!r}")
        system = D2DConfig.from_dict(info["system"])
        inputs = inputs_from_dict(family, info["inputs"])
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
    if family == "mlp" and cfg.feature_widths[0] != inputs.n_links ** 2:
        raise ConfigError(f"{where}: the network takes {cfg.feature_widths[0]} inputs but the "
                          f"input map is for {inputs.n_links} links")
    net.eval()
    return D2DModel(net, objective, inputs, system, info, p)


# ------------------------------------------------------------------------ training


def _fresh_net(family: str, n_links: int, head: str, decoder: bool) -> NetConfig:
    """The paper's MLP (:func:`~wirelessrl.models.d2d_net_config`) or the graph network
    (:func:`~wirelessrl.models.d2d_gnn_config`) with the one head ``head``."""
    cfg = d2d_gnn_config(decoder=decoder) if family == "gnn" else \
        d2d_net_config(n_links, decoder=decoder)
    return cfg.replace(heads={head: cfg.heads[head]})


def _split(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train / validation layout indices, a seeded random split."""
    f = check_positive("valid_fraction", valid_fraction)
    if f >= 1:
        raise ConfigError(f"valid_fraction={valid_fraction!r} is invalid; expected a number in "
                          "(0, 1)")
    n_valid = max(1, int(round(n * f)))
    if n - n_valid < 1:
        raise ConfigError(f"the data has {n} layout(s); expected at least 2 (training and "
                          "validation)")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


STREAM_BYTES = 1 << 30
"""``train_d2d`` reads the training layouts from disk when the file's gains exceed this
many bytes (1 GiB: 1.3 million layouts of 10 links in float64), unless told."""


def _streamed_splits(data, train_idx: np.ndarray, chunk: int, src: D2DModel | None,
                     family: str, input_transform: str):
    """One chunked pass over the file (gains and checksum verified): the input map fitted
    on the training layouts (unless the source's), the validation layouts as tensors; and
    the training layouts as a :class:`~wirelessrl.loaders.ChunkedDataset`."""
    from wirelessrl.datasets import D2D_KIND
    from wirelessrl.loaders import ChunkedDataset

    valid_parts: list[np.ndarray] = []
    with D2DFile(data) as f:
        system = f.config
        is_train = np.zeros(f.n, dtype=bool)
        is_train[train_idx] = True

        def train_gains() -> Iterator[np.ndarray]:
            for start, part in f.chunks(chunk):
                sel = is_train[start:start + len(part["g"])]
                valid_parts.append(part["g"][~sel])
                if sel.any():
                    yield part["g"][sel]

        if src is None:
            inputs = fit_d2d_inputs_chunks(family, train_gains(), system.p_max_w,
                                           system.noise_w, input_transform)
        else:
            inputs = src.inputs
            for _ in train_gains():
                pass
    valid = inputs.tensors(np.concatenate(valid_parts))
    train = ChunkedDataset(data, ("g",), lambda a: inputs.tensors(a["g"]), rows=train_idx,
                           chunk_size=chunk, kind=D2D_KIND, verify=False)
    return inputs, train, valid


def _strategy_for(source: D2DModel | None, strategy: str | None) -> str:
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


def train_d2d(
    data: str | os.PathLike,
    output: str | os.PathLike,
    *,
    objective: str,
    family: str | None = None,
    input_transform: str = "standardized",
    source: str | os.PathLike | None = None,
    strategy: str | None = None,
    alpha: float = 3.0,
    feature_lr_scale: float = 0.1,
    valid_fraction: float = 0.1,
    epochs: int = 50,
    batch_size: int = 100,
    lr: float = 1e-3,
    patience: int | None = None,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
    stream: bool | None = None,
    chunk_size: int | None = None,
) -> D2DModel:
    """Train a power-control network on a D2D data file and save it as a model folder.

    Input
    -----
    data : a D2D data file (``simulate d2d`` or ``import d2d``); its config gives the
        power, noise and SNR gap of the loss
    output : the model folder to write (its parent must exist)
    objective : ``sum`` (sum-rate) or ``min`` (min-rate)
    family : ``mlp`` (the paper's network, one N; default) or ``gnn`` (any N); with
        ``source`` the source's (a different value is an error)
    input_transform : ``standardized`` (the paper's: per-entry standardized gains) or
        ``log-db`` (standardized dB gains), the ``mlp`` input without ``source``
    source : a model folder to transfer from (None: a fresh network)
    strategy : see the module doc (None: ``regular``, or with ``source`` the frozen-feature
        transfer matching the source)
    alpha : float >= 0, reconstruction weight of ``strategy="reconstruction"`` without a
        source
    feature_lr_scale : float > 0, feature-module lr / lr of ``finetune``
    valid_fraction : float in (0, 1), layouts held out (a seeded random split) to select
        the best epoch
    epochs, batch_size, lr, patience, seed, device : the :class:`TrainConfig`
    threads : int >= 1 or None, torch CPU threads during training
    stream : read the training layouts from disk in chunks (True), hold them in memory
        (False) or choose by size (None: streamed when the gains exceed
        :data:`STREAM_BYTES`); see the module doc
    chunk_size : int >= 1 or None, layouts per chunk when streamed (None:
        :data:`wirelessrl.datasets.CHUNK_BYTES` of gains)

    Output
    ------
    :class:`D2DModel` (also saved under ``output``)

    Under ``torchrun`` every rank loads the data and trains its share of each minibatch
    (:mod:`wirelessrl.ddp`; the same weights as one process up to the order of
    floating-point sums); rank 0 alone writes ``output``, the other ranks return (with an
    unsaved model) once it is in place.
    """
    objective = check_choice("objective", objective, tuple(OBJECTIVES))
    if family is not None:
        check_choice("family", family, FAMILIES)
    _check_output_dir(Path(output), overwrite)
    src = load_model(source) if source is not None else None
    strategy = _strategy_for(src, strategy)
    if src is not None and family is not None and family != src.family:
        raise ConfigError(f"family={family!r} differs from the source model's "
                          f"{src.family!r}; expected no --family or --family {src.family}")
    family = src.family if src is not None else (family or "mlp")
    check_choice("input_transform", input_transform, INPUT_TRANSFORMS)
    if input_transform != "standardized" and (family == "gnn" or src is not None):
        raise ConfigError(f"input_transform={input_transform!r} is for a new mlp network; "
                          "a gnn takes SNRs in dB and a transfer the source's input map "
                          "(expected no --input-transform)")
    train_cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                            seed=seed, device=device, num_threads=threads, progress=progress,
                            checkpoint_every_s=None)
    with D2DFile(data) as f:  # metadata and shapes only
        system, n_layouts = f.config, f.n
        gain_bytes = n_layouts * f.reader.dtype("g").itemsize * system.n_links ** 2
    n_links = system.n_links
    if src is not None:
        src.check_links(n_links, data)
    train_idx, valid_idx = _split(n_layouts, valid_fraction, seed)
    streamed = gain_bytes > STREAM_BYTES if stream is None else bool(stream)
    chunk = chunk_rows(chunk_size, {"g": RowArray((n_links, n_links))})
    if streamed:
        inputs, train, valid = _streamed_splits(data, train_idx, chunk, src, family,
                                                input_transform)
    else:
        layouts = load_d2d(data)
        g_train, g_valid = layouts.g[train_idx], layouts.g[valid_idx]
        inputs = src.inputs if src is not None else fit_d2d_inputs(
            family, g_train, system.p_max_w, system.noise_w, input_transform)
        train, valid = inputs.tensors(g_train), inputs.tensors(g_valid)
    head, metric, _task = OBJECTIVES[objective]
    loss = D2DRateLoss(objective, p_max_w=system.p_max_w, noise_w=system.noise_w,
                       snr_gap_db=system.snr_gap_db)
    monitor = (metric, "max")
    start = time.perf_counter()
    if src is None:
        net_cfg = _fresh_net(family, n_links, head, decoder=strategy == "reconstruction")
        task = TransferTask(net_cfg, head, head, loss, loss, inputs.reconstruction_key, alpha,
                            source_monitor=monitor, target_monitor=monitor)
        if strategy == "regular":
            net, result = train_target(task, "regular", None, train, valid, train_cfg)
            trained_alpha = 0.0
        else:
            net, result = train_source(task, get_strategy("reconstruction", alpha), train,
                                       valid, train_cfg)
            net.drop_decoder()
            trained_alpha = float(alpha)
    else:
        template = src.net.config.heads[src.head]
        net_cfg = src.net.config.replace(heads={src.head: template, head: template})
        task = TransferTask(net_cfg, src.head, head, loss, loss, inputs.reconstruction_key,
                            src.alpha, source_monitor=monitor, target_monitor=monitor)
        chosen = get_strategy(strategy, alpha=src.alpha, feature_lr_scale=feature_lr_scale)
        net, result = train_target(task, chosen, src.net, train, valid, train_cfg)
        trained_alpha = src.alpha
    net.freeze_features(False).cpu().eval()
    prov = provenance(MODEL_KIND, system.to_dict(), int(seed),
                      data_file=str(Path(data).resolve()), data_sha256=data_checksum(data))
    prov.pop("config")  # the system config is its own entry below
    info = {
        "format": MODEL_FORMAT,
        "task": "d2d-power-control",
        "objective": objective,
        "head": head,
        "family": family,
        "n_links": None if family == "gnn" else n_links,
        "trained_n_links": n_links,
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
            "n_train": len(train_idx),
            "n_valid": len(valid_idx),
            "streamed": streamed,
            "chunk_size": chunk if streamed else None,
            "valid_fraction": valid_fraction,
            "train_config": train_cfg.to_dict(),
            "result": result.to_dict(),
            "seconds": time.perf_counter() - start,
        },
        "provenance": prov,
    }
    model = D2DModel(net, objective, inputs, system, info)
    from wirelessrl import ddp

    if ddp.world()[0] == 0:
        model.save(output, overwrite, history=result.history)
    ddp.barrier()  # under torchrun the other ranks return once the folder is in place
    return model


# ---------------------------------------------------------------------- prediction


@dataclass
class Prediction:
    """What :func:`predict_file` wrote: the file, its method label, the layouts, the time,
    and the system fields (power, noise, bandwidth, SNR gap) in which the data differs
    from the training data (the network still runs: a note for the user)."""

    path: Path
    label: str
    n: int
    seconds: float
    differences: list[str]


def _system_differences(trained: D2DConfig, data: D2DConfig) -> list[str]:
    return [f"{name} {getattr(trained, name)!r} (training) vs {getattr(data, name)!r} (data)"
            for name in _SYSTEM_FIELDS if getattr(trained, name) != getattr(data, name)]


def predict_file(
    model: str | os.PathLike | D2DModel,
    data: str | os.PathLike,
    output: str | os.PathLike,
    *,
    label: str | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    fmt: str | None = None,
) -> Prediction:
    """Apply a model to every layout of a D2D data file; write a D2D solution file.

    Input
    -----
    model : a model folder (or a loaded :class:`D2DModel`)
    data : a D2D data file; an ``mlp`` model needs its number of links
    output : the solution file (``.h5`` or ``.mat``), the same kind and arrays as
        ``wirelessrl solve`` writes: ``p_w [batch, N]`` (W, the fractions times the data's
        ``P_max``), ``status`` (``unverified``), ``iterations`` (0), ``objective`` (the
        model's objective in bit/s/Hz with the data's noise and SNR gap)
    label : the method name ``evaluate`` shows (default: the model folder's name; a solver
        name such as ``fp`` is refused)
    chunk_size : layouts per chunk (default: 16 MiB of gains); memory holds one chunk
    threads : torch CPU threads (restored afterwards)

    Output
    ------
    :class:`Prediction`
    """
    fmt = infer_format(output, fmt)
    check_output(output, overwrite)
    m = model if isinstance(model, D2DModel) else load_model(model)
    label = m.name if label is None else label
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"label={label!r} is invalid; expected a non-empty name")
    if label in SOLVERS:
        raise ConfigError(f"label={label!r} is the name of a solver (evaluate would take it as "
                          "that reference); expected another --label")
    if threads is not None:
        threads = check_int("threads", threads, 1)
    _head, _metric, task = OBJECTIVES[m.objective]
    before = torch.get_num_threads()
    start = time.perf_counter()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with D2DFile(data) as f:
            cfg, n = f.config, f.n
            m.check_links(cfg.n_links, data)
            rows = {"p_w": RowArray((cfg.n_links,), np.float64), "status": RowArray((), "S16"),
                    "iterations": RowArray((), np.int64), "objective": RowArray((), np.float64)}
            chunk = chunk_rows(chunk_size, {"g": RowArray((cfg.n_links, cfg.n_links))})
            rule = (f"{m.family} network ({m.objective}-rate, "
                    f"{m.info.get('training', {}).get('strategy', '?')}), one forward pass")
            options = {"stopping_rule": rule, "model": str(m.path.resolve()) if m.path else None,
                       "weights_sha256": m.info.get("weights_sha256"), "objective": m.objective}
            meta = provenance(SOLUTION_KIND, cfg.to_dict(), f.seed, method=label,
                              data_file=str(data), data_n=n,
                              data_sha256=f.reader.meta.get("checksum_sha256"), task=task,
                              options=options)
            with stream_arrays(output, n, rows, meta, fmt=fmt, overwrite=overwrite) as writer:
                for _start, part in f.chunks(chunk):
                    g = part["g"]
                    p_w = m.power_fractions(g) * cfg.p_max_w
                    rates = link_rates_bps(g, p_w, cfg.noise_w, 1.0, cfg.snr_gap_db)
                    writer.append({
                        "p_w": p_w, "status": np.full(len(g), b"unverified", dtype="S16"),
                        "iterations": np.zeros(len(g), dtype=np.int64),
                        "objective": rates.sum(-1) if m.objective == "sum" else rates.min(-1)})
                writer.meta["seconds"] = time.perf_counter() - start
    finally:
        torch.set_num_threads(before)
    return Prediction(Path(output), label, n, time.perf_counter() - start,
                      _system_differences(m.system, cfg))


def model_summary(model: D2DModel) -> dict[str, Any]:
    """A few lines about a model for the command line (objective, family, sizes, metric)."""
    t = model.info.get("training", {})
    res = t.get("result", {})
    return {"objective": model.objective, "family": model.family, "n_links": model.n_links,
            "strategy": t.get("strategy"), "best_epoch": res.get("best_epoch"),
            "valid_metric": res.get("monitor"), "valid_value": res.get("best_metric"),
            "parameters": model.net.num_parameters()}
