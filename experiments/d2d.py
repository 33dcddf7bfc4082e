"""D2D power control: sum-rate (source) -> min-rate (target) transfer, the task module.

Steps per seed (the runner's, :mod:`experiments.runner`, plus these):

1. ``data``: source train/valid, target train/valid and test layouts (HDF5 files); with a
   per-link ``source.reconstruction_target`` (``maxmin``, ``fp``, ``interference``) also
   ``reconstruction/<target>``: the decoder's raw target on both source splits
   (``reconstruction/<target>.h5``, computed once per data set by the batched solvers).
2. ``baselines``: FP, WMMSE, the exact max-min optimum, full and random power on the test set.
3. ``source/<conventional|reconstruction>``, ``target/<strategy>-lr<lr>`` and the variants'
   ``target-<variant>/...``: the runner's.
4. ``evaluate``: the test-set powers of every network (``evaluation.h5``), and the report
   (tables, CSV, JSON, markdown, plots over all seeds) from the files alone
   (:mod:`experiments.d2d_report`).

Variant presets (``variants=[<name>]``): ``augment_permutations`` relabels the links of
every target minibatch at random; ``maxmin_head`` trains every strategy with the max-min
power head (``target.minrate_head=maxmin``, :mod:`wirelessrl.maxmin_layer`) beside the
direct one, from the same sources; ``rec_maxmin``, ``rec_fp``, ``rec_interference`` train a
reconstruction source of their own whose decoder rebuilds that per-link target.

Options (``experiments/d2d.yaml``): ``source.reconstruction_target`` (what the decoder
rebuilds: :data:`~wirelessrl.d2d_inputs.RECONSTRUCTION_TARGETS`) and ``target.minrate_head``
(:data:`MINRATE_HEADS`: ``direct`` sigmoid power fractions, or ``maxmin``: per-link
weights through the exact max-min power layer).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from baselines import solve
from experiments import d2d_sizes
from experiments.d2d_report import BASELINE_METHODS
from experiments.runner import TaskRun, feature_width, make_plan
from experiments.systems import d2d_system as system_config
from simulators.d2d import D2DConfig
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.d2d_inputs import (
    GAINS_KEY,
    INPUT_TRANSFORMS,
    RECONSTRUCTION_KEYS,
    RECONSTRUCTION_TARGETS,
    TARGET_KEY,
    GraphInputs,
    fit_inputs,
    fit_target_standardizer,
    reconstruction_values,
    standardize_target,
    tensors,
    with_gains,
)
from wirelessrl.datasets import load_d2d, simulate_d2d_file
from wirelessrl.fileio import provenance, read_arrays, write_arrays
from wirelessrl.gnn import GraphInputTransform
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import D2DRateLoss
from wirelessrl.probes import ProbeTask, r2_score
from wirelessrl.results import Echo
from wirelessrl.transfer import TransferTask, needed_sources

SPLITS = ("source_train", "source_valid", "target_train", "target_valid", "test")
SOURCE_SPLITS = ("source_train", "source_valid")

MINRATE_HEADS = {"direct": "sigmoid", "maxmin": "maxmin_powers"}
"""``target.minrate_head`` -> output of the min-rate head: ``direct`` (sigmoid power
fractions, the paper's) or ``maxmin`` (one score per link, the weights of a weighted
max-min problem whose exact powers come from :mod:`wirelessrl.maxmin_layer`)."""

RECONSTRUCTION_KIND = "d2d-reconstruction-target"
"""``kind`` of the files ``reconstruction/<target>.h5``."""


def reconstruction_target(source: dict) -> str:
    """``source.reconstruction_target`` (``input`` when absent), validated."""
    return check_choice("source.reconstruction_target",
                        source.get("reconstruction_target", "input"), RECONSTRUCTION_TARGETS)


def minrate_head(target: dict) -> str:
    """``target.minrate_head`` (``direct`` when absent), validated."""
    return check_choice("target.minrate_head", target.get("minrate_head", "direct"),
                        tuple(MINRATE_HEADS))


def _mlp_net(model: dict, n_links: int, rec: str = "input", head: str = "direct") -> NetConfig:
    """Feature ``N^2 -> model.feature``, heads ``sum_rate`` (sigmoid power fractions of the N
    links) and ``min_rate`` (the same, or ``N`` scores through the max-min power layer),
    decoder back to the ``N^2`` standardized gains (``rec='input'``) or to ``N`` values per
    layout (a per-link reconstruction target)."""
    hidden = (feature_width(model), *model["head"], n_links)
    out = n_links * n_links if rec == "input" else n_links
    return NetConfig(
        feature_widths=(n_links * n_links, *model["feature"]),
        heads={"sum_rate": HeadConfig(hidden, output="sigmoid"),
               "min_rate": HeadConfig(hidden, output=MINRATE_HEADS[head])},
        decoder_widths=(model["feature"][-1], *model["decoder"], out),
    )


GNN_KEYS = ("width", "layers", "head", "decoder", "top_k", "channels", "update_widths",
            "head_layers", "head_norm")


def _gnn_net(model: dict, n_links: int, rec: str = "input", head: str = "direct") -> NetConfig:
    """The graph network of ``model.gnn`` (:mod:`wirelessrl.gnn`): the same weights for any
    number of links (``n_links`` is not used); a per-link reconstruction target gets the
    per-node decoder (``graph.decoder='nodes'``, widths ``width -> decoder -> 1``), the
    ``maxmin`` min-rate head one score per node through the max-min power layer."""
    gnn = model.get("gnn") or {}
    if not isinstance(gnn, dict):
        raise ConfigError(f"model.gnn={gnn!r} is invalid; expected a mapping of {GNN_KEYS}")
    for key in gnn:
        check_choice("model.gnn", key, GNN_KEYS)
    width = check_int("model.gnn.width", gnn.get("width", 32), 1)
    layers = check_int("model.gnn.layers", gnn.get("layers", 3), 1)
    hidden = (width, *gnn.get("head", [32]), 1)
    graph = {k: gnn[k] for k in ("top_k", "channels", "update_widths", "head_layers",
                                 "head_norm") if k in gnn}
    decoder = (width, *gnn.get("decoder", [64, 16]))
    if rec != "input":
        graph["decoder"] = "nodes"
        decoder = (*decoder, 1)
    return NetConfig(
        feature_widths=(1, *([width] * layers)),
        heads={"sum_rate": HeadConfig(hidden, output="sigmoid"),
               "min_rate": HeadConfig(hidden, output=MINRATE_HEADS[head])},
        decoder_widths=decoder,
        family="gnn",
        graph=graph,
    )


def hashed_model_section(model: dict) -> dict:
    """``model`` without ``gnn.head_norm`` where it changes no network (family ``mlp``, or
    ``gnn`` without graph heads, ``head_layers`` 0) or is ``none`` (what its absence means):
    run folders made before the option existed keep their step hashes, and so does a run
    with graph heads given ``model.gnn.head_norm=none``; other graph-head runs retrain.

    Example
    -------
    >>> hashed_model_section({"family": "gnn", "gnn": {"head_layers": 0, "head_norm": "layer"}})
    {'family': 'gnn', 'gnn': {'head_layers': 0}}
    """
    gnn = model.get("gnn")
    if not isinstance(gnn, dict) or "head_norm" not in gnn:
        return model
    graph_heads = model.get("family", "mlp") == "gnn" and gnn.get("head_layers", 0)
    if graph_heads and gnn["head_norm"] != "none":
        return model
    return {**model, "gnn": {k: v for k, v in gnn.items() if k != "head_norm"}}


NET_BUILDERS = {"mlp": _mlp_net, "gnn": _gnn_net}
"""``model.family`` -> ``(model section, n_links) -> NetConfig``."""

def model_family(config: dict) -> str:
    """``model.family`` (``mlp`` when absent), validated."""
    return check_choice("model.family", config["model"].get("family", "mlp"),
                        tuple(NET_BUILDERS))


def net_config(config: dict, n_links: int) -> NetConfig:
    """The network of ``model.family`` for ``n_links`` links, its decoder for
    ``source.reconstruction_target`` and its min-rate head for ``target.minrate_head``."""
    return NET_BUILDERS[model_family(config)](config["model"], n_links,
                                              reconstruction_target(config["source"]),
                                              minrate_head(config["target"]))


def make_task(config: dict, system: D2DConfig | None = None) -> TransferTask:
    """Sum-rate -> min-rate :class:`~wirelessrl.transfer.TransferTask` of the config."""
    system = system_config(config) if system is None else system
    target = config["target"]
    kind = check_choice("target.min_rate_loss", target.get("min_rate_loss", "hard"),
                        ("hard", "softmin"))
    temperature = target.get("softmin_temperature") if kind == "softmin" else None
    common = {"p_max_w": system.p_max_w, "noise_w": system.noise_w, "snr_gap_db": system.snr_gap_db}
    family = model_family(config)
    rec = reconstruction_target(config["source"])
    gains_input = family == "mlp" and minrate_head(target) == "maxmin"
    return TransferTask(
        net=net_config(config, system.n_links),
        source_head="sum_rate",
        target_head="min_rate",
        source_loss=D2DRateLoss("sum", **common),
        target_loss=D2DRateLoss("min", softmin_temperature=temperature, **common),
        reconstruction_key=RECONSTRUCTION_KEYS[family] if rec == "input" else TARGET_KEY,
        alpha=float(config["source"]["alpha"]),
        source_monitor=("sum_rate_bps_per_hz", "max"),
        target_monitor=("min_rate_bps_per_hz", "max"),
        target_input_key=GAINS_KEY if gains_input else None,
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
        "maxmin_head": {
            "label": "max-min power head",
            "target": {"minrate_head": "maxmin"},
            "protocol": "the min-rate head predicts one weight per link and its powers come "
                        "from the exact (weighted) max-min power layer, which sees the gains; "
                        "the same sources, target layouts and unsupervised min-rate loss "
                        "(uniform weights alone give the max-min optimum)",
        },
        **{f"rec_{t}": {
            "label": f"decoder rebuilds {what}",
            "source": {"reconstruction_target": t},
            "strategies": ["reconstruction", "finetune"],
            "protocol": f"the source decoder rebuilds {what} instead of the gains"
                        + (" (a solver's output on the source layouts)" if t != "interference"
                           else ""),
        } for t, what in (("maxmin", "the max-min optimal powers"),
                          ("fp", "the FP sum-rate powers"),
                          ("interference", "the interference at full power"))},
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
        """Input transform, variants (augmentations need ``model.family='mlp'`` and the
        direct min-rate head), ``source.reconstruction_target`` and ``target.minrate_head``
        (of the config and of every variant), split sizes, baseline settings and the
        ``generalization`` section."""
        check_choice("model.input_transform", config["model"]["input_transform"],
                     INPUT_TRANSFORMS)
        reconstruction_target(config["source"])
        minrate_head(config["target"])
        for v in make_plan(cls, config).variants:
            where = f"variants.{v.name}"
            reconstruction_target({**config["source"], **v.source})
            head = check_choice(f"{where}.target.minrate_head",
                                {**config["target"], **v.target}.get("minrate_head", "direct"),
                                tuple(MINRATE_HEADS))
            if v.augment is not None and head == "maxmin":
                raise ConfigError(f"{where}: augment={v.augment!r} with target.minrate_head="
                                  "'maxmin' is not implemented (the permutation does not "
                                  "relabel the gains the max-min head reads); expected "
                                  "minrate_head='direct'")
        if model_family(config) != "mlp":
            for v in make_plan(cls, config).variants:
                if v.augment is not None:
                    raise ConfigError(
                        f"variant {v.name!r} (an input augmentation) is implemented for "
                        f"model.family='mlp'; got model.family={model_family(config)!r} (a "
                        "graph network is permutation-equivariant by construction)")
        for split in SPLITS:
            check_int(f"data.{split}", config["data"][split], 1)
        b = config["baselines"]
        check_int("baselines.fp_iterations", b["fp_iterations"], 1)
        check_int("baselines.wmmse_iterations", b["wmmse_iterations"], 1)
        check_int("baselines.random_seed", b["random_seed"], 0)
        d2d_sizes.check(config, config["strategies"])

    def hashed_model(self) -> dict:
        """The model section without options that change none of its networks
        (:func:`hashed_model_section`)."""
        return hashed_model_section(self.config["model"])

    def data_config(self) -> dict:
        """System config, split sizes and seed."""
        return {"system": self.system.to_dict(), "data": self.config["data"], "seed": self.seed}

    def _source_sections(self) -> list[tuple[dict, list[str]]]:
        """Every ``source`` section a source network trains with and the strategies built
        on it: the config's, then those of variants that change it."""
        plan = self.plan
        base = plan.strategies + [s for v in plan.variants if not v.source for s in v.strategies]
        out = [(self.config["source"], base)]
        out += [({**self.config["source"], **v.source}, list(v.strategies))
                for v in plan.variants if v.source]
        return out

    def reconstruction_targets(self) -> list[str]:
        """The per-link reconstruction targets some reconstruction source needs (sorted)."""
        return sorted({reconstruction_target(sec) for sec, strategies in self._source_sections()
                       if "reconstruction" in needed_sources(strategies)} - {"input"})

    def _needs_gains_input(self) -> bool:
        """True when an ``mlp`` target network reads the gains (the max-min head)."""
        if model_family(self.config) != "mlp":
            return False
        targets = [self.config["target"]] + [{**self.config["target"], **v.target}
                                             for v in self.plan.variants]
        return any(minrate_head(t) == "maxmin" for t in targets)

    def step_config(self, source=None, strategy=None, **extra) -> dict:
        """The runner's, plus the FP iterations of an ``fp`` reconstruction target."""
        cfg = super().step_config(source, strategy, **extra)
        if cfg["source"].get("reconstruction_target") == "fp":
            cfg["fp_iterations"] = int(self.config["baselines"]["fp_iterations"])
        return cfg

    def hashed_target_section(self, section: dict) -> dict:
        """The target section without ``minrate_head`` when it is ``direct`` (the step of
        a run made before the key existed)."""
        out = dict(section)
        if out.get("minrate_head", "direct") == "direct":
            out.pop("minrate_head", None)
        return out

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
        for target in self.reconstruction_targets():
            self._solve_reconstruction(target)

    def _solve_reconstruction(self, target: str) -> None:
        """The step ``reconstruction/<target>``: the raw per-link target of both source
        splits, ``reconstruction/<target>.h5`` (``source_train : [n, N]``, ``source_valid``;
        power fractions or dB), timed, with the solver's stopping rule and status counts."""
        b = self.config["baselines"]
        cfg = {**self.source_data_config(), "reconstruction_target": target}
        if target == "fp":
            cfg["fp_iterations"] = int(b["fp_iterations"])

        def build() -> None:
            arrays, info = {}, {}
            for split in SOURCE_SPLITS:
                g = load_d2d(self.path("data", f"{split}.h5")).g
                start = time.perf_counter()
                arrays[split], solver = reconstruction_values(
                    target, g, p_max_w=self.system.p_max_w, noise_w=self.system.noise_w,
                    snr_gap_db=self.system.snr_gap_db, fp_iterations=int(b["fp_iterations"]))
                info[split] = {**solver, "seconds": time.perf_counter() - start,
                               "layouts": len(g)}
            meta = provenance(RECONSTRUCTION_KIND, self.system.to_dict(), self.seed,
                              target=target, splits=info)
            write_arrays(self.path("reconstruction", f"{target}.h5"), arrays, meta)

        self.steps.run(f"reconstruction/{target}", cfg, build, [f"reconstruction/{target}.h5"])

    def source_splits(self, section: dict, name: str | None = None) -> tuple[dict, dict]:
        """``source_train`` and ``source_valid``; for the reconstruction source of a per-link
        ``reconstruction_target`` with :data:`~wirelessrl.d2d_inputs.TARGET_KEY`, the values
        of ``reconstruction/<target>.h5`` standardized with the source-train statistics."""
        d = self.data()
        train, valid = d["source_train"], d["source_valid"]
        target = reconstruction_target(section)
        if target == "input" or name == "conventional":
            return train, valid
        arrays, _ = read_arrays(self.path("reconstruction", f"{target}.h5"),
                                RECONSTRUCTION_KIND)
        family = model_family(self.config)
        standardizer = fit_target_standardizer(family, arrays["source_train"])
        return ({**train, TARGET_KEY: standardize_target(family, standardizer,
                                                         arrays["source_train"])},
                {**valid, TARGET_KEY: standardize_target(family, standardizer,
                                                         arrays["source_valid"])})

    def network_input(self, net, split: str = "test") -> torch.Tensor:
        """``x``, or for an ``mlp`` network whose head reads the gains (the max-min head)
        :data:`~wirelessrl.d2d_inputs.GAINS_KEY`."""
        key = GAINS_KEY if model_family(self.config) == "mlp" and net.passes_gains else "x"
        return self.data()[split][key]

    def data(self) -> dict[str, dict[str, torch.Tensor]]:
        """Every split as tensors (loaded once): ``mlp``: :func:`tensors` with the input map
        fitted on ``source_train`` (``x : [n, N^2]``, ``g : [n, N, N]``; with the max-min
        head also ``x_gains : [n, 2 N^2]`` on the target splits and the test set); ``gnn``:
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
                if self._needs_gains_input():  # the target splits: x then the gains in dB
                    for s in ("target_train", "target_valid", "test"):
                        self._data[s][GAINS_KEY] = with_gains(
                            self._data[s]["x"], g[s], self.system.p_max_w, self.system.noise_w)
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
