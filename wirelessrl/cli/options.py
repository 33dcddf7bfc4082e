"""Options shared by the commands that work in chunks and scale out (simulate, solve,
evaluate, sweep)."""

from __future__ import annotations

import sys

import click


def cluster_options(f):
    """``--scheduler ADDRESS`` / ``--workers N``: where the chunks (or sweep points) run."""
    f = click.option("--workers", type=int, default=None, metavar="N",
                     help="Run on a local Dask cluster of N worker processes (started and "
                          "stopped by the command).")(f)
    f = click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run on a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                          "(see docs/cluster.md for Slurm/PBS).")(f)
    return f


def chunk_options(f):
    """``--chunk-size``, ``--dtype``, ``--compression``: how a file is streamed."""
    f = click.option("--compression", type=click.Choice(["none", "gzip", "lzf"]),
                     default="none", show_default=True,
                     help="HDF5 compression of the data sets.")(f)
    f = click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64",
                     show_default=True, help="Stored precision of the floating arrays.")(f)
    return chunk_size_option(f)


def chunk_size_option(f):
    """``--chunk-size N``: layouts read (and computed) at a time."""
    return click.option("--chunk-size", type=int, default=None, metavar="N",
                        help="Layouts per chunk (default: 16 MiB worth); memory grows with "
                             "it, the output does not depend on it.")(f)


def numba_threads_option(f):
    """``--threads N``: threads of the Numba kernels in this process (1 to the CPU count)."""
    return click.option("--threads", type=int, default=None, metavar="N",
                        help="Threads of the Numba kernels in this process, 1 to "
                             "numba.config.NUMBA_NUM_THREADS (default: all); the output does "
                             "not depend on it. Dask workers keep their own.")(f)


def set_threads(threads: int | None) -> None:
    """Apply ``--threads`` (None: leave Numba's default)."""
    if threads is not None:
        from simulators.threads import set_numba_threads

        set_numba_threads(threads)


def show_progress() -> bool:
    """Whether to draw progress bars: when stderr is a terminal (not in logs or pipes)."""
    return sys.stderr.isatty()


def open_cluster(scheduler, workers):
    """The executor for ``--scheduler`` / ``--workers`` (in-process when neither)."""
    from wirelessrl.executors import open_executor

    return open_executor(scheduler=scheduler, workers=workers)
