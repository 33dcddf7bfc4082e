r"""The network inputs of D2D power control, per model family: gains -> batch tensors.

``mlp`` (:class:`FlatInputs`): ``x`` the ``N^2`` gains standardized per entry with the
source-training statistics (:class:`~wirelessrl.standardize.Standardizer`; ``log-db``:
of ``10 log10 g``), the decoder's target ``x`` itself. ``gnn`` (:class:`GraphInputs`):
``x`` the received SNRs at full power in dB (any ``N``), the decoder's target ``x_rec``
their standardized form (:class:`~wirelessrl.gnn.GraphInputTransform`). Both put the gains
``g`` (float32) in the batch for the rate losses. The fitted maps are JSON-serializable
(``to_dict`` / :func:`inputs_from_dict`), so a saved model (:mod:`wirelessrl.modeldir`)
applies exactly the map it was trained with.

A network whose min-rate head is built from the gains (the max-min power layer,
:mod:`wirelessrl.maxmin_layer`) reads, in the ``mlp`` family, ``x_gains`` (:func:`with_gains`):
the input ``x`` followed by the received SNRs at full power in dB; the ``gnn`` input already
is those SNRs.

**Reconstruction targets** (``source.reconstruction_target``, :data:`RECONSTRUCTION_TARGETS`):
the decoder rebuilds the input (``input``, the paper's) or one value per link, the
"common information" of both tasks in another form (:func:`reconstruction_values`): the
max-min optimal power fractions (``maxmin``), the FP sum-rate power fractions (``fp``), or the
interference pattern at full power (``interference``, :func:`interference_db`); standardized
with the statistics of the source training set (:func:`fit_target_standardizer`), batch key
:data:`TARGET_KEY`.

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

__all__ = ["FAMILIES", "GAINS_KEY", "INPUT_TRANSFORMS", "RECONSTRUCTION_KEYS",
           "RECONSTRUCTION_TARGETS", "TARGET_KEY", "FlatInputs", "GraphInputs", "fit_d2d_inputs",
           "fit_d2d_inputs_chunks", "fit_inputs", "fit_target_standardizer", "inputs_from_dict",
           "interference_db", "reconstruction_values", "standardize_target", "tensors",
           "with_gains"]

INPUT_TRANSFORMS = ("standardized", "log-db")
"""Input maps of the ``mlp`` family: standardized gains (the paper's) or standardized dB."""

FAMILIES = ("gnn", "mlp")
"""Model families of the D2D task, the first the default of ``wirelessrl train d2d``."""

RECONSTRUCTION_KEYS = {"mlp": "x", "gnn": "x_rec"}
"""Batch key of the decoder's target per model family (``reconstruction_target=input``)."""

RECONSTRUCTION_TARGETS = ("input", "maxmin", "fp", "interference")
"""What the decoder rebuilds: the input (the paper's), or per link the max-min optimal
power fractions, the FP sum-rate power fractions, the interference at full power in dB."""

TARGET_KEY = "rec_target"
"""Batch key of a per-link reconstruction target ``[n, N]`` (standardized, float32)."""

GAINS_KEY = "x_gains"
"""Batch key of the ``mlp`` input followed by the gains in dB (:func:`with_gains`)."""


def with_gains(x: torch.Tensor, g: np.ndarray, p_max_w: float, noise_w: float) -> torch.Tensor:
    """``[n, N^2 + N^2]`` float32: the ``mlp`` network input ``x : [n, N^2]`` followed by the
    received SNRs at full power ``10 log10(g P_max / sigma^2)`` (dB, flattened row by row,
    floored at :data:`wirelessrl.gnn.DB_FLOOR`), what a head built from the gains reads
    (:class:`wirelessrl.models.FeatureMLP`)."""
    s = GraphInputTransform(float(p_max_w), float(noise_w)).snr_db(g).reshape(len(g), -1)
    return torch.cat([x, torch.from_numpy(s)], dim=-1)


def interference_db(g: np.ndarray, p_max_w: float, noise_w: float) -> np.ndarray:
    r"""The interference pattern at full power, per link (``reconstruction_target=
    interference``):

    .. math::

        I_i = 10 \log_{10}\Big(1 + \sum_{j \ne i} g_{ij} P_{max} / \sigma^2\Big)

    the interference-plus-noise power received by link ``i`` when every link transmits at
    full power, relative to the noise (dB; 0 without interference).

    Input: ``g : [n, N, N]`` linear gains, ``p_max_w``, ``noise_w`` in W.
    Output: ``[n, N]`` float64 dB.

    Example
    -------
    >>> g = np.array([[[1.0, 9e-12], [0.0, 1.0]]])
    >>> interference_db(g, 1.0, 1e-12).round(6)
    array([[10.,  0.]])
    """
    g = np.asarray(g, dtype=np.float64)
    off = g * (1.0 - np.eye(g.shape[-1]))                      # [n, N, N] cross gains only
    return 10.0 * np.log10(1.0 + off.sum(-1) * (float(p_max_w) / float(noise_w)))


def reconstruction_values(target: str, g: np.ndarray, *, p_max_w: float, noise_w: float,
                          snr_gap_db: float = 0.0,
                          fp_iterations: int = 150) -> tuple[np.ndarray, dict]:
    """The raw per-link reconstruction target of the layouts ``g : [n, N, N]``.

    ``maxmin``: the max-min optimal power fractions ``p / P_max`` (exact, :func:`baselines.
    maxmin.maxmin`, rtol 1e-12); ``fp``: the FP sum-rate power fractions (``fp_iterations``
    iterations from full power, 1 start, as the ``baselines`` step); ``interference``:
    :func:`interference_db`. ``input`` has no values here (the decoder rebuilds ``x``).

    Output: ``([n, N] float64, info)``, info the solver, its stopping rule and the status
    counts (``{}`` for ``interference``).
    """
    from baselines import solve

    check_choice("source.reconstruction_target", target, RECONSTRUCTION_TARGETS[1:])
    if target == "interference":
        return interference_db(g, p_max_w, noise_w), {}
    options = {"iterations": int(fp_iterations)} if target == "fp" else {}
    res = solve(target, g, p_max_w=p_max_w, noise_w=noise_w, snr_gap_db=snr_gap_db,
                **options)
    statuses, counts = np.unique(res.status, return_counts=True)
    info = {"method": target, "stopping_rule": res.options.get("stopping_rule", ""),
            "status_counts": dict(zip(statuses.tolist(), counts.tolist(), strict=True))}
    return res.p_w / p_max_w, info


def fit_target_standardizer(family: str, values: np.ndarray) -> Standardizer:
    """The standardizer of a per-link target fitted on the source-train values ``[n, N]``:
    per link (``mlp``, like its input) or one scalar mean and std over every entry
    (``gnn``: the same map at any N)."""
    check_choice("family", family, FAMILIES)
    return Standardizer.fit(values if family == "mlp" else values.reshape(-1, 1))


def standardize_target(family: str, standardizer: Standardizer,
                       values: np.ndarray) -> torch.Tensor:
    """``values : [n, N]`` -> the decoder's target ``[n, N]`` float32 (standardized)."""
    z = standardizer(values if family == "mlp" else values.reshape(-1, 1))
    return torch.from_numpy(z.reshape(values.shape))


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
