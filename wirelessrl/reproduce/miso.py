r"""MISO beamforming (source) -> localization (target) transfer, end to end.

SPEC section 3: three 4 x 4-antenna base stations observe four uplink pilots of one user;
the network input is the 24 reals of the ``3 x 4`` complex observations, standardized per
entry with the source-training statistics. The *source* task is downlink beamforming (the
paper's supervised MSE to the MRT beamformer ``h_b / ||h_b||``, or optionally the
unsupervised loss ``-mean_b |h_b^H v_b|^2 / ||h_b||^2``); the *target* task is
localization (MSE on ``(x, y)`` in m, 500 labelled users). The reconstruction target is the
common information, per BS ``(d, dx/d, dy/d)`` (9 values, standardized like the input).

Steps per seed, each resumable (see :class:`wirelessrl.steps.StepRunner`):

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
6. ``report``: tables (CSV, JSON, markdown) and plots over all seeds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

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
from simulators.miso import MisoConfig, MisoSamples, MisoSystem, check_system_seed, make_system
from simulators.validation import ConfigError, check_choice, check_int, check_positive
from wirelessrl.corruption import (
    check_source_corruption,
    hashed_source_section,
    source_corruption,
)
from wirelessrl.datasets import load_miso, simulate_miso_file
from wirelessrl.fileio import provenance, read_arrays, write_arrays
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import (
    BeamformingGainLoss,
    LocalizationLoss,
    MRTLoss,
)
from wirelessrl.reproduce.common import (
    Echo,
    feature_width,
    save_effective_config,
    train_config,
)
from wirelessrl.steps import StepRunner
from wirelessrl.transfer import TransferTask, get_strategy, train_source, train_target

SPLITS = ("source_train", "source_valid", "target_train", "target_valid", "test")
SOURCE_FOR = {"conventional": "conventional", "reconstruction": "reconstruction",
              "finetune": "reconstruction", "regular": None}
SOURCE_LOSSES = ("mrt-mse", "gain")
SOURCE_MONITORS = {"bf_gain": ("bf_gain", "max"), "loss": ("loss", "min")}
BEAMFORMERS = ("perfect MRT", "genie LMMSE", "LoS", "random")
"""Test-set beamforming baselines, in report order."""

SOURCE_HEAD, TARGET_HEAD = "beamforming", "localization"

PAPER_FIGURES = {  # SPEC section 3, authors' models on their 2,000 test users
    "error_mean_m": {"reconstruction": 5.59, "conventional": 6.06, "regular": 6.56,
                     "centre guess": 30.6},
    "bf_gain_pct": {"source, with reconstruction": 91.3, "source, no reconstruction": 91.9},
}
EXPECTED_BF_GAIN_PCT = {"perfect MRT": 100.0, "genie LMMSE": 92.3, "LoS": 91.5}
"""SPEC section 3's expected beamforming baselines (not paper figures)."""


# ------------------------------------------------------------------ configuration


def system_config(config: dict) -> MisoConfig:
    system = config["system"]
    return MisoConfig.from_preset(system.get("preset", "paper"),
                                  **(system.get("overrides") or {}))


def system_seed(config: dict) -> int | str:
    """The experiment's pilot / sensing system: an integer seed or a named draw ("paper")."""
    return check_system_seed(config["system"].get("system_seed", 0), "system.system_seed")


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


def source_loss(config: dict, system: MisoConfig):
    kind = check_choice("source.loss", config["source"].get("loss", "mrt-mse"), SOURCE_LOSSES)
    return (MRTLoss(n_bs=system.n_bs) if kind == "mrt-mse"
            else BeamformingGainLoss(n_bs=system.n_bs))


def make_task(config: dict, system: MisoConfig) -> TransferTask:
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


@dataclass
class Standardizer:
    """Per-entry standardization ``(z - mean) / std`` with the source-training statistics."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, z: np.ndarray) -> Standardizer:
        z = z.reshape(z.shape[0], -1)
        std = z.std(axis=0)
        return cls(z.mean(axis=0), np.where(std > 0, std, 1.0))

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return ((z.reshape(z.shape[0], -1) - self.mean) / self.std).astype(np.float32)


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


@dataclass(frozen=True)
class Variant:
    """A labelled variant of the training (own table in the report).

    ``target`` overrides keys of the ``target`` section (epochs, patience, ...); ``lrs``
    is its learning-rate grid, chosen on validation per strategy. ``source`` overrides
    keys of the ``source`` section (epochs, batch_size, lr, alpha, ...): the variant then
    trains its own source networks under ``source-<name>/`` and transfers from those;
    without it the variant transfers from the main source networks.
    """

    name: str
    label: str
    target: dict
    lrs: tuple[float, ...]
    strategies: tuple[str, ...]
    source: dict

    KEYS: ClassVar[tuple[str, ...]] = ("name", "label", "target", "source", "lrs", "strategies")

    @classmethod
    def from_dict(cls, value: dict, config: dict, index: int) -> Variant:
        where = f"variants[{index}]"
        if not isinstance(value, dict) or "name" not in value:
            raise ConfigError(f"{where}={value!r} is invalid; expected a mapping with a name")
        unknown = set(value) - set(cls.KEYS)
        if unknown:
            raise ConfigError(f"{where}.{sorted(unknown)[0]} is not a variant key; expected "
                              + ", ".join(cls.KEYS))
        name = str(value["name"])
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"{where}.name={name!r} is invalid; expected letters, digits, "
                              "- or _")
        sections = {}
        for section in ("target", "source"):
            sections[section] = dict(value.get(section) or {})
            for key in sections[section]:
                if key not in config[section]:
                    raise ConfigError(f"{where}.{section}.{key} is not a {section} key; "
                                      "expected one of " + ", ".join(config[section]))
        lrs = tuple(float(check_positive(f"{where}.lrs", v))
                    for v in (value.get("lrs") or [config["target"]["lr"]]))
        strategies = tuple(value.get("strategies") or config["strategies"])
        for s in strategies:
            check_choice(f"{where}.strategies", s, tuple(SOURCE_FOR))
        return cls(name, str(value.get("label", name)), sections["target"], lrs, strategies,
                   sections["source"])

    def source_section(self, config: dict) -> dict:
        return {**config["source"], **self.source}

    @property
    def source_dir(self) -> str:
        """Folder of the source networks this variant transfers from."""
        return f"source-{self.name}" if self.source else "source"


def variants(config: dict) -> list[Variant]:
    out = [Variant.from_dict(v, config, i) for i, v in enumerate(config.get("variants") or [])]
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"variants names {names} are invalid; expected distinct names")
    return out


def baseline_settings(config: dict) -> dict:
    """The validated ``baselines`` section."""
    b = config["baselines"]
    return {"knn_k": check_int("baselines.knn_k", b["knn_k"], 1),
            "grid_estimators": [check_choice("baselines.grid_estimators", e, ("mmse", "ml"))
                                for e in b["grid_estimators"]],
            "grid_step_m": check_positive("baselines.grid_step_m", b["grid_step_m"]),
            "random_seed": check_int("baselines.random_seed", b["random_seed"], 0)}


# ------------------------------------------------------------------ one seed


class MisoExperiment:
    """One seed of the MISO experiment under ``run_dir/seed-<seed>``."""

    def __init__(self, config: dict, run_dir: Path, seed: int, echo: Echo,
                 step_cache: str | Path | None = None) -> None:
        self.config = config
        self.seed = seed
        self.dir = run_dir / f"seed-{seed}"
        self.steps = StepRunner(self.dir, echo, cache_dir=step_cache)
        self.echo = echo
        self.system = system_config(config)
        self.system_seed = system_seed(config)
        self.task = make_task(config, self.system)
        self._samples: dict[str, MisoSamples] | None = None
        self._data: dict | None = None
        self._system: MisoSystem | None = None

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    @property
    def pilot_system(self) -> MisoSystem:
        """The pilots and sensing vectors every file of this experiment must share."""
        if self._system is None:
            self._system = make_system(self.system, self.system_seed)
        return self._system

    def _data_config(self) -> dict:
        return {"system": self.system.to_dict(), "system_seed": self.system_seed,
                "data": self.config["data"], "seed": self.seed}

    # ----------------------------------------------------------------- data
    def make_data(self) -> None:
        def build():
            for split in SPLITS:
                n = int(self.config["data"][split])
                simulate_miso_file(self.system, n, _split_seed(self.seed, split),
                                   self.system_seed, self.path("data", f"{split}.h5"),
                                   progress=n >= 100_000)

        self.steps.run("data", self._data_config(), build, [f"data/{s}.h5" for s in SPLITS])

    def samples(self) -> dict[str, MisoSamples]:
        if self._samples is None:
            self._samples = {s: load_miso(self.path("data", f"{s}.h5"), self.pilot_system)
                             for s in SPLITS}
        return self._samples

    def data(self) -> dict[str, dict[str, torch.Tensor]]:
        if self._data is None:
            samples = self.samples()
            train = samples["source_train"]
            self.inputs = Standardizer.fit(train.observations_real())
            self.factors = Standardizer.fit(train.factors)
            self._data = {s: tensors(v, self.inputs, self.factors) for s, v in samples.items()}
        return self._data

    # ------------------------------------------------------------ baselines
    def solve_baselines(self) -> None:
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

        self.steps.run("baselines", {**self._data_config(), "baselines": settings}, build,
                       ["baselines.h5"])

    def baselines(self) -> tuple[dict[str, np.ndarray], dict]:
        """Every stored baseline array by ``<kind>/<label>`` and the per-method info."""
        arrays, meta = read_arrays(self.path("baselines.h5"), "miso-baselines")
        return {key: arrays[short] for short, key in meta["names"].items()}, meta["methods"]

    # -------------------------------------------------------------- training
    def _step_config(self, **extra) -> dict:
        cfg = {**self._data_config(), "model": self.config["model"],
               "source": self.config["source"], **extra}
        if set(extra) <= {"source", "strategy"}:  # a source step: its own splits only
            cfg["data"] = {k: self.config["data"][k] for k in ("source_train", "source_valid")}
        cfg["source"] = hashed_source_section(
            cfg["source"], SOURCE_FOR.get(cfg.get("strategy")) == "reconstruction")
        return cfg

    def source_net_path(self, name: str, variant: Variant | None = None) -> Path:
        return self.path(variant.source_dir if variant else "source", name, "net.pt")

    def train_sources(self, strategies: list[str], variant: Variant | None = None) -> None:
        """The source networks the strategies need (a variant's own, if it changes them)."""
        section = variant.source_section(self.config) if variant else self.config["source"]
        folder = variant.source_dir if variant else "source"
        needed = sorted({SOURCE_FOR[s] for s in strategies if SOURCE_FOR[s]})
        for name in needed:
            out = self.path(folder, name)

            def build(name=name, out=out):
                d = self.data()
                train_source(self.task, get_strategy(name, alpha=float(section["alpha"])),
                             d["source_train"], d["source_valid"],
                             train_config(section, self.seed, progress=True), out,
                             corruption=source_corruption(section, name, self.task.input_key))

            self.steps.run(f"{folder}/{name}", self._step_config(source=section, strategy=name),
                           build, [f"{folder}/{name}/net.pt"], folder=f"{folder}/{name}",
                           share=True)

    def target_run_dir(self, strategy: str, lr: float, variant: str | None = None) -> Path:
        folder = "target" if variant is None else f"target-{variant}"
        return self.path(folder, f"{strategy}-lr{lr:g}")

    def train_targets(self, strategies, lrs, variant: Variant | None = None) -> None:
        from wirelessrl.checkpoint import load_net

        section_base = {**self.config["target"], **(variant.target if variant else {})}
        source_section = variant.source_section(self.config) if variant else None
        name = variant.name if variant else None
        for strategy in strategies:
            for lr in lrs:
                out = self.target_run_dir(strategy, lr, name)
                section = {**section_base, "lr": float(lr)}

                def build(strategy=strategy, out=out, section=section):
                    d = self.data()
                    source = None
                    if SOURCE_FOR[strategy]:
                        source, _ = load_net(self.source_net_path(SOURCE_FOR[strategy], variant))
                    strat = get_strategy(
                        strategy, alpha=self.task.alpha,
                        feature_lr_scale=section.get("finetune_feature_lr_scale")
                        if strategy == "finetune" else None,
                    )
                    train_target(self.task, strat, source, d["target_train"], d["target_valid"],
                                 train_config(section, self.seed, checkpoint_every_s=30.0), out)

                rel = out.relative_to(self.dir)
                extra = {"target": section, "strategy": strategy}
                if source_section is not None and variant.source:
                    extra["source"] = source_section
                self.steps.run(str(rel), self._step_config(**extra), build, [f"{rel}/net.pt"],
                               folder=str(rel))

    def train_supervised(self) -> None:
        """The ceiling: the localization network from scratch on every source user."""
        section = self.config["supervised"]
        out = self.path("supervised")

        def build():
            d = self.data()
            train_target(self.task, "regular", None, d["source_train"], d["source_valid"],
                         train_config(section, self.seed, progress=True), out)

        self.steps.run("supervised", self._step_config(supervised=section), build,
                       ["supervised/net.pt"], folder="supervised")

    # ------------------------------------------------------------ evaluation
    def net_outputs(self, net_path: Path, head: str) -> tuple[np.ndarray, float]:
        """Test-set head outputs of a saved network and its inference users/s."""
        from wirelessrl.checkpoint import load_net

        net, _ = load_net(net_path)
        net.eval()
        x = self.data()["test"]["x"]
        with torch.no_grad():
            net(x[:8], head=head)
            start = time.perf_counter()
            out = net(x, head=head)["out"]
            seconds = time.perf_counter() - start
        return out.double().numpy(), len(x) / seconds

    def beamformers(self, net_path: Path) -> tuple[np.ndarray, float]:
        """Test-set beamformers ``[n, B, M]`` complex of a source network, and users/s."""
        out, speed = self.net_outputs(net_path, SOURCE_HEAD)
        pairs = out.reshape(out.shape[0], self.system.n_bs, self.system.n_antennas, 2)
        return pairs[..., 0] + 1j * pairs[..., 1], speed

    def best_lr(self, strategy: str, lrs, variant: str | None = None) -> float:
        """The learning rate whose run reached the smallest validation mean error."""
        scores = {}
        for lr in lrs:
            fit = json.loads((self.target_run_dir(strategy, lr, variant) / "fit.json")
                             .read_text())
            scores[lr] = fit["result"]["best_metric"]
        return min(scores, key=scores.get)


def _strategies(config: dict) -> list[str]:
    names = list(config["strategies"])
    if not names:
        raise ConfigError("strategies=[] is invalid; expected at least one strategy")
    for s in names:
        check_choice("strategies", s, tuple(SOURCE_FOR))
    return names


def check_config(config: dict) -> None:
    """Every check that can fail, before any work."""
    system = system_config(config)
    system_seed(config)
    make_task(config, system)
    _strategies(config)
    check_source_corruption(config["source"])
    for v in variants(config):
        check_source_corruption(v.source_section(config), f"variants.{v.name}.source")
    train_config(config["source"], 0)
    train_config(config["target"], 0)
    train_config(config["supervised"], 0)
    for lr in config["tuning"]["lrs"]:
        check_positive("tuning.lrs", lr)
    scale = config["target"].get("finetune_feature_lr_scale")
    if scale is not None:
        check_positive("target.finetune_feature_lr_scale", scale)
    for split in SPLITS:
        check_int(f"data.{split}", config["data"][split], 1)
    baseline_settings(config)


def run(config: dict, run_dir: str | Path, seeds: list[int], echo: Echo = print,
        step_cache: str | Path | None = None) -> Path:
    """Run the MISO experiment for every seed and write the report; return ``report.md``."""
    run_dir = Path(run_dir)
    check_config(config)
    strategies = _strategies(config)
    save_effective_config(run_dir, config, seeds)
    target_lr = float(config["target"]["lr"])
    tuned_lrs = sorted({float(v) for v in config["tuning"]["lrs"]} | {target_lr})
    tuning = bool(config["tuning"].get("enabled", True))
    experiments = []
    for seed in seeds:
        echo(f"== MISO seed {seed} ==")
        exp = MisoExperiment(config, run_dir, seed, echo, step_cache)
        exp.make_data()
        exp.solve_baselines()
        exp.train_sources(strategies + [s for v in variants(config) if not v.source
                                        for s in v.strategies])
        exp.train_targets(strategies, [target_lr])
        if tuning:
            exp.train_targets(strategies, [lr for lr in tuned_lrs if lr != target_lr])
        if config["supervised"].get("enabled", True):
            exp.train_supervised()
        for v in variants(config):
            if v.source:
                exp.train_sources(list(v.strategies), v)
            exp.train_targets(list(v.strategies), list(v.lrs), v)
        experiments.append(exp)
    from wirelessrl.reproduce.miso_report import write_report

    return write_report(config, run_dir, experiments, strategies, target_lr,
                        tuned_lrs if tuning else [target_lr], echo)
