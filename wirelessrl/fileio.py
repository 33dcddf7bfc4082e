"""Array files with provenance: HDF5 (default) or MATLAB, written atomically, checksummed.

Every file holds named arrays and a metadata dict (``kind``, ``config``, ``seed``,
``version``, ...), a SHA-256 checksum of its arrays and one of its metadata, both verified
on load. Files are written under a temporary name in the destination folder and renamed
into place, so an interrupted write never leaves a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl import __version__
from wirelessrl.array_docs import array_doc

FORMATS = ("h5", "mat")
_UMASK = os.umask(0)  # read once, at import: setting it back and forth is not thread-safe
os.umask(_UMASK)


CHECKSUM_SCHEME = "sha256-per-array/1"
"""How ``checksum_sha256`` is computed in files that name it in ``checksum_scheme``: one
SHA-256 per array over ``"<name>|<dtype>|<shape>|"`` and its C-order bytes, then a SHA-256
over the lines ``"<name>:<hex digest>\n"`` in sorted name order. Every array is hashed as
its rows are written, in one pass, so a file streamed in chunks carries the same checksum
as one written at once. Files without ``checksum_scheme`` (written before it existed) hold
the SHA-256 of all arrays concatenated in sorted name order (:func:`legacy_arrays_checksum`)."""


def _feed(digest, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    try:
        digest.update(memoryview(a).cast("B"))
    except (TypeError, ValueError, BufferError):  # dtypes without a plain buffer
        digest.update(a.tobytes())


class ArraysDigest:
    """Streaming :data:`CHECKSUM_SCHEME` checksum: declare each array, feed its rows in
    order (in chunks of any size), read the combined hex digest.

    Example
    -------
    >>> a = np.arange(12.0).reshape(6, 2)
    >>> d = ArraysDigest()
    >>> d.start("a", a.dtype, a.shape)
    >>> d.update("a", a[:4]); d.update("a", a[4:])
    >>> d.hexdigest() == arrays_checksum({"a": a})
    True
    """

    def __init__(self) -> None:
        self._parts: dict[str, Any] = {}

    def start(self, name: str, dtype: npt.DTypeLike, shape: tuple[int, ...]) -> None:
        """Declare array ``name`` with its dtype and full shape (they enter the digest)."""
        digest = hashlib.sha256()
        digest.update(f"{name}|{np.dtype(dtype).str}|{tuple(int(k) for k in shape)}|".encode())
        self._parts[name] = digest

    def update(self, name: str, rows: np.ndarray) -> None:
        """Feed the next rows of array ``name``, in order (``rows: [m, ...]``, any ``m``)."""
        _feed(self._parts[name], rows)

    def hexdigest(self) -> str:
        """The combined SHA-256 hex digest over all declared arrays, in name order."""
        top = hashlib.sha256()
        for name in sorted(self._parts):
            top.update(f"{name}:{self._parts[name].hexdigest()}\n".encode())
        return top.hexdigest()


def arrays_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """The :data:`CHECKSUM_SCHEME` checksum of whole arrays (see :class:`ArraysDigest`)."""
    digest = ArraysDigest()
    for name, a in arrays.items():
        a = np.asarray(a)
        digest.start(name, a.dtype, a.shape)
        digest.update(name, a)
    return digest.hexdigest()


def legacy_arrays_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the arrays' names, dtypes, shapes and bytes, in sorted name order: the
    checksum of files written before :data:`CHECKSUM_SCHEME` (verified, never written)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        _feed(digest, a)
    return digest.hexdigest()


def checksum_for(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    """The checksum of ``arrays`` under the scheme the file's ``meta`` names."""
    scheme = meta.get("checksum_scheme")
    if scheme == CHECKSUM_SCHEME:
        return arrays_checksum(arrays)
    if scheme is None:
        return legacy_arrays_checksum(arrays)
    raise ConfigError(
        f"checksum_scheme={scheme!r} is unknown; expected {CHECKSUM_SCHEME!r} (a newer "
        "wirelessrl may have written this file)"
    )


META_CHECKSUM_KEY = "meta_sha256"


def meta_checksum(meta: Mapping[str, Any]) -> str:
    """SHA-256 of the metadata's canonical JSON, without the ``meta_sha256`` entry itself
    and the creation time (so reruns of a seeded command differ only in that time)."""
    body = {k: v for k, v in meta.items() if k not in (META_CHECKSUM_KEY, "created_utc")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def ensure_writable(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse early (before any work) to replace an existing file unless asked."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"output {str(path)!r} is a directory; expected a file name")
    if p.exists() and not overwrite:
        raise ConfigError(f"output {str(path)!r} exists; pass --overwrite to replace it")


OUTPUT_SUFFIXES = (".h5", ".hdf5", ".mat")
"""File name suffixes of data files a user names with ``-o`` (the content follows the
suffix, or ``--format``)."""


def check_output(path: str | os.PathLike, overwrite: bool) -> None:
    """Refuse early a user-named data-file output that would surprise: an existing file
    (unless ``overwrite``), a folder, an unknown suffix, or a folder that does not exist
    (never created silently: a typo in a path should not make new folders).

    Example
    -------
    >>> check_output("fp.txt", overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simulators.validation.ConfigError: output 'fp.txt' has the suffix '.txt'; expected ...
    """
    p = Path(path)
    ensure_writable(p, overwrite)
    if p.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(f"output {str(path)!r} has the suffix {p.suffix or '(none)'!r}; "
                          f"expected one of {', '.join(OUTPUT_SUFFIXES)}")
    if not p.parent.is_dir():
        raise ConfigError(f"output {str(path)!r}: the folder {str(p.parent)!r} does not "
                          "exist; create it first")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True,
                fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success only.

    The one atomic-write helper of the project (data files, checkpoints, training logs,
    results). The temporary file is ``.<name>.<pid>.<random>.part`` in the destination
    folder (so the rename never crosses file systems); on an exception it is deleted and
    ``path`` is untouched. ``fsync=True`` flushes the file to disk before the rename
    (checkpoints: a power cut leaves the old file or the new one, never an empty one).

    Example
    -------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('done', ['out.txt'])
    """
    final = Path(path)
    ensure_writable(final, overwrite)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".part",
                                   dir=final.parent)
    except OSError as err:
        raise ConfigError(
            f"output {str(path)!r} cannot be written ({err.strerror or type(err).__name__}); "
            "expected a file name in a writable folder"
        ) from None
    try:  # from here on a Ctrl-C at any point removes the temporary file
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a data file gets the usual mode
        yield Path(tmp)
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, final)
        _remove_stale_parts(final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _remove_stale_parts(final: Path) -> None:
    """Delete temporary files of ``final`` left by writers that were killed (SIGKILL, the
    OOM killer): ``.<name>.<pid>.*.part`` whose process no longer exists."""
    for part in final.parent.glob(f".{glob.escape(final.name)}.*.part"):
        pid = part.name[len(final.name) + 2:].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except OSError:  # alive under another user, or not ours to judge
            pass


def provenance(kind: str, config: Mapping[str, Any], seed: int | None, **extra: Any) -> dict:
    """The metadata every file carries.

    ``created_utc`` is the current time, or ``SOURCE_DATE_EPOCH`` (seconds since 1970, the
    reproducible-builds convention) when that is set: two runs of a seeded command then
    write files that are equal byte for byte.

    Example
    -------
    >>> meta = provenance("demo", {"n_links": 2}, 0, method="fp")
    >>> meta["kind"], meta["config"], meta["seed"], meta["method"]
    ('demo', {'n_links': 2}, 0, 'fp')
    """
    return {
        "kind": kind,
        "config": dict(config),
        "seed": seed,
        "version": __version__,
        "created_utc": _created_utc(),
        **extra,
    }


def _created_utc() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            when = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise ConfigError(
                f"SOURCE_DATE_EPOCH={epoch!r} is invalid; expected an integer number of "
                "seconds since 1970-01-01"
            ) from None
    else:
        when = _dt.datetime.now(_dt.timezone.utc)
    return when.isoformat(timespec="seconds")


def infer_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The file format: ``fmt`` if given (checked against :data:`FORMATS`), else ``"mat"``
    for a ``.mat`` suffix (any case) and ``"h5"`` otherwise.

    Example
    -------
    >>> infer_format("data.MAT"), infer_format("data.h5"), infer_format("x.bin", "h5")
    ('mat', 'h5', 'h5')
    """
    if fmt is None:
        fmt = "mat" if str(path).lower().endswith(".mat") else "h5"
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is invalid; expected one of {', '.join(FORMATS)}")
    return fmt


def write_arrays(
    path: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    fmt: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``arrays`` and ``meta`` (JSON-serializable) atomically; return the path.

    ``fmt`` None: MATLAB for a ``.mat`` suffix, else HDF5. Shapes, dtypes and checksums are
    added to the stored metadata; :func:`read_arrays` verifies them.

    Example
    -------
    >>> path = write_arrays("a.h5", {"g": np.ones((3, 2))}, provenance("demo", {}, 0))
    >>> arrays, meta = read_arrays(path, kind="demo")
    >>> arrays["g"].shape, meta["kind"]
    ((3, 2), 'demo')
    """
    fmt = infer_format(path, fmt)
    arrays = {name: np.asarray(a) for name, a in arrays.items()}
    meta = {
        **meta,
        "shapes": {name: list(a.shape) for name, a in arrays.items()},
        "checksum_scheme": CHECKSUM_SCHEME,
        "checksum_sha256": arrays_checksum(arrays),
    }
    if fmt == "mat":
        meta["dtypes"] = {name: a.dtype.str for name, a in arrays.items()}
    meta[META_CHECKSUM_KEY] = meta_checksum(meta)
    with atomic_path(path, overwrite) as tmp:
        if fmt == "h5":
            import h5py

            with h5py.File(tmp, "w") as f:
                for name, a in arrays.items():
                    f.create_dataset(name, data=a)
                _write_h5_meta(f, meta)
        else:
            _write_mat(tmp, arrays, meta, final=Path(path))
    return Path(path)


MAT_RESERVED = ("meta_json", "meta")
"""Variables of a ``.mat`` file that are not arrays: the metadata as JSON (what is read
back) and as a MATLAB struct (for people reading the file in MATLAB)."""


def _write_mat(tmp: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any],
               final: Path) -> None:
    """A MATLAB v5 file: text arrays as cell arrays of strings, 1-D arrays as columns, the
    metadata as JSON and as a struct ``meta`` (with ``meta.arrays.<name>.units`` and
    ``.description``); then read back and checked before :func:`atomic_path` renames it, so
    a file that does not round-trip is never left under the final name."""
    from scipy.io import savemat

    clash = sorted(set(arrays) & set(MAT_RESERVED))
    if clash:
        raise ConfigError(f"array name {clash[0]!r} is reserved in .mat files; rename it")
    variables = {name: _to_cellstr(a) if a.dtype.kind in "SU" else a
                 for name, a in arrays.items()}
    struct = dict(meta)
    docs = {name: array_doc(meta.get("kind"), name) for name in arrays}
    struct["arrays"] = {name: {"units": units, "description": text}
                        for name, (units, text) in docs.items()}
    variables["meta_json"] = json.dumps(meta, sort_keys=True)
    variables["meta"] = _matlab_value(struct)
    savemat(tmp, variables, do_compression=True, oned_as="column")
    try:
        read_arrays(tmp, verify=True)
    except ConfigError as err:
        raise ConfigError(
            f"output {str(final)!r} was not written: the MATLAB file did not read back as "
            f"written ({err})"
        ) from None


def _to_cellstr(a: np.ndarray) -> np.ndarray:
    """Text array -> object array of ``str`` (saved as a MATLAB cell array of strings)."""
    cell = np.empty(a.shape, dtype=object)
    for index, value in np.ndenumerate(a):
        cell[index] = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return cell


def _from_cellstr(cell: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A cell array of strings read by ``loadmat`` -> text array of ``dtype``."""
    texts = []
    for c in np.asarray(cell, dtype=object).ravel():
        c = np.asarray(c)
        texts.append(str(c.ravel()[0]) if c.size else "")
    if dtype.kind == "S":
        return np.array([t.encode("utf-8") for t in texts], dtype=dtype)
    return np.array(texts, dtype=dtype)


_MATLAB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


def _matlab_value(value: Any) -> Any:
    """JSON-like metadata -> what ``savemat`` writes as MATLAB structs, cells and arrays
    (``None`` -> ``[]``; field names MATLAB cannot hold are prefixed ``x_``)."""
    if isinstance(value, Mapping):
        if not value:
            return np.zeros((0, 0))
        out = {}
        for key, v in value.items():
            key = str(key)
            name = key if _MATLAB_NAME.match(key) else "x_" + re.sub(r"\W", "_", key)[:60]
            out[name] = _matlab_value(v)
        return out
    if value is None:
        return np.zeros((0, 0))
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                         for v in value):
            return np.asarray(value, dtype=np.float64)
        cell = np.empty((len(value), 1), dtype=object)
        for i, v in enumerate(value):
            cell[i, 0] = _matlab_value(v)
        return cell if value else np.zeros((0, 0))
    return value


def read_arrays(
    path: str | os.PathLike, kind: str | None = None, verify: bool = True
) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`write_arrays`; check its kind and checksum."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"file {str(p)!r} does not exist")
    try:
        if _is_hdf5(p):  # by content: ``--format h5 -o x.mat`` is still HDF5
            import h5py

            with h5py.File(p, "r") as f:
                meta = json.loads(f.attrs["meta_json"])
                arrays = {name: f[name][()] for name in f.keys()}
        else:
            from scipy.io import loadmat

            raw = loadmat(p, squeeze_me=False)
            meta = json.loads(str(np.asarray(raw.pop("meta_json")).ravel()[0]))
            arrays = {k: v for k, v in raw.items()
                      if not k.startswith("__") and k not in MAT_RESERVED}
            arrays = _restore_mat_arrays(arrays, meta)
    except ConfigError:
        raise
    except Exception as exc:  # h5py/scipy raise many types for corrupt or foreign files
        raise ConfigError(
            f"file {str(p)!r} is not a readable wirelessrl data file ({type(exc).__name__})"
        ) from None
    meta = _checked_meta(p, meta, kind)
    if verify and checksum_for(meta, arrays) != meta.get("checksum_sha256"):
        raise ConfigError(
            f"file {str(p)!r} failed its checksum: its arrays no longer match what was written"
        )
    return arrays, meta


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE


def _restore_mat_arrays(arrays: dict, meta: dict) -> dict:
    """The arrays as written: the dtypes (text from cell arrays) and shapes in ``meta``."""
    shapes = meta.get("shapes", {})
    dtypes = meta.get("dtypes", {})
    out = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if name in dtypes:
            dtype = np.dtype(dtypes[name])
            if a.dtype == object:
                a = _from_cellstr(a, dtype)
            elif a.dtype != dtype:
                a = a.astype(dtype)
        if name in shapes:
            a = a.reshape(shapes[name])
        out[name] = a
    return out


def file_kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` in a data file's metadata, read without loading its arrays.

    Returns None when the file is missing or not a wirelessrl file (the loaders then say
    what is wrong).
    """
    p = Path(path)
    try:
        if _is_hdf5(p):
            import h5py

            with h5py.File(p, "r") as f:
                return json.loads(f.attrs["meta_json"]).get("kind")
        from scipy.io import loadmat

        raw = loadmat(p, variable_names=["meta_json"])
        return json.loads(str(np.asarray(raw["meta_json"]).ravel()[0])).get("kind")
    except Exception:  # missing, foreign or corrupt: the loaders report it
        return None


def _check_scheme(path: Path, meta: Mapping[str, Any]) -> None:
    """A file naming an unknown checksum scheme is refused, naming the file."""
    try:
        checksum_for(meta, {})
    except ConfigError as err:
        raise ConfigError(f"file {str(path)!r}: {err}") from None


# ------------------------------------------------------------------- streamed files

COMPRESSIONS = ("none", "gzip", "lzf")
"""HDF5 compression of streamed data sets (gzip level 4 or lzf, both with byte shuffle)."""
STORE_CHUNK_BYTES = 1 << 20
"""Target size of one HDF5 storage chunk. The storage chunks depend only on the array's
row size, never on how many rows a writer hands over at a time, so the file's bytes do
not depend on the compute chunk size."""


@dataclass(frozen=True)
class RowArray:
    """Declaration of a per-row array of a streamed file: ``n`` rows of shape ``tail``.

    Example
    -------
    >>> RowArray((10, 10), "float32").row_bytes
    400
    """

    tail: tuple[int, ...]
    dtype: Any = "float64"

    @property
    def row_bytes(self) -> int:
        """Bytes of one stored row: ``prod(tail) * itemsize``."""
        return int(np.prod(self.tail, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def check_compression(compression: str | None) -> str:
    """``None`` and ``"none"`` mean no compression; else one of :data:`COMPRESSIONS`."""
    return "none" if compression is None else check_choice("compression", compression,
                                                            COMPRESSIONS)


def _h5_filters(compression: str) -> dict:
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if compression == "lzf":
        return {"compression": "lzf", "shuffle": True}
    return {}


class ArrayWriter:
    """Rows of arrays appended in order to an open file; use :func:`stream_arrays`.

    Each array is written one HDF5 storage chunk at a time, in order, each chunk exactly
    once (the rows that do not fill one yet wait in a small buffer), and hashed as it is
    written; so neither the file's bytes nor its checksum depend on the sizes of the
    pieces given to :meth:`append`. For ``.mat`` files the rows are kept in memory and
    written at the end (MATLAB v5 files are written whole).
    """

    def __init__(self, tmp: Path, fmt: str, n: int, rows: Mapping[str, RowArray],
                 fixed: Mapping[str, np.ndarray], compression: str,
                 final: Path | None = None) -> None:
        self.n = check_int("n", n, 1)
        self.final = tmp if final is None else Path(final)
        self.fmt = fmt
        self.rows = {name: RowArray(tuple(int(k) for k in spec.tail), np.dtype(spec.dtype))
                     for name, spec in rows.items()}
        self.fixed = {name: np.asarray(a) for name, a in fixed.items()}
        self.written = 0
        self._digest = ArraysDigest()
        self._pending: dict[str, list[np.ndarray]] = {name: [] for name in self.rows}
        self._pending_rows = 0
        self._file = None
        self._tmp = tmp
        for name, a in self.fixed.items():
            self._digest.start(name, a.dtype, a.shape)
            self._digest.update(name, a)
        for name, spec in self.rows.items():
            self._digest.start(name, spec.dtype, (self.n, *spec.tail))
        self._store_rows = {name: max(1, min(self.n, STORE_CHUNK_BYTES // max(1, s.row_bytes)))
                            for name, s in self.rows.items()}
        if fmt == "h5":
            import h5py

            self._file = h5py.File(tmp, "w")
            for name, a in self.fixed.items():
                self._file.create_dataset(name, data=a)
            filters = _h5_filters(compression)
            for name, spec in self.rows.items():
                self._file.create_dataset(
                    name, shape=(self.n, *spec.tail), dtype=spec.dtype,
                    chunks=(self._store_rows[name], *spec.tail), **filters)
            self._done = dict.fromkeys(self.rows, 0)

    def append(self, chunk: Mapping[str, np.ndarray]) -> None:
        """Append the next rows: ``chunk[name]`` of shape ``[m, *tail]`` for every array."""
        if set(chunk) != set(self.rows):
            raise ValueError(f"chunk holds {sorted(chunk)}; expected {sorted(self.rows)}")
        sizes = {np.shape(a)[0] if np.ndim(a) else -1 for a in chunk.values()}
        if len(sizes) != 1 or min(sizes) < 0:
            raise ValueError(f"chunk arrays disagree on the number of rows: {sorted(sizes)}")
        m = sizes.pop()
        if self.written + m > self.n:
            raise ValueError(f"{self.written + m} rows appended; the file holds {self.n}")
        for name, a in chunk.items():
            spec = self.rows[name]
            a = np.asarray(a)
            if a.shape[1:] != spec.tail:
                raise ValueError(f"chunk {name!r} has rows of shape {a.shape[1:]}; "
                                 f"expected {spec.tail}")
            a = a.astype(spec.dtype, copy=False)
            if self._file is None:
                a = np.array(a)  # a copy: the caller may reuse its buffer
                self._digest.update(name, a)
            self._pending[name].append(a)
        self.written += m
        if self._file is not None:
            self._write_complete(final=False)

    def _write_complete(self, final: bool) -> None:
        """Write every storage chunk whose rows are all here, in the order (last row, array
        name). Chunks written by one call end at or below the rows written so far and those
        left for later end above them, so over a whole file the sequence of writes (and
        hence the HDF5 file's layout) is the same whatever the pieces appended were."""
        jobs = []
        for name, pieces in self._pending.items():
            have = sum(len(p) for p in pieces)
            store = self._store_rows[name]
            at = 0
            while have - at >= store or (final and have - at > 0):
                k = min(store, have - at)
                jobs.append((self._done[name] + at + k, name, at, k))
                at += k
        for _end, name, at, k in sorted(jobs):
            self._write_store(name, _take_rows(self._pending[name], at, k))
        for name, pieces in self._pending.items():
            used = sum(k for _e, n, _a, k in jobs if n == name)
            if used:
                rest = _take_rows(pieces, used, sum(len(p) for p in pieces) - used)
                pieces[:] = [np.array(rest)] if len(rest) else []  # detach from the caller

    def _write_store(self, name: str, block: np.ndarray) -> None:
        at = self._done[name]
        self._file[name][at:at + len(block)] = block
        self._digest.update(name, block)
        self._done[name] = at + len(block)

    def finish(self, meta: Mapping[str, Any]) -> dict:
        """Flush, add shapes and checksums to ``meta``, write it; return the full metadata."""
        if self.written != self.n:
            raise ValueError(f"{self.written} of {self.n} rows were written")
        shapes = {name: list(a.shape) for name, a in self.fixed.items()}
        shapes.update({name: [self.n, *s.tail] for name, s in self.rows.items()})
        meta = {**meta, "shapes": shapes, "checksum_scheme": CHECKSUM_SCHEME}
        if self._file is None:
            arrays = {**self.fixed,
                      **{name: np.concatenate(parts) for name, parts in self._pending.items()}}
            meta["dtypes"] = {name: a.dtype.str for name, a in arrays.items()}
            meta["checksum_sha256"] = self._digest.hexdigest()
            meta[META_CHECKSUM_KEY] = meta_checksum(meta)
            _write_mat(self._tmp, arrays, meta, final=self.final)
            return meta
        self._write_complete(final=True)
        meta["checksum_sha256"] = self._digest.hexdigest()
        meta[META_CHECKSUM_KEY] = meta_checksum(meta)
        _write_h5_meta(self._file, meta)
        self.close()
        return meta

    def close(self) -> None:
        """Close the HDF5 file if open (:meth:`finish` calls it; safe to call twice)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _take_rows(pieces: list[np.ndarray], offset: int, count: int) -> np.ndarray:
    """Rows ``offset .. offset + count - 1`` of the concatenation of ``pieces`` (a view when
    they lie in one piece)."""
    out = []
    for p in pieces:
        if offset >= len(p):
            offset -= len(p)
            continue
        part = p[offset:offset + count]
        out.append(part)
        count -= len(part)
        offset = 0
        if count == 0:
            break
    return out[0] if len(out) == 1 else np.concatenate(out) if out else pieces[0][:0]


def _write_h5_meta(f, meta: Mapping[str, Any]) -> None:
    """The metadata as file attributes, and each data set's ``units`` and ``description``
    (:mod:`wirelessrl.array_docs`)."""
    for name in sorted(f.keys()):
        units, description = array_doc(meta.get("kind"), name)
        if description:
            f[name].attrs["units"] = units
            f[name].attrs["description"] = description
    f.attrs["meta_json"] = json.dumps(meta, sort_keys=True)
    for key in ("kind", "seed", "version"):
        if meta.get(key) is not None:
            f.attrs[key] = meta[key]
    f.attrs["config_json"] = json.dumps(meta.get("config", {}), sort_keys=True)


@contextlib.contextmanager
def stream_arrays(
    path: str | os.PathLike,
    n: int,
    rows: Mapping[str, RowArray],
    meta: Mapping[str, Any],
    *,
    fixed: Mapping[str, np.ndarray] | None = None,
    fmt: str | None = None,
    overwrite: bool = True,
    compression: str | None = None,
) -> Iterator[ArrayWriter]:
    """Write a file of ``n``-row arrays piece by piece, atomically, with its checksum.

    The file appears under ``path`` only when the block ends without an error and all
    ``n`` rows were appended; memory holds one piece (plus at most one HDF5 storage chunk
    per array), whatever ``n`` is. The result reads back with :func:`read_arrays` and
    :class:`ArrayReader` like a file of :func:`write_arrays`.

    Input
    -----
    path : output file (``.mat`` or ``fmt="mat"``: MATLAB, assembled in memory)
    n : int >= 1, rows of every per-row array
    rows : dict name -> :class:`RowArray` (shape of one row, stored dtype)
    meta : provenance (see :func:`provenance`); ``writer.meta`` may be updated inside the
        block (e.g. with timings) before it is written
    fixed : dict name -> array written whole (e.g. the pilots of a MISO system)
    compression : None, ``"none"``, ``"gzip"`` or ``"lzf"``

    Example
    -------
    >>> spec = {"g": RowArray((2, 2))}
    >>> with stream_arrays("g.h5", 4, spec, provenance("demo", {}, 0)) as w:  # doctest: +SKIP
    ...     w.append({"g": np.ones((3, 2, 2))}); w.append({"g": np.ones((1, 2, 2))})
    """
    fmt = infer_format(path, fmt)
    compression = check_compression(compression)
    with atomic_path(path, overwrite) as tmp:
        writer = ArrayWriter(tmp, fmt, n, rows, fixed or {}, compression, final=Path(path))
        writer.meta = dict(meta)  # the block may add entries known only at the end
        try:
            yield writer
            writer.finish(writer.meta)
        finally:
            writer.close()


class ArrayReader:
    """A data file opened for reading in row chunks (HDF5: from disk; ``.mat``: whole).

    ``iter_rows`` reads the listed arrays chunk by chunk; when it runs over all rows (the
    default), the file's checksum is verified in the same pass (the other arrays are read
    and hashed in chunks at the end) and :class:`ConfigError` is raised after the last
    chunk if anything differs. The metadata checksum and kind are checked on opening.

    Example
    -------
    >>> with ArrayReader("d2d.h5", kind="d2d-layouts") as f:         # doctest: +SKIP
    ...     for start, part in f.iter_rows(["g"], 10_000):
    ...         print(start, part["g"].shape)
    """

    def __init__(self, path: str | os.PathLike, kind: str | None = None) -> None:
        self.path = Path(path)
        self._file = None
        p = self.path
        if not p.is_file():
            raise ConfigError(f"file {str(p)!r} does not exist")
        try:
            if _is_hdf5(p):
                import h5py

                self._file = h5py.File(p, "r")
                meta = json.loads(self._file.attrs["meta_json"])
                self._arrays = {name: self._file[name] for name in self._file.keys()}
                for name, ds in self._arrays.items():
                    if not isinstance(ds, h5py.Dataset):
                        raise TypeError(f"{name} is a group")
            else:
                arrays, meta = read_arrays(p, kind, verify=False)
                self._arrays = arrays
        except ConfigError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ConfigError(
                f"file {str(p)!r} is not a readable wirelessrl data file ({type(exc).__name__})"
            ) from None
        try:
            self.meta = _checked_meta(p, meta, kind)
        except ConfigError:
            self.close()
            raise

    def __enter__(self) -> ArrayReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the HDF5 file if open (safe to call twice)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def names(self) -> list[str]:
        """Names of the file's arrays, sorted."""
        return sorted(self._arrays)

    def shape(self, name: str) -> tuple[int, ...]:
        """Shape of array ``name`` as stored (rows first), without reading it."""
        return tuple(self._arrays[name].shape)

    def dtype(self, name: str) -> np.dtype:
        """Stored dtype of array ``name``, without reading it."""
        return np.dtype(self._arrays[name].dtype)

    def read(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of an array (all of it by default), as a NumPy array."""
        ds = self._arrays[name]
        if start is None and stop is None:
            return np.asarray(ds[()])
        return np.asarray(ds[start:stop])

    def iter_rows(
        self, names: list[str], chunk_rows: int, *, verify: bool = True
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """Yield ``(start, {name: rows start:start + chunk_rows})`` over all rows."""
        chunk_rows = check_int("chunk_size", chunk_rows, 1)
        n = self.shape(names[0])[0]
        legacy = self.meta.get("checksum_scheme") is None
        if verify and legacy:
            self.verify()  # the old checksum runs over arrays in name order: a pass first
        digest = ArraysDigest() if verify and not legacy else None
        if digest is not None:
            for name in names:
                digest.start(name, self.dtype(name), self.shape(name))
        for start in range(0, n, chunk_rows):
            part = {name: self.read(name, start, start + chunk_rows) for name in names}
            if digest is not None:
                for name in names:
                    digest.update(name, part[name])
            yield start, part
        if digest is not None:
            for name in self.names:
                if name not in names:
                    self._hash_array(digest, name)
            self._compare(digest.hexdigest())

    def _row_blocks(self, name: str) -> Iterator[np.ndarray]:
        """An array in blocks of about 4 MiB of rows (whole when it has no rows)."""
        shape = self.shape(name)
        if len(shape) == 0 or shape[0] == 0:
            yield self.read(name)
            return
        row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * self.dtype(name).itemsize)
        step = max(1, (4 * STORE_CHUNK_BYTES) // row_bytes)
        for start in range(0, shape[0], step):
            yield self.read(name, start, start + step)

    def _hash_array(self, digest: ArraysDigest, name: str) -> None:
        digest.start(name, self.dtype(name), self.shape(name))
        for block in self._row_blocks(name):
            digest.update(name, block)

    def verify(self) -> None:
        """Check the arrays' checksum in one streaming pass; :class:`ConfigError` if not."""
        if self.meta.get("checksum_scheme") is None:  # legacy: one hash over sorted arrays
            legacy = hashlib.sha256()
            for name in self.names:
                legacy.update(f"{name}|{self.dtype(name).str}|{self.shape(name)}|".encode())
                for block in self._row_blocks(name):
                    _feed(legacy, block)
            self._compare(legacy.hexdigest())
            return
        digest = ArraysDigest()
        for name in self.names:
            self._hash_array(digest, name)
        self._compare(digest.hexdigest())

    def _compare(self, checksum: str) -> None:
        if checksum != self.meta.get("checksum_sha256"):
            raise ConfigError(f"file {str(self.path)!r} failed its checksum: its arrays no "
                              "longer match what was written")


def _checked_meta(p: Path, meta: Any, kind: str | None) -> dict:
    if not isinstance(meta, dict):
        raise ConfigError(
            f"file {str(p)!r} is not a readable wirelessrl data file (its metadata is a "
            f"{type(meta).__name__}; expected a JSON object)"
        )
    if kind is not None and meta.get("kind") != kind:
        raise ConfigError(
            f"file {str(p)!r} holds kind={meta.get('kind')!r}; expected kind={kind!r}"
        )
    _check_scheme(p, meta)
    if META_CHECKSUM_KEY in meta and meta_checksum(meta) != meta[META_CHECKSUM_KEY]:
        raise ConfigError(
            f"file {str(p)!r} failed its checksum: its metadata (config, seed, ...) no longer "
            "match what was written"
        )
    return meta
