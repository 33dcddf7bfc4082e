r"""What differs between the tasks of a model folder: a registry, :data:`MODEL_TASKS`.

:mod:`wirelessrl.modeldir` trains, saves, loads and applies a network the same way for
every task (``wirelessrl train TASK`` / ``wirelessrl predict``); a :class:`ModelTask` says
only what differs: how a data file is read, the model families and the sizes each fixes,
the network builder, the input map, the loss, and how a solution file is written.

``d2d`` (:class:`D2DModelTask`): D2D power control on gains ``g : [batch, N, N]``;
families ``gnn`` (any ``N``, the default; heads with :data:`GNN_HEAD_LAYERS`
message-passing layers) and ``mlp`` (the paper's network, one ``N``);
:class:`~wirelessrl.objectives.D2DRateLoss`; writes ``p_w [batch, N]`` (W), the file kind
of ``wirelessrl solve`` on a D2D file.

``mu-miso`` (:class:`MuMisoModelTask`): multi-user MISO downlink beamforming on channels
``h : [batch, K, M]``; families ``structured`` (any ``K`` at the trained ``M``,
:mod:`wirelessrl.beam_structure`, the default) and ``mlp`` (one ``K`` and ``M``);
:class:`~wirelessrl.objectives.MuMisoRateLoss` (the min-rate as a soft-min with
temperature :data:`MU_MISO_SOFTMIN_TEMPERATURE` nats, so every user gets a gradient, as in
``experiments/mu-miso.yaml``); writes ``w [batch, K, M]`` (complex, sqrt(W)), the file
kind of ``wirelessrl solve`` on a multi-user MISO file.

A new task is one more subclass registered in :data:`MODEL_TASKS`.

Example
-------
>>> task = get_model_task("mu-miso")
>>> task.families, task.fixed_units("structured"), task.fixed_units("mlp")
(('structured', 'mlp'), ('antennas',), ('antennas', 'users'))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from simulators.beamforming import user_rates_bps
from simulators.d2d import D2DConfig
from simulators.mu_miso import MuMisoConfig
from simulators.rates import link_rates_bps
from simulators.validation import ConfigError, check_choice
from wirelessrl import d2d_inputs, mu_miso_inputs
from wirelessrl.datasets import (
    D2D_KIND,
    MU_MISO_KIND,
    D2DFile,
    chunk_rows,
    load_d2d,
    load_mu_miso,
)
from wirelessrl.fileio import RowArray, file_kind, provenance, stream_arrays, write_arrays
from wirelessrl.models import HeadConfig, NetConfig, d2d_gnn_config, d2d_net_config
from wirelessrl.objectives import D2DRateLoss, MuMisoRateLoss
from wirelessrl.solution_files import data_checksum

__all__ = ["MODEL_TASKS", "MU_MISO_SOFTMIN_TEMPERATURE", "OBJECTIVES", "D2DModelTask",
           "ModelTask", "MuMisoModelTask", "check_data_kind", "get_model_task"]

OBJECTIVES = {"sum": ("sum_rate", "sum_rate_bps_per_hz", "sum-rate"),
              "min": ("min_rate", "min_rate_bps_per_hz", "min-rate")}
"""Objective -> (head name, validation metric in bit/s/Hz, solution task)."""

GNN_HEAD_LAYERS = 2
"""Message-passing layers in each head of a ``gnn`` model that ``train d2d`` builds
(:class:`wirelessrl.gnn.GraphHead`, with the LayerNorm of ``head_norm="layer"``; 0 would be
per-node MLP heads). README "Graph power control", ``spatial-2019`` at N = 50, seeds 1-3:
the sum-rate network reaches 98.7 % of best-of-8 FP against 96.8 % with per-node heads, and
reconstruction transfer 83.9 % of the max-min optimum against 58.6 %."""

MU_MISO_SOFTMIN_TEMPERATURE = 0.05
"""Soft-min temperature (nats) of the multi-user MISO min-rate loss."""

Forward = Callable[[Any], np.ndarray]
"""A chunk of data (what :meth:`ModelTask.net_input` takes) -> the network's head
outputs, float64 ``[batch, ...]``."""


class ModelTask:
    """The task-specific parts of a model folder (subclass and register in
    :data:`MODEL_TASKS`).

    Attributes
    ----------
    name : the CLI name (``wirelessrl train NAME``)
    kind : ``model.json``'s ``task``
    data_kind : the ``kind`` in the metadata of the task's data files
    families : model families, the first the default
    units : size names in the order they are printed (``links``; ``antennas``, ``users``)
    items : what a data file holds (``layouts``, ``samples``), for messages
    note_fields : system fields whose difference from the training data's is a note
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    data_kind: ClassVar[str]
    """The ``kind`` of the task's data files."""
    families: ClassVar[tuple[str, ...]]
    units: ClassVar[tuple[str, ...]]
    items: ClassVar[str]
    note_fields: ClassVar[tuple[str, ...]]
    input_option: ClassVar[str]
    """The name of the task's input-map option (``input_transform``; ``input``)."""
    input_choices: ClassVar[tuple[str, ...]]
    streams: ClassVar[bool] = False
    """Whether training can read the data from disk in chunks (:meth:`streamed_splits`)."""

    # ---- data
    def load(self, path: str | os.PathLike) -> Any:
        """The whole data file (an object with ``config``, ``len`` and ``subset``)."""
        raise NotImplementedError

    def system_from_dict(self, values: Mapping) -> Any:
        """The system config saved in ``model.json``."""
        raise NotImplementedError

    def peek(self, path: str | os.PathLike) -> tuple[Any, int, int]:
        """``(config, samples, bytes of the network's input arrays)`` read from the
        metadata and shapes only (tasks that stream)."""
        raise NotImplementedError

    def chunk(self, chunk_size: int | None, system: Any) -> int:
        """Samples per chunk of a streamed training (None: about 16 MiB)."""
        raise NotImplementedError

    def streamed_splits(self, data: str | os.PathLike, train_idx: np.ndarray, chunk: int,
                        inputs: Any, family: str, option: str) -> tuple[Any, Any, Any]:
        """One chunked pass over ``data``: the input map (fitted on the training rows
        unless ``inputs`` is given), the training rows as a
        :class:`~wirelessrl.loaders.ChunkedDataset` and the other rows as validation
        tensors (None when every row trains)."""
        raise NotImplementedError

    def sizes(self, system: Any) -> dict[str, int]:
        """Every size of a system, by unit."""
        raise NotImplementedError

    def fixed_units(self, family: str) -> tuple[str, ...]:
        """The sizes a network of ``family`` is built for (the others are free)."""
        raise NotImplementedError

    def target_head(self, source_head: HeadConfig, head: str) -> HeadConfig:
        """The head ``head`` a transfer adds to a source network whose head is
        ``source_head`` (same input width): by default a copy of the source's."""
        return source_head

    def size_hint(self, family: str, units: tuple[str, ...]) -> str:
        """What to do when the sizes ``units`` differ (the end of the size error)."""
        raise NotImplementedError

    @property
    def solvers(self) -> tuple[str, ...]:
        """Names a prediction may not be labelled with (evaluate takes them as solvers)."""
        raise NotImplementedError

    # ---- network
    def check_input_option(self, family: str, value: str | None, transfer: bool) -> str:
        """The input-map option, defaulted and validated (a transfer keeps the source's)."""
        if value is None:
            return self.input_choices[0]
        return check_choice(self.input_option, value, self.input_choices)

    def fit_inputs(self, family: str, samples: Any, system: Any, option: str) -> Any:
        """The input map of ``family`` fitted on the training samples."""
        raise NotImplementedError

    def inputs_from_dict(self, family: str, values: Any) -> Any:
        """Rebuild an input map saved in ``model.json``."""
        raise NotImplementedError

    def check_loaded(self, family: str, net: NetConfig, inputs: Any, system: Any) -> None:
        """:class:`ConfigError` unless network, input map and system agree."""

    def net_config(self, family: str, system: Any, head: str, decoder: bool) -> NetConfig:
        """A fresh network with the one head ``head`` (and the decoder)."""
        raise NotImplementedError

    def loss(self, objective: str, system: Any) -> Any:
        """The task loss of ``objective`` (``sum`` / ``min``) for ``system``."""
        raise NotImplementedError

    def tensors(self, inputs: Any, samples: Any) -> dict[str, torch.Tensor]:
        """The training batch dict of (a subset of) a data file."""
        raise NotImplementedError

    def net_input(self, inputs: Any, chunk: Any) -> torch.Tensor:
        """The network input ``x`` of a chunk of data."""
        raise NotImplementedError

    # ---- solutions
    def write_solution(self, forward: Forward, check: Callable[[Any], None],
                       data: str | os.PathLike, output: str | os.PathLike, *, label: str,
                       objective: str, options: dict, chunk_size: int | None, fmt: str,
                       overwrite: bool) -> tuple[int, Any]:
        """Apply ``forward`` to every sample of ``data`` (after ``check(config)``); write
        the solution file; return the number of samples and the data's config."""
        raise NotImplementedError

    def differences(self, inputs: Any, trained: Any, data: Any) -> list[str]:
        """The :attr:`note_fields` that matter to a model of input map ``inputs`` in which
        the data's system differs from the training's."""
        return [f"{name} {getattr(trained, name)!r} (training) vs {getattr(data, name)!r} "
                "(data)" for name in self.note_fields
                if getattr(trained, name) != getattr(data, name)]


def _status(n: int) -> np.ndarray:
    return np.full(n, b"unverified", dtype="S16")


class D2DModelTask(ModelTask):
    """D2D power control: gains in, powers ``p_w`` out (module docstring)."""

    name = "d2d"
    kind = "d2d-power-control"
    data_kind = D2D_KIND
    families = d2d_inputs.FAMILIES
    units = ("links",)
    items = "layouts"
    note_fields = ("p_max_dbm", "noise_dbm_per_hz", "bandwidth_hz", "snr_gap_db")
    input_option = "input_transform"
    input_choices = d2d_inputs.INPUT_TRANSFORMS
    streams = True

    def load(self, path):
        return load_d2d(path)

    def peek(self, path):
        with D2DFile(path) as f:
            cfg, n = f.config, f.n
            return cfg, n, n * f.reader.dtype("g").itemsize * cfg.n_links ** 2

    def chunk(self, chunk_size, system):
        return chunk_rows(chunk_size, {"g": RowArray((system.n_links, system.n_links))})

    def streamed_splits(self, data, train_idx, chunk, inputs, family, option):
        """The gains and checksum are verified in the pass (:meth:`D2DFile.chunks`)."""
        from wirelessrl.loaders import ChunkedDataset

        valid_parts: list[np.ndarray] = []
        with D2DFile(data) as f:
            system = f.config
            is_train = np.zeros(f.n, dtype=bool)
            is_train[train_idx] = True

            def train_gains():
                for start, part in f.chunks(chunk):
                    sel = is_train[start:start + len(part["g"])]
                    if not sel.all():
                        valid_parts.append(part["g"][~sel])
                    if sel.any():
                        yield part["g"][sel]

            if inputs is None:
                inputs = d2d_inputs.fit_d2d_inputs_chunks(family, train_gains(), system.p_max_w,
                                                          system.noise_w, option)
            else:
                for _ in train_gains():
                    pass
        valid = inputs.tensors(np.concatenate(valid_parts)) if valid_parts else None
        train = ChunkedDataset(data, ("g",), lambda a: inputs.tensors(a["g"]), rows=train_idx,
                               chunk_size=chunk, kind=D2D_KIND, verify=False)
        return inputs, train, valid

    def system_from_dict(self, values):
        return D2DConfig.from_dict(values)

    def sizes(self, system):
        return {"links": system.n_links}

    def fixed_units(self, family):
        return () if family == "gnn" else ("links",)

    def size_hint(self, family, units):
        return "an mlp model takes one size; train a --family gnn model for any number of links"

    @property
    def solvers(self):
        from baselines import SOLVERS  # the solvers' modules: only to check a label

        return tuple(SOLVERS)

    def check_input_option(self, family, value, transfer):
        option = super().check_input_option(family, value, transfer)
        if option != "standardized" and (family == "gnn" or transfer):
            raise ConfigError(f"input_transform={option!r} is for a new mlp network; a gnn "
                              "takes SNRs in dB and a transfer the source's input map "
                              "(expected no --input-transform)")
        return option

    def fit_inputs(self, family, samples, system, option):
        return d2d_inputs.fit_d2d_inputs(family, samples.g, system.p_max_w, system.noise_w,
                                         option)

    def inputs_from_dict(self, family, values):
        return d2d_inputs.inputs_from_dict(family, values)

    def check_loaded(self, family, net, inputs, system):
        if family == "mlp" and net.feature_widths[0] != inputs.n_links ** 2:
            raise ConfigError(f"the network takes {net.feature_widths[0]} inputs but the "
                              f"input map is for {inputs.n_links} links")

    def net_config(self, family, system, head, decoder):
        if family == "gnn":
            cfg = d2d_gnn_config(decoder=decoder, head_layers=GNN_HEAD_LAYERS)
        else:
            cfg = d2d_net_config(system.n_links, decoder=decoder)
        return cfg.replace(heads={head: cfg.heads[head]})

    def loss(self, objective, system):
        return D2DRateLoss(objective, p_max_w=system.p_max_w, noise_w=system.noise_w,
                           snr_gap_db=system.snr_gap_db)

    def tensors(self, inputs, samples):
        return inputs.tensors(samples.g)

    def net_input(self, inputs, chunk):
        return inputs.tensors(chunk)["x"]

    def write_solution(self, forward, check, data, output, *, label, objective, options,
                       chunk_size, fmt, overwrite):
        """Streams the data file a chunk at a time: ``p_w [batch, N]`` (the fractions
        times the data's ``P_max``), ``status``, ``iterations`` (0), ``objective``."""
        from wirelessrl.solutions import SOLUTION_KIND

        start = time.perf_counter()
        with D2DFile(data) as f:
            cfg, n = f.config, f.n
            check(cfg)
            rows = {"p_w": RowArray((cfg.n_links,), np.float64), "status": RowArray((), "S16"),
                    "iterations": RowArray((), np.int64), "objective": RowArray((), np.float64)}
            chunk = chunk_rows(chunk_size, {"g": RowArray((cfg.n_links, cfg.n_links))})
            meta = provenance(SOLUTION_KIND, cfg.to_dict(), f.seed, method=label,
                              data_file=str(data), data_n=n,
                              data_sha256=f.reader.meta.get("checksum_sha256"),
                              task=OBJECTIVES[objective][2], options=options)
            with stream_arrays(output, n, rows, meta, fmt=fmt, overwrite=overwrite) as writer:
                for _start, part in f.chunks(chunk):
                    g = part["g"]                                          # [m, N, N]
                    p_w = forward(g) * cfg.p_max_w                         # [m, N] W
                    rates = link_rates_bps(g, p_w, cfg.noise_w, 1.0, cfg.snr_gap_db)
                    writer.append({
                        "p_w": p_w, "status": _status(len(g)),
                        "iterations": np.zeros(len(g), dtype=np.int64),
                        "objective": rates.sum(-1) if objective == "sum" else rates.min(-1)})
                writer.meta["seconds"] = time.perf_counter() - start
        return n, cfg


class MuMisoModelTask(ModelTask):
    """Multi-user MISO beamforming: channels in, beamformers ``w`` out (module docstring)."""

    name = "mu-miso"
    kind = "mu-miso-beamforming"
    data_kind = MU_MISO_KIND
    families = mu_miso_inputs.FAMILIES
    units = ("antennas", "users")
    items = "samples"
    note_fields = ("p_max_dbm", "noise_dbm_per_hz", "bandwidth_hz", "p_ue_dbm", "n_pilots")
    input_option = "input"
    input_choices = mu_miso_inputs.INPUTS

    def load(self, path):
        return load_mu_miso(path)

    def system_from_dict(self, values):
        return MuMisoConfig.from_dict(values)

    def sizes(self, system):
        return {"antennas": system.n_antennas, "users": system.n_users}

    def fixed_units(self, family):
        return ("antennas",) if family == "structured" else ("antennas", "users")

    def target_head(self, source_head, head):
        """A structured source's sum-rate head scores ``lambda_k, p_k``; the min-rate
        target head scores ``lambda_k`` only and takes its powers from the max-min layer,
        as a min-rate network trained from scratch does."""
        params = source_head.output_params
        if head != mu_miso_inputs.MIN_RATE_HEAD or source_head.output != "optimal_beams" \
                or "power_rule" in params:
            return source_head
        return HeadConfig((*source_head.widths[:-1], 1), output="optimal_beams",
                          output_params={**params,
                                         "power_rule": mu_miso_inputs.MINRATE_POWER_DEFAULT},
                          activation=source_head.activation)

    def size_hint(self, family, units):
        if "antennas" in units:
            return "a model takes the number of antennas it was trained for; train one on " \
                   "data of this size"
        return "an mlp model takes one number of users; train a --family structured model " \
               "for any number of users"

    @property
    def solvers(self):
        from baselines.mu_miso import BEAMFORMING_SOLVERS

        return tuple(BEAMFORMING_SOLVERS)

    def check_input_option(self, family, value, transfer):
        option = super().check_input_option(family, value, transfer)
        if transfer and value is not None:
            raise ConfigError(f"input={value!r} is for a new network; a transfer keeps the "
                              "source's input map (expected no --input)")
        return option

    def fit_inputs(self, family, samples, system, option):
        return mu_miso_inputs.fit_mu_miso_inputs(family, samples, option)

    def differences(self, inputs, trained, data):
        """The pilot fields (``p_ue_dbm``, ``n_pilots``) only for a pilot-input model."""
        notes = super().differences(inputs, trained, data)
        if inputs.input == "pilots":
            return notes
        return [n for n in notes if not n.startswith(("p_ue_dbm ", "n_pilots "))]

    def inputs_from_dict(self, family, values):
        inputs = mu_miso_inputs.mu_miso_inputs_from_dict(values)
        if inputs.family != family:
            raise ConfigError(f"inputs.family={inputs.family!r} differs from "
                              f"family={family!r}")
        return inputs

    def check_loaded(self, family, net, inputs, system):
        m2 = 2 * system.n_antennas
        width = m2 * system.n_users if family == "mlp" else m2
        if net.feature_widths[0] != width:
            raise ConfigError(f"the network takes {net.feature_widths[0]} inputs but the "
                              f"system has {system.n_antennas} antennas and "
                              f"{system.n_users} users (expected {width})")
        if family == "mlp" and len(inputs.standardizer.mean) != width:
            raise ConfigError(f"the input map has {len(inputs.standardizer.mean)} entries; "
                              f"expected {width} (2 K M)")

    def net_config(self, family, system, head, decoder):
        return mu_miso_inputs.mu_miso_net_config(family, system, (head,), decoder=decoder)

    def loss(self, objective, system):
        temperature = MU_MISO_SOFTMIN_TEMPERATURE if objective == "min" else None
        # the batch holds noise-normalized channels h / sigma: noise 1
        return MuMisoRateLoss(objective, n_users=system.n_users, noise_w=1.0,
                              softmin_temperature=temperature)

    def tensors(self, inputs, samples):
        return inputs.tensors(samples)

    def net_input(self, inputs, chunk):
        return inputs.tensors(chunk)["x"]

    def write_solution(self, forward, check, data, output, *, label, objective, options,
                       chunk_size, fmt, overwrite):
        """``w [batch, K, M]`` (complex, sqrt(W)): the network's beams rescaled per sample
        to the data's total power, ``sum_k ||w_k||^2 = P`` (float64); ``status``,
        ``iterations`` (0), ``objective`` (bit/s/Hz). The data file is read whole, like
        ``solve``; the network runs ``chunk_size`` samples at a time."""
        from wirelessrl.beamforming_solutions import MU_MISO_SOLUTION_KIND

        start = time.perf_counter()
        samples = load_mu_miso(data)
        cfg, n = samples.config, len(samples)
        check(cfg)
        step = chunk_size or max(1, (16 << 20) // (16 * cfg.n_users * cfg.n_antennas))
        w = np.concatenate([self.beams(forward, samples.subset(slice(s, s + step)))
                            for s in range(0, n, step)])                  # [n, K, M]
        rates = user_rates_bps(samples.h, w, cfg.noise_w)                # [n, K] bit/s/Hz
        arrays = {"w": w, "status": _status(n), "iterations": np.zeros(n, dtype=np.int64),
                  "objective": rates.sum(-1) if objective == "sum" else rates.min(-1)}
        meta = provenance(MU_MISO_SOLUTION_KIND, cfg.to_dict(), samples.seed, method=label,
                          task=OBJECTIVES[objective][2], options=options,
                          seconds=time.perf_counter() - start, data_file=str(data),
                          data_n=n, data_sha256=data_checksum(data))
        write_arrays(output, arrays, meta, fmt, overwrite=overwrite)
        return n, cfg

    @staticmethod
    def beams(forward: Forward, samples: Any) -> np.ndarray:
        """The beams ``[n, K, M]`` complex128 of a chunk, rescaled to the data's power."""
        cfg = samples.config
        pairs = forward(samples).reshape(len(samples), cfg.n_users, cfg.n_antennas, 2)
        w = pairs[..., 0] + 1j * pairs[..., 1]                          # [n, K, M]
        total = (np.abs(w) ** 2).sum(axis=(-2, -1), keepdims=True)      # [n, 1, 1] W
        return w * np.sqrt(cfg.p_max_w / np.maximum(total, np.finfo(float).tiny))


MODEL_TASKS: dict[str, ModelTask] = {t.name: t for t in (D2DModelTask(), MuMisoModelTask())}
"""Task name -> :class:`ModelTask`."""

KINDS = {t.kind: t for t in MODEL_TASKS.values()}
"""``model.json``'s ``task`` -> :class:`ModelTask`."""


def check_data_kind(task: ModelTask, data: str | os.PathLike, model: str | None = None) -> None:
    """:class:`ConfigError` when ``data`` is a data file of another task (a file that is
    not a wirelessrl file at all is left to the task's loader to describe)."""
    kind = file_kind(data)
    other = next((t for t in MODEL_TASKS.values() if t.data_kind == kind), None)
    if other is not None and other is not task:
        wants = f"model {model!r} takes {task.name} data" if model is not None else \
            f"expected a {task.name} data file for 'train {task.name}'"
        raise ConfigError(f"data {str(data)!r} is a {other.name} data file; {wants}")


def get_model_task(name: str) -> ModelTask:
    """The :class:`ModelTask` of a task name (``d2d``, ``mu-miso``)."""
    return MODEL_TASKS[check_choice("task", name, tuple(MODEL_TASKS))]

