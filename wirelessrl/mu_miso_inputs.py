r"""The networks and inputs of multi-user MISO beamforming, per model family.

Channels ``h : [n, K, M]`` (complex, sqrt(W/W)) -> batch tensors and a
:class:`~wirelessrl.models.NetConfig`; shared by ``reproduce mu-miso``
(:mod:`experiments.mu_miso`) and the model folders of ``wirelessrl train mu-miso``
(:mod:`wirelessrl.modeldir`).

The network sees ``h / sigma`` (``input="channel"``, perfect CSI) or the least-squares
estimate from the uplink pilots, ``y / (sqrt(L P_ue) sigma)`` (``input="pilots"``), as real
pairs ``[n, K, M, 2]``; the losses always use the true noise-normalized channel ``h``.

``mlp``: ``x : [n, 2 K M]`` standardized per entry (also the decoder's target), heads to
``2 K M`` reals on the power sphere (``power_norm``): one ``K`` and one ``M``.
``structured`` (:mod:`wirelessrl.beam_structure`): ``x : [n, K, M, 2]`` the
noise-normalized input (the beams are built from it), ``x_rec : [n, K, 2 M]`` its form
standardized by one scalar mean and std (the decoder's target): the same map for every
user, so one model runs at any ``K`` (``M`` is fixed by the input width).

Example
-------
>>> from simulators.mu_miso import MuMisoConfig, generate_mu_miso
>>> samples = generate_mu_miso(MuMisoConfig.from_preset("rayleigh-10db"), 5, seed=1)
>>> inputs = fit_mu_miso_inputs("structured", samples)
>>> batch = inputs.tensors(samples)
>>> sorted(batch), tuple(batch["x"].shape), inputs.reconstruction_key
(['h', 'x', 'x_rec'], (5, 4, 4, 2), 'x_rec')
>>> mu_miso_inputs_from_dict(inputs.to_dict()).tensors(samples)["x_rec"].equal(batch["x_rec"])
True
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from simulators.mu_miso import MuMisoConfig, MuMisoSamples
from simulators.validation import ConfigError, check_choice, check_int
from wirelessrl.beam_structure import POWER_RULES
from wirelessrl.models import HeadConfig, NetConfig
from wirelessrl.standardize import Standardizer

__all__ = ["FAMILIES", "INPUTS", "MODEL_DEFAULTS", "NET_BUILDERS", "RECONSTRUCTION_KEYS",
           "STRUCTURED_KEYS", "MuMisoInputs", "fit_inputs", "fit_mu_miso_inputs",
           "mu_miso_inputs_from_dict", "mu_miso_net_config", "network_input", "tensors"]

FAMILIES = ("structured", "mlp")
"""``mlp``: flat ``2KM`` reals in and out (one K); ``structured``: any K."""

INPUTS = ("channel", "pilots")
"""What the network sees: the channel (perfect CSI) or its estimate from the pilots."""

RECONSTRUCTION_KEYS = {"mlp": "x", "structured": "x_rec"}
"""Batch key of the decoder's target per model family."""

STRUCTURED_KEYS = ("width", "layers", "head", "decoder", "aggregation", "message_widths",
                   "minrate_power")
MIN_RATE_HEAD = "min_rate"
"""The head name that gets ``model.structured.minrate_power``."""
MINRATE_POWER_DEFAULT = "maxmin"
"""``model.structured.minrate_power`` when absent: the min-rate head's powers from the
max-min layer (:func:`wirelessrl.beam_structure.maxmin_powers`), ``learned`` the other
option (a second softmax score per user, as the sum-rate head)."""

MODEL_DEFAULTS: dict[str, Any] = {
    "feature": [256, 256, 256], "head": [256], "decoder": [256],
    "structured": {"width": 128, "layers": 3, "aggregation": "mean", "message_widths": [128],
                   "head": [64], "decoder": [64]},
}
"""The network sizes of ``experiments/mu-miso.yaml`` (the ``model`` section), used by
``wirelessrl train mu-miso``."""


def _mlp_net(model: Mapping, system: MuMisoConfig, heads: tuple[str, ...]) -> NetConfig:
    """Feature ``2KM -> model.feature``; heads to ``2KM`` reals on the power sphere
    (``power_norm``); decoder back to the ``2KM`` standardized channel."""
    feature = list(model.get("feature") or [])
    if not feature:
        raise ConfigError(f"model.feature={model.get('feature')!r} is invalid; expected a "
                          "non-empty list of layer widths")
    width = 2 * system.n_users * system.n_antennas
    head = HeadConfig((feature[-1], *model["head"], width), output="power_norm",
                      output_params={"power": system.p_max_w})
    return NetConfig(feature_widths=(width, *feature), heads=dict.fromkeys(heads, head),
                     decoder_widths=(feature[-1], *model["decoder"], width))


def _structured_net(model: Mapping, system: MuMisoConfig,
                    heads: tuple[str, ...]) -> NetConfig:
    """The user-equivariant beamformer of ``model.structured``: per-user embedding
    ``2M -> width``, ``layers`` message-passing layers over the users, per-user heads
    ``width -> head -> 2`` (the scores of ``lambda_k, p_k``; beams of the optimal structure,
    exactly on the power sphere; the ``min_rate`` head ``width -> head -> 1`` with
    ``minrate_power: maxmin``, its powers from the max-min layer), per-user decoder
    ``width -> decoder -> 2M`` (the standardized channel of the user)."""
    opts = model.get("structured") or {}
    if not isinstance(opts, Mapping):
        raise ConfigError(f"model.structured={opts!r} is invalid; expected a mapping of "
                          f"{', '.join(STRUCTURED_KEYS)}")
    for key in opts:
        check_choice("model.structured", key, STRUCTURED_KEYS)
    width = check_int("model.structured.width", opts.get("width", 128), 1)
    layers = check_int("model.structured.layers", opts.get("layers", 3), 0)
    rule = check_choice("model.structured.minrate_power",
                        opts.get("minrate_power", MINRATE_POWER_DEFAULT), POWER_RULES)
    m2 = 2 * system.n_antennas
    hidden = (width, *opts.get("head", [64]))
    head = HeadConfig((*hidden, 2), output="optimal_beams",
                      output_params={"power": system.p_max_w})
    min_head = head if rule == "learned" else HeadConfig(
        (*hidden, 1), output="optimal_beams",
        output_params={"power": system.p_max_w, "power_rule": rule})
    graph = {k: opts[k] for k in ("aggregation", "message_widths") if k in opts}
    return NetConfig(feature_widths=(m2, *([width] * (layers + 1))),
                     heads={h: min_head if h == MIN_RATE_HEAD else head for h in heads},
                     decoder_widths=(width, *opts.get("decoder", [64]), m2),
                     family="structured", graph=graph)


NET_BUILDERS = {"mlp": _mlp_net, "structured": _structured_net}
"""Model family -> ``(model section, system, head names) -> NetConfig``."""


def mu_miso_net_config(family: str, system: MuMisoConfig, heads: tuple[str, ...],
                       model: Mapping | None = None, decoder: bool = True) -> NetConfig:
    """The network of ``family`` for ``system`` with the heads ``heads`` (each the same
    config) and, with ``decoder``, the reconstruction decoder.

    Input
    -----
    family : ``mlp`` or ``structured``
    system : :class:`~simulators.mu_miso.MuMisoConfig` (``K``, ``M``, the power ``P``)
    heads : head names, e.g. ``("sum_rate",)``
    model : the ``model`` section of an experiment config (widths); None:
        :data:`MODEL_DEFAULTS`

    Example
    -------
    >>> cfg = mu_miso_net_config("structured", MuMisoConfig.from_preset("rayleigh-10db"),
    ...                          ("min_rate",), decoder=False)
    >>> cfg.family, cfg.feature_widths[0], cfg.decoder_widths
    ('structured', 8, None)
    """
    check_choice("model.family", family, FAMILIES)
    cfg = NET_BUILDERS[family](copy.deepcopy(MODEL_DEFAULTS) if model is None else model,
                               system, tuple(heads))
    return cfg if decoder else cfg.replace(decoder_widths=None)


def network_input(samples: MuMisoSamples, kind: str) -> np.ndarray:
    """``[n, K, M, 2]`` real pairs the network sees: ``h / sigma`` (``channel``) or the
    least-squares estimate from the pilots, ``y / (sqrt(L P_ue) sigma)`` (``pilots``)."""
    check_choice("input", kind, INPUTS)
    h = samples.h if kind == "channel" else samples.channel_estimate()
    return np.ascontiguousarray(np.stack([h.real, h.imag], axis=-1)
                                / math.sqrt(samples.config.noise_w))


def fit_inputs(family: str, x: np.ndarray) -> Standardizer:
    """The input standardizer of ``family`` fitted on training inputs ``x : [n, K, M, 2]``:
    per entry (``mlp``), or one scalar mean and std over every entry (``structured``)."""
    return Standardizer.fit(x if family == "mlp" else x.reshape(-1, 1))


def tensors(samples: MuMisoSamples, inputs: Standardizer, kind: str,
            family: str = "mlp") -> dict[str, torch.Tensor]:
    """Batch dict of a split (float32): ``h : [n, K, M, 2]`` the true noise-normalized
    channel and, ``mlp``: ``x : [n, 2KM]`` the standardized input (also the reconstruction
    target); ``structured``: ``x : [n, K, M, 2]`` the noise-normalized input and
    ``x_rec : [n, K, 2M]`` its scalar-standardized form (the decoder's target)."""
    h = np.stack([samples.h.real, samples.h.imag], axis=-1) / math.sqrt(samples.config.noise_w)
    x = network_input(samples, kind)
    out = {"h": torch.from_numpy(h.astype(np.float32))}
    if family == "mlp":
        return {"x": torch.from_numpy(inputs(x)), **out}
    rec = inputs(x.reshape(-1, 1)).reshape(x.shape[0], x.shape[1], -1)
    return {"x": torch.from_numpy(x.astype(np.float32)), "x_rec": torch.from_numpy(rec), **out}


@dataclass
class MuMisoInputs:
    """A fitted input map: family, what the network sees (``input``) and the standardizer.

    Attributes
    ----------
    family : ``mlp`` or ``structured``
    input : ``channel`` or ``pilots``
    standardizer : :class:`~wirelessrl.standardize.Standardizer`, ``2KM`` entries
        (``mlp``) or one (``structured``)
    """

    family: str
    input: str
    standardizer: Standardizer

    @property
    def reconstruction_key(self) -> str:
        """Batch key of the decoder's target."""
        return RECONSTRUCTION_KEYS[self.family]

    def tensors(self, samples: MuMisoSamples) -> dict[str, torch.Tensor]:
        """The batch dict of :func:`tensors`."""
        return tensors(samples, self.standardizer, self.input, self.family)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable fields (``mean`` / ``std`` as lists)."""
        s = self.standardizer
        return {"family": self.family, "input": self.input,
                "mean": np.asarray(s.mean, dtype=np.float64).tolist(),
                "std": np.asarray(s.std, dtype=np.float64).tolist()}


def fit_mu_miso_inputs(family: str, samples: MuMisoSamples,
                       input_kind: str = "channel") -> MuMisoInputs:
    """The input map of ``family`` fitted on training samples (``input_kind``: ``channel``
    or ``pilots``, which needs the pilot observations ``y``)."""
    check_choice("family", family, FAMILIES)
    return MuMisoInputs(family, input_kind,
                        fit_inputs(family, network_input(samples, input_kind)))


def mu_miso_inputs_from_dict(values: Any) -> MuMisoInputs:
    """Rebuild a map saved with :meth:`MuMisoInputs.to_dict`; :class:`ConfigError` when
    malformed."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"inputs={values!r} is invalid; expected a mapping")
    try:
        family = check_choice("inputs.family", values["family"], FAMILIES)
        kind = check_choice("inputs.input", values["input"], INPUTS)
        mean = np.asarray(values["mean"], dtype=np.float64)
        std = np.asarray(values["std"], dtype=np.float64)
    except KeyError as err:
        raise ConfigError(f"inputs lacks {err}; expected family, input, mean, std") from None
    except (TypeError, ValueError) as err:
        raise ConfigError(f"inputs: mean / std are invalid ({err})") from None
    if mean.ndim != 1 or mean.shape != std.shape or not (
            np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()) or (
            family == "structured" and mean.shape != (1,)):
        raise ConfigError(f"inputs: mean {mean.shape} / std {std.shape} are invalid; expected "
                          "two lists of finite numbers (2KM for mlp, 1 for structured), "
                          "std > 0")
    return MuMisoInputs(family, kind, Standardizer(mean, std))
