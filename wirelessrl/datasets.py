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
    NAMED_SYSTEMS,
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
    """Load a file written by :func:`save_d2d` back into :class:`D2DLayouts`.

    Raises :class:`ConfigError` naming the file and what is wrong when it is missing,
    corrupt, of another kind, or holds arrays of the wrong shape or non-physical gains.
    """
    arrays, meta = read_arrays(path, D2D_KIND)
    config = _file_config(path, meta, D2DConfig)
    seed = _file_seed(path, meta, "seed")
    n = config.n_links
    g = _array(path, arrays, "g")
    if g.ndim != 3 or g.shape[1:] != (n, n) or g.shape[0] < 1:
        raise ConfigError(
            f"file {str(path)!r}: g has shape {g.shape}; expected (batch, {n}, {n})"
        )
    batch = g.shape[0]
    for name, shape in {"tx_m": (batch, n, 2), "rx_m": (batch, n, 2), "redraws": (batch,)}.items():
        if _array(path, arrays, name).shape != shape:
            raise ConfigError(
                f"file {str(path)!r}: {name} has shape {arrays[name].shape}; expected {shape}"
            )
    if not np.issubdtype(g.dtype, np.floating):
        raise ConfigError(f"file {str(path)!r}: g has dtype {g.dtype}; expected floats")
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ConfigError(
            f"file {str(path)!r}: g holds negative or non-finite gains; expected finite "
            "gains >= 0"
        )
    if np.any(np.diagonal(g, axis1=1, axis2=2) <= 0):
        raise ConfigError(
            f"file {str(path)!r}: g holds a direct gain g[b, i, i] <= 0; expected > 0"
        )
    return D2DLayouts(config, seed, arrays["tx_m"], arrays["rx_m"], g, arrays["redraws"])


def _array(path, arrays: dict, name: str) -> np.ndarray:
    if name not in arrays:
        raise ConfigError(
            f"file {str(path)!r} lacks the array {name!r}; expected "
            f"{', '.join(sorted(arrays)) or 'arrays'} plus {name!r}"
        )
    return arrays[name]


def _file_config(path, meta: dict, cls):
    """The system config stored in a file's metadata, rebuilt and validated."""
    values = meta.get("config")
    if not isinstance(values, dict):
        raise ConfigError(
            f"file {str(path)!r}: its metadata config is {values!r}; expected a mapping of "
            f"{cls.__name__} fields"
        )
    try:
        return cls.from_dict(values)
    except ConfigError as err:
        raise ConfigError(f"file {str(path)!r}: config {err}") from None
    except TypeError as err:  # a field of the wrong structure, e.g. a list for a number
        raise ConfigError(f"file {str(path)!r}: config is invalid ({err})") from None


def _file_seed(path, meta: dict, key: str) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"file {str(path)!r}: its metadata {key}={value!r}; expected an integer >= 0"
        )
    return value


def _file_system_seed(path, meta: dict) -> int | str:
    value = meta.get("system_seed")
    if isinstance(value, str) and value in NAMED_SYSTEMS:
        return value
    return _file_seed(path, meta, "system_seed")


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
    config = _file_config(path, meta, MisoConfig)
    seed = _file_seed(path, meta, "seed")
    file_system = MisoSystem(_array(path, arrays, "pilots"), _array(path, arrays, "sensing"),
                             _file_system_seed(path, meta))
    try:
        file_system.check_matches(config)
    except ConfigError as err:
        raise ConfigError(f"file {str(path)!r}: {err}") from None
    if system is not None:
        try:
            assert_same_system(system, file_system)
        except ConfigError as err:
            raise ConfigError(f"file {str(path)!r}: {err}") from None
    h = _array(path, arrays, "h")
    n = h.shape[0] if h.ndim else 0
    want = {"positions_m": (n, 2), "h": (n, config.n_bs, config.n_antennas),
            "factors": (n, config.n_bs, 3), "y": (n, config.n_bs, config.n_pilots)}
    for name, shape in want.items():
        if _array(path, arrays, name).shape != shape or n < 1:
            raise ConfigError(
                f"file {str(path)!r}: {name} has shape {arrays[name].shape}; expected {shape} "
                "with n >= 1"
            )
        if not np.issubdtype(arrays[name].dtype, np.number) or not np.all(
            np.isfinite(arrays[name])
        ):
            raise ConfigError(
                f"file {str(path)!r}: {name} holds non-numeric or non-finite values; "
                "expected finite numbers"
            )
    return MisoSamples(config, seed, file_system, arrays["positions_m"],
                       arrays["h"], arrays["factors"], arrays["y"])


def simulate_miso_file(
    config: MisoConfig,
    n: int,
    seed: int,
    system_seed: int | str,
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


# -- multi-user MISO downlink ------------------------------------------------------------

MU_MISO_KIND = "mu-miso-samples"


def save_mu_miso(data, path: str | os.PathLike, fmt: str | None = None,
                 overwrite: bool = True) -> Path:
    """Write multi-user MISO samples (positions, channels, pilots) with config and seed."""
    arrays = {"positions_m": data.positions_m, "h": data.h, "y": data.y}
    meta = provenance(MU_MISO_KIND, data.config.to_dict(), data.seed, n=len(data))
    return write_arrays(path, arrays, meta, fmt, overwrite)


def load_mu_miso(path: str | os.PathLike):
    """Load a file written by :func:`save_mu_miso` into :class:`MuMisoSamples`.

    Raises :class:`ConfigError` naming the file and what is wrong (kind, shapes, dtype,
    non-finite channels).
    """
    from simulators.mu_miso import MuMisoConfig, MuMisoSamples

    arrays, meta = read_arrays(path, MU_MISO_KIND)
    config = _file_config(path, meta, MuMisoConfig)
    seed = _file_seed(path, meta, "seed")
    h = _array(path, arrays, "h")
    n = h.shape[0] if h.ndim else 0
    k, m = config.n_users, config.n_antennas
    want = {"positions_m": (n, k, 2), "h": (n, k, m), "y": (n, k, m)}
    for name, shape in want.items():
        a = _array(path, arrays, name)
        if a.shape != shape or n < 1:
            raise ConfigError(f"file {str(path)!r}: {name} has shape {a.shape}; expected "
                              f"{shape} with n >= 1")
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
            raise ConfigError(f"file {str(path)!r}: {name} holds non-numeric or non-finite "
                              "values; expected finite numbers")
    return MuMisoSamples(config, seed, arrays["positions_m"],
                         arrays["h"].astype(np.complex128), arrays["y"].astype(np.complex128))


def simulate_mu_miso_file(config, n: int, seed: int, path: str | os.PathLike,
                          fmt: str | None = None, overwrite: bool = True,
                          progress: bool = False) -> Path:
    """Generate ``n`` multi-user MISO samples and save them; behind ``simulate mu-miso``."""
    from simulators.mu_miso import generate_mu_miso

    fmt = infer_format(path, fmt)
    ensure_writable(path, overwrite)
    return save_mu_miso(generate_mu_miso(config, n, seed, progress=progress), path, fmt,
                        overwrite)
