"""Graph power control (wirelessrl.gnn): equivariance, any size, sparsification against a
plain reference, the decoder's removal, checkpoints and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from simulators.d2d import D2DConfig, generate_d2d
from simulators.validation import ConfigError
from wirelessrl import transfer
from wirelessrl.checkpoint import load_net, save_net
from wirelessrl.engine import TrainConfig
from wirelessrl.gnn import (
    EdgeDecoder,
    Graph,
    GraphConfig,
    GraphFeatures,
    GraphHead,
    GraphInputTransform,
    neighbours,
    powers_from_gains,
)
from wirelessrl.models import NetConfig, TransferNet, d2d_gnn_config
from wirelessrl.objectives import D2DRateLoss
from wirelessrl.transfer import TransferTask, train_source, train_target


def _layouts(n_links: int, n: int, seed: int = 0, preset: str = "paper"):
    cfg = D2DConfig.from_preset(preset, n_links=n_links, redraw="offending")
    g = generate_d2d(cfg, n, seed=seed).g
    t = GraphInputTransform.fit(g, cfg.p_max_w, cfg.noise_w)
    return cfg, g, t


def _net(top_k=49, decoder=True, seed=0) -> TransferNet:
    torch.manual_seed(seed)
    return TransferNet.from_config(d2d_gnn_config(width=16, layers=2, top_k=top_k,
                                                  decoder=decoder, channels=4,
                                                  update_widths=[16]))


@pytest.mark.parametrize(("n_links", "top_k"), [(10, 49), (30, 5)])
def test_permuting_links_permutes_powers_features_and_reconstruction(n_links, top_k):
    _, g, t = _layouts(n_links, 4, seed=1)
    s = torch.from_numpy(t.snr_db(g))
    net = _net(top_k=top_k).eval()
    perm = torch.from_numpy(np.random.default_rng(3).permutation(n_links))
    s_perm = s[:, perm][:, :, perm]                       # relabel tx and rx together
    with torch.no_grad():
        a, b = net(s, head="sum_rate"), net(s_perm, head="sum_rate")
    torch.testing.assert_close(b["out"], a["out"][:, perm], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b["features"], a["features"][:, perm], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b["reconstruction"], a["reconstruction"][:, perm][:, :, perm],
                               rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a["out"][:, perm], a["out"])  # the permutation does change it


def test_one_model_runs_on_3_10_and_200_links():
    net = _net(top_k=8).drop_decoder().eval()
    for n in (3, 10, 200):
        _, g, t = _layouts(n, 2, seed=n, preset="paper" if n <= 10 else "spatial-2019")
        with torch.no_grad():
            out = net(torch.from_numpy(t.snr_db(g)), head="min_rate")
        assert out["out"].shape == (2, n)
        assert torch.isfinite(out["out"]).all()
        assert ((out["out"] > 0) & (out["out"] < 1)).all()


def test_sparse_graph_with_all_neighbours_equals_the_dense_graph():
    _, g, t = _layouts(12, 3, seed=2)
    s = torch.from_numpy(t.snr_db(g)).double()
    feats = GraphFeatures((1, 8, 8), GraphConfig(top_k=None, channels=3)).double()
    dense, sparse = Graph.build(s, 11), Graph.build(s, 11, sparse=True)
    assert dense.idx is None and sparse.idx.shape == (3, 12, 11)
    torch.testing.assert_close(feats(s, sparse), feats(s, dense), rtol=1e-12, atol=1e-12)
    # and the default (top_k=None, k = N - 1) takes the dense path with the same numbers
    torch.testing.assert_close(feats(s), feats(s, dense), rtol=0, atol=0)


def test_sparse_aggregation_matches_a_plain_loop():
    rng = np.random.default_rng(5)
    s = torch.from_numpy(rng.normal(0.0, 20.0, (2, 9, 9)))
    q = torch.from_numpy(rng.random((2, 9, 3)))
    k = 4
    graph = Graph.build(s, k)
    got_in, got_out = graph.incoming(q).numpy(), graph.outgoing(q).numpy()
    sn, qn = s.numpy(), q.numpy()
    gain = 10.0 ** (sn / 10.0)
    for b in range(2):
        for i in range(9):
            score = [(max(sn[b, i, j], sn[b, j, i]), j) for j in range(9) if j != i]
            kept = [j for _, j in sorted(score, reverse=True)[:k]]
            want_in = sum(gain[b, i, j] * qn[b, j] for j in kept)
            want_out = sum(gain[b, j, i] * qn[b, j] for j in kept)
            np.testing.assert_allclose(got_in[b, i], want_in, rtol=1e-12)
            np.testing.assert_allclose(got_out[b, i], want_out, rtol=1e-12)
    idx = neighbours(s, k)
    assert not (idx == torch.arange(9).view(1, 9, 1)).any()  # never its own link


def test_dense_aggregation_is_the_interference_sum():
    s = torch.tensor([[[10.0, 0.0, -10.0], [3.0, 20.0, 6.0], [-3.0, 10.0, 15.0]]],
                     dtype=torch.float64)
    q = torch.tensor([[[1.0], [2.0], [4.0]]], dtype=torch.float64)
    graph = Graph.build(s, 2)
    # rx 0 hears tx 1 at 0 dB (gain 1) and tx 2 at -10 dB (gain 0.1): 1*2 + 0.1*4
    assert graph.incoming(q)[0, 0, 0].item() == pytest.approx(2.4, rel=1e-12)
    # tx 0 reaches rx 1 at 3 dB and rx 2 at -3 dB: 10^0.3*2 + 10^-0.3*4
    assert graph.outgoing(q)[0, 0, 0].item() == pytest.approx(
        10 ** 0.3 * 2 + 10 ** -0.3 * 4, rel=1e-12)


def test_edge_decoder_rebuilds_rows_and_columns():
    dec = EdgeDecoder((5, 7, 3))
    f = torch.randn(2, 4, 5)
    rec = dec(f)
    assert rec.shape == (2, 4, 4)
    u, v = dec.u(f), dec.v(f)
    torch.testing.assert_close(rec[0, 1, 2], (u[0, 1] @ v[0, 2]) / 3 ** 0.5)
    torch.testing.assert_close(torch.diagonal(rec, dim1=-2, dim2=-1), dec.d(f).squeeze(-1))


def _task(cfg: D2DConfig) -> TransferTask:
    kw = dict(p_max_w=cfg.p_max_w, noise_w=cfg.noise_w, snr_gap_db=cfg.snr_gap_db)
    return TransferTask(net=d2d_gnn_config(width=8, layers=2, channels=2, update_widths=[8]),
                        source_head="sum_rate", target_head="min_rate",
                        source_loss=D2DRateLoss("sum", **kw), target_loss=D2DRateLoss("min", **kw),
                        reconstruction_key="x_rec", alpha=3.0,
                        source_monitor=("sum_rate_bps_per_hz", "max"),
                        target_monitor=("min_rate_bps_per_hz", "max"))


def _batch(g: np.ndarray, t: GraphInputTransform) -> dict:
    s = t.snr_db(g)
    return {"x": torch.from_numpy(s), "x_rec": torch.from_numpy(t.standardize(s)),
            "g": torch.from_numpy(g.astype(np.float32))}


def test_decoder_trains_with_the_source_and_is_absent_at_inference(tmp_path):
    cfg, g, t = _layouts(5, 96, seed=4)
    task = _task(cfg)
    train, valid = _batch(g[:64], t), _batch(g[64:], t)
    src, fit = train_source(task, "reconstruction", train, valid,
                            TrainConfig(epochs=2, batch_size=32, device="cpu"))
    assert src.decoder is not None and "valid_rec_mse" in fit.history[-1]
    net, _ = train_target(task, "reconstruction", src, train, valid,
                          TrainConfig(epochs=2, batch_size=32, device="cpu"), tmp_path / "t")
    assert net.decoder is None
    assert not any(k.startswith("decoder.") for k in net.state_dict())
    with torch.no_grad():
        out = net(train["x"][:3], head="min_rate")
    assert "reconstruction" not in out and out["out"].shape == (3, 5)
    fresh = TransferNet.from_config(net.config)
    assert fresh.num_parameters() == net.num_parameters()
    loaded, _ = load_net(tmp_path / "t" / "net.pt")
    assert loaded.config.family == "gnn" and loaded.config == net.config
    with torch.no_grad():
        torch.testing.assert_close(loaded(train["x"], head="min_rate")["out"],
                                   net(train["x"], head="min_rate")["out"], rtol=0, atol=0)


def test_gnn_config_round_trips_through_json_and_checkpoints(tmp_path):
    cfg = d2d_gnn_config(top_k=7)
    assert NetConfig.from_json(cfg.to_json()) == cfg
    assert cfg.graph["top_k"] == 7
    net, _ = load_net(save_net(tmp_path / "n.pt", TransferNet.from_config(cfg)))
    assert net.config == cfg


def test_min_rate_loss_gradient_is_finite_at_saturated_powers():
    _, g, t = _layouts(6, 8, seed=6)
    net = _net()
    s = torch.from_numpy(t.snr_db(g))
    with torch.no_grad():  # saturate every sigmoid: powers 0 and 1
        for p in net.heads["min_rate"].mlp[-1].parameters():
            p.mul_(1e4)
    out = net(s, head="min_rate")["out"]
    loss, _ = D2DRateLoss("min", p_max_w=1.0, noise_w=5e-12)(out, {"g": torch.from_numpy(
        g.astype(np.float32))})
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


@pytest.mark.parametrize(
    ("x", "top_k", "message"),
    [
        (torch.zeros(2, 3, 4), 49, "x: shape (2, 3, 4) is invalid; expected a square"),
        (torch.zeros(3, 3), 49, "x: shape (3, 3) is invalid; expected a square"),
        (torch.zeros(2, 1, 1), 49, "x: n=1 link has no interferers, but graph.top_k=49"),
        (torch.tensor([[[1.0, float("nan")], [0.0, 1.0]]]), 49, "x holds NaN or inf"),
        (torch.tensor([[[1.0, float("inf")], [0.0, 1.0]]]), None, "x holds NaN or inf"),
    ],
)
def test_bad_network_input_is_one_line_naming_the_field(x, top_k, message):
    net = _net(top_k=top_k)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        net(x, head="sum_rate")
    assert "\n" not in str(e.value)


def test_one_link_without_neighbours_is_allowed():
    out = _net(top_k=0)(torch.full((2, 1, 1), 30.0), head="sum_rate")["out"]
    assert out.shape == (2, 1) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("g", "message"),
    [
        (np.ones((2, 3, 4)), r"g: shape \(2, 3, 4\) is invalid; expected a square"),
        (np.array([[[1.0, np.nan], [0.0, 1.0]]]), "g holds NaN, inf or negative gains"),
        (np.array([[[1.0, -1.0], [0.0, 1.0]]]), "g holds NaN, inf or negative gains"),
    ],
)
def test_bad_gains_in_the_input_transform(g, message):
    t = GraphInputTransform(p_max_w=1.0, noise_w=1e-12)
    with pytest.raises(ConfigError, match=message):
        t.snr_db(g)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GraphConfig(top_k="5"), "graph.top_k"),
        (lambda: GraphConfig(top_k=-1), "graph.top_k"),
        (lambda: GraphConfig(channels=0), "graph.channels"),
        (lambda: GraphConfig(update_widths="64"), "graph.update_widths"),
        (lambda: GraphConfig.coerce({"k": 3}), "graph.k is not a graph option"),
        (lambda: NetConfig((1, 8), family="cnn"), "family"),
        (lambda: NetConfig((1, 8), heads={"p": (8, 2)}, family="gnn"),
         r"heads.p.widths\[-1\]=2 is invalid for family='gnn'"),
        (lambda: NetConfig((4, 8), graph={"top_k": 3}), "graph=.* is invalid for family='mlp'"),
        (lambda: TransferNet.from_config(NetConfig((2, 8), family="gnn")),
         r"feature_widths\[0\]=2 is invalid for the gnn family"),
    ],
)
def test_bad_graph_configs_name_the_field(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_input_transform_scales_by_noise_and_power():
    g = np.array([[[1e-9, 1e-12], [1e-13, 2e-9]]])
    t = GraphInputTransform.fit(g, p_max_w=10.0, noise_w=1e-12)
    np.testing.assert_allclose(t.snr_db(g)[0], [[40.0, 10.0], [0.0, 10 * np.log10(2e4)]],
                               rtol=1e-6)
    x = t.standardize(t.snr_db(g))
    assert x.dtype == np.float32
    np.testing.assert_allclose(np.diagonal(x[0]).mean(), 0.0, atol=1e-6)
    assert t.snr_db(np.zeros((1, 2, 2))).min() == pytest.approx(-100.0)  # the dB floor


# ----------------------------------------------------- heads with message passing (head_layers)
def _graph_head_config(top_k=49, **graph) -> NetConfig:
    return d2d_gnn_config(width=16, layers=2, top_k=top_k, channels=4, update_widths=[16],
                          head_layers=2, **graph)


def _graph_head_net(top_k=49, seed=0, **graph) -> TransferNet:
    torch.manual_seed(seed)
    return TransferNet.from_config(_graph_head_config(top_k, **graph))


@pytest.mark.parametrize(("n_links", "top_k"), [(10, 49), (30, 5)])
def test_graph_heads_keep_the_powers_permutation_equivariant(n_links, top_k):
    _, g, t = _layouts(n_links, 4, seed=7)
    s = torch.from_numpy(t.snr_db(g))
    net = _graph_head_net(top_k=top_k).eval()
    perm = torch.from_numpy(np.random.default_rng(8).permutation(n_links))
    with torch.no_grad():
        a, b = net(s, head="min_rate"), net(s[:, perm][:, :, perm], head="min_rate")
    torch.testing.assert_close(b["out"], a["out"][:, perm], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(b["reconstruction"], a["reconstruction"][:, perm][:, :, perm],
                               rtol=1e-5, atol=1e-5)
    # the feature layer carries the node features, then the node's row of dB gains
    assert a["features"].shape == (4, n_links, 16 + n_links)
    torch.testing.assert_close(a["features"][..., 16:], s, rtol=0, atol=0)


def test_graph_head_passes_messages_over_the_gains():
    # the same node features with other cross gains give other powers: the head sees the
    # graph (a per-node MLP head would not change)
    net = _graph_head_net().eval()
    _, g, t = _layouts(6, 2, seed=9)
    s = torch.from_numpy(t.snr_db(g))
    with torch.no_grad():
        f = net.features(s)
        other = f.clone()
        other[..., 16:] = s + 15.0 * (1 - torch.eye(6))            # 15 dB stronger interference
        head = net.heads["min_rate"]
        assert not torch.allclose(head(f), head(other))
        torch.testing.assert_close(head(f), net(s, head="min_rate")["out"], rtol=0, atol=0)


def test_graph_head_on_cached_features_trains_like_the_uncached_path(tmp_path):
    cfg, g, t = _layouts(5, 96, seed=10)
    task = _task(cfg)
    task = TransferTask(**{**task.__dict__, "net": task.net.replace(
        graph={**task.net.graph, "head_layers": 1})})
    train, valid = _batch(g[:64], t), _batch(g[64:], t)
    tc = TrainConfig(epochs=3, batch_size=32, device="cpu", seed=2)
    src, _ = train_source(task, "reconstruction", train, valid, tc)
    cached, _ = train_target(task, "reconstruction", src, train, valid, tc)
    loop, _ = train_target(task, "reconstruction", src, train, valid, tc, cache_features=False)
    with torch.no_grad():
        torch.testing.assert_close(cached(valid["x"], head="min_rate")["out"],
                                   loop(valid["x"], head="min_rate")["out"],
                                   rtol=1e-5, atol=1e-6)
    loaded, _ = load_net(save_net(tmp_path / "n.pt", cached))
    assert loaded.config == cached.config and loaded.config.graph["head_layers"] == 1
    assert isinstance(loaded.heads["min_rate"], GraphHead)


def _pre_activation(head: nn.Module, f: torch.Tensor) -> torch.Tensor:
    """The pre-sigmoid output ``[batch, n]`` of a graph head on features ``f``."""
    z: list[torch.Tensor] = []
    hook = head.mlp.mlp.register_forward_hook(lambda m, i, o: z.append(o.squeeze(-1)))
    head(f)
    hook.remove()
    return z[0]


def _mlp_bound(mlp: nn.Sequential, radius: float) -> torch.Tensor:
    """Bound of ``|mlp(u)|`` over all ``||u|| <= radius`` for Linear / ReLU layers
    (``|relu(a)| <= |a|``, ``|w . u| <= ||w|| ||u||``)."""
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    b = linears[0].weight.norm(dim=1) * radius + linears[0].bias.abs()
    for lin in linears[1:]:
        b = lin.weight.abs() @ b + lin.bias.abs()
    return b


def _last_linear(seq: nn.Sequential) -> nn.Linear:
    return [m for m in seq if isinstance(m, nn.Linear)][-1]


def test_graph_head_norm_makes_the_pre_activation_independent_of_the_node_state_scale():
    # node states 100 times larger (the last update layer of the head's message passing
    # scaled; exact, ReLU is positively homogeneous), as Adam's coherent steps grew them
    # before the head saturated: with the LayerNorm the pre-sigmoid output is unchanged,
    # without it it grows with the scale
    _, g, t = _layouts(8, 3, seed=11)
    s = torch.from_numpy(t.snr_db(g))
    for norm in ("layer", "none"):
        net = _graph_head_net(seed=3, head_norm=norm)
        for name in ("sum_rate", "min_rate"):
            head = net.heads[name]
            with torch.no_grad():
                f = net.features(s)
                z = _pre_activation(head, f)
                last = _last_linear(head.layers[-1].update)
                last.weight.mul_(100.0)
                last.bias.mul_(100.0)
                z_100 = _pre_activation(head, f)
            if norm == "layer":
                torch.testing.assert_close(z_100, z, rtol=0, atol=1e-4)
            else:
                assert z_100.abs().max() > 10 * z.abs().max()


def test_graph_head_norm_bounds_the_pre_activation_whatever_the_input():
    # huge node features and 40 dB stronger interference: the LayerNorm's output has norm
    # <= max|gamma| sqrt(d) + ||beta||, so the pre-sigmoid output stays within the bound
    # of the MLP's own weights
    _, g, t = _layouts(8, 3, seed=11)
    s = torch.from_numpy(t.snr_db(g))
    torch.manual_seed(4)
    f = torch.cat([1e3 * torch.randn(3, 8, 16), s + 40.0 * (1 - torch.eye(8))], dim=-1)
    for name in ("sum_rate", "min_rate"):
        head = _graph_head_net(seed=3).heads[name]
        with torch.no_grad():
            nn.init.uniform_(head.norm.weight, 0.5, 2.0)       # a trained gain and bias
            nn.init.uniform_(head.norm.bias, -1.0, 1.0)
            radius = head.norm.weight.abs().max() * 4.0 + head.norm.bias.norm()  # d = 16
            bound = _mlp_bound(head.mlp.mlp, float(radius)).item()
            assert _pre_activation(head, f).abs().max() <= bound < 100.0


@pytest.mark.parametrize("seed", [1, 3])
def test_graph_head_norm_stops_the_drift_that_saturated_the_sum_rate_head(seed, monkeypatch):
    # regression (README, graph heads at N = 50, spatial-2019, 1 of 3 seeds stuck at full
    # power): 20 Adam steps (lr 1e-3) of the sum-rate source move the mean pre-sigmoid
    # output of the unnormalized graph head by 5-11 on every seed tried (down or up: at
    # +17 the sigmoid's gradient is e^-17 and the head never recovers), with the LayerNorm
    # by < 1.1 (seeds 0-4)
    cfg, g, t = _layouts(50, 100, seed=5, preset="spatial-2019")
    data = _batch(g, t)
    build = transfer.build_source_net
    drift = {}
    for norm in ("none", "layer"):
        z: list[torch.Tensor] = []

        def hooked(*args, z=z):
            net = build(*args)
            net.heads["sum_rate"].mlp.mlp.register_forward_hook(
                lambda m, i, o: z.append(o.detach().mean()) if m.training else None)
            return net

        monkeypatch.setattr(transfer, "build_source_net", hooked)
        task = TransferTask(**{**_task(cfg).__dict__,
                               "net": d2d_gnn_config(head_layers=2, head_norm=norm)})
        train_source(task, "reconstruction", data, data,
                     TrainConfig(epochs=4, batch_size=20, device="cpu", seed=seed))
        assert len(z) == 20                                  # one per Adam step
        drift[norm] = max(abs(v - z[0]).item() for v in z)
    assert drift["layer"] < 2.5 < 4.0 < drift["none"], drift


def test_graph_head_config_saved_without_head_norm_keeps_the_earlier_head(tmp_path):
    # the config JSON of a graph-head network saved before head_norm existed (no such key):
    # the head as it was (no norm, the same parameters), its outputs, its JSON on re-save
    earlier = _graph_head_config().to_dict()
    del earlier["graph"]["head_norm"]
    torch.manual_seed(0)
    net = TransferNet.from_config(NetConfig.from_dict(earlier)).eval()
    assert net.config.to_dict() == earlier
    assert not any("norm" in key for key in net.state_dict())
    assert set(net.state_dict()) < set(_graph_head_net().state_dict())
    _, g, t = _layouts(6, 2, seed=12)
    s = torch.from_numpy(t.snr_db(g))
    loaded, _ = load_net(save_net(tmp_path / "n.pt", net))
    with torch.no_grad():
        f = net.features(s)
        head = net.heads["sum_rate"]
        h, graph = f[..., :16], Graph.build(s, 49)
        for layer in head.layers:                    # the earlier forward, written out
            h = layer(h, graph)
        torch.testing.assert_close(head(f), head.mlp(h), rtol=0, atol=0)
        torch.testing.assert_close(loaded(s, head="sum_rate")["out"],
                                   net(s, head="sum_rate")["out"], rtol=0, atol=0)
    assert "head_norm" not in loaded.config.to_json()
    # new networks (d2d_gnn_config, experiments/d2d.yaml) get the LayerNorm
    assert _graph_head_config().graph["head_norm"] == "layer"
    assert isinstance(_graph_head_net().heads["min_rate"].norm, nn.LayerNorm)


def test_head_layers_zero_keeps_the_earlier_network_config():
    assert "head_layers" not in d2d_gnn_config().graph
    assert "head_norm" not in d2d_gnn_config().graph            # no graph heads to normalize
    assert not isinstance(TransferNet.from_config(d2d_gnn_config()).heads["sum_rate"], GraphHead)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GraphConfig(head_layers=-1), "graph.head_layers"),
        (lambda: GraphConfig(head_layers=2, head_norm="batch"),
         "graph.head_norm='batch' is invalid; expected one of none, layer"),
        (lambda: _graph_head_net().heads["sum_rate"](torch.zeros(2, 4, 16)),
         r"features: shape \(2, 4, 16\) is invalid for a GraphHead; "
         r"expected \(batch, n, 16 \+ n\)"),
    ],
)
def test_bad_graph_head_input_names_the_field(make, message):
    with pytest.raises(ConfigError, match=message) as e:
        make()
    assert "\n" not in str(e.value)


# ------------------------------------------- the fast input from the linear gains (from_gains)
class _GatherBmmGraph(Graph):
    """The aggregation before embedding_bag (index_select, then a batched product): the
    reference the fast path is tested against."""

    def _gathered_sum(self, weight, v):
        batch, n, k = self.idx.shape
        flat = (self.idx + (torch.arange(batch) * n).view(batch, 1, 1)).reshape(-1)
        nbr = v.reshape(batch * n, -1).index_select(0, flat).view(batch * n, k, -1)
        return torch.bmm(weight.reshape(batch * n, 1, k), nbr).view(batch, n, -1)


def _reference_powers(net: TransferNet, g: np.ndarray, t: GraphInputTransform, head: str):
    """Power fractions by the earlier inference path: float32 dB matrix, Graph.build on it,
    gather + bmm aggregation."""
    s = torch.from_numpy(t.snr_db(g))
    k = GraphConfig.coerce(net.graph).k(s.shape[-1])
    with torch.no_grad():
        f = net.features(s, _GatherBmmGraph.build(s, k))
        return net.heads[head](f), f, s


def _plain_top_k(g: np.ndarray, k: int) -> list[list[set]]:
    """The k largest max(g_ij, g_ji), j != i, ties to the smaller j (plain sort)."""
    out = []
    for gb in g:
        rows = []
        for i in range(gb.shape[0]):
            score = [(-max(gb[i, j], gb[j, i]), j) for j in range(gb.shape[0]) if j != i]
            rows.append({j for _, j in sorted(score)[:k]})
        out.append(rows)
    return out


@pytest.mark.parametrize("n_links", [3, 10, 200])
def test_network_from_gains_equals_the_earlier_db_path(n_links):
    rng = np.random.default_rng(n_links)
    cfg = D2DConfig.from_preset("spatial-2019", n_links=n_links, redraw="offending",
                                field_m=1000.0 * np.sqrt(n_links / 50))
    g = generate_d2d(cfg, 4, seed=n_links).g
    t = GraphInputTransform(cfg.p_max_w, cfg.noise_w)
    for top_k in (None, int(rng.integers(0, n_links - 1)), int(rng.integers(1, n_links))):
        for head_layers in (0, 1):
            torch.manual_seed(1)
            net = TransferNet.from_config(d2d_gnn_config(
                width=16, layers=2, top_k=top_k, channels=4, update_widths=[16],
                head_layers=head_layers, decoder=False)).eval()
            graph = t.graph(g, GraphConfig(top_k=top_k).k(n_links))
            with torch.inference_mode():
                got = net(graph, head="sum_rate")
            want, f, s = _reference_powers(net, g, t, "sum_rate")
            if head_layers:  # the reference head rebuilds its graph from the gains
                with torch.no_grad():
                    want = net(s, head="sum_rate")["out"]
            torch.testing.assert_close(got["out"], want, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(got["features"], f[..., :16], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(powers_from_gains(net, g, cfg.p_max_w, cfg.noise_w,
                                                         head="sum_rate", chunk=3),
                                       got["out"].numpy(), rtol=1e-6, atol=1e-7)


def test_graph_from_gains_equals_graph_build_on_the_db_matrix():
    cfg, g, t = _layouts(40, 3, seed=11, preset="spatial-2019")
    s = torch.from_numpy(t.snr_db(g))
    for k in (0, 1, 7, 38, 39):
        ref, got = Graph.build(s, k), t.graph(g, k)
        torch.testing.assert_close(got.direct_db, torch.diagonal(s, dim1=-2, dim2=-1),
                                   rtol=0, atol=0)
        if k == 39:  # dense
            assert got.idx is None and got.gain.dtype == torch.float32
            torch.testing.assert_close(got.gain, ref.gain.float(), rtol=1e-5, atol=0)
            continue
        order, ref_order = got.idx.argsort(-1), ref.idx.argsort(-1)
        torch.testing.assert_close(got.idx.gather(-1, order), ref.idx.gather(-1, ref_order),
                                   rtol=0, atol=0)
        for a, b in ((got.gain_in, ref.gain_in), (got.gain_out, ref.gain_out)):
            torch.testing.assert_close(a.gather(-1, order), b.gather(-1, ref_order),
                                       rtol=1e-5, atol=0)


@pytest.mark.parametrize("rho", [0.3, 2.0, 40.0])
def test_sparse_selection_is_the_exact_top_k_whatever_the_threshold(rho):
    from wirelessrl import _graph_kernels as kernels

    rng = np.random.default_rng(12)
    n, k = 150, 9
    g = rng.lognormal(-25.0, 2.0, (4, n, n))
    g[0, :20] *= 1e-3                                   # weak rows: fewer than k candidates
    g[1] = np.round(g[1] / g[1].mean() * 4)             # integer gains: many ties, zeros
    g[2, :, 5] = 0.0
    g[3] = 2.0                                          # the sampled rows low: every other
    g[3, [(a * n) // 8 for a in range(8)]] = 1.0        # row above t0 (lists must grow)
    idx, w_in, w_out, direct, ok = kernels.sparse_graph(g, k, 2.0, 1e-30, rho, threads=2)
    assert ok.all()
    want = _plain_top_k(g, k)
    for b in range(4):
        for i in range(n):
            assert set(idx[b, i].tolist()) == want[b][i], (b, i)
            j = idx[b, i]
            np.testing.assert_allclose(w_in[b, i], np.maximum(2 * g[b, i, j], 1e-30), rtol=1e-7)
            np.testing.assert_allclose(w_out[b, i], np.maximum(2 * g[b, j, i], 1e-30),
                                       rtol=1e-7)


def test_kth_largest_matches_a_sort():
    from wirelessrl._graph_kernels import kth_largest

    rng = np.random.default_rng(13)
    for n in (1, 5, 17, 64, 301):
        for x in (rng.random(n), rng.integers(0, 4, n).astype(float)):
            s = [np.empty(n + 8) for _ in range(3)]
            for k in {1, max(1, n // 2), n}:
                assert kth_largest(x, n, k, *s) == np.sort(x)[::-1][k - 1]


def test_compress_stores_never_pass_the_data_they_pack():
    # the packed stores write whole vectors, but only over slots the packing may still
    # fill: each buffer is followed by a guard region that must come back untouched
    from wirelessrl._graph_kernels import _indices_gt, kth_largest

    rng = np.random.default_rng(16)
    guard = 64
    for n in (16, 23, 64, 301):
        x = rng.random(n)
        store = np.full((3, n + guard), -7.0)
        for k in {1, n // 2 or 1, n}:
            assert kth_largest(x, n, k, *store[:, :n]) == np.sort(x)[::-1][k - 1]
        assert (store[:, n:] == -7.0).all(), n
        lo, hi, q0 = 3, n, 5
        out = np.full(q0 + (hi - lo) + guard, -7, np.int32)
        q = _indices_gt(x, lo, hi, 0.5, out, q0)
        assert out[q0:q].tolist() == [j for j in range(lo, hi) if x[j] > 0.5]
        assert (out[:q0] == -7).all() and (out[q0 + (hi - lo):] == -7).all(), n


def test_graph_from_gains_is_linear_in_the_kept_edges():
    from wirelessrl._graph_kernels import _list_capacity

    _, g, t = _layouts(200, 2, seed=14, preset="spatial-2019")
    graph = t.graph(g, 8)
    assert graph.gain is None and graph.direct_db.shape == (2, 200)
    for a, dtype in ((graph.idx, torch.int64), (graph.gain_in, torch.float32),
                     (graph.gain_out, torch.float32)):
        assert a.shape == (2, 200, 8) and a.dtype == dtype
    net = _graph_head_net(top_k=8).eval()
    with torch.inference_mode():
        assert net.features(graph).shape == (2, 200, 16)   # no [n, n] gains passed on
    # the kernel's edge lists: O(n k), not O(n^2)
    assert _list_capacity(20_000, 49, 2.0) < 2.01 * _list_capacity(10_000, 49, 2.0)
    assert _list_capacity(10_000, 49, 2.0) < 5 * 49 * 10_000


def test_float32_gains_give_the_float64_graph():
    _, g, t = _layouts(30, 2, seed=15, preset="spatial-2019")
    g32 = g.astype(np.float32)
    a, b = t.graph(g32, 5), t.graph(g32.astype(np.float64), 5)
    assert torch.equal(a.idx, b.idx) and torch.equal(a.gain_in, b.gain_in)


def test_embedding_bag_aggregation_has_the_gradients_of_gather_and_bmm():
    rng = np.random.default_rng(16)
    s = torch.from_numpy(rng.normal(0.0, 20.0, (2, 12, 12)))
    q = torch.from_numpy(rng.random((2, 12, 3))).requires_grad_()
    new, old = Graph.build(s, 4), _GatherBmmGraph.build(s, 4)
    for fn in ("incoming", "outgoing"):
        a, b = getattr(new, fn)(q), getattr(old, fn)(q)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
        ga = torch.autograd.grad(a.square().sum(), q)[0]
        gb = torch.autograd.grad(b.square().sum(), q)[0]
        torch.testing.assert_close(ga, gb, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("g", "k", "message"),
    [
        (np.ones((2, 3, 4)), 1, r"g: shape \(2, 3, 4\) is invalid; expected a square"),
        (np.ones((3, 3)), 1, r"g: shape \(3, 3\) is invalid; expected a square"),
        (np.array([[[1.0, np.nan, 1.0], [0.0, 1.0, 1.0], [1, 1, 1]]]), 1,
         "g holds NaN, inf or negative gains"),
        (np.array([[[1.0, np.inf, 1.0], [0.0, 1.0, 1.0], [1, 1, 1]]]), 2,
         "g holds NaN, inf or negative gains"),
        (np.array([[[1.0, -1e-9, 1.0], [0.0, 1.0, 1.0], [1, 1, 1]]]), 1,
         "g holds NaN, inf or negative gains"),
        (np.array([[[-1.0]]]), 0, "g holds NaN, inf or negative gains"),
        (np.ones((2, 1, 1)), 3, "g: n=1 link has no interferers, but k=3"),
        (np.ones((2, 3, 3)), -1, "k=-1 is invalid"),
        (np.ones((2, 3, 3)), 1.5, "k=1.5 is invalid"),
    ],
)
def test_bad_gains_for_the_fast_input_are_one_line(g, k, message):
    with pytest.raises(ConfigError, match=message) as e:
        Graph.from_gains(g, k, p_max_w=1.0, noise_w=1e-12)
    assert "\n" not in str(e.value)


def test_negative_zero_gains_are_allowed_as_in_the_db_transform():
    g = np.array([[[1e-9, -0.0, 1e-12], [1e-12, 1e-9, 0.0], [1e-12, 1e-13, 1e-9]]])
    got = Graph.from_gains(g, 1, p_max_w=1.0, noise_w=1e-12)
    assert torch.isfinite(got.gain_in).all()


def test_a_graph_of_the_wrong_size_is_refused_by_the_network():
    _, g, t = _layouts(30, 2, seed=17, preset="spatial-2019")
    net = _net(top_k=5).eval()
    for graph, message in ((t.graph(g, 4), "a Graph with 4 neighbours per link is invalid "
                                           r"for graph.top_k=5 at n=30; expected "
                                           r"Graph.from_gains\(g, k=5"),
                           (Graph.build(torch.from_numpy(t.snr_db(g)), 5),
                            "a Graph without direct_db is invalid")):
        with pytest.raises(ConfigError, match=message) as e:
            net(graph, head="sum_rate")
        assert "\n" not in str(e.value)


def test_a_head_built_from_the_gains_runs_on_the_db_input():
    # the max-min power layer reads every link's row of dB gains: powers_from_gains falls back
    # to the dense input, a Graph input is refused in one line
    from wirelessrl.models import HeadConfig

    cfg, g, t = _layouts(12, 3, seed=18, preset="spatial-2019")
    torch.manual_seed(2)
    net = TransferNet.from_config(d2d_gnn_config(width=8, layers=2, decoder=False).replace(
        heads={"min_rate": HeadConfig((8, 8, 1), output="maxmin_powers")})).eval()
    assert net.passes_gains
    with torch.no_grad():
        want = net(torch.from_numpy(t.snr_db(g)), head="min_rate")["out"]
    np.testing.assert_allclose(powers_from_gains(net, g, cfg.p_max_w, cfg.noise_w), want,
                               rtol=1e-6, atol=1e-7)
    with pytest.raises(ConfigError, match="a Graph is invalid for a network whose head is "
                                          "built from the gains") as e:
        net(t.graph(g, 11), head="min_rate")
    assert "\n" not in str(e.value)
