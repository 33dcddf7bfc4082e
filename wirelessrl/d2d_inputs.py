r"""The network inputs of D2D power control, per model family: gains -> batch tensors.

``mlp`` (:class:`FlatInputs`): ``x`` the ``N^2`` gains standardized per entry with the
source-training statistics (:class:`~wirelessrl.standardize.Standardizer`; ``log-db``:
of ``10 log10 g``), the decoder's target ``x`` itself. ``gnn`` (:class:`GraphInputs`):
``x`` the received SNRs at full power in dB (any ``N``), the decoder's target ``x_rec``
their standardized form (:class:`~wirelessrl.gnn.GraphInputTransform`). Both put the gains
``g`` (float32) in the batch for the rate losses. The fitted maps are JSON-serializable
(``to_dict`` / :func:`inputs_from_dict`), so a saved model (:mod:`wirelessrl.modeldir`)
applies exactly the map it was trained with.

Example
-------
>>> g = np.array([[[1e-9, 1e-12], [1e-12, 1e-9]], [[2e-9, 1e-12], [3e-12, 1e-9]]])
>>> inputs = fit_d2d_inputs("mlp", g)
>>> batch = inputs.tensors(g)
>>> sorted(batch), tuple(batch["x"].shape), inputs.reconstruction_key
(['g', 'x'], (2, 4), 'x')
>>> inputs_from_dict("mlp", inputs.to_dict()).tensors(g)["x"].equal(batch["x"])
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from simulators.validation import ConfigError, check_choice
from wirelessrl.gnn import GraphInputTransform
from wirelessrl.standardize import Standardizer

__all__ = ["FAMILIES", "INPUT_TRANSFORMS", "RECONSTRUCTION_KEYS", "FlatInputs", "GraphInputs",
           "fit_d2d_inputs", "fit_d2d_inputs_chunks", "fit_inputs", "inputs_from_dict", "tensors"]

INPUT_TRANSFORMS = ("standardized", "log-db")
"""Input maps of the ``mlp`` family: standardized gains (the paper's) or standardized dB."""

FAMILIES = ("gnn", "mlp")
"""Model families of the D2D task, the first the default of ``wirelessrl train d2d``."""

RECONSTRUCTION_KEYS = {"mlp": "x", "gnn": "x_rec"}
"""Batch key of the decoder's target per model family."""


def fit_inputs(kind: str, g: np.ndarray) -> Standardizer:
    """The input map of ``model.input_transform`` (``standardized`` gains or ``log-db``),
    fitted on the source-training gains ``g : [n, N, N]``."""
    check_choice("model.input_transform", kind, INPUT_TRANSFORMS)
    return Standardizer.fit(g, log_db=kind == "log-db")


def tensors(g: np.ndarray, inputs: Standardizer) -> dict[str, torch.Tensor]:
    """Batch dict of a split: network input ``x : [n, N^2]`` and gains ``g : [n, N, N]``
    (float32)."""
    return {"x": torch.from_numpy(inputs(g)), "g": torch.from_numpy(g.astype(np.float32))}


@dataclass
class FlatInputs:
    """Inputs of the ``mlp`` family: the standardized flat gains ``x : [n, N^2]``."""

    standardizer: Standardizer
    family: ClassVar[str] = "mlp"
    reconstruction_key: ClassVar[str] = "x"

    @property
    def n_links(self) -> int:
        """The number of links the statistics were fitted for."""
        return int(round(len(self.standardizer.mean) ** 0.5))

    def tensors(self, g: np.ndarray) -> dict[str, torch.Tensor]:
        """``x : [n, N^2]`` and ``g : [n, N, N]``, float32."""
        return tensors(g, self.standardizer)

    def to_dict(self) -> dict[str, Any]:
        s = self.standardizer
        return {"transform": "log-db" if s.log_db else "standardized",
                "mean": np.asarray(s.mean, dtype=np.float64).tolist(),
                "std": np.asarray(s.std, dtype=np.float64).tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> FlatInputs:
        check_choice("inputs.transform", values.get("transform"), INPUT_TRANSFORMS)
        mean = np.asarray(values["mean"], dtype=np.float64)
        std = np.asarray(values["std"], dtype=np.float64)
        if mean.ndim != 1 or mean.shape != std.shape or not (
                np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise ConfigError(f"inputs: mean {mean.shape} / std {std.shape} are invalid; "
                              "expected two lists of N*N finite numbers, std > 0")
        return cls(Standardizer(mean, std, values["transform"] == "log-db"))


@dataclass
class GraphInputs:
    """Inputs of the ``gnn`` family: ``x`` the received SNRs at full power in dB (any size),
    ``x_rec`` their standardized form, the decoder's target (scalars of the source-train
    set; :class:`wirelessrl.gnn.GraphInputTransform`)."""

    transform: GraphInputTransform
    family: ClassVar[str] = "gnn"
    reconstruction_key: ClassVar[str] = "x_rec"
    n_links: ClassVar[None] = None  # any size

    def tensors(self, g: np.ndarray) -> dict[str, torch.Tensor]:
        """``x, x_rec : [n, N, N]`` and ``g : [n, N, N]``, float32."""
        s = self.transform.snr_db(g)
        return {"x": torch.from_numpy(s),
                "x_rec": torch.from_numpy(self.transform.standardize(s)),
                "g": torch.from_numpy(g.astype(np.float32))}

    def to_dict(self) -> dict[str, Any]:
        return {"transform": "snr-db", **self.transform.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> GraphInputs:
        values = dict(values)
        check_choice("inputs.transform", values.pop("transform", None), ("snr-db",))
        try:
            return cls(GraphInputTransform(**{k: float(v) for k, v in values.items()}))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"inputs: {values!r} is invalid ({err}); expected the fields "
                              "of a GraphInputTransform") from None


def fit_d2d_inputs(family: str, g: np.ndarray, p_max_w: float = 1.0, noise_w: float = 1.0,
                   transform: str = "standardized") -> FlatInputs | GraphInputs:
    """The input map of ``family`` fitted on training gains ``g : [n, N, N]``
    (``p_max_w``, ``noise_w`` in watts: the ``gnn`` input's SNR scale)."""
    return fit_d2d_inputs_chunks(family, [g], p_max_w, noise_w, transform)


def fit_d2d_inputs_chunks(family: str, chunks: Iterable[np.ndarray], p_max_w: float = 1.0,
                          noise_w: float = 1.0,
                          transform: str = "standardized") -> FlatInputs | GraphInputs:
    """:func:`fit_d2d_inputs` on training gains given in chunks ``[m, N, N]`` (one pass,
    e.g. over a file larger than memory); one chunk gives exactly :func:`fit_d2d_inputs`,
    more agree with it to about 1e-15 relative (:class:`~wirelessrl.standardize.Moments`).

    Example
    -------
    >>> g = np.random.default_rng(0).uniform(1e-12, 1e-9, (6, 2, 2))
    >>> a = fit_d2d_inputs_chunks("mlp", [g[:4], g[4:]]).standardizer.mean
    >>> bool(np.allclose(a, fit_d2d_inputs("mlp", g).standardizer.mean, rtol=1e-14))
    True
    """
    check_choice("family", family, FAMILIES)
    if family == "gnn":
        return GraphInputs(GraphInputTransform.fit_chunks(chunks, p_max_w, noise_w))
    check_choice("model.input_transform", transform, INPUT_TRANSFORMS)
    return FlatInputs(Standardizer.fit_chunks(chunks, log_db=transform == "log-db"))


def inputs_from_dict(family: str, values: Any) -> FlatInputs | GraphInputs:
    """Rebuild an input map saved with ``to_dict``; :class:`ConfigError` when malformed."""
    check_choice("family", family, FAMILIES)
    if not isinstance(values, dict):
        raise ConfigError(f"inputs={values!r} is invalid; expected a mapping")
    try:
        return (GraphInputs if family == "gnn" else FlatInputs).from_dict(values)
    except KeyError as err:
        raise ConfigError(f"inputs lacks {err}; expected the fields of the {family} input "
                          "map") from None
