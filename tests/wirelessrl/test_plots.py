"""The plot API and ``wirelessrl plot``: files per suffix, units on every axis, series that
stay apart in greyscale, colour-blind-safe colours, no titles, guarded log axes."""

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from simulators.d2d import D2DConfig, generate_d2d
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.datasets import save_d2d
from wirelessrl.plots import (
    FIGURE_SUFFIXES,
    HATCHES,
    MAX_SERIES,
    OKABE_ITO,
    bar_figure,
    bars_from_results,
    cdf_figure,
    cdf_from_solutions,
    check_label,
    curve_figure,
    curves_from_files,
    learning_curve_figure,
    new_figure,
    save_figure,
    series_style,
)

REPO = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(0)
MANY = {f"method {i}": RNG.normal(10 + i, 2, 50) for i in range(12)}


def _axes_labelled_with_units(fig):
    for ax in fig.axes:
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            if label:
                check_label("label", label)
        assert ax.get_ylabel() and ax.get_title() == ""  # no titles: seeds go in legends


def _distinct_in_greyscale(ax):
    """The data line of every series (plain lines and error-bar lines, labelled as in the
    legend); asserts their (line style, marker) pairs differ and their colours are
    Okabe-Ito."""
    lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    for c in ax.containers:
        if type(c).__name__ == "ErrorbarContainer":
            c.lines[0].set_label(c.get_label())
            lines.append(c.lines[0])
    pairs = [(str(ln.get_linestyle()), ln.get_marker()) for ln in lines]
    assert len(set(pairs)) == len(pairs), pairs
    assert {ln.get_color().upper() for ln in lines} <= {c.upper() for c in OKABE_ITO.values()}
    return lines


# ------------------------------------------------------------------ the house style


def test_every_series_index_has_its_own_linestyle_marker_pair():
    pairs = [(series_style(i)["linestyle"], series_style(i)["marker"])
             for i in range(MAX_SERIES)]
    assert len(set(pairs)) == MAX_SERIES
    with pytest.raises(ConfigError, match=f"at most {MAX_SERIES} series"):
        series_style(MAX_SERIES)
    assert "#1F77B4" not in {c.upper() for c in OKABE_ITO.values()}  # not tab10's blue


def test_cdf_figure_units_greyscale_and_steps():
    fig = cdf_figure(MANY, "per-layout sum-rate (Mbps)", legend_title="50 layouts, seed 4")
    _axes_labelled_with_units(fig)
    ax = fig.axes[0]
    lines = _distinct_in_greyscale(ax)
    assert len(lines) == 12
    x, y = lines[0].get_data()
    np.testing.assert_array_equal(x, np.sort(MANY["method 0"]))
    np.testing.assert_allclose(y, np.arange(1, 51) / 50)
    assert ax.get_legend().get_title().get_text() == "50 layouts, seed 4"


def test_bars_use_distinct_hatches_and_error_bars():
    fig = bar_figure({"method paper": {"FP": 157.4, "full": 140.1},
                      "wirelessrl": {"FP": 158.0, "full": 139.2, "random": 132.0}},
                     "mean sum-rate (Mbps)", errors={"wirelessrl": {"FP": 1.0, "full": 2.0}})
    _axes_labelled_with_units(fig)
    ax = fig.axes[0]
    hatches = [str(p.get_hatch() or "") for p in ax.patches]
    assert hatches[:3] == [HATCHES[0]] * 3 and hatches[3:] == [HATCHES[1]] * 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["FP", "full", "random"]
    assert np.isnan(ax.patches[2].get_height())          # the paper has no random bar
    bars = [c for c in ax.containers if type(c).__name__ == "BarContainer"]
    segments = bars[1].errorbar.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1] for s in segments],
                               [[157.0, 159.0], [137.2, 141.2], [132.0, 132.0]])


def test_curve_figure_error_bars_bands_and_symlog():
    fig = curve_figure({"a": ([0, 0.3, 1, 3], [55, 59, 64, 65], [0.2, 1.5, 0.1, 0.8]),
                        "b": (np.arange(1, 200), np.linspace(0, 1, 199),
                              np.full(199, 0.05))},
                       "reconstruction weight alpha (unitless)", "min-rate (% of optimum)",
                       log_x="symlog")
    _axes_labelled_with_units(fig)
    ax = fig.axes[0]
    _distinct_in_greyscale(ax)
    assert ax.get_xscale() == "symlog" and len(ax.collections) >= 2  # error bars + band


@pytest.mark.parametrize("bad", ["sum-rate", "rate in Mbps", "", None, 3.0])
def test_labels_without_a_unit_are_refused(bad):
    with pytest.raises(ConfigError, match="has no unit"):
        cdf_figure({"a": [1.0, 2.0]}, bad)
    with pytest.raises(ConfigError, match="has no unit"):
        curve_figure({"a": ([1, 2], [1, 2])}, "x (m)", bad)


def test_bad_figure_sizes_give_one_line_errors(tmp_path):
    for size, message in (((-1, 2), "width=-1 is invalid"), (("3", "x"), "height='x'"),
                          ((3.5,), "expected (width, height)"), ((100, 2), "<= 50")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            cdf_figure({"a": [1.0]}, "x (m)", figsize=size)
    r = _plot("bars", tmp_path / "none.json", "--width", "-2", "-o", tmp_path / "b.pdf")
    assert r.exit_code == 2 and "width=-2.0 is invalid" in r.output


def test_bad_series_give_one_line_errors():
    with pytest.raises(ConfigError, match="non-finite"):
        cdf_figure({"a": [1.0, np.nan]}, "x (m)")
    with pytest.raises(ConfigError, match="expected numbers"):
        cdf_figure({"a": ["fast", "slow"]}, "x (m)")
    with pytest.raises(ConfigError, match="expected a number"):
        bar_figure({"FP": [1.0, 2.0]}, "y (Mbps)")
    with pytest.raises(ConfigError, match="expected a number"):
        bar_figure({"FP": "157"}, "y (Mbps)")
    with pytest.raises(ConfigError, match="equal lengths"):
        curve_figure({"a": ([1, 2, 3], [1, 2])}, "x (m)", "y (m)")


# ------------------------------------------------------------------ log axes


def test_log_axes_refuse_zeros_and_negatives_or_clip_them_visibly():
    values = {"binary": np.array([0.0, 0.0, 1.0, 4.0]), "fp": np.array([0.5, 1.0, 2.0, 3.0])}
    with pytest.raises(ConfigError, match="'binary' has 2 values <= 0.*--clip"):
        cdf_figure(values, "min-rate (Mbps)", log_x=True)
    fig = cdf_figure(values, "min-rate (Mbps)", log_x=True, nonpositive="clip")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["binary (2 values ≤ 0 drawn at 0.5)", "fp"]
    assert ax.get_lines()[0].get_xdata().min() == 0.5
    with pytest.raises(ConfigError, match="values <= 0"):
        curve_figure({"t": ([1, 2], [0.0, 1.0])}, "links N (count)", "time (s)", log_y=True)
    with pytest.raises(ConfigError, match="values <= 0"):
        bar_figure({"a": -1.0, "b": 2.0}, "gain (dB)", log_y=True)
    with pytest.raises(ConfigError, match="nonpositive='drop' is invalid"):
        cdf_figure(values, "min-rate (Mbps)", log_x=True, nonpositive="drop")
    with pytest.raises(ConfigError, match="no value is > 0"):
        cdf_figure({"a": [0.0, -1.0]}, "min-rate (Mbps)", log_x=True, nonpositive="clip")


# ------------------------------------------------------------------ files


def _png_dpi(path):
    data = Path(path).read_bytes()
    k = data.index(b"pHYs")
    ppm_x, _, unit = struct.unpack(">IIB", data[k + 4:k + 13])
    assert unit == 1
    return ppm_x * 0.0254


@pytest.mark.parametrize("suffix, magic", [(".pdf", b"%PDF"), (".svg", b"<?xml"),
                                           (".png", b"\x89PNG")])
def test_save_figure_writes_the_format_of_the_suffix(tmp_path, suffix, magic, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    out = tmp_path / f"fig{suffix}"
    save_figure(cdf_figure({"a": [1.0, 2.0]}, "x (m)"), out, source="test source")
    data = out.read_bytes()
    assert data.startswith(magic)
    if suffix == ".png":
        assert _png_dpi(out) == pytest.approx(300, abs=0.5)
        assert b"test source" in data and b"wirelessrl" in data
    if suffix == ".svg":
        assert b"<text" in data and b"test source" in data  # text stays text
    if suffix in (".pdf", ".svg"):  # reproducible bytes under SOURCE_DATE_EPOCH
        again = tmp_path / f"again{suffix}"
        save_figure(cdf_figure({"a": [1.0, 2.0]}, "x (m)"), again, source="test source")
        assert again.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize("name", ["fig.jpg", "fig", "fig.pdf.txt", "fig.eps"])
def test_wrong_suffix_lists_the_allowed_ones(tmp_path, name):
    with pytest.raises(ConfigError, match=", ".join(FIGURE_SUFFIXES)):
        save_figure(cdf_figure({"a": [1.0]}, "x (m)"), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_learning_curves_skip_epochs_without_validation(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    # validate_every=2: the engine leaves the validation columns of the other epochs empty
    csv_path.write_text("epoch,train_loss,valid_min_rate_bps_per_hz\n1,-0.5,0.6\n2,-0.7,\n3,-0.8,0.9\n")
    fig = learning_curve_figure({"run": csv_path}, "valid_min_rate_bps_per_hz")
    x, y = fig.axes[0].get_lines()[0].get_data()
    assert list(x) == [1, 3] and list(y) == [0.6, 0.9]
    assert fig.axes[0].get_ylabel() == "validation min-rate (bit/s/Hz)"
    assert fig.axes[0].get_xlabel() == "epoch (count)" and fig.axes[0].get_xscale() == "log"
    with pytest.raises(ConfigError, match="no column 'valid_x'; expected one of train_loss"):
        curves_from_files([csv_path], column="valid_x")
    odd = tmp_path / "odd" / "metrics.csv"
    odd.parent.mkdir()
    odd.write_text("epoch,valid_weird\n1,0.5\n")
    with pytest.raises(ConfigError, match="'valid_weird' has no known unit.*--ylabel"):
        curves_from_files([odd], column="valid_weird")
    fig = curves_from_files([odd], column="valid_weird", ylabel="weirdness (a.u.)")
    assert fig.axes[0].get_ylabel() == "weirdness (a.u.)"


# ------------------------------------------------------------------ the CLI


@pytest.fixture(scope="module")
def d2d(tmp_path_factory):
    d = tmp_path_factory.mktemp("plots")
    out = {}
    for seed in (1, 2):
        data = d / f"d2d-{seed}.h5"
        save_d2d(generate_d2d(D2DConfig.from_preset("paper", n_links=4), 30, seed=seed), data)
        out[seed] = {"data": data}
        for method in ("maxmin", "full", "random"):
            path = d / f"{method}-{seed}.h5"
            r = CliRunner().invoke(main, ["solve", str(data), "--method", method, "-o",
                                          str(path)])
            assert r.exit_code == 0, r.output
            out[seed][method] = path
        ev = d / f"ev-{seed}.json"
        r = CliRunner().invoke(main, ["evaluate", str(data), *(str(out[seed][m]) for m in
                                      ("maxmin", "full", "random")), "-o", str(ev)])
        assert r.exit_code == 0, r.output
        out[seed]["ev"] = ev
    return out


def _plot(*args):
    return CliRunner().invoke(main, ["plot", *map(str, args)])


@pytest.mark.parametrize("suffix", FIGURE_SUFFIXES)
def test_plot_cdf_writes_each_format(d2d, tmp_path, suffix):
    f = d2d[1]
    out = tmp_path / f"cdf{suffix}"
    r = _plot("cdf", f["data"], f["maxmin"], f["full"], f["random"], "--metric", "min",
              "-o", out)
    assert r.exit_code == 0, r.output
    assert out.is_file() and "per-layout min-rate (Mbps)" in r.output
    fig = cdf_from_solutions(f["data"], [f["maxmin"], f["full"], f["random"]], "min")
    _axes_labelled_with_units(fig)
    lines = _distinct_in_greyscale(fig.axes[0])
    assert [ln.get_label() for ln in lines] == ["maxmin", "full", "random"]
    assert "30 layouts of d2d-1.h5, seed 1" == fig.axes[0].get_legend().get_title().get_text()


def test_plot_rejects_a_wrong_suffix_before_any_work(d2d, tmp_path):
    r = _plot("cdf", d2d[1]["data"], d2d[1]["full"], "-o", tmp_path / "cdf.jpg")
    assert r.exit_code == 2
    assert "has the suffix '.jpg'; expected one of .pdf, .svg, .png" in r.output
    r = _plot("bars", d2d[1]["ev"], "-o", tmp_path / "bars")
    assert r.exit_code == 2 and "expected one of .pdf, .svg, .png" in r.output
    r = _plot("bars", d2d[1]["ev"], "-o", tmp_path / "missing" / "bars.pdf")
    assert r.exit_code == 2 and "does not exist; create it first" in r.output
    (tmp_path / "old.pdf").write_text("keep")
    r = _plot("bars", d2d[1]["ev"], "--metric", "min-rate", "-o", tmp_path / "old.pdf")
    assert r.exit_code == 2 and "--overwrite" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pdf"]
    assert (tmp_path / "old.pdf").read_text() == "keep"


def test_plot_cdf_log_axis_guard_from_the_cli(d2d, tmp_path):
    f = d2d[1]
    zero = tmp_path / "zero.h5"  # a solution whose min-rate is 0: one link switched off
    from wirelessrl.fileio import read_arrays, write_arrays
    arrays, meta = read_arrays(f["full"])
    arrays["p_w"][:, 0] = 0.0
    meta = {k: v for k, v in meta.items() if not k.startswith(("checksum", "meta_", "shapes"))}
    write_arrays(zero, arrays, meta)
    r = _plot("cdf", f["data"], zero, "--metric", "min", "--log-x", "-o", tmp_path / "c.pdf")
    assert r.exit_code == 2 and "values <= 0" in r.output and "--clip" in r.output
    r = _plot("cdf", f["data"], zero, f["full"], "--metric", "min", "--log-x", "--clip", "-o",
              tmp_path / "c.pdf")
    assert r.exit_code == 0, r.output


def test_plot_bars_over_seeds_with_a_95_percent_interval(d2d, tmp_path):
    out = tmp_path / "bars.svg"
    r = _plot("bars", d2d[1]["ev"], d2d[2]["ev"], "--metric", "min-rate", "--field",
              "pct_of_reference_mean_ratio", "-o", out)
    assert r.exit_code == 0, r.output
    assert out.is_file()
    fig = bars_from_results([d2d[1]["ev"], d2d[2]["ev"]], metric="min-rate",
                            field="pct_of_reference_mean_ratio")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "min-rate (% of maxmin)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["maxmin", "full", "random"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "mean and 95 % CI (t) over seeds 1, 2"]
    pct = [json.loads(Path(d2d[s]["ev"]).read_text())["records"] for s in (1, 2)]
    full = [next(x["pct_of_reference_mean_ratio"] for x in rows
                 if x["method"] == "full" and x["metric"] == "min-rate") for rows in pct]
    assert ax.patches[1].get_height() == pytest.approx(np.mean(full))
    # one file: the 95 % interval over its layouts, as evaluate stored it
    fig = bars_from_results([d2d[1]["ev"]], metric="sum-rate")  # one series: legend = note
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "mean and 95 % CI (t) over 30 layouts, seed 1"]
    assert fig.axes[0].get_ylabel() == "mean sum-rate (Mbps)"
    with pytest.raises(ConfigError, match="several metrics; expected --metric one of "
                                          "sum-rate, min-rate"):
        bars_from_results([d2d[1]["ev"]])
    with pytest.raises(ConfigError, match="metric='max-rate' is not in the results"):
        bars_from_results([d2d[1]["ev"]], metric="max-rate")


def test_plot_bars_from_a_committed_report_csv(tmp_path):
    results = REPO / "results" / "d2d-paper" / "results.csv"
    out = tmp_path / "bars.pdf"
    r = _plot("bars", results, "--table", "paper_settings", "--metric", "min-rate", "-o", out)
    assert r.exit_code == 0, r.output
    fig = bars_from_results([results], table="paper_settings", metric="min-rate")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["regular", "conventional",
                                                            "reconstruction", "finetune"]
    import csv

    with open(results, newline="") as f:  # the bar is the file's number, read back plainly
        expected = next(float(r["mean"]) for r in csv.DictReader(f)
                        if (r["table"], r["method"], r["metric"])
                        == ("paper_settings", "reconstruction", "min-rate"))
    assert ax.patches[2].get_height() == pytest.approx(expected, rel=1e-12)
    assert ax.get_ylabel() == "mean min-rate (Mbps)"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # the committed file carries 95 % intervals over its 2,000 test layouts
    assert legend == ["mean and 95 % CI (t) over 2,000 layouts, seed 123"]


def test_plot_curves_of_a_training_run_uses_fit_json(tmp_path):
    run = tmp_path / "regular"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,train_loss,valid_min_rate_bps_per_hz,lr,seconds\n"
                                     + "".join(f"{e},{-e / 10},{e / 20},0.001,0.1\n"
                                               for e in range(1, 21)))
    (run / "fit.json").write_text(json.dumps(  # as engine.fit writes it
        {"config": {"epochs": 20}, "result": {"monitor": "min_rate_bps_per_hz", "best_epoch": 17}}))
    out = tmp_path / "lc.png"
    r = _plot("curves", run, "-o", out)
    assert r.exit_code == 0, r.output
    fig = curves_from_files([run])
    ax = fig.axes[0]
    assert ax.get_ylabel() == "validation min-rate (bit/s/Hz)"
    assert ax.get_lines()[0].get_label() == "regular (best epoch 17)"
    r = _plot("curves", run, "--y", "train_loss", "-o", tmp_path / "loss.pdf")
    assert r.exit_code == 0, r.output


def test_plot_curves_of_a_committed_sweep(tmp_path):
    sweep = REPO / "results" / "sweeps" / "d2d_alpha"
    out = tmp_path / "alpha.pdf"
    r = _plot("curves", sweep, "-o", out)
    assert r.exit_code == 0, r.output
    fig = curves_from_files([sweep], xlabel="reconstruction weight alpha (unitless)",
                            ylabel="min-rate (% of max-min optimum)", log_x=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "symlog"  # alpha = 0 is a point of the sweep
    lines = _distinct_in_greyscale(ax)
    assert [ln.get_label() for ln in lines] == ["reconstruction", "finetune"]
    assert ax.get_legend().get_title().get_text() == "mean and 95 % CI (t) over 3 seeds"
    np.testing.assert_allclose(lines[0].get_xdata(), [0, 0.3, 1, 3, 10])
    with pytest.raises(ConfigError, match="carry no axis labels"):
        curves_from_files([sweep / "summary.csv"])


def test_metrics_written_in_nats_read_as_bits_per_hz(tmp_path):
    """Run folders from before the bit/s/Hz rename keep their learning curves."""
    from wirelessrl.plots import read_metrics_csv

    old = tmp_path / "metrics.csv"
    old.write_text("epoch,train_loss,valid_min_rate_nats\n1,0.5,0.6931471805599453\n"
                   "2,0.4,\n3,0.3,1.3862943611198906\n")
    epochs, bits = read_metrics_csv(old, "valid_min_rate_bps_per_hz")
    assert epochs.tolist() == [1.0, 3.0]
    np.testing.assert_allclose(bits, [1.0, 2.0], rtol=1e-12)
    with pytest.raises(ConfigError, match="no column 'valid_sum_rate_bps_per_hz'"):
        read_metrics_csv(old, "valid_sum_rate_bps_per_hz")


def test_many_series_put_the_legend_outside_the_axes():
    from wirelessrl.plots import LEGEND_INSIDE_MAX

    x = np.arange(1.0, 4.0)
    few = curve_figure({f"s{i}": (x, x + i) for i in range(LEGEND_INSIDE_MAX)},
                       "size (layouts)", "rate (Mbps)")
    many = curve_figure({f"s{i}": (x, x + i) for i in range(LEGEND_INSIDE_MAX + 2)},
                        "size (layouts)", "rate (Mbps)")
    for fig in (few, many):
        fig.canvas.draw()
    inside = few.axes[0].get_legend().get_window_extent()
    outside = many.axes[0].get_legend().get_window_extent()
    axes_right = many.axes[0].get_window_extent().x1
    assert inside.x1 <= few.axes[0].get_window_extent().x1 + 1
    assert outside.x0 > axes_right


def _zigzags(n_series: int) -> dict:
    """Curves that fill every corner of the axes: no inside spot is free of data."""
    x = np.linspace(0.0, 7.0, 8)
    return {f"s{i}": (x, np.where(np.arange(8) % 2 == i % 2, 8.0, 0.0) + 0.3 * i,
                      np.full(8, 0.2)) for i in range(n_series)}


def test_a_legend_that_covers_data_is_moved_outside_when_saved(tmp_path):
    from wirelessrl.plots import legend_covers_data

    fig = curve_figure(_zigzags(4), "system seed (index)", "error (m)",
                       legend_title="mean ± std over seeds 1, 2, 3")
    ax = fig.axes[0]
    assert legend_covers_data(ax)  # loc="best" finds no free spot here
    width = fig.get_figwidth()
    save_figure(fig, tmp_path / "f.png")
    assert not legend_covers_data(ax)
    assert ax.get_legend().get_window_extent().x0 > ax.get_window_extent().x1
    assert fig.get_figwidth() > width
    assert ax.get_legend().get_title().get_text() == "mean ± std over seeds 1, 2, 3"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["s0", "s1", "s2", "s3"]


def test_a_legend_on_free_space_or_placed_by_the_user_stays(tmp_path):
    from wirelessrl.plots import legend_covers_data

    x = np.arange(1.0, 9.0)
    free = curve_figure({"a": (x, 0.1 * x), "b": (x, 0.1 * x + 0.05)}, "size (layouts)",
                        "rate (Mbps)")
    free.axes[0].set_ylim(0.0, 5.0)  # the data lie in the bottom fifth
    placed = curve_figure(_zigzags(2), "system seed (index)", "error (m)")
    placed.axes[0].legend(loc="center")  # the user's choice, even over data
    for name, fig in (("free", free), ("placed", placed)):
        width = fig.get_figwidth()
        save_figure(fig, tmp_path / f"{name}.png")
        ax = fig.axes[0]
        assert fig.get_figwidth() == width
        assert ax.get_legend().get_window_extent().x1 <= ax.get_window_extent().x1 + 1
    assert not legend_covers_data(free.axes[0]) and legend_covers_data(placed.axes[0])


def test_scatter_points_and_bands_under_the_legend_count_as_covered_data():
    from wirelessrl.plots import legend_covers_data

    fig, ax = new_figure()
    ax.scatter([1.0, 2.0], [1.0, 2.0], label="a")
    ax.scatter([1.5], [1.2], label="b")
    ax.set_xlim(0.0, 10.0)
    ax.set_ylim(0.0, 10.0)
    ax.legend(loc="upper right")  # the points sit in the lower left
    assert not legend_covers_data(ax)
    ax.scatter([9.5], [9.5], label="c")  # now one under the box
    ax.legend(loc="upper right")
    assert legend_covers_data(ax)
    fig, ax = new_figure()
    ax.fill_between([0.0, 10.0], [8.0, 8.0], [10.0, 10.0], label="band")
    ax.plot([0.0, 1.0], [0.0, 0.5], label="line")
    ax.set_xlim(0.0, 10.0)
    ax.set_ylim(0.0, 10.0)
    ax.legend(loc="upper right")  # over the band's top edge
    assert legend_covers_data(ax)
    ax.legend(loc="center right")
    assert not legend_covers_data(ax)


def test_bars_under_the_legend_count_as_covered_data():
    from wirelessrl.plots import legend_covers_data

    fig = bar_figure({"a": {"x": 9.0, "y": 9.5}, "b": {"x": 9.2, "y": 9.8}}, "rate (Mbps)")
    ax = fig.axes[0]
    ax.get_legend().set_loc("lower center")  # over the tall bars' bottoms
    assert legend_covers_data(ax)
    ax.set_ylim(-40.0, 12.0)
    ax.get_legend().set_loc("lower left")  # now on empty space below the bars
    assert not legend_covers_data(ax)


def test_scatter_figure_units_distinct_markers_and_log_guard():
    from wirelessrl.plots import scatter_figure

    fig = scatter_figure({"a": ([0.1, 0.2], [1.0, 2.0]), "b": ([0.3, 0.4], [3.0, 4.0])},
                         "MSE (standardized units^2)", "|correlation| (unitless)")
    _axes_labelled_with_units(fig)
    ax = fig.axes[0]
    markers = [c.get_paths()[0].vertices.shape for c in ax.collections]
    assert len(ax.collections) == 2 and markers[0] != markers[1]  # circle vs square
    edges = {tuple(np.round(c.get_edgecolor()[0][:3], 3)) for c in ax.collections}
    assert len(edges) == 2
    with pytest.raises(ConfigError, match="no unit"):
        scatter_figure({"a": ([1.0], [1.0])}, "MSE", "corr (unitless)")
    with pytest.raises(ConfigError, match="logarithmic"):
        scatter_figure({"a": ([0.0, 1.0], [1.0, 1.0])}, "x (m)", "y (m)", log_x=True)
    with pytest.raises(ConfigError, match="equal lengths"):
        scatter_figure({"a": ([1.0, 2.0], [1.0])}, "x (m)", "y (m)")


def test_image_figure_draws_one_panel_and_colour_bar_per_image(tmp_path):
    from wirelessrl.plots import image_figure

    images = {"error": np.arange(6.0).reshape(2, 3), "usefulness": np.ones((2, 3))}
    fig = image_figure(images, {"error": "MSE (standardized units^2)",
                                "usefulness": "|correlation| (unitless)"})
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 2 and len(fig.axes) == 4  # two images, two colour bars
    assert np.array_equal(panels[0].get_images()[0].get_array(), images["error"])
    assert all(ax.get_title() == "" for ax in fig.axes)
    assert save_figure(fig, tmp_path / "img.png").stat().st_size > 0
    with pytest.raises(ConfigError, match="colour-bar label"):
        image_figure({"error": np.eye(2)}, {})
    with pytest.raises(ConfigError, match="expected \\[rows, cols\\]"):
        image_figure({"error": np.ones(3)}, {"error": "MSE (a.u.)"})
