r"""Corrupted-input reconstruction: the denoising and masked variants of the source training.

The plain reconstruction strategy trains the source network on ``L_task + alpha L_rec``
where the decoder rebuilds the (clean) input from the features of that same input. The seed
papers suggest two classic variants that make the features describe the channel rather
than memorize it:

* ``denoising`` (denoising autoencoder): the network sees ``x + level * n`` with
  ``n ~ N(0, 1)`` entrywise; ``level`` is in units of the standardized input (its entries
  have unit variance), so ``level = 0.3`` is noise at 30 % of one standard deviation.
* ``masked`` (masked autoencoder): every entry of the input is hidden (set to 0, the mean
  of a standardized entry) with probability ``level``, independently.

The decoder's target is never corrupted: the clean input (D2D, which rebuilds its input,
hidden entries included) or the geometry factors (MISO).

Both are training-minibatch transforms of the :func:`wirelessrl.engine.fit` ``augment``
hook: the task loss is still computed on the true channel of each sample, the
reconstruction target stays clean, validation and test inputs are never corrupted, and the
randomness comes only from the generator ``fit`` passes (seeded by run seed and epoch), so
runs are reproducible and resume exactly. ``level = 0`` is the plain strategy.

Example
-------
>>> c = make_corruption("masked", 0.3, input_key="x")
>>> c.name
'masked-0.3'
>>> batch = c({"x": torch.ones(2, 4), "g": torch.ones(2, 2, 2)}, torch.Generator().manual_seed(0))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from simulators.validation import ConfigError

__all__ = ["CORRUPTIONS", "InputCorruption", "make_corruption", "corruption_from_section",
           "source_corruption", "hashed_source_section", "check_source_corruption"]

CORRUPTIONS = ("plain", "denoising", "masked")
"""Allowed values of the ``source.reconstruction_input`` config key."""

SECTION_KEYS = ("reconstruction_input", "corruption_level")
"""The config keys of a source section read by :func:`corruption_from_section`."""

TARGET_SECTION_KEY = "reconstruction_target"
"""The source-section key of what the decoder rebuilds (D2D,
:data:`wirelessrl.d2d_inputs.RECONSTRUCTION_TARGETS`; ``input`` is the paper's)."""


@dataclass(frozen=True)
class InputCorruption:
    """A random corruption of ``batch[input_key]`` (the other keys are left as they are).

    Parameters
    ----------
    kind : ``"denoising"`` or ``"masked"``
    level : float, noise std (denoising, > 0) or hiding probability (masked, in (0, 1))
    input_key : str, the batch key of the network input ``[batch, ...]``

    Called as ``corruption(batch, generator) -> batch`` with a CPU ``torch.Generator``.
    """

    kind: str
    level: float
    input_key: str = "x"

    @property
    def name(self) -> str:
        """``"<kind>-<level>"``, e.g. ``"masked-0.1"`` (labels runs and checkpoints)."""
        return f"{self.kind}-{self.level:g}"

    def __call__(self, batch: Mapping[str, torch.Tensor],
                 generator: torch.Generator) -> dict[str, torch.Tensor]:
        x = batch[self.input_key]
        if self.kind == "denoising":
            noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
            x = x + self.level * noise.to(x.device)
        else:
            hidden = torch.rand(x.shape, generator=generator) < self.level
            x = x.masked_fill(hidden.to(x.device), 0.0)
        return {**batch, self.input_key: x}


def make_corruption(kind: str, level: float, input_key: str = "x") -> InputCorruption | None:
    """A validated corruption; None for ``plain`` or ``level = 0`` (no corruption).

    Errors name the field: ``source.reconstruction_input`` must be one of
    :data:`CORRUPTIONS`; ``source.corruption_level`` a finite number >= 0 (< 1 for masked).
    """
    if kind not in CORRUPTIONS:
        raise ConfigError(f"source.reconstruction_input={kind!r} is invalid; expected one of "
                          f"{', '.join(CORRUPTIONS)}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not level >= 0 \
            or level == float("inf"):
        raise ConfigError(f"source.corruption_level={level!r} is invalid; expected a finite "
                          "number >= 0 (noise std for denoising, hiding probability for masked)")
    if kind == "masked" and level >= 1:
        raise ConfigError(f"source.corruption_level={level!r} is invalid for masked "
                          "reconstruction; expected a hiding probability in [0, 1)")
    if kind == "plain" or level == 0:
        return None
    return InputCorruption(kind, float(level), input_key)


def corruption_from_section(section: Mapping[str, Any],
                            input_key: str = "x") -> InputCorruption | None:
    """The corruption of a ``source`` config section (absent keys: plain)."""
    return make_corruption(section.get("reconstruction_input", "plain"),
                           section.get("corruption_level", 0.0), input_key)


def hashed_source_section(section: Mapping[str, Any],
                          uses_corruption: bool = True) -> dict[str, Any]:
    """The source section as a step hash should see it: without the corruption keys when
    they mean plain reconstruction (so runs made before these keys existed stay valid and
    every ``level = 0`` run is the same step as the plain one), or when the step does not
    depend on them (``uses_corruption=False``: the conventional source, the strategies
    built on it or on no source); likewise without ``reconstruction_target`` when it is
    ``input`` (the paper's decoder) or the step has no decoder."""
    out = dict(section)
    if not uses_corruption or out.get(TARGET_SECTION_KEY, "input") == "input":
        out.pop(TARGET_SECTION_KEY, None)
    if not uses_corruption or corruption_from_section(section) is None:
        for key in SECTION_KEYS:
            out.pop(key, None)
    else:  # 1 and 1.0 train the same network
        out["corruption_level"] = float(out["corruption_level"])
    return out


def check_source_corruption(section: Mapping[str, Any], where: str = "source") -> None:
    """Config check: a valid corruption, and one only with a reconstruction loss
    (``alpha > 0``); errors name the field."""
    corruption = corruption_from_section(section)
    alpha = section.get("alpha", 0.0)
    positive = isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and alpha > 0
    if corruption is not None and not positive:
        raise ConfigError(f"{where}.reconstruction_input={corruption.kind!r} needs "
                          f"{where}.alpha > 0 (there is nothing to reconstruct); got "
                          f"alpha={section.get('alpha')!r}")


def source_corruption(section: Mapping[str, Any], source_name: str,
                      input_key: str = "x") -> InputCorruption | None:
    """The corruption a source network trains with: the section's for the reconstruction
    source, none for the conventional one (alpha = 0: no decoder, nothing to rebuild)."""
    corruption = corruption_from_section(section, input_key)
    return None if source_name == "conventional" else corruption
