"""``wirelessrl experiments``: the registered experiments and the packaged sweep specs."""

from __future__ import annotations

import click

from wirelessrl.cli import main


@main.command("experiments")
def experiments_command() -> None:
    """List the experiments (``reproduce NAME``) with their configs and scales, and the
    sweep specs shipped with the package (``sweep NAME``), wherever the command runs."""
    from experiments.catalog import catalog_text

    click.echo(catalog_text())
