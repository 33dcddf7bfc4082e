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


def _fail(message: str, code: int) -> None:
    """Print ``error: <message>`` as one line on stderr and exit with ``code``."""
    click.echo("error: " + " ".join(str(message).split()), err=True)
    sys.exit(code)


def _usage_error(err: click.UsageError) -> None:
    if isinstance(err, click.exceptions.NoArgsIsHelpError):  # bare command: show its help
        raise err
    where = f" (see '{err.ctx.command_path} --help')" if err.ctx is not None else ""
    _fail(err.format_message() + where, 2)


class _Group(click.Group):
    """A click group that turns user errors into one line and exit code 2.

    That covers :class:`ConfigError` and click's own usage errors (a bad option value, a
    missing argument, an unknown command), which click would print with a usage block.
    """

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            _usage_error(err)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            _usage_error(err)
        except ConfigError as err:
            _fail(str(err), 2)
        except _training_diverged() as err:
            _fail(str(err), 1)
        except KeyboardInterrupt:
            click.echo("interrupted: stopped by Ctrl-C; no partial output was kept", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wirelessrl")
def main() -> None:
    """wirelessrl: simulators, classical solvers and transfer learning for wireless."""


for _module in ("simulate", "solve", "reproduce", "sweep", "report", "analyze", "floor",
                "importing", "train", "presets", "experiments", "plot"):
    importlib.import_module(f"wirelessrl.cli.{_module}")
