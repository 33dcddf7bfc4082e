"""Timing shared by the benchmark scripts (run as ``python benchmarks/<name>.py``, which puts
this folder on ``sys.path``)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn()``, in seconds (the least disturbed run
    on a shared machine).

    Example
    -------
    >>> best_time(lambda: sum(range(1000)), 3) > 0.0
    True
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats!r} is invalid; expected an integer >= 1")
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
