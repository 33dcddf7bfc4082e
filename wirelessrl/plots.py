"""Figures for reports and papers: CDFs, bar charts and curves in one house style.

Each ``*_figure`` function draws on ``ax`` when given (a panel of your own figure) or on a
new figure, and returns the matplotlib :class:`~matplotlib.figure.Figure`, so labels,
limits and legends can be adjusted before :func:`save_figure` writes it. The ``*_from_*``
functions build the same figures from files (data and solution files, results CSV / JSON,
training logs, sweep results); ``wirelessrl plot cdf|bars|curves`` calls them.

House style, in one place (:data:`STYLE`, :func:`series_style`, :func:`save_figure`):

* output format by suffix: ``.pdf`` and ``.svg`` are vector (text kept as text: TrueType
  fonts in PDF, ``svg.fonttype: none``), ``.png`` is 300 dpi; any other suffix is an error;
* every axis label ends with its unit in parentheses (``"sum-rate (Mbps)"``, ``"CDF
  (fraction of layouts)"``), checked by :func:`check_label`;
* series differ by line style *and* marker (bars: by hatch), so they stay apart in
  greyscale, and take colours from the colour-blind-safe Okabe-Ito palette
  (:data:`OKABE_ITO`; matplotlib's default ``tab10`` is not colour-blind safe);
* no titles: seeds and sample counts go in the legend title (for the caption);
* log axes refuse zeros and negatives (``nonpositive="error"``, the default) or draw
  them at the smallest positive value and say so in the legend (``"clip"``);
* headless: figures are plain :class:`matplotlib.figure.Figure` objects, drawn and saved
  without pyplot, so no window opens and no backend is switched (the Agg renderer
  writes the PNG).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> fig = cdf_figure({"FP": rng.normal(150, 20, 500), "full power": rng.normal(140, 20, 500)},
...                  "per-layout sum-rate (Mbps)", legend_title="500 test layouts, seed 1")
>>> [line.get_marker() for line in fig.axes[0].get_lines()]
['o', 's']
>>> path = save_figure(fig, "sum_rate_cdf.pdf")   # doctest: +SKIP
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from simulators.validation import ConfigError, check_choice, check_positive
from wirelessrl.fileio import atomic_path

FIGURE_SUFFIXES = (".pdf", ".svg", ".png")
"""Output formats of :func:`save_figure`, chosen by the file's suffix."""
PNG_DPI = 300
"""Resolution of ``.png`` figures (vector formats ignore it)."""
FIGSIZE_IN = (3.5, 2.6)
"""Default size in inches: one column of a two-column IEEE paper."""

OKABE_ITO = {
    "blue": "#0072B2", "vermillion": "#D55E00", "bluish green": "#009E73",
    "orange": "#E69F00", "reddish purple": "#CC79A7", "sky blue": "#56B4E9",
    "black": "#000000", "yellow": "#F0E442",
}
"""Okabe & Ito (2008) colour-blind-safe palette, in the order series use it (yellow last:
it is faint on white)."""
PALETTE = tuple(OKABE_ITO.values())
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("", "//", "\\\\", "xx", "..", "oo", "++", "--")
MAX_SERIES = len(LINESTYLES) * len(MARKERS)
"""Most series per axes that keep distinct (line style, marker) pairs."""

STYLE: dict[str, Any] = {
    "font.size": 8, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "legend.title_fontsize": 7, "legend.framealpha": 0.85,
    "lines.linewidth": 1.3, "lines.markersize": 4.0, "errorbar.capsize": 2.5,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.5,
    "axes.spines.top": False, "axes.spines.right": False,
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
    "svg.hashsalt": "wirelessrl",  # the same figure gives the same SVG bytes
    "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
}
"""Matplotlib settings of every figure (applied while drawing and while saving)."""

NONPOSITIVE = ("error", "clip")

_UNIT = re.compile(r"(\([^()]+\)|\[[^\[\]]+\])\s*$")


# ------------------------------------------------------------------------ the house style


@contextmanager
def house_style() -> Iterator[None]:
    """Apply :data:`STYLE` inside the block (artists read it when they are created)."""
    import matplotlib as mpl

    with mpl.rc_context(STYLE):
        yield


def new_figure(figsize: tuple[float, float] | None = None, nrows: int = 1, ncols: int = 1):
    """A figure in the house style and its axes (one, or an ``nrows x ncols`` array),
    without pyplot: nothing is shown, no backend is chosen.

    Example
    -------
    >>> fig, ax = new_figure()
    >>> fig.get_size_inches().tolist()
    [3.5, 2.6]
    """
    from matplotlib.figure import Figure

    figsize = check_figsize(figsize)
    with house_style():
        fig = Figure(figsize=figsize or FIGSIZE_IN, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def series_style(i: int) -> dict[str, Any]:
    """Colour, line style and marker of the ``i``-th series of an axes.

    The (line style, marker) pairs of series 0 .. :data:`MAX_SERIES` - 1 are all
    different, so the series stay apart without colour.

    Example
    -------
    >>> series_style(0), series_style(9)["linestyle"]  # marker 1, the next line style
    ({'color': '#0072B2', 'linestyle': '-', 'marker': 'o'}, '-.')
    """
    if not 0 <= i < MAX_SERIES:
        raise ConfigError(f"series {i + 1} of one axes is too many; expected at most "
                          f"{MAX_SERIES} series (distinct line style and marker each)")
    return {"color": PALETTE[i % len(PALETTE)],
            "linestyle": LINESTYLES[(i + i // len(MARKERS)) % len(LINESTYLES)],
            "marker": MARKERS[i % len(MARKERS)]}


def bar_style(i: int) -> dict[str, Any]:
    """Face colour and hatch of the ``i``-th bar series (distinct hatches for greyscale)."""
    if not 0 <= i < len(HATCHES):
        raise ConfigError(f"bar series {i + 1} is too many; expected at most "
                          f"{len(HATCHES)} series (distinct hatch each)")
    return {"color": PALETTE[i % len(PALETTE)], "hatch": HATCHES[i], "edgecolor": "black",
            "linewidth": 0.5}


def check_label(name: str, label: Any) -> str:
    """``label`` when it ends with a unit in parentheses or brackets; else ConfigError.

    Unitless quantities say so: ``"CDF (fraction of layouts)"``, ``"alpha (unitless)"``.

    Example
    -------
    >>> check_label("xlabel", "sum-rate (Mbps)")
    'sum-rate (Mbps)'
    """
    if not isinstance(label, str) or not _UNIT.search(label):
        raise ConfigError(f"{name}={label!r} has no unit; expected a label ending in its unit "
                          "in parentheses, e.g. 'sum-rate (Mbps)' or 'CDF (fraction of "
                          "layouts)'")
    return label


def check_figure_path(path: str | Path, overwrite: bool = True) -> Path:
    """``path`` when its suffix is one of :data:`FIGURE_SUFFIXES` and its folder exists
    (and it does not, unless ``overwrite``); else ConfigError."""
    from wirelessrl.results import check_result_output

    return check_result_output(path, FIGURE_SUFFIXES, overwrite)


def save_figure(fig, path: str | Path, *, source: str | None = None, overwrite: bool = True,
                close: bool = True) -> Path:
    """Write ``fig`` atomically in the format of ``path``'s suffix (:data:`FIGURE_SUFFIXES`).

    PDF and SVG are vector with text kept as text; PNG is :data:`PNG_DPI` dpi. The file's
    metadata names wirelessrl and its version (``Creator`` / ``Software``) and ``source``
    (``Subject`` / ``Description``: what the figure was drawn from). ``close`` releases
    the figure afterwards. A legend placed with ``loc="best"`` that still covers data
    (:func:`legend_covers_data`) is moved right of its axes first, the figure widened for it.
    """
    from wirelessrl import __version__

    p = check_figure_path(path, overwrite)
    fmt = p.suffix.lower()[1:]
    creator = f"wirelessrl {__version__}"
    meta = {"pdf": {"Creator": creator, "Subject": source},
            "svg": {"Creator": creator, "Description": source},
            "png": {"Software": creator, "Description": source}}[fmt]
    meta = {k: v for k, v in meta.items() if v is not None}
    with house_style(), atomic_path(p, overwrite) as tmp:
        _move_legends_off_data(fig)
        fig.savefig(tmp, format=fmt, dpi=PNG_DPI, metadata=meta)
    if close and "matplotlib.pyplot" in sys.modules:  # a figure made through pyplot
        sys.modules["matplotlib.pyplot"].close(fig)
    return p


def _axes(ax, figsize: tuple[float, float] | None):
    if ax is not None:
        return ax.figure, ax
    return new_figure(figsize)


def check_figsize(figsize: Any) -> tuple[float, float] | None:
    """``(width, height)`` in inches, both > 0 and at most 50, or None; else ConfigError."""
    if figsize is None:
        return None
    if not isinstance(figsize, (tuple, list)) or len(figsize) != 2:
        raise ConfigError(f"figsize={figsize!r} is invalid; expected (width, height) in inches")
    w, h = (check_positive(name, v) for name, v in zip(("width", "height"), figsize,
                                                        strict=True))
    if max(w, h) > 50:
        raise ConfigError(f"figsize={figsize!r} is invalid; expected inches <= 50 each")
    return w, h


def _styled(draw: Callable) -> Callable:
    """Run a figure function inside :func:`house_style` (fonts are read when drawn)."""
    @functools.wraps(draw)
    def run(*args, **kwargs):
        with house_style():
            return draw(*args, **kwargs)

    return run


def _finite(name: str, values: ArrayLike) -> np.ndarray:
    try:
        v = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ConfigError(f"series {name!r} is invalid; expected numbers") from None
    bad = int(np.sum(~np.isfinite(v)))
    if bad:
        raise ConfigError(f"series {name!r} has {bad} non-finite values; expected finite "
                          "numbers")
    return v


def log_guard(axis: str, series: Mapping[str, np.ndarray], nonpositive: str = "error"
              ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Values for a logarithmic ``axis``: unchanged when all are > 0; otherwise a
    ConfigError (``nonpositive="error"``) or every value <= 0 raised to the smallest
    positive value of all series (``"clip"``), with a legend note per clipped series.

    Output
    ------
    (series, notes) : the values to draw, and {name: " (k values <= 0 drawn at v)"}

    Example
    -------
    >>> _, notes = log_guard("x", {"a": np.array([0.0, 2.0, 4.0])}, "clip")
    >>> notes
    {'a': ' (1 value ≤ 0 drawn at 2)'}
    """
    check_choice("nonpositive", nonpositive, NONPOSITIVE)
    bad = {k: int(np.sum(v <= 0)) for k, v in series.items()}
    if not any(bad.values()):
        return dict(series), {}
    name = next(k for k, n in bad.items() if n)
    if nonpositive == "error":
        raise ConfigError(
            f"the {axis} axis is logarithmic but series {name!r} has {bad[name]} values <= 0 "
            f"(smallest {float(series[name].min()):.3g}); expected positive values, or "
            "nonpositive='clip' (CLI: --clip) to draw them at the smallest positive value")
    positive = [v[v > 0] for v in series.values() if np.any(v > 0)]
    if not positive:
        raise ConfigError(f"the {axis} axis is logarithmic but no value is > 0; expected "
                          "some positive values (or a linear axis)")
    floor = float(min(p.min() for p in positive))
    out = {k: np.where(v > 0, v, floor) for k, v in series.items()}
    notes = {k: f" ({n} value{'s' if n > 1 else ''} ≤ 0 drawn at {floor:.3g})"
             for k, n in bad.items() if n}
    return out, notes


LEGEND_INSIDE_MAX = 6
"""Up to this many series the legend goes inside the axes (``loc="best"``); more would
cover the data, so the legend is drawn outside, right of the axes, and the figure is
widened for it."""


def _legend(ax, title: str | None, n_series: int) -> None:
    if n_series > LEGEND_INSIDE_MAX:
        _place_outside(ax.legend(title=title))
    elif n_series > 1 or title:
        ax.legend(title=title, loc="best")


def _place_outside(legend) -> None:
    """The legend right of its axes, the figure widened for it (not a narrower axes)."""
    legend.set_loc("upper left")
    legend.set_bbox_to_anchor((1.02, 1.0))
    legend.borderaxespad = 0.0
    fig = legend.axes.figure
    fig.set_figwidth(fig.get_figwidth() * 1.7)


def _display_points(artist, step_px: float = 2.0) -> np.ndarray:
    """``[n, 2]`` display coordinates of what ``artist`` draws: along a line, the segments
    of a line collection (error bars) or the outline of a filled band, sampled every
    ~``step_px`` pixels (a line crossing a box covers it between its markers); the
    centres of a scatter's markers."""
    from matplotlib.collections import LineCollection, PathCollection

    if isinstance(artist, PathCollection):  # scatter: offsets are the data points
        return _finite_rows(artist.get_offset_transform().transform(artist.get_offsets()))
    if hasattr(artist, "get_xydata"):
        parts = [artist.get_xydata()]
    elif isinstance(artist, LineCollection):
        parts = list(artist.get_segments())
    else:  # a filled band (PolyCollection) and other collections: their paths' outlines
        parts = [path.vertices for path in artist.get_paths()]
    out = []
    for xy in parts:
        d = _finite_rows(artist.get_transform().transform(_finite_rows(xy)))
        if not len(d):
            continue
        out.append(d[:1])
        for a, b in zip(d[:-1], d[1:], strict=True):
            n = int(min(np.hypot(*(b - a)) / step_px, 2000)) + 1
            out.append(a + np.linspace(0.0, 1.0, n + 1)[1:, None] * (b - a))
    return np.concatenate(out) if out else np.zeros((0, 2))


def _finite_rows(xy: ArrayLike) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return xy[np.all(np.isfinite(xy), axis=1)]


def legend_covers_data(ax) -> bool:
    """Whether ``ax``'s legend box covers a drawn point: a line, an error bar, a marker, a
    bar (after the layout of the figure, as it will be saved).

    Example
    -------
    >>> fig, ax = new_figure()
    >>> _ = ax.plot([0, 1], [0, 1], label="a"); _ = ax.plot([0, 1], [1, 0], label="b")
    >>> _ = ax.legend(loc="center")
    >>> legend_covers_data(ax)
    True
    """
    legend = ax.get_legend()
    if legend is None:
        return False
    ax.figure.draw_without_rendering()
    box = legend.get_window_extent()
    for artist in [*ax.lines, *ax.collections]:
        p = _display_points(artist)
        if np.any((p[:, 0] >= box.x0) & (p[:, 0] <= box.x1) & (p[:, 1] >= box.y0)
                  & (p[:, 1] <= box.y1)):
            return True
    return any(patch.get_window_extent().overlaps(box) for patch in ax.patches)


def _move_legends_off_data(fig) -> None:
    """Legends placed by ``loc="best"`` that still cover data go right of their axes."""
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None or getattr(legend, "_loc", None) != 0:  # 0: loc="best"
            continue
        if legend_covers_data(ax):
            _place_outside(legend)


# ------------------------------------------------------------------------ the figures


@_styled
def cdf_figure(
    values: Mapping[str, ArrayLike],
    xlabel: str,
    *,
    ylabel: str = "CDF (fraction of layouts)",
    log_x: bool = False,
    nonpositive: str = "error",
    legend_title: str | None = None,
    ax=None,
    figsize: tuple[float, float] | None = None,
):
    """Empirical CDF of each series' per-sample values (a step per sample).

    Input
    -----
    values : {series name: [n] values}, finite; xlabel, ylabel : labels with units
    log_x : bool, logarithmic x axis (guarded by ``nonpositive``, see :func:`log_guard`)
    legend_title : e.g. ``"2,000 test layouts, seed 123"``; ax : draw here (else new figure)

    Output
    ------
    matplotlib Figure; one line per series, markers at 8 quantiles

    Example
    -------
    >>> fig = cdf_figure({"a": [1.0, 2.0, 3.0]}, "min-rate (Mbps)")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('min-rate (Mbps)', 'CDF (fraction of layouts)')
    """
    check_label("xlabel", xlabel)
    check_label("ylabel", ylabel)
    series = {k: np.sort(_finite(k, v)) for k, v in values.items()}
    notes: dict[str, str] = {}
    if log_x:
        series, notes = log_guard("x", series, nonpositive)
    fig, ax = _axes(ax, figsize)
    for i, (name, v) in enumerate(series.items()):
        n = v.size
        every = max(1, n // 8)
        ax.plot(v, np.arange(1, n + 1) / n, drawstyle="steps-post",
                markevery=(min(n - 1, (i * every) // max(1, len(series))), every),
                label=name + notes.get(name, ""), **series_style(i))
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.0)
    _legend(ax, legend_title, len(series))
    return fig


@_styled
def bar_figure(
    values: Mapping[str, float] | Mapping[str, Mapping[str, float]],
    ylabel: str,
    *,
    errors: Mapping[str, float] | Mapping[str, Mapping[str, float]] | None = None,
    log_y: bool = False,
    nonpositive: str = "error",
    legend_title: str | None = None,
    ax=None,
    figsize: tuple[float, float] | None = None,
):
    """Bars per category (method), grouped by series, with symmetric error bars.

    Input
    -----
    values : {category: value} (one series) or {series: {category: value}} (grouped bars,
        e.g. ``{"method paper": {...}, "wirelessrl": {...}}``); a missing category draws
        no bar
    ylabel : label with unit; errors : the same structure, half-widths of the error bars
        (95 % CI or std, say which in ``legend_title``)
    log_y : logarithmic y axis (guarded by ``nonpositive``)

    Output
    ------
    matplotlib Figure; series differ by colour and hatch

    Example
    -------
    >>> fig = bar_figure({"ours": {"FP": 150.0, "full": 140.0}, "paper": {"FP": 157.4}},
    ...                  "sum-rate (Mbps)", errors={"ours": {"FP": 2.0, "full": 2.5}})
    >>> [str(p.get_hatch()) for p in fig.axes[0].patches][::2]   # ours FP, paper FP
    ['', '//']
    """
    check_label("ylabel", ylabel)
    if values and all(not isinstance(v, Mapping) for v in values.values()):
        values = {"": values}
        errors = None if errors is None else {"": errors}
    if not all(isinstance(v, Mapping) for v in values.values()):
        raise ConfigError("values is invalid; expected {category: number} or {series: "
                          "{category: number}}")
    categories = list(dict.fromkeys(c for series in values.values() for c in series))
    table = {s: _bar_values(s, v, categories) for s, v in values.items()}
    for s, v in table.items():
        if np.any(np.isinf(v)):
            raise ConfigError(f"series {s!r} has infinite values; expected finite numbers")
    notes: dict[str, str] = {}
    if log_y:
        present = {s: v[np.isfinite(v)] for s, v in table.items()}
        _, notes = log_guard("y", present, nonpositive)
        floor = min((float(v[v > 0].min()) for v in present.values() if np.any(v > 0)),
                    default=1.0)
        table = {s: np.where(np.isfinite(v) & (v <= 0), floor, v) for s, v in table.items()}
    fig, ax = _axes(ax, figsize or (max(FIGSIZE_IN[0], 0.45 * len(categories) *
                                        max(1, len(table)) + 1.0), FIGSIZE_IN[1]))
    x = np.arange(len(categories))
    width = 0.8 / max(1, len(table))
    for i, (s, v) in enumerate(table.items()):
        err = None
        if errors is not None and s in errors:
            err = np.array([float(errors[s].get(c, 0.0)) for c in categories])
            err = np.where(np.isfinite(err), err, 0.0)
        label = s + notes.get(s, "") if s else (legend_title or "") + notes.get(s, "")
        ax.bar(x + (i - (len(table) - 1) / 2) * width, v, width, yerr=err,
               label=label or None, error_kw={"elinewidth": 0.8}, **bar_style(i))
    ax.set_xticks(x, categories, rotation=20 if len(categories) > 3 else 0,
                  ha="right" if len(categories) > 3 else "center")
    ax.grid(axis="x", visible=False)
    if log_y:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if "" in table:  # one unnamed series: its legend entry is the title (seeds, CI)
        _legend(ax, None, 2 if legend_title or notes else 0)
    else:
        _legend(ax, legend_title, len(table))
    return fig


def bars_vs_paper_figure(
    ours: Mapping[str, float], paper: Mapping[str, float], ylabel: str, *,
    errors: Mapping[str, float] | None = None, ours_label: str = "wirelessrl",
    legend_title: str | None = None, figsize: tuple[float, float] | None = None, ax=None,
):
    """Grouped bars: the method paper's figure beside ours, per method (the paper's methods
    first); ``errors`` are ours (say which in ``ours_label``, e.g. ``"± std over seeds"``).

    Example
    -------
    >>> fig = bars_vs_paper_figure({"FP": 158.0}, {"FP": 157.45}, "mean sum-rate (Mbps)")
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['method paper', 'wirelessrl']
    """
    return bar_figure({"method paper": paper, ours_label: ours}, ylabel,
                      errors=None if errors is None else {ours_label: errors},
                      legend_title=legend_title, figsize=figsize, ax=ax)


REPORT_FIGSIZE_IN = (5.0, 3.4)
"""Figure size of the reports' figures (room for a legend of ten series)."""

def _bar_values(series: str, values: Mapping[str, Any], categories: list[str]) -> np.ndarray:
    out = []
    for c in categories:
        v = values.get(c, np.nan)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ConfigError(f"value {v!r} of {c!r}{f' in {series!r}' if series else ''} "
                              "is invalid; expected a number")
        out.append(float(v))
    return np.array(out)


Curve = tuple[ArrayLike, ArrayLike] | tuple[ArrayLike, ArrayLike, ArrayLike]
"""``(x, y)`` or ``(x, y, yerr)`` with ``yerr`` the half-width of the error bar."""


@_styled
def curve_figure(
    series: Mapping[str, Curve],
    xlabel: str,
    ylabel: str,
    *,
    log_x: bool | str = False,
    log_y: bool = False,
    nonpositive: str = "error",
    legend_title: str | None = None,
    ax=None,
    figsize: tuple[float, float] | None = None,
):
    """Lines of y against x (learning curves, sweeps), with error bars when given.

    Input
    -----
    series : {name: (x, y) or (x, y, yerr)}, finite; curves with more than 30 points draw
        ``yerr`` as a shaded band, shorter ones as error bars
    xlabel, ylabel : labels with units; log_x, log_y : logarithmic axes (guarded by
        ``nonpositive``); ``log_x="symlog"``: logarithmic above the smallest positive
        ``|x|``, linear below it, for a swept value that includes 0 (alpha = 0)
    legend_title : seeds and counts, e.g. ``"mean ± std, seeds 1-3"``

    Output
    ------
    matplotlib Figure; markers on at most ~10 points per line

    Example
    -------
    >>> fig = curve_figure({"regular": ([100, 1000], [52.2, 67.5], [0.3, 0.4])},
    ...                    "target training set (layouts)", "min-rate (% of optimum)",
    ...                    log_x=True)
    >>> fig.axes[0].get_xscale()
    'log'
    """
    check_label("xlabel", xlabel)
    check_label("ylabel", ylabel)
    curves = {}
    for name, c in series.items():
        if not isinstance(c, (tuple, list)) or len(c) not in (2, 3):
            raise ConfigError(f"series {name!r} is invalid; expected (x, y) or (x, y, yerr)")
        arrays = [_finite(name, a) for a in c]
        if len({a.size for a in arrays}) != 1:
            raise ConfigError(f"series {name!r} has x, y (and yerr) of lengths "
                              f"{[a.size for a in arrays]}; expected equal lengths")
        curves[name] = arrays
    if log_x not in (True, False, "symlog"):
        raise ConfigError(f"log_x={log_x!r} is invalid; expected True, False or 'symlog'")
    notes: dict[str, str] = {}
    for axis, on in (("x", log_x is True), ("y", log_y)):
        if on:
            k = 0 if axis == "x" else 1
            guarded, more = log_guard(axis, {n: c[k] for n, c in curves.items()}, nonpositive)
            for n in curves:
                curves[n][k] = guarded[n]
            notes.update({n: notes.get(n, "") + t for n, t in more.items()})
    fig, ax = _axes(ax, figsize)
    for i, (name, c) in enumerate(curves.items()):
        x, y = c[0], c[1]
        style = series_style(i)
        every = max(1, x.size // 10)
        label = name + notes.get(name, "")
        if len(c) == 3 and x.size <= 30:
            ax.errorbar(x, y, yerr=c[2], label=label, markevery=every, **style)
        else:
            ax.plot(x, y, label=label, markevery=every, **style)
            if len(c) == 3:
                ax.fill_between(x, y - c[2], y + c[2], color=style["color"], alpha=0.2,
                                linewidth=0)
    if log_x == "symlog":
        xs = np.abs(np.concatenate([c[0] for c in curves.values()]))
        ax.set_xscale("symlog", linthresh=float(xs[xs > 0].min()) if np.any(xs > 0) else 1.0)
    _finish_axes(ax, xlabel, ylabel, bool(log_x) and log_x != "symlog", log_y, legend_title,
                 len(curves))
    return fig


def _finish_axes(ax, xlabel: str, ylabel: str, log_x: bool, log_y: bool,
                 legend_title: str | None, n_series: int) -> None:
    """Log scales, axis labels and the legend shared by the line and scatter figures."""
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax, legend_title, n_series)


@_styled
def scatter_figure(
    series: Mapping[str, tuple[ArrayLike, ArrayLike]],
    xlabel: str,
    ylabel: str,
    *,
    log_x: bool = False,
    log_y: bool = False,
    nonpositive: str = "error",
    legend_title: str | None = None,
    ax=None,
    figsize: tuple[float, float] | None = None,
):
    """Points of y against x, one marker (and colour) per series, no lines.

    Input
    -----
    series : {name: (x, y)}, finite, equal lengths; xlabel, ylabel : labels with units
    log_x, log_y : logarithmic axes (guarded by ``nonpositive``, see :func:`log_guard`)

    Output
    ------
    matplotlib Figure

    Example
    -------
    >>> fig = scatter_figure({"entries": ([0.1, 0.2, 0.3], [0.5, 0.4, 0.1])},
    ...                      "reconstruction MSE (standardized units^2)",
    ...                      "|correlation| with the target (unitless)")
    >>> fig.axes[0].collections[0].get_offsets().shape
    (3, 2)
    """
    check_label("xlabel", xlabel)
    check_label("ylabel", ylabel)
    points = {}
    for name, c in series.items():
        if not isinstance(c, (tuple, list)) or len(c) != 2:
            raise ConfigError(f"series {name!r} is invalid; expected (x, y)")
        x, y = _finite(name, c[0]), _finite(name, c[1])
        if x.size != y.size:
            raise ConfigError(f"series {name!r} has x, y of lengths {[x.size, y.size]}; "
                              "expected equal lengths")
        points[name] = [x, y]
    notes: dict[str, str] = {}
    for axis, on in (("x", log_x), ("y", log_y)):
        if on:
            k = 0 if axis == "x" else 1
            guarded, more = log_guard(axis, {n: c[k] for n, c in points.items()}, nonpositive)
            for n in points:
                points[n][k] = guarded[n]
            notes.update({n: notes.get(n, "") + t for n, t in more.items()})
    fig, ax = _axes(ax, figsize)
    for i, (name, (x, y)) in enumerate(points.items()):
        style = series_style(i)
        ax.scatter(x, y, s=12, marker=style["marker"], facecolors="none",
                   edgecolors=style["color"], linewidths=0.8, label=name + notes.get(name, ""))
    _finish_axes(ax, xlabel, ylabel, log_x, log_y, legend_title, len(points))
    return fig


@_styled
def image_figure(
    images: Mapping[str, ArrayLike],
    colorbar_labels: Mapping[str, str],
    *,
    xlabel: str = "column (index)",
    ylabel: str = "row (index)",
    figsize: tuple[float, float] | None = None,
):
    """Panels side by side, each a 2-D array drawn as an image with its own colour bar
    (perceptually uniform ``viridis``, readable in greyscale).

    Input
    -----
    images : {panel name: [rows, cols]}, finite; the name is written above the panel
        (a caption inside the figure, not a title of it)
    colorbar_labels : {panel name: label with unit}, e.g. ``"MSE (standardized units^2)"``
    xlabel, ylabel : labels with units of the image axes

    Output
    ------
    matplotlib Figure with one axes per panel (and one per colour bar)

    Example
    -------
    >>> fig = image_figure({"error": np.eye(3)}, {"error": "MSE (standardized units^2)"})
    >>> fig.axes[0].get_images()[0].get_array().shape
    (3, 3)
    """
    check_label("xlabel", xlabel)
    check_label("ylabel", ylabel)
    if not images:
        raise ConfigError("images is empty; expected {panel name: 2-D array}")
    arrays = {}
    for name, a in images.items():
        m = np.asarray(a, dtype=np.float64)
        if m.ndim != 2:
            raise ConfigError(f"image {name!r} has shape {m.shape}; expected [rows, cols]")
        _finite(name, m)
        if name not in colorbar_labels:
            raise ConfigError(f"image {name!r} has no colour-bar label; expected one in "
                              "colorbar_labels")
        arrays[name] = m
    n = len(arrays)
    fig, axes = new_figure(figsize or (2.6 * n + 0.4, 2.6), ncols=n)
    axes = np.atleast_1d(axes)
    for ax, (name, m) in zip(axes, arrays.items(), strict=True):
        shown = ax.imshow(m, cmap="viridis", interpolation="nearest", aspect="equal")
        fig.colorbar(shown, ax=ax, shrink=0.85).set_label(
            check_label("colorbar_labels", colorbar_labels[name]))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(False)
        ax.text(0.5, 1.02, name, transform=ax.transAxes, ha="center", va="bottom")
    return fig


# ------------------------------------------------------------------------ from files

METRIC_LABELS = {
    "valid_min_rate_bps_per_hz": "validation min-rate (bit/s/Hz)",
    "valid_sum_rate_bps_per_hz": "validation sum-rate (bit/s/Hz)",
    "valid_error_m": "validation mean error (m)",
    "valid_accuracy": "validation accuracy (fraction)",
    "valid_bf_gain": "validation beamforming gain (fraction of MRT)",
    "valid_loss": "validation loss (a.u.)",
    "accuracy": "accuracy (fraction)",
    "train_loss": "training loss (a.u.)",
    "lr": "learning rate (unitless)",
    "seconds": "epoch time (s)",
}
"""Axis labels of the ``metrics.csv`` columns the engine writes."""
_SUFFIX_UNITS = {"_bps_per_hz": "bit/s/Hz", "_nats": "nats/s/Hz", "_mbps": "Mbps", "_m": "m",
                 "_pct": "%", "_s": "s", "_accuracy": "fraction"}


def metric_label(column: str) -> str:
    """The axis label of a ``metrics.csv`` column; ConfigError when its unit is unknown.

    Example
    -------
    >>> metric_label("valid_min_rate_bps_per_hz"), metric_label("valid_mean_error_m")
    ('validation min-rate (bit/s/Hz)', 'validation mean error (m)')
    """
    if column in METRIC_LABELS:
        return METRIC_LABELS[column]
    for suffix, unit in _SUFFIX_UNITS.items():
        if column.endswith(suffix):
            name = column[:-len(suffix)] if suffix != "_accuracy" else column
            name = name.replace("valid_", "validation ", 1).replace("_", " ")
            return f"{name} ({unit})"
    raise ConfigError(f"column {column!r} has no known unit; expected a label with its unit "
                      "(CLI: --ylabel 'name (unit)')")


def read_metrics_csv(path: str | Path, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and values of ``column`` in a ``metrics.csv`` (epochs without validation,
    an empty cell under ``validate_every > 1``, are skipped).

    Files written before the rates were reported in bit/s/Hz hold ``*_nats`` columns; asked
    for ``*_bps_per_hz``, such a file gives its nats column divided by ``ln 2``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"file {str(p)!r} does not exist; expected a metrics.csv")
    with open(p, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        stored, scale = column, 1.0
        legacy = column.removesuffix("_bps_per_hz") + "_nats"
        if column not in columns and column.endswith("_bps_per_hz") and legacy in columns:
            stored, scale = legacy, 1.0 / math.log(2.0)
        if "epoch" not in columns or stored not in columns:
            raise ConfigError(f"file {str(p)!r} has no column {column!r}; expected one of "
                              f"{', '.join(c for c in columns if c != 'epoch')}")
        rows = [r for r in reader if r.get(stored) not in ("", None)]
    return (np.array([int(r["epoch"]) for r in rows], dtype=np.float64),
            np.array([float(r[stored]) * scale for r in rows]))


def learning_curve_figure(
    metrics_csvs: Mapping[str, str | Path], column: str, *, ylabel: str | None = None,
    log_x: bool = True, legend_title: str | None = None, ax=None,
    figsize: tuple[float, float] | None = None,
):
    """One line per run: ``column`` of each run's ``metrics.csv`` against the epoch (log
    x axis by default). Runs whose file lacks the column are left out.

    Example
    -------
    >>> fig = learning_curve_figure({"regular": "runs/x/metrics.csv"},
    ...                             "valid_min_rate_bps_per_hz")                # doctest: +SKIP
    """
    series, first_error = {}, None
    for name, path in metrics_csvs.items():
        try:
            series[name] = read_metrics_csv(path, column)
        except ConfigError as err:
            if not Path(path).is_file():
                raise
            first_error = first_error or err
    if not series:
        raise first_error or ConfigError("metrics_csvs: none given; expected metrics.csv files")
    return curve_figure(series, "epoch (count)", ylabel or metric_label(column), log_x=log_x,
                        legend_title=legend_title, ax=ax, figsize=figsize)


def pooled_cdf_figure(
    per_seed: Sequence[Mapping[str, ArrayLike]], seeds: Sequence[int], metric: str,
    sample: str, unit: str, *, methods: Sequence[str] | None = None, log_x: bool = False,
    nonpositive: str = "error", ax=None, figsize: tuple[float, float] | None = None,
):
    """CDF of per-sample rates pooled over seeds: each line holds every seed's test samples.

    Input
    -----
    per_seed : one ``{label: [n_s] values}`` per seed (e.g. per-layout min-rates, Mbps)
    seeds : the seeds, in the order of ``per_seed`` (named in the legend)
    metric : ``sum`` or ``min`` (axis label); sample, unit : e.g. ``"layout"``, ``"Mbps"``
    methods : labels to draw, in this order (default: those of every seed, first seed's order);
    a label missing on some seed is an error naming it and the seed

    Output
    ------
    matplotlib Figure (:func:`cdf_figure`), legend ``"<n> test <sample>s, seeds 1, 2"``

    Example
    -------
    >>> fig = pooled_cdf_figure([{"fp": [1.0, 2.0]}, {"fp": [3.0]}], [1, 2], "sum", "layout",
    ...                         "Mbps")
    >>> ax = fig.axes[0]
    >>> ax.get_lines()[0].get_xdata().tolist(), ax.get_legend().get_title().get_text()
    ([1.0, 2.0, 3.0], '3 test layouts, seeds 1, 2')
    """
    from wirelessrl.results import seeds_text

    check_choice("metric", metric, ("sum", "min"))
    if not per_seed or len(per_seed) != len(seeds):
        raise ConfigError(f"per_seed has {len(per_seed)} seeds' series and seeds {list(seeds)}; "
                          "expected one series mapping per seed (at least one)")
    common = [k for k in per_seed[0] if all(k in s for s in per_seed)]
    chosen = list(methods) if methods else common
    for label in chosen:
        for seed, series in zip(seeds, per_seed, strict=True):
            if label not in series:
                raise ConfigError(f"method {label!r} is not among seed {seed}'s {metric}-rate "
                                  f"CDF lines; expected one of {sorted(series)}")
    if not chosen:
        raise ConfigError("the seeds share no method; expected runs of the same strategies")
    pooled = {k: np.concatenate([np.asarray(s[k], dtype=float).ravel() for s in per_seed])
              for k in chosen}
    n = next(iter(pooled.values())).size
    return cdf_figure(pooled, f"per-{sample} {metric}-rate ({unit})",
                      ylabel=f"CDF (fraction of {sample}s)", log_x=log_x,
                      nonpositive=nonpositive,
                      legend_title=f"{n:,} test {sample}s, {seeds_text(list(seeds))}",
                      ax=ax, figsize=figsize)


def cdf_from_solutions(
    data_path: str | Path, solution_paths: Sequence[str | Path], metric: str = "sum", *,
    log_x: bool = False, nonpositive: str = "error", ax=None,
    figsize: tuple[float, float] | None = None,
):
    """CDF of the per-layout sum-rate or min-rate (``metric``: ``sum`` / ``min``) of
    solution files on their data file, rates from :func:`wirelessrl.solutions.evaluate_solutions`
    (Mbps for D2D, bit/s/Hz for mu-miso). The legend title names the layouts and the seed.

    Example
    -------
    >>> fig = cdf_from_solutions("d2d.h5", ["fp.h5", "full.h5"], "sum")   # doctest: +SKIP
    """
    from wirelessrl.solutions import evaluate_solutions

    check_choice("metric", metric, ("sum", "min"))
    ev = evaluate_solutions(data_path, list(solution_paths))
    per = ev.sums if metric == "sum" else ev.mins
    n = next(iter(per.values())).size
    seed = ev.meta.get("seed")
    return cdf_figure(per, f"per-{ev.sample} {metric}-rate ({ev.unit})",
                      ylabel=f"CDF (fraction of {ev.sample}s)", log_x=log_x,
                      nonpositive=nonpositive,
                      legend_title=f"{n:,} {ev.sample}s of {Path(data_path).name}, seed {seed}",
                      ax=ax, figsize=figsize)


def read_records(path: str | Path) -> list[dict]:
    """Result rows from a CSV (``results.csv`` of a report, ``evaluate --csv``) or JSON
    (``evaluate --json``: a list; ``evaluate -o x.json`` and a report's ``results.json``:
    the list under ``records``). Numbers in CSV cells become floats."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"file {str(p)!r} does not exist; expected a results CSV or JSON")
    if p.suffix.lower() == ".csv":
        with open(p, newline="") as f:
            rows = [dict(r) for r in csv.DictReader(f)]
        return [{k: _number(v) for k, v in r.items()} for r in rows]
    if p.suffix.lower() != ".json":
        raise ConfigError(f"file {str(p)!r} has the suffix {p.suffix or '(none)'!r}; "
                          "expected .csv or .json results")
    try:
        doc = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError):
        raise ConfigError(f"file {str(p)!r} is not JSON") from None
    rows = doc.get("records") if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"file {str(p)!r} holds no result rows; expected a list of rows or "
                          "a document with 'records' (evaluate --json, results.json)")
    if isinstance(doc, dict) and isinstance(doc.get("provenance"), dict) and \
            doc["provenance"].get("seed") is not None:
        rows = [{"seed": doc["provenance"]["seed"], **r} for r in rows]
    return rows


def _number(v: Any) -> Any:
    if v in ("", None):
        return None
    try:
        return float(v)
    except ValueError:
        return v


ERRORS = ("ci95", "std", "none")
_CI_COLUMNS = {"mean": ("ci95_low", "ci95_high"),
               "pct_of_reference_mean_ratio": ("pct_ci95_low", "pct_ci95_high")}


def bars_from_results(
    paths: Sequence[str | Path], *, field: str = "mean", metric: str | None = None,
    table: str | None = None, methods: Sequence[str] | None = None, errors: str = "ci95",
    ylabel: str | None = None, log_y: bool = False, nonpositive: str = "error", ax=None,
    figsize: tuple[float, float] | None = None,
):
    """Bars of ``field`` per method from result files (:func:`read_records`).

    Rows are filtered by ``table`` and ``metric`` (needed when the files hold several) and
    ``methods``. Several values of one method (several seeds: a ``seed`` column, or one
    file per seed) give their mean, with error bars of the 95 % Student t interval over
    seeds (``errors="ci95"``) or the std (``"std"``); one value per method takes the 95 %
    interval over layouts that ``evaluate`` stored beside it, when there is one. The
    legend title says which.

    Example
    -------
    >>> fig = bars_from_results(["seed1.json", "seed2.json"], metric="min-rate",
    ...                         field="pct_of_reference_mean_ratio")   # doctest: +SKIP
    """
    from wirelessrl.evaluate import t_interval

    check_choice("errors", errors, ERRORS)
    rows: list[dict] = []
    for i, path in enumerate(paths):
        rows += [{"_file": i, **r} for r in read_records(path)]
    for key, want in (("table", table), ("metric", metric)):
        have = list(dict.fromkeys(r.get(key) for r in rows if r.get(key) is not None))
        if want is not None:
            if want not in have:
                raise ConfigError(f"{key}={want!r} is not in the results; expected one of "
                                  f"{', '.join(map(str, have)) or '(none)'}")
            rows = [r for r in rows if r.get(key) == want]
        elif len(have) > 1:
            raise ConfigError(f"the results hold several {key}s; expected --{key} one of "
                              f"{', '.join(map(str, have))}")
    if methods:
        rows = [r for r in rows if r.get("method") in set(methods)]
    rows = [r for r in rows if isinstance(r.get(field), (int, float))]
    if not rows:
        raise ConfigError(f"no result row has a number in {field!r}; expected a column such "
                          "as mean, pct_of_reference_mean_ratio, accuracy, mean_m")
    by_method: dict[str, list[dict]] = {}
    for r in rows:
        by_method.setdefault(str(r.get("method")), []).append(r)
    if methods:
        by_method = {m: by_method[m] for m in methods if m in by_method}
    values, errs, notes = {}, {}, set()
    seeds = sorted({r.get("seed", r["_file"]) for r in rows}, key=str)
    for m, rs in by_method.items():
        v = np.array([float(r[field]) for r in rs])
        values[m] = float(v.mean())
        if errors == "none":
            continue
        if v.size > 1:
            lo, hi = t_interval(v) if errors == "ci95" else (v.mean() - v.std(ddof=1),
                                                              v.mean() + v.std(ddof=1))
            errs[m] = (hi - lo) / 2
            known = [r.get("seed") for r in rs if r.get("seed") is not None]
            over = (f"seeds {', '.join(_seed_text(x) for x in known)}"
                    if len(known) == v.size else f"{v.size} files")
            notes.add(f"mean {'and 95 % CI (t)' if errors == 'ci95' else '± std'} over {over}")
        elif errors == "ci95" and field in _CI_COLUMNS and all(
                isinstance(rs[0].get(c), float) for c in _CI_COLUMNS[field]):
            lo, hi = (rs[0][c] for c in _CI_COLUMNS[field])
            errs[m] = (hi - lo) / 2
            n = f"{int(rs[0]['n']):,} " if rs[0].get("n") else ""
            notes.add(f"mean and 95 % CI (t) over {n}layouts")
    label = ylabel or _field_label(field, rows)
    title = "; ".join(sorted(notes)) or None
    if len(seeds) == 1 and rows[0].get("seed") is not None:
        title = ", ".join(filter(None, [title, f"seed {_seed_text(seeds[0])}"]))
    return bar_figure(values, label, errors=errs or None, log_y=log_y,
                      nonpositive=nonpositive, legend_title=title, ax=ax, figsize=figsize)


def _seed_text(seed: Any) -> str:
    return str(int(seed)) if isinstance(seed, float) and seed.is_integer() else str(seed)


def _field_label(field: str, rows: list[dict]) -> str:
    metric = rows[0].get("metric")
    unit = rows[0].get("unit")
    if field == "mean" and metric and unit:
        return f"mean {metric} ({unit})"
    if field.startswith("pct_of_reference") and rows[0].get("reference"):
        return f"{metric or ''} (% of {rows[0]['reference']})".strip()
    return metric_label(field)


def sweep_series(summary_csv: str | Path, errors: str = "ci95") -> tuple[dict, list[int]]:
    """Curves of a sweep's ``summary.csv`` (columns ``strategy, value, mean, std, n_seeds``,
    std over seeds with ddof 1): {strategy: (values, means, half-widths)}, and the seed
    counts. Half-widths: 95 % Student t interval over seeds, or the std."""
    from wirelessrl.evaluate import t_quantile

    check_choice("errors", errors, ERRORS)
    rows = read_records(summary_csv)
    need = {"strategy", "value", "mean", "std", "n_seeds"}
    if not rows or need - set(rows[0]):
        raise ConfigError(f"file {str(summary_csv)!r} is not a sweep summary; expected the "
                          f"columns {', '.join(sorted(need))}")
    series: dict[str, list[list[float]]] = {}
    counts = set()
    for r in rows:
        if not isinstance(r["mean"], float):
            continue
        n = int(r["n_seeds"])
        counts.add(n)
        half = {"none": 0.0, "std": r["std"]}.get(
            errors, t_quantile(0.975, n - 1) * r["std"] / math.sqrt(n) if n > 1 else 0.0)
        s = series.setdefault(str(r["strategy"]), [[], [], []])
        for k, v in enumerate((r["value"], r["mean"], half)):
            s[k].append(float(v))
    return {k: tuple(v) for k, v in series.items()}, sorted(counts)


def _sweep_scale(log_x: bool | None, series: Mapping[str, Curve]) -> bool | str:
    """A log axis for swept values, ``"symlog"`` when one of them is <= 0 (alpha = 0 is a
    real point of the sweep, not a value to clip)."""
    if not log_x:
        return False
    return "symlog" if any(np.min(c[0]) <= 0 for c in series.values()) else True


def curves_from_files(
    paths: Sequence[str | Path], *, column: str | None = None, xlabel: str | None = None,
    ylabel: str | None = None, labels: Sequence[str] | None = None, errors: str = "ci95",
    log_x: bool | None = None, log_y: bool = False, nonpositive: str = "error", ax=None,
    figsize: tuple[float, float] | None = None, legend_title: str | None = None,
):
    """Learning curves or sweep curves from files.

    Input
    -----
    paths : training run folders (``metrics.csv``, and ``fit.json`` whose monitor is the
        default ``column`` and whose best epoch goes in the legend) or ``metrics.csv``
        files; or sweep results folders / their ``summary.csv`` (one line per strategy
        against the swept value, error bars from :func:`sweep_series`; needs ``xlabel``
        and ``ylabel``, which a sweep's files do not carry)
    column : the ``metrics.csv`` column; labels : legend names (default: folder names)
    legend_title : replaces the default (sweeps: what the error bars are, over how many
        seeds)

    Example
    -------
    >>> fig = curves_from_files(["runs/d2d/seed-1/target/regular"])   # doctest: +SKIP
    """
    files = [Path(p) for p in paths]
    if not files:
        raise ConfigError("files: none given; expected run folders, metrics.csv or sweep "
                          "summary.csv files")
    kinds = []
    for p in files:
        if p.is_dir():
            kinds.append("sweep" if (p / "summary.csv").is_file() else "run")
        elif p.is_file():
            kinds.append("sweep" if p.name == "summary.csv" else "run")
        else:
            raise ConfigError(f"path {str(p)!r} does not exist; expected a run folder, a "
                              "metrics.csv or a sweep summary.csv")
    if len(set(kinds)) > 1:
        raise ConfigError("files mix training runs and sweep results; expected one kind")
    if labels is not None and len(labels) != len(files):
        raise ConfigError(f"labels has {len(labels)} names for {len(files)} files; expected "
                          "one per file")
    if kinds[0] == "sweep":
        if len(files) > 1:
            raise ConfigError("sweep results: one folder at a time; expected one summary.csv")
        summary = files[0] / "summary.csv" if files[0].is_dir() else files[0]
        if xlabel is None or ylabel is None:
            raise ConfigError(f"sweep results {str(files[0])!r} carry no axis labels; expected "
                              "xlabel and ylabel with units (CLI: --xlabel, --ylabel)")
        series, counts = sweep_series(summary, errors)
        what = {"ci95": "mean and 95 % CI (t)", "std": "mean ± std", "none": "mean"}[errors]
        n = "/".join(map(str, counts))
        return curve_figure(series, xlabel, ylabel, log_x=_sweep_scale(log_x, series),
                            log_y=log_y,
                            nonpositive=nonpositive, ax=ax, figsize=figsize,
                            legend_title=legend_title or
                            f"{what} over {n} seed{'s' if n != '1' else ''}")
    csvs, names, best = {}, [], {}
    for i, p in enumerate(files):
        run = p if p.is_dir() else p.parent
        metrics = p / "metrics.csv" if p.is_dir() else p
        name = labels[i] if labels else (run.name or str(run))
        fit = run / "fit.json"
        if fit.is_file():
            try:
                info = json.loads(fit.read_text())
            except (OSError, ValueError):
                raise ConfigError(f"file {str(fit)!r} is not JSON; expected the fit.json of a "
                                  "training run") from None
            info = info.get("result", info) if isinstance(info, dict) else {}
            if column is None and info.get("monitor"):
                column = f"valid_{info['monitor']}"
            if info.get("best_epoch"):
                best[name] = int(info["best_epoch"])
        csvs[name] = metrics
        names.append(name)
    if len(set(names)) != len(names):
        raise ConfigError(f"runs share a name ({', '.join(names)}); expected distinct folder "
                          "names or labels")
    if column is None:
        raise ConfigError("column: none given and no fit.json names a monitor; expected a "
                          "metrics.csv column (CLI: --y valid_min_rate_bps_per_hz)")
    named = {f"{k} (best epoch {best[k]:,})" if k in best else k: v for k, v in csvs.items()}
    return learning_curve_figure(named, column, ylabel=ylabel,
                                 log_x=True if log_x is None else log_x, ax=ax,
                                 figsize=figsize, legend_title=legend_title)


__all__ = ["FIGURE_SUFFIXES", "MARKERS", "LINESTYLES", "OKABE_ITO", "PALETTE", "PNG_DPI",
           "REPORT_FIGSIZE_IN", "STYLE", "bar_figure", "bar_style", "bars_from_results",
           "bars_vs_paper_figure", "cdf_figure",
           "cdf_from_solutions", "check_figsize", "check_figure_path", "check_label",
           "curve_figure",
           "curves_from_files", "house_style", "image_figure", "learning_curve_figure",
           "legend_covers_data",
           "log_guard", "metric_label", "new_figure", "pooled_cdf_figure", "read_metrics_csv",
           "read_records",
           "save_figure", "scatter_figure", "series_style", "sweep_series"]
