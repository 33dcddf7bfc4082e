r"""MNIST 1 -> 8, the method paper's sanity experiment (SPEC section 4): files, images, splits.

MNIST is read from the four standard IDX files a user points at (plain or gzipped); nothing
is downloaded at run time. The pipeline is

1. :func:`find_mnist_files` and :func:`read_idx`: locate and read the IDX files, checking
   the magic number, type code, dimensions and file size;
2. :func:`load_mnist_018`: keep the digits {0, 1, 8}, resize 28 x 28 -> 10 x 10
   (:func:`resize_images`), scale to [0, 1], normalize with mean 0.1307 and std 0.3081 and
   flatten to 100 float32 features (:func:`preprocess_images`);
3. :func:`split_mnist_018`: a seeded permutation of the training images into a source pool
   and a target pool, each cut into train and validation parts (:data:`SPLITS`, ``A`` and
   ``B``); source labels are "is it a 1", target labels "is it an 8".

The 18,516 training images of digits 0/1/8 give exactly the paper's counts: split A has
12,313 source-train and 92 target-train images, split B 11,664 and 926. Every fraction is
rounded *down* (:func:`split_counts`); rounding to nearest would give 93 and 11,665.

:func:`write_idx` and :func:`make_fake_mnist` write IDX files, so tests and CI (which have
no real MNIST) can build a small synthetic MNIST directory.

Example
-------
>>> files = make_fake_mnist("fake_mnist", n_train=1000, n_test=200, seed=0)
>>> data = load_mnist_018("fake_mnist")
>>> data["train_x"].shape[1], data["train_x"].dtype
(100, dtype('float32'))
>>> splits = split_mnist_018(data, split="A", seed=0)
>>> sorted(splits.counts())
['source_train', 'source_valid', 'target_train', 'target_valid', 'test']
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from simulators.validation import ConfigError, check_choice, check_int

__all__ = [
    "MNIST_FILES",
    "MNIST_DIGITS",
    "MNIST_MEAN",
    "MNIST_STD",
    "IMAGE_SIDE",
    "IDX_DTYPES",
    "SPLITS",
    "SPLIT_PARTS",
    "SplitSpec",
    "MnistSplits",
    "read_idx",
    "write_idx",
    "find_mnist_files",
    "make_fake_mnist",
    "resize_images",
    "preprocess_images",
    "load_mnist_018",
    "split_counts",
    "split_indices",
    "split_mnist_018",
]

MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""The four standard MNIST file names (each may also end in ``.gz``)."""

MNIST_DIGITS: tuple[int, ...] = (0, 1, 8)
"""Digits kept by the experiment: source "is it a 1", target "is it an 8"."""

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
"""Normalization of the [0, 1] pixel values (the usual MNIST constants, SPEC section 4)."""

IMAGE_SIDE = 10
"""Side of the resized images: 10 x 10 = 100 network inputs."""

IDX_DTYPES: dict[int, tuple[str, np.dtype]] = {
    0x08: ("unsigned byte", np.dtype(np.uint8)),
    0x09: ("signed byte", np.dtype(np.int8)),
    0x0B: ("short (int16)", np.dtype(">i2")),
    0x0C: ("int (int32)", np.dtype(">i4")),
    0x0D: ("float (float32)", np.dtype(">f4")),
    0x0E: ("double (float64)", np.dtype(">f8")),
}
"""IDX type code -> (name, big-endian dtype on disk)."""

_GZIP_MAGIC = b"\x1f\x8b"
_READ_CHUNK = 1 << 24  # bytes per read: a corrupt header cannot make us allocate terabytes


# --------------------------------------------------------------------------- IDX files


def _idx_error(path: str | os.PathLike, what: str) -> ConfigError:
    return ConfigError(f"IDX file {str(path)!r}: {what}")


def _type_codes() -> str:
    return ", ".join(f"0x{c:02x} {name}" for c, (name, _) in IDX_DTYPES.items())


def _read_exact(f, n: int) -> bytes:
    chunks, remaining = [], n
    while remaining > 0:
        chunk = f.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_idx_stream(f, path: Path, file_size: int | None) -> np.ndarray:
    magic = f.read(4)
    if len(magic) < 4:
        raise _idx_error(
            path,
            f"holds {len(magic)} bytes; an IDX file starts with a 4-byte magic number "
            "(truncated or empty file)",
        )
    if magic[:2] != b"\x00\x00" or magic[2] not in IDX_DTYPES or magic[3] == 0:
        raise _idx_error(
            path,
            f"bad magic number 0x{magic.hex()}; expected 0x0000 then a type code "
            f"({_type_codes()}) then the number of dimensions >= 1, e.g. 0x00000803 for "
            "MNIST images and 0x00000801 for labels (is this an IDX file?)",
        )
    code, ndim = magic[2], magic[3]
    name, disk_dtype = IDX_DTYPES[code]
    header_len = 4 + 4 * ndim
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise _idx_error(
            path,
            f"header declares {ndim} dimensions but the file ends after "
            f"{4 + len(raw_dims)} bytes; expected a {header_len}-byte header (truncated file)",
        )
    dims = struct.unpack(f">{ndim}I", raw_dims)
    n_data = math.prod(dims) * disk_dtype.itemsize
    expected = header_len + n_data
    declared = f"shape {dims} of {name} = {expected} bytes with the {header_len}-byte header"
    if file_size is not None and file_size != expected:
        kind = "truncated file" if file_size < expected else "trailing bytes after the data"
        raise _idx_error(path, f"holds {file_size} bytes; the header declares {declared} ({kind})")
    data = _read_exact(f, n_data)
    if len(data) < n_data:
        raise _idx_error(
            path,
            f"data ends after {header_len + len(data)} bytes; the header declares "
            f"{declared} (truncated file)",
        )
    if f.read(1):
        raise _idx_error(path, f"has trailing bytes; the header declares {declared}")
    # [dims...], native byte order, owning its memory (frombuffer is read-only)
    return np.frombuffer(data, dtype=disk_dtype).reshape(dims).astype(disk_dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    r"""Read an IDX file (the MNIST format), plain or gzipped.

    Layout: bytes 0-1 are zero, byte 2 is the type code (:data:`IDX_DTYPES`, 0x08 for
    unsigned bytes), byte 3 the number of dimensions ``d``; then ``d`` big-endian uint32
    sizes, then the data, big-endian, row-major. The file size must equal header plus data
    exactly. Gzip is recognized from the content (bytes ``1f 8b``), not from the name.

    Input
    -----
    path : str or path-like, e.g. ``train-images-idx3-ubyte`` or ``...-ubyte.gz``

    Output
    ------
    array : [dim_0, ..., dim_{d-1}], the stored dtype in native byte order
        (uint8 ``(60000, 28, 28)`` for the MNIST training images)

    Raises :class:`ConfigError` naming the file and what is wrong (missing, bad magic
    number, unknown type code, truncated, trailing data, corrupt gzip).

    Example
    -------
    >>> _ = write_idx("labels-idx1-ubyte.gz", np.array([5, 0, 4], dtype=np.uint8))
    >>> read_idx("labels-idx1-ubyte.gz")
    array([5, 0, 4], dtype=uint8)
    """
    path = Path(path)
    if not path.is_file():
        raise _idx_error(path, "does not exist or is not a file")
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == _GZIP_MAGIC
        if not compressed:
            with open(path, "rb") as f:
                return _read_idx_stream(f, path, path.stat().st_size)
        with gzip.open(path, "rb") as f:
            return _read_idx_stream(f, path, None)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _idx_error(path, f"corrupt or truncated gzip data ({exc})") from None
    except OSError as exc:
        raise _idx_error(path, f"cannot be read ({exc})") from None


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    r"""Write ``array`` as an IDX file; gzipped when ``path`` ends in ``.gz``.

    The inverse of :func:`read_idx` (used for test fixtures and :func:`make_fake_mnist`).
    Gzip output is byte-for-byte reproducible (no file name or time stamp in the header,
    like ``gzip -n``).

    Input
    -----
    path : str or path-like; its directory must exist
    array : [dim_0, ..., dim_{d-1}], 1 <= d <= 255, each size < 2**32, dtype uint8, int8,
        int16, int32, float32 or float64

    Output
    ------
    path : :class:`pathlib.Path` of the written file

    Example
    -------
    >>> p = write_idx("x-idx3-ubyte", np.zeros((2, 28, 28), dtype=np.uint8))
    >>> p.stat().st_size  # 4-byte magic + 3 sizes + 2 * 784 bytes
    1584
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, (_, dt) in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        allowed = ", ".join(str(dt.newbyteorder("=")) for _, dt in IDX_DTYPES.values())
        raise ConfigError(
            f"array dtype={array.dtype} is invalid for IDX; expected one of {allowed}"
        )
    if not 1 <= array.ndim <= 255 or any(s >= 2**32 for s in array.shape):
        raise ConfigError(
            f"array shape={array.shape} is invalid for IDX; expected 1 to 255 dimensions, "
            "each < 2**32"
        )
    code = codes[native]
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code][1]).tobytes()
    path = Path(path)
    if path.name.endswith(".gz"):
        with open(path, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
                f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def _candidate_names(name: str) -> list[str]:
    dotted = name.replace("-idx", ".idx")  # train-images.idx3-ubyte (another common naming)
    return [name, dotted, name + ".gz", dotted + ".gz"]


def find_mnist_files(directory: str | os.PathLike) -> dict[str, Path]:
    r"""Locate the four MNIST IDX files in ``directory``.

    Each file may be plain or gzipped (``.gz``) and may use the dotted naming
    (``train-images.idx3-ubyte``). ``directory/MNIST/raw`` (the torchvision layout) is
    searched too. Plain files are preferred over gzipped ones.

    Input
    -----
    directory : str or path-like

    Output
    ------
    files : dict ``{"train_images", "train_labels", "test_images", "test_labels"} -> Path``

    Raises :class:`ConfigError` listing the file names needed and the ones missing; no
    download happens at run time.

    Example
    -------
    >>> _ = make_fake_mnist("fake_mnist", n_train=100, n_test=20, seed=0)
    >>> find_mnist_files("fake_mnist")["train_labels"].name
    'train-labels-idx1-ubyte'
    """
    directory = Path(directory)
    needed = ", ".join(MNIST_FILES.values())
    how = (
        f"MNIST needs the four standard IDX files {needed} (each may be gzipped as .gz or "
        "use the dotted naming such as train-images.idx3-ubyte). wirelessrl never downloads "
        "data at run time: copy the files there yourself, from "
        "http://yann.lecun.com/exdb/mnist/ or a mirror"
    )
    if not directory.is_dir():
        raise ConfigError(f"MNIST directory {str(directory)!r} does not exist. {how}")
    found: dict[str, Path] = {}
    for key, name in MNIST_FILES.items():
        for folder in (directory, directory / "MNIST" / "raw"):
            hits = [folder / c for c in _candidate_names(name) if (folder / c).is_file()]
            if hits:
                found[key] = hits[0]
                break
    missing = [name for key, name in MNIST_FILES.items() if key not in found]
    if missing:
        raise ConfigError(
            f"MNIST directory {str(directory)!r} is missing {', '.join(missing)}. {how}"
        )
    return found


def make_fake_mnist(
    directory: str | os.PathLike,
    n_train: int = 1000,
    n_test: int = 200,
    seed: int = 0,
    compress: bool = False,
) -> dict[str, Path]:
    r"""Write a small synthetic MNIST directory (the four IDX files) for tests and CI.

    Labels: the first ten of each set are the digits 0..9 (so every digit occurs once
    ``n >= 10``), the rest are drawn with probability 1/4 for each of 0, 1 and 8 and 1/28
    for each other digit, then the set is shuffled. Images: uint8 28 x 28 noise in [0, 64)
    plus a bright vertical bar at column ``4 + 2 * digit``, so the classes are learnable
    after resizing to 10 x 10.

    Input
    -----
    directory : str or path-like, created if needed
    n_train, n_test : int >= 1, numbers of training and test images
    seed : int >= 0
    compress : bool, write ``.gz`` files

    Output
    ------
    files : dict ``{"train_images", "train_labels", "test_images", "test_labels"} -> Path``
        of the files written (:func:`find_mnist_files` prefers plain files, so do not mix
        plain and gzipped fakes in one directory)

    Example
    -------
    >>> files = make_fake_mnist("fake_mnist_gz", n_train=50, n_test=10, seed=1, compress=True)
    >>> read_idx(files["train_images"]).shape
    (50, 28, 28)
    """
    n_train = check_int("n_train", n_train, 1)
    n_test = check_int("n_test", n_test, 1)
    seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    p = np.full(10, 0.25 / 7)
    p[list(MNIST_DIGITS)] = 0.25
    suffix = ".gz" if compress else ""
    files: dict[str, Path] = {}
    for part, n in (("train", n_train), ("test", n_test)):
        labels = rng.choice(10, size=n, p=p).astype(np.uint8)
        labels[: min(n, 10)] = np.arange(min(n, 10))
        labels = rng.permutation(labels)
        images = rng.integers(0, 64, size=(n, 28, 28), dtype=np.uint8)  # [n, 28, 28]
        images[np.arange(n), 4:24, 4 + 2 * labels.astype(np.intp)] = 255
        for key, array in ((f"{part}_images", images), (f"{part}_labels", labels)):
            files[key] = write_idx(directory / (MNIST_FILES[key] + suffix), array)
    return files


# --------------------------------------------------------------------------- images


def resize_images(images: np.ndarray, side: int = IMAGE_SIDE, chunk: int = 8192) -> np.ndarray:
    r"""Resize 8-bit grey images to ``side x side`` with antialiased bilinear interpolation.

    ``torch.nn.functional.interpolate(mode="bilinear", antialias=True)`` on uint8 tensors:
    the triangle filter widened by the downscaling factor, as PIL does. This reproduces
    ``torchvision.transforms.Resize`` applied to the PIL images of torchvision's MNIST (the
    usual pipeline, which torchvision cannot run beside the CPU torch wheel here) to within
    one grey level, and keeps 8-bit output like PIL. ``mode="area"`` (adaptive average
    pooling) was not chosen: at the 28 / 10 = 2.8 ratio its windows overlap unevenly and
    it matches no reference pipeline.

    Input
    -----
    images : [n, height, width], uint8
    side : int >= 1, output side in pixels
    chunk : int >= 1, images per interpolate call (bounds memory)

    Output
    ------
    resized : [n, side, side], uint8

    Example
    -------
    >>> resize_images(np.full((2, 28, 28), 200, dtype=np.uint8)).shape
    (2, 10, 10)
    """
    side = check_int("side", side, 1)
    chunk = check_int("chunk", chunk, 1)
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ConfigError(
            f"images with shape={images.shape} dtype={images.dtype} are invalid; expected "
            "[n, height, width] uint8"
        )
    out = np.empty((images.shape[0], side, side), dtype=np.uint8)  # [n, side, side]
    for start in range(0, images.shape[0], chunk):
        block = torch.from_numpy(np.ascontiguousarray(images[start : start + chunk]))
        resized = F.interpolate(
            block[:, None],
            size=(side, side),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )  # [chunk, 1, side, side], uint8
        out[start : start + chunk] = resized[:, 0].numpy()
    return out


def preprocess_images(
    images: np.ndarray,
    side: int = IMAGE_SIDE,
    mean: float = MNIST_MEAN,
    std: float = MNIST_STD,
) -> np.ndarray:
    r"""Resize, scale and normalize images into network inputs.

    ``x = (resize(images) / 255 - mean) / std``, flattened row-major.

    Input
    -----
    images : [n, height, width], uint8
    side : int >= 1, side after :func:`resize_images`
    mean, std : float, normalization of the [0, 1] pixel values

    Output
    ------
    x : [n, side * side], float32 (0 maps to -0.4242, 255 to 2.8215 with the defaults)

    Example
    -------
    >>> x = preprocess_images(np.zeros((3, 28, 28), dtype=np.uint8))
    >>> x.shape, round(float(x[0, 0]), 4)
    ((3, 100), -0.4242)
    """
    resized = resize_images(images, side)  # [n, side, side], uint8
    x = resized.reshape(resized.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return (x - np.float32(mean)) / np.float32(std)


def _check_digits(digits: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(d) for d in digits)
    except (TypeError, ValueError):
        out = ()
    if not out or len(set(out)) != len(out) or any(not 0 <= d <= 9 for d in out):
        raise ConfigError(f"digits={digits!r} is invalid; expected distinct integers in 0..9")
    return out


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise _idx_error(
            images_path,
            f"holds {images.dtype} of shape {images.shape}; expected uint8 images "
            "[n, height, width] (type code 0x08, 3 dimensions)",
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise _idx_error(
            labels_path,
            f"holds {labels.dtype} of shape {labels.shape}; expected uint8 labels "
            "[n] (type code 0x08, 1 dimension)",
        )
    if labels.shape[0] != images.shape[0]:
        raise _idx_error(
            labels_path,
            f"holds {labels.shape[0]} labels but {images_path.name} holds "
            f"{images.shape[0]} images; expected the same number",
        )
    if labels.size and labels.max() > 9:
        raise _idx_error(labels_path, f"holds label {int(labels.max())}; expected digits 0..9")
    return images, labels


def load_mnist_018(
    directory: str | os.PathLike,
    digits: Sequence[int] = MNIST_DIGITS,
    side: int = IMAGE_SIDE,
) -> dict[str, np.ndarray]:
    r"""Load MNIST, keep ``digits`` and turn the images into normalized 100-feature vectors.

    Files are found by :func:`find_mnist_files`; images go through
    :func:`preprocess_images` (resize to ``side x side``, ``(p / 255 - 0.1307) / 0.3081``).
    Real MNIST gives 18,516 training and 3,089 test images of digits 0/1/8.

    Input
    -----
    directory : str or path-like holding the four IDX files
    digits : distinct ints in 0..9, the digits to keep
    side : int >= 1, image side after resizing

    Output
    ------
    data : dict of arrays
        ``train_x`` : [n_train, side * side], float32, normalized pixels;
        ``train_y`` : [n_train], int64, the digit;
        ``train_index`` : [n_train], int64, position in the training IDX file;
        ``test_x``, ``test_y``, ``test_index`` : the same for the test files

    Example
    -------
    >>> _ = make_fake_mnist("fake_mnist", n_train=100, n_test=20, seed=0)
    >>> data = load_mnist_018("fake_mnist")
    >>> set(np.unique(data["train_y"])) <= {0, 1, 8}
    True
    """
    digits = _check_digits(digits)
    side = check_int("side", side, 1)
    files = find_mnist_files(directory)
    data: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        images, labels = _load_pair(files[f"{part}_images"], files[f"{part}_labels"])
        keep = np.flatnonzero(np.isin(labels, digits))  # [n_part]
        if keep.size == 0:
            raise _idx_error(
                files[f"{part}_labels"],
                f"holds no image of digits {list(digits)}; expected at least one",
            )
        data[f"{part}_x"] = preprocess_images(images[keep], side)
        data[f"{part}_y"] = labels[keep].astype(np.int64)
        data[f"{part}_index"] = keep.astype(np.int64)
    return data


# --------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class SplitSpec:
    r"""Percentages of one split; counts are rounded down (see :func:`split_counts`).

    source_pool_pct : percent of the training images in the source pool (the rest is
        the target pool)
    source_train_pct : percent of the source pool used for source training (the rest is
        source validation)
    target_train_pct : percent of the target pool used for target training (the rest is
        target validation)
    """

    source_pool_pct: int
    source_train_pct: int
    target_train_pct: int


SPLITS: dict[str, SplitSpec] = {
    "A": SplitSpec(source_pool_pct=95, source_train_pct=70, target_train_pct=10),
    "B": SplitSpec(source_pool_pct=90, source_train_pct=70, target_train_pct=50),
}
"""The paper's splits (SPEC section 4): on 18,516 images A gives 12,313 source-train and
92 target-train images, B 11,664 and 926."""

SPLIT_PARTS: tuple[str, ...] = (
    "source_train",
    "source_valid",
    "target_train",
    "target_valid",
    "test",
)
"""Parts of :class:`MnistSplits`, each with arrays ``{part}_x`` and ``{part}_y``."""


def _raw_counts(n: int, spec: SplitSpec) -> dict[str, int]:
    source_pool = n * spec.source_pool_pct // 100  # exact integer floor, no float rounding
    source_train = source_pool * spec.source_train_pct // 100
    target_pool = n - source_pool
    target_train = target_pool * spec.target_train_pct // 100
    return {
        "source_train": source_train,
        "source_valid": source_pool - source_train,
        "target_train": target_train,
        "target_valid": target_pool - target_train,
    }


def split_counts(n_train: int, split: str = "A") -> dict[str, int]:
    r"""Sizes of the four training parts of ``split`` for ``n_train`` images.

    Every fraction is rounded down, in exact integer arithmetic:

        source_pool  = floor(n_train * source_pool_pct / 100)
        source_train = floor(source_pool * source_train_pct / 100)
        target_train = floor((n_train - source_pool) * target_train_pct / 100)

    and the validation parts take the rest of their pool. This is the rule that gives the
    paper's counts on the 18,516 training images of 0/1/8: A 17,590 / 926 pools, 12,313
    and 92 train images; B 16,664 / 1,852 pools, 11,664 and 926 (rounding to nearest would
    give 93 and 11,665).

    Input
    -----
    n_train : int >= 1
    split : str, a key of :data:`SPLITS`

    Output
    ------
    counts : dict ``{"source_train", "source_valid", "target_train", "target_valid"} ->
        int``, summing to ``n_train``

    Raises :class:`ConfigError` when a part would be empty, naming the smallest
    ``n_train`` that works.

    Example
    -------
    >>> split_counts(18516, "A")["target_train"]
    92
    """
    split = check_choice("split", split, tuple(SPLITS))
    n_train = check_int("n_train", n_train, 1)
    spec = SPLITS[split]
    counts = _raw_counts(n_train, spec)
    empty = [k for k, v in counts.items() if v == 0]
    if empty:
        minimum = next(
            (m for m in range(n_train + 1, 100_001) if min(_raw_counts(m, spec).values()) > 0),
            None,
        )
        need = f"at least {minimum} training images" if minimum else "more training images"
        raise ConfigError(
            f"n_train={n_train} is invalid for split {split!r} ({spec.source_pool_pct} % / "
            f"{spec.source_train_pct} % / {spec.target_train_pct} %): it leaves "
            f"{', '.join(empty)} empty; expected {need}"
        )
    return counts


def split_indices(n_train: int, split: str = "A", seed: int = 0) -> dict[str, np.ndarray]:
    r"""Seeded partition of ``range(n_train)`` into the four training parts.

    One permutation ``np.random.default_rng(seed).permutation(n_train)``: its first
    ``source_pool`` entries are the source pool (source train first, then source
    validation), the rest the target pool (target train first, then target validation).
    Sizes from :func:`split_counts`.

    Input
    -----
    n_train : int >= 1
    split : str, a key of :data:`SPLITS`
    seed : int >= 0

    Output
    ------
    indices : dict ``part -> [count]`` int64 arrays, disjoint, covering ``range(n_train)``

    Example
    -------
    >>> {k: len(v) for k, v in split_indices(18516, "B", seed=0).items()}
    {'source_train': 11664, 'source_valid': 5000, 'target_train': 926, 'target_valid': 926}
    """
    counts = split_counts(n_train, split)
    seed = check_int("seed", seed, 0)
    perm = np.random.default_rng(seed).permutation(n_train).astype(np.int64)  # [n_train]
    bounds = np.cumsum([0, *counts.values()])
    return {k: perm[bounds[i] : bounds[i + 1]] for i, k in enumerate(counts)}


@dataclass(frozen=True, eq=False)
class MnistSplits:
    r"""The MNIST 1 -> 8 data of one split, ready for training.

    Arrays ``{part}_x`` : [n_part, 100] float32 normalized pixels and ``{part}_y`` :
    [n_part] float32 labels in {0, 1} for each part of :data:`SPLIT_PARTS`. Source parts
    are labelled "is it a 1", target parts and ``test`` "is it an 8". ``test_digits``
    holds the test digits, so the source task can be scored on the test set too
    (``test_digits == 1``).
    """

    split: str
    seed: int
    source_train_x: np.ndarray
    source_train_y: np.ndarray
    source_valid_x: np.ndarray
    source_valid_y: np.ndarray
    target_train_x: np.ndarray
    target_train_y: np.ndarray
    target_valid_x: np.ndarray
    target_valid_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    test_digits: np.ndarray

    def arrays(self, part: str) -> dict[str, np.ndarray]:
        """``{"x": {part}_x, "y": {part}_y}``, the batch keys of the MNIST objectives."""
        part = check_choice("part", part, SPLIT_PARTS)
        return {"x": getattr(self, f"{part}_x"), "y": getattr(self, f"{part}_y")}

    def counts(self) -> dict[str, int]:
        """Number of images per part."""
        return {part: len(getattr(self, f"{part}_y")) for part in SPLIT_PARTS}


def split_mnist_018(data: Mapping[str, np.ndarray], split: str = "A", seed: int = 0) -> MnistSplits:
    r"""Split the data of :func:`load_mnist_018` into source / target, train / validation.

    Training images are partitioned by :func:`split_indices`; the test set is kept whole
    (3,089 images of 0/1/8 for real MNIST). Labels: source ``y = (digit == 1)``, target and
    test ``y = (digit == 8)``, as float32 0/1.

    Input
    -----
    data : mapping with ``train_x`` [n_train, d], ``train_y`` [n_train] digits,
        ``test_x`` [n_test, d], ``test_y`` [n_test] digits
    split : str, a key of :data:`SPLITS` ("A" or "B")
    seed : int >= 0, seed of the permutation

    Output
    ------
    splits : :class:`MnistSplits`

    Example
    -------
    >>> _ = make_fake_mnist("fake_mnist", n_train=1000, n_test=200, seed=0)
    >>> s = split_mnist_018(load_mnist_018("fake_mnist"), split="B", seed=3)
    >>> s.source_train_x.shape[1], s.split, s.seed
    (100, 'B', 3)
    """
    missing = [k for k in ("train_x", "train_y", "test_x", "test_y") if k not in data]
    if missing:
        raise ConfigError(
            f"data is missing {', '.join(missing)}; expected the dict of load_mnist_018"
        )
    train_x, train_y = np.asarray(data["train_x"]), np.asarray(data["train_y"])
    test_x, test_y = np.asarray(data["test_x"]), np.asarray(data["test_y"])
    for part, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        if y.ndim != 1 or x.ndim < 1 or x.shape[0] != y.shape[0]:
            raise ConfigError(
                f"data {part}_x has shape {x.shape} and {part}_y {y.shape}; expected "
                "[n, ...] and [n] with the same n"
            )
    idx = split_indices(train_y.shape[0], split, seed)
    out: dict[str, np.ndarray] = {}
    for part, rows in idx.items():
        digit = 1 if part.startswith("source") else 8
        out[f"{part}_x"] = train_x[rows]
        out[f"{part}_y"] = (train_y[rows] == digit).astype(np.float32)
    return MnistSplits(
        split=split,
        seed=int(seed),
        **out,
        test_x=test_x,
        test_y=(test_y == 8).astype(np.float32),
        test_digits=test_y.astype(np.int64),
    )
