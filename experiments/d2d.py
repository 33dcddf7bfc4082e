"""D2D power control: sum-rate (source) -> min-rate (target) transfer, the task module.

Steps per seed (the runner's, :mod:`experiments.runner`, plus these):

1. ``data``: source train/valid, target train/valid and test layouts (HDF5 files).
2. ``baselines``: FP, WMMSE, the exact max-min optimum, full and random power on the test set.
3. ``source/<conventional|reconstruction>``, ``target/<strategy>-lr<lr>`` and the variants'
   ``target-<variant>/...``: the runner's.
4. ``evaluate``: the test-set powers of every network (``evaluation.h5``), and the report
   (tables, CSV, JSON, markdown, plots over all seeds) from the files alone
   (:mod:`experiments.d2d_report`).

Variant preset: ``augment_permutations`` (``variants=[augment_permutations]``) relabels the
links of every target minibatch at random.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from baselines import solve
from experiments import d2d_sizes
from experiments.d2d_report import BASELINE_METHODS
from experiments.runner import TaskRun, feature_width
from experiments.systems import d2d_system as system_config
from simulators.d2d import D2DConfig
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.d2d_inputs import (
    INPUT_TRANSFORMS,
    RECONSTRUCTION_KEYS,
    GraphInputs,
    fit_inputs,
    tensors,
)
from wirelessrl.datasets import load_d2d, simulate_d2d_file
from wirelessrl.fileio import provenance, read_arrays, write_arrays
from wirelessrl.gnn import GraphInputTransform
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import D2DRateLoss
from wirelessrl.probes import ProbeTask, r2_score
from wirelessrl.results import Echo
from wirelessrl.transfer import TransferTask

SPLITS = ("source_train", "source_valid", "target_train", "target_valid", "test")


def _mlp_net(model: dict, n_links: int) -> NetConfig:
    """Feature ``N^2 -> model.feature``, heads ``sum_rate`` / ``min_rate`` (sigmoid power
    fractions of the N links) and decoder back to the ``N^2`` standardized gains."""
    head = HeadConfig((feature_width(model), *model["head"], n_links), output="sigmoid")
    return NetConfig(
        feature_widths=(n_links * n_links, *model["feature"]),
        heads={"sum_rate": head, "min_rate": head},
        decoder_widths=(model["feature"][-1], *model["decoder"], n_links * n_links),
    )


GNN_KEYS = ("width", "layers", "head", "decoder", "top_k", "channels", "update_widths",
            "head_layers")


def _gnn_net(model: dict, n_links: int) -> NetConfig:
    """The graph network of ``model.gnn`` (:mod:`wirelessrl.gnn`): the same weights for any
    number of links (``n_links`` is not used)."""
    gnn = model.get("gnn") or {}
    if not isinstance(gnn, dict):
        raise ConfigError(f"model.gnn={gnn!r} is invalid; expected a mapping of {GNN_KEYS}")
    for key in gnn:
        check_choice("model.gnn", key, GNN_KEYS)
    width = check_int("model.gnn.width", gnn.get("width", 32), 1)
    layers = check_int("model.gnn.layers", gnn.get("layers", 3), 1)
    head = HeadConfig((width, *gnn.get("head", [32]), 1), output="sigmoid")
    graph = {k: gnn[k] for k in ("top_k", "channels", "update_widths", "head_layers")
             if k in gnn}
    return NetConfig(
        feature_widths=(1, *([width] * layers)),
        heads={"sum_rate": head, "min_rate": head},
        decoder_widths=(width, *gnn.get("decoder", [64, 16])),
        family="gnn",
        graph=graph,
    )


NET_BUILDERS = {"mlp": _mlp_net, "gnn": _gnn_net}
"""``model.family`` -> ``(model section, n_links) -> NetConfig``."""

def model_family(config: dict) -> str:
    """``model.family`` (``mlp`` when absent), validated."""
    return check_choice("model.family", config["model"].get("family", "mlp"),
                        tuple(NET_BUILDERS))


def net_config(config: dict, n_links: int) -> NetConfig:
    """The network of ``model.family`` for ``n_links`` links."""
    return NET_BUILDERS[model_family(config)](config["model"], n_links)


def make_task(config: dict, system: D2DConfig | None = None) -> TransferTask:
    """Sum-rate -> min-rate :class:`~wirelessrl.transfer.TransferTask` of the config."""
    system = system_config(config) if system is None else system
    target = config["target"]
    kind = check_choice("target.min_rate_loss", target.get("min_rate_loss", "hard"),
                        ("hard", "softmin"))
    temperature = target.get("softmin_temperature") if kind == "softmin" else None
    common = {"p_max_w": system.p_max_w, "noise_w": system.noise_w, "snr_gap_db": system.snr_gap_db}
    return TransferTask(
        net=net_config(config, system.n_links),
        source_head="sum_rate",
        target_head="min_rate",
        source_loss=D2DRateLoss("sum", **common),
        target_loss=D2DRateLoss("min", softmin_temperature=temperature, **common),
        reconstruction_key=RECONSTRUCTION_KEYS[model_family(config)],
        alpha=float(config["source"]["alpha"]),
        source_monitor=("sum_rate_bps_per_hz", "max"),
        target_monitor=("min_rate_bps_per_hz", "max"),
    )


def _split_seed(seed: int, split: str) -> int:
    return 10 * seed + SPLITS.index(split)


def _link_permutation(run: D2DRun):
    from wirelessrl.augment import D2DLinkPermutation

    run.data()  # fits run.inputs
    # the input is recomputed from the permuted gains: exact for per-entry statistics
    return D2DLinkPermutation(transform=run.inputs.torch)


class D2DRun(TaskRun):
    """One seed of the D2D experiment under ``run_dir/seed-<seed>``."""

    name = "d2d"
    title = "D2D"
    VARIANT_PRESETS = {
        "augment_permutations": {
            "label": "link permutations",
            "augment": "link-permutations",
            "protocol": "every target-training minibatch is relabelled at random (rows and "
                        "columns of g and the network input permuted together, a fresh "
                        "permutation per layout and step); the same target layouts, no labels",
        },
    }
    AUGMENTATIONS = {"link-permutations": _link_permutation}

    def __init__(self, config: dict, run_dir: Path, seed: int, echo: Echo = print,
                 step_cache: str | Path | None = None) -> None:
        self.system = system_config(config)
        super().__init__(config, run_dir, seed, echo, step_cache)
        self._data: dict | None = None

    @classmethod
    def make_task(cls, config: dict) -> TransferTask:
        """Sum-rate -> min-rate task of the config (:func:`make_task`)."""
        return make_task(config)

    @classmethod
    def check_task_config(cls, config: dict) -> None:
        """Input transform, variants (augmentations need ``model.family='mlp'``), split
        sizes, baseline settings and the ``generalization`` section."""
        check_choice("model.input_transform", config["model"]["input_transform"],
                     INPUT_TRANSFORMS)
        if model_family(config) != "mlp":
            for v in config.get("variants") or []:
                name = v if isinstance(v, str) else (v or {}).get("name")
                if name in cls.VARIANT_PRESETS or (isinstance(v, dict) and v.get("augment")):
                    raise ConfigError(
                        f"variant {name!r} (an input augmentation) is implemented for "
                        f"model.family='mlp'; got model.family={model_family(config)!r} (a "
                        "graph network is permutation-equivariant by construction)")
        for split in SPLITS:
            check_int(f"data.{split}", config["data"][split], 1)
        b = config["baselines"]
        check_int("baselines.fp_iterations", b["fp_iterations"], 1)
        check_int("baselines.wmmse_iterations", b["wmmse_iterations"], 1)
        check_int("baselines.random_seed", b["random_seed"], 0)
        d2d_sizes.check(config, config["strategies"])

    def data_config(self) -> dict:
        """System config, split sizes and seed."""
        return {"system": self.system.to_dict(), "data": self.config["data"], "seed": self.seed}

    # ----------------------------------------------------------------- data
    def make_data(self) -> None:
        """``data/<split>.h5`` for each of :data:`SPLITS`: D2D layouts of the split's size,
        seed ``10 seed + split index``."""
        def build():
            for split in SPLITS:
                n = int(self.config["data"][split])
                simulate_d2d_file(self.system, n, _split_seed(self.seed, split),
                                  self.path("data", f"{split}.h5"), progress=n >= 100_000)

        self.steps.run("data", self.data_config(), build, [f"data/{s}.h5" for s in SPLITS])

    def data(self) -> dict[str, dict[str, torch.Tensor]]:
        """Every split as tensors (loaded once): ``mlp``: :func:`tensors` with the input map
        fitted on ``source_train`` (``x : [n, N^2]``, ``g : [n, N, N]``); ``gnn``:
        :meth:`GraphInputs.tensors` (``x, x_rec, g : [n, N, N]``)."""
        if self._data is None:
            g = {s: load_d2d(self.path("data", f"{s}.h5")).g for s in SPLITS}
            self.test_g = g["test"]
            if model_family(self.config) == "gnn":
                graph = GraphInputs(GraphInputTransform.fit(
                    g["source_train"], self.system.p_max_w, self.system.noise_w))
                self._data = {s: graph.tensors(v) for s, v in g.items()}
            else:
                self.inputs = fit_inputs(self.config["model"]["input_transform"],
                                         g["source_train"])
                self._data = {s: tensors(v, self.inputs) for s, v in g.items()}
        return self._data

    # ------------------------------------------------------------ baselines
    def solve_baselines(self) -> None:
        """``baselines.h5``: the test-set powers ``<method>_p_w : [n_test, N]`` (W) of every
        :data:`~experiments.d2d_report.BASELINE_METHODS` solver, with timings, stopping
        rules and status counts."""
        cfg = {**self.data_config(), "baselines": self.config["baselines"]}

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

    def extra_steps(self) -> None:
        """The size-generalization steps of ``generalization.sizes``
        (:mod:`experiments.d2d_sizes`)."""
        if d2d_sizes.enabled(self.config):
            d2d_sizes.run_sizes(self)

    # ------------------------------------------------------------ evaluation
    def evaluate(self, out: torch.Tensor, head: str) -> dict[str, np.ndarray]:
        """``p_w : [n, N]`` float64, the test-set powers (W) of a network's power fractions."""
        return {"p_w": out.double().numpy() * self.system.p_max_w}

    # ------------------------------------------------------------ analysis
    def analysis_task(self) -> ProbeTask:
        """Probe target: the max-min optimum power fractions ``p / P_max : [n, N]`` (the
        exact solver on ``target_train`` and ``target_valid``, the run's ``baselines.h5``
        on ``test``). Score: the R^2 of the predicted fractions (the headline: how much of
        the optimum is linear in the representation) and, with the fractions clipped to
        [0, 1] as powers, the min-rate in % of the max-min optimum (mean of per-layout
        ratios) and in Mbps (one link predicted near 0 sinks it, so a weak, nearly
        constant probe can score better there than an informative one); reference row:
        full power. Entries: the ``N x N`` gains of the
        reconstruction target, diagonal (direct links) and off-diagonal (interference)."""
        from wirelessrl.evaluate import d2d_link_rates_mbps

        s = self.system
        target = {}
        for split in ("target_train", "target_valid"):
            g = load_d2d(self.path("data", f"{split}.h5")).g
            res = solve("maxmin", g, p_max_w=s.p_max_w, noise_w=s.noise_w,
                        snr_gap_db=s.snr_gap_db)
            target[split] = res.p_w / s.p_max_w                      # [n, N]
        g_test = load_d2d(self.path("data", "test.h5")).g             # [n_test, N, N]
        optimum_w = read_arrays(self.path("baselines.h5"), "d2d-solutions")[0]["maxmin_p_w"]
        target["test"] = optimum_w / s.p_max_w
        optimum_min = d2d_link_rates_mbps(g_test, optimum_w, s).min(axis=1)   # [n_test]

        def score(pred: np.ndarray) -> dict[str, float]:
            x = np.clip(pred, 0.0, 1.0)
            probe_min = d2d_link_rates_mbps(g_test, x * s.p_max_w, s).min(axis=1)
            return {"min_rate_pct": float(100.0 * np.mean(probe_min / optimum_min)),
                    "min_rate_mbps": float(probe_min.mean()),
                    "r2": r2_score(pred, target["test"])}

        n = s.n_links
        diagonal = np.arange(n) * (n + 1)
        return ProbeTask(
            target=target, target_label="max-min optimum power fractions p / P_max",
            score=score,
            metrics={"r2": "R^2 of p / P_max (unitless)",
                     "min_rate_pct": "min-rate (% of max-min optimum)",
                     "min_rate_mbps": "min-rate (Mbps)"},
            mode="max", references={"full power": np.ones_like(target["test"])},
            entry_shape=(n, n), entry_axes=("transmitter j (index)", "receiver i (index)"),
            entry_groups={"diagonal (direct links)": diagonal,
                          "off-diagonal (interference)": np.setdiff1d(np.arange(n * n),
                                                                      diagonal)},
            entry_name="gain entry g[i, j]")


TASK = D2DRun
