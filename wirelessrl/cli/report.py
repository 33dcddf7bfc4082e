"""``wirelessrl report RUN_DIR``: rebuild a finished run's report from its files."""

from __future__ import annotations

import click

from wirelessrl.cli import main


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir) -> None:
    """Rewrite results.csv, results.json, report.md and the plots of RUN_DIR (a folder of
    'wirelessrl reproduce') from its files alone: no training, no network runs."""
    from experiments import report_run

    path = report_run(run_dir, click.echo)
    click.echo(f"done: open {path}")
