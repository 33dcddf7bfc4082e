"""``wirelessrl reproduce d2d|miso|mnist``: one command per experiment."""

from __future__ import annotations

import os
import sys

import click

from experiments import TASKS
from wirelessrl.cli import main


@main.command()
@click.argument("experiment", type=click.Choice(list(TASKS)))
@click.option("--scale", type=click.Choice(["tiny", "quick", "paper"]), default="quick",
              show_default=True, help="Data sizes and epochs (see the experiment's YAML).")
@click.option("--seeds", default=None, help="Comma-separated seeds (default: the config's).")
@click.option("-o", "--output", "run_dir", default=None,
              help="Run directory (default: runs/<experiment>-<scale>).")
@click.option("--config", "config_path", default=None, type=click.Path(dir_okay=False),
              help="YAML config (default: the packaged experiments/<experiment>.yaml).")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="Torch CPU threads (small networks often run fastest with 1).")
@click.argument("overrides", nargs=-1)
def reproduce(experiment, scale, seeds, run_dir, config_path, threads, overrides) -> None:
    """Simulate, solve, train, transfer, evaluate and report, resumably.

    OVERRIDES are KEY=VALUE pairs on the config, nested keys with dots, for example
    source.epochs=50 target.lr=1e-3.
    """
    from experiments import load_experiment_config, parse_seeds, run_experiment
    from simulators.validation import ConfigError

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # started by torchrun
        if os.environ.get("RANK", "0") != "0":
            sys.exit(2)  # rank 0 says why
        raise ConfigError("reproduce runs in one process, not under torchrun; train "
                          "data-parallel with 'torchrun --standalone --nproc_per_node N -m "
                          "wirelessrl train d2d --data FILE --objective sum -o MODEL_DIR'")
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    config = load_experiment_config(experiment, scale, overrides, config_path)
    seed_list = parse_seeds(seeds, config.get("seeds", [0]))
    report = run_experiment(experiment, config, run_dir or f"runs/{experiment}-{scale}",
                            seed_list, click.echo)
    click.echo(f"done: open {report}")
