"""``wirelessrl sweep SPEC``: a grid of ``reproduce`` runs over one config key."""

from __future__ import annotations

import click

from wirelessrl.cli import main
from wirelessrl.cli.options import cluster_options, open_cluster


@main.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
@click.option("-o", "--output", "out_dir", default="runs/sweeps", show_default=True,
              help="Root of the run folders: <output>/<sweep name>/<key>=<value>/.")
@click.option("--results", "results_dir", default="results/sweeps", show_default=True,
              help="Root of the small outputs: <results>/<sweep name>/ (point CSVs, "
                   "summary.csv, PNG).")
@click.option("--scale", type=click.Choice(["tiny", "quick", "paper"]), default=None,
              help="Use the spec's block for this scale (default: the spec's own scale).")
@click.option("--seeds", default=None, help="Comma-separated seeds (default: the spec's).")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="Torch CPU threads (small networks often run fastest with 1).")
@click.option("--plot-only", is_flag=True,
              help="Only rebuild summary.csv and the PNG from the point CSVs.")
@cluster_options
def sweep(spec_path, overrides, out_dir, results_dir, scale, seeds, threads, plot_only,
          scheduler, workers) -> None:
    """Run every point of the sweep SPEC (a YAML path, or the name of a packaged spec in
    experiments/sweeps/ such as d2d_target_size), resumably. OVERRIDES (dotted key=value,
    e.g. model.gnn.head_layers=2) are added to the spec's overrides at every point; give
    such a run its own --output and --results.

    Each point is one `reproduce` run with the swept value; finished points and steps are
    skipped on re-run. Writes one CSV per point, summary.csv and a plot. With --workers
    or --scheduler, whole points run on Dask workers (which must see the output folder).
    """
    from experiments.sweep import load_sweep_spec, plot_sweep_results, run_sweep

    spec = load_sweep_spec(spec_path, scale, seeds, overrides)
    if plot_only:
        png = plot_sweep_results(spec, results_dir, click.echo)
    else:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        with open_cluster(scheduler, workers) as executor:
            png = run_sweep(spec, out_dir, click.echo, results_dir, executor=executor)
    click.echo(f"done: open {png}")
