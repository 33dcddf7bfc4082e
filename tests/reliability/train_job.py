"""A small, seeded training run through :func:`wirelessrl.engine.fit`, for the interrupt
tests: ``python train_job.py RUN_DIR [EPOCHS [none]]`` (``none``: no checkpoints).

Trains the paper's D2D network (3 links) on a sum-rate objective, resuming from
``RUN_DIR/last.pt`` when it exists, and writes ``RUN_DIR/result.json`` (best validation
figure, epochs) and ``RUN_DIR/net.pt``. Importable: :func:`train` runs the same job
in-process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

N_LINKS = 3


def data(seed: int, n: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    # [n, N, N]: direct gains ~10x the cross gains, noise-normalized (p_max = noise = 1)
    g = torch.rand(n, N_LINKS, N_LINKS, generator=gen) + 9.0 * torch.eye(N_LINKS)
    return {"x": torch.log(g).reshape(n, -1), "g": g}


def train(run_dir: str | Path, epochs: int = 40, checkpoint_every_s: float | None = 0.25):
    from wirelessrl.checkpoint import save_net
    from wirelessrl.engine import TrainConfig, fit
    from wirelessrl.models import TransferNet, d2d_net_config
    from wirelessrl.objectives import D2DRateLoss, Objective

    torch.manual_seed(0)
    net = TransferNet.from_config(d2d_net_config(N_LINKS))
    config = TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, seed=7, device="cpu",
                         monitor="sum_rate_bps_per_hz", mode="max", num_threads=1,
                         checkpoint_every_s=checkpoint_every_s)
    result = fit(net, Objective(D2DRateLoss("sum"), head="sum_rate"), data(1, 512),
                 data(2, 256), config, run_dir)
    run_dir = Path(run_dir)
    save_net(run_dir / "net.pt", net)
    (run_dir / "result.json").write_text(json.dumps({
        "best_metric": result.best_metric, "best_epoch": result.best_epoch,
        "last_epoch": result.last_epoch, "resumed_from": result.resumed_from,
    }))
    return result


if __name__ == "__main__":  # python train_job.py RUN_DIR [EPOCHS [none]]
    torch.set_num_threads(1)
    every = None if sys.argv[3:] == ["none"] else 0.25
    train(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40, every)
