r"""Data-parallel training under ``torchrun``: DistributedDataParallel, gloo on CPU, nccl on GPUs.

``torchrun --nproc-per-node W script.py`` starts ``W`` processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR`` / ``MASTER_PORT`` set. When such a
process calls :func:`wirelessrl.engine.fit`, the engine joins the process group
(:func:`setup`) and trains data-parallel with the *same* :class:`~wirelessrl.engine.TrainConfig`
and checkpoints:

* ``batch_size`` stays the global minibatch. Every rank draws the same seeded permutation
  and takes its contiguous share of each minibatch (:func:`shard`); each rank's loss is
  weighted by its share, :class:`torch.nn.parallel.DistributedDataParallel` averages the
  gradients, so one step equals the single-process step on the whole minibatch up to the
  order of floating-point sums. (A minibatch smaller than ``W`` samples is skipped.)
* Every rank validates on the whole validation set: the weights are identical, so are the
  metrics, the best epoch and early stopping.
* Only rank 0 writes ``metrics.csv``, ``last.pt`` and ``fit.json``; every rank reads
  ``last.pt`` to resume. The checkpoint holds the plain model's state (no ``module.``
  prefix), so a checkpoint of a DDP run resumes in one process and the reverse.

Example
-------
``train.py`` calling ``fit(...)`` as usual, then::

    torchrun --standalone --nproc-per-node 2 train.py
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["all_sum", "barrier", "setup", "shard", "world", "wrap"]


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup(device: torch.device) -> tuple[int, int, torch.device]:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE > 1``) unless joined
    already; return ``(rank, world_size, device)`` with a CUDA device moved to
    ``cuda:LOCAL_RANK``. Outside torchrun: ``(0, 1, device)``."""
    if (dist.is_available() and not dist.is_initialized()
            and int(os.environ.get("WORLD_SIZE", "1")) > 1):
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, size = world()
    if size > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return rank, size, device


def shard(batch: dict[str, torch.Tensor], rank: int, size: int) -> tuple[dict, float]:
    """This rank's contiguous share of a minibatch and the weight of its loss,
    ``size * m_rank / m`` (so the DDP average of the weighted gradients is the gradient
    of the whole minibatch's mean loss)."""
    m = next(iter(batch.values())).shape[0]
    lo, hi = rank * m // size, (rank + 1) * m // size
    return {k: v[lo:hi] for k, v in batch.items()}, size * (hi - lo) / m


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model to train with: ``DistributedDataParallel(model)`` in a process group of
    more than one rank (broadcasting rank 0's weights), else ``model`` itself."""
    if world()[1] == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                               find_unused_parameters=True)


def all_sum(value: torch.Tensor) -> torch.Tensor:
    """Sum of ``value`` over the ranks (``value`` itself outside a process group)."""
    if world()[1] > 1:
        value = value.clone()
        dist.all_reduce(value)
    return value


def barrier() -> None:
    """Wait for every rank (nothing outside a process group)."""
    if world()[1] > 1:
        dist.barrier()
