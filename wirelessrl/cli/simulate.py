"""``wirelessrl simulate d2d|miso``: generate a data set file."""

from __future__ import annotations

import click

from wirelessrl.cli import main
from wirelessrl.cli.options import (
    chunk_options,
    cluster_options,
    numba_threads_option,
    open_cluster,
    set_threads,
)
from wirelessrl.cli.presets import ConfigHelpCommand


@main.group()
def simulate() -> None:
    """Generate a data set file (HDF5, or MATLAB with --format mat)."""


def _common(f=None, *, preset: str = "paper"):
    if f is None:  # @_common(preset=...): a model whose default preset is not 'paper'
        return lambda g: _common(g, preset=preset)
    f = click.option("--overwrite", is_flag=True, help="Replace an existing output file.")(f)
    f = click.option("--format", "fmt", type=click.Choice(["h5", "mat"]), default=None,
                     help="File format (default: from the suffix, else h5).")(f)
    f = click.option("-o", "--output", required=True, help="Output file.")(f)
    f = click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
                     help="Override a config field, e.g. --set n_links=20 (repeatable).")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="Sample seed.")(f)
    f = click.option("--n", "n", type=int, required=True, help="Number of samples.")(f)
    f = click.option("--preset", default=preset, show_default=True,
                     help="Named preset (listed below).")(f)
    f = numba_threads_option(f)
    f = chunk_options(f)
    f = cluster_options(f)
    return f


def _fields(overrides: tuple[str, ...]) -> dict:
    from wirelessrl.config import parse_override

    return dict(parse_override(text) for text in overrides)


@simulate.command("d2d", cls=ConfigHelpCommand, system="d2d")
@_common
def simulate_d2d(preset, n, seed, overrides, output, fmt, overwrite, threads, chunk_size, dtype,
                 compression, scheduler, workers) -> None:
    """D2D layouts and gains (every field and preset below; also `wirelessrl presets d2d`)."""
    from simulators.d2d import D2DConfig
    from wirelessrl.datasets import simulate_d2d_file

    config = D2DConfig.from_preset(preset, **_fields(overrides))
    set_threads(threads)
    with open_cluster(scheduler, workers) as executor:
        path = simulate_d2d_file(config, n, seed, output, fmt, overwrite, progress=n >= 100_000,
                                 chunk_size=chunk_size, dtype=dtype, compression=compression,
                                 executor=executor)
    click.echo(f"wrote {n} {preset} layouts (seed {seed}) to {path}")


@simulate.command("miso", cls=ConfigHelpCommand, system="miso")
@_common
@click.option("--system-seed", default="0", show_default=True,
              help="Seed of the pilots and sensing vectors (shared by one experiment's files): "
                   "an integer >= 0, or 'paper' for the method paper's own draw.")
def simulate_miso(preset, n, seed, overrides, output, fmt, overwrite, threads, chunk_size, dtype,
                  compression, scheduler, workers, system_seed) -> None:
    """MISO users, channels and pilot observations (3 BSs, 4x4 arrays by default)."""
    from simulators.miso import MisoConfig, check_system_seed
    from wirelessrl.datasets import simulate_miso_file

    config = MisoConfig.from_preset(preset, **_fields(overrides))
    system_seed = check_system_seed(system_seed)
    set_threads(threads)
    with open_cluster(scheduler, workers) as executor:
        path = simulate_miso_file(config, n, seed, system_seed, output, fmt, overwrite,
                                  progress=n >= 100_000, chunk_size=chunk_size, dtype=dtype,
                                  compression=compression, executor=executor)
    click.echo(f"wrote {n} {preset} MISO samples (seed {seed}, system seed {system_seed}) "
               f"to {path}")


@simulate.command("mu-miso", cls=ConfigHelpCommand, system="mu-miso")
@_common(preset="cell")
def simulate_mu_miso(preset, n, seed, overrides, output, fmt, overwrite, threads, chunk_size,
                     dtype, compression, scheduler, workers) -> None:
    """Multi-user MISO downlink channels and pilots (fields and presets below)."""
    from simulators.mu_miso import MuMisoConfig
    from wirelessrl.datasets import simulate_mu_miso_file

    config = MuMisoConfig.from_preset(preset, **_fields(overrides))
    set_threads(threads)
    with open_cluster(scheduler, workers) as executor:
        path = simulate_mu_miso_file(config, n, seed, output, fmt, overwrite,
                                     progress=n >= 100_000, chunk_size=chunk_size,
                                     dtype=dtype, compression=compression, executor=executor)
    click.echo(f"wrote {n} {preset} multi-user MISO samples (M={config.n_antennas}, "
               f"K={config.n_users}, seed {seed}) to {path}")
