"""What ships with the package: the registered experiments and the sweep specs.

``wirelessrl experiments`` prints :func:`catalog_text`. Each experiment of
:data:`experiments.TASKS` has its YAML config (``experiments/<name>.yaml``); each sweep spec
is ``experiments/sweeps/<name>.yaml``. Both are package data, so the listing (and
``wirelessrl reproduce NAME`` / ``wirelessrl sweep NAME``) works from any folder.

Example
-------
>>> [e.name for e in experiment_catalog()][:2]
['d2d', 'miso']
>>> s = {s.name: s for s in sweep_catalog()}["d2d_target_size"]
>>> s.experiment, s.key, s.values
('d2d', 'data.target_train', [100, 300, 1000, 3000, 10000])
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from experiments import TASKS, config_path


class ExperimentEntry(NamedTuple):
    """A registered experiment: name, task module, config file, what it is, its scales."""

    name: str
    module: str
    config: Path
    title: str
    scales: list[str]
    seeds: list[int]


class SweepEntry(NamedTuple):
    """A packaged sweep spec: name, file, what it is, experiment, swept key and values."""

    name: str
    path: Path
    title: str
    experiment: str
    key: str
    values: list[Any]
    scales: list[str]


def _title(path: Path) -> str:
    """The first sentence of a YAML file's leading comment block (what it is)."""
    words = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        words.append(line.lstrip("#").strip())
    text = re.sub(r"\s*\(issue [^)]*\)", "", " ".join(words))  # tracker references
    end = text.find(". ")
    text = text if end < 0 else text[:end + 1]
    return text if len(text) <= 90 else text[:text.rfind(" ", 0, 87)] + " ..."


def experiment_catalog() -> list[ExperimentEntry]:
    """Every experiment of :data:`experiments.TASKS` with its packaged config."""
    from wirelessrl.config import load_yaml

    out = []
    for name, module in TASKS.items():
        path = config_path(name)
        raw = load_yaml(path)
        scales = sorted(set(raw.get("scales") or {}) | {str(raw.get("scale", "paper"))})
        out.append(ExperimentEntry(name, module, path, _title(path), scales,
                                   list(raw.get("seeds") or [])))
    return out


def sweep_dir() -> Path:
    """The folder of the packaged sweep specs (``experiments/sweeps``)."""
    return Path(str(resources.files("experiments").joinpath("sweeps")))


def sweep_catalog() -> list[SweepEntry]:
    """Every packaged sweep spec, sorted by name."""
    from wirelessrl.config import load_yaml

    out = []
    for path in sorted(sweep_dir().glob("*.yaml")):
        raw = load_yaml(path)
        (key, values), = (raw.get("sweep") or {"?": []}).items()
        scales = sorted(set(raw.get("scales") or {}) | {str(raw.get("scale", "paper"))})
        out.append(SweepEntry(path.stem, path, _title(path), str(raw.get("experiment")), key,
                              list(values), scales))
    return out


def catalog_text() -> str:
    """The listing printed by ``wirelessrl experiments``."""
    lines = ["experiments (wirelessrl reproduce NAME --scale SCALE; config: --config FILE or "
             "KEY=VALUE overrides):"]
    for e in experiment_catalog():
        lines.append(f"  {e.name:<10} {e.title}")
        lines.append(f"  {'':<10} scales {', '.join(e.scales)}; seeds {e.seeds}; "
                     f"config {e.config}")
    lines.append("")
    lines.append("sweeps (wirelessrl sweep NAME [--scale SCALE]; a spec file path works too):")
    for s in sweep_catalog():
        lines.append(f"  {s.name:<18} {s.title}")
        lines.append(f"  {'':<18} {s.experiment}: {s.key} in {s.values}; scales "
                     f"{', '.join(s.scales)}")
    return "\n".join(lines)
