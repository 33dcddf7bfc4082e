"""``wirelessrl presets [d2d|miso|mu-miso]``: every config field with its unit, default and
allowed values, and the presets with what each changes (also the epilog of ``simulate
NAME --help``)."""

from __future__ import annotations

import click

from simulators.config_docs import SYSTEM_CONFIGS
from wirelessrl.cli import main

EXAMPLES = {
    "d2d": "wirelessrl simulate d2d --preset paper-fading --set n_links=20 --n 100 --seed 1 "
           "-o d2d.h5",
    "miso": "wirelessrl simulate miso --n 100 --seed 1 --system-seed 0 -o miso.h5",
    "mu-miso": "wirelessrl simulate mu-miso --preset rayleigh-10db --n 100 --seed 1 -o mu.h5",
}
"""One runnable example per system (shown by ``simulate NAME --help``; a test runs them)."""


def system_help(name: str) -> str:
    """The field and preset table of system ``name`` (a key of ``SYSTEM_CONFIGS``)."""
    from simulators.config_docs import config_class, config_help

    return config_help(config_class(name))


class ConfigHelpCommand(click.Command):
    """A command whose ``--help`` ends with the config table of its system model (built
    when the help is shown, so importing the CLI stays cheap) and an example."""

    def __init__(self, *args, system: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.system = system

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write("\n" + system_help(self.system) + "\n")
        formatter.write(f"\nexample:\n  {EXAMPLES[self.system]}\n")


@main.command()
@click.argument("system", required=False, type=click.Choice(list(SYSTEM_CONFIGS)))
def presets(system) -> None:
    """Every config field of a system model (unit, default, allowed values, meaning) and
    its presets with the fields each changes; all systems when SYSTEM is left out."""
    names = [system] if system else list(SYSTEM_CONFIGS)
    click.echo("\n\n".join(system_help(name) for name in names))
