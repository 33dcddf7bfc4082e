r"""Label-free data augmentation for training minibatches (``fit(..., augment=...)``).

D2D power control is *permutation-equivariant*: the numbering of the links is arbitrary.
Relabel the links with a permutation ``pi`` (new link ``i`` is old link ``pi(i)``)::

    g'[i, j] = g[pi(i), pi(j)]        (gains: rows and columns together)
    p'[i]    = p[pi(i)]               (the optimal powers follow the links)
    r'[i]    = r[pi(i)]               (so do the rates; the sum and the minimum are unchanged)

so a relabelled layout is another valid layout with the same optimum, relabelled. Drawing
a fresh random relabelling of every layout of every minibatch turns the 1,000 target
layouts into up to ``1,000 x 10!`` distinct training inputs for a network (an MLP on the
flattened matrix) that is not equivariant by construction. No label, solver or extra layout
is involved, but the training inputs are no longer the data set as given, so experiments
report it as a variant of its own.

The network input is a function of the gains (e.g. the per-entry standardization of
:class:`wirelessrl.standardize.Standardizer`), so it must follow the permutation. Two
ways, both offered by :class:`D2DLinkPermutation`:

* ``transform`` given (recommended): the input is *recomputed* from the permuted gains.
  Exact for any input map, including per-entry statistics. Per-entry means and stds are
  estimated from the source set: all diagonal entries estimate one value and all
  off-diagonal entries another (the layouts are exchangeable), but each with its own
  sampling error, and the linear gains of the pure path-loss preset are heavy-tailed, so
  the per-entry estimates differ noticeably (20,000 ``paper`` layouts: off-diagonal stds
  up to 1.2x apart; 0.7 % spread in dB). Permuting the standardized input directly would
  standardize every entry with another entry's statistics.
* ``transform=None``: the input (``[batch, n * n]`` or ``[batch, n, n]``) is permuted like
  the gains. Exact only when the input is an entrywise map of ``g`` whose statistics are
  permutation-symmetric (one value for the diagonal, one for the rest).

Randomness comes only from the ``torch.Generator`` that :func:`wirelessrl.engine.fit`
passes (seeded from the run's seed and the epoch), so augmented runs are reproducible and
resume exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch

from simulators.validation import ConfigError

__all__ = [
    "random_link_permutations",
    "permute_links",
    "permute_link_vectors",
    "D2DLinkPermutation",
]


def random_link_permutations(
    batch: int, n_links: int, generator: torch.Generator, device: torch.device | str = "cpu"
) -> torch.Tensor:
    r"""One uniformly random permutation of ``range(n_links)`` per sample.

    Input
    -----
    batch : int, number of permutations
    n_links : int, links per layout
    generator : CPU ``torch.Generator``, the only source of randomness
    device : where the result lives (drawn on the CPU, then moved)

    Output
    ------
    perm : [batch, n_links], int64; row ``b`` is a permutation, ``perm[b, i]`` the old index
    of new link ``i``

    Example
    -------
    >>> p = random_link_permutations(2, 4, torch.Generator().manual_seed(0))
    >>> p.sort(dim=-1).values.tolist()
    [[0, 1, 2, 3], [0, 1, 2, 3]]
    """
    # [batch, n_links]: argsort of i.i.d. uniforms is a uniform random permutation
    keys = torch.rand(batch, n_links, generator=generator)
    return keys.argsort(dim=-1).to(device)


def permute_links(g: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    r"""Relabel the links of gain matrices: ``g'[b, i, j] = g[b, perm[b, i], perm[b, j]]``.

    Input
    -----
    g : [batch, n, n], ``g[b, i, j]`` the gain from transmitter j to receiver i
    perm : [batch, n], int64, permutations (see :func:`random_link_permutations`)

    Output
    ------
    g' : [batch, n, n], same dtype and device

    Example
    -------
    >>> g = torch.arange(4.0).reshape(1, 2, 2)
    >>> permute_links(g, torch.tensor([[1, 0]])).tolist()
    [[[3.0, 2.0], [1.0, 0.0]]]
    """
    if g.ndim != 3 or g.shape[-1] != g.shape[-2] or perm.shape != g.shape[:2]:
        raise ConfigError(
            f"permute_links: gains of shape {tuple(g.shape)} and permutations of shape "
            f"{tuple(perm.shape)}; expected (batch, n, n) and (batch, n)"
        )
    b = torch.arange(g.shape[0], device=g.device)
    perm = perm.to(g.device)
    # [batch, n, n]: rows by perm (receivers), columns by perm (transmitters)
    return g[b[:, None, None], perm[:, :, None], perm[:, None, :]]


def permute_link_vectors(v: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    r"""Relabel per-link values: ``v'[b, i, ...] = v[b, perm[b, i], ...]``.

    Input: ``v : [batch, n, ...]`` (powers, rates, link weights), ``perm : [batch, n]``.
    Output: ``[batch, n, ...]``.

    Example
    -------
    >>> permute_link_vectors(torch.tensor([[10.0, 20.0, 30.0]]), torch.tensor([[2, 0, 1]]))
    tensor([[30., 10., 20.]])
    """
    if v.ndim < 2 or v.shape[:2] != perm.shape:
        raise ConfigError(
            f"permute_link_vectors: values of shape {tuple(v.shape)} and permutations of "
            f"shape {tuple(perm.shape)}; expected (batch, n, ...) and (batch, n)"
        )
    b = torch.arange(v.shape[0], device=v.device)
    return v[b[:, None], perm.to(v.device)]


@dataclass(frozen=True)
class D2DLinkPermutation:
    r"""Relabel the links of every layout of a minibatch at random (see the module doc).

    Attributes
    ----------
    transform : callable ``g [batch, n, n] -> x``, or None. With a callable the input
        ``batch[input_key]`` is recomputed from the permuted gains (exact for any input
        map, e.g. ``InputTransform.apply_torch``); with None it is permuted like the gains
        (valid only for an entrywise map with permutation-symmetric statistics)
    gains_key : str, batch key of the gains ``[batch, n, n]``
    input_key : str or None, batch key of the network input (None: the batch has none)
    link_keys : tuple of str, other per-link tensors ``[batch, n, ...]`` to relabel
        (e.g. link weights ``"w"``)

    Called as ``augment(batch, generator) -> batch``; keys not named stay as they are.

    Example
    -------
    >>> aug = D2DLinkPermutation(transform=lambda g: g.reshape(len(g), -1))
    >>> g = torch.rand(5, 3, 3)
    >>> out = aug({"x": g.reshape(5, -1), "g": g}, torch.Generator().manual_seed(1))
    >>> torch.equal(out["x"], out["g"].reshape(5, -1))
    True
    """

    transform: Callable[[torch.Tensor], torch.Tensor] | None = None
    gains_key: str = "g"
    input_key: str | None = "x"
    link_keys: tuple[str, ...] = ()

    name: ClassVar[str] = "d2d-link-permutation"

    def __post_init__(self) -> None:
        if self.transform is not None and not callable(self.transform):
            raise ConfigError(
                f"transform={self.transform!r} is invalid; expected a callable g -> x or None"
            )
        object.__setattr__(self, "link_keys", tuple(self.link_keys))

    def __call__(
        self, batch: Mapping[str, torch.Tensor], generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        for key in (self.gains_key, *self.link_keys) + (
            (self.input_key,) if self.input_key else ()
        ):
            if key not in batch:
                raise ConfigError(
                    f"D2DLinkPermutation: key {key!r} is not in the batch; expected one of "
                    f"{sorted(batch)}"
                )
        g = batch[self.gains_key]
        perm = random_link_permutations(g.shape[0], g.shape[-1], generator, g.device)
        out = dict(batch)
        out[self.gains_key] = g_new = permute_links(g, perm)
        for key in self.link_keys:
            out[key] = permute_link_vectors(batch[key], perm)
        if self.input_key:
            x = batch[self.input_key]
            if self.transform is not None:
                x_new = self.transform(g_new)
            else:
                n = g.shape[-1]
                x_new = permute_links(x.reshape(x.shape[0], n, n), perm).reshape(x.shape)
            out[self.input_key] = x_new.to(dtype=x.dtype).reshape(x.shape)
        return out
