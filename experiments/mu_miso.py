"""Multi-user MISO downlink beamforming: sum-rate (source) -> min-rate (target) transfer.

A neural beamformer maps the channels ``h : [K, M]`` (perfect CSI, or the least-squares
estimate from the uplink pilots with ``model.input=pilots``) to the beamformers of all
users, ``w : [K, M]``, through a power-normalization layer (``sum_k ||w_k||^2 = P``
exactly, never a penalty). ``model.family``: ``mlp`` (flat ``2KM`` reals in and out, the
baseline) or ``structured`` (:mod:`wirelessrl.beam_structure`: user-equivariant features,
beams of the optimal structure built from per-user ``lambda_k, p_k``, any K). The source
task maximizes the sum-rate with the decoder rebuilding the (standardized) channel from
the feature layer; the target task maximizes the min-rate from ``data.target_train``
samples with the four transfer strategies.

Steps per seed (the runner's, :mod:`experiments.runner`, plus these):

1. ``data``: source train/valid, target train/valid and test samples (HDF5 files).
2. ``baselines``: MRT, ZF, RZF, WMMSE (1 start and best of ``baselines.wmmse_restarts``,
   init zf + random, the stopping rule stored) and the exact max-min optimum on the test
   set, each timed.
3. ``source/...``, ``target/<strategy>-lr<lr>``: the runner's.
4. ``evaluate``: the test-set beamformers and user rates of every network
   (``evaluation.h5``), and the report, :mod:`experiments.mu_miso_report` (sum-rate in % of
   best-of-K WMMSE, min-rate in % of the max-min optimum, samples/s), from files only.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from baselines.mu_miso import solve_beamforming
from experiments.runner import TaskRun, feature_width
from simulators.mu_miso import MuMisoConfig, MuMisoSamples
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.datasets import load_mu_miso, simulate_mu_miso_file
from wirelessrl.fileio import provenance, write_arrays
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import MuMisoRateLoss
from wirelessrl.results import Echo
from wirelessrl.standardize import Standardizer
from wirelessrl.transfer import TransferTask

SPLITS = ("source_train", "source_valid", "target_train", "target_valid", "test")
INPUTS = ("channel", "pilots")
SOURCE_HEAD, TARGET_HEAD = "sum_rate", "min_rate"


def system_config(config: dict) -> MuMisoConfig:
    """The :class:`~simulators.mu_miso.MuMisoConfig` of ``config["system"]``."""
    system = config["system"]
    return MuMisoConfig.from_preset(system.get("preset", "rayleigh-10db"),
                                    **(system.get("overrides") or {}))


def _mlp_net(model: dict, system: MuMisoConfig) -> NetConfig:
    """Feature ``2KM -> model.feature``; heads ``sum_rate`` / ``min_rate`` to ``2KM`` reals
    on the power sphere (``power_norm``); decoder back to the ``2KM`` standardized channel."""
    width = 2 * system.n_users * system.n_antennas
    head = HeadConfig((feature_width(model), *model["head"], width), output="power_norm",
                      output_params={"power": system.p_max_w})
    return NetConfig(feature_widths=(width, *model["feature"]),
                     heads={SOURCE_HEAD: head, TARGET_HEAD: head},
                     decoder_widths=(model["feature"][-1], *model["decoder"], width))


STRUCTURED_KEYS = ("width", "layers", "head", "decoder", "aggregation", "message_widths")


def _structured_net(model: dict, system: MuMisoConfig) -> NetConfig:
    """The user-equivariant beamformer of ``model.structured``
    (:mod:`wirelessrl.beam_structure`): per-user embedding ``2M -> width``, ``layers``
    message-passing layers over the users, per-user heads ``width -> head -> 2`` (the scores
    of ``lambda_k, p_k``; beams of the optimal structure, exactly on the power sphere),
    per-user decoder ``width -> decoder -> 2M`` (the standardized channel of the user)."""
    opts = model.get("structured") or {}
    if not isinstance(opts, dict):
        raise ConfigError(f"model.structured={opts!r} is invalid; expected a mapping of "
                          f"{', '.join(STRUCTURED_KEYS)}")
    for key in opts:
        check_choice("model.structured", key, STRUCTURED_KEYS)
    width = check_int("model.structured.width", opts.get("width", 128), 1)
    layers = check_int("model.structured.layers", opts.get("layers", 3), 0)
    m2 = 2 * system.n_antennas
    head = HeadConfig((width, *opts.get("head", [64]), 2), output="optimal_beams",
                      output_params={"power": system.p_max_w})
    graph = {k: opts[k] for k in ("aggregation", "message_widths") if k in opts}
    return NetConfig(feature_widths=(m2, *([width] * (layers + 1))),
                     heads={SOURCE_HEAD: head, TARGET_HEAD: head},
                     decoder_widths=(width, *opts.get("decoder", [64]), m2),
                     family="structured", graph=graph)


NET_BUILDERS = {"mlp": _mlp_net, "structured": _structured_net}
"""``model.family`` -> ``(model section, system) -> NetConfig``."""

RECONSTRUCTION_KEYS = {"mlp": "x", "structured": "x_rec"}
"""Batch key of the decoder's target per model family."""


def model_family(config: dict) -> str:
    """``model.family`` (``mlp`` when absent), validated."""
    return check_choice("model.family", config["model"].get("family", "mlp"),
                        tuple(NET_BUILDERS))


def net_config(config: dict, system: MuMisoConfig) -> NetConfig:
    """The network of ``model.family``: ``mlp`` (flat ``2KM`` reals in and out, the
    baseline) or ``structured`` (any K, :mod:`wirelessrl.beam_structure`)."""
    return NET_BUILDERS[model_family(config)](config["model"], system)


def make_task(config: dict, system: MuMisoConfig | None = None) -> TransferTask:
    """Sum-rate -> min-rate :class:`~wirelessrl.transfer.TransferTask` of the config."""
    system = system_config(config) if system is None else system
    target = config["target"]
    kind = check_choice("target.min_rate_loss", target.get("min_rate_loss", "hard"),
                        ("hard", "softmin"))
    temperature = target.get("softmin_temperature") if kind == "softmin" else None
    common = {"n_users": system.n_users, "noise_w": 1.0}  # channels stored noise-normalized
    return TransferTask(
        net=net_config(config, system), source_head=SOURCE_HEAD, target_head=TARGET_HEAD,
        source_loss=MuMisoRateLoss("sum", **common),
        target_loss=MuMisoRateLoss("min", softmin_temperature=temperature, **common),
        reconstruction_key=RECONSTRUCTION_KEYS[model_family(config)],
        alpha=float(config["source"]["alpha"]),
        source_monitor=("sum_rate_bps_per_hz", "max"),
        target_monitor=("min_rate_bps_per_hz", "max"))


def network_input(samples: MuMisoSamples, kind: str) -> np.ndarray:
    """``[n, K, M, 2]`` real pairs the network sees: ``h / sigma`` (perfect CSI) or its
    least-squares estimate from the pilots, ``y / (sqrt(L P_ue) sigma)``."""
    h = samples.h if kind == "channel" else samples.channel_estimate()
    return np.ascontiguousarray(np.stack([h.real, h.imag], axis=-1)
                                / math.sqrt(samples.config.noise_w))


def fit_inputs(family: str, x: np.ndarray) -> Standardizer:
    """The input standardizer of ``model.family`` fitted on the source-training inputs
    ``x : [n, K, M, 2]``: per entry (``mlp``), or one scalar mean and std over every entry
    (``structured``: the same map for every user and any K)."""
    return Standardizer.fit(x if family == "mlp" else x.reshape(-1, 1))


def tensors(samples: MuMisoSamples, inputs: Standardizer, kind: str,
            family: str = "mlp") -> dict[str, torch.Tensor]:
    """Batch dict of a split (float32): ``h : [n, K, M, 2]`` the true noise-normalized
    channel and, ``mlp``: ``x : [n, 2KM]`` the standardized input (also the reconstruction
    target); ``structured``: ``x : [n, K, M, 2]`` the noise-normalized input (the beams are
    built from it) and ``x_rec : [n, K, 2M]`` its scalar-standardized form (the decoder's
    target)."""
    h = np.stack([samples.h.real, samples.h.imag], axis=-1) / math.sqrt(samples.config.noise_w)
    x = network_input(samples, kind)
    out = {"h": torch.from_numpy(h.astype(np.float32))}
    if family == "mlp":
        return {"x": torch.from_numpy(inputs(x)), **out}
    rec = inputs(x.reshape(-1, 1)).reshape(x.shape[0], x.shape[1], -1)
    return {"x": torch.from_numpy(x.astype(np.float32)), "x_rec": torch.from_numpy(rec), **out}


def baseline_methods(config: dict) -> dict[str, tuple[str, dict]]:
    """Report label -> (solver, options) of the test-set baselines."""
    b = config["baselines"]
    wmmse = {"tol": float(b["wmmse_tol"]), "iterations": int(b["wmmse_iterations"])}
    k = int(b["wmmse_restarts"])
    return {
        "max-min optimum": ("maxmin", {}),
        f"WMMSE best of {k}": ("wmmse", {**wmmse, "init": "zf", "restarts": k}),
        "WMMSE": ("wmmse", {**wmmse, "init": "zf"}),
        "ZF": ("zf", {}), "RZF": ("rzf", {}), "MRT": ("mrt", {}),
    }


def _split_seed(seed: int, split: str) -> int:
    return 10 * seed + SPLITS.index(split)


class MuMisoRun(TaskRun):
    """One seed of the multi-user MISO experiment under ``run_dir/seed-<seed>``."""

    name = "mu-miso"
    title = "multi-user MISO"

    def __init__(self, config: dict, run_dir: Path, seed: int, echo: Echo = print,
                 step_cache: str | Path | None = None) -> None:
        self.system = system_config(config)
        super().__init__(config, run_dir, seed, echo, step_cache)
        self._samples: dict[str, MuMisoSamples] | None = None
        self._data: dict | None = None

    @classmethod
    def make_task(cls, config: dict) -> TransferTask:
        """Sum-rate -> min-rate beamforming task of the config (:func:`make_task`)."""
        return make_task(config)

    @classmethod
    def check_task_config(cls, config: dict) -> None:
        """``model.input``, split sizes and the WMMSE baseline settings."""
        check_choice("model.input", config["model"]["input"], INPUTS)
        for split in SPLITS:
            check_int(f"data.{split}", config["data"][split], 1)
        b = config["baselines"]
        check_int("baselines.wmmse_restarts", b["wmmse_restarts"], 1)
        check_int("baselines.wmmse_iterations", b["wmmse_iterations"], 1)

    def data_config(self) -> dict:
        """System config, split sizes, ``model.input`` and seed."""
        return {"system": self.system.to_dict(), "data": self.config["data"],
                "input": self.config["model"]["input"], "seed": self.seed}

    # ----------------------------------------------------------------- data
    def make_data(self) -> None:
        """``data/<split>.h5`` for each of :data:`SPLITS`: channel draws of the split's size,
        seed ``10 seed + split index``."""
        def build():
            for split in SPLITS:
                n = int(self.config["data"][split])
                simulate_mu_miso_file(self.system, n, _split_seed(self.seed, split),
                                      self.path("data", f"{split}.h5"), progress=n >= 100_000)

        self.steps.run("data", self.data_config(), build, [f"data/{s}.h5" for s in SPLITS])

    def samples(self) -> dict[str, MuMisoSamples]:
        """Every split's :class:`~simulators.mu_miso.MuMisoSamples` (loaded once)."""
        if self._samples is None:
            self._samples = {s: load_mu_miso(self.path("data", f"{s}.h5")) for s in SPLITS}
        return self._samples

    def data(self) -> dict[str, dict[str, torch.Tensor]]:
        """Every split as :func:`tensors` (loaded once), the input standardizer fitted on
        ``source_train``."""
        if self._data is None:
            samples = self.samples()
            kind = self.config["model"]["input"]
            family = model_family(self.config)
            self.inputs = fit_inputs(family, network_input(samples["source_train"], kind))
            self._data = {s: tensors(v, self.inputs, kind, family) for s, v in samples.items()}
        return self._data

    # ------------------------------------------------------------ baselines
    def solve_baselines(self) -> None:
        """``baselines.h5``: the test-set beamformers ``w<i> : [n_test, K, M]`` (complex) of
        every :func:`baseline_methods` entry, timed after a JIT warm-up, with stopping rules
        and status counts."""
        methods = baseline_methods(self.config)

        def build():
            h = self.samples()["test"].h
            arrays, info = {}, {}
            for i, (label, (method, options)) in enumerate(methods.items()):
                solve_beamforming(method, h[:2], p_max_w=self.system.p_max_w,  # warm-up (JIT)
                                  noise_w=self.system.noise_w, seed=self.seed, **options)
                start = time.perf_counter()
                res = solve_beamforming(method, h, p_max_w=self.system.p_max_w,
                                        noise_w=self.system.noise_w, seed=self.seed, **options)
                seconds = time.perf_counter() - start
                arrays[f"w{i}"] = res.w
                statuses, counts = np.unique(res.status, return_counts=True)
                info[label] = {"key": f"w{i}", "method": method, "seconds": seconds,
                               "stopping_rule": res.options["stopping_rule"],
                               "status_counts": dict(zip(statuses.tolist(), counts.tolist(),
                                                         strict=True))}
            meta = provenance("mu-miso-baselines", self.system.to_dict(), self.seed,
                              methods=info)
            write_arrays(self.path("baselines.h5"), arrays, meta)

        self.steps.run("baselines", {**self.data_config(), "baselines": self.config["baselines"]},
                       build, ["baselines.h5"])

    # ------------------------------------------------------------ evaluation
    def evaluate(self, out: torch.Tensor, head: str) -> dict[str, np.ndarray]:
        """Per-sample results of network outputs ``[n, 2KM]`` on the test set: the
        beamformers ``w [n, K, M]`` (complex) and the user rates ``[n, K]`` (bit/s/Hz)."""
        from simulators.beamforming import user_rates_bps

        pairs = out.detach().double().numpy().reshape(-1, self.system.n_users,
                                                      self.system.n_antennas, 2)
        w = pairs[..., 0] + 1j * pairs[..., 1]
        h = self.samples()["test"].h
        return {"w": w, "rates": user_rates_bps(h, w, self.system.noise_w)}


TASK = MuMisoRun
