"""MNIST 1 -> 8: "is it a 1" (source) -> "is it an 8" (target) transfer, end to end.

The method paper's sanity experiment (SPEC section 4). MNIST is read from the four IDX
files in ``data.mnist_dir`` (never downloaded); a run without it, or with files missing,
stops before any work with a one-line :class:`ConfigError` naming the files.

Steps per seed and split (``A``, ``B``), each resumable (see
:class:`wirelessrl.steps.StepRunner`), under ``<run_dir>/seed-<seed>/split-<split>/``:

1. ``data``: the split's source / target train / validation images and the test images of
   digits 0/1/8, one HDF5 file with the SHA-256 of the IDX files it came from.
2. ``source/<conventional|reconstruction>``: the "is it a 1" networks, trained without
   and with the reconstruction loss (``BCE + alpha * MSE(decoder(features), image)``).
3. ``target/<strategy>``: every transfer strategy on "is it an 8".
4. ``report``: accuracy on the test images per strategy and split, mean ± std over seeds
   (CSV, JSON, markdown, plots), see :mod:`wirelessrl.reproduce.mnist_report`.

Each seed draws the split permutation (unless ``data.split_seed`` fixes it) and the network
initializations, so the spread over seeds covers both.

Example
-------
>>> from wirelessrl.mnist import make_fake_mnist
>>> from wirelessrl.reproduce.common import load_experiment_config
>>> _ = make_fake_mnist("fake_mnist", n_train=1000, n_test=300, seed=0)
>>> config = load_experiment_config("mnist", "tiny", ["data.mnist_dir=fake_mnist"])
>>> report = run(config, "runs/mnist-tiny", [0])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from simulators.validation import ConfigError, check_choice, check_int, check_positive
from wirelessrl.fileio import provenance, read_arrays, write_arrays
from wirelessrl.mnist import (
    MNIST_FILES,
    SPLIT_PARTS,
    SPLITS,
    find_mnist_files,
    load_mnist_018,
    split_mnist_018,
)
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import BCELoss
from wirelessrl.reproduce.common import (
    Echo,
    feature_width,
    save_effective_config,
    train_config,
)
from wirelessrl.steps import StepRunner
from wirelessrl.transfer import TransferTask, get_strategy, train_source, train_target

SOURCE_FOR = {"conventional": "conventional", "reconstruction": "reconstruction",
              "finetune": "reconstruction", "regular": None}
"""Strategy -> the source network it starts from (None: a fresh network)."""

SELECT_ON = {"loss": ("loss", "min"), "accuracy": ("accuracy", "max")}
"""``select_on`` config value -> (validation metric, mode) picking the kept weights."""

PAPER_ACCURACY_PCT = {"reconstruction": 97.4, "conventional": 95.2, "regular": 92.8}
"""The method paper's test accuracies (%), split A (SPEC section 4)."""

PAPER_COUNTS = {"A": {"source_train": 12_313, "target_train": 92},
                "B": {"source_train": 11_664, "target_train": 926}}
"""Training-set sizes of the paper's splits on the 18,516 real MNIST images of 0/1/8."""

DATA_KIND = "mnist-018-split"


def mnist_dir(config: dict) -> Path:
    """``data.mnist_dir`` (``~`` expanded); a one-line :class:`ConfigError` when unset."""
    directory = config["data"].get("mnist_dir")
    if directory is None or not str(directory).strip():
        needed = ", ".join(MNIST_FILES.values())
        raise ConfigError(
            f"data.mnist_dir is not set; MNIST needs the four standard IDX files "
            f"{needed} (plain or .gz) in one folder: pass "
            "data.mnist_dir=/path/to/mnist (nothing is downloaded at run time)"
        )
    return Path(os.path.expanduser(str(directory)))


def mnist_files(config: dict) -> dict[str, Path]:
    """The four IDX files of ``data.mnist_dir``; a one-line :class:`ConfigError` naming
    the files needed when the folder is unset or does not hold them."""
    return find_mnist_files(mnist_dir(config))


def file_digests(files: dict[str, Path]) -> dict[str, dict]:
    """SHA-256 and size of each IDX file, the identity of the data (not its folder)."""
    out = {}
    for key, path in files.items():
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda f=f: f.read(1 << 22), b""):
                digest.update(chunk)
        out[key] = {"name": path.name, "bytes": path.stat().st_size,
                    "sha256": digest.hexdigest()}
    return out


def net_config(config: dict) -> NetConfig:
    """Feature ``side^2 -> 50 -> 25``, heads ``25 -> 10 -> 1`` (logit), decoder
    ``25 -> 50 -> side^2`` with the paper's widths (all from ``config["model"]``)."""
    model = config["model"]
    n_in = check_int("data.image_side", config["data"]["image_side"], 1) ** 2
    head = HeadConfig((feature_width(model), *model["head"], 1), output="identity")
    return NetConfig(
        feature_widths=(n_in, *model["feature"]),
        heads={"is_one": head, "is_eight": head},
        decoder_widths=(model["feature"][-1], *model["decoder"], n_in),
    )


def make_task(config: dict) -> TransferTask:
    source_on = check_choice("source.select_on", config["source"].get("select_on", "loss"),
                             tuple(SELECT_ON))
    target_on = check_choice("target.select_on", config["target"].get("select_on", "loss"),
                             tuple(SELECT_ON))
    return TransferTask(
        net=net_config(config),
        source_head="is_one",
        target_head="is_eight",
        source_loss=BCELoss(),
        target_loss=BCELoss(),
        reconstruction_key="x",
        alpha=float(config["source"]["alpha"]),
        source_monitor=SELECT_ON[source_on],
        target_monitor=SELECT_ON[target_on],
    )


def _tensors(arrays: dict[str, np.ndarray], part: str) -> dict[str, torch.Tensor]:
    return {"x": torch.from_numpy(np.ascontiguousarray(arrays[f"{part}_x"], np.float32)),
            "y": torch.from_numpy(np.ascontiguousarray(arrays[f"{part}_y"], np.float32))}


class MnistData:
    """The 0/1/8 images of ``directory``, loaded at most once per run (only when a data
    step runs; a rerun with every step done only hashes the IDX files)."""

    def __init__(self, directory: Path, image_side: int) -> None:
        self.directory = directory
        self.image_side = image_side
        self._data: dict | None = None

    def get(self) -> dict[str, np.ndarray]:
        if self._data is None:
            self._data = load_mnist_018(self.directory, side=self.image_side)
        return self._data


class MnistExperiment:
    """One seed and split of the MNIST experiment under ``run_dir/seed-<s>/split-<X>``."""

    def __init__(self, config: dict, run_dir: Path, seed: int, split: str, source: MnistData,
                 digests: dict, echo: Echo, step_cache: str | Path | None = None) -> None:
        self.config = config
        self.seed = seed
        self.split = split
        self.dir = run_dir / f"seed-{seed}" / f"split-{split}"
        self.steps = StepRunner(self.dir, echo, cache_dir=step_cache)
        self.echo = echo
        self.source_data = source
        self.digests = digests
        self.task = make_task(config)
        split_seed = config["data"].get("split_seed")
        self.split_seed = seed if split_seed is None else int(split_seed)
        self._arrays: dict | None = None
        self._meta: dict | None = None

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    # ----------------------------------------------------------------- data
    def _data_config(self) -> dict:
        return {"files": {k: v["sha256"] for k, v in self.digests.items()},
                "split": self.split, "split_seed": self.split_seed,
                "image_side": self.config["data"]["image_side"]}

    def make_data(self) -> None:
        def build():
            splits = split_mnist_018(self.source_data.get(), self.split, self.split_seed)
            arrays = {f"{p}_{k}": getattr(splits, f"{p}_{k}") for p in SPLIT_PARTS
                      for k in ("x", "y")}
            arrays["test_digits"] = splits.test_digits
            meta = provenance(DATA_KIND, self._data_config(), self.split_seed,
                              files=self.digests, counts=splits.counts(),
                              labels={"source": "digit == 1", "target": "digit == 8",
                                      "test": "digit == 8"})
            write_arrays(self.path("data.h5"), arrays, meta)

        self.steps.run("data", self._data_config(), build, ["data.h5"])

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays, self._meta = read_arrays(self.path("data.h5"), DATA_KIND)
        return self._arrays

    def counts(self) -> dict[str, int]:
        self.arrays()
        return dict(self._meta["counts"])

    def tensors(self, part: str) -> dict[str, torch.Tensor]:
        return _tensors(self.arrays(), part)

    # -------------------------------------------------------------- training
    def _step_config(self, **extra) -> dict:
        return {"data": self._data_config(), "model": self.config["model"],
                "source": self.config["source"], "seed": self.seed, **extra}

    def train_sources(self, strategies: list[str]) -> None:
        for name in sorted({SOURCE_FOR[s] for s in strategies if SOURCE_FOR[s]}):
            out = self.path("source", name)

            def build(name=name, out=out):
                train_source(self.task, get_strategy(name, alpha=self.task.alpha),
                             self.tensors("source_train"), self.tensors("source_valid"),
                             train_config(self.config["source"], self.seed), out)

            self.steps.run(f"source/{name}", self._step_config(strategy=name), build,
                           [f"source/{name}/net.pt"], folder=f"source/{name}", share=True)

    def train_targets(self, strategies: list[str]) -> None:
        from wirelessrl.checkpoint import load_net

        target = self.config["target"]
        for strategy in strategies:
            out = self.path("target", strategy)

            def build(strategy=strategy, out=out):
                source = None
                if SOURCE_FOR[strategy]:
                    source, _ = load_net(self.path("source", SOURCE_FOR[strategy], "net.pt"))
                strat = get_strategy(
                    strategy, alpha=self.task.alpha,
                    feature_lr_scale=target.get("finetune_feature_lr_scale")
                    if strategy == "finetune" else None,
                )
                train_target(self.task, strat, source, self.tensors("target_train"),
                             self.tensors("target_valid"),
                             train_config(target, self.seed, checkpoint_every_s=30.0), out)

            self.steps.run(f"target/{strategy}",
                           self._step_config(target=target, strategy=strategy), build,
                           [f"target/{strategy}/net.pt"], folder=f"target/{strategy}")

    # ------------------------------------------------------------ evaluation
    def test_scores(self, net_path: Path, head: str) -> dict[str, float]:
        """Test-set scores of a saved network on its task (``is_one`` or ``is_eight``).

        Output: ``accuracy`` (fraction), ``bce`` (nats), ``positive_recall`` (fraction of the
        task's digit recognized) and ``negative_recall`` (fraction of the others rejected).
        """
        from wirelessrl.checkpoint import load_net

        net, _ = load_net(net_path)
        net.eval()
        a = self.arrays()
        x = torch.from_numpy(np.ascontiguousarray(a["test_x"], np.float32))
        digit = 1 if head == "is_one" else 8
        y = torch.from_numpy((a["test_digits"] == digit).astype(np.float32))
        with torch.no_grad():
            logits = net(x, head=head)["out"].reshape(-1)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        pred = (logits > 0).numpy()
        truth = y.numpy() > 0.5
        return {"accuracy": float((pred == truth).mean()), "bce": float(bce),
                "positive_recall": float(pred[truth].mean()) if truth.any() else float("nan"),
                "negative_recall": float((~pred[~truth]).mean()) if (~truth).any()
                else float("nan"),
                "n_test": int(truth.size)}

    def fit_summary(self, run: Path) -> dict:
        fit = json.loads((run / "fit.json").read_text())
        r = fit["result"]
        return {"best_epoch": r["best_epoch"], "last_epoch": r["last_epoch"],
                "stopped_early": r["stopped_early"], "train_seconds": r["seconds"],
                "valid_accuracy": r["best_metrics"].get("accuracy")}


def _strategies(config: dict) -> list[str]:
    names = config["strategies"]
    if not isinstance(names, list) or not names:
        raise ConfigError(f"strategies={names!r} is invalid; expected a non-empty list of "
                          f"{', '.join(SOURCE_FOR)}")
    for s in names:
        check_choice("strategies", s, tuple(SOURCE_FOR))
    return list(dict.fromkeys(names))


def _splits(config: dict) -> list[str]:
    names = config["data"]["splits"]
    if not isinstance(names, list) or not names:
        raise ConfigError(f"data.splits={names!r} is invalid; expected a non-empty list of "
                          f"{', '.join(SPLITS)}")
    for s in names:
        check_choice("data.splits", s, tuple(SPLITS))
    return list(dict.fromkeys(names))


def validate(config: dict) -> dict[str, Path]:
    """Every check before any work; returns the MNIST files."""
    _strategies(config)
    _splits(config)
    make_task(config)
    train_config(config["source"], 0)
    train_config(config["target"], 0)
    scale = config["target"].get("finetune_feature_lr_scale")
    if scale is not None:
        check_positive("target.finetune_feature_lr_scale", scale)
    split_seed = config["data"].get("split_seed")
    if split_seed is not None:
        check_int("data.split_seed", split_seed, 0)
    return mnist_files(config)


def run(config: dict, run_dir: str | Path, seeds: list[int], echo: Echo = print,
        step_cache: str | Path | None = None) -> Path:
    """Run the MNIST experiment for every seed and split; write the report, return it."""
    run_dir = Path(run_dir)
    files = validate(config)
    strategies, splits = _strategies(config), _splits(config)
    digests = file_digests(files)
    save_effective_config(run_dir, config, seeds)
    source = MnistData(mnist_dir(config), int(config["data"]["image_side"]))
    experiments = []
    for seed in seeds:
        for split in splits:
            echo(f"== MNIST seed {seed}, split {split} ==")
            exp = MnistExperiment(config, run_dir, seed, split, source, digests, echo,
                                  step_cache)
            exp.make_data()
            exp.train_sources(strategies)
            exp.train_targets(strategies)
            experiments.append(exp)
    from wirelessrl.reproduce.mnist_report import write_report

    return write_report(config, run_dir, experiments, strategies, splits, digests, echo)
