"""``wirelessrl report RUN_DIR``: rebuild a finished run's report from its files;
``wirelessrl merge-seeds``: mean ± std over the results of separate runs."""

from __future__ import annotations

import click

from wirelessrl.cli import main


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def report(run_dir) -> None:
    """Rewrite results.csv, results.json, report.md and the plots of RUN_DIR (a folder of
    'wirelessrl reproduce') from its files alone: no training, no network runs."""
    from experiments import report_run

    path = report_run(run_dir, click.echo)
    click.echo(f"done: open {path}")


def _where(pairs: tuple[str, ...]) -> dict[str, str]:
    from simulators.validation import ConfigError

    where = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or not column:
            raise ConfigError(f"--where {pair!r} is invalid; expected COLUMN=VALUE, e.g. "
                              "metric=min-rate")
        if column in where:
            raise ConfigError(f"--where {column}= was given twice ({where[column]!r} and "
                              f"{value!r}); expected one value per column")
        where[column] = value
    return where


@main.command("merge-seeds")
@click.argument("results", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--by", default="table,method", show_default=True, metavar="COLS",
              help="Comma-separated columns that name a row.")
@click.option("--value", default="pct_of_reference_mean_ratio", show_default=True,
              metavar="COL", help="The numeric column merged over seeds.")
@click.option("--where", "where", multiple=True, metavar="COL=VALUE",
              help="Keep only rows whose column equals VALUE (repeatable).")
@click.option("--digits", type=click.IntRange(0, 9), default=1, show_default=True,
              help="Decimals in the table.")
@click.option("-o", "--output", default=None,
              help="Also write the rows: .csv, or .json with the inputs and the version.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def merge_seeds_command(results, by, value, where, digits, output, overwrite) -> None:
    """Mean ± std over seeds of the results.csv files of runs made separately (one seed
    per machine or per day), as a markdown table with one column per seed.

    \b
    wirelessrl merge-seeds runs/d2d-s1/results.csv runs/d2d-s2/results.csv \\
        --where metric=min-rate --by table,method
    """
    from wirelessrl import __version__
    from wirelessrl.results import (
        check_result_output,
        merge_seeds,
        merged_markdown,
        write_csv,
        write_json,
    )

    columns = [c.strip() for c in by.split(",") if c.strip()]
    path = None if output is None else check_result_output(output, (".csv", ".json"),
                                                             overwrite)
    where = _where(where)
    rows = merge_seeds(results, by=columns, value=value, where=where)
    click.echo(merged_markdown(rows, columns, digits))
    if path is not None and path.suffix.lower() == ".csv":
        write_csv(path, rows)
    elif path is not None:
        write_json(path, {"inputs": list(results), "by": columns, "value": value,
                          "where": where, "wirelessrl_version": __version__,
                          "rows": rows})
    if path is not None:
        click.echo(f"wrote {path}")
