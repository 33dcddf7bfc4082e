"""``wirelessrl likelihood-floor DATA``: the label-free MISO localization floor of a file."""

from __future__ import annotations

import json

import click

from wirelessrl.cli import main


@main.command("likelihood-floor")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--users", type=click.IntRange(1), default=500, show_default=True,
              help="Number of test users.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True,
              help="First user.")
@click.option("--particles", type=click.IntRange(1), default=64, show_default=True,
              help="Importance-sampling particles per grid point and BS.")
@click.option("--grid-step-m", type=float, default=1.0, show_default=True,
              help="Grid spacing over the user area (m).")
@click.option("--seed", type=click.IntRange(0), default=1, show_default=True,
              help="Seed of the sampler.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def likelihood_floor(data, users, offset, particles, grid_step_m, seed, as_json) -> None:
    """Exact-likelihood position estimates (posterior mean, geometric median, and the
    diagonal approximation) on users of a MISO file; mean / median / p90 / RMSE error in m."""
    from wirelessrl.localization import likelihood_floor_file

    out = likelihood_floor_file(data, users, offset, particles, grid_step_m, seed,
                                progress=users >= 50)
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{users} users from {offset}, {particles} particles, grid {grid_step_m:g} m: "
               f"{out['seconds']:.0f} s; median ESS {out['ess_median']:.1f}")
    click.echo(f"{'estimate':<14}{'mean':>8}{'median':>8}{'p90':>8}{'rmse':>8}")
    for name in ("exact", "exact_geomed", "diag"):
        e = out[name]
        click.echo(f"{name:<14}{e['mean_m']:8.2f}{e['median_m']:8.2f}{e['p90_m']:8.2f}"
                   f"{e['rmse_m']:8.2f}")
    click.echo("units: m; exact = exact-likelihood posterior mean, exact_geomed = its "
               "geometric median, diag = fading correlation ignored")
