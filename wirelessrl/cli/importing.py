"""``wirelessrl import d2d``: your own gains array -> an ordinary D2D data file."""

from __future__ import annotations

import click

from wirelessrl.cli import main


@main.group("import")
def import_group() -> None:
    """Import your own channels as a data file (then solve, evaluate, train, predict)."""


@import_group.command("d2d")
@click.argument("gains", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, help="Output data file (.h5, or .mat).")
@click.option("--var", default=None, metavar="NAME",
              help="Variable (.mat, .npz) or data set (HDF5) holding the gains; optional "
                   "when the file holds one.")
@click.option("--layout", type=click.Choice(["batch-first", "matlab"]), default=None,
              help="Axis order: batch-first (batch, N, N) [default] or matlab (N, N, batch); "
                   "g[b, i, j] / G(i, j, b) is the gain from transmitter j to receiver i.")
@click.option("--preset", default="paper", show_default=True,
              help="D2D preset giving the system constants (power, noise, bandwidth, SNR gap).")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a config field, e.g. --set noise_dbm_per_hz=-174 (repeatable); "
                   "n_links comes from the data.")
@click.option("--format", "fmt", type=click.Choice(["h5", "mat"]), default=None,
              help="File format (default: from the suffix, else h5).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def import_d2d(gains, output, var, layout, preset, overrides, fmt, overwrite) -> None:
    """Linear power gains from GAINS (.npy, .npz, .mat, .csv with one layout of N*N values
    per row, .h5) checked and written as a D2D data file with their provenance.

    Example: wirelessrl import d2d gains.mat --var G --layout matlab --set snr_gap_db=3
    -o data.h5
    """
    from wirelessrl.cli.simulate import _fields
    from wirelessrl.datasets import D2DFile
    from wirelessrl.importer import import_d2d as run

    path = run(gains, output, var=var, layout=layout, preset=preset,
               overrides=_fields(overrides), fmt=fmt, overwrite=overwrite)
    with D2DFile(path) as data:
        cfg, n = data.config, len(data)
    click.echo(f"imported {n} layouts of {cfg.n_links} links from {gains} "
               f"(P_max {cfg.p_max_dbm:g} dBm, noise {cfg.noise_w:.3g} W, SNR gap "
               f"{cfg.snr_gap_db:g} dB); wrote {path}")
