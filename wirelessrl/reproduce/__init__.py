"""End-to-end experiments: simulate, solve, train, transfer, evaluate, report.

Each experiment is one module registering a ``run(config, run_dir, ...)`` function in
:data:`EXPERIMENTS`; its YAML config lives in ``experiments/<name>.yaml``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

EXPERIMENTS: dict[str, str] = {
    "d2d": "wirelessrl.reproduce.d2d",
    "miso": "wirelessrl.reproduce.miso",
    "mnist": "wirelessrl.reproduce.mnist",
}
"""Experiment name -> module holding ``run(config, run_dir, echo)``."""


def get_experiment(name: str) -> Callable:
    from simulators.validation import check_choice

    check_choice("experiment", name, tuple(EXPERIMENTS))
    return importlib.import_module(EXPERIMENTS[name]).run
