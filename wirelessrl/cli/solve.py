"""``wirelessrl solve`` and ``wirelessrl evaluate``: classical solvers on data-set files."""

from __future__ import annotations

import json

import click

from wirelessrl.cli import main
from wirelessrl.cli.options import (
    chunk_options,
    cluster_options,
    numba_threads_option,
    open_cluster,
    set_threads,
    show_progress,
)

METHODS = ["fp", "wmmse", "maxmin", "maxmin-cvxpy", "full", "random", "binary"]
MU_MISO_METHODS = ["mrt", "zf", "zf-wf", "rzf"]  # plus wmmse, maxmin, maxmin-cvxpy
MISO_METHODS = ["los", "lmmse", "centre", "grid-mmse", "grid-ml", "knn"]  # plus mrt, random


@main.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--method", type=click.Choice(METHODS + MU_MISO_METHODS + MISO_METHODS),
              required=True,
              help="D2D files: fp wmmse maxmin maxmin-cvxpy full random binary; mu-miso "
                   "files: mrt zf zf-wf rzf wmmse maxmin maxmin-cvxpy; miso files: "
                   "beamformers mrt los lmmse random, position estimators centre grid-mmse "
                   "grid-ml knn.")
@click.option("-o", "--output", required=True, help="Output file (.h5 or .mat).")
@click.option("--iterations", type=int, default=None, help="fp / wmmse: iteration limit.")
@click.option("--tol", type=float, default=None, help="fp / wmmse: stop when the change < tol.")
@click.option("--restarts", type=int, default=None, help="fp / wmmse: best of K starts.")
@click.option("--seed", type=int, default=None, help="random / restarts: seed.")
@click.option("--init", default=None, help="mu-miso wmmse: first start, auto mrt zf random.")
@click.option("--power-constraint", default=None,
              help="mu-miso wmmse: total (default) or per-antenna.")
@click.option("--fingerprints", type=click.Path(dir_okay=False), default=None,
              help="miso knn: labelled MISO file of the same system.")
@click.option("--k", "k", type=int, default=None, help="miso knn: neighbours (default 10).")
@click.option("--grid-step-m", type=float, default=None,
              help="miso grid-mmse / grid-ml: grid spacing in m (default 1).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@numba_threads_option
@chunk_options
@cluster_options
def solve(data, method, output, iterations, tol, restarts, seed, init, power_constraint,
          fingerprints, k, grid_step_m, overwrite, threads, chunk_size, dtype, compression,
          scheduler, workers) -> None:
    """Solve every sample of a D2D or mu-miso data file; store powers or beamformers,
    per-sample status, iterations.

    D2D files are solved in chunks of layouts (out of core), in-process or on Dask workers.
    A progress bar is shown on a terminal (stderr)."""
    from wirelessrl.solutions import solution_summary, solve_file

    options = {k: v for k, v in {"iterations": iterations, "tol": tol, "restarts": restarts,
                                 "seed": seed, "init": init,
                                 "power_constraint": power_constraint,
                                 "fingerprints": fingerprints, "k": k,
                                 "grid_step_m": grid_step_m}.items()
               if v is not None}
    set_threads(threads)
    with open_cluster(scheduler, workers) as executor:
        path = solve_file(data, method, output, overwrite=overwrite, chunk_size=chunk_size,
                          dtype=dtype, compression=compression, executor=executor,
                          progress=show_progress(), **options)
    meta, statuses = solution_summary(path)
    click.echo(f"{meta['options'].get('stopping_rule', method)}: {meta['data_n']} layouts in "
               f"{meta['seconds']:.2f} s, status {statuses}; wrote {path}")


@main.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.argument("solutions", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evaluate(data, solutions, as_json) -> None:
    """Mean sum-rate and min-rate (Mbps) of solution files, with % of FP / max-min optimum."""
    from wirelessrl.solutions import evaluate_files

    rows = evaluate_files(data, list(solutions))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    head = f"{'method':<14}{'metric':<10}{'mean':>10}{'% ref':>8}{'% RoM':>8}" \
           f"{'p5':>10}{'p50':>10}{'p95':>10}  reference"
    click.echo(head)
    for r in rows:
        pct = "" if r.pct_of_reference_mean_ratio is None else \
            f"{r.pct_of_reference_mean_ratio:8.1f}{r.pct_of_reference_ratio_of_means:8.1f}"
        click.echo(f"{r.method:<14}{r.metric:<10}{r.mean:10.3f}{pct or ' ' * 16}"
                   f"{r.p5:10.3f}{r.p50:10.3f}{r.p95:10.3f}  {r.reference or ''}")
    units = ", ".join(sorted({r.unit for r in rows}))
    click.echo(f"units: {units}; % ref = mean of per-layout ratios, % RoM = ratio of means")
