r"""Bring your own channels: a gains array (D2D) or complex channels (multi-user MISO) from
another tool -> an ordinary data file.

**D2D gains.** Behind ``wirelessrl import d2d GAINS -o data.h5``. The file written holds
``g`` and the same metadata as a file of ``wirelessrl simulate d2d`` (kind ``d2d-layouts``,
a :class:`~simulators.d2d.D2DConfig` with the power, noise, bandwidth and SNR gap, version,
checksums), so ``solve``, ``evaluate``, ``train`` and ``predict`` take it unchanged. What
differs: no transmitter / receiver positions (the arrays ``tx_m``, ``rx_m``, ``redraws`` are
absent, ``D2DLayouts.tx_m`` is None), ``seed`` is None, and the provenance says where the
gains came from: ``imported_from`` (the absolute path), ``source_sha256`` (of the file's
bytes), ``source_variable`` and ``source_layout``.

Accepted sources (by suffix)
----------------------------
``.npy``            one array (``allow_pickle=False``: object arrays are refused)
``.npz``            ``--var`` names the array (optional when there is one)
``.mat``            MATLAB v4-v7 (scipy) or v7.3 (HDF5); ``--var`` names the variable
                    (optional when there is one numeric variable)
``.csv``            one layout per row, ``N * N`` comma-separated numbers in row-major order
                    (``g[i, j]`` at column ``i * N + j``, ``i`` the receiver); an optional
                    header line of names is skipped
``.h5``/``.hdf5``   ``--var`` names the data set (optional when there is one)

``layout``: ``batch-first`` (default) reads an array of shape ``(batch, N, N)``,
``matlab`` one of shape ``(N, N, batch)``; in both, rows are receivers and columns
transmitters: ``g[b, i, j]`` (``G(i, j, b)`` in MATLAB) is the linear power gain from
transmitter ``j`` to receiver ``i``. Shapes are as MATLAB shows them for both ``.mat``
versions (a v7.3 file is read in MATLAB's order; a single MATLAB layout ``(N, N)`` is one
layout with ``layout="matlab"``). A cube ``(K, K, K)`` from a ``.mat`` file needs an explicit
``layout``. An HDF5 data set is read in C order as ``h5py`` shows it (an array written by
MATLAB's ``h5write`` appears with its axes reversed: save it with ``save -v7.3`` instead).

Checks: real numbers (integers are accepted, complex, text, logical and cell arrays are
not: a complex channel ``h`` is imported as ``abs(h) ** 2``), 3-D, square, at least one
layout, every gain finite and ``>= 0``, every direct gain ``g[b, i, i] > 0``; the error
names the first bad layout and entry. ``n_links`` is taken from the data; a ``--set
n_links=...`` that disagrees is an error.

**Multi-user MISO channels.** Behind ``wirelessrl import mu-miso CHANNELS -o data.h5``
(:func:`import_mu_miso`): complex channels ``h[b, k, m]`` (user ``k``, BS antenna ``m``;
``H(k, m, b)`` in MATLAB with ``layout="matlab"``) from ``.npy``, ``.npz``, ``.mat``
(v4-v7.3, complex included) or HDF5 (a compound of ``real`` / ``imag`` fields, as MATLAB
writes, is read as complex); ``.csv`` is refused. A 3-D array from a ``.mat`` file needs an
explicit ``layout`` (any shape reads both ways). Real arrays are accepted as complex with
zero imaginary part. Checks: 3-D, at least one sample, user and antenna, every entry finite,
no user with an all-zero channel. ``n_users`` and ``n_antennas`` come from the data (a
disagreeing ``--set`` is an error), the rest (power, noise, bandwidth, pilot power) from the
preset (default ``cell``) and overrides. The file (kind ``mu-miso-samples``) has no
``positions_m``, has the pilots ``y`` only when ``pilots_var`` names them (same shape and
layout as ``h``), ``seed`` None, and the provenance of the gains above plus
``source_pilots_variable``.

Example
-------
>>> import numpy as np
>>> from simulators.d2d import D2DConfig, generate_d2d
>>> np.save("gains.npy", generate_d2d(D2DConfig.from_preset("paper", n_links=4), 20, 1).g)
>>> path = import_d2d("gains.npy", "imported.h5", overrides={"snr_gap_db": 3.0})
>>> from wirelessrl.datasets import load_d2d
>>> data = load_d2d(path)
>>> data.g.shape, data.config.n_links, data.config.snr_gap_db, data.tx_m
((20, 4, 4), 4, 3.0, None)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from simulators.d2d import D2DConfig, D2DLayouts
from simulators.mu_miso import MuMisoConfig, MuMisoSamples
from simulators.presets import PresetConfig
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.fileio import check_output, infer_format

__all__ = ["LAYOUTS", "SOURCE_FORMATS", "ImportedChannels", "ImportedGains", "ImportedSource",
           "check_channels_array", "check_gains_array", "config_for", "d2d_config_for",
           "import_d2d", "import_mu_miso", "mu_miso_config_for", "read_channels", "read_gains"]

LAYOUTS = ("batch-first", "matlab")
"""Axis orders of an imported gains array: ``(batch, N, N)`` or MATLAB's ``(N, N, batch)``."""

SOURCE_FORMATS = {".npy": "npy", ".npz": "npz", ".mat": "mat", ".csv": "csv", ".h5": "h5",
                  ".hdf5": "h5"}
"""File suffix -> reader."""

_Config = TypeVar("_Config", bound=PresetConfig)

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass
class ImportedSource:
    """Where an imported array came from (shared by gains and channels).

    Attributes
    ----------
    path : Path, the source file
    variable : str or None, the variable / data set read (None: a ``.npy`` or ``.csv``)
    layout : str, a key of :data:`LAYOUTS`
    sha256 : str, SHA-256 of the source file's bytes
    """

    path: Path
    variable: str | None
    layout: str
    sha256: str

    def provenance(self) -> dict[str, Any]:
        """The metadata entries of the file written from this source."""
        return {"imported_from": str(self.path.resolve()), "source_sha256": self.sha256,
                "source_variable": self.variable, "source_layout": self.layout}


@dataclass
class ImportedGains(ImportedSource):
    """Gains read from a file and checked: ``g : [batch, N, N]``, float64, linear power
    gains, ``g[b, i, j]`` from tx j to rx i (source attributes as :class:`ImportedSource`)."""

    g: np.ndarray = None  # type: ignore[assignment]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pick(where: str, names: list[str], var: str | None, what: str) -> str:
    """The variable ``var`` of a file holding ``names`` (the only one when ``var`` is None)."""
    shown = ", ".join(names) if names else "none"
    if var is None:
        if len(names) == 1:
            return names[0]
        raise ConfigError(f"{where} holds {len(names)} {what}s ({shown}); expected --var NAME "
                          "to choose one")
    if var not in names:
        raise ConfigError(f"{where}: --var {var!r} is not in the file; {what}s present: {shown}")
    return var


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(1024)
    # MATLAB v7.3 files carry a 512-byte user block before the HDF5 signature
    return head.startswith(_HDF5_SIGNATURE) or head[512:520] == _HDF5_SIGNATURE


@contextlib.contextmanager
def _numpy_errors(where: str, suffix: str) -> Iterator[None]:
    """``np.load`` failures as one-line errors naming the file (pickles are never loaded)."""
    try:
        yield
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ConfigError(f"{where} holds Python objects (a pickled array), which are not "
                              "loaded for safety; expected a numeric array") from None
        raise ConfigError(f"{where} is not a readable {suffix} file ({err})") from None
    except OSError as err:
        raise ConfigError(f"{where} is not a readable {suffix} file ({err})") from None


def _read_npy(path: Path, where: str) -> np.ndarray:
    with _numpy_errors(where, ".npy"):
        return np.load(path, allow_pickle=False)


def _read_npz(path: Path, where: str, var: str | None) -> tuple[np.ndarray, str]:
    with _numpy_errors(where, ".npz"), np.load(path, allow_pickle=False) as z:
        name = _pick(where, sorted(z.files), var, "array")
        return z[name], name


def _h5_datasets(f) -> list[str]:
    import h5py

    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name)
                 if isinstance(obj, h5py.Dataset) and not name.startswith("#refs#") else None)
    return sorted(names)


def _read_h5(path: Path, where: str, var: str | None, matlab: bool) -> tuple[np.ndarray, str]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            name = _pick(where, _h5_datasets(f), var, "variable" if matlab else "data set")
            ds = f[name]
            if matlab and ds.attrs.get("MATLAB_class", b"") in (b"char", "char"):
                raise ConfigError(f"{where}: {name!r} holds text (a MATLAB char array); "
                                  "expected numbers")
            if ds.dtype.names and {"real", "imag"} <= set(ds.dtype.names):  # MATLAB complex
                a = ds["real"][()] + 1j * ds["imag"][()]
            else:
                a = ds[()]
    except ConfigError:
        raise
    except Exception as err:  # h5py raises many types for corrupt or foreign files
        raise ConfigError(f"{where} is not a readable HDF5 file ({type(err).__name__})") from None
    a = np.asarray(a)
    # a v7.3 .mat file stores MATLAB's column-major array: reverse the axes to MATLAB's order
    return (a.T if matlab else a), name


def _read_mat(path: Path, where: str, var: str | None) -> tuple[np.ndarray, str]:
    if _is_hdf5(path):
        return _read_h5(path, where, var, matlab=True)
    from scipy.io import loadmat, whosmat

    try:
        found = whosmat(path)
    except Exception as err:  # scipy raises many types for foreign files
        raise ConfigError(f"{where} is not a readable MATLAB file ({type(err).__name__})") from None
    names = sorted(name for name, _shape, _cls in found)
    if var is None:
        numeric = [n for n, _s, cls in found if cls not in ("char", "cell", "struct", "object")]
        name = _pick(where, names if len(numeric) != 1 else numeric, None, "variable")
    else:
        name = _pick(where, names, var, "variable")
    try:
        a = loadmat(path, variable_names=[name], squeeze_me=False)[name]
    except Exception as err:
        raise ConfigError(f"{where}: variable {name!r} is not readable ({type(err).__name__})"
                          ) from None
    return np.asarray(a), name


def _csv_tokens(line: str) -> list[str]:
    """The values of one text line: comma-separated, or, in a line without commas,
    whitespace-separated (what ``numpy.savetxt`` writes by default)."""
    if "," not in line:
        return line.split()
    return [t.strip() for t in line.split(",")]


def _shown(token: str, limit: int = 40) -> str:
    """``token`` for an error message, cut to ``limit`` characters."""
    return repr(token) if len(token) <= limit else repr(token[:limit]) + "..."


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_csv(path: Path, where: str) -> np.ndarray:
    """Rows of ``N * N`` numbers -> ``(batch, N, N)``; the first line may be a header."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = [(k + 1, line) for k, line in enumerate(f) if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where} is not a readable text file ({type(err).__name__})") from None
    if lines and not any(_is_number(t) for t in _csv_tokens(lines[0][1])):
        lines = lines[1:]  # a header of column names
    if not lines:
        raise ConfigError(f"{where} holds no rows of numbers; expected one layout per row of "
                          "N*N comma-separated gains")
    width = len(_csv_tokens(lines[0][1]))
    rows = np.empty((len(lines), width), dtype=np.float64)
    for r, (number, line) in enumerate(lines):
        tokens = _csv_tokens(line)
        if len(tokens) != width:
            raise ConfigError(f"{where}: line {number} has {len(tokens)} values; expected "
                              f"{width} like the first row (one layout of N*N gains per row)")
        try:
            rows[r] = [float(t) for t in tokens]
        except ValueError:
            col, bad = next((c, t) for c, t in enumerate(tokens) if not _is_number(t))
            raise ConfigError(f"{where}: line {number}, column {col + 1}: {_shown(bad)} is "
                              "not a number; expected real gains") from None
    n = int(round(width ** 0.5))
    if n * n != width:
        raise ConfigError(f"{where}: rows have {width} values; expected N*N values (one layout "
                          "per row, g[i, j] at column i*N + j, i the receiver)")
    return rows.reshape(len(rows), n, n)


def _source_file(path: str | os.PathLike, what: str) -> tuple[Path, str, str]:
    """``(path, where, reader)`` of a source file that exists and has a known suffix."""
    p = Path(path)
    where = f"{what} file {str(path)!r}"
    if not p.is_file():
        raise ConfigError(f"{where} does not exist")
    suffix = p.suffix.lower()
    if suffix not in SOURCE_FORMATS:
        raise ConfigError(f"{where} has the suffix {suffix or '(none)'!r}; expected one of "
                          + ", ".join(SOURCE_FORMATS))
    return p, where, SOURCE_FORMATS[suffix]


def _check_var_option(p: Path, kind: str, option: str, var: str | None) -> None:
    if var is not None and kind in ("npy", "csv"):
        raise ConfigError(f"{option} {var!r} is invalid for a {p.suffix.lower()} file (it "
                          f"holds one array); expected no {option}")


def _read_source_array(p: Path, where: str, kind: str,
                       var: str | None) -> tuple[np.ndarray, str | None, str]:
    """The raw array of ``var`` in a source file, its name and a label for messages."""
    name = None
    if kind == "npy":
        a = _read_npy(p, where)
    elif kind == "npz":
        a, name = _read_npz(p, where, var)
    elif kind == "mat":
        a, name = _read_mat(p, where, var)
    elif kind == "h5":
        a, name = _read_h5(p, where, var, matlab=False)
    else:
        a = _read_csv(p, where)
    label = where if name is None else f"{where}, variable {name!r}"
    return np.asarray(a), name, label


def _choose_layout(a: np.ndarray, layout: str | None, kind: str, label: str,
                   ambiguous: bool, orders: tuple[str, str]) -> str:
    """``layout``, or ``batch-first`` when None unless ``a`` (3-D, from a ``.mat`` file) is
    ``ambiguous`` between the two ``orders`` (batch-first, MATLAB): then an error."""
    if layout is not None:
        return layout
    if kind == "mat" and a.ndim == 3 and ambiguous:
        raise ConfigError(f"{label} has shape {a.shape}, which reads as {orders[0]} or as "
                          f"MATLAB's {orders[1]}; expected --layout batch-first or --layout "
                          "matlab")
    return "batch-first"


def _to_batch_first(a: np.ndarray, layout: str, label: str, order: str = "(N, N, batch)",
                    one_sample: bool | None = None) -> np.ndarray:
    """MATLAB's ``(..., batch)`` moved to ``(batch, ...)``; a 2-D array is one sample when
    ``one_sample`` (default: square), since MATLAB drops a trailing batch axis of 1."""
    if layout == "batch-first":
        return a
    if one_sample is None:
        one_sample = a.ndim == 2 and a.shape[0] == a.shape[1]
    if a.ndim == 2 and one_sample:
        return a[None]
    if a.ndim != 3:
        raise ConfigError(f"{label} has shape {a.shape}; expected 3 axes {order} for "
                          "--layout matlab")
    return np.moveaxis(a, -1, 0)  # [batch, ...], a[b, i, j] = A(i, j, b)


def read_gains(path: str | os.PathLike, var: str | None = None,
               layout: str | None = None) -> ImportedGains:
    """Read and check a gains array from ``.npy``, ``.npz``, ``.mat``, ``.csv`` or HDF5.

    Input
    -----
    path : the source file (its suffix chooses the reader, see the module doc)
    var : str or None, the variable (``.mat``, ``.npz``) or data set (HDF5); None: the only
        one in the file
    layout : ``batch-first`` (default), ``matlab`` (``(N, N, batch)``), or None (default;
        a cube from a ``.mat`` file then is an error asking for it)

    Output
    ------
    :class:`ImportedGains` with ``g : [batch, N, N]`` float64

    Raises :class:`ConfigError` naming the file and what is wrong (missing variable with
    the variables present, complex or text values, shape, the first bad gain).
    """
    p, where, kind = _source_file(path, "gains")
    if layout is not None:
        check_choice("layout", layout, LAYOUTS)
    _check_var_option(p, kind, "--var", var)
    if kind == "csv" and layout == "matlab":
        raise ConfigError("layout='matlab' is invalid for a .csv file (one layout per row); "
                          "expected batch-first or no --layout")
    a, name, label = _read_source_array(p, where, kind, var)
    cube = a.ndim == 3 and a.shape[0] == a.shape[1] == a.shape[2]
    layout = _choose_layout(a, layout, kind, label, cube, ("(batch, N, N)", "(N, N, batch)"))
    g = check_gains_array(_to_batch_first(a, layout, label), label, layout)
    return ImportedGains(p, name, layout, _sha256(p), g=g)


def _check_numeric_dtype(a: np.ndarray, label: str, expected: str) -> None:
    """:class:`ConfigError` unless ``a`` holds numbers (integers, floats, complex): logical,
    text, cell (object) and struct (record) arrays are named as such."""
    kind = a.dtype.kind
    if kind == "b":
        raise ConfigError(f"{label} holds logical values; expected {expected}")
    if kind in "USO" or a.dtype.names:
        what = {"U": "text", "S": "text", "O": "objects (a cell array?)"}.get(kind, "records")
        if a.dtype.names:
            what = "records (a struct?)"
        raise ConfigError(f"{label} holds {what} (dtype {a.dtype}); expected {expected}")
    if kind not in "iufc":
        raise ConfigError(f"{label} has dtype {a.dtype}; expected {expected}")


def _check_three_axes(a: np.ndarray, label: str, layout: str, axes: str, item: str) -> None:
    """:class:`ConfigError` unless ``a`` has 3 axes: ``(batch, {axes})`` as read."""
    if a.ndim != 3:
        hint = (f"; one {item}? give it a batch axis, shape (1, {axes})" if a.ndim == 2 and
                layout == "batch-first" else "")
        order = f"(batch, {axes})" if layout == "batch-first" else f"({axes}, batch)"
        raise ConfigError(f"{label} has shape {a.shape}; expected 3 axes {order}{hint}")


def check_gains_array(a: Any, label: str = "gains", layout: str = "batch-first") -> np.ndarray:
    """``a`` as float64 ``[batch, N, N]`` gains, or :class:`ConfigError` naming what is wrong.

    Real numbers only (integers become floats), 3-D and square with at least one layout of
    one link, finite, ``>= 0``, direct gains ``> 0``; the message names the first bad
    layout and entry.

    Example
    -------
    >>> check_gains_array(np.ones((2, 3, 3))).shape
    (2, 3, 3)
    >>> g = np.ones((2, 2, 2)); g[1, 0, 1] = -1.0
    >>> check_gains_array(g)
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: gains: layout 1, g[1, 0, 1]=-1.0 is invalid; expected \
finite gains >= 0 (linear power gains, not dB)
    """
    a = np.asarray(a)
    if a.dtype.kind == "c":
        raise ConfigError(f"{label} holds complex values (dtype {a.dtype}); expected real "
                          "linear power gains: import abs(h)**2 of a complex channel h")
    _check_numeric_dtype(a, label, "real linear power gains")
    _check_three_axes(a, label, layout, "N, N", "layout")
    if a.shape[1] != a.shape[2] or a.shape[0] < 1 or a.shape[1] < 1:
        hint = ""
        if layout == "batch-first" and a.shape[0] == a.shape[1] != a.shape[2]:
            hint = "; is it MATLAB's (N, N, batch)? pass --layout matlab"
        raise ConfigError(f"{label} has shape {a.shape} in layout {layout}; expected square "
                          f"gain matrices (batch, N, N) with batch >= 1, N >= 1{hint}")
    g = a.astype(np.float64)
    bad = ~np.isfinite(g) | (g < 0)
    if bad.any():
        b, i, j = (int(k) for k in np.argwhere(bad)[0])
        raise ConfigError(f"{label}: layout {b}, g[{b}, {i}, {j}]={float(g[b, i, j])!r} is "
                          "invalid; expected finite gains >= 0 (linear power gains, not dB)")
    diag = np.diagonal(g, axis1=1, axis2=2)
    if (diag <= 0).any():
        b, i = (int(k) for k in np.argwhere(diag <= 0)[0])
        raise ConfigError(f"{label}: layout {b}, direct gain g[{b}, {i}, {i}]="
                          f"{float(g[b, i, i])!r} is invalid; expected > 0")
    return g


def config_for(cls: type[_Config], sizes: Mapping[str, tuple[int, str]], preset: str,
               overrides: Mapping[str, Any] | None = None) -> _Config:
    """A config of ``cls`` from ``preset`` and ``overrides`` whose size fields are taken
    from the data: ``sizes`` maps a field to ``(value, "the gains, which have 5 links per
    layout")``; an override of a size field must equal it.

    Example
    -------
    >>> config_for(D2DConfig, {"n_links": (3, "the gains")}, "paper").n_links
    3
    """
    overrides = dict(overrides or {})
    for field, (value, seen) in sizes.items():
        if field not in overrides:
            continue
        given = overrides.pop(field)
        try:
            same = check_int(field, given, 1) == value
        except ConfigError:
            same = False
        if not same:
            raise ConfigError(f"{field}={given!r} disagrees with {seen}; expected "
                              f"{field}={value} or no {field} (it is taken from the data)")
    return cls.from_preset(preset, **overrides, **{k: v for k, (v, _) in sizes.items()})


def d2d_config_for(n_links: int, preset: str = "paper",
                   overrides: Mapping[str, Any] | None = None) -> D2DConfig:
    """The :class:`~simulators.d2d.D2DConfig` of imported gains with ``n_links`` links: a
    preset with field overrides (power, noise, bandwidth, SNR gap, ...); an ``n_links``
    override must equal the data's.

    Example
    -------
    >>> d2d_config_for(20, "spatial-2019", {"p_max_dbm": 30}).n_links
    20
    """
    seen = f"the gains, which have {n_links} links per layout"
    return config_for(D2DConfig, {"n_links": (n_links, seen)}, preset, overrides)


def _check_import_output(source: str | os.PathLike, output: str | os.PathLike,
                         fmt: str | None, overwrite: bool, what: str) -> str:
    """The output format, after checking ``output`` may be written and is not ``source``."""
    fmt = infer_format(output, fmt)
    check_output(output, overwrite)
    if Path(source).exists() and Path(output).exists() and Path(source).samefile(output):
        raise ConfigError(f"output {str(output)!r} is the {what} file itself; expected "
                          "another file name")
    return fmt


def import_d2d(
    gains: str | os.PathLike,
    output: str | os.PathLike,
    *,
    var: str | None = None,
    layout: str | None = None,
    preset: str = "paper",
    overrides: Mapping[str, Any] | None = None,
    fmt: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Import a gains array (see :func:`read_gains`) as a D2D data file; behind
    ``wirelessrl import d2d``.

    Input
    -----
    gains, var, layout : the source, as :func:`read_gains`
    output : the data file to write (``.h5``, or ``.mat`` / ``fmt="mat"``)
    preset, overrides : the system constants (:func:`d2d_config_for`), e.g.
        ``{"noise_dbm_per_hz": -174, "bandwidth_hz": 20e6, "snr_gap_db": 3}``
    overwrite : replace an existing ``output``

    Output
    ------
    Path of the file: ``g [batch, N, N]`` with the config, ``seed`` None and the provenance
    ``imported_from``, ``source_sha256``, ``source_variable``, ``source_layout``
    """
    from wirelessrl.datasets import save_d2d

    fmt = _check_import_output(gains, output, fmt, overwrite, "gains")
    src = read_gains(gains, var, layout)
    config = d2d_config_for(src.g.shape[1], preset, overrides)
    data = D2DLayouts(config, None, None, None, src.g, None)
    return save_d2d(data, output, fmt, overwrite, **src.provenance())


# -- multi-user MISO channels --------------------------------------------------------------

CHANNEL_DTYPE_TEXT = ("complex channels (real numbers are read as complex with zero "
                      "imaginary part)")


@dataclass
class ImportedChannels(ImportedSource):
    """Multi-user MISO channels read from a file and checked (source attributes as
    :class:`ImportedSource`).

    Attributes
    ----------
    h : [batch, K, M], complex128, ``h[b, k]`` user k's channel vector
    y : [batch, K, M], complex128, despread pilot observations; None when not imported
    pilots_variable : str or None, the variable ``y`` was read from
    """

    h: np.ndarray = None  # type: ignore[assignment]
    y: np.ndarray | None = None
    pilots_variable: str | None = None

    def provenance(self) -> dict[str, Any]:
        """The metadata entries of the file written: those of :class:`ImportedSource` and
        ``source_pilots_variable``."""
        return {**super().provenance(), "source_pilots_variable": self.pilots_variable}


def check_channels_array(a: Any, label: str = "channels", layout: str = "batch-first", *,
                         name: str = "h", nonzero_users: bool = True) -> np.ndarray:
    """``a`` as complex128 ``[batch, K, M]`` channels, or :class:`ConfigError` naming what is
    wrong.

    Complex or real numbers (real ones are read as complex with zero imaginary part;
    logical, text, cell and struct arrays are refused), 3-D with ``batch, K, M >= 1``, every
    entry finite and, with ``nonzero_users``, no user whose channel ``h[b, k, :]`` is all
    zero; the message names the first bad sample and entry (``name`` in the messages).

    Example
    -------
    >>> check_channels_array(np.ones((2, 3, 4))).dtype
    dtype('complex128')
    >>> h = np.ones((2, 3, 4), complex); h[1, 2] = 0
    >>> check_channels_array(h)
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: channels: sample 1, user 2: h[1, 2, :] is all zero; \
expected a nonzero channel for every user
    """
    a = np.asarray(a)
    _check_numeric_dtype(a, label, CHANNEL_DTYPE_TEXT)
    _check_three_axes(a, label, layout, "K, M", "sample")
    if min(a.shape) < 1:
        raise ConfigError(f"{label} has shape {a.shape} in layout {layout}; expected "
                          "(batch, K, M) with batch, K, M >= 1")
    h = a.astype(np.complex128)
    bad = ~np.isfinite(h)
    if bad.any():
        b, k, m = (int(i) for i in np.argwhere(bad)[0])
        raise ConfigError(f"{label}: sample {b}, {name}[{b}, {k}, {m}]={complex(h[b, k, m])!r}"
                          " is invalid; expected finite values")
    zero = ~np.any(h != 0, axis=-1)
    if nonzero_users and zero.any():
        b, k = (int(i) for i in np.argwhere(zero)[0])
        raise ConfigError(f"{label}: sample {b}, user {k}: {name}[{b}, {k}, :] is all zero; "
                          "expected a nonzero channel for every user")
    return h


def read_channels(path: str | os.PathLike, var: str | None = None, layout: str | None = None,
                  pilots_var: str | None = None) -> ImportedChannels:
    """Read and check multi-user MISO channels (and optionally pilots) from ``.npy``,
    ``.npz``, ``.mat`` or HDF5.

    Input
    -----
    path : the source file (its suffix chooses the reader, see the module doc); ``.csv``
        is refused (text has no standard for complex numbers)
    var : str or None, the variable / data set holding ``h``; None: the only one
    layout : ``batch-first`` (``(batch, K, M)``, the default except for ``.mat``) or
        ``matlab`` (``(K, M, batch)``); a 3-D array from a ``.mat`` file needs it explicitly
        (both orders are plausible for any shape)
    pilots_var : str or None, the variable holding the pilot observations ``y`` (same
        shape and layout as ``h``); None: no pilots

    Output
    ------
    :class:`ImportedChannels` with ``h, y : [batch, K, M]`` complex128 (``y`` None when
    ``pilots_var`` is None)
    """
    p, where, kind = _source_file(path, "channels")
    if kind == "csv":
        raise ConfigError(f"{where}: .csv is not accepted for complex channels (text has no "
                          "standard for complex numbers); expected .npy, .npz, .mat or .h5, "
                          "e.g. numpy.save('h.npy', h) or MATLAB save('h.mat', 'H')")
    if layout is not None:
        check_choice("layout", layout, LAYOUTS)
    _check_var_option(p, kind, "--var", var)
    _check_var_option(p, kind, "--pilots-var", pilots_var)
    if pilots_var is not None and var is None:
        raise ConfigError(f"--pilots-var {pilots_var!r} needs --var NAME for the channels "
                          "(the file holds both)")
    a, name, label = _read_source_array(p, where, kind, var)
    orders = ("(batch, K, M)", "(K, M, batch)")
    layout = _choose_layout(a, layout, kind, label, True, orders)
    h = check_channels_array(_to_batch_first(a, layout, label, orders[1], True), label, layout)
    y = None
    if pilots_var is not None:
        b, _, plabel = _read_source_array(p, where, kind, pilots_var)
        y = check_channels_array(_to_batch_first(b, layout, plabel, orders[1], True), plabel,
                                 layout, name="y", nonzero_users=False)
        if y.shape != h.shape:
            raise ConfigError(f"{plabel} has shape {y.shape} in layout {layout}; expected "
                              f"{h.shape} like the channels {name!r}")
    return ImportedChannels(p, name, layout, _sha256(p), h=h, y=y, pilots_variable=pilots_var)


def mu_miso_config_for(n_users: int, n_antennas: int, preset: str = "cell",
                       overrides: Mapping[str, Any] | None = None) -> MuMisoConfig:
    """The :class:`~simulators.mu_miso.MuMisoConfig` of imported channels of ``n_users``
    users and ``n_antennas`` antennas: a preset with field overrides (power, noise,
    bandwidth, pilots, ...); an ``n_users`` / ``n_antennas`` override must equal the data's.

    Example
    -------
    >>> mu_miso_config_for(3, 6, "rayleigh-10db").n_antennas
    6
    """
    seen = f"the channels, which have {n_users} users and {n_antennas} antennas per sample"
    sizes = {"n_users": (n_users, seen), "n_antennas": (n_antennas, seen)}
    return config_for(MuMisoConfig, sizes, preset, overrides)


def import_mu_miso(
    channels: str | os.PathLike,
    output: str | os.PathLike,
    *,
    var: str | None = None,
    layout: str | None = None,
    pilots_var: str | None = None,
    preset: str = "cell",
    overrides: Mapping[str, Any] | None = None,
    fmt: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Import complex channels (see :func:`read_channels`) as a multi-user MISO data file;
    behind ``wirelessrl import mu-miso``.

    Input
    -----
    channels, var, layout, pilots_var : the source, as :func:`read_channels`
    output : the data file to write (``.h5``, or ``.mat`` / ``fmt="mat"``)
    preset, overrides : the system constants (:func:`mu_miso_config_for`), e.g.
        ``{"p_max_dbm": 30, "noise_dbm_per_hz": -174, "bandwidth_hz": 10e6}``
    overwrite : replace an existing ``output``

    Output
    ------
    Path of the file (kind ``mu-miso-samples``): ``h [batch, K, M]`` (and ``y`` with
    ``pilots_var``) with the config, ``seed`` None and the provenance ``imported_from``,
    ``source_sha256``, ``source_variable``, ``source_layout``, ``source_pilots_variable``

    Example
    -------
    >>> from simulators.mu_miso import MuMisoConfig, generate_mu_miso
    >>> np.save("h.npy", generate_mu_miso(MuMisoConfig.from_preset("cell"), 5, 1).h)
    >>> from wirelessrl.datasets import load_mu_miso
    >>> data = load_mu_miso(import_mu_miso("h.npy", "mu-imported.h5"))
    >>> data.h.shape, data.seed, data.positions_m, data.y
    ((5, 4, 8), None, None, None)
    """
    from wirelessrl.datasets import save_mu_miso

    fmt = _check_import_output(channels, output, fmt, overwrite, "channels")
    src = read_channels(channels, var, layout, pilots_var)
    config = mu_miso_config_for(src.h.shape[1], src.h.shape[2], preset, overrides)
    data = MuMisoSamples(config, None, None, src.h, src.y)
    return save_mu_miso(data, output, fmt, overwrite, **src.provenance())
