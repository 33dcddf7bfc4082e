r"""MISO beamforming (source) -> localization (target) transfer, the task module.

SPEC section 3: three 4 x 4-antenna base stations observe four uplink pilots of one user;
the network input is the 24 reals of the ``3 x 4`` complex observations, standardized per
entry with the source-training statistics. The *source* task is downlink beamforming (the
paper's supervised MSE to the MRT beamformer ``h_b / ||h_b||``, or optionally the
unsupervised loss ``-mean_b |h_b^H v_b|^2 / ||h_b||^2``); the *target* task is
localization (MSE on ``(x, y)`` in m, 500 labelled users). The reconstruction target is the
common information, per BS ``(d, dx/d, dy/d)`` (9 values, standardized like the input).

Steps per seed, each resumable (the runner's, :mod:`experiments.runner`, plus these):

1. ``data``: source train/valid, target train/valid and test users (HDF5 files), all with
   the pilots and sensing vectors of one system drawn from ``system.system_seed``.
2. ``baselines``: on the test set, the beamformers (perfect MRT, genie LMMSE, line of sight,
   random) and the localization baselines (centre guess, label-free grid estimator on the
   known model, kNN fingerprinting over the labelled source users).
3. ``source/<conventional|reconstruction>``: the beamforming networks, without and with
   the reconstruction loss.
4. ``target/<strategy>-lr<lr>``: every transfer strategy on localization, with the paper's
   settings and, for the equal-budget table, a learning-rate grid chosen on validation;
   ``target-<variant>/...`` (and ``source-<variant>/...``) for each labelled variant.
5. ``supervised``: the ceiling, the localization network trained from scratch on every
   source user's position (100,000 labels instead of 500).
6. ``evaluate``: the test-set outputs of every network (``evaluation.h5``), then the report
   (tables, CSV, JSON, markdown, plots over all seeds) from the files alone
   (:mod:`experiments.miso_report`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from baselines.miso import (
    beamforming_gain,
    centre_guess,
    genie_lmmse_beamformer,
    grid_localization,
    knn_fingerprint,
    los_beamformer,
    mrt,
    random_beamformer,
    received_snr_db,
    snr_fraction_of_mrt,
)
from experiments.runner import TaskRun, feature_width, train_config
from experiments.systems import miso_system as system_config
from experiments.systems import miso_system_seed as system_seed
from simulators.miso import MisoConfig, MisoSamples, MisoSystem, make_system
from simulators.validation import check_choice, check_int, check_positive
from wirelessrl.datasets import load_miso, simulate_miso_file
from wirelessrl.fileio import provenance, write_arrays
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import (
    BeamformingGainLoss,
    LocalizationLoss,
    MRTLoss,
)
from wirelessrl.probes import ProbeTask, r2_score
from wirelessrl.results import Echo
from wirelessrl.standardize import Standardizer
from wirelessrl.transfer import TransferTask, train_target

SPLITS = ("source_train", "source_valid", "target_train", "target_valid", "test")
SOURCE_LOSSES = ("mrt-mse", "gain")
SOURCE_MONITORS = {"bf_gain": ("bf_gain", "max"), "loss": ("loss", "min")}
SOURCE_HEAD, TARGET_HEAD = "beamforming", "localization"


# ------------------------------------------------------------------ configuration


def net_config(config: dict, system: MisoConfig) -> NetConfig:
    """The paper's MISO networks (:func:`wirelessrl.models.miso_net_config`) from the config."""
    model = config["model"]
    n_in = 2 * system.n_bs * system.n_pilots
    width = feature_width(model)
    lo, hi = system.user_area_m
    return NetConfig(
        feature_widths=(n_in, *model["feature"]),
        heads={
            SOURCE_HEAD: HeadConfig((width, *model["beamforming_head"],
                                     2 * system.n_bs * system.n_antennas),
                                    output="unit_norm_complex",
                                    output_params={"groups": system.n_bs}),
            TARGET_HEAD: HeadConfig((width, *model["localization_head"], 2),
                                    output="scaled_sigmoid",
                                    output_params={"low": lo, "high": hi}),
        },
        decoder_widths=(width, *model["decoder"], 3 * system.n_bs),
    )


def source_loss(config: dict, system: MisoConfig) -> MRTLoss | BeamformingGainLoss:
    """The beamforming loss of ``source.loss``: ``mrt-mse`` (the paper's) or ``gain``."""
    kind = check_choice("source.loss", config["source"].get("loss", "mrt-mse"), SOURCE_LOSSES)
    return (MRTLoss(n_bs=system.n_bs) if kind == "mrt-mse"
            else BeamformingGainLoss(n_bs=system.n_bs))


def make_task(config: dict, system: MisoConfig | None = None) -> TransferTask:
    """Beamforming -> localization :class:`~wirelessrl.transfer.TransferTask` of the config."""
    system = system_config(config) if system is None else system
    monitor = check_choice("source.monitor", config["source"].get("monitor", "bf_gain"),
                           tuple(SOURCE_MONITORS))
    return TransferTask(
        net=net_config(config, system),
        source_head=SOURCE_HEAD,
        target_head=TARGET_HEAD,
        source_loss=source_loss(config, system),
        target_loss=LocalizationLoss(position_key="pos"),
        reconstruction_key="factors",
        alpha=float(config["source"]["alpha"]),
        source_monitor=SOURCE_MONITORS[monitor],
        target_monitor=("error_m", "min"),
    )


def tensors(data: MisoSamples, inputs: Standardizer, factors: Standardizer) -> dict:
    """Batch dict of a split.

    Output
    ------
    x : [n, 2 B L] float32, standardized observations (network input)
    h : [n, B, M, 2] float32, channels as real pairs (MRT labels, gains)
    pos : [n, 2] float32, user position in m (localization labels)
    factors : [n, 3 B] float32, standardized ``(d, dx/d, dy/d)`` per BS (reconstruction)
    """
    return {
        "x": torch.from_numpy(inputs(data.observations_real())),
        "h": torch.view_as_real(torch.from_numpy(data.h.astype(np.complex64))).contiguous(),
        "pos": torch.from_numpy(data.positions_m.astype(np.float32)),
        "factors": torch.from_numpy(factors(data.factors)),
    }


def _split_seed(seed: int, split: str) -> int:
    return 10 * seed + SPLITS.index(split)


def baseline_settings(config: dict) -> dict:
    """The validated ``baselines`` section."""
    b = config["baselines"]
    return {"knn_k": check_int("baselines.knn_k", b["knn_k"], 1),
            "grid_estimators": [check_choice("baselines.grid_estimators", e, ("mmse", "ml"))
                                for e in b["grid_estimators"]],
            "grid_step_m": check_positive("baselines.grid_step_m", b["grid_step_m"]),
            "random_seed": check_int("baselines.random_seed", b["random_seed"], 0)}


class MisoRun(TaskRun):
    """One seed of the MISO experiment under ``run_dir/seed-<seed>``."""

    name = "miso"
    title = "MISO"

    def __init__(self, config: dict, run_dir: Path, seed: int, echo: Echo = print,
                 step_cache: str | Path | None = None) -> None:
        self.system = system_config(config)
        self.system_seed = system_seed(config)
        super().__init__(config, run_dir, seed, echo, step_cache)
        self._samples: dict[str, MisoSamples] | None = None
        self._data: dict | None = None
        self._system: MisoSystem | None = None

    @classmethod
    def make_task(cls, config: dict) -> TransferTask:
        """Beamforming -> localization task of the config (:func:`make_task`)."""
        return make_task(config)

    @classmethod
    def check_task_config(cls, config: dict) -> None:
        """System seed, ``supervised`` training section, split sizes and baselines."""
        system_seed(config)
        train_config(config["supervised"], 0, "supervised")
        for split in SPLITS:
            check_int(f"data.{split}", config["data"][split], 1)
        baseline_settings(config)

    @property
    def pilot_system(self) -> MisoSystem:
        """The pilots and sensing vectors every file of this experiment must share."""
        if self._system is None:
            self._system = make_system(self.system, self.system_seed)
        return self._system

    def data_config(self) -> dict:
        """System config, system seed, split sizes and seed."""
        return {"system": self.system.to_dict(), "system_seed": self.system_seed,
                "data": self.config["data"], "seed": self.seed}

    # ----------------------------------------------------------------- data
    def make_data(self) -> None:
        """``data/<split>.h5`` for each of :data:`SPLITS`: MISO users of the split's size,
        seed ``10 seed + split index``, all with the pilots of :attr:`pilot_system`."""
        def build():
            for split in SPLITS:
                n = int(self.config["data"][split])
                simulate_miso_file(self.system, n, _split_seed(self.seed, split),
                                   self.system_seed, self.path("data", f"{split}.h5"),
                                   progress=n >= 100_000)

        self.steps.run("data", self.data_config(), build, [f"data/{s}.h5" for s in SPLITS])

    def samples(self) -> dict[str, MisoSamples]:
        """Every split's :class:`~simulators.miso.MisoSamples` (loaded once)."""
        if self._samples is None:
            self._samples = {s: load_miso(self.path("data", f"{s}.h5"), self.pilot_system)
                             for s in SPLITS}
        return self._samples

    def data(self) -> dict[str, dict[str, torch.Tensor]]:
        """Every split as :func:`tensors` (loaded once), input and factor standardizers
        fitted on ``source_train``."""
        if self._data is None:
            samples = self.samples()
            train = samples["source_train"]
            self.inputs = Standardizer.fit(train.observations_real())
            self.factors = Standardizer.fit(train.factors)
            self._data = {s: tensors(v, self.inputs, self.factors) for s, v in samples.items()}
        return self._data

    # ------------------------------------------------------------ baselines
    def solve_baselines(self) -> None:
        """``baselines.h5``: on the test set, the beamforming gain, received SNR (dB) and
        fraction of the MRT SNR of each beamformer baseline, and the positions ``[n, 2]``
        (m) of each localization baseline, timed (see the module docstring)."""
        settings = baseline_settings(self.config)

        def build():
            samples = self.samples()
            test, train = samples["test"], samples["source_train"]
            cfg, n = self.system, len(test)
            arrays, info = {}, {}

            def timed(label, fn, **extra):
                start = time.perf_counter()
                out = fn()
                info[label] = {"seconds": time.perf_counter() - start, **extra}
                return out

            beams = {
                "perfect MRT": lambda: mrt(test.h),
                "genie LMMSE": lambda: genie_lmmse_beamformer(cfg, self.pilot_system,
                                                              test.positions_m, test.y),
                "LoS": lambda: los_beamformer(cfg, test.positions_m),
                "random": lambda: random_beamformer(n, cfg.n_bs, cfg.n_antennas,
                                                    settings["random_seed"]),
            }
            notes = {"perfect MRT": "perfect CSI (reference)",
                     "genie LMMSE": "position known, h by LMMSE from the pilots",
                     "LoS": "position known, MRT on the line-of-sight part",
                     "random": "isotropic unit-norm vectors"}
            for label, fn in beams.items():
                v = timed(label, fn, kind="beamformer", note=notes[label])
                arrays[f"bf_gain/{label}"] = beamforming_gain(test.h, v)
                arrays[f"snr_db/{label}"] = received_snr_db(test.h, v, cfg.p_bs_w, cfg.noise_w)
                arrays[f"snr_fraction/{label}"] = snr_fraction_of_mrt(test.h, v)
            arrays["pos/centre guess"] = timed("centre guess", lambda: centre_guess(n, cfg),
                                               kind="localization", labels=0)
            for est in settings["grid_estimators"]:
                label = f"grid {est.upper()}"
                arrays[f"pos/{label}"] = timed(
                    label, lambda est=est: grid_localization(
                        cfg, self.pilot_system, test.y, estimator=est,
                        grid_step_m=settings["grid_step_m"]),
                    kind="localization", labels=0, grid_step_m=settings["grid_step_m"],
                    note="known model and system, Gaussian noise approximation, no labels")
            k = min(settings["knn_k"], len(train))
            arrays["pos/kNN fingerprint"] = timed(
                "kNN fingerprint", lambda: knn_fingerprint(
                    train.observations_real(), train.positions_m, test.observations_real(), k),
                kind="localization", labels=len(train), k=k)
            names = {f"a{i}": key for i, key in enumerate(arrays)}  # HDF5-safe names
            meta = provenance("miso-baselines", cfg.to_dict(), self.seed,
                              system_seed=self.system_seed, methods=info, names=names,
                              settings=settings)
            write_arrays(self.path("baselines.h5"),
                         {short: arrays[key] for short, key in names.items()}, meta)

        self.steps.run("baselines", {**self.data_config(), "baselines": settings}, build,
                       ["baselines.h5"])

    # -------------------------------------------------------------- training
    def extra_steps(self) -> None:
        """The ``supervised`` ceiling (:meth:`train_supervised`) unless disabled."""
        if self.config["supervised"].get("enabled", True):
            self.train_supervised()

    def train_supervised(self) -> None:
        """The ceiling: the localization network from scratch on every source user."""
        section = self.config["supervised"]
        out = self.path("supervised")

        def build():
            d = self.data()
            train_target(self.task, "regular", None, d["source_train"], d["source_valid"],
                         train_config(section, self.seed, progress=True), out)

        self.steps.run("supervised", self.step_config(supervised=section), build,
                       ["supervised/net.pt"], folder="supervised")

    # ------------------------------------------------------------ evaluation
    def extra_networks(self) -> list[dict]:
        """The supervised localization network, when it is trained."""
        if not self.config["supervised"].get("enabled", True):
            return []
        return [{"rel": "supervised", "head": TARGET_HEAD, "name": "supervised"}]

    def evaluate(self, out: torch.Tensor, head: str) -> dict[str, np.ndarray]:
        """Localization: ``pos_m : [n, 2]`` float64 (m); beamforming: ``out : [n, 2 B M]``
        float64, the unit-norm beamformers per BS as real pairs."""
        key = "pos_m" if head == TARGET_HEAD else "out"
        return {key: out.double().numpy()}

    # ------------------------------------------------------------ analysis
    def analysis_task(self) -> ProbeTask:
        """Probe target: the user position ``(x, y) : [n, 2]`` in m. Score: the mean,
        median and 90th-percentile localization error (m) and the R^2 of the position;
        reference row: the centre guess. Entries: the ``B x 3`` reconstruction target
        ``(d, dx/d, dy/d)`` per BS (standardized), grouped by factor."""
        pos = {s: self.samples()[s].positions_m.astype(np.float64) for s in
               ("target_train", "target_valid", "test")}

        def score(pred: np.ndarray) -> dict[str, float]:
            err = np.linalg.norm(pred - pos["test"], axis=1)          # [n_test] m
            return {"error_m": float(err.mean()), "median_error_m": float(np.median(err)),
                    "p90_error_m": float(np.quantile(err, 0.9)),
                    "r2": r2_score(pred, pos["test"])}

        n_bs = self.system.n_bs
        index = np.arange(3 * n_bs).reshape(n_bs, 3)                  # [B, factor]
        return ProbeTask(
            target=pos, target_label="user position (x, y) in m", score=score,
            metrics={"error_m": "mean localization error (m)",
                     "median_error_m": "median localization error (m)",
                     "p90_error_m": "90th-percentile error (m)",
                     "r2": "R^2 of the position (unitless)"},
            mode="min",
            references={"centre guess": centre_guess(len(pos["test"]), self.system)},
            entry_shape=(n_bs, 3), entry_axes=("factor d, dx/d, dy/d (index)",
                                               "base station (index)"),
            entry_groups={"distance d": index[:, 0], "dx/d": index[:, 1],
                          "dy/d": index[:, 2]},
            entry_name="geometry factor")


TASK = MisoRun
