"""``wirelessrl solve`` and ``wirelessrl evaluate``: classical solvers on data-set files."""

from __future__ import annotations

import json

import click

from wirelessrl.cli import main
from wirelessrl.cli.options import (
    chunk_options,
    chunk_size_option,
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
@click.option("--json", "as_json", is_flag=True,
              help="JSON instead of a table: the summary rows (with --per-link: a document "
                   "with the rows under 'records' and the per-layout and per-link rates).")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV instead of a table: the summary rows (with --per-link: one row per "
                   "method and layout, its sum-rate, min-rate and every link's rate).")
@click.option("--per-link", is_flag=True,
              help="Add the per-layout and per-link rates (needs --json or --csv).")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write the JSON / CSV to this file (.json / .csv) and print the table.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@chunk_size_option
def evaluate(data, solutions, as_json, as_csv, per_link, output, overwrite,
             chunk_size) -> None:
    """Mean sum-rate and min-rate (Mbps; bit/s/Hz for mu-miso) of solution files, with
    95 % confidence intervals (Student t over layouts) and % of FP / max-min optimum
    (MISO pilot files: beamforming gain in % of MRT, localization error in m).

    Says which reference each % column uses, or why it is empty. D2D files are read in
    chunks of layouts (out of core; --per-link keeps every link's rate, as it prints them).

    \b
    wirelessrl evaluate d2d.h5 fp.h5 maxmin.h5 full.h5
    wirelessrl evaluate d2d.h5 fp.h5 maxmin.h5 --per-link --csv -o rates.csv
    """
    from wirelessrl.solutions import evaluate_solutions

    fmt = evaluation_format(as_json, as_csv, per_link, output, overwrite)
    ev = evaluate_solutions(data, list(solutions), per_link=per_link, chunk_size=chunk_size)
    if output is not None:
        path = ev.write(output, fmt, per_link=per_link, overwrite=overwrite)
        click.echo(ev.text())
        click.echo(f"wrote {path}")
    elif fmt == "json":
        click.echo(json.dumps(ev.document(True) if per_link else ev.records(), indent=2))
    elif fmt == "csv":
        click.echo(ev.csv_text(per_link), nl=False)
    else:
        click.echo(ev.text())


def evaluation_format(as_json: bool, as_csv: bool, per_link: bool, output: str | None,
                      overwrite: bool) -> str | None:
    """The output format of ``evaluate`` (``json``, ``csv`` or None for the table); checks
    the flags and the output name before any work."""
    from simulators.validation import ConfigError
    from wirelessrl.results import check_result_output

    if as_json and as_csv:
        raise ConfigError("--json and --csv were both given; expected one of them")
    fmt = "json" if as_json else "csv" if as_csv else None
    if output is not None:
        suffix = check_result_output(output, (".json", ".csv"), overwrite).suffix.lower()
        if fmt is not None and suffix != f".{fmt}":
            raise ConfigError(f"output {output!r} does not match --{fmt}; expected a "
                              f".{fmt} file name")
        fmt = suffix[1:]
    if per_link and fmt is None:
        raise ConfigError("--per-link needs --json or --csv (or -o FILE.json / FILE.csv); "
                          "the table shows the summary only")
    return fmt
