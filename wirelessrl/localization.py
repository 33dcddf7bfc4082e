"""The label-free localization floor of a MISO data file (the README's exact-likelihood
figure): :func:`likelihood_floor_file` runs
:func:`baselines.miso_likelihood.exact_likelihood_localization` on users of a file and
summarizes the errors."""

from __future__ import annotations

import os
import time

import numpy as np

from baselines.miso import localization_errors_m, summarize_errors
from baselines.miso_likelihood import ESTIMATES, exact_likelihood_localization
from simulators.validation import ConfigError, check_int
from wirelessrl.datasets import load_miso

__all__ = ["likelihood_floor_file"]


def likelihood_floor_file(path: str | os.PathLike, n_users: int, offset: int = 0,
                          n_particles: int = 64, grid_step_m: float = 1.0, seed: int = 1,
                          progress: bool = False) -> dict:
    """Error summaries (m) of the exact-likelihood estimates on users
    ``offset .. offset + n_users`` of a MISO file (its own system and config).

    Output: ``{"users", "offset", "particles", "grid_step_m", "seconds", "ess_median",
    <estimate>: {mean_m, median_m, p90_m, ..., rmse_m}}`` for each of
    :data:`~baselines.miso_likelihood.ESTIMATES`.
    """
    data = load_miso(path)
    n_users = check_int("users", n_users, 1)
    offset = check_int("offset", offset, 0)
    if offset + n_users > len(data):
        raise ConfigError(f"users={n_users} from offset={offset} exceed the {len(data)} users "
                          f"of {str(path)!r}; expected offset + users <= {len(data)}")
    chosen = slice(offset, offset + n_users)
    start = time.perf_counter()
    est = exact_likelihood_localization(data.config, data.system, data.y[chosen],
                                        grid_step_m=grid_step_m, n_particles=n_particles,
                                        seed=seed, progress=progress)
    out = {"users": n_users, "offset": offset, "particles": n_particles,
           "grid_step_m": grid_step_m, "seconds": time.perf_counter() - start,
           "ess_median": float(np.median(est["ess_median"]))}
    for name in ESTIMATES:
        errors = localization_errors_m(est[name], data.positions_m[chosen])
        out[name] = {**summarize_errors(errors),
                     "rmse_m": float(np.sqrt(np.mean(errors**2)))}
    return out
