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
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from simulators.validation import ConfigError
from wirelessrl import __version__

FORMATS = ("h5", "mat")
_UMASK = os.umask(0)  # read once, at import: setting it back and forth is not thread-safe
os.umask(_UMASK)


def arrays_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the arrays' names, dtypes, shapes and bytes, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


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
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a data file gets the usual mode
    try:
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
    """The metadata every file carries."""
    return {
        "kind": kind,
        "config": dict(config),
        "seed": seed,
        "version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def infer_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    if fmt is None:
        fmt = "mat" if str(path).endswith(".mat") else "h5"
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
    """Write ``arrays`` and ``meta`` (JSON-serializable) atomically; return the path."""
    fmt = infer_format(path, fmt)
    meta = {
        **meta,
        "shapes": {name: list(np.shape(a)) for name, a in arrays.items()},
        "checksum_sha256": arrays_checksum(arrays),
    }
    meta[META_CHECKSUM_KEY] = meta_checksum(meta)
    meta_json = json.dumps(meta, sort_keys=True)
    with atomic_path(path, overwrite) as tmp:
        if fmt == "h5":
            import h5py

            with h5py.File(tmp, "w") as f:
                for name, a in arrays.items():
                    f.create_dataset(name, data=a)
                f.attrs["meta_json"] = meta_json
                for key in ("kind", "seed", "version"):
                    if meta.get(key) is not None:
                        f.attrs[key] = meta[key]
                f.attrs["config_json"] = json.dumps(meta.get("config", {}), sort_keys=True)
        else:
            from scipy.io import savemat

            savemat(tmp, {**arrays, "meta_json": meta_json}, do_compression=True)
            # scipy adds the .mat suffix only when missing; the temp name keeps .part
    return Path(path)


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
            arrays = {k: v for k, v in raw.items() if not k.startswith("__")}
            arrays = _restore_mat_shapes(arrays, meta)
    except ConfigError:
        raise
    except Exception as exc:  # h5py/scipy raise many types for corrupt or foreign files
        raise ConfigError(
            f"file {str(p)!r} is not a readable wirelessrl data file ({type(exc).__name__})"
        ) from None
    if not isinstance(meta, dict):
        raise ConfigError(
            f"file {str(p)!r} is not a readable wirelessrl data file (its metadata is a "
            f"{type(meta).__name__}; expected a JSON object)"
        )
    if kind is not None and meta.get("kind") != kind:
        raise ConfigError(
            f"file {str(p)!r} holds kind={meta.get('kind')!r}; expected kind={kind!r}"
        )
    if verify and arrays_checksum(arrays) != meta.get("checksum_sha256"):
        raise ConfigError(
            f"file {str(p)!r} failed its checksum: its arrays no longer match what was written"
        )
    # files written before the metadata checksum existed have none; all newer ones do
    if verify and META_CHECKSUM_KEY in meta and meta_checksum(meta) != meta[META_CHECKSUM_KEY]:
        raise ConfigError(
            f"file {str(p)!r} failed its checksum: its metadata (config, seed, ...) no longer "
            "match what was written"
        )
    return arrays, meta


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE


def _restore_mat_shapes(arrays: dict, meta: dict) -> dict:
    shapes = meta.get("shapes", {})
    out = {}
    for name, a in arrays.items():
        a = np.asarray(a)
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
