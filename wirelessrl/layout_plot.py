r"""A picture of one D2D layout and its interference graph.

Left panel: the field, transmitters (triangles), receivers (circles) and each direct link
(a line, numbered). Right panel: the interference graph, one node per link (at its
receiver), an arrow ``j -> i`` for every cross link whose interference-to-signal ratio

.. math:: \mathrm{ISR}_{ij} = 10 \log_{10}(g_{ij} / g_{ii})\ \mathrm{dB}

(the interference of transmitter ``j`` at receiver ``i`` over the direct signal of link
``i``, both transmitting at the same power) is at least ``threshold_db``; darker, wider
arrows are stronger. Without positions (imported channels) the nodes sit on a circle.
Markers and widths carry the information, so the figure survives greyscale printing; the
colour map (viridis) is colour-blind safe.

Example
-------
>>> from simulators.d2d import D2DConfig, generate_d2d
>>> data = generate_d2d(D2DConfig.from_preset("paper"), 1, seed=1)
>>> isr = interference_db(data.g[0])
>>> isr.shape, bool(np.isneginf(isr[0, 0]))
((10, 10), True)
>>> fig = plot_layout(data.g[0], data.tx_m[0], data.rx_m[0], field_m=150.0)
>>> [ax.get_xlabel() for ax in fig.axes[:2]]
['x (m)', 'x (m)']
>>> plot_layout(data.g[0], path="layout.png").name
'layout.png'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulators.validation import ConfigError, check_finite
from wirelessrl.fileio import atomic_path

FIGURE_SUFFIXES = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def interference_db(g: np.ndarray) -> np.ndarray:
    r"""Interference-to-signal ratios of one layout, in dB.

    Input
    -----
    g : [n, n], float, linear gains, ``g[i, j]`` from tx j to rx i (positive diagonal)

    Output
    ------
    [n, n], float, ``10 log10(g[i, j] / g[i, i])`` off the diagonal, ``-inf`` on it
    (and where a cross gain is 0)
    """
    try:
        g = np.asarray(g, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"g={g!r:.60} is invalid; expected an (n_links, n_links) array of "
                          "gains") from None
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ConfigError(f"g has shape {g.shape}; expected one layout (n_links, n_links)")
    direct = np.diag(g)
    if not np.all(np.isfinite(g)) or np.any(g < 0) or np.any(direct <= 0):
        raise ConfigError("g is invalid; expected finite gains >= 0 with a positive diagonal")
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(g / direct[:, None])  # [n, n]
    np.fill_diagonal(out, -np.inf)
    return out


def _positions(n: int, tx_m, rx_m) -> tuple[np.ndarray | None, np.ndarray | None]:
    if (tx_m is None) != (rx_m is None):
        raise ConfigError("tx_m and rx_m: give both positions or neither")
    if tx_m is None:
        return None, None
    tx, rx = np.asarray(tx_m, dtype=np.float64), np.asarray(rx_m, dtype=np.float64)
    for name, a in (("tx_m", tx), ("rx_m", rx)):
        if a.shape != (n, 2) or not np.all(np.isfinite(a)):
            raise ConfigError(f"{name} has shape {a.shape}; expected finite ({n}, 2) in m")
    return tx, rx


def plot_layout(g: np.ndarray, tx_m: np.ndarray | None = None, rx_m: np.ndarray | None = None,
                *, field_m: float | None = None, threshold_db: float = -20.0,
                path: str | Path | None = None):
    """The layout and its interference graph as a matplotlib ``Figure`` (two axes).

    Input
    -----
    g : [n, n], float, linear gains of one layout, ``g[i, j]`` from tx j to rx i
    tx_m, rx_m : [n, 2], float, positions in m (both or neither: without them only the
        graph is drawn, nodes on a circle)
    field_m : float, side of the square field in m (axis limits), or None
    threshold_db : float, draw cross links with ISR >= this (dB)
    path : where to save it (``.png`` at 300 dpi, ``.pdf``, ``.svg``), written atomically

    Output
    ------
    matplotlib.figure.Figure; when ``path`` is given, the path instead
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    isr = interference_db(g)
    n = isr.shape[0]
    threshold_db = check_finite("threshold_db", threshold_db)
    tx, rx = _positions(n, tx_m, rx_m)
    if path is not None:
        suffix = Path(path).suffix.lower()
        if suffix not in FIGURE_SUFFIXES:
            raise ConfigError(f"path={str(path)!r} has suffix {suffix!r}; expected one of "
                              f"{', '.join(FIGURE_SUFFIXES)}")
        if not Path(path).parent.is_dir():
            raise ConfigError(f"path={str(path)!r}: the folder {str(Path(path).parent)!r} "
                              "does not exist; create it first")
    if tx is None:
        angle = 2 * np.pi * np.arange(n) / n
        nodes = np.stack([np.cos(angle), np.sin(angle)], axis=1)  # [n, 2]
        fig, ax_graph = plt.subplots(figsize=(4.6, 4.0))
        axes = [ax_graph]
    else:
        nodes = rx
        fig, (ax_map, ax_graph) = plt.subplots(1, 2, figsize=(10.0, 4.4))
        axes = [ax_map, ax_graph]
        for i in range(n):
            ax_map.plot([tx[i, 0], rx[i, 0]], [tx[i, 1], rx[i, 1]], color="0.35", lw=1.0,
                        zorder=1)
            ax_map.annotate(str(i), rx[i], textcoords="offset points", xytext=(4, 4),
                            fontsize=7)
        ax_map.scatter(tx[:, 0], tx[:, 1], marker="^", s=36, color="#0072B2", label="tx",
                       zorder=2)
        ax_map.scatter(rx[:, 0], rx[:, 1], marker="o", s=28, facecolor="white",
                       edgecolor="#D55E00", lw=1.4, label="rx", zorder=3)
        ax_map.set_title("layout: direct links")
        ax_map.legend(fontsize=8, loc="best")
    cross = np.argwhere(np.isfinite(isr) & (isr >= threshold_db))  # [edges, 2]: (i, j)
    strongest = float(isr[np.isfinite(isr)].max()) if np.isfinite(isr).any() else 0.0
    norm = Normalize(vmin=threshold_db, vmax=max(strongest, threshold_db + 1.0))
    cmap = plt.get_cmap("viridis_r")
    for i, j in cross[np.argsort(isr[cross[:, 0], cross[:, 1]])]:  # strongest drawn last
        w = norm(isr[i, j])
        ax_graph.annotate("", xy=nodes[i], xytext=nodes[j],
                          arrowprops={"arrowstyle": "-|>", "color": cmap(w),
                                      "lw": 0.5 + 2.5 * w, "shrinkA": 5, "shrinkB": 5})
    ax_graph.scatter(nodes[:, 0], nodes[:, 1], s=60, facecolor="white", edgecolor="black",
                     zorder=3)
    for i in range(n):
        ax_graph.annotate(str(i), nodes[i], ha="center", va="center", fontsize=6, zorder=4)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(mappable, ax=ax_graph, label="interference / direct signal (dB)")
    ax_graph.set_title(f"interference graph: {len(cross)} cross links >= {threshold_db:g} dB")
    for ax in axes:
        ax.set_aspect("equal")
        if tx is not None:
            ax.set_xlabel("x (m)")
            ax.set_ylabel("y (m)")
            if field_m is not None:
                ax.set_xlim(0, field_m)
                ax.set_ylim(0, field_m)
        else:
            ax.set_axis_off()
    fig.tight_layout()
    if path is None:
        return fig
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=FIGURE_SUFFIXES[Path(path).suffix.lower()], dpi=300,
                    bbox_inches="tight")
    plt.close(fig)
    return Path(path)
