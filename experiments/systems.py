"""The system configs of the experiments, from their YAML (NumPy-only: used by the task
modules and by the reports, which run without torch)."""

from __future__ import annotations

from simulators.d2d import D2DConfig
from simulators.miso import MisoConfig, MisoSystem, check_system_seed, make_system

__all__ = ["d2d_system", "miso_pilot_system", "miso_system", "miso_system_seed"]


def d2d_system(config: dict) -> D2DConfig:
    """The :class:`~simulators.d2d.D2DConfig` of ``config["system"]`` (preset + overrides).

    Example
    -------
    >>> d2d_system({"system": {"preset": "paper", "overrides": {"n_links": 4}}}).n_links
    4
    """
    system = config["system"]
    return D2DConfig.from_preset(system.get("preset", "paper"), **(system.get("overrides") or {}))


def miso_system(config: dict) -> MisoConfig:
    """The :class:`~simulators.miso.MisoConfig` of ``config["system"]`` (preset + overrides)."""
    system = config["system"]
    return MisoConfig.from_preset(system.get("preset", "paper"),
                                  **(system.get("overrides") or {}))


def miso_system_seed(config: dict) -> int | str:
    """The experiment's pilot / sensing system, shared by every split: an integer seed or
    a named draw (``"paper"``)."""
    return check_system_seed(config["system"].get("system_seed", 0), "system.system_seed")


def miso_pilot_system(config: dict) -> MisoSystem:
    """The pilots and sensing vectors every file of a MISO experiment shares."""
    return make_system(miso_system(config), miso_system_seed(config))
