"""Torch objectives against the NumPy reference (simulators.rates) and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from simulators import rates
from simulators.d2d import D2DConfig, generate_d2d
from simulators.validation import ConfigError
from wirelessrl.models import TransferNet, d2d_net_config
from wirelessrl.objectives import (
    TASK_LOSSES,
    BCELoss,
    D2DRateLoss,
    LocalizationLoss,
    MRTLoss,
    Objective,
    as_complex_pairs,
    beamforming_gain,
    combined_loss,
    d2d_rates_nats,
    d2d_sinr,
    min_rate_loss,
    mrt_beamformer,
    mrt_mse,
    reconstruction_mse,
    soft_min,
    sum_rate_loss,
    task_loss,
)


@pytest.fixture(scope="module", params=[0.0, 6.0], ids=["gap0dB", "gap6dB"])
def layouts(request):
    cfg = D2DConfig.from_preset("paper", snr_gap_db=request.param)
    g = generate_d2d(cfg, 64, seed=11).g
    x = np.random.default_rng(5).uniform(size=g.shape[:2])
    x[:8, 0] = 1e-5  # a nearly silent link: tiny SINRs stay accurate
    return cfg, g, x


def _reference_nats(cfg, g, x):
    bps = rates.link_rates_bps(g, x * cfg.p_max_w, cfg.noise_w, cfg.bandwidth_hz, cfg.snr_gap_db)
    return bps / cfg.bandwidth_hz * math.log(2.0)


def test_hand_computed_sinr():
    g = torch.tensor([[[1.0, 0.1], [0.2, 1.0]]], dtype=torch.float64)
    sinr = d2d_sinr(g, torch.tensor([[1.0, 0.5]], dtype=torch.float64), 2.0, 0.1)
    # link 0: 2 / (0.1*1 + 0.1) = 10; link 1: 1 / (0.2*2 + 0.1) = 2
    torch.testing.assert_close(sinr, torch.tensor([[10.0, 2.0]], dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_link_rates_equal_numpy_reference(layouts, dtype):
    cfg, g, x = layouts
    ref = _reference_nats(cfg, g, x)
    r = d2d_rates_nats(torch.tensor(g, dtype=dtype), torch.tensor(x, dtype=dtype),
                       cfg.p_max_w, cfg.noise_w, cfg.snr_gap_db)
    assert r.dtype == dtype
    np.testing.assert_allclose(r.double().numpy(), ref, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sum_and_min_rate_losses_equal_numpy_reference(layouts, dtype):
    cfg, g, x = layouts
    b = cfg.bandwidth_hz
    ref_sum = rates.sum_rate_bps(g, x * cfg.p_max_w, cfg.noise_w, b, cfg.snr_gap_db)
    ref_min = rates.min_rate_bps(g, x * cfg.p_max_w, cfg.noise_w, b, cfg.snr_gap_db)
    kw = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w, "snr_gap_db": cfg.snr_gap_db}
    batch = {"g": torch.tensor(g, dtype=dtype)}
    xt = torch.tensor(x, dtype=dtype)
    loss_sum, m = D2DRateLoss("sum", **kw)(xt, batch)
    loss_min, _ = D2DRateLoss("min", **kw)(xt, batch)
    to_nats = math.log(2.0) / b
    np.testing.assert_allclose(-float(loss_sum), ref_sum.mean() * to_nats, rtol=1e-6)
    np.testing.assert_allclose(-float(loss_min), ref_min.mean() * to_nats, rtol=1e-6)
    np.testing.assert_allclose(float(m["min_rate_bps_per_hz"]), ref_min.mean() / b, rtol=1e-6)
    np.testing.assert_allclose(float(m["sum_rate_bps_per_hz"]), ref_sum.mean() / b, rtol=1e-6)


def test_weighted_sum_rate_equals_numpy_reference(layouts):
    cfg, g, x = layouts
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=x.shape)
    ref = rates.sum_rate_bps(g, x * cfg.p_max_w, cfg.noise_w, cfg.bandwidth_hz,
                             cfg.snr_gap_db, weights=w)
    loss, _ = task_loss("d2d_weighted_sum_rate", p_max_w=cfg.p_max_w, noise_w=cfg.noise_w,
                        snr_gap_db=cfg.snr_gap_db)(torch.tensor(x), {"g": torch.tensor(g),
                                                                "w": torch.tensor(w)})
    np.testing.assert_allclose(-float(loss), ref.mean() * math.log(2) / cfg.bandwidth_hz,
                               rtol=1e-9)


def test_gradients_are_finite_at_realistic_scales(layouts):
    cfg, g, x = layouts
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    loss, _ = D2DRateLoss("min", p_max_w=cfg.p_max_w, noise_w=cfg.noise_w)(
        xt, {"g": torch.tensor(g, dtype=torch.float32)})
    loss.backward()
    assert torch.isfinite(xt.grad).all() and xt.grad.abs().sum() > 0


def test_soft_min_bounds_and_gradients():
    r = torch.tensor([[0.3, 1.0, 2.0, 0.31]], requires_grad=True)
    t = 0.05
    s = soft_min(r, t)
    assert 0.3 - t * math.log(4) <= float(s.detach()) <= 0.3
    s.sum().backward()
    assert (r.grad > 0).sum() >= 2  # the hard min would reach one link only
    assert float(min_rate_loss(r.detach())) == pytest.approx(-0.3)
    assert float(min_rate_loss(r.detach(), temperature=1e-4)) == pytest.approx(-0.3, abs=2e-4)


def test_sum_rate_loss_weights():
    r = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert float(sum_rate_loss(r)) == pytest.approx(-5.0)
    assert float(sum_rate_loss(r, torch.tensor([1.0, 0.0]))) == pytest.approx(-2.0)


def test_beamforming_gain_and_mrt():
    torch.manual_seed(0)
    h = torch.randn(20, 3, 16, dtype=torch.complex64)
    v_mrt = mrt_beamformer(h)
    torch.testing.assert_close(beamforming_gain(h, v_mrt), torch.ones(20, 3))
    v = torch.randn(20, 3, 16, 2)
    v = v / v.pow(2).sum(dim=(-2, -1), keepdim=True).sqrt()
    gain = beamforming_gain(h, v)
    assert ((gain >= 0) & (gain < 1)).all()
    # complex reference |h^H v|^2 / ||h||^2
    vc = torch.view_as_complex(v.contiguous())
    ref = (h.conj() * vc).sum(-1).abs() ** 2 / (h.abs() ** 2).sum(-1)
    torch.testing.assert_close(gain, ref)
    assert float(mrt_mse(v_mrt, h)) == pytest.approx(0.0, abs=1e-12)
    flat = v_mrt.reshape(20, 96)
    torch.testing.assert_close(as_complex_pairs(flat, groups=3), v_mrt)
    loss, m = MRTLoss(n_bs=3)(flat, {"h": torch.view_as_real(h)})
    assert float(loss) == pytest.approx(0.0, abs=1e-12)
    assert float(m["bf_gain"]) == pytest.approx(1.0)


def test_localization_and_bce():
    pos = torch.tensor([[10.0, 10.0], [50.0, 50.0]])
    target = torch.tensor([[13.0, 14.0], [50.0, 50.0]])
    loss, m = LocalizationLoss()(pos, {"pos": target})
    assert float(loss) == pytest.approx((9 + 16) / 4)
    assert float(m["error_m"]) == pytest.approx(2.5)
    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    y = torch.tensor([1.0, 0.0, 0.0])
    loss, m = BCELoss()(logits, {"y": y})
    p = torch.sigmoid(logits.view(-1))
    ref = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert float(loss) == pytest.approx(float(ref), rel=1e-6)
    assert float(m["accuracy"]) == pytest.approx(2 / 3)


def test_objective_combines_task_and_reconstruction():
    torch.manual_seed(0)
    net = TransferNet.from_config(d2d_net_config(3))
    batch = {"x": torch.randn(8, 9), "g": torch.rand(8, 3, 3) * 1e-9}
    task = D2DRateLoss("sum", noise_w=5e-12)
    loss, m = Objective(task, head="sum_rate", alpha=3.0, reconstruction_key="x")(net, batch)
    res = net(batch["x"], head="sum_rate")
    rec = reconstruction_mse(res["reconstruction"], batch["x"])
    t, _ = task(res["out"], batch)
    torch.testing.assert_close(loss, combined_loss(t, rec, 3.0))
    torch.testing.assert_close(loss, t + 3.0 * rec)
    assert float(m["rec_mse"]) == pytest.approx(float(rec.detach()))
    loss0, m0 = Objective(task, head="sum_rate")(net, batch)
    torch.testing.assert_close(loss0, t)
    assert "rec_mse" not in m0


def test_objective_rejects_bad_settings():
    task = D2DRateLoss("sum")
    with pytest.raises(ConfigError, match="alpha=-1.0 is invalid"):
        Objective(task, alpha=-1.0, reconstruction_key="x")
    with pytest.raises(ConfigError, match="reconstruction_key=None is invalid"):
        Objective(task, alpha=2.0)
    net = TransferNet.from_config(d2d_net_config(3, decoder=False))
    with pytest.raises(ConfigError, match="no decoder"):
        Objective(task, head="sum_rate", alpha=1.0, reconstruction_key="x")(
            net, {"x": torch.randn(2, 9), "g": torch.rand(2, 3, 3)})
    with pytest.raises(ConfigError, match="kind='max' is invalid"):
        D2DRateLoss("max")
    with pytest.raises(ConfigError, match="task loss='nope' is invalid"):
        task_loss("nope")
    with pytest.raises(ConfigError, match="does not match gains"):
        D2DRateLoss("sum")(torch.rand(2, 4), {"g": torch.rand(2, 3, 3)})
    assert {"d2d_sum_rate", "d2d_min_rate", "miso_mrt_mse", "localization_mse", "bce"} <= set(
        TASK_LOSSES)


@pytest.mark.parametrize("method", ["fp", "maxmin"])
def test_loss_and_solvers_give_the_same_rate_for_the_same_powers_and_gap(method):
    """One unit for the SNR gap: dB in the solvers and in D2DRateLoss."""
    from baselines import solve

    cfg = D2DConfig.from_preset("paper", snr_gap_db=6.0)
    g = generate_d2d(cfg, 32, seed=4).g
    res = solve(method, g, system=cfg, iterations=40) if method == "fp" else \
        solve(method, g, system=cfg)
    kind = "sum" if res.task == "sum-rate" else "min"
    loss = D2DRateLoss(kind, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w,
                       snr_gap_db=cfg.snr_gap_db)
    value, _ = loss(torch.tensor(res.p_w / cfg.p_max_w), {"g": torch.tensor(g)})
    # nats per channel use -> bit/s/Hz, the solver's unit
    np.testing.assert_allclose(-float(value) / math.log(2.0), res.objective.mean(), rtol=1e-10)
    without_gap = D2DRateLoss(kind, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w)
    assert -float(without_gap(torch.tensor(res.p_w / cfg.p_max_w), {"g": torch.tensor(g)})[0]) \
        > -float(value) * 1.05


def test_snr_gap_is_in_db_and_checked():
    with pytest.raises(ConfigError, match=r"snr_gap_db=-1 is invalid; expected a number >= 0"):
        D2DRateLoss("sum", snr_gap_db=-1)
    with pytest.raises(ConfigError, match=r"snr_gap_db=\[3\] is invalid"):
        D2DRateLoss("sum", snr_gap_db=[3])
    g = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    # SINR 3 at p = 1, sigma^2 = 1/3; a 3.0103 dB gap halves it: ln(1 + 1.5)
    r = d2d_rates_nats(g, torch.ones(1, 2, dtype=torch.float64), 1.0, 1 / 3,
                       10 * math.log10(2.0))
    torch.testing.assert_close(r, torch.full((1, 2), math.log(2.5), dtype=torch.float64))
