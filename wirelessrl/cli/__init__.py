"""The ``wirelessrl`` command line. Each command parses, calls one library function, prints.

Commands live one per module in this package and attach themselves to :data:`main`.
Errors a user can cause (:class:`~simulators.validation.ConfigError`, missing or wrong
files) print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import importlib
import sys

import click

from simulators.validation import ConfigError


def _training_diverged() -> type[Exception]:
    from wirelessrl.engine import TrainingDiverged

    return TrainingDiverged


class _Group(click.Group):
    """A click group that turns user errors into one line and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except _training_diverged() as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted: stopped by Ctrl-C; no partial output was kept", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wirelessrl")
def main() -> None:
    """wirelessrl: simulators, classical solvers and transfer learning for wireless."""


for _module in ("simulate", "solve", "train", "reproduce"):
    try:
        importlib.import_module(f"wirelessrl.cli.{_module}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"wirelessrl.cli.{_module}":
            raise
