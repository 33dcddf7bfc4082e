"""Shared set-up of the learning tests: one torch thread (small networks run fastest so) and
a tiny D2D transfer task."""

import numpy as np
import pytest
import torch

from simulators.d2d import D2DConfig, generate_d2d
from wirelessrl.models import NetConfig
from wirelessrl.objectives import D2DRateLoss
from wirelessrl.transfer import TransferTask


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


N_TINY = 3


def d2d_tensors(n_links: int, n: int, seed: int) -> tuple[D2DConfig, torch.Tensor, torch.Tensor]:
    """``paper`` layouts: (config, x: (n, n_links**2) standardized log-gains, g: (n, N, N))."""
    cfg = D2DConfig.from_preset("paper", n_links=n_links)
    g = generate_d2d(cfg, n, seed=seed).g
    lg = np.log10(g.reshape(len(g), -1))
    x = torch.tensor((lg - lg.mean(0)) / lg.std(0), dtype=torch.float32)
    return cfg, x, torch.tensor(g, dtype=torch.float32)


@pytest.fixture(scope="session")
def make_d2d_tensors():
    """:func:`d2d_tensors`, for tests that split the layouts their own way."""
    return d2d_tensors


def tiny_transfer_task(cfg: D2DConfig) -> TransferTask:
    """Sum-rate -> min-rate on ``cfg.n_links`` links with small layers (16, 8; decoder)."""
    n = cfg.n_links
    kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w, "snr_gap_db": cfg.snr_gap_db}
    head = {"widths": (8, 8, n), "output": "sigmoid"}
    return TransferTask(
        net=NetConfig((n * n, 16, 8), heads={"sum_rate": head, "min_rate": head},
                      decoder_widths=(8, 16, n * n)),
        source_head="sum_rate", target_head="min_rate",
        source_loss=D2DRateLoss("sum", **kw), target_loss=D2DRateLoss("min", **kw),
        reconstruction_key="x", alpha=3.0, target_monitor=("min_rate_bps_per_hz", "max"),
    )


@pytest.fixture(scope="session")
def make_tiny_task():
    """:func:`tiny_transfer_task`, for tests with their own D2D config."""
    return tiny_transfer_task


@pytest.fixture(scope="module")
def tiny_d2d_task():
    """(task, data): a 3-link D2D transfer task and its source/target/valid splits."""
    cfg, x, g = d2d_tensors(N_TINY, 90, seed=21)
    split = {"source": slice(0, 50), "target": slice(50, 70), "valid": slice(70, 90)}
    data = {k: {"x": x[s], "g": g[s]} for k, s in split.items()}
    return tiny_transfer_task(cfg), data
