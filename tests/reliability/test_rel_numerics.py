"""Section 4: numerical robustness on extreme but valid inputs.

Gains spanning 1e-20 .. 1e-3 (W/W), a single link, N = 1000 links at ``spatial-2019``
density, powers of 0 dBm and 60 dBm: the solvers (fp, wmmse, maxmin, full, random) and the
torch objectives must return finite numbers, powers within their limits, objectives that
match :mod:`simulators.rates`, and honest statuses (``max_iter`` for a fixed budget, FP /
WMMSE never below their full-power start, ``optimal`` max-min solutions with equal link
rates). Training stays finite on such inputs; a NaN loss stops it with a message naming
the epoch and keeps the last good checkpoint.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from rel_helpers import EXTRA

from baselines import solve
from simulators.d2d import D2DConfig, generate_d2d
from simulators.rates import link_rates_bps, sinr
from simulators.units import dbm_to_watt
from wirelessrl.checkpoint import load_checkpoint
from wirelessrl.engine import TrainConfig, TrainingDiverged, fit
from wirelessrl.models import TransferNet, d2d_net_config
from wirelessrl.objectives import D2DRateLoss, Objective, d2d_rates_nats

NOISE_W = 5e-12
METHODS = ("fp", "wmmse", "maxmin", "full", "random")
RESULTS: list[str] = []


def _spanning(batch: int, n: int, seed: int) -> np.ndarray:
    """[batch, n, n] gains log-uniform in 1e-20 .. 1e-3, the extremes included."""
    g = 10.0 ** np.random.default_rng(seed).uniform(-20.0, -3.0, size=(batch, n, n))
    g.reshape(batch, -1)[:, 0] = 1e-20
    g.reshape(batch, -1)[:, -1] = 1e-3
    return g


def _diagonal(direct: float, cross: float, batch: int = 2, n: int = 4) -> np.ndarray:
    g = np.full((batch, n, n), cross)
    g[:, np.arange(n), np.arange(n)] = direct
    return g


@pytest.fixture(scope="module")
def spatial_1000():
    cfg = D2DConfig.from_preset("spatial-2019", n_links=1000, redraw="offending")
    return cfg, generate_d2d(cfg, 3, seed=4)


def _cases(spatial_1000):
    cfg, data = spatial_1000
    cases = []
    for dbm in (0.0, 60.0):
        p = float(dbm_to_watt(dbm))
        cases.append((f"gains 1e-20..1e-3, 8 links, {dbm:g} dBm", _spanning(12, 8, 1), p,
                      NOISE_W, 0.0))
        cases.append((f"single link, {dbm:g} dBm", _spanning(6, 1, 2), p, NOISE_W, 0.0))
        cases.append((f"direct 1e-20, cross 1e-3, {dbm:g} dBm", _diagonal(1e-20, 1e-3), p,
                      NOISE_W, 0.0))
    cases.append(("N=1000 spatial-2019, 3 layouts, 40 dBm", data.g, cfg.p_max_w, cfg.noise_w,
                  cfg.snr_gap_db))
    return cases


def _check_solution(label, method, g, p_max, noise, gap_db, res, full_obj=None):
    where = f"{label} / {method}"
    assert "failed" not in set(res.status), where
    assert np.isfinite(res.p_w).all() and np.isfinite(res.objective).all(), where
    assert (res.p_w >= 0).all() and (res.p_w <= p_max * (1 + 1e-12)).all(), where
    rates = link_rates_bps(g, res.p_w, noise, 1.0, gap_db)  # bit/s/Hz
    assert np.isfinite(rates).all(), where
    recomputed = rates.min(axis=1) if method == "maxmin" else rates.sum(axis=1)
    np.testing.assert_allclose(res.objective, recomputed, rtol=1e-9, atol=1e-300,
                               err_msg=where)
    if method in ("fp", "wmmse"):
        # a fixed budget ends "max_iter"; both ascend from full power, so never fall below it
        assert set(res.status) == {"max_iter"}, where
        assert (res.objective >= full_obj * (1 - 1e-9) - 1e-12).all(), where
    if method == "maxmin":
        assert set(res.status) == {"optimal"}, where
        # certificate of the max-min optimum: every link at the same rate, one at full power
        lo, hi = rates.min(axis=1), rates.max(axis=1)
        coupled = lo > 1e-9  # rates below that are lost to rounding of SINR ~ 1e-9
        assert (hi[coupled] - lo[coupled] <= 1e-6 * hi[coupled]).all(), (where, lo, hi)
        assert np.allclose((res.p_w / p_max).max(axis=1), 1.0), where
        full_min = link_rates_bps(g, np.full(g.shape[:2], p_max), noise, 1.0, gap_db).min(1)
        assert (res.objective >= full_min * (1 - 1e-9)).all(), where


def test_solvers_on_extreme_valid_inputs(spatial_1000):
    for label, g, p_max, noise, gap_db in _cases(spatial_1000):
        full_obj = None
        statuses = []
        for method in ("full", "fp", "wmmse", "maxmin", "random"):
            opts = {"iterations": 60} if method in ("fp", "wmmse") and g.shape[1] > 100 else {}
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                res = solve(method, g, p_max_w=p_max, noise_w=noise, snr_gap_db=gap_db, **opts)
            if method == "full":
                full_obj = res.objective
            _check_solution(label, method, g, p_max, noise, gap_db, res, full_obj)
            statuses.append(f"{method} {'/'.join(sorted(set(res.status)))}")
        RESULTS.append(f"{label}: finite, within limits; {', '.join(statuses)}")
    EXTRA["extreme inputs (solvers)"] = f"{len(RESULTS)} cases x {len(METHODS)} methods OK"
    for k, line in enumerate(RESULTS):
        EXTRA[f"extreme input {k + 1:02d}"] = line


def _exact_sinr(g, p, noise):
    """SINR in exact rational arithmetic from the float inputs: the plain reference."""
    n = len(p)
    out = []
    for i in range(n):
        interference = sum(Fraction(g[i, j]) * Fraction(p[j]) for j in range(n) if j != i)
        out.append(Fraction(g[i, i]) * Fraction(p[i]) / (interference + Fraction(noise)))
    return out


def test_numpy_sinr_matches_exact_arithmetic_at_extremes():
    """Interference summed directly (not total - direct): 1e-15 relative at 60 dBm."""
    rng = np.random.default_rng(5)
    worst = 0.0
    for g in (_spanning(2, 5, 3)[0], _diagonal(1e-3, 1e-20)[0]):
        for p_max in (1e-3, 1e3):
            p = p_max * np.concatenate([[1.0, 0.0], rng.uniform(0, 1, len(g) - 2)])
            got = sinr(g[None], p[None], NOISE_W)[0]
            for value, exact in zip(got, _exact_sinr(g, p, NOISE_W), strict=True):
                if exact:
                    worst = max(worst, abs(Fraction(value) - exact) / exact)
    assert worst < 1e-14, worst
    EXTRA["NumPy SINR vs exact rationals"] = f"worst relative error {float(worst):.1e}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_rate_losses_stay_finite_and_match_numpy(dtype, spatial_1000):
    cfg, data = spatial_1000
    tol = 2e-5 if dtype == torch.float32 else 1e-10
    cases = [(_spanning(16, 8, 6), 1e-3, NOISE_W, 0.0), (_spanning(16, 8, 6), 1e3, NOISE_W, 0.0),
             (_spanning(8, 1, 7), 1e3, NOISE_W, 0.0),
             (data.g, cfg.p_max_w, cfg.noise_w, cfg.snr_gap_db)]
    gen = torch.Generator().manual_seed(0)
    for g_np, p_max, noise, gap_db in cases:
        g = torch.from_numpy(g_np).to(dtype)
        x = torch.rand(g.shape[:2], generator=gen, dtype=dtype)
        x[:, 0], x[:, -1] = 0.0, 1.0  # the box edges
        reference = link_rates_bps(g_np, x.double().numpy() * p_max, noise, 1.0,
                                   gap_db) * math.log(2.0)
        rates = d2d_rates_nats(g, x, p_max, noise, gap_db)
        assert torch.isfinite(rates).all()
        np.testing.assert_allclose(rates.double().numpy(), reference, rtol=tol,
                                   atol=tol * 1e-6)
        for kind, temperature in (("sum", None), ("min", None), ("min", 0.1)):
            loss_fn = D2DRateLoss(kind, p_max_w=p_max, noise_w=noise, snr_gap_db=gap_db,
                                  softmin_temperature=temperature)
            xg = x.clone().requires_grad_(True)
            loss, metrics = loss_fn(xg, {"g": g})
            loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(xg.grad).all(), (kind, p_max)
            assert all(torch.isfinite(v) for v in metrics.values())


def test_training_stays_finite_on_extreme_gains():
    """The paper's network on log-gain inputs, gains 1e-20..1e-3, at 0 and 60 dBm."""
    torch.manual_seed(0)
    g = torch.from_numpy(_spanning(96, 4, 8)).float()
    data = {"x": torch.log10(g).reshape(96, -1) / 10.0, "g": g}
    for dbm in (0.0, 60.0):
        for kind in ("sum", "min"):
            net = TransferNet.from_config(d2d_net_config(4))
            loss = D2DRateLoss(kind, p_max_w=float(dbm_to_watt(dbm)), noise_w=NOISE_W)
            result = fit(net, Objective(loss, head=f"{kind}_rate"), data, data,
                         TrainConfig(epochs=3, batch_size=32, device="cpu", num_threads=1))
            assert all(math.isfinite(row["train_loss"]) for row in result.history)
            assert math.isfinite(result.best_metric)
    EXTRA["extreme inputs (training)"] = "gains 1e-20..1e-3, 0 / 60 dBm, sum / min: finite"


class _NaNFromEpoch:
    """An objective that turns NaN from a given epoch on (counted in training steps)."""

    def __init__(self, inner, steps_per_epoch: int, epoch: int):
        self.inner, self.first_bad_step, self.steps = inner, steps_per_epoch * (epoch - 1), 0

    def __call__(self, model, batch):
        loss, metrics = self.inner(model, batch)
        if model.training:
            self.steps += 1
            if self.steps > self.first_bad_step:
                loss = loss * float("nan")
        return loss, metrics


def test_nan_loss_stops_training_naming_the_epoch_and_keeps_the_last_checkpoint(tmp_path):
    torch.manual_seed(0)
    g = torch.rand(64, 3, 3) + 4 * torch.eye(3)
    data = {"x": g.reshape(64, -1), "g": g}
    net = TransferNet.from_config(d2d_net_config(3))
    objective = _NaNFromEpoch(Objective(D2DRateLoss("sum"), head="sum_rate"), 2, epoch=4)
    config = TrainConfig(epochs=10, batch_size=32, device="cpu", num_threads=1,
                         checkpoint_every_s=0.0, monitor="sum_rate_bps_per_hz", mode="max")
    with pytest.raises(TrainingDiverged) as err:
        fit(net, objective, data, data, config, tmp_path)
    message = str(err.value)
    assert "at epoch 4" in message and "last.pt" in message and "\n" not in message
    ckpt = load_checkpoint(tmp_path / "last.pt")  # the last good one, checksum verified
    assert ckpt["epoch"] == 3 and ckpt["complete"] is False
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert all(torch.isfinite(p).all() for p in net.state_dict().values())  # best weights
    EXTRA["NaN loss"] = f"stopped: {message[:120]}..."

