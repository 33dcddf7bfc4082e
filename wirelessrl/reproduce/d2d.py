"""D2D power control: sum-rate (source) -> min-rate (target) transfer, end to end.

Steps per seed, each resumable (see :class:`wirelessrl.steps.StepRunner`):

1. ``data``: source train/valid, target train/valid and test layouts (HDF5 files).
2. ``baselines``: FP, WMMSE, the exact max-min optimum, full and random power on the test set.
3. ``source/<conventional|reconstruction>``: the sum-rate networks, without and with the
   reconstruction loss.
4. ``target/<table>/<strategy>-lr<lr>``: every transfer strategy on the min-rate target,
   with the paper's settings and, for the equal-budget table, a learning-rate grid chosen
   on validation.
5. ``target/<strategy>+<variant>-lr<lr>``: only for the protocol variants switched on under
   the top-level ``variants`` key (:data:`VARIANTS`), every strategy again on the same
   learning-rate grid, reported in rows of their own.
6. ``report``: tables (CSV, JSON, markdown) and plots over all seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from baselines import solve
from simulators.d2d import D2DConfig
from simulators.validation import ConfigError, check_choice, check_int, check_positive
from wirelessrl.corruption import (
    check_source_corruption,
    hashed_source_section,
    source_corruption,
)
from wirelessrl.datasets import load_d2d, simulate_d2d_file
from wirelessrl.fileio import provenance, read_arrays, write_arrays
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import D2DRateLoss
from wirelessrl.reproduce.common import (
    Echo,
    check_lrs,
    feature_width,
    save_effective_config,
    train_config,
)
from wirelessrl.steps import StepRunner
from wirelessrl.transfer import TransferTask, get_strategy, train_source, train_target

if TYPE_CHECKING:
    from wirelessrl.engine import Augment

SPLITS = ("source_train", "source_valid", "target_train", "target_valid", "test")
INPUT_TRANSFORMS = ("standardized", "log-db")
SOURCE_FOR = {"conventional": "conventional", "reconstruction": "reconstruction",
              "finetune": "reconstruction", "regular": None}
BASELINE_METHODS = {"max-min optimum": "maxmin", "FP": "fp", "WMMSE": "wmmse",
                    "full power": "full", "random power": "random"}


@dataclass(frozen=True)
class Variant:
    """A protocol variant of the target training (SPEC 2: reported in rows of its own).

    ``tag`` names its run directories (``target/<strategy>+<tag>-lr<lr>``), ``label`` its
    report rows (``<strategy> + <label>``), ``protocol`` says what changes.
    """

    tag: str
    label: str
    protocol: str


VARIANTS: dict[str, Variant] = {
    "augment_permutations": Variant(
        "perm", "link permutations",
        "every target-training minibatch is relabelled at random (rows and columns of g "
        "and the network input permuted together, a fresh permutation per layout and "
        "step); the same target layouts, no labels",
    ),
}
"""Protocol variants by the key that switches them on under ``variants:`` in the config."""

PAPER_FIGURES = {  # SPEC section 2, authors' models on their test set
    "min_rate_mbps": {"max-min optimum": 9.163, "reconstruction": 6.005, "regular": 5.322,
                      "conventional": 4.799, "full power": 4.833, "random power": 2.5},
    "min_rate_pct": {"reconstruction": 64.1, "regular": 55.9, "conventional": 51.1,
                     "full power": 52.0, "random power": 27.0},
    "sum_rate_mbps": {"FP": 157.45, "source, with reconstruction": 153.96,
                      "source, no reconstruction": 155.69, "full power": 140.12,
                      "random power": 132.3},
}


def system_config(config: dict) -> D2DConfig:
    system = config["system"]
    return D2DConfig.from_preset(system.get("preset", "paper"), **(system.get("overrides") or {}))


def net_config(config: dict, n_links: int) -> NetConfig:
    model = config["model"]
    head = HeadConfig((feature_width(model), *model["head"], n_links), output="sigmoid")
    return NetConfig(
        feature_widths=(n_links * n_links, *model["feature"]),
        heads={"sum_rate": head, "min_rate": head},
        decoder_widths=(model["feature"][-1], *model["decoder"], n_links * n_links),
    )


def make_task(config: dict, system: D2DConfig) -> TransferTask:
    target = config["target"]
    kind = check_choice("target.min_rate_loss", target.get("min_rate_loss", "hard"),
                        ("hard", "softmin"))
    temperature = target.get("softmin_temperature") if kind == "softmin" else None
    common = {"p_max_w": system.p_max_w, "noise_w": system.noise_w, "snr_gap": system.snr_gap}
    return TransferTask(
        net=net_config(config, system.n_links),
        source_head="sum_rate",
        target_head="min_rate",
        source_loss=D2DRateLoss("sum", **common),
        target_loss=D2DRateLoss("min", softmin_temperature=temperature, **common),
        reconstruction_key="x",
        alpha=float(config["source"]["alpha"]),
        source_monitor=("sum_rate_nats", "max"),
        target_monitor=("min_rate_nats", "max"),
    )


@dataclass
class InputTransform:
    """Per-entry standardization of the flattened gains (linear or dB), source-train stats."""

    kind: str
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, kind: str, g: np.ndarray) -> InputTransform:
        check_choice("model.input_transform", kind, INPUT_TRANSFORMS)
        z = cls._raw(kind, g)
        std = z.std(axis=0)
        return cls(kind, z.mean(axis=0), np.where(std > 0, std, 1.0))

    @staticmethod
    def _raw(kind: str, g: np.ndarray) -> np.ndarray:
        flat = g.reshape(g.shape[0], -1)
        return 10.0 * np.log10(flat) if kind == "log-db" else flat

    def __call__(self, g: np.ndarray) -> np.ndarray:
        return ((self._raw(self.kind, g) - self.mean) / self.std).astype(np.float32)

    def apply_torch(self, g: torch.Tensor) -> torch.Tensor:
        """The same map in torch (float64 inside, float32 out), for inputs recomputed from
        transformed gains during training (:class:`wirelessrl.augment.D2DLinkPermutation`).

        Input: ``g : [batch, n, n]`` linear gains. Output: ``[batch, n * n]`` float32.
        """
        flat = g.reshape(g.shape[0], -1).to(torch.float64)
        if self.kind == "log-db":
            flat = 10.0 * torch.log10(flat)
        mean = torch.from_numpy(np.asarray(self.mean, dtype=np.float64)).to(g.device)
        std = torch.from_numpy(np.asarray(self.std, dtype=np.float64)).to(g.device)
        return ((flat - mean) / std).to(torch.float32)


def enabled_variants(config: dict) -> list[str]:
    """Keys of :data:`VARIANTS` switched on under the config's top-level ``variants``
    (absent or empty: none), validated."""
    section = config.get("variants") or {}
    if not isinstance(section, dict):
        raise ConfigError(
            f"variants={section!r} is invalid; expected a mapping such as "
            "{augment_permutations: false}"
        )
    for key, value in section.items():
        check_choice("variants", key, tuple(VARIANTS))
        if not isinstance(value, bool):
            raise ConfigError(f"variants.{key}={value!r} is invalid; expected true or false")
    return [key for key in VARIANTS if section.get(key)]


def variant_lrs(config: dict) -> list[float]:
    """Learning rates a variant is run with: the equal-budget grid (with the paper's target
    lr), or the paper's lr alone when tuning is off; the best is chosen on validation."""
    target_lr = float(config["target"]["lr"])
    if not config["tuning"].get("enabled", True):
        return [target_lr]
    return sorted({float(v) for v in config["tuning"]["lrs"]} | {target_lr})


def tensors(g: np.ndarray, transform: InputTransform) -> dict[str, torch.Tensor]:
    """Batch dict of a split: network input ``x`` and gains ``g`` (float32)."""
    return {"x": torch.from_numpy(transform(g)), "g": torch.from_numpy(g.astype(np.float32))}


def source_data(data: dict) -> dict:
    """The data keys a source model depends on: its splits (layout k of a seed does not
    depend on the other splits' sizes), so a target-size sweep reuses one source model."""
    return {k: data[k] for k in ("source_train", "source_valid")}


def _split_seed(seed: int, split: str) -> int:
    return 10 * seed + SPLITS.index(split)


class D2DExperiment:
    """One seed of the D2D experiment under ``run_dir/seed-<seed>``."""

    def __init__(self, config: dict, run_dir: Path, seed: int, echo: Echo,
                 step_cache: str | Path | None = None) -> None:
        self.config = config
        self.seed = seed
        self.dir = run_dir / f"seed-{seed}"
        self.steps = StepRunner(self.dir, echo, cache_dir=step_cache)
        self.echo = echo
        self.system = system_config(config)
        self.task = make_task(config, self.system)
        self._data: dict | None = None

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    # ----------------------------------------------------------------- data
    def make_data(self) -> None:
        cfg = {"system": self.system.to_dict(), "data": self.config["data"], "seed": self.seed}
        outputs = [f"data/{s}.h5" for s in SPLITS]

        def build():
            for split in SPLITS:
                n = int(self.config["data"][split])
                simulate_d2d_file(self.system, n, _split_seed(self.seed, split),
                                  self.path("data", f"{split}.h5"), progress=n >= 100_000)

        self.steps.run("data", cfg, build, outputs)

    def data(self) -> dict[str, dict[str, torch.Tensor]]:
        if self._data is None:
            g = {s: load_d2d(self.path("data", f"{s}.h5")).g for s in SPLITS}
            self.transform = InputTransform.fit(self.config["model"]["input_transform"],
                                                g["source_train"])
            self.test_g = g["test"]
            self._data = {s: tensors(v, self.transform) for s, v in g.items()}
        return self._data

    # ------------------------------------------------------------ baselines
    def solve_baselines(self) -> None:
        cfg = {"system": self.system.to_dict(), "data": self.config["data"],
               "baselines": self.config["baselines"], "seed": self.seed}

        def build():
            g = load_d2d(self.path("data", "test.h5")).g
            b = self.config["baselines"]
            options = {"fp": {"iterations": int(b["fp_iterations"])},
                       "wmmse": {"iterations": int(b["wmmse_iterations"])},
                       "random": {"seed": int(b["random_seed"])}}
            arrays, info = {}, {}
            for label, method in BASELINE_METHODS.items():
                start = time.perf_counter()
                res = solve(method, g, p_max_w=self.system.p_max_w, noise_w=self.system.noise_w,
                            snr_gap_db=self.system.snr_gap_db, **options.get(method, {}))
                seconds = time.perf_counter() - start
                arrays[f"{method}_p_w"] = res.p_w
                statuses, counts = np.unique(res.status, return_counts=True)
                info[label] = {"method": method, "seconds": seconds,
                               "stopping_rule": res.options.get("stopping_rule", ""),
                               "status_counts": dict(zip(statuses.tolist(), counts.tolist(),
                                                         strict=True))}
            meta = provenance("d2d-solutions", self.system.to_dict(), self.seed, methods=info)
            write_arrays(self.path("baselines.h5"), arrays, meta)

        self.steps.run("baselines", cfg, build, ["baselines.h5"])

    def baseline_powers(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays, meta = read_arrays(self.path("baselines.h5"), "d2d-solutions")
        return ({label: arrays[f"{m}_p_w"] for label, m in BASELINE_METHODS.items()},
                meta["methods"])

    # -------------------------------------------------------------- training
    def _step_config(self, variant: str | None = None, **extra) -> dict:
        """What a training step depends on; the variant only for a variant's steps (so the
        hashes of the plain steps do not change when variants are switched on)."""
        cfg = {"system": self.system.to_dict(), "data": self.config["data"],
               "model": self.config["model"], "source": self.config["source"],
               "seed": self.seed, **extra}
        if "target" not in extra:  # a source step depends on the source splits only
            cfg["data"] = source_data(self.config["data"])
        if variant is not None:
            cfg["variants"] = {variant: True}
        cfg["source"] = hashed_source_section(
            cfg["source"], SOURCE_FOR.get(cfg.get("strategy")) == "reconstruction")
        return cfg

    def augmentation(self, variant: str | None) -> Augment | None:
        """The training-minibatch augmentation of a variant (None for the plain runs)."""
        if variant is None:
            return None
        if variant == "augment_permutations":
            from wirelessrl.augment import D2DLinkPermutation

            self.data()  # fits self.transform
            # the input is recomputed from the permuted gains: exact for per-entry statistics
            return D2DLinkPermutation(transform=self.transform.apply_torch)
        raise ConfigError(f"variant {variant!r} has no augmentation; expected one of "
                          f"{', '.join(VARIANTS)}")

    def train_sources(self, strategies: list[str]) -> None:
        needed = sorted({SOURCE_FOR[s] for s in strategies if SOURCE_FOR[s]})
        for name in needed:
            out = self.path("source", name)

            def build(name=name, out=out):
                d = self.data()
                train_source(self.task, get_strategy(name, alpha=self.task.alpha),
                             d["source_train"], d["source_valid"],
                             train_config(self.config["source"], self.seed, progress=True), out,
                             corruption=source_corruption(self.config["source"], name,
                                                          self.task.input_key))

            self.steps.run(f"source/{name}", self._step_config(strategy=name), build,
                           [f"source/{name}/net.pt"], folder=f"source/{name}", share=True)

    @staticmethod
    def target_run_name(strategy: str, lr: float, variant: str | None = None) -> str:
        tag = "" if variant is None else f"+{VARIANTS[variant].tag}"
        return f"{strategy}{tag}-lr{lr:g}"

    def target_run_dir(self, strategy: str, lr: float, variant: str | None = None) -> Path:
        return self.path("target", self.target_run_name(strategy, lr, variant))

    def train_targets(self, strategies: list[str], lrs: list[float],
                      variant: str | None = None) -> None:
        from wirelessrl.checkpoint import load_net

        for strategy in strategies:
            for lr in lrs:
                out = self.target_run_dir(strategy, lr, variant)
                target = {**self.config["target"], "lr": float(lr)}

                def build(strategy=strategy, out=out, target=target):
                    d = self.data()
                    source = None
                    if SOURCE_FOR[strategy]:
                        source, _ = load_net(self.path("source", SOURCE_FOR[strategy], "net.pt"))
                    strat = get_strategy(
                        strategy, alpha=self.task.alpha,
                        feature_lr_scale=target.get("finetune_feature_lr_scale")
                        if strategy == "finetune" else None,
                    )
                    train_target(self.task, strat, source, d["target_train"], d["target_valid"],
                                 train_config(target, self.seed, checkpoint_every_s=30.0), out,
                                 augment=self.augmentation(variant))

                rel = out.relative_to(self.dir)
                self.steps.run(f"target/{self.target_run_name(strategy, lr, variant)}",
                               self._step_config(variant, target=target, strategy=strategy),
                               build, [f"{rel}/net.pt"], folder=str(rel))

    # ------------------------------------------------------------ evaluation
    def net_powers(self, net_path: Path, head: str) -> tuple[np.ndarray, float]:
        """Test-set powers (W) of a saved network, and its inference layouts/s."""
        from wirelessrl.checkpoint import load_net

        net, _ = load_net(net_path)
        net.drop_decoder().eval()  # inference runs feature module and head only
        x = self.data()["test"]["x"]
        with torch.no_grad():
            net(x[:8], head=head)
            start = time.perf_counter()
            out = net(x, head=head)["out"]
            seconds = time.perf_counter() - start
        return out.double().numpy() * self.system.p_max_w, len(x) / seconds

    def best_lr(self, strategy: str, lrs: list[float], variant: str | None = None) -> float:
        """The learning rate whose run reached the best validation min-rate."""
        import json

        scores = {}
        for lr in lrs:
            run_dir = self.target_run_dir(strategy, lr, variant)
            fit = json.loads((run_dir / "fit.json").read_text())
            scores[lr] = fit["result"]["best_metric"]
        return max(scores, key=scores.get)


def _strategies(config: dict) -> list[str]:
    names = config["strategies"]
    if not isinstance(names, list) or not names:
        raise ConfigError(f"strategies={names!r} is invalid; expected a non-empty list of "
                          f"{', '.join(SOURCE_FOR)}")
    for s in names:
        check_choice("strategies", s, tuple(SOURCE_FOR))
    return names


def check_config(config: dict) -> None:
    """Every check that can fail, before any work (nothing is written when one fails)."""
    strategies = _strategies(config)
    check_choice("model.input_transform", config["model"]["input_transform"], INPUT_TRANSFORMS)
    task = make_task(config, system_config(config))
    enabled_variants(config)
    train_config(config["source"], 0)
    check_source_corruption(config["source"])
    train_config(config["target"], 0)
    for split in SPLITS:
        check_int(f"data.{split}", config["data"][split], 1)
    check_lrs("tuning.lrs", config["tuning"]["lrs"])
    b = config["baselines"]
    check_int("baselines.fp_iterations", b["fp_iterations"], 1)
    check_int("baselines.wmmse_iterations", b["wmmse_iterations"], 1)
    check_int("baselines.random_seed", b["random_seed"], 0)
    scale = config["target"].get("finetune_feature_lr_scale")
    if scale is not None:
        check_positive("target.finetune_feature_lr_scale", scale)
    for strategy in strategies:
        get_strategy(strategy, alpha=task.alpha,
                     feature_lr_scale=scale if strategy == "finetune" else None)


def run(config: dict, run_dir: str | Path, seeds: list[int], echo: Echo = print,
        step_cache: str | Path | None = None) -> Path:
    """Run the D2D experiment for every seed and write the report; return ``report.md``."""
    run_dir = Path(run_dir)
    check_config(config)
    strategies = _strategies(config)
    variants = enabled_variants(config)
    save_effective_config(run_dir, config, seeds)
    target_lr = float(config["target"]["lr"])
    tuning = bool(config["tuning"].get("enabled", True))
    tuned_lrs = sorted({float(v) for v in config["tuning"]["lrs"]} | {target_lr})
    experiments = []
    for seed in seeds:
        echo(f"== D2D seed {seed} ==")
        exp = D2DExperiment(config, run_dir, seed, echo, step_cache)
        exp.make_data()
        exp.solve_baselines()
        exp.train_sources(strategies)
        exp.train_targets(strategies, [target_lr])
        if tuning:
            extra = [lr for lr in tuned_lrs if lr != target_lr]
            exp.train_targets(strategies, extra)
        for variant in variants:
            exp.train_targets(strategies, variant_lrs(config), variant)
        experiments.append(exp)
    from wirelessrl.reproduce.d2d_report import write_report

    return write_report(config, run_dir, experiments, strategies, target_lr,
                        tuned_lrs if tuning else [target_lr], echo, variants=variants)

