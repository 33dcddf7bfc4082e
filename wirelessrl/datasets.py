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
from simulators.miso import (
    MisoConfig,
    MisoSamples,
    MisoSystem,
    assert_same_system,
    generate_miso,
    make_system,
)
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


def save_miso(
    data: MisoSamples, path: str | os.PathLike, fmt: str | None = None, overwrite: bool = True
) -> Path:
    """Write MISO samples with their system (pilots, sensing vectors), config and seeds."""
    arrays = {
        "positions_m": data.positions_m, "h": data.h, "factors": data.factors, "y": data.y,
        "pilots": data.system.pilots, "sensing": data.system.sensing,
    }
    meta = provenance(MISO_KIND, data.config.to_dict(), data.seed, n=len(data),
                      system_seed=data.system.system_seed)
    return write_arrays(path, arrays, meta, fmt, overwrite)


def load_miso(path: str | os.PathLike, system: MisoSystem | None = None) -> MisoSamples:
    """Load a file written by :func:`save_miso`.

    When ``system`` is given, the file's pilots and sensing vectors must equal it (files of
    one experiment share their system); otherwise :class:`ConfigError` says what differs.
    """
    arrays, meta = read_arrays(path, MISO_KIND)
    config = MisoConfig.from_dict(meta["config"])
    file_system = MisoSystem(arrays["pilots"], arrays["sensing"], int(meta["system_seed"]))
    file_system.check_matches(config)
    if system is not None:
        try:
            assert_same_system(system, file_system)
        except ConfigError as err:
            raise ConfigError(f"file {str(path)!r}: {err}") from None
    n = arrays["h"].shape[0]
    want = {"positions_m": (n, 2), "h": (n, config.n_bs, config.n_antennas),
            "factors": (n, config.n_bs, 3), "y": (n, config.n_bs, config.n_pilots)}
    for name, shape in want.items():
        if arrays[name].shape != shape:
            raise ConfigError(
                f"file {str(path)!r}: {name} has shape {arrays[name].shape}; expected {shape}"
            )
    return MisoSamples(config, int(meta["seed"]), file_system, arrays["positions_m"],
                       arrays["h"], arrays["factors"], arrays["y"])


def simulate_miso_file(
    config: MisoConfig,
    n: int,
    seed: int,
    system_seed: int,
    path: str | os.PathLike,
    fmt: str | None = None,
    overwrite: bool = True,
    progress: bool = False,
) -> Path:
    """Generate ``n`` MISO samples and save them; behind ``wirelessrl simulate miso``."""
    fmt = infer_format(path, fmt)
    ensure_writable(path, overwrite)
    system = make_system(config, system_seed)
    data = generate_miso(config, n, seed, system, progress=progress)
    return save_miso(data, path, fmt, overwrite)
