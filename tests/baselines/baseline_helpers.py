"""Shared layouts and the analytic gradient used by the baseline tests (not a test file)."""

from __future__ import annotations

import functools

import numpy as np

from simulators.d2d import D2DConfig, generate_d2d

PAPER = D2DConfig.from_preset("paper")


@functools.cache
def layouts(preset: str, n: int, seed: int, **overrides):
    """(config, D2DLayouts) of ``n`` layouts of a preset; cached across tests."""
    cfg = D2DConfig.from_preset(preset, **overrides)
    return cfg, generate_d2d(cfg, n, seed=seed)


def wsr_gradient(g, p_w, noise_w, gap, weights):
    r"""Analytic gradient of sum_i w_i ln(1 + SINR_i / gap) with respect to p (per watt).

    With D_i = sum_{j != i} g_ij p_j + sigma^2 and S_i = g_ii p_i / gap:
    d/dp_k = w_k (g_kk / gap) / (S_k + D_k) + sum_{i != k} w_i g_ik (1 / (S_i + D_i) - 1 / D_i)
    """
    n = g.shape[-1]
    eye = np.eye(n, dtype=bool)
    g_off = np.where(eye, 0.0, g)
    dg = np.diagonal(g, axis1=1, axis2=2)
    d = np.einsum("bij,bj->bi", g_off, p_w) + noise_w
    s = dg * p_w / gap
    own = weights * (dg / gap) / (s + d)
    cross = np.einsum("bi,bik->bk", weights * (1.0 / (s + d) - 1.0 / d), g_off)
    return own + cross
