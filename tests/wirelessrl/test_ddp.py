"""Data-parallel fit: two CPU processes (gloo) reach the single-process validation figure,
only rank 0 writes, and a resumed two-process run continues where it stopped."""

import json
import os
import shutil
import warnings

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from wirelessrl.engine import TrainConfig, fit

TOLERANCE = 1e-4
"""Relative tolerance on the best validation sum-rate between 1 and 2 processes: the same
steps, only the order of floating-point sums differs (gradients averaged by all-reduce)."""


def _problem():
    from simulators.d2d import D2DConfig, generate_d2d
    from wirelessrl.models import TransferNet, d2d_net_config
    from wirelessrl.objectives import D2DRateLoss, Objective

    cfg = D2DConfig.from_preset("paper", n_links=3)
    g = generate_d2d(cfg, 700, seed=1).g
    x = np.log10(g.reshape(len(g), -1))
    x = (x - x[:500].mean(0)) / x[:500].std(0)

    def split(s):
        return {"x": torch.tensor(x[s], dtype=torch.float32),
                "g": torch.tensor(g[s], dtype=torch.float32)}

    torch.manual_seed(0)
    net = TransferNet.from_config(d2d_net_config(3))
    objective = Objective(D2DRateLoss("sum", p_max_w=cfg.p_max_w, noise_w=cfg.noise_w),
                          head="sum_rate")
    return net, objective, split(slice(0, 500)), split(slice(500, 700))


CONFIG = dict(batch_size=100, lr=3e-3, device="cpu", seed=3, monitor="sum_rate_bps_per_hz",
              mode="max", checkpoint_every_s=0.0, num_threads=1)


def _worker(rank, world, init_file, run_dir, epochs, out):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        net, objective, train, valid = _problem()
        res = fit(net, objective, train, valid, TrainConfig(epochs=epochs, **CONFIG), run_dir)
        weights = torch.cat([p.detach().flatten() for p in net.parameters()])
        with open(f"{out}.{rank}", "w") as f:
            json.dump({"best": res.best_metric, "epoch": res.best_epoch,
                       "resumed_from": res.resumed_from, "last": res.last_epoch,
                       "weights": weights.tolist()[:50]}, f)
    finally:
        dist.destroy_process_group()


def _two_processes(tmp_path, name, run_dir, epochs):
    init = tmp_path / f"{name}.init"
    out = tmp_path / name
    mp.start_processes(_worker, args=(2, str(init), run_dir, epochs, str(out)), nprocs=2,
                       join=True, start_method="spawn")
    return [json.loads((tmp_path / f"{name}.{r}").read_text()) for r in (0, 1)]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_two_cpu_processes_match_one_and_resume(tmp_path):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    net, objective, train, valid = _problem()
    one = fit(net, objective, train, valid, TrainConfig(epochs=6, **CONFIG))

    full = _two_processes(tmp_path, "full", str(tmp_path / "full"), 6)
    assert full[0]["weights"] == full[1]["weights"]  # the ranks hold the same model
    assert full[0]["best"] == full[1]["best"] and full[0]["epoch"] == one.best_epoch
    assert abs(full[0]["best"] - one.best_metric) <= TOLERANCE * abs(one.best_metric)
    written = sorted(p.name for p in (tmp_path / "full").iterdir())
    assert written == ["fit.json", "last.pt", "metrics.csv"]  # rank 0 only, no clashes
    rows = (tmp_path / "full" / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 7

    part = _two_processes(tmp_path, "part", str(tmp_path / "resumed"), 3)
    assert part[0]["last"] == 3
    resumed = _two_processes(tmp_path, "rest", str(tmp_path / "resumed"), 6)
    assert resumed[0]["resumed_from"] == 3 and resumed[0]["last"] == 6
    assert resumed[0]["best"] == full[0]["best"] and resumed[0]["weights"] == full[0]["weights"]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_torchrun_train_d2d_writes_one_model_folder_matching_one_process(tmp_path):
    """``torchrun --nproc_per_node 2 -m wirelessrl train d2d``: exit 0, one report line,
    one model folder (rank 0's), the one-process validation figure within TOLERANCE and
    weights within 1e-4 (the same steps, only the order of floating-point sums differs)."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    from simulators.d2d import D2DConfig
    from wirelessrl.datasets import simulate_d2d_file
    from wirelessrl.modeldir import WEIGHTS_FILE, train_d2d

    data = simulate_d2d_file(D2DConfig.from_preset("paper", n_links=3), 300, 1,
                             tmp_path / "d.h5")
    args = ["train", "d2d", "--data", str(data), "--objective", "sum", "--epochs", "3",
            "--family", "mlp", "--threads", "1", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "wirelessrl", *args, "-o", str(tmp_path / "model")]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    first_failure = ""
    if run.returncode != 0:
        # Seen once, in a fresh clone on a loaded machine: rank 1 exited 1 and torchrun's
        # summary hid its traceback (not reproduced since). Keep every rank's own lines for
        # the report, clear the partial output and launch once more; a second failure fails.
        first_failure = "\n".join(line for line in run.stderr.splitlines()
                                   if "[rank" in line or "Error" in line)[-4000:]
        for leftover in tmp_path.iterdir():
            if leftover.name != "d.h5":
                shutil.rmtree(leftover, ignore_errors=True)
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, first_failure + "\n" + run.stderr[-2000:]
    if first_failure:
        warnings.warn("torchrun train d2d failed once and passed on a second launch:\n"
                      + first_failure, stacklevel=1)
    assert run.stdout.count("trained a mlp") == 1, run.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5", "model"]  # no clashes
    one = train_d2d(data, tmp_path / "one", objective="sum", family="mlp", epochs=3,
                    threads=1, device="cpu")
    two = json.loads((tmp_path / "model" / "model.json").read_text())["training"]["result"]
    best = one.info["training"]["result"]["best_metric"]
    assert abs(two["best_metric"] - best) <= TOLERANCE * abs(best)
    assert two["best_epoch"] == one.info["training"]["result"]["best_epoch"]
    weights = load_file(tmp_path / "model" / WEIGHTS_FILE)
    for name, value in one.net.state_dict().items():
        torch.testing.assert_close(weights[name], value, rtol=0, atol=1e-4)


def test_reproduce_under_torchrun_is_a_one_line_error(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from wirelessrl.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    r = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o",
                                  str(tmp_path / "x")])
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "not under torchrun" in r.output and "-m wirelessrl train d2d" in r.output
    assert not (tmp_path / "x").exists()
