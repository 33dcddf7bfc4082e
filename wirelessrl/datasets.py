"""Data-set files: simulate, save and load D2D and MISO data with full provenance.

Example
-------
>>> from simulators.d2d import D2DConfig
>>> path = simulate_d2d_file(D2DConfig.from_preset("paper"), n=100, seed=1, path="d2d.h5")
>>> data = load_d2d(path)
>>> data.g.shape
(100, 10, 10)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from simulators.d2d import D2DConfig, D2DLayouts, generate_d2d
from simulators.validation import ConfigError
from wirelessrl.fileio import ensure_writable, infer_format, provenance, read_arrays, write_arrays

D2D_KIND = "d2d-layouts"
MISO_KIND = "miso-samples"


def save_d2d(
    data: D2DLayouts, path: str | os.PathLike, fmt: str | None = None, overwrite: bool = True
) -> Path:
    """Write layouts (positions, gains, redraw counts) and their config and seed."""
    arrays = {"tx_m": data.tx_m, "rx_m": data.rx_m, "g": data.g, "redraws": data.redraws}
    meta = provenance(D2D_KIND, data.config.to_dict(), data.seed, n=len(data))
    return write_arrays(path, arrays, meta, fmt, overwrite)


def load_d2d(path: str | os.PathLike) -> D2DLayouts:
    """Load a file written by :func:`save_d2d` back into :class:`D2DLayouts`."""
    arrays, meta = read_arrays(path, D2D_KIND)
    config = D2DConfig.from_dict(meta["config"])
    g = arrays["g"]
    if g.ndim != 3 or g.shape[1:] != (config.n_links, config.n_links):
        raise ConfigError(
            f"file {str(path)!r}: g has shape {g.shape}; expected (batch, {config.n_links}, "
            f"{config.n_links})"
        )
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ConfigError(f"file {str(path)!r}: g holds negative or non-finite gains")
    return D2DLayouts(
        config, int(meta["seed"]), arrays["tx_m"], arrays["rx_m"], g, arrays["redraws"]
    )


def simulate_d2d_file(
    config: D2DConfig,
    n: int,
    seed: int,
    path: str | os.PathLike,
    fmt: str | None = None,
    overwrite: bool = True,
    progress: bool = False,
) -> Path:
    """Generate ``n`` layouts and save them; the one call behind ``wirelessrl simulate d2d``."""
    fmt = infer_format(path, fmt)
    ensure_writable(path, overwrite)
    return save_d2d(generate_d2d(config, n, seed, progress=progress), path, fmt, overwrite)
