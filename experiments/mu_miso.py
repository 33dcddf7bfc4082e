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

import time
from pathlib import Path

import numpy as np
import torch

from baselines.mu_miso import solve_beamforming
from experiments.mu_miso_report import ESTIMATE_SUFFIX
from experiments.runner import TaskRun, feature_width
from simulators.mu_miso import MuMisoConfig, MuMisoSamples
from simulators.validation import check_choice, check_int
from wirelessrl.datasets import load_mu_miso, simulate_mu_miso_file
from wirelessrl.fileio import provenance, write_arrays
from wirelessrl.models import NetConfig
from wirelessrl.mu_miso_inputs import (
    INPUTS,
    NET_BUILDERS,
    RECONSTRUCTION_KEYS,
    fit_inputs,
    mu_miso_net_config,
    network_input,
    tensors,
)
from wirelessrl.objectives import MuMisoRateLoss
from wirelessrl.results import Echo
from wirelessrl.transfer import TransferTask

SPLITS = ("source_train", "source_valid", "target_train", "target_valid", "test")
SOURCE_HEAD, TARGET_HEAD = "sum_rate", "min_rate"


def system_config(config: dict) -> MuMisoConfig:
    """The :class:`~simulators.mu_miso.MuMisoConfig` of ``config["system"]``."""
    system = config["system"]
    return MuMisoConfig.from_preset(system.get("preset", "rayleigh-10db"),
                                    **(system.get("overrides") or {}))


def model_family(config: dict) -> str:
    """``model.family`` (``mlp`` when absent), validated."""
    return check_choice("model.family", config["model"].get("family", "mlp"),
                        tuple(NET_BUILDERS))


def net_config(config: dict, system: MuMisoConfig) -> NetConfig:
    """The network of ``model.family`` with the heads ``sum_rate`` and ``min_rate``:
    ``mlp`` (flat ``2KM`` reals in and out, the baseline) or ``structured`` (any K,
    :mod:`wirelessrl.beam_structure`); :func:`wirelessrl.mu_miso_inputs.mu_miso_net_config`."""
    family = model_family(config)
    if family == "mlp":
        feature_width(config["model"])  # validated with the experiment's message
    return mu_miso_net_config(family, system, (SOURCE_HEAD, TARGET_HEAD), config["model"])


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
    def baseline_channels(self) -> dict[str, np.ndarray]:
        """Label suffix -> the test-set channels ``[n_test, K, M]`` the baselines are solved
        on: the true channels (suffix ``""``, the perfect-CSI references) and, with
        ``model.input=pilots``, also the least-squares estimate from the uplink pilots
        (suffix ``" (LS estimate)"``), the estimate the network sees. Every beamformer is
        evaluated on the true channels."""
        test = self.samples()["test"]
        channels = {"": test.h}
        if self.config["model"]["input"] == "pilots":
            channels[ESTIMATE_SUFFIX] = test.channel_estimate()
        return channels

    def solve_baselines(self) -> None:
        """``baselines.h5``: the test-set beamformers ``w<i> : [n_test, K, M]`` (complex) of
        every :func:`baseline_methods` entry on every :meth:`baseline_channels` input, timed
        after a JIT warm-up, with stopping rules and status counts."""
        methods = baseline_methods(self.config)

        def build():
            arrays, info = {}, {}
            for suffix, h in self.baseline_channels().items():
                for label, (method, options) in methods.items():
                    key = f"w{len(arrays)}"
                    arrays[key], info[label + suffix] = self._solve(key, method, options, h)
            meta = provenance("mu-miso-baselines", self.system.to_dict(), self.seed,
                              methods=info)
            write_arrays(self.path("baselines.h5"), arrays, meta)

        self.steps.run("baselines", {**self.data_config(), "baselines": self.config["baselines"]},
                       build, ["baselines.h5"])

    def _solve(self, key: str, method: str, options: dict,
               h: np.ndarray) -> tuple[np.ndarray, dict]:
        """One baseline on channels ``h``: its beamformers and info (timed after a JIT
        warm-up)."""
        common = {"p_max_w": self.system.p_max_w, "noise_w": self.system.noise_w,
                  "seed": self.seed, **options}
        solve_beamforming(method, h[:2], **common)
        start = time.perf_counter()
        res = solve_beamforming(method, h, **common)
        seconds = time.perf_counter() - start
        statuses, counts = np.unique(res.status, return_counts=True)
        return res.w, {"key": key, "method": method, "seconds": seconds,
                       "stopping_rule": res.options["stopping_rule"],
                       "status_counts": dict(zip(statuses.tolist(), counts.tolist(),
                                                 strict=True))}

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
