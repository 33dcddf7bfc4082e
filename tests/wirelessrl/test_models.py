"""Networks: shapes, gradients, decoder removal, head replacement, configs."""

from __future__ import annotations

import json

import pytest
import torch

from simulators.validation import ConfigError
from wirelessrl.models import (
    MLP,
    OUTPUT_TRANSFORMS,
    HeadConfig,
    NetConfig,
    TransferNet,
    d2d_net_config,
    miso_net_config,
    mnist_net_config,
    net_config,
)


def test_mlp_layers_and_output_activation():
    mlp = MLP((4, 5, 3), activation="tanh", out_activation="relu")
    kinds = [type(m).__name__ for m in mlp]
    assert kinds == ["Linear", "Tanh", "Linear", "ReLU"]
    assert (mlp(torch.randn(7, 4)) >= 0).all()
    assert [type(m).__name__ for m in MLP((4, 5, 3))] == ["Linear", "ReLU", "Linear"]


@pytest.mark.parametrize(
    ("config", "head", "n_in", "n_out", "n_rec"),
    [
        (d2d_net_config(10), "sum_rate", 100, 10, 100),
        (d2d_net_config(10), "min_rate", 100, 10, 100),
        (miso_net_config(), "beamforming", 24, 96, 9),
        (miso_net_config(), "localization", 24, 2, 9),
        (mnist_net_config(), "is_eight", 100, 1, 100),
    ],
)
def test_paper_networks_shapes_and_gradients(config, head, n_in, n_out, n_rec):
    net = TransferNet.from_config(config)
    res = net(torch.randn(6, n_in), head=head)
    assert res["out"].shape == (6, n_out)
    assert res["features"].shape == (6, config.feature_widths[-1])
    assert res["reconstruction"].shape == (6, n_rec)
    (res["out"].sum() + res["reconstruction"].pow(2).sum()).backward()
    for name, p in net.named_parameters():
        if name.startswith(("features", f"heads.{head}", "decoder")):
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        else:
            assert p.grad is None, name


def test_paper_widths():
    d2d = d2d_net_config(10)
    assert d2d.feature_widths == (100, 150, 150, 100)
    assert d2d.heads["min_rate"].widths == (100, 40, 20, 10)
    assert d2d.heads["min_rate"].output == "sigmoid"
    assert d2d.decoder_widths == (100, 200, 100)
    miso = miso_net_config()
    assert miso.feature_widths == (24, 150, 150, 150, 100)
    assert miso.heads["beamforming"].widths == (100, 100, 100, 96)
    assert miso.heads["localization"].widths == (100, 125, 100, 75, 50, 2)
    assert miso.decoder_widths == (100, 50, 50, 9)
    mnist = mnist_net_config()
    assert (mnist.feature_widths, mnist.decoder_widths) == ((100, 50, 25), (25, 50, 100))
    assert mnist.heads["is_one"].widths == (25, 10, 1)


def test_output_transforms():
    net = TransferNet.from_config(miso_net_config())
    x = torch.randn(50, 24) * 10
    v = net(x, head="beamforming")["out"].view(50, 3, 32)
    torch.testing.assert_close(v.norm(dim=-1), torch.ones(50, 3))
    pos = net(x, head="localization")["out"]
    assert ((pos > 10) & (pos < 90)).all()
    p = TransferNet.from_config(d2d_net_config(4))(torch.randn(9, 16), head="sum_rate")["out"]
    assert ((p > 0) & (p < 1)).all()
    assert set(OUTPUT_TRANSFORMS) >= {"identity", "sigmoid", "scaled_sigmoid", "unit_norm_complex"}


def test_drop_decoder_gives_parameter_count_of_a_net_without_decoder():
    with_dec = TransferNet.from_config(d2d_net_config(10))
    without = TransferNet.from_config(d2d_net_config(10, decoder=False))
    assert with_dec.num_parameters() > without.num_parameters()
    with_dec.drop_decoder()
    assert with_dec.num_parameters() == without.num_parameters()
    assert "reconstruction" not in with_dec(torch.randn(2, 100), head="sum_rate")
    assert with_dec.config == without.config


def test_replace_head_is_fresh_and_keeps_features():
    torch.manual_seed(0)
    net = TransferNet.from_config(d2d_net_config(3))
    features = {k: v.clone() for k, v in net.features.state_dict().items()}
    old = net.heads["min_rate"].mlp[0].weight.clone()
    net.replace_head("min_rate")
    assert not torch.equal(net.heads["min_rate"].mlp[0].weight, old)
    for k, v in net.features.state_dict().items():
        assert torch.equal(v, features[k])
    net.replace_head("extra", (100, 7), output="scaled_sigmoid",
                     output_params={"low": -1.0, "high": 1.0})
    assert net(torch.randn(2, 9), head="extra")["out"].shape == (2, 7)
    net.remove_head("extra")
    assert net.head_names == ("sum_rate", "min_rate")


def test_freeze_features():
    net = TransferNet.from_config(d2d_net_config(3)).freeze_features()
    assert all(not p.requires_grad for p in net.features.parameters())
    assert all(p.requires_grad for p in net.heads.parameters())
    assert net.num_parameters(trainable_only=True) < net.num_parameters()


def test_net_config_json_round_trip():
    for cfg in (d2d_net_config(5), miso_net_config(), mnist_net_config()):
        text = cfg.to_json()
        json.loads(text)
        assert NetConfig.from_json(text) == cfg
    assert net_config("d2d", n_links=5) == d2d_net_config(5)


def test_head_config_coerce_from_list():
    cfg = NetConfig((4, 8), heads={"a": [8, 2]}, decoder_widths=[8, 4])
    assert cfg.heads["a"] == HeadConfig((8, 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"heads": {"a": {"widths": (9, 2)}}}, "heads.a.widths[0]=9 is invalid"),
        ({"heads": {"a": {"widths": (8, 2), "output": "softplus"}}}, "head.output='softplus'"),
        ({"heads": {"a": (8, 2)}, "activation": "swish"}, "activation='swish'"),
        ({"heads": {"a": (8, 2)}, "decoder_widths": (7, 4)}, "decoder_widths[0]=7"),
        ({"heads": {"a": (8,)}}, "at least 2 layer widths"),
        ({"heads": {"a": (8, 0)}}, "head.widths[1]=0 is invalid"),
        ({"heads": {"a": {"widths": (8, 2), "output": "scaled_sigmoid",
                          "output_params": {"low": 5, "high": 1}}}}, "output_params.high"),
    ],
)
def test_bad_network_configs_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TransferNet(feature_widths=(4, 8), **kwargs)


def test_head_required_when_ambiguous():
    net = TransferNet.from_config(d2d_net_config(3))
    with pytest.raises(ConfigError, match="head=None is ambiguous"):
        net(torch.randn(1, 9))
    with pytest.raises(ConfigError, match="head='nope' is invalid"):
        net(torch.randn(1, 9), head="nope")
