"""``wirelessrl plot cdf|cdf-runs|bars|curves``: figures for a paper from files, in the house style
of :mod:`wirelessrl.plots` (vector PDF / SVG or 300 dpi PNG by the output's suffix)."""

from __future__ import annotations

import shlex
import sys

import click

from wirelessrl.cli import main


def _output(f):
    f = click.option("--overwrite", is_flag=True, help="Replace an existing output file.")(f)
    f = click.option("--height", type=float, default=None, help="Figure height (inches).")(f)
    f = click.option("--width", type=float, default=None,
                     help="Figure width (inches; default 3.5, one IEEE column).")(f)
    f = click.option("--clip", is_flag=True,
                     help="Log axis: draw values <= 0 at the smallest positive value (the "
                          "legend says how many) instead of failing.")(f)
    return click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                        help="Figure file: .pdf, .svg (vector) or .png (300 dpi).")(f)


def _start(output: str, overwrite: bool) -> None:
    """Check the output name before any work."""
    from wirelessrl.plots import check_figure_path

    check_figure_path(output, overwrite)


def _size(width, height):
    from wirelessrl.plots import FIGSIZE_IN, check_figsize

    if width is None and height is None:
        return None
    return check_figsize((FIGSIZE_IN[0] if width is None else width,
                          FIGSIZE_IN[1] if height is None else height))


def _save(fig, output: str, overwrite: bool) -> None:
    from wirelessrl.plots import save_figure

    source = "wirelessrl " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    path = save_figure(fig, output, source=source, overwrite=overwrite)
    ax = fig.axes[0]
    click.echo(f"wrote {path} (x: {ax.get_xlabel() or 'methods'}; y: {ax.get_ylabel()})")


@main.group()
def plot() -> None:
    """Figures for a paper: CDFs of per-layout rates, bar charts of methods, curves.

    \b
    wirelessrl plot cdf d2d.h5 fp.h5 maxmin.h5 full.h5 --metric min -o cdf.pdf
    wirelessrl plot cdf-runs runs/d2d-s1 runs/d2d-s2 --metric min -o cdf-seeds.pdf
    wirelessrl plot bars ev-seed1.json ev-seed2.json --metric min-rate -o bars.svg
    wirelessrl plot curves runs/d2d/seed-123/target/regular-lr0.001 -o curves.pdf
    wirelessrl plot curves results/sweeps/d2d_target_size -o sweep.pdf
    """


@plot.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.argument("solutions", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--metric", type=click.Choice(["sum", "min"]), default="sum", show_default=True,
              help="Per-layout sum-rate or min-rate.")
@click.option("--log-x", is_flag=True, help="Logarithmic rate axis.")
@_output
def cdf(data, solutions, metric, log_x, output, clip, width, height, overwrite) -> None:
    """CDF of the per-layout sum-rate or min-rate of solution files on their data file
    (D2D: Mbps; mu-miso: bit/s/Hz), one line per file."""
    from wirelessrl.plots import cdf_from_solutions

    _start(output, overwrite)
    fig = cdf_from_solutions(data, list(solutions), metric, log_x=log_x,
                             nonpositive="clip" if clip else "error",
                             figsize=_size(width, height))
    _save(fig, output, overwrite)


@plot.command("cdf-runs")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--metric", type=click.Choice(["sum", "min"]), default="min", show_default=True,
              help="Per-sample sum-rate or min-rate.")
@click.option("--method", "methods", multiple=True,
              help="Draw these methods, in this order (repeat the option; default: those of "
                   "the report's CDF plot).")
@click.option("--log-x", is_flag=True, help="Logarithmic rate axis.")
@_output
def cdf_runs(run_dirs, metric, methods, log_x, output, clip, width, height, overwrite) -> None:
    """CDF of the per-layout (D2D, Mbps) or per-sample (mu-miso, bit/s/Hz) rates over every
    seed of finished 'reproduce' runs of one experiment and system, e.g. one seed per run:
    each line pools the seeds' test sets."""
    from experiments.cdf import runs_cdf_figure

    _start(output, overwrite)
    fig = runs_cdf_figure(list(run_dirs), metric, methods=list(methods) or None, log_x=log_x,
                          nonpositive="clip" if clip else "error", figsize=_size(width, height))
    _save(fig, output, overwrite)


@plot.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--field", default="mean", show_default=True,
              help="Column to draw: mean, pct_of_reference_mean_ratio, accuracy, mean_m, ...")
@click.option("--metric", default=None, help="Keep rows of this metric (sum-rate, min-rate).")
@click.option("--table", default=None,
              help="Keep rows of this table (reports: baselines, paper_settings, ...).")
@click.option("--method", "methods", multiple=True,
              help="Keep these methods, in this order (repeat the option).")
@click.option("--errors", type=click.Choice(["ci95", "std", "none"]), default="ci95",
              show_default=True,
              help="Error bars: 95 % t interval over seeds (over layouts for one file of "
                   "'evaluate'), std over seeds, or none.")
@click.option("--ylabel", default=None, help="y label with its unit, 'name (unit)'.")
@click.option("--log-y", is_flag=True, help="Logarithmic value axis.")
@_output
def bars(results, field, metric, table, methods, errors, ylabel, log_y, output, clip, width,
         height, overwrite) -> None:
    """Bars of one column per method from results files: 'evaluate --json / --csv / -o'
    output (one file per seed) or a report's results.csv / results.json."""
    from wirelessrl.plots import bars_from_results

    _start(output, overwrite)
    fig = bars_from_results(list(results), field=field, metric=metric, table=table,
                            methods=list(methods) or None, errors=errors, ylabel=ylabel,
                            log_y=log_y, nonpositive="clip" if clip else "error",
                            figsize=_size(width, height))
    _save(fig, output, overwrite)


@plot.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--y", "column", default=None,
              help="metrics.csv column (default: the monitor named in fit.json).")
@click.option("--xlabel", default=None, help="x label with its unit (sweeps).")
@click.option("--ylabel", default=None, help="y label with its unit.")
@click.option("--label", "labels", multiple=True, help="Legend name per file (repeat).")
@click.option("--errors", type=click.Choice(["ci95", "std", "none"]), default="ci95",
              show_default=True, help="Sweeps: error bars over seeds.")
@click.option("--log-x/--linear-x", default=None,
              help="x axis (default: log for epochs, the sweep spec's choice for sweeps).")
@click.option("--log-y", is_flag=True, help="Logarithmic y axis.")
@_output
def curves(files, column, xlabel, ylabel, labels, errors, log_x, log_y, output, clip, width,
           height, overwrite) -> None:
    """Learning curves of training runs (folders with metrics.csv and fit.json, or
    metrics.csv files), or the curves of a sweep's results folder (summary.csv) against
    the swept value, one line per strategy."""
    from experiments.sweep import sweep_plot_labels
    from wirelessrl.plots import curves_from_files

    _start(output, overwrite)
    if len(files) == 1 and (xlabel is None or ylabel is None or log_x is None):
        found = sweep_plot_labels(files[0])
        if found is not None:
            xlabel, ylabel = xlabel or found[0], ylabel or found[1]
            log_x = found[2] if log_x is None else log_x
    fig = curves_from_files(list(files), column=column, xlabel=xlabel, ylabel=ylabel,
                            labels=list(labels) or None, errors=errors, log_x=log_x,
                            log_y=log_y, nonpositive="clip" if clip else "error",
                            figsize=_size(width, height))
    _save(fig, output, overwrite)
