"""Where chunks of work run: in this process (the default) or on a Dask cluster.

An executor maps a top-level function over argument tuples and yields the results **in
task order**, so the caller (the client: ``simulate``, ``solve``, ``sweep``) writes them
in the same order whatever ran them. Since every chunk of layouts has its own random
streams (:mod:`simulators.prng`, :class:`baselines.SeedAt`), a file made on a cluster has
the same bytes as one made in-process.

=================  ============================================================
executor           what runs the chunks
=================  ============================================================
``InProcess``      this process, one chunk after the other (no Dask needed)
``DaskExecutor``   the workers of a ``dask.distributed`` cluster: a ``LocalCluster``
                   started and stopped by the command (``--workers N``), or a running
                   scheduler (``--scheduler ADDRESS``, e.g. one of ``dask-jobqueue``)
=================  ============================================================

At most ``window`` tasks are in flight (submitted and not yet consumed; default twice the
number of worker threads), so the client holds a bounded number of results. A worker that
dies mid-task (killed, out of memory) is replaced by its nanny and the scheduler runs the
task again elsewhere (Dask's ``distributed.scheduler.allowed-failures``, 3 by default);
the result is the same because a task depends only on its arguments. Errors a task raises
(:class:`~simulators.validation.ConfigError`) are raised by the client, unchanged.

Example
-------
>>> with open_executor(workers=None) as run:
...     list(run.map_ordered(pow, [(2, 3), (3, 2)]))
[8, 9]
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from simulators.validation import ConfigError, check_int

__all__ = ["ClusterError", "DaskExecutor", "InProcess", "open_executor"]

CONNECT_TIMEOUT_S = 10.0
"""Seconds to wait for ``--scheduler ADDRESS`` before giving up (environment variable
``WIRELESSRL_SCHEDULER_TIMEOUT_S`` overrides it)."""


class ClusterError(RuntimeError):
    """A cluster failure that is not the user's input (a task killed its workers too often)."""


class InProcess:
    """Run every task in this process, in order."""

    workers = 1
    name = "in-process"

    def map_ordered(self, fn: Callable, tasks: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*args)`` for each argument tuple of ``tasks``, in order, lazily."""
        for args in tasks:
            yield fn(*args)


class DaskExecutor:
    """Run tasks on a ``dask.distributed`` client; yield results in task order.

    Input
    -----
    client : ``distributed.Client``
    window : int or None, tasks in flight (None: twice the worker threads, at least 2)
    """

    def __init__(self, client, window: int | None = None) -> None:
        self.client = client
        self.window = window

    @property
    def workers(self) -> int:
        """Worker threads of the cluster (the sum of each worker's ``nthreads``, at least 1)."""
        return max(1, sum(w.get("nthreads", 1)
                          for w in self.client.scheduler_info()["workers"].values()))

    @property
    def name(self) -> str:
        """``"dask (N workers)"``, for progress and log lines."""
        k = len(self.client.scheduler_info()["workers"])
        return f"dask ({k} worker{'' if k == 1 else 's'})"

    def map_ordered(self, fn: Callable, tasks: Iterable[tuple]) -> Iterator[Any]:
        """Yield ``fn(*args)`` for each tuple of ``tasks`` in task order, with at most
        ``window`` tasks in flight; arrays over 1 MiB are scattered to the workers first.
        A task that kills its workers too often raises :class:`ClusterError`."""
        from distributed import KilledWorker

        window = self.window or max(2, 2 * self.workers)
        todo = iter(tasks)
        pending: deque = deque()

        def submit() -> bool:
            args = next(todo, None)
            if args is None:
                return False
            # large arrays (a chunk of gains for a solver) go to the workers as data, not
            # inside the task graph
            args = [self.client.scatter(a, hash=False) if _is_large(a) else a for a in args]
            pending.append(self.client.submit(fn, *args, pure=False))
            return True

        for _ in range(window):
            if not submit():
                break
        try:
            while pending:
                future = pending.popleft()
                try:
                    result = future.result()
                except KilledWorker as err:
                    raise ClusterError(
                        f"a task killed its workers too often and was given up ({err}); see "
                        "the workers' logs (memory limit?)") from None
                future.release()
                submit()
                yield result
        finally:
            for future in pending:
                future.cancel()


def _is_large(value: Any) -> bool:
    return getattr(value, "nbytes", 0) > (1 << 20) and hasattr(value, "dtype")


@contextlib.contextmanager
def open_executor(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    threads_per_worker: int = 1,
    processes: bool = True,
) -> Iterator[InProcess | DaskExecutor]:
    """The executor of a command: in-process, a local Dask cluster, or a running scheduler.

    Input
    -----
    scheduler : str or None, address of a running scheduler (``tcp://host:8786``)
    workers : int >= 1 or None, start a ``LocalCluster`` of this many worker processes on
        the loopback interface (stopped when the block ends)
    threads_per_worker : int >= 1, threads per local worker (also the Numba threads each
        one uses, so ``workers * threads_per_worker`` should not exceed the cores)
    processes : bool, local workers are processes (True) or threads of this process

    Output
    ------
    An executor with ``map_ordered(fn, tasks)`` and ``workers`` (threads that run tasks).

    Raises :class:`ConfigError` (one line) for both options at once, a bad worker count,
    a missing Dask installation or a scheduler that cannot be reached.
    """
    if scheduler is not None and workers is not None:
        raise ConfigError(
            f"scheduler={scheduler!r} and workers={workers!r} were both given; expected one "
            "of them (a running cluster, or a local one of N workers), or neither"
        )
    if scheduler is None and workers is None:
        yield InProcess()
        return
    if workers is not None:
        workers = check_int("workers", workers, 1)
    threads_per_worker = check_int("threads_per_worker", threads_per_worker, 1)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "scheduler/workers need dask.distributed; expected it installed: pip install "
            "'wirelessrl[distributed]'"
        ) from None
    cluster = None
    if workers is not None:
        threads = str(threads_per_worker)
        env = {"NUMBA_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
               "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        # worker processes listen on loopback only; threads use the in-process transport
        extra = {"env": env, "host": "127.0.0.1"} if processes else {}
        cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                               processes=processes, silence_logs=logging.ERROR,
                               # no dashboard; the scheduler's health endpoint on a free port
                               dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                               **extra)
        client = Client(cluster)
    else:
        client = _connect(Client, scheduler)
    try:
        yield DaskExecutor(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _connect(client_cls, address: Any):
    if not isinstance(address, str) or not address.strip():
        raise ConfigError(f"scheduler={address!r} is invalid; expected an address such as "
                          "tcp://10.0.0.5:8786")
    timeout = float(os.environ.get("WIRELESSRL_SCHEDULER_TIMEOUT_S", CONNECT_TIMEOUT_S))
    try:
        return client_cls(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise ConfigError(
            f"scheduler={address!r} cannot be reached ({reason}); expected the address of a "
            "running dask scheduler, such as tcp://10.0.0.5:8786"
        ) from None
