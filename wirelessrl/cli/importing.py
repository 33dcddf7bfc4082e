"""``wirelessrl import d2d|mu-miso``: your own gains array or complex channels -> an ordinary
data file."""

from __future__ import annotations

import click

from wirelessrl.cli import main


@main.group("import")
def import_group() -> None:
    """Import your own channels as a data file (then solve, evaluate, train, predict)."""


def _output_options(f):
    """``-o``, ``--format``, ``--overwrite``: the options every importer shares."""
    f = click.option("--overwrite", is_flag=True, help="Replace an existing output file.")(f)
    f = click.option("--format", "fmt", type=click.Choice(["h5", "mat"]), default=None,
                     help="File format (default: from the suffix, else h5).")(f)
    return click.option("-o", "--output", required=True,
                        help="Output data file (.h5, or .mat).")(f)


@import_group.command("d2d")
@click.argument("gains", type=click.Path(dir_okay=False))
@_output_options
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
def import_d2d(gains, output, fmt, overwrite, var, layout, preset, overrides) -> None:
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


@import_group.command("mu-miso")
@click.argument("channels", type=click.Path(dir_okay=False))
@_output_options
@click.option("--var", default=None, metavar="NAME",
              help="Variable (.mat, .npz) or data set (HDF5) holding the channels h; optional "
                   "when the file holds one.")
@click.option("--layout", type=click.Choice(["batch-first", "matlab"]), default=None,
              help="Axis order: batch-first (batch, K, M) [default; required for .mat] or "
                   "matlab (K, M, batch); h[b, k, m] / H(k, m, b) is user k at antenna m.")
@click.option("--pilots-var", default=None, metavar="NAME",
              help="Variable of the same file holding the pilot observations y (same shape "
                   "and layout as h); default: no pilots.")
@click.option("--preset", default="cell", show_default=True,
              help="mu-miso preset giving the system constants (cell, rayleigh-10db).")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a config field, e.g. --set p_max_dbm=30 (repeatable); n_users "
                   "and n_antennas come from the data.")
def import_mu_miso(channels, output, fmt, overwrite, var, layout, pilots_var, preset,
                   overrides) -> None:
    """Complex channels from CHANNELS (.npy, .npz, .mat v4-v7.3, .h5; real numbers are read
    as complex with zero imaginary part; .csv is refused) checked and written as a
    multi-user MISO data file with their provenance.

    Example: wirelessrl import mu-miso h.mat --var H --layout matlab --preset rayleigh-10db
    -o data.h5
    """
    from wirelessrl.cli.simulate import _fields
    from wirelessrl.datasets import load_mu_miso
    from wirelessrl.importer import import_mu_miso as run

    path = run(channels, output, var=var, layout=layout, pilots_var=pilots_var,
               preset=preset, overrides=_fields(overrides), fmt=fmt, overwrite=overwrite)
    data = load_mu_miso(path)
    cfg = data.config
    click.echo(f"imported {len(data)} samples of K={cfg.n_users} users, M={cfg.n_antennas} "
               f"antennas from {channels} ({'with' if data.has_pilots else 'no'} pilots; "
               f"P_max {cfg.p_max_dbm:g} dBm, noise {cfg.noise_w:.3g} W, P/noise "
               f"{cfg.snr_db:.3g} dB); wrote {path}")
