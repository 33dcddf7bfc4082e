r"""Training data read from disk in chunks: a torch ``Dataset`` over a wirelessrl HDF5 file.

:class:`ChunkedDataset` serves the samples of a data file (a split of its rows) as
tensors, holding one chunk of rows in memory at a time, so a data set larger than memory
can train a network. :func:`wirelessrl.engine.fit` takes it in place of the usual dict
of tensors (``fit(model, objective, ChunkedDataset(...), valid, config)``) and draws
minibatches with :meth:`ChunkedDataset.batches`: every epoch the chunks are visited in a
random order and the rows inside each chunk are shuffled (both from the epoch's
``torch.Generator``), so an epoch reads the file once, sequentially chunk by chunk, and a
resumed run draws the same minibatches as an uninterrupted one. The minibatches differ
from the in-memory path's (a permutation of all rows), which stays the default. With a
``torch.utils.data.DataLoader``, :class:`ChunkShuffleSampler` gives the same chunk-wise
order sample by sample.

Example
-------
>>> from wirelessrl.loaders import ChunkedDataset
>>> train = ChunkedDataset("source_train.h5", keys=("g",), chunk_size=20_000,
...                        transform=lambda a: {"x": to_x(a["g"]), "g": a["g"]})  # doctest: +SKIP
>>> fit(net, objective, train, valid, TrainConfig(epochs=10, batch_size=2000))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from simulators.validation import ConfigError, check_int
from wirelessrl.fileio import ArrayReader

Transform = Callable[[Mapping[str, np.ndarray]], Mapping[str, "torch.Tensor | np.ndarray"]]
"""``transform(arrays) -> batch``: NumPy rows of the file (``[m, ...]`` per key) to the
tensors a training objective expects (``[m, ...]`` per key)."""

__all__ = ["ChunkShuffleSampler", "ChunkedDataset"]


def _as_tensors(arrays: Mapping[str, np.ndarray], transform: Transform | None) -> dict:
    out = arrays if transform is None else transform(arrays)
    if not isinstance(out, Mapping) or not out:
        raise ConfigError(f"transform returned {type(out).__name__}; expected a non-empty "
                          "dict of arrays or tensors")
    return {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(v))
            for k, v in out.items()}


class ChunkedDataset(torch.utils.data.Dataset):
    """Rows ``start .. stop - 1`` of a data file as a torch ``Dataset``, read in chunks.

    Input
    -----
    path : str or PathLike, a file written by wirelessrl (``simulate``; HDF5 for reading
        from disk, a ``.mat`` file is read whole)
    keys : sequence of str, arrays to read (all with one row per sample), e.g. ``("g",)``
    transform : callable or None, NumPy rows ``{key: [m, ...]}`` to the training batch
        ``{name: tensor [m, ...]}`` (e.g. standardized inputs ``x`` and gains ``g``);
        None turns each array into a tensor as it is
    start, stop : int or None, the rows used (a split of the file; None: all)
    rows : [m] int array or None, the rows used as sorted file row indices instead of
        ``start:stop`` (e.g. a seeded random split); each chunk reads the file's rows from
        its first to its last index in one slice
    chunk_size : int >= 1, rows per read (memory: about one chunk after the transform)
    kind : str or None, the file kind expected (``"d2d-layouts"``, ...)
    verify : bool, check the file's checksum once, in a streaming pass, on construction

    Output
    ------
    ``dataset[i]`` is ``{name: tensor [...]}`` of sample ``i``; ``len(dataset)`` the number
    of rows; :meth:`batches` yields minibatches ``{name: tensor [<= batch_size, ...]}``.

    Example
    -------
    >>> ds = ChunkedDataset("d2d.h5", keys=("g",), chunk_size=4096)     # doctest: +SKIP
    >>> ds[0]["g"].shape                                                 # doctest: +SKIP
    torch.Size([10, 10])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        keys: Sequence[str],
        transform: Transform | None = None,
        *,
        start: int | None = None,
        stop: int | None = None,
        rows: np.ndarray | None = None,
        chunk_size: int = 16_384,
        kind: str | None = None,
        verify: bool = True,
    ) -> None:
        if isinstance(keys, str) or not keys:
            raise ConfigError(f"keys={keys!r} is invalid; expected a non-empty list of array "
                              "names")
        self.path, self.keys, self.transform, self.kind = path, tuple(keys), transform, kind
        self.chunk_size = check_int("chunk_size", chunk_size, 1)
        with ArrayReader(path, kind) as reader:
            missing = [k for k in self.keys if k not in reader.names]
            if missing:
                raise ConfigError(f"file {str(path)!r} lacks the array {missing[0]!r}; "
                                  f"expected one of {', '.join(reader.names)}")
            counts = {reader.shape(k)[0] if reader.shape(k) else 0 for k in self.keys}
            if len(counts) != 1:
                raise ConfigError(f"file {str(path)!r}: arrays {list(self.keys)} have "
                                  f"different numbers of rows {sorted(counts)}; expected one")
            total = counts.pop()
            if verify:
                reader.verify()
        lo = 0 if start is None else check_int("start", start, 0)
        hi = total if stop is None else check_int("stop", stop, 1)
        if not lo < hi <= total:
            raise ConfigError(f"rows start={lo}, stop={hi} are invalid for file {str(path)!r} "
                              f"of {total} rows; expected 0 <= start < stop <= {total}")
        self.start, self.stop = lo, hi
        self.rows = None
        if rows is not None:
            r = np.asarray(rows, dtype=np.int64).ravel()
            if start is not None or stop is not None or not r.size or r[0] < 0 \
                    or r[-1] >= total or np.any(np.diff(r) <= 0):
                raise ConfigError(f"rows are invalid for file {str(path)!r} of {total} rows; "
                                  "expected increasing indices in 0..n-1, without start/stop")
            self.rows, self.start, self.stop = r, 0, r.size
        self._reader: ArrayReader | None = None
        self._pid = None
        self._cached: tuple[int, dict] | None = None

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def n_chunks(self) -> int:
        """Number of chunks, ``ceil(len(self) / chunk_size)`` (the last may be short)."""
        return -(-len(self) // self.chunk_size)

    def _open(self) -> ArrayReader:
        if self._reader is None or self._pid != os.getpid():  # h5py handles do not fork
            self._reader = ArrayReader(self.path, self.kind)
            self._pid = os.getpid()
        return self._reader

    def chunk(self, k: int) -> dict[str, torch.Tensor]:
        """Chunk ``k`` (rows ``start + k * chunk_size`` on), transformed; the last one read
        is kept."""
        if self._cached is not None and self._cached[0] == k:
            return self._cached[1]
        if not 0 <= k < self.n_chunks:
            raise IndexError(f"chunk {k} out of range 0..{self.n_chunks - 1}")
        lo = self.start + k * self.chunk_size
        hi = min(lo + self.chunk_size, self.stop)
        reader = self._open()
        if self.rows is None:
            arrays = {key: reader.read(key, lo, hi) for key in self.keys}
        else:
            idx = self.rows[lo:hi]
            arrays = {key: reader.read(key, int(idx[0]), int(idx[-1]) + 1)[idx - idx[0]]
                      for key in self.keys}
        batch = _as_tensors(arrays, self.transform)
        self._cached = (k, batch)
        return batch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"sample {i} out of range for {len(self)} samples")
        k, j = divmod(i, self.chunk_size)
        return {name: value[j] for name, value in self.chunk(k).items()}

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Minibatches over all samples: chunks in a random order, rows shuffled inside each
        chunk (``generator`` None: file order); the rows left over by one chunk open the
        next minibatch, so every minibatch but the last has ``batch_size`` samples."""
        batch_size = check_int("batch_size", batch_size, 1)
        order = (torch.randperm(self.n_chunks, generator=generator) if generator is not None
                 else torch.arange(self.n_chunks))
        carry: dict[str, torch.Tensor] | None = None
        for k in order.tolist():
            part = self.chunk(k)
            if generator is not None:
                rows = torch.randperm(next(iter(part.values())).shape[0], generator=generator)
                part = {name: v.index_select(0, rows) for name, v in part.items()}
            if carry is not None:
                part = {name: torch.cat([carry[name], part[name]]) for name in part}
            m = next(iter(part.values())).shape[0]
            full = (m // batch_size) * batch_size
            for lo in range(0, full, batch_size):
                yield {name: v[lo:lo + batch_size] for name, v in part.items()}
            carry = {name: v[full:] for name, v in part.items()} if full < m else None
        if carry is not None and not drop_last:
            yield carry

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_reader"], state["_pid"], state["_cached"] = None, None, None
        return state


class ChunkShuffleSampler(torch.utils.data.Sampler):
    """Sample indices for a ``DataLoader`` over a :class:`ChunkedDataset`, in the order of
    :meth:`ChunkedDataset.batches`: chunks shuffled, indices shuffled within a chunk, so
    consecutive reads hit the chunk in memory.

    Example
    -------
    >>> loader = torch.utils.data.DataLoader(ds, batch_size=256,                # doctest: +SKIP
    ...                                      sampler=ChunkShuffleSampler(ds, seed=0))
    """

    def __init__(self, dataset: ChunkedDataset, seed: int = 0) -> None:
        self.dataset = dataset
        self.seed = check_int("seed", seed, 0)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` on the next iteration (like DistributedSampler)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        size, n = self.dataset.chunk_size, len(self.dataset)
        for k in torch.randperm(self.dataset.n_chunks, generator=gen).tolist():
            m = min(size, n - k * size)
            yield from (k * size + torch.randperm(m, generator=gen)).tolist()
