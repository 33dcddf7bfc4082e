"""``wirelessrl analyze RUN_DIR``: diagnostics of a finished run's source networks."""

from __future__ import annotations

import click

from wirelessrl.cli import main


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--threads", type=click.IntRange(1), default=None,
              help="Torch CPU threads (small networks often run fastest with 1).")
def analyze(run_dir, threads) -> None:
    """Linear probes, covariance spectra and per-entry reconstruction errors of the source
    networks of RUN_DIR (a folder of 'wirelessrl reproduce d2d|miso|mnist'), from its files
    alone: writes analysis.md, analysis.json, analysis.csv and analysis_*.png into it."""
    from experiments.analysis import analyze_run

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    path = analyze_run(run_dir, click.echo)
    click.echo(f"done: open {path}")
