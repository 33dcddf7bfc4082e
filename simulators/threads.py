"""Number of threads of the Numba kernels (simulators and solvers), checked at the entry."""

from __future__ import annotations

from simulators.validation import ConfigError


def max_numba_threads() -> int:
    """The most threads Numba can use in this process (``numba.config.NUMBA_NUM_THREADS``:
    the CPU count, or the environment variable ``NUMBA_NUM_THREADS`` read at start)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def set_numba_threads(threads: int) -> int:
    """Run the Numba parallel kernels on ``threads`` threads from now on; return it.

    Input
    -----
    threads : int, from 1 to :func:`max_numba_threads`

    Output
    ------
    int, the number set (``numba.get_num_threads()`` afterwards)

    The results do not depend on it: every layout or sample has its own random stream.

    Example
    -------
    >>> set_numba_threads(1)
    1
    >>> set_numba_threads(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: threads=0 is invalid; expected an integer from 1 to ...
    """
    import numba

    maximum = max_numba_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= maximum:
        raise ConfigError(
            f"threads={threads!r} is invalid; expected an integer from 1 to {maximum} "
            "(numba.config.NUMBA_NUM_THREADS; start with the environment variable "
            "NUMBA_NUM_THREADS set for more)")
    numba.set_num_threads(threads)
    return numba.get_num_threads()
