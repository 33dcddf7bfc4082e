"""Plain per-layout NumPy D2D generator: the obviously-correct reference for the kernel.

It follows the rules and draw order of :mod:`simulators.d2d` step by step and computes the
path loss in dB with :func:`simulators.pathloss.p1411_los_pathloss_db`. Given
:class:`simulators.prng_reference.Stream` draws it reproduces the Numba kernel's layouts;
given a :class:`numpy.random.Generator` it is the conventional generator the benchmark
compares against.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from simulators.d2d import D2DConfig, cross_distances_m
from simulators.pathloss import p1411_los_pathloss_db
from simulators.prng_reference import Stream
from simulators.units import db_to_lin
from simulators.validation import ConfigError


class Draws(Protocol):
    """Source of scalar random draws the reference generator consumes, one at a time."""

    def uniform(self) -> float:
        """A draw from U[0, 1)."""
        ...

    def normal(self) -> float:
        """A draw from N(0, 1)."""
        ...

    def exponential(self) -> float:
        """A draw from Exp(1)."""
        ...


class GeneratorDraws:
    """Adapter giving a :class:`numpy.random.Generator` the :class:`Draws` interface."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def uniform(self) -> float:
        """A draw from U[0, 1) (``Generator.random``)."""
        return float(self.rng.random())

    def normal(self) -> float:
        """A draw from N(0, 1) (``Generator.standard_normal``)."""
        return float(self.rng.standard_normal())

    def exponential(self) -> float:
        """A draw from Exp(1) (``Generator.standard_exponential``)."""
        return float(self.rng.standard_exponential())


def _place(draws: Draws, tx: np.ndarray, i: int, cfg: D2DConfig) -> np.ndarray:
    while True:
        r = cfg.link_distance_min_m + draws.uniform() * (
            cfg.link_distance_max_m - cfg.link_distance_min_m
        )
        theta = 2.0 * math.pi * draws.uniform()
        p = tx[i] + r * np.array([math.cos(theta), math.sin(theta)])
        if 0.0 <= p[0] <= cfg.field_m and 0.0 <= p[1] <= cfg.field_m:
            return p


def reference_layout(cfg: D2DConfig, draws: Draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layout: ``tx_m (n, 2)``, ``rx_m (n, 2)``, ``g (n, n)``."""
    n = cfg.n_links
    side = cfg.field_m
    tx = np.array([[draws.uniform() * side, draws.uniform() * side] for _ in range(n)])
    rx = np.array([_place(draws, tx, i, cfg) for i in range(n)])
    for _ in range(cfg.max_redraws + 1):
        d = cross_distances_m(tx, rx)
        np.fill_diagonal(d, np.inf)
        bad = (d < cfg.min_cross_distance_m).any(axis=1)
        if not bad.any():
            break
        for i in range(n):
            if cfg.redraw == "all" or bad[i]:
                rx[i] = _place(draws, tx, i, cfg)
    else:
        raise ConfigError("reference_layout: max_redraws exceeded")
    pl_db = p1411_los_pathloss_db(cross_distances_m(tx, rx), cfg.carrier_hz, cfg.h_tx_m, cfg.h_rx_m)
    g = db_to_lin(-pl_db)
    g[np.diag_indices(n)] *= db_to_lin(cfg.direct_gain_db)
    if cfg.shadowing_sigma_db > 0:
        shadow_db = np.array([[draws.normal() for _ in range(n)] for _ in range(n)])
        g *= db_to_lin(cfg.shadowing_sigma_db * shadow_db)
    if cfg.fading:
        g *= np.array([[draws.exponential() for _ in range(n)] for _ in range(n)])
    return tx, rx, g


def reference_generate(cfg: D2DConfig, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` layouts drawn from the same per-layout streams as :func:`generate_d2d`."""
    out = [reference_layout(cfg, Stream(seed, k)) for k in range(n)]
    return tuple(np.stack(a) for a in zip(*out, strict=True))
