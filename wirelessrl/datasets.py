"""Data-set files: simulate, save and load D2D and MISO data with full provenance.

``simulate_*_file`` work out of core: layouts (samples) are generated in chunks of
``chunk_size`` and streamed into chunked HDF5 data sets (:func:`wirelessrl.fileio.stream_arrays`),
so memory holds one chunk whatever ``n`` is. Every layout has its own random stream, so the
file's bytes depend neither on the chunk size nor on where the chunks ran (in-process or
on Dask workers, :mod:`wirelessrl.executors`). :class:`D2DFile` reads a file back in chunks.

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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.fileio import (
    ArrayReader,
    RowArray,
    check_output,
    infer_format,
    provenance,
    read_arrays,
    stream_arrays,
    write_arrays,
)

if TYPE_CHECKING:
    from simulators.mu_miso import MuMisoConfig, MuMisoSamples
    from wirelessrl.executors import DaskExecutor, InProcess

D2D_KIND = "d2d-layouts"
MISO_KIND = "miso-samples"

DTYPES = {"float64": (np.float64, np.complex128), "float32": (np.float32, np.complex64)}
"""Stored precision (``--dtype``): real and complex dtype of the floating arrays."""
CHUNK_BYTES = 16 << 20
"""Default chunk: as many layouts as fit in this many bytes of stored arrays (at least 1),
e.g. 14,873 layouts of the ``paper`` preset in float64, 2 layouts of 1,000 links."""


def check_dtype(dtype: str) -> str:
    """``dtype`` if it is a key of :data:`DTYPES` (``"float64"``, ``"float32"``), else a
    :class:`ConfigError`.

    Example
    -------
    >>> check_dtype("float32")
    'float32'
    """
    return check_choice("dtype", dtype, tuple(DTYPES))


def chunk_rows(chunk_size: int | None, rows: dict[str, RowArray]) -> int:
    """``chunk_size`` checked (an int >= 1), or the default from :data:`CHUNK_BYTES`."""
    if chunk_size is None:
        row_bytes = sum(spec.row_bytes for spec in rows.values())
        return max(1, CHUNK_BYTES // max(1, row_bytes))
    return check_int("chunk_size", chunk_size, 1)


def _float_dtypes(dtype: str) -> tuple[np.dtype, np.dtype]:
    real, cplx = DTYPES[check_dtype(dtype)]
    return np.dtype(real), np.dtype(cplx)


POSITION_ARRAYS = ("tx_m", "rx_m", "redraws")
"""Arrays of a simulated D2D file beside ``g``; a file of imported gains
(:mod:`wirelessrl.importer`) has none of them (all or none are present)."""


def save_d2d(
    data: D2DLayouts, path: str | os.PathLike, fmt: str | None = None, overwrite: bool = True,
    **extra,
) -> Path:
    """Write layouts (gains; positions and redraw counts when known), config and seed;
    ``extra`` entries go into the metadata (e.g. ``imported_from``).

    ``fmt`` None: ``.mat`` files are MATLAB, anything else HDF5. Returns the path.

    Example
    -------
    >>> from simulators.d2d import generate_d2d
    >>> path = save_d2d(generate_d2d(D2DConfig.from_preset("paper"), 3, seed=2), "d2d.mat")
    >>> load_d2d(path).g.shape
    (3, 10, 10)
    """
    arrays = {"g": data.g}
    if data.has_positions:
        arrays.update(tx_m=data.tx_m, rx_m=data.rx_m, redraws=data.redraws)
    meta = provenance(D2D_KIND, data.config.to_dict(), data.seed, n=len(data), **extra)
    return write_arrays(path, arrays, meta, fmt, overwrite)


def load_d2d(path: str | os.PathLike) -> D2DLayouts:
    """Load a file written by :func:`save_d2d` back into :class:`D2DLayouts`.

    Raises :class:`ConfigError` naming the file and what is wrong when it is missing,
    corrupt, of another kind, or holds arrays of the wrong shape or non-physical gains.
    """
    arrays, meta = read_arrays(path, D2D_KIND)
    config = _file_config(path, meta, D2DConfig)
    seed = _imported_seed(path, meta)
    g = _array(path, arrays, "g")
    _check_d2d_shapes(path, config, {name: a.shape for name, a in arrays.items()}, g.dtype)
    _check_gains(path, g)
    return D2DLayouts(config, seed, arrays.get("tx_m"), arrays.get("rx_m"), g,
                      arrays.get("redraws"))


def _imported_seed(path, meta: dict) -> int | None:
    """The seed of a data file; None only for imported data (``imported_from`` set)."""
    if meta.get("seed") is None and meta.get("imported_from"):
        return None
    return _file_seed(path, meta, "seed")


def _check_d2d_shapes(path, config: D2DConfig, shapes: dict, g_dtype) -> int:
    """Shapes of a D2D file's arrays against its config; return the number of layouts."""
    n = config.n_links
    g_shape = tuple(shapes["g"])
    if len(g_shape) != 3 or g_shape[1:] != (n, n) or g_shape[0] < 1:
        raise ConfigError(
            f"file {str(path)!r}: g has shape {g_shape}; expected (batch, {n}, {n})"
        )
    batch = g_shape[0]
    present = [name for name in POSITION_ARRAYS if name in shapes]
    if present and len(present) != len(POSITION_ARRAYS):
        name = next(k for k in POSITION_ARRAYS if k not in shapes)
        raise ConfigError(
            f"file {str(path)!r} lacks the array {name!r}; expected g alone (imported gains) "
            f"or g with {', '.join(POSITION_ARRAYS)}"
        )
    for name, shape in {"tx_m": (batch, n, 2), "rx_m": (batch, n, 2), "redraws": (batch,)}.items():
        if name in shapes and tuple(shapes[name]) != shape:
            raise ConfigError(
                f"file {str(path)!r}: {name} has shape {tuple(shapes[name])}; expected {shape}"
            )
    if not np.issubdtype(g_dtype, np.floating):
        raise ConfigError(f"file {str(path)!r}: g has dtype {g_dtype}; expected floats")
    return batch


def _check_gains(path, g: np.ndarray) -> None:
    if not np.all(np.isfinite(g)) or np.any(g < 0):
        raise ConfigError(
            f"file {str(path)!r}: g holds negative or non-finite gains; expected finite "
            "gains >= 0"
        )
    if np.any(np.diagonal(g, axis1=1, axis2=2) <= 0):
        raise ConfigError(
            f"file {str(path)!r}: g holds a direct gain g[b, i, i] <= 0; expected > 0"
        )


class D2DFile:
    """A D2D data file opened for reading in chunks of layouts (memory: one chunk).

    Opening checks the kind, the metadata checksum, the config, the seed and the arrays'
    shapes; :meth:`chunks` checks the gains of every chunk and, over a full pass, the
    arrays' checksum (raising :class:`ConfigError` after the last chunk if it differs).

    Example
    -------
    >>> with D2DFile("d2d.h5") as f:                               # doctest: +SKIP
    ...     for start, part in f.chunks(10_000):
    ...         part["g"].shape                                   # (<= 10000, 10, 10)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self.reader = ArrayReader(path, D2D_KIND)
        try:
            meta = self.reader.meta
            self.config = _file_config(path, meta, D2DConfig)
            self.seed = _imported_seed(path, meta)
            names = self.reader.names
            if "g" not in names:
                raise ConfigError(
                    f"file {str(path)!r} lacks the array 'g'; expected "
                    f"{', '.join(names) or 'arrays'} plus 'g'"
                )
            self.n = _check_d2d_shapes(
                path, self.config, {k: self.reader.shape(k) for k in names},
                self.reader.dtype("g"))
        except ConfigError:
            self.reader.close()
            raise

    def __enter__(self) -> D2DFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying file (also done by ``with``)."""
        self.reader.close()

    def __len__(self) -> int:
        return self.n

    def chunks(self, chunk_size: int, names: tuple[str, ...] = ("g",), *,
               verify: bool = True) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Yield ``(start, {name: rows})`` over all layouts, gains checked per chunk.

        ``rows`` are ``[m, ...]`` arrays of at most ``chunk_size`` layouts (``g : [m, n, n]``
        linear); with ``verify`` the file checksum is checked after the last chunk.
        """
        for start, part in self.reader.iter_rows(list(names), chunk_size, verify=verify):
            if "g" in part:
                _check_gains(self.path, part["g"])
            yield start, part


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


def d2d_rows(config: D2DConfig, dtype: str = "float64") -> dict[str, RowArray]:
    """Per-layout arrays of a D2D file and their stored dtypes."""
    real, _ = _float_dtypes(dtype)
    n = config.n_links
    return {"tx_m": RowArray((n, 2), real), "rx_m": RowArray((n, 2), real),
            "g": RowArray((n, n), real), "redraws": RowArray((), np.int64)}


def d2d_chunk(start: int, stop: int, config: D2DConfig, seed: int,
              dtype: str = "float64") -> dict[str, np.ndarray]:
    """Layouts ``start .. stop - 1`` of ``(config, seed)`` as the arrays of a D2D file
    (a top-level function, so Dask can send it to workers)."""
    data = generate_d2d(config, stop - start, seed, chunk_size=stop - start,
                        first_index=start)
    real, _ = _float_dtypes(dtype)
    return {"tx_m": data.tx_m.astype(real, copy=False),
            "rx_m": data.rx_m.astype(real, copy=False),
            "g": data.g.astype(real, copy=False), "redraws": data.redraws}


def _stream_chunks(path, n, rows, meta, chunk_fn, args, chunk, *, fmt, overwrite,
                   compression, executor, progress, desc, fixed=None) -> Path:
    """Compute ``chunk_fn(start, stop, *args)`` for consecutive chunks (in-process or on
    an executor) and stream them, in order, into one file."""
    from tqdm.auto import tqdm

    from wirelessrl.executors import InProcess

    run = executor or InProcess()
    tasks = ((start, min(start + chunk, n), *args) for start in range(0, n, chunk))
    with stream_arrays(path, n, rows, meta, fixed=fixed, fmt=fmt, overwrite=overwrite,
                       compression=compression) as writer, \
            tqdm(total=n, desc=desc, unit="layout" if "d2d" in desc else "sample",
                 disable=not progress) as bar:
        for arrays in run.map_ordered(chunk_fn, tasks):
            writer.append(arrays)
            bar.update(len(next(iter(arrays.values()))))
    return Path(path)


def simulate_d2d_file(
    config: D2DConfig,
    n: int,
    seed: int,
    path: str | os.PathLike,
    fmt: str | None = None,
    overwrite: bool = True,
    progress: bool = False,
    *,
    chunk_size: int | None = None,
    dtype: str = "float64",
    compression: str | None = None,
    executor: InProcess | DaskExecutor | None = None,
) -> Path:
    """Generate ``n`` layouts and save them, chunk by chunk; behind ``wirelessrl simulate d2d``.

    Input
    -----
    config, n, seed : as :func:`simulators.d2d.generate_d2d`
    path, fmt, overwrite : output file (HDF5, or ``.mat`` assembled in memory)
    progress : bool, a tqdm bar over layouts
    chunk_size : int >= 1 or None, layouts per chunk (None: :data:`CHUNK_BYTES` worth);
        peak memory grows with it, the file's bytes do not depend on it
    dtype : ``"float64"`` or ``"float32"``, stored precision of positions and gains
    compression : None / ``"none"``, ``"gzip"`` or ``"lzf"``
    executor : None (in-process) or an executor of :func:`wirelessrl.executors.open_executor`

    Output
    ------
    Path of the file: arrays ``tx_m, rx_m [n, n_links, 2]`` (m), ``g [n, n_links, n_links]``
    (linear), ``redraws [n]``, with config, seed, version and checksums.
    """
    if not isinstance(config, D2DConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a D2DConfig")
    fmt = infer_format(path, fmt)
    n = check_int("n", n, 1)
    check_int("seed", seed, 0)
    check_output(path, overwrite)
    rows = d2d_rows(config, dtype)
    chunk = chunk_rows(chunk_size, rows)
    meta = provenance(D2D_KIND, config.to_dict(), int(seed), n=n)
    return _stream_chunks(path, n, rows, meta, d2d_chunk, (config, int(seed), dtype), chunk,
                          fmt=fmt, overwrite=overwrite, compression=compression,
                          executor=executor, progress=progress, desc="d2d layouts")


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


def miso_rows(config: MisoConfig, dtype: str = "float64") -> dict[str, RowArray]:
    """Per-sample arrays of a MISO file and their stored dtypes."""
    real, cplx = _float_dtypes(dtype)
    return {"positions_m": RowArray((2,), real),
            "h": RowArray((config.n_bs, config.n_antennas), cplx),
            "factors": RowArray((config.n_bs, 3), real),
            "y": RowArray((config.n_bs, config.n_pilots), cplx)}


def miso_chunk(start: int, stop: int, config: MisoConfig, seed: int, system: MisoSystem,
               dtype: str = "float64") -> dict[str, np.ndarray]:
    """Samples ``start .. stop - 1`` as the per-sample arrays of a MISO file."""
    data = generate_miso(config, stop - start, seed, system, chunk_size=stop - start,
                         first_index=start)
    rows = miso_rows(config, dtype)
    return {name: getattr(data, name).astype(rows[name].dtype, copy=False) for name in rows}


def simulate_miso_file(
    config: MisoConfig,
    n: int,
    seed: int,
    system_seed: int | str,
    path: str | os.PathLike,
    fmt: str | None = None,
    overwrite: bool = True,
    progress: bool = False,
    *,
    chunk_size: int | None = None,
    dtype: str = "float64",
    compression: str | None = None,
    executor: InProcess | DaskExecutor | None = None,
) -> Path:
    """Generate ``n`` MISO samples and save them chunk by chunk; behind
    ``wirelessrl simulate miso``. Options as :func:`simulate_d2d_file`; the system (pilots,
    sensing vectors) is stored whole.

    Example
    -------
    >>> path = simulate_miso_file(MisoConfig.from_preset("paper"), n=8, seed=1,
    ...                           system_seed="paper", path="miso.h5")
    >>> data = load_miso(path)
    >>> data.h.shape, data.y.shape, data.system.system_seed
    ((8, 3, 16), (8, 3, 4), 'paper')
    """
    if not isinstance(config, MisoConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a MisoConfig")
    fmt = infer_format(path, fmt)
    n = check_int("n", n, 1)
    check_int("seed", seed, 0)
    check_output(path, overwrite)
    system = make_system(config, system_seed)
    rows = miso_rows(config, dtype)
    chunk = chunk_rows(chunk_size, rows)
    meta = provenance(MISO_KIND, config.to_dict(), int(seed), n=n,
                      system_seed=system.system_seed)
    fixed = {"pilots": system.pilots, "sensing": system.sensing}
    return _stream_chunks(path, n, rows, meta, miso_chunk, (config, int(seed), system, dtype),
                          chunk, fmt=fmt, overwrite=overwrite, compression=compression,
                          executor=executor, progress=progress, desc="miso samples",
                          fixed=fixed)


# -- multi-user MISO downlink ------------------------------------------------------------

MU_MISO_KIND = "mu-miso-samples"


MU_MISO_OPTIONAL_ARRAYS = ("positions_m", "y")
"""Arrays of a simulated multi-user MISO file beside ``h``; a file of imported channels
(:func:`wirelessrl.importer.import_mu_miso`) has no ``positions_m``, and ``y`` only when
pilots were imported."""


def save_mu_miso(data: MuMisoSamples, path: str | os.PathLike, fmt: str | None = None,
                 overwrite: bool = True, **extra) -> Path:
    """Write multi-user MISO samples (channels; positions and pilots when known) with config
    and seed; ``extra`` entries go into the metadata (e.g. ``imported_from``)."""
    arrays = {"h": data.h}
    arrays.update({name: getattr(data, name) for name in MU_MISO_OPTIONAL_ARRAYS
                   if getattr(data, name) is not None})
    meta = provenance(MU_MISO_KIND, data.config.to_dict(), data.seed, n=len(data), **extra)
    return write_arrays(path, arrays, meta, fmt, overwrite)


def load_mu_miso(path: str | os.PathLike) -> MuMisoSamples:
    """Load a file written by :func:`save_mu_miso` into :class:`MuMisoSamples`.

    In a file of imported channels (``imported_from`` set) ``positions_m`` and ``y`` may
    be absent (None) and ``seed`` is None. Raises :class:`ConfigError` naming the file and
    what is wrong (kind, shapes, dtype, non-finite channels).
    """
    from simulators.mu_miso import MuMisoConfig, MuMisoSamples

    arrays, meta = read_arrays(path, MU_MISO_KIND)
    config = _file_config(path, meta, MuMisoConfig)
    seed = _imported_seed(path, meta)
    h = _array(path, arrays, "h")
    n = h.shape[0] if h.ndim else 0
    k, m = config.n_users, config.n_antennas
    want = {"positions_m": (n, k, 2), "h": (n, k, m), "y": (n, k, m)}
    imported = bool(meta.get("imported_from"))
    for name, shape in want.items():
        if name not in arrays and name in MU_MISO_OPTIONAL_ARRAYS and imported:
            continue
        a = _array(path, arrays, name)
        if a.shape != shape or n < 1:
            raise ConfigError(f"file {str(path)!r}: {name} has shape {a.shape}; expected "
                              f"{shape} with n >= 1")
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
            raise ConfigError(f"file {str(path)!r}: {name} holds non-numeric or non-finite "
                              "values; expected finite numbers")
    y = arrays.get("y")
    return MuMisoSamples(config, seed, arrays.get("positions_m"), h.astype(np.complex128),
                         None if y is None else y.astype(np.complex128))


def mu_miso_rows(config: MuMisoConfig, dtype: str = "float64") -> dict[str, RowArray]:
    """Per-sample arrays of a multi-user MISO file and their stored dtypes."""
    real, cplx = _float_dtypes(dtype)
    k_users, m_ant = config.n_users, config.n_antennas
    return {"positions_m": RowArray((k_users, 2), real),
            "h": RowArray((k_users, m_ant), cplx), "y": RowArray((k_users, m_ant), cplx)}


def mu_miso_chunk(start: int, stop: int, config: MuMisoConfig, seed: int,
                  dtype: str = "float64") -> dict[str, np.ndarray]:
    """Samples ``start .. stop - 1`` of ``(config, seed)`` as the arrays of a multi-user
    MISO file (a top-level function, so Dask can send it to workers)."""
    from simulators.mu_miso import generate_mu_miso

    data = generate_mu_miso(config, stop - start, seed, chunk_size=stop - start,
                            first_index=start)
    real, cplx = _float_dtypes(dtype)
    return {"positions_m": data.positions_m.astype(real, copy=False),
            "h": data.h.astype(cplx, copy=False), "y": data.y.astype(cplx, copy=False)}


def simulate_mu_miso_file(config: MuMisoConfig, n: int, seed: int, path: str | os.PathLike,
                          fmt: str | None = None, overwrite: bool = True,
                          progress: bool = False, *, chunk_size: int | None = None,
                          dtype: str = "float64", compression: str | None = None,
                          executor: InProcess | DaskExecutor | None = None) -> Path:
    """Generate ``n`` multi-user MISO samples into a file, out of core; behind ``simulate
    mu-miso``.

    Samples are drawn and written ``chunk_size`` at a time (None: about
    :data:`CHUNK_BYTES` of arrays per chunk), in-process or on ``executor``; sample ``b``
    depends only on ``(config, seed, b)``, so the file's arrays (and checksum) do not
    depend on the chunk size or the executor. ``dtype`` (``float64`` / ``float32``) is the
    stored precision (complex128 / complex64 for the channels).

    Example
    -------
    >>> from simulators.mu_miso import MuMisoConfig
    >>> path = simulate_mu_miso_file(MuMisoConfig.from_preset("rayleigh-10db"), 6, 1, "mu.h5")
    >>> load_mu_miso(path).h.shape
    (6, 4, 4)
    """
    from simulators.mu_miso import MuMisoConfig

    if not isinstance(config, MuMisoConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a MuMisoConfig")
    fmt = infer_format(path, fmt)
    n = check_int("n", n, 1)
    check_int("seed", seed, 0)
    check_dtype(dtype)
    check_output(path, overwrite)
    rows = mu_miso_rows(config, dtype)
    chunk = chunk_rows(chunk_size, rows)
    meta = provenance(MU_MISO_KIND, config.to_dict(), int(seed), n=n)
    return _stream_chunks(path, n, rows, meta, mu_miso_chunk, (config, int(seed), dtype),
                          chunk, fmt=fmt, overwrite=overwrite, compression=compression,
                          executor=executor, progress=progress, desc="mu-miso samples")
