"""The structured multi-user MISO beamformer (``model.family=structured``): the beam
construction against NumPy and the exact max-min duality solution, the max-min power layer
against a plain bisection and the duality optimum (with its gradient against finite
differences), the exact power constraint, user-permutation equivariance, any K, finite
gradients at degenerate channels, bad input, and ``reproduce mu-miso --scale tiny
model.family=structured`` end to end."""

import csv

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from baselines.mu_miso import maxmin_beamforming
from experiments import load_experiment_config
from experiments.mu_miso import fit_inputs, make_task, network_input, system_config, tensors
from simulators.beamforming import sinr
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from simulators.validation import ConfigError
from wirelessrl.beam_structure import (
    OptimalBeams,
    UserConfig,
    UserDecoder,
    UserFeatures,
    beam_directions,
    maxmin_powers,
    structured_beams,
)
from wirelessrl.checkpoint import load_net, save_net
from wirelessrl.cli import main
from wirelessrl.models import HeadConfig, NetConfig, TransferNet
from wirelessrl.objectives import MuMisoRateLoss, Objective


def _pairs(z: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack([z.real, z.imag], -1))


def _numpy_beams(h, lam, p, noise):
    """Plain per-sample reference of w_k = sqrt(p_k) u_k / ||u_k||."""
    w = np.empty_like(h)
    for b in range(h.shape[0]):
        a = noise * np.eye(h.shape[2], dtype=complex)
        for j in range(h.shape[1]):
            a += lam[b, j] * np.outer(h[b, j], h[b, j].conj())
        for k in range(h.shape[1]):
            u = np.linalg.solve(a, h[b, k])
            w[b, k] = np.sqrt(p[b, k]) * u / np.linalg.norm(u)
    return w


def _net(config, dtype=torch.float64) -> TransferNet:
    torch.manual_seed(0)
    return TransferNet.from_config(make_task(config).net).to(dtype)


@pytest.fixture(scope="module")
def config():
    return load_experiment_config("mu-miso", "tiny", ["model.family=structured",
                                                      "model.structured.layers=2"])


def test_beam_construction_matches_numpy():
    rng = np.random.default_rng(1)
    h = rng.standard_normal((6, 3, 5)) + 1j * rng.standard_normal((6, 3, 5))
    lam, p = rng.random((6, 3)) * 4, rng.random((6, 3)) * 2
    ref = _numpy_beams(h, lam, p, noise=0.7)
    for hin in (torch.from_numpy(h), _pairs(h)):  # complex and real pairs
        w = structured_beams(hin, torch.from_numpy(lam), torch.from_numpy(p), 0.7).numpy()
        np.testing.assert_allclose(w, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose((np.abs(ref) ** 2).sum(-1), p, rtol=1e-9)


@pytest.mark.parametrize("preset", ["rayleigh-10db", "cell"])
def test_duality_lambdas_give_the_maxmin_optimum(preset):
    cfg = MuMisoConfig.from_preset(preset)
    h = generate_mu_miso(cfg, 40, seed=5).h
    res = maxmin_beamforming(h, cfg.p_max_w, cfg.noise_w)
    assert res.ok.all()
    q = res.uplink_powers_w
    np.testing.assert_allclose(q.sum(1), cfg.p_max_w, rtol=1e-12)
    p = (np.abs(res.w) ** 2).sum(-1)
    w = structured_beams(torch.from_numpy(h), torch.from_numpy(q), torch.from_numpy(p),
                         cfg.noise_w).numpy()
    s_opt, s = sinr(h, res.w, cfg.noise_w), sinr(h, w, cfg.noise_w)
    np.testing.assert_allclose(s, s_opt, rtol=1e-6)
    np.testing.assert_allclose(s.min(1), s.max(1), rtol=1e-6)  # balanced: every user at gamma*


def _bisection_powers(h, d, power, noise):
    """Plain per-sample reference: bisect gamma until sigma^2 (D / gamma - F)^-1 1 sums to P."""
    p_all, g_all = [], []
    for hb, db in zip(h, d, strict=True):
        g = np.abs(hb.conj() @ db.T) ** 2            # G[k, j] = |h_k^H d_j|^2
        diag, off = np.diag(np.diag(g)), g - np.diag(np.diag(g))
        lo, hi = 0.0, float(power * np.diag(g).min() / noise)  # interference-free bound
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            p = np.linalg.solve(diag / mid - off, np.full(len(g), noise))
            lo, hi = (mid, hi) if (p > 0).all() and p.sum() <= power else (lo, mid)
        p_all.append(np.linalg.solve(diag / lo - off, np.full(len(g), noise)))
        g_all.append(lo)
    return np.array(p_all), np.array(g_all)


def test_maxmin_powers_match_a_plain_bisection():
    rng = np.random.default_rng(3)
    h = rng.standard_normal((20, 4, 6)) + 1j * rng.standard_normal((20, 4, 6))
    d = rng.standard_normal((20, 4, 6)) + 1j * rng.standard_normal((20, 4, 6))
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    p, gamma = maxmin_powers(torch.from_numpy(h), torch.from_numpy(d), 5.0, 0.3)
    p_ref, g_ref = _bisection_powers(h, d, 5.0, 0.3)
    np.testing.assert_allclose(gamma.numpy(), g_ref, rtol=1e-9)
    np.testing.assert_allclose(p.numpy(), p_ref, rtol=1e-8)
    np.testing.assert_allclose(p.sum(-1).numpy(), 5.0, rtol=1e-14)       # exactly P
    s = sinr(h, d * np.sqrt(p.numpy())[..., None], 0.3)
    np.testing.assert_allclose(s, np.repeat(gamma.numpy()[:, None], 4, 1), rtol=1e-10)


@pytest.mark.parametrize("preset", ["rayleigh-10db", "cell"])
def test_maxmin_layer_with_duality_lambdas_is_the_optimum(preset):
    cfg = MuMisoConfig.from_preset(preset)
    h = generate_mu_miso(cfg, 40, seed=7).h
    res = maxmin_beamforming(h, cfg.p_max_w, cfg.noise_w)
    assert res.ok.all()
    ht = torch.from_numpy(h)
    d = beam_directions(ht, torch.from_numpy(res.uplink_powers_w), cfg.noise_w)
    p, gamma = maxmin_powers(ht, d, cfg.p_max_w, cfg.noise_w)
    np.testing.assert_allclose(p.sum(-1).numpy(), cfg.p_max_w, rtol=1e-14)
    s = sinr(h, (d * p.sqrt().unsqueeze(-1)).numpy(), cfg.noise_w)
    s_opt = sinr(h, res.w, cfg.noise_w).min(1)
    np.testing.assert_allclose(s.min(1), s_opt, rtol=1e-6)
    np.testing.assert_allclose(s.max(1), s.min(1), rtol=1e-9)            # SINRs equalized
    np.testing.assert_allclose(gamma.numpy(), s_opt, rtol=1e-6)
    # the output layer on the noise-normalized channels with these lambdas' scores
    z = torch.log(torch.from_numpy(res.uplink_powers_w)).unsqueeze(-1)
    w = OptimalBeams(cfg.p_max_w, "maxmin")(z, _pairs(h / np.sqrt(cfg.noise_w)))
    w = w.reshape(40, cfg.n_users, cfg.n_antennas, 2).numpy()
    np.testing.assert_allclose(sinr(h, w[..., 0] + 1j * w[..., 1], cfg.noise_w).min(1), s_opt,
                               rtol=1e-6)


def test_maxmin_powers_gradcheck():
    torch.manual_seed(4)
    h = torch.randn(3, 3, 4, dtype=torch.complex128)
    lam = (torch.rand(3, 3, dtype=torch.float64) + 0.2).requires_grad_(True)

    def fn(lam, h):
        p, gamma = maxmin_powers(h, beam_directions(h, lam, 0.5), 2.0, 0.5)
        return p, gamma

    assert torch.autograd.gradcheck(fn, (lam, h.clone().requires_grad_(True)))


def test_maxmin_layer_gradients_are_finite_and_nonzero():
    z = torch.randn(8, 4, 1, requires_grad=True)
    g = torch.randn(8, 4, 4, 2)
    g[0, 2] = 0.0                                    # a user without a channel
    w = OptimalBeams(10.0, "maxmin")(z, g)
    loss, _ = MuMisoRateLoss("min", n_users=4, softmin_temperature=0.05)(w, {"h": g})
    loss.backward()
    assert torch.isfinite(z.grad).all() and z.grad[1:].abs().sum() > 0
    np.testing.assert_allclose((w.detach() ** 2).sum(-1).numpy(), 10.0, rtol=1e-5)


def test_output_layer_meets_the_power_budget_exactly():
    layer = OptimalBeams(power=10.0)
    z = 5 * torch.randn(7, 4, 2, dtype=torch.float64)
    w = layer(z, torch.randn(7, 4, 8, 2, dtype=torch.float64))
    np.testing.assert_allclose((w ** 2).sum(-1).numpy(), 10.0, rtol=1e-12)
    lam, p = layer.split(z)
    np.testing.assert_allclose(lam.sum(-1).numpy(), 10.0, rtol=1e-12)
    assert (lam > 0).all() and (p > 0).all()
    with pytest.raises(ConfigError, match=r"output_params.power=0 is invalid"):
        OptimalBeams(power=0)


def test_gradients_are_finite_when_a_power_underflows():
    # float32 softmax of scores 200 apart is exactly 0: sqrt(p) must not give inf * 0
    z = torch.tensor([[[0.0, 0.0], [0.0, -200.0], [1.0, 150.0]]], requires_grad=True)
    g = torch.randn(1, 3, 4, 2)
    w = OptimalBeams(power=10.0)(z, g)
    (w ** 2 * torch.arange(w.shape[-1])).sum().backward()
    assert torch.isfinite(z.grad).all()
    np.testing.assert_allclose(float((w.detach() ** 2).sum()), 10.0, rtol=1e-5)


def test_network_power_equivariance_and_any_k(config):
    system = system_config(config)
    net = _net(config)
    x = torch.randn(9, 4, system.n_antennas, 2, dtype=torch.float64)
    out = net(x, head="sum_rate")["out"]
    np.testing.assert_allclose((out ** 2).sum(-1).detach().numpy(), system.p_max_w, rtol=1e-10)
    perm = torch.tensor([2, 0, 3, 1])
    w = out.reshape(9, 4, -1)
    w_perm = net(x[:, perm], head="sum_rate")["out"].reshape(9, 4, -1)
    torch.testing.assert_close(w_perm, w[:, perm], rtol=1e-9, atol=1e-12)
    rec = net(x[:, perm])["reconstruction"] if len(net.heads) == 1 else None
    assert rec is None  # two heads: head must be given
    f = net(x, head="min_rate")
    assert f["reconstruction"].shape == (9, 4, 2 * system.n_antennas)
    for k in (1, 3, 6):  # trained at K = 4, runs at any K
        xk = torch.randn(5, k, system.n_antennas, 2, dtype=torch.float64)
        ok = net(xk, head="min_rate")["out"]
        assert ok.shape == (5, 2 * k * system.n_antennas)
        np.testing.assert_allclose((ok ** 2).sum(-1).detach().numpy(), system.p_max_w,
                                   rtol=1e-10)


@pytest.mark.parametrize(("aggregation", "minrate_power"),
                         [("mean", "maxmin"), ("attention", "maxmin"), ("mean", "learned")])
def test_gradients_are_finite_at_degenerate_channels(config, aggregation, minrate_power):
    system = system_config(config)
    structured = {**config["model"]["structured"], "minrate_power": minrate_power}
    cfg = make_task({**config, "model": {**config["model"], "structured": structured}}).net
    assert cfg.heads["min_rate"].widths[-1] == (1 if minrate_power == "maxmin" else 2)
    net = TransferNet.from_config(cfg.replace(graph={**cfg.graph, "aggregation": aggregation}))
    x = torch.randn(4, 4, system.n_antennas, 2)
    x[0, 1] = 0.0          # one user without a channel
    x[1] = 0.0             # a sample without any channel
    x[2, :, 1:] = 0.0      # every user on the same antenna (rank one)
    batch = {"x": x, "h": x, "x_rec": x.reshape(4, 4, -1)}
    for head, kind, temp in (("sum_rate", "sum", None), ("min_rate", "min", 0.05),
                             ("min_rate", "min", None)):
        net.zero_grad()
        obj = Objective(MuMisoRateLoss(kind, n_users=4, softmin_temperature=temp), head=head,
                        alpha=1.0, reconstruction_key="x_rec")
        loss, _ = obj(net, batch)
        loss.backward()
        assert torch.isfinite(loss)
        for name, prm in net.named_parameters():
            if prm.grad is not None:
                assert torch.isfinite(prm.grad).all(), name
    out = net(x, head="sum_rate")["out"].detach()
    assert torch.isfinite(out).all()
    np.testing.assert_allclose((out[[0, 2, 3]] ** 2).sum(-1).numpy(), system.p_max_w,
                               rtol=1e-5)


def test_structured_family_runs_on_pilot_estimates(config):
    system = system_config(config)
    samples = generate_mu_miso(system, 30, seed=3)
    inputs = fit_inputs("structured", network_input(samples, "pilots"))
    d = tensors(samples, inputs, "pilots", "structured")
    est = samples.channel_estimate() / np.sqrt(system.noise_w)
    np.testing.assert_allclose(d["x"].numpy()[..., 0], est.real, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(d["x"], d["h"])       # the net sees the estimate, the loss h
    net = _net(config, torch.float32)
    out = net(d["x"], head="min_rate")["out"]
    np.testing.assert_allclose((out.detach() ** 2).sum(-1).numpy(), system.p_max_w, rtol=1e-5)
    w = out.detach().double().numpy().reshape(30, system.n_users, system.n_antennas, 2)
    s_est = sinr(est, w[..., 0] + 1j * w[..., 1], 1.0)
    np.testing.assert_allclose(s_est.max(1), s_est.min(1), rtol=1e-4)  # balanced on what it sees
    loss, _ = Objective(MuMisoRateLoss("min", n_users=system.n_users, softmin_temperature=0.05),
                        head="min_rate")(net, d)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_beam_construction_gradcheck():
    torch.manual_seed(2)
    h = torch.randn(2, 3, 4, dtype=torch.complex128)
    lam = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    p = (torch.rand(2, 3, dtype=torch.float64) + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: torch.view_as_real(structured_beams(h, a, b)),
                                    (lam, p))


def test_config_round_trip_and_checkpoint(config, tmp_path):
    net = _net(config, torch.float32)
    assert NetConfig.from_json(net.config.to_json()) == net.config
    save_net(tmp_path / "net.pt", net)
    loaded, _ = load_net(tmp_path / "net.pt")
    x = torch.randn(3, 4, system_config(config).n_antennas, 2)
    torch.testing.assert_close(loaded(x, head="min_rate")["out"], net(x, head="min_rate")["out"])
    assert UserDecoder((16, 8))(torch.randn(2, 3, 24)).shape == (2, 3, 8)


def test_bad_input_gets_one_line_errors(config):
    net = _net(config, torch.float32)
    with pytest.raises(ConfigError, match=r"x: shape \(2, 32\) is invalid; expected \(batch, K"):
        net(torch.zeros(2, 32), head="sum_rate")
    with pytest.raises(ConfigError, match="x=str is invalid"):
        UserFeatures((8, 16))("1e-3")
    with pytest.raises(ConfigError, match="x holds NaN or inf"):
        net(torch.full((2, 4, 4, 2), float("nan")), head="sum_rate")
    with pytest.raises(ConfigError, match="graph.aggregation='max' is invalid"):
        UserConfig(aggregation="max")
    with pytest.raises(ConfigError, match="graph.bogus is not an option"):
        UserConfig.coerce({"bogus": 1})
    with pytest.raises(ConfigError, match="graph.message_widths='64' is invalid"):
        UserConfig(message_widths="64")
    with pytest.raises(ConfigError, match="feature_widths\\[0\\]=7 is invalid"):
        UserFeatures((7, 16))
    head = HeadConfig((16, 2), output="optimal_beams", output_params={"power": 1.0})
    with pytest.raises(ConfigError, match="output='optimal_beams' is invalid for this family"):
        NetConfig(feature_widths=(8, 16), heads={"a": head})
    with pytest.raises(ConfigError, match="is invalid for family='structured'"):
        NetConfig(feature_widths=(8, 16), heads={"a": HeadConfig((16, 2))}, family="structured")
    maxmin = HeadConfig((16, 2), output="optimal_beams",
                        output_params={"power": 1.0, "power_rule": "maxmin"})
    with pytest.raises(ConfigError, match=r"widths\[-1\]=2\) is invalid .* widths\[-1\]=1"):
        NetConfig(feature_widths=(8, 16), heads={"a": maxmin}, family="structured")
    with pytest.raises(ConfigError, match="output_params.power_rule='fixed' is invalid"):
        OptimalBeams(1.0, "fixed")
    with pytest.raises(ConfigError, match="z: 2 scores per user is invalid"):
        OptimalBeams(1.0, "maxmin")(torch.randn(2, 3, 2), torch.randn(2, 3, 4, 2))
    for key, value, message in (("family", "cnn", "model.family='cnn' is invalid"),
                                ("structured", {"depth": 3}, "model.structured='depth'"),
                                ("structured", {"width": "64"}, "model.structured.width='64'"),
                                ("structured", [64], "model.structured=\\[64\\] is invalid"),
                                ("structured", {"minrate_power": "fixed"},
                                 "model.structured.minrate_power='fixed' is invalid")):
        bad = {**config, "model": {**config["model"], key: value}}
        with pytest.raises(ConfigError, match=message):
            make_task(bad)


def test_tiny_structured_reproduce(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["reproduce", "mu-miso", "--scale", "tiny", "-o", str(out),
                                       "--threads", "1", "model.family=structured"])
    assert result.exit_code == 0, result.output
    with open(out / "results.csv") as f:
        rows = {(r["table"], r["method"]): r for r in csv.DictReader(f)}
    for s in ("regular", "conventional", "reconstruction", "finetune"):
        r = rows[("paper_settings", s)]
        assert 0 < float(r["pct_min_of_maxmin"]) <= 100 + 1e-6
        assert float(r["pct_sum_of_wmmse"]) > 0
    assert ("sources", "source, with reconstruction") in rows
