"""MNIST 1 -> 8: "is it a 1" (source) -> "is it an 8" (target) transfer, end to end.

The method paper's sanity experiment (SPEC section 4). MNIST is read from the four IDX
files in ``data.mnist_dir`` (never downloaded); a run without it, or with files missing,
stops before any work with a one-line :class:`ConfigError` naming the files.

Steps per seed and split (``A``, ``B``), each resumable (the runner's,
:mod:`experiments.runner`, plus the data step), under ``<run_dir>/seed-<seed>/split-<split>/``:

1. ``data``: the split's source / target train / validation images and the test images of
   digits 0/1/8, one HDF5 file with the SHA-256 of the IDX files it came from.
2. ``source/<conventional|reconstruction>``: the "is it a 1" networks, trained without
   and with the reconstruction loss (``BCE + alpha * MSE(decoder(features), image)``).
3. ``target/<strategy>-lr<lr>``: every transfer strategy on "is it an 8".
4. ``evaluate``: per-image test logits and cross-entropies of every network
   (``evaluation.h5``), then the report from the files alone: accuracy on the test images
   per strategy and split, mean ± std over seeds (CSV, JSON, markdown, plots), see
   :mod:`experiments.mnist_report`.

Each seed draws the split permutation (unless ``data.split_seed`` fixes it) and the network
initializations, so the spread over seeds covers both.

Example
-------
>>> from wirelessrl.data.mnist import make_fake_mnist
>>> from experiments import load_experiment_config, run_experiment
>>> _ = make_fake_mnist("fake_mnist", n_train=1000, n_test=300, seed=0)
>>> config = load_experiment_config("mnist", "tiny", ["data.mnist_dir=fake_mnist"])
>>> report = run_experiment("mnist", config, "runs/mnist-tiny", [0])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.mnist_report import DATA_KIND
from experiments.runner import TaskRun, feature_width
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.data.mnist import (
    MNIST_FILES,
    SPLIT_PARTS,
    SPLITS,
    find_mnist_files,
    load_mnist_018,
    split_mnist_018,
)
from wirelessrl.fileio import provenance, read_arrays, write_arrays
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.objectives import BCELoss
from wirelessrl.probes import ProbeTask
from wirelessrl.results import Echo
from wirelessrl.transfer import TransferTask

SELECT_ON = {"loss": ("loss", "min"), "accuracy": ("accuracy", "max")}
"""``select_on`` config value -> (validation metric, mode) picking the kept weights."""



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
    """"Is it a 1" -> "is it an 8" :class:`~wirelessrl.transfer.TransferTask` (BCE on logits)."""
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
        """The 0/1/8 images and labels of :func:`load_mnist_018` (read on the first call)."""
        if self._data is None:
            self._data = load_mnist_018(self.directory, side=self.image_side)
        return self._data


class MnistRun(TaskRun):
    """One seed and split of the MNIST experiment under ``run_dir/seed-<s>/split-<X>``."""

    name = "mnist"
    title = "MNIST"

    def __init__(self, config: dict, run_dir: Path, seed: int, echo: Echo = print,
                 step_cache: str | Path | None = None, *, split: str, split_seed: int,
                 source: MnistData | None = None, digests: dict | None = None) -> None:
        self.split = split
        self.split_seed = split_seed
        self.source_data = source  # None: the data step is done (reading a finished run)
        self.digests = digests or {}
        super().__init__(config, run_dir, seed, echo, step_cache, split=split)
        self._arrays: dict | None = None
        self._meta: dict | None = None

    @classmethod
    def make_task(cls, config: dict) -> TransferTask:
        """"Is it a 1" -> "is it an 8" task of the config (:func:`make_task`)."""
        return make_task(config)

    @classmethod
    def check_task_config(cls, config: dict) -> None:
        """Split names, ``data.split_seed`` and that the MNIST IDX files exist."""
        _splits(config)
        split_seed = config["data"].get("split_seed")
        if split_seed is not None:
            check_int("data.split_seed", split_seed, 0)
        mnist_files(config)

    @classmethod
    def units(cls, config: dict, seeds: list[int]) -> list[dict]:
        """Every (seed, split); the IDX files are hashed once and read at most once."""
        digests = file_digests(mnist_files(config))
        source = MnistData(mnist_dir(config), int(config["data"]["image_side"]))
        fixed = config["data"].get("split_seed")
        return [{"seed": seed, "split": split, "split_seed": seed if fixed is None else int(fixed),
                 "source": source, "digests": digests}
                for seed in seeds for split in _splits(config)]

    @classmethod
    def unit_dir(cls, seed: int, **unit: Any) -> str:
        """``seed-<seed>/split-<split>``."""
        return f"seed-{seed}/split-{unit['split']}"

    def label(self) -> str:
        """``seed <seed>, split <split>``."""
        return f"seed {self.seed}, split {self.split}"

    # ----------------------------------------------------------------- data
    def _data_config(self) -> dict:
        return {"files": {k: v["sha256"] for k, v in self.digests.items()},
                "split": self.split, "split_seed": self.split_seed,
                "image_side": self.config["data"]["image_side"]}

    def data_config(self) -> dict:
        """SHA-256 of the IDX files, split, split seed, image side and seed."""
        return {"data": self._data_config(), "seed": self.seed}

    def source_data_config(self) -> dict:
        """The same as :meth:`data_config`: one data file holds every part of the split."""
        return self.data_config()  # one data file holds every part of the split

    def make_data(self) -> None:
        """``data.h5``: the split's parts (``<part>_x``, ``<part>_y``) and ``test_digits``."""
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
        """The split's arrays (``<part>_x``, ``<part>_y``, ``test_digits``)."""
        if self._arrays is None:
            self._arrays, self._meta = read_arrays(self.path("data.h5"), DATA_KIND)
        return self._arrays

    def counts(self) -> dict[str, int]:
        """Images per part of the split."""
        self.arrays()
        return dict(self._meta["counts"])

    def data(self) -> dict[str, dict[str, torch.Tensor]]:
        """``{part: {"x": [n, side^2], "y": [n]}}`` float32 for the training parts, and
        ``{"test": {"x": ...}}`` (test labels are per head, see :meth:`evaluate`)."""
        parts = ("source_train", "source_valid", "target_train", "target_valid")
        out = {part: _tensors(self.arrays(), part) for part in parts}
        out["test"] = {"x": torch.from_numpy(np.ascontiguousarray(self.arrays()["test_x"],
                                                                  np.float32))}
        return out

    # ------------------------------------------------------------ evaluation
    def evaluate(self, out: torch.Tensor, head: str) -> dict[str, np.ndarray]:
        """``logit : [n_test]`` float32 and ``bce : [n_test]`` float32 (nats), the per-image
        binary cross-entropy against the head's label (``is_one``: digit 1, ``is_eight``:
        digit 8)."""
        digit = 1 if head == "is_one" else 8
        y = torch.from_numpy((self.arrays()["test_digits"] == digit).astype(np.float32))
        logits = out.reshape(-1)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
        return {"logit": logits.numpy(), "bce": bce.numpy()}

    # ------------------------------------------------------------ analysis
    def analysis_task(self) -> ProbeTask:
        """Probe target: the label "is it an 8" (1 or 0) ``[n, 1]``; the probe is a ridge
        classifier (prediction > 1/2 says "an 8"), its strength chosen on the validation
        accuracy. Score: the test accuracy (%) and the recall of the 8s (%); reference
        row: always "not an 8". Entries: the pixels of the ``side x side`` image."""
        arrays = self.arrays()
        target = {s: arrays[f"{s}_y"].astype(np.float64)[:, None]
                  for s in ("target_train", "target_valid")}
        target["test"] = (arrays["test_digits"] == 8).astype(np.float64)[:, None]
        truth = target["test"][:, 0] > 0.5

        def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
            return float(np.mean((pred[:, 0] > 0.5) == (y[:, 0] > 0.5)))

        def score(pred: np.ndarray) -> dict[str, float]:
            said = pred[:, 0] > 0.5
            return {"accuracy_pct": 100.0 * accuracy(pred, target["test"]),
                    "recall_8_pct": float(100.0 * said[truth].mean()) if truth.any()
                    else float("nan")}

        side = int(self.config["data"]["image_side"])
        return ProbeTask(
            target=target, target_label='the label "is it an 8"', score=score,
            metrics={"accuracy_pct": "test accuracy, is it an 8 (%)",
                     "recall_8_pct": "8s found (%)"},
            mode="max", select=accuracy, select_label="validation accuracy",
            references={"always \"not an 8\"": np.zeros_like(target["test"])},
            entry_shape=(side, side), entry_axes=("pixel column (index)", "pixel row (index)"),
            entry_name="pixel")


def _splits(config: dict) -> list[str]:
    names = config["data"]["splits"]
    if not isinstance(names, list) or not names:
        raise ConfigError(f"data.splits={names!r} is invalid; expected a non-empty list of "
                          f"{', '.join(SPLITS)}")
    for s in names:
        check_choice("data.splits", s, tuple(SPLITS))
    return list(dict.fromkeys(names))


TASK = MnistRun
