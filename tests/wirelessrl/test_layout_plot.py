"""The layout and interference-graph picture (wirelessrl.layout_plot)."""

import numpy as np
import pytest

from simulators.d2d import D2DConfig, generate_d2d
from simulators.validation import ConfigError
from wirelessrl.layout_plot import interference_db, plot_layout


@pytest.fixture(scope="module")
def layout():
    data = generate_d2d(D2DConfig.from_preset("paper", n_links=6), 1, seed=4)
    return data.g[0], data.tx_m[0], data.rx_m[0]


def _arrows(ax):
    return [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]


def test_interference_db_against_a_loop(layout):
    g = layout[0]
    isr = interference_db(g)
    for i in range(6):
        for j in range(6):
            want = -np.inf if i == j else 10 * np.log10(g[i, j] / g[i, i])
            assert isr[i, j] == pytest.approx(want, abs=1e-12) or isr[i, j] == want


@pytest.mark.parametrize("threshold_db", [-200.0, -20.0, 0.0, 50.0])
def test_one_arrow_per_cross_link_above_the_threshold(layout, threshold_db):
    g, tx, rx = layout
    fig = plot_layout(g, tx, rx, field_m=150.0, threshold_db=threshold_db)
    isr = interference_db(g)
    want = int(np.sum(np.isfinite(isr) & (isr >= threshold_db)))
    ax_map, ax_graph = fig.axes[:2]
    assert len(_arrows(ax_graph)) == want
    assert ax_map.get_xlim() == (0.0, 150.0)
    assert ax_map.get_xlabel() == "x (m)" and ax_map.get_ylabel() == "y (m)"
    assert "dB" in fig.axes[2].get_ylabel()  # the colour bar has its unit
    if threshold_db == -200.0:
        assert want == 30  # every ordered pair of 6 links


def test_graph_only_without_positions(layout):
    fig = plot_layout(layout[0])
    assert len(_arrows(fig.axes[0])) > 0 and len(fig.axes) == 2  # graph and colour bar


@pytest.mark.parametrize("suffix", ["png", "pdf", "svg"])
def test_saves_each_format(layout, tmp_path, suffix):
    path = plot_layout(*layout, path=tmp_path / f"l.{suffix}")
    head = path.read_bytes()[:5]
    assert head == {"png": b"\x89PNG\r", "pdf": b"%PDF-", "svg": b"<?xml"}[suffix]
    assert not list(tmp_path.glob(".*"))


def test_png_is_300_dpi(layout, tmp_path):
    from PIL import Image

    with Image.open(plot_layout(*layout, path=tmp_path / "l.png")) as im:
        assert round(im.info["dpi"][0]) == 300


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"g": np.ones((3, 4))}, "g has shape"),
        ({"g": -np.eye(3)}, "positive diagonal"),
        ({"g": np.full((3, 3), np.nan)}, "finite"),
        ({"g": "abc"}, "g"),
        ({"tx_m": np.zeros((6, 2))}, "both positions or neither"),
        ({"tx_m": np.zeros((5, 2)), "rx_m": np.zeros((5, 2))}, "tx_m has shape"),
        ({"threshold_db": "abc"}, "threshold_db"),
        ({"threshold_db": [1.0]}, "threshold_db"),
        ({"path": "fig.jpg"}, "expected one of .png"),
        ({"path": "no/such/folder/fig.png"}, "does not exist; create it first"),
    ],
)
def test_bad_input_is_one_config_error(layout, tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    args = {"g": layout[0], **kwargs}
    with pytest.raises(ConfigError, match=message):
        plot_layout(**args)
    assert not list(tmp_path.iterdir())
