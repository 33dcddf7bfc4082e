"""The D2D max-min power layer (``target.minrate_head=maxmin``): equal weights give the exact
max-min optimum of :func:`baselines.maxmin.maxmin`, weighted SINRs equal, the powers in
[0, 1] with one link at exactly 1, ``gradcheck`` against finite differences, finite
gradients at degenerate gains, one-line errors on bad input, and the head in the mlp and
gnn networks (uniform scores through the network = the optimum; frozen cached features)."""

import numpy as np
import pytest
import torch

from baselines.maxmin import maxmin
from simulators.d2d import D2DConfig, generate_d2d
from simulators.rates import sinr
from simulators.validation import ConfigError
from wirelessrl.d2d_inputs import with_gains
from wirelessrl.engine import TrainConfig
from wirelessrl.gnn import GraphInputTransform
from wirelessrl.maxmin_layer import MaxminPowers, d2d_maxmin_powers
from wirelessrl.models import HeadConfig, TransferNet, d2d_gnn_config, d2d_net_config
from wirelessrl.objectives import D2DRateLoss
from wirelessrl.transfer import TransferTask, train_source, train_target


def _spread(s: np.ndarray) -> float:
    return float(np.max(s.max(-1) / s.min(-1) - 1.0))


@pytest.mark.parametrize(("preset", "n"), [("paper", 300), ("paper-fading", 300),
                                           ("spatial-2019", 8)])
def test_equal_weights_give_the_exact_maxmin_optimum(preset, n):
    cfg = D2DConfig.from_preset(preset)
    g = generate_d2d(cfg, n, seed=11).g
    ref = maxmin(g, cfg.p_max_w, cfg.noise_w)
    x, t = d2d_maxmin_powers(torch.from_numpy(g), None, cfg.p_max_w, cfg.noise_w)
    x = x.numpy()
    np.testing.assert_allclose(x, ref.x, rtol=1e-6, atol=0)
    assert (x >= 0).all() and (x <= 1).all() and (x.max(-1) == 1.0).all()
    s = sinr(g, x * cfg.p_max_w, cfg.noise_w)
    assert _spread(s) < 1e-9                                        # SINRs equalized
    s_ref = sinr(g, ref.x * cfg.p_max_w, cfg.noise_w).min(-1)
    np.testing.assert_allclose(t.numpy(), s_ref, rtol=1e-9)
    np.testing.assert_allclose(s.min(-1), s_ref, rtol=1e-9)


def test_weighted_layer_is_the_optimum_of_the_scaled_problem():
    # SINR_i / w_i = t  <=>  the unweighted max-min of g with g_ii / w_i
    cfg = D2DConfig.from_preset("paper")
    g = generate_d2d(cfg, 100, seed=3).g
    w = np.random.default_rng(0).uniform(0.2, 3.0, (100, 10))
    x, t = d2d_maxmin_powers(torch.from_numpy(g), torch.from_numpy(w), cfg.p_max_w,
                             cfg.noise_w)
    scaled = g.copy()
    idx = np.arange(10)
    scaled[:, idx, idx] /= w
    ref = maxmin(scaled, cfg.p_max_w, cfg.noise_w)
    np.testing.assert_allclose(x.numpy(), ref.x, rtol=1e-6)
    s = sinr(g, x.numpy() * cfg.p_max_w, cfg.noise_w) / w
    assert _spread(s) < 1e-9
    np.testing.assert_allclose(t.numpy(), s.min(-1), rtol=1e-9)
    # the weights' scale does not matter
    x2, t2 = d2d_maxmin_powers(torch.from_numpy(g), torch.from_numpy(7 * w), cfg.p_max_w,
                               cfg.noise_w)
    np.testing.assert_allclose(x2.numpy(), x.numpy(), rtol=1e-9)
    np.testing.assert_allclose(7 * t2.numpy(), t.numpy(), rtol=1e-9)


def test_gradcheck_in_gains_and_weights():
    torch.manual_seed(0)
    g = (0.3 * torch.rand(3, 5, 5, dtype=torch.float64)
         + 2.0 * torch.eye(5, dtype=torch.float64)).requires_grad_(True)
    w = (torch.rand(3, 5, dtype=torch.float64) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda g, w: d2d_maxmin_powers(g, w, 1.0, 0.1), (g, w))


def _degenerate() -> dict[str, torch.Tensor]:
    e = torch.eye(4, dtype=torch.float64)
    rng = torch.Generator().manual_seed(2)
    dead = 0.3 * torch.rand(4, 4, dtype=torch.float64, generator=rng) + e
    dead[2, 2] = 0.0
    groups = e.clone()
    groups[0, 1] = groups[1, 0] = 0.5
    return {"no interference": e.clone(),
            "identical links (ties)": torch.full((4, 4), 0.1, dtype=torch.float64) + 0.9 * e,
            "a link without a direct gain": dead,
            "all gains zero": torch.zeros(4, 4, dtype=torch.float64),
            "interference 1e6 x the signal": 1e3 * torch.rand(4, 4, dtype=torch.float64,
                                                              generator=rng) + 1e-3 * e,
            "two uncoupled groups": groups}


@pytest.mark.parametrize("name", list(_degenerate()))
def test_gradients_are_finite_at_degenerate_gains(name):
    g = _degenerate()[name][None].clone().requires_grad_(True)
    w = torch.ones(1, 4, dtype=torch.float64, requires_grad=True)
    x, t = d2d_maxmin_powers(g, w, 1.0, 0.01)
    (x.sum() + t.sum()).backward()
    assert torch.isfinite(x).all() and torch.isfinite(t).all()
    assert float(x.detach().max()) == 1.0 and float(x.detach().min()) >= 0.0
    assert torch.isfinite(g.grad).all() and torch.isfinite(w.grad).all()


def test_uncoupled_groups_get_the_powers_of_their_own_optimum():
    g = _degenerate()["two uncoupled groups"][None]
    x, t = d2d_maxmin_powers(g, None, 1.0, 0.01)
    # links 0, 1 limit the common SINR (1 / (0.5 + 0.01)); links 2, 3 need only 0.01 t
    np.testing.assert_allclose(float(t[0]), 1 / 0.51, rtol=1e-12)
    np.testing.assert_allclose(x[0].numpy(), [1.0, 1.0, 0.01 / 0.51, 0.01 / 0.51], rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.ones((1, 2, 2)),), "g=ndarray is invalid; expected a torch tensor"),
        ((torch.ones(2, 2, 3),), r"g: shape \(2, 2, 3\) is invalid; expected a square"),
        ((-torch.ones(1, 2, 2),), "g holds complex, NaN, inf or negative values"),
        ((torch.full((1, 2, 2), float("nan")),), "g holds complex, NaN, inf or negative"),
        ((torch.ones(1, 2, 2), torch.ones(1, 3)), r"weights=\(1, 3\) is invalid"),
        ((torch.ones(1, 2, 2), torch.zeros(1, 2)), "weights hold complex, NaN, inf or values"),
        ((torch.ones(1, 2, 2), None, 0.0), "p_max_w=0.0 is invalid; expected a power > 0"),
        ((torch.ones(1, 2, 2), None, 1.0, float("inf")), "noise_w=inf is invalid"),
    ],
)
def test_bad_input_is_a_one_line_error(args, message):
    with pytest.raises(ConfigError, match=message) as err:
        d2d_maxmin_powers(*args)
    assert "\n" not in str(err.value)


def test_output_layer_of_scores_and_snrs():
    cfg = D2DConfig.from_preset("paper")
    g = generate_d2d(cfg, 20, seed=1).g
    s = torch.from_numpy(GraphInputTransform(cfg.p_max_w, cfg.noise_w).snr_db(g))
    x = MaxminPowers()(torch.full((20, 10), 3.0), s)               # equal scores: equal w
    np.testing.assert_allclose(x.numpy(), maxmin(g, cfg.p_max_w, cfg.noise_w).x, rtol=1e-5)
    assert x.dtype == torch.float32
    with pytest.raises(ConfigError, match="expected \\(batch, n\\) and \\(batch, n, n\\)"):
        MaxminPowers()(torch.zeros(20, 9), s)


def _zero_last_layer(head) -> None:
    """Make a head's scores constant (equal weights)."""
    last = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()


def test_mlp_and_gnn_networks_with_the_head_give_the_optimum_for_equal_scores():
    cfg = D2DConfig.from_preset("paper")
    g = generate_d2d(cfg, 30, seed=2).g
    ref = maxmin(g, cfg.p_max_w, cfg.noise_w).x
    s = torch.from_numpy(GraphInputTransform(cfg.p_max_w, cfg.noise_w).snr_db(g))
    mlp = d2d_net_config(10, decoder=False)
    mlp = mlp.replace(heads={"min_rate": HeadConfig((100, 40, 20, 10), output="maxmin_powers")})
    torch.manual_seed(0)
    net = TransferNet.from_config(mlp)
    assert net.passes_gains and net.features.pass_gains
    x_in = with_gains(torch.randn(30, 100), g, cfg.p_max_w, cfg.noise_w)
    out = net(x_in)
    assert out["features"].shape == (30, 100 + 100)
    _zero_last_layer(net.heads["min_rate"])
    np.testing.assert_allclose(net(x_in)["out"].detach().numpy(), ref, rtol=1e-5)
    with pytest.raises(ConfigError, match="expected 100 input columns followed by the gains"):
        net(torch.randn(30, 100))
    for head_layers in (0, 2):
        gnn = d2d_gnn_config(width=8, layers=2, decoder=False, head_layers=head_layers)
        gnn = gnn.replace(heads={"min_rate": HeadConfig((8, 8, 1), output="maxmin_powers")})
        net = TransferNet.from_config(gnn)
        assert net(s)["features"].shape == (30, 10, 8 + 10)
        _zero_last_layer(net.heads["min_rate"])
        np.testing.assert_allclose(net(s)["out"].detach().numpy(), ref, rtol=1e-5)
        # one model, any N: the head and the layer take the links of the input
        assert net(s[:, :6, :6])["out"].shape == (30, 6)


def test_transfer_to_the_head_on_frozen_cached_features():
    cfg = D2DConfig.from_preset("paper", n_links=4)
    g = generate_d2d(cfg, 60, seed=4).g
    x = torch.randn(60, 16)
    data = {"x": x, "x_gains": with_gains(x, g, cfg.p_max_w, cfg.noise_w),
            "g": torch.from_numpy(g.astype(np.float32))}
    base = d2d_net_config(4)
    net = base.replace(heads={"sum_rate": base.heads["sum_rate"],
                              "min_rate": HeadConfig((100, 40, 20, 4), output="maxmin_powers")})
    common = {"p_max_w": cfg.p_max_w, "noise_w": cfg.noise_w}
    task = TransferTask(net, "sum_rate", "min_rate", D2DRateLoss("sum", **common),
                        D2DRateLoss("min", **common), reconstruction_key="x", alpha=3.0,
                        target_monitor=("min_rate_bps_per_hz", "max"), target_input_key="x_gains")
    train = TrainConfig(epochs=3, batch_size=20, device="cpu", lr=1e-3)
    source, _ = train_source(task, "reconstruction", data, data, train)
    assert not source.passes_gains
    target, result = train_target(task, "reconstruction", source, data, data, train)
    assert target.passes_gains and target.decoder is None
    assert np.isfinite(result.best_metric)
    p = target(data["x_gains"])["out"].detach()
    assert (p.amax(-1) == 1.0).all() and (p >= 0).all()
    # the features are the frozen source's: the same numbers in front of the gains
    torch.testing.assert_close(target.features(data["x_gains"])[:, :100],
                               source.features(x), rtol=0, atol=0)
