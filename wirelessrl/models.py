r"""Networks of the transfer method: a shared feature module, task heads and a decoder.

A :class:`TransferNet` maps an input ``x`` to a *feature layer*
``f = features(x)``; each named *head* maps ``f`` to a decision (powers, beamformers, a
position, a logit) and an optional *decoder* maps ``f`` back to the "common
information" (the reconstruction target)::

    x --features--> f --heads[name]--> out
                      \--decoder-----> reconstruction      (source training only)

The decoder is only used by the reconstruction loss while the source task trains;
:meth:`TransferNet.drop_decoder` removes it, so the network used at inference has
exactly the parameters of a network trained without reconstruction.

Every architecture is described by a JSON-serializable :class:`NetConfig`; the paper's
networks come from :data:`NET_PRESETS` (``d2d``, ``miso``, ``mnist``). Activations and
output transforms are looked up by name in :data:`ACTIVATIONS` and
:data:`OUTPUT_TRANSFORMS`; a new one is added by registering it there.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from simulators.validation import ConfigError, check_choice, check_finite, check_int
from wirelessrl.objectives import gaussian_kl

__all__ = [
    "ACTIVATIONS",
    "OUTPUT_TRANSFORMS",
    "NET_PRESETS",
    "MLP",
    "Head",
    "HeadConfig",
    "NetConfig",
    "TransferNet",
    "VariationalFeatures",
    "BOTTLENECKS",
    "FeatureMLP",
    "GAINS_OUTPUTS",
    "PrefixMLP",
    "ScaledSigmoid",
    "UnitNormComplex",
    "PowerNormalization",
    "d2d_net_config",
    "d2d_gnn_config",
    "FAMILIES",
    "Family",
    "miso_net_config",
    "mnist_net_config",
    "net_config",
]

# --------------------------------------------------------------------------- registries

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}
"""Hidden-layer activations by name."""


class ScaledSigmoid(nn.Module):
    r"""``low + (high - low) * sigmoid(z)``: an output confined to ``(low, high)``.

    Input
    -----
    z : [..., d], float

    Output
    ------
    y : [..., d], float, in ``(low, high)`` (same unit as ``low`` and ``high``)

    Example
    -------
    >>> ScaledSigmoid(10.0, 90.0)(torch.zeros(1, 2))
    tensor([[50., 50.]])
    """

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        low = check_finite("output_params.low", low)
        high = check_finite("output_params.high", high)
        if not high > low:
            raise ConfigError(
                f"output_params.high={high!r} is invalid; expected a number > low={low!r}"
            )
        self.low, self.high = low, high

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z : [..., d]`` -> ``low + (high - low) sigmoid(z) : [..., d]``, elementwise."""
        return self.low + (self.high - self.low) * torch.sigmoid(z)

    def extra_repr(self) -> str:
        """``low=..., high=...`` shown in the module's repr."""
        return f"low={self.low}, high={self.high}"


class UnitNormComplex(nn.Module):
    r"""Split the last dimension into ``groups`` equal blocks and scale each to unit norm.

    A block holds one complex vector as interleaved real pairs
    ``[re_0, im_0, re_1, im_1, ...]`` (see :func:`wirelessrl.objectives.as_complex_pairs`),
    so each block is a unit-norm complex beamformer ``v_b``, ``||v_b|| = 1``.

    Input
    -----
    z : [..., groups * 2 * n], float

    Output
    ------
    v : [..., groups * 2 * n], float, each block of ``2 n`` reals with Euclidean norm 1

    Example
    -------
    >>> v = UnitNormComplex(groups=3)(torch.randn(5, 96))
    >>> torch.allclose(v.view(5, 3, 32).norm(dim=-1), torch.ones(5, 3))
    True
    """

    def __init__(self, groups: int = 1, eps: float = 1e-12) -> None:
        super().__init__()
        self.groups = check_int("output_params.groups", groups, 1)
        self.eps = float(eps)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z : [..., groups * 2 n]`` -> same shape, each of the ``groups`` blocks scaled to
        unit Euclidean norm (norms below ``eps`` clamped); a last dimension not divisible by
        ``groups`` is a :class:`ConfigError`."""
        if z.shape[-1] % self.groups:
            raise ConfigError(
                f"unit_norm_complex: last dimension {z.shape[-1]} is not divisible by "
                f"groups={self.groups}"
            )
        # [..., groups, 2 n]
        blocks = z.reshape(*z.shape[:-1], self.groups, -1)
        norm = blocks.norm(dim=-1, keepdim=True).clamp_min(self.eps)
        return (blocks / norm).reshape(z.shape)

    def extra_repr(self) -> str:
        """``groups=...`` shown in the module's repr."""
        return f"groups={self.groups}"


class PowerNormalization(nn.Module):
    r"""Scale each sample's output so its squared norm is the power budget ``P``.

    The head emits the beamformers of all users as one real vector (interleaved pairs,
    see :func:`wirelessrl.objectives.as_complex_pairs`); this layer maps it onto the sphere
    ``sum_k ||w_k||^2 = P``, so every output meets the total power constraint exactly
    (a normalization layer, never a penalty).

    Input
    -----
    z : [..., 2 K M], float

    Output
    ------
    w : [..., 2 K M], float, ``sum(w^2) = power``

    Example
    -------
    >>> w = PowerNormalization(power=10.0)(torch.randn(5, 32))
    >>> torch.allclose((w ** 2).sum(-1), torch.full((5,), 10.0))
    True
    """

    def __init__(self, power: float = 1.0, eps: float = 1e-12) -> None:
        super().__init__()
        self.power = check_finite("output_params.power", power)
        if self.power <= 0:
            raise ConfigError(f"output_params.power={power!r} is invalid; expected a power > 0")
        self.eps = float(eps)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z : [..., 2 K M]`` -> ``w`` of the same shape with ``sum(w^2, -1) = power`` (W)."""
        norm = z.norm(dim=-1, keepdim=True).clamp_min(self.eps)
        return z * (self.power ** 0.5 / norm)

    def extra_repr(self) -> str:
        """``power=...`` shown in the module's repr."""
        return f"power={self.power}"


OUTPUT_TRANSFORMS: dict[str, Callable[..., nn.Module]] = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "scaled_sigmoid": ScaledSigmoid,
    "unit_norm_complex": UnitNormComplex,
    "power_norm": PowerNormalization,
    "optimal_beams": lambda **params: _optimal_beams(**params),
    "maxmin_powers": lambda **params: _maxmin_powers(**params),
}
"""Head output transforms by name; keyword parameters come from ``HeadConfig.output_params``.

- ``identity``: linear output (e.g. logits for a BCE loss)
- ``sigmoid``: in (0, 1), e.g. power fractions ``x_i = p_i / P_max``
- ``scaled_sigmoid`` (``low``, ``high``): in (low, high), e.g. a position in metres
- ``unit_norm_complex`` (``groups``): one unit-norm complex vector per group
- ``power_norm`` (``power``): the whole output on the sphere of squared norm ``power``
  (multi-user beamformers under a total power constraint)
- ``optimal_beams`` (``power``, ``power_rule``): per-user scores to beams of the optimal
  structure (:class:`wirelessrl.beam_structure.OptimalBeams`; ``power_rule`` ``learned`` or
  ``maxmin``); only for ``family='structured'``, whose heads also see the channels
- ``maxmin_powers``: D2D per-link scores to the weighted max-min power fractions
  (:class:`wirelessrl.maxmin_layer.MaxminPowers`; the structured min-rate head); for
  ``family='mlp'`` (the head ends in ``n`` scores) and ``family='gnn'`` (1 per node). The
  network then passes its gains (received SNRs at full power, dB) on after the features
  (:attr:`TransferNet.passes_gains`)
"""


def _optimal_beams(**params: Any) -> nn.Module:
    from wirelessrl.beam_structure import OptimalBeams

    return OptimalBeams(**params)


def _maxmin_powers(**params: Any) -> nn.Module:
    from wirelessrl.maxmin_layer import MaxminPowers

    if params:
        raise ConfigError(f"output_params={params!r} is invalid for output='maxmin_powers'; "
                          "expected none")
    return MaxminPowers()


GAINS_OUTPUTS = ("maxmin_powers",)
"""Head outputs built from the gains: a network with such a head passes its gains on after
the features (:attr:`TransferNet.passes_gains`)."""


def _activation(name: str, field_name: str = "activation") -> nn.Module:
    check_choice(field_name, name, tuple(ACTIVATIONS))
    return ACTIVATIONS[name]()


def _check_widths(field_name: str, widths: Any) -> tuple[int, ...]:
    if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
        raise ConfigError(
            f"{field_name}={widths!r} is invalid; expected a list of at least 2 layer widths"
        )
    if len(widths) < 2:
        raise ConfigError(
            f"{field_name}={list(widths)!r} is invalid; expected at least 2 layer widths "
            "(input and output)"
        )
    return tuple(check_int(f"{field_name}[{k}]", w, 1) for k, w in enumerate(widths))


# --------------------------------------------------------------------------- modules


class MLP(nn.Sequential):
    r"""Fully connected network ``Linear -> act -> ... -> Linear -> out_activation``.

    Input
    -----
    widths : sequence of int, layer widths including input and output, e.g.
        ``(100, 150, 150, 100)`` is three linear layers
    activation : str, activation after every hidden layer (a key of :data:`ACTIVATIONS`)
    out_activation : str or None, activation after the last layer (None = linear)

    Call: ``x : [batch, widths[0]]`` -> ``[batch, widths[-1]]``

    Example
    -------
    >>> MLP((100, 150, 150, 100), out_activation="relu")(torch.zeros(4, 100)).shape
    torch.Size([4, 100])
    """

    def __init__(
        self,
        widths: Sequence[int],
        activation: str = "relu",
        out_activation: str | None = None,
    ) -> None:
        widths = _check_widths("widths", widths)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        if out_activation is not None:
            check_choice("out_activation", out_activation, tuple(ACTIVATIONS))
        layers: list[nn.Module] = []
        for k in range(len(widths) - 1):
            layers.append(nn.Linear(widths[k], widths[k + 1]))
            if k < len(widths) - 2:
                layers.append(_activation(activation))
            elif out_activation is not None:
                layers.append(_activation(out_activation, "out_activation"))
        super().__init__(*layers)
        self.widths = widths


class FeatureMLP(MLP):
    r"""The feature module of the ``mlp`` family: an :class:`MLP`, which with
    ``pass_gains`` also passes the gains on after the feature layer.

    ``pass_gains`` (set by :class:`TransferNet` when a head needs the gains,
    :data:`GAINS_OUTPUTS`): the input is ``[batch, widths[0] + m]``, the network input
    followed by ``m`` more columns (D2D: the ``n^2`` received SNRs at full power in dB,
    ``wirelessrl.d2d_inputs``); the MLP reads the first ``widths[0]`` and the output is
    ``[MLP(x[:, :widths[0]]), x[:, widths[0]:]]``, ``[batch, widths[-1] + m]``. The
    parameters (and their names) are the MLP's either way.

    Example
    -------
    >>> f = FeatureMLP((4, 8, 3), out_activation="relu")
    >>> f.pass_gains = True
    >>> f(torch.zeros(2, 4 + 4)).shape
    torch.Size([2, 7])
    """

    pass_gains: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x : [batch, widths[0]]`` -> ``[batch, widths[-1]]`` (``pass_gains``: see the
        class docstring)."""
        if not self.pass_gains:
            return super().forward(x)
        d = self.widths[0]
        if x.shape[-1] <= d:
            raise ConfigError(f"x: width {x.shape[-1]} is invalid for a network whose head "
                              f"needs the gains; expected {d} input columns followed by the "
                              "gains (D2D: the batch key 'x_gains')")
        return torch.cat([super().forward(x[..., :d]), x[..., d:]], dim=-1)


class PrefixMLP(MLP):
    """An :class:`MLP` on the first ``widths[0]`` columns of its input: the decoder of the
    ``mlp`` family, whose feature layer may carry the gains after the features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x : [batch, >= widths[0]]`` -> ``[batch, widths[-1]]``."""
        d = self.widths[0]
        return super().forward(x[..., :d] if x.shape[-1] > d else x)


@dataclass(frozen=True)
class HeadConfig:
    """One task head: layer widths and the output transform.

    Attributes
    ----------
    widths : tuple of int, from the feature width to the output width
    output : str, output transform, a key of :data:`OUTPUT_TRANSFORMS`
    output_params : dict, keyword parameters of the output transform
    activation : str, hidden-layer activation

    Example
    -------
    >>> HeadConfig((100, 40, 20, 10), output="sigmoid").widths[-1]
    10
    """

    widths: tuple[int, ...]
    output: str = "identity"
    output_params: dict = field(default_factory=dict)
    activation: str = "relu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", _check_widths("head.widths", self.widths))
        check_choice("head.output", self.output, tuple(OUTPUT_TRANSFORMS))
        check_choice("head.activation", self.activation, tuple(ACTIVATIONS))
        if not isinstance(self.output_params, Mapping):
            raise ConfigError(
                f"head.output_params={self.output_params!r} is invalid; expected a mapping"
            )
        object.__setattr__(self, "output_params", dict(self.output_params))

    @classmethod
    def coerce(cls, value: Any, name: str = "head") -> HeadConfig:
        """Accept a HeadConfig, a dict of its fields, or a bare list of widths."""
        if isinstance(value, HeadConfig):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {f.name for f in dataclasses.fields(cls)}
            if unknown:
                raise ConfigError(
                    f"heads.{name}.{sorted(unknown)[0]} is not a head field; expected one of "
                    + ", ".join(f.name for f in dataclasses.fields(cls))
                )
            return cls(**value)
        return cls(widths=value)

    def to_dict(self) -> dict:
        """The fields by name, JSON-ready (``widths`` as a list)."""
        return {
            "widths": list(self.widths),
            "output": self.output,
            "output_params": dict(self.output_params),
            "activation": self.activation,
        }


class Head(nn.Module):
    """A task head: an :class:`MLP` followed by a named output transform.

    Call: ``f : [batch, widths[0]]`` -> ``[batch, widths[-1]]``. With ``per_node`` (the
    graph family) the same MLP runs on every node, ``f : [batch, n, widths[0]]`` ->
    ``[batch, n]`` (``widths[-1]`` is then 1 and dropped).
    """

    def __init__(self, config: HeadConfig, per_node: bool = False) -> None:
        super().__init__()
        self.config = config
        self.per_node = bool(per_node)
        self.mlp = MLP(config.widths, config.activation, out_activation=None)
        self.transform = OUTPUT_TRANSFORMS[config.output](**config.output_params)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        """``f : [batch, widths[0]]`` -> ``[batch, widths[-1]]`` (``per_node``:
        ``[batch, n, widths[0]]`` -> ``[batch, n]``), after the output transform. A wider
        feature layer (the gains passed on after the features) is read from its first
        ``widths[0]`` columns."""
        d = self.config.widths[0]
        out = self.transform(self.mlp(f[..., :d] if f.shape[-1] > d else f))
        return out.squeeze(-1) if self.per_node else out


BOTTLENECKS = ("none", "variational", "mean")
"""Values of :attr:`NetConfig.bottleneck` (the config option ``source.bottleneck`` takes
``none`` or ``variational``; ``mean`` is what a variational layer becomes on the target)."""


class VariationalFeatures(nn.Module):
    r"""A Gaussian feature layer on top of a feature module (a beta-VAE / variational
    information bottleneck encoder).

    The base module's learned features ``h = base(x)[..., :d]`` (``d = widths[-1]``; columns
    a family appends after them, such as the raw input rows of the graph heads, pass
    through unchanged) give the mean and log-variance of ``q(z | x)``:

    .. math::  \mu = W_\mu h + b_\mu, \quad v = W_v h + b_v, \quad
               z = \mu + e^{v / 2} \odot \epsilon, \ \epsilon \sim N(0, I)

    ``z`` is drawn in training mode (torch's global RNG, which :func:`wirelessrl.engine.fit`
    seeds and checkpoints); in evaluation mode, and always once the log-variance layer is
    dropped (``logvar=None``, :meth:`TransferNet.drop_decoder`), the layer returns ``mu``.

    Input
    -----
    base : nn.Module with a ``widths`` attribute, the family's feature module
    logvar : bool, build the log-variance layer (False: the deterministic ``mean`` form)

    Call ``encode(x)`` -> ``(f, kl)``: ``f : [..., d + extra]`` the features (``z`` or ``mu``
    followed by the appended columns), ``kl : [...]`` nats,
    :func:`~wirelessrl.objectives.gaussian_kl` of ``q(z | x)`` to ``N(0, I)`` per feature
    vector (None without the log-variance layer).
    ``forward(x)`` returns ``f`` alone.

    Example
    -------
    >>> layer = VariationalFeatures(MLP((4, 8, 3), out_activation="relu"))
    >>> x = torch.randn(5, 4)
    >>> f, kl = layer.encode(x)                  # training mode: a sample of q(z | x)
    >>> f.shape, kl.shape, torch.equal(layer.eval()(x), layer(x))   # eval: the mean
    (torch.Size([5, 3]), torch.Size([5]), True)
    """

    def __init__(self, base: nn.Module, logvar: bool = True) -> None:
        super().__init__()
        self.base = base
        self.widths = tuple(base.widths)
        d = self.widths[-1]
        self.mean = nn.Linear(d, d)
        self.logvar = nn.Linear(d, d) if logvar else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` -> ``(f, kl)``, see the class docstring."""
        f = self.base(x)
        d = self.widths[-1]
        h, rest = f[..., :d], f[..., d:]
        mu = self.mean(h)
        if self.logvar is None:
            return (mu if rest.shape[-1] == 0 else torch.cat([mu, rest], dim=-1)), None
        logvar = self.logvar(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu
        z = z if rest.shape[-1] == 0 else torch.cat([z, rest], dim=-1)
        return z, gaussian_kl(mu, logvar)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The features ``f`` of :meth:`encode`."""
        return self.encode(x)[0]


@dataclass(frozen=True)
class NetConfig:
    """Architecture of a :class:`TransferNet`; JSON-serializable.

    Attributes
    ----------
    feature_widths : tuple of int, input width to feature-layer width
    heads : dict of str to :class:`HeadConfig` (a dict or a list of widths is accepted)
    decoder_widths : tuple of int or None, feature-layer width to reconstruction width
    activation : str, activation of every hidden layer, also applied to the feature layer
    family : str, the feature module, a key of :data:`FAMILIES`: ``mlp`` (the paper's
        fully connected network on a flat input) or ``gnn`` (message passing over the
        interference graph, :mod:`wirelessrl.gnn`; per-node heads of output width 1) or
        ``structured`` (multi-user MISO: user-equivariant features and beams of the
        optimal structure, :mod:`wirelessrl.beam_structure`; per-user heads of output
        width 2, ``output='optimal_beams'``)
    graph : dict or None, the options of the ``gnn`` family
        (:class:`wirelessrl.gnn.GraphConfig`) or of the ``structured`` family
        (:class:`wirelessrl.beam_structure.UserConfig`); None for ``mlp``
    bottleneck : a key of :data:`BOTTLENECKS`: ``none`` (the paper's deterministic feature
        layer), ``variational`` (:class:`VariationalFeatures`: mean and log-variance, a
        sample while training) or ``mean`` (the same layer without its log-variance part, as
        every network trained on the target holds it: deterministic)
    loss_log_variances : int >= 0, number of learned loss log-variances ``s_i`` the source
        trains with (``source.loss_balance='uncertainty'``, parameter ``loss_log_vars``);
        0 (default) on every other network, dropped with the decoder

    Example
    -------
    >>> cfg = d2d_net_config(n_links=10)
    >>> NetConfig.from_json(cfg.to_json()) == cfg
    True
    >>> NetConfig.from_json(d2d_gnn_config().to_json()).family
    'gnn'
    """

    feature_widths: tuple[int, ...]
    heads: dict = field(default_factory=dict)
    decoder_widths: tuple[int, ...] | None = None
    activation: str = "relu"
    family: str = "mlp"
    graph: dict | None = None
    bottleneck: str = "none"
    loss_log_variances: int = 0

    def __post_init__(self) -> None:
        check_choice("bottleneck", self.bottleneck, BOTTLENECKS)
        object.__setattr__(self, "loss_log_variances",
                           check_int("loss_log_variances", self.loss_log_variances, 0))
        fw = _check_widths("feature_widths", self.feature_widths)
        object.__setattr__(self, "feature_widths", fw)
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        check_choice("family", self.family, tuple(FAMILIES))
        object.__setattr__(self, "graph", FAMILIES[self.family].check_graph(self.graph))
        if not isinstance(self.heads, Mapping):
            raise ConfigError(f"heads={self.heads!r} is invalid; expected a mapping name -> head")
        heads = {}
        for name, head in self.heads.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigError(
                    f"heads: name {name!r} is invalid; expected a Python identifier"
                )
            heads[name] = HeadConfig.coerce(head, name)
            _check_joint(f"heads.{name}.widths", heads[name].widths, fw)
            FAMILIES[self.family].check_head(name, heads[name])
        object.__setattr__(self, "heads", heads)
        if self.decoder_widths is not None:
            dw = _check_widths("decoder_widths", self.decoder_widths)
            _check_joint("decoder_widths", dw, fw)
            object.__setattr__(self, "decoder_widths", dw)

    def to_dict(self) -> dict:
        """The fields by name, JSON-ready (widths as lists, heads as dicts); see
        :meth:`from_dict`. ``bottleneck`` and ``loss_log_variances`` appear only when not at
        their defaults, so a network file of the paper's architecture reads as before."""
        d = {
            "feature_widths": list(self.feature_widths),
            "heads": {name: head.to_dict() for name, head in self.heads.items()},
            "decoder_widths": None if self.decoder_widths is None else list(self.decoder_widths),
            "activation": self.activation,
            "family": self.family,
            "graph": None if self.graph is None else dict(self.graph),
        }
        if self.bottleneck != "none":
            d["bottleneck"] = self.bottleneck
        if self.loss_log_variances:
            d["loss_log_variances"] = self.loss_log_variances
        return d

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text (head order kept), as stored in network files."""
        return json.dumps(self.to_dict())  # head order is kept

    @classmethod
    def from_dict(cls, values: Mapping) -> NetConfig:
        """Rebuild a config from :meth:`to_dict`; an unknown key is a :class:`ConfigError`."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(
                f"{sorted(unknown)[0]} is not a network config field; expected one of "
                + ", ".join(f.name for f in dataclasses.fields(cls))
            )
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> NetConfig:
        """Rebuild a config from :meth:`to_json` text."""
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> NetConfig:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)


def _check_joint(field_name: str, widths: tuple[int, ...], feature_widths: tuple[int, ...]):
    if widths[0] != feature_widths[-1]:
        raise ConfigError(
            f"{field_name}[0]={widths[0]} is invalid; expected the feature width "
            f"feature_widths[-1]={feature_widths[-1]}"
        )


class TransferNet(nn.Module):
    r"""Feature module + named task heads + optional reconstruction decoder.

    Parameters are named ``features.*``, ``heads.<name>.*`` and ``decoder.*``; these
    prefixes select what :func:`wirelessrl.engine.fit` trains.

    Input
    -----
    feature_widths : sequence of int, e.g. ``(100, 150, 150, 100)``; the activation
        follows every layer, the feature layer included
    heads : mapping of name to :class:`HeadConfig` (or a dict / list of widths)
    decoder_widths : sequence of int or None, e.g. ``(100, 200, 100)``; linear output
    activation : str, hidden activation (default ``relu``)

    Call ``net(x, head=None)``
    --------------------------
    x : [batch, feature_widths[0]], float
    head : str, which head; may be omitted when the net has one head

    Output (dict)
    -------------
    out : [batch, head width], the head output after its transform
    features : [batch, feature_widths[-1]], the feature layer
    reconstruction : [batch, decoder_widths[-1]], only while a decoder is attached
    kl : [batch] (per-node families: [batch, n]), nats, only with a variational feature layer
        (``bottleneck='variational'``): KL of ``q(z | x)`` to ``N(0, I)`` per feature vector
    log_variances : [k], the learned loss log-variances, only while they are attached
        (``loss_log_variances = k > 0``)

    Example
    -------
    >>> net = TransferNet.from_config(d2d_net_config(n_links=10))
    >>> res = net(torch.randn(8, 100), head="sum_rate")
    >>> res["out"].shape, res["reconstruction"].shape
    (torch.Size([8, 10]), torch.Size([8, 100]))
    >>> net.drop_decoder().num_parameters() == TransferNet.from_config(
    ...     d2d_net_config(n_links=10, decoder=False)).num_parameters()
    True
    """

    def __init__(
        self,
        feature_widths: Sequence[int],
        heads: Mapping[str, Any],
        decoder_widths: Sequence[int] | None = None,
        activation: str = "relu",
        family: str = "mlp",
        graph: Mapping | None = None,
        bottleneck: str = "none",
        loss_log_variances: int = 0,
    ) -> None:
        super().__init__()
        cfg = NetConfig(feature_widths, heads, decoder_widths, activation, family, graph,
                        bottleneck, loss_log_variances)
        self.activation = cfg.activation
        self.family = cfg.family
        self.graph = cfg.graph
        fam = FAMILIES[cfg.family]
        self._per_node = fam.per_node
        self.features = fam.features(cfg)
        if cfg.bottleneck != "none":
            self.features = VariationalFeatures(self.features,
                                                logvar=cfg.bottleneck == "variational")
        self.heads = nn.ModuleDict({name: fam.build_head(h, cfg.graph)
                                    for name, h in cfg.heads.items()})
        self.decoder = fam.decoder(cfg) if cfg.decoder_widths else None
        self.loss_log_vars = (nn.Parameter(torch.zeros(cfg.loss_log_variances))
                              if cfg.loss_log_variances else None)
        self._sync_gains()

    @property
    def passes_gains(self) -> bool:
        """True when a head is built from the gains (:data:`GAINS_OUTPUTS`): the feature
        module then passes them on after the features (``mlp``: the input is the network
        input followed by the gains in dB, :class:`FeatureMLP`; ``gnn``: the input itself,
        :class:`wirelessrl.gnn.GraphFeatures`)."""
        return any(h.config.output in GAINS_OUTPUTS for h in self.heads.values())

    def _sync_gains(self) -> None:
        """Switch the feature module's ``pass_gains`` to :attr:`passes_gains`."""
        if hasattr(self.features, "pass_gains"):
            self.features.pass_gains = self.passes_gains
        elif self.passes_gains:  # excluded by the family's head check
            raise ConfigError(f"family={self.family!r} cannot pass the gains to a head")

    @classmethod
    def from_config(cls, config: NetConfig) -> TransferNet:
        """Build a freshly initialized network (torch's default init, global torch RNG)."""
        if not isinstance(config, NetConfig):
            raise ConfigError(f"config={type(config).__name__} is invalid; expected a NetConfig")
        return cls(config.feature_widths, config.heads, config.decoder_widths, config.activation,
                   config.family, config.graph, config.bottleneck, config.loss_log_variances)

    @property
    def config(self) -> NetConfig:
        """The current architecture (reflects dropped decoders and replaced heads)."""
        return NetConfig(
            feature_widths=self.features.widths,
            heads={name: head.config for name, head in self.heads.items()},
            decoder_widths=None if self.decoder is None else self.decoder.widths,
            activation=self.activation,
            family=self.family,
            graph=self.graph,
            bottleneck=self.bottleneck,
            loss_log_variances=0 if self.loss_log_vars is None else len(self.loss_log_vars),
        )

    @property
    def bottleneck(self) -> str:
        """``none``, ``variational`` or ``mean`` (see :attr:`NetConfig.bottleneck`)."""
        if not isinstance(self.features, VariationalFeatures):
            return "none"
        return "mean" if self.features.logvar is None else "variational"

    @property
    def head_names(self) -> tuple[str, ...]:
        """Names of the heads, in order."""
        return tuple(self.heads.keys())

    def _head_name(self, head: str | None) -> str:
        if head is None:
            if len(self.heads) != 1:
                raise ConfigError(
                    f"head=None is ambiguous; expected one of {', '.join(self.heads)}"
                )
            return next(iter(self.heads))
        check_choice("head", head, tuple(self.heads))
        return head

    def forward(self, x: torch.Tensor, head: str | None = None) -> dict[str, torch.Tensor]:
        """Features, then head ``head`` (None: the only head); see the class docstring.

        ``mlp``: ``x : [batch, feature_widths[0]]`` -> ``out : [batch, head width]``,
        ``features : [batch, feature_widths[-1]]``, ``reconstruction : [batch,
        decoder_widths[-1]]`` (only with a decoder). ``gnn``: ``x : [batch, n, n]`` dB ->
        ``out : [batch, n]``, ``features : [batch, n, d_L]``, ``reconstruction : [batch, n,
        n]``; or ``x`` a :class:`wirelessrl.gnn.Graph` from the linear gains
        (:meth:`~wirelessrl.gnn.Graph.from_gains`, the fast inference input).
        ``structured``: ``x : [batch, K, M, 2]`` -> ``out : [batch, 2 K M]``, ``features :
        [batch, K, d_L + 2 M]``, ``reconstruction : [batch, K, 2 M]``.
        """
        kl = None
        if isinstance(self.features, VariationalFeatures):
            f, kl = self.features.encode(x)
        else:
            f = self.features(x)
        head_module = self.heads[self._head_name(head)]
        out = {"out": FAMILIES[self.family].run_head(head_module, f, x), "features": f}
        if self.decoder is not None:
            out["reconstruction"] = self.decoder(f)
        if kl is not None:
            out["kl"] = kl
        if self.loss_log_vars is not None:
            out["log_variances"] = self.loss_log_vars
        return out

    def drop_decoder(self) -> TransferNet:
        """Remove (in place) every part only the source training uses: the decoder, the
        learned loss log-variances and the log-variance layer of a variational feature
        layer (which then returns its mean: deterministic features); for inference or
        target training. Returns self."""
        self.decoder = None
        self.loss_log_vars = None
        if isinstance(self.features, VariationalFeatures):
            self.features.logvar = None
        return self

    def replace_head(
        self,
        name: str,
        head: HeadConfig | Sequence[int] | Mapping | None = None,
        **head_fields: Any,
    ) -> TransferNet:
        """Attach a freshly initialized head ``name`` (replacing one of that name).

        ``head`` is a :class:`HeadConfig`, a list of widths (with ``output=...`` etc. as
        keywords) or None to re-initialize the existing head's architecture. Returns self.

        Example
        -------
        >>> net = TransferNet.from_config(d2d_net_config())
        >>> net.replace_head("min_rate", (100, 40, 20, 10), output="sigmoid").head_names
        ('sum_rate', 'min_rate')
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"head name {name!r} is invalid; expected a Python identifier")
        if head is None:
            if name not in self.heads:
                raise ConfigError(
                    f"head={name!r} does not exist; give its widths to add it "
                    f"(existing heads: {', '.join(self.heads) or 'none'})"
                )
            config = dataclasses.replace(self.heads[name].config, **head_fields)
        elif isinstance(head, HeadConfig):
            config = dataclasses.replace(head, **head_fields) if head_fields else head
        elif isinstance(head, Mapping):
            config = HeadConfig.coerce({**head, **head_fields}, name)
        else:
            config = HeadConfig(widths=head, **head_fields)
        _check_joint(f"heads.{name}.widths", config.widths, self.features.widths)
        FAMILIES[self.family].check_head(name, config)
        new = FAMILIES[self.family].build_head(config, self.graph)
        ref = next(self.features.parameters())
        self.heads[name] = new.to(device=ref.device, dtype=ref.dtype)
        self._sync_gains()
        return self

    def remove_head(self, name: str) -> TransferNet:
        """Delete head ``name`` (in place); returns self."""
        check_choice("head", name, tuple(self.heads))
        del self.heads[name]
        self._sync_gains()
        return self

    def freeze_features(self, frozen: bool = True) -> TransferNet:
        """Set ``requires_grad = not frozen`` on the feature module; returns self."""
        for p in self.features.parameters():
            p.requires_grad_(not frozen)
        return self

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (optionally only those with ``requires_grad``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    """A feature-module family: how a :class:`NetConfig` becomes modules.

    Attributes
    ----------
    features : ``(NetConfig) -> nn.Module`` with a ``widths`` attribute, the feature module
    decoder : ``(NetConfig) -> nn.Module`` with a ``widths`` attribute
    per_node : bool, heads run on every node (``[batch, n, d] -> [batch, n]``)
    check_graph : ``(value) -> dict or None``, validates ``NetConfig.graph``
    check_head : ``(name, HeadConfig) -> None``, family-specific head rules
    head : ``(HeadConfig, graph options) -> nn.Module`` or None (the default :class:`Head`)
    call_head : ``(head, features, x) -> out`` or None (``head(features)``): how a head
        runs, given also the network input ``x``
    """

    features: Callable[[NetConfig], nn.Module]
    decoder: Callable[[NetConfig], nn.Module]
    per_node: bool
    check_graph: Callable[[Any], dict | None]
    check_head: Callable[[str, HeadConfig], None]
    head: Callable[[HeadConfig, dict | None], nn.Module] | None = None
    call_head: Callable[[nn.Module, Any, Any], Any] | None = None

    def build_head(self, config: HeadConfig, graph: dict | None = None) -> nn.Module:
        """A head module of this family for ``config`` (``graph``: ``NetConfig.graph``)."""
        return Head(config, self.per_node) if self.head is None else self.head(config, graph)

    def run_head(self, head: nn.Module, features: Any, x: Any) -> Any:
        """``head`` on the ``features`` of the network input ``x``."""
        return head(features) if self.call_head is None else self.call_head(head, features, x)


def _mlp_graph(value: Any) -> None:
    if value is not None:
        raise ConfigError(f"graph={value!r} is invalid for family='mlp'; expected None "
                          "(graph options belong to family='gnn')")
    return None


def _gnn_graph(value: Any) -> dict:
    from wirelessrl.gnn import GraphConfig

    return GraphConfig.coerce(value).to_dict()


def _plain_head(name: str, head: HeadConfig) -> None:
    if head.output == "optimal_beams":
        raise ConfigError(f"heads.{name}.output='optimal_beams' is invalid for this family; "
                          "expected family='structured' (its heads see the channels)")


def _mlp_head_module(config: HeadConfig, graph: dict | None) -> nn.Module:
    if config.output not in GAINS_OUTPUTS:
        return Head(config)
    from wirelessrl.maxmin_layer import MaxminPowerHead

    return MaxminPowerHead(config, Head(_scores(config)))


def _scores(config: HeadConfig) -> HeadConfig:
    """The scorer of a head built from the gains: the same MLP with a linear output."""
    return dataclasses.replace(config, output="identity", output_params={})


def _gnn_head(name: str, head: HeadConfig) -> None:
    _plain_head(name, head)
    if head.widths[-1] != 1:
        raise ConfigError(f"heads.{name}.widths[-1]={head.widths[-1]} is invalid for "
                          "family='gnn'; expected 1 (one power fraction per node)")


def _gnn_features(cfg: NetConfig) -> nn.Module:
    from wirelessrl.gnn import GraphFeatures

    return GraphFeatures(cfg.feature_widths, cfg.graph)


def _gnn_head_module(config: HeadConfig, graph: dict | None) -> nn.Module:
    from wirelessrl.gnn import GraphConfig, GraphHead

    gains = config.output in GAINS_OUTPUTS
    inner = _scores(config) if gains else config
    head = Head(inner, per_node=True)
    if GraphConfig.coerce(graph).head_layers:
        head = GraphHead(inner, graph, head)
    if not gains:
        return head
    from wirelessrl.maxmin_layer import MaxminPowerHead

    return MaxminPowerHead(config, head, per_node=True)


def _gnn_call_head(head: nn.Module, features: Any, x: Any) -> Any:
    """A :class:`~wirelessrl.gnn.GraphHead` on a :class:`~wirelessrl.gnn.Graph` input passes
    its messages over that graph (the features then hold no gains)."""
    from wirelessrl.gnn import Graph, GraphHead

    if isinstance(x, Graph) and isinstance(head, GraphHead):
        return head(features, graph=x)
    return head(features)


def _gnn_decoder(cfg: NetConfig) -> nn.Module:
    from wirelessrl.gnn import EdgeDecoder, GraphConfig, NodeDecoder

    if GraphConfig.coerce(cfg.graph).decoder == "nodes":
        return NodeDecoder(cfg.decoder_widths)
    return EdgeDecoder(cfg.decoder_widths)


def _structured_graph(value: Any) -> dict:
    from wirelessrl.beam_structure import UserConfig

    return UserConfig.coerce(value).to_dict()


def _structured_head(name: str, head: HeadConfig) -> None:
    maxmin = head.output_params.get("power_rule") == "maxmin"
    scores = 1 if maxmin else 2
    if head.output != "optimal_beams" or head.widths[-1] != scores:
        what = "lambda_k; p_k from the max-min layer" if maxmin else "lambda_k and p_k"
        raise ConfigError(f"heads.{name} (output={head.output!r}, widths[-1]="
                          f"{head.widths[-1]}) is invalid for family='structured'; expected "
                          f"output='optimal_beams' and widths[-1]={scores} (the scores of "
                          f"{what})")


def _structured_features(cfg: NetConfig) -> nn.Module:
    from wirelessrl.beam_structure import UserFeatures

    return UserFeatures(cfg.feature_widths, cfg.graph)


def _structured_decoder(cfg: NetConfig) -> nn.Module:
    from wirelessrl.beam_structure import UserDecoder

    return UserDecoder(cfg.decoder_widths)


def _structured_head_module(config: HeadConfig, graph: dict | None) -> nn.Module:
    from wirelessrl.beam_structure import StructuredHead

    return StructuredHead(config)


FAMILIES: dict[str, Family] = {
    "mlp": Family(
        features=lambda cfg: FeatureMLP(cfg.feature_widths, cfg.activation, cfg.activation),
        decoder=lambda cfg: PrefixMLP(cfg.decoder_widths, cfg.activation, None),
        per_node=False, check_graph=_mlp_graph, check_head=_plain_head, head=_mlp_head_module,
    ),
    "gnn": Family(features=_gnn_features, decoder=_gnn_decoder, per_node=True,
                  check_graph=_gnn_graph, check_head=_gnn_head, head=_gnn_head_module,
                  call_head=_gnn_call_head),
    "structured": Family(features=_structured_features, decoder=_structured_decoder,
                         per_node=True, check_graph=_structured_graph,
                         check_head=_structured_head, head=_structured_head_module),
}
"""Feature-module families by name; the engine, the strategies and the decoder loss do not
know which one a :class:`TransferNet` holds."""

# --------------------------------------------------------------------------- presets


def d2d_net_config(n_links: int = 10, decoder: bool = True) -> NetConfig:
    """The method paper's D2D networks (SPEC section 2).

    Feature ``N^2 -> 150 -> 150 -> 100`` (ReLU), heads ``sum_rate`` and ``min_rate``
    ``100 -> 40 -> 20 -> N`` (sigmoid: power fractions ``p_i / P_max``), decoder
    ``100 -> 200 -> N^2`` rebuilding the standardized gain matrix.

    Example
    -------
    >>> d2d_net_config(10).feature_widths
    (100, 150, 150, 100)
    """
    n = check_int("n_links", n_links, 1)
    head = HeadConfig((100, 40, 20, n), output="sigmoid")
    return NetConfig(
        feature_widths=(n * n, 150, 150, 100),
        heads={"sum_rate": head, "min_rate": head},
        decoder_widths=(100, 200, n * n) if decoder else None,
    )


def d2d_gnn_config(
    width: int = 32, layers: int = 3, top_k: int | None = 49, decoder: bool = True,
    **graph: Any,
) -> NetConfig:
    """The graph power controller (:mod:`wirelessrl.gnn`) for any number of links.

    Feature ``1 -> width x layers`` (message passing, ``graph`` options of
    :class:`wirelessrl.gnn.GraphConfig`); per-node heads ``sum_rate`` and ``min_rate``
    ``width -> 32 -> 1`` (sigmoid power fraction); decoder :class:`wirelessrl.gnn.EdgeDecoder`
    ``width -> 64 -> 16`` rebuilding the standardized dB gain matrix. Graph heads
    (``head_layers > 0``) get ``head_norm="layer"`` unless told otherwise (a LayerNorm
    before each head's MLP: without it the sum-rate head saturated on 1 of 3 seeds at
    N = 50, :mod:`wirelessrl.gnn`).

    Example
    -------
    >>> d2d_gnn_config(width=32, layers=2).feature_widths
    (1, 32, 32)
    >>> d2d_gnn_config(head_layers=2).graph["head_norm"]
    'layer'
    """
    width = check_int("width", width, 1)
    layers = check_int("layers", layers, 1)
    head = HeadConfig((width, 32, 1), output="sigmoid")
    return NetConfig(
        feature_widths=(1, *([width] * layers)),
        heads={"sum_rate": head, "min_rate": head},
        decoder_widths=(width, 64, 16) if decoder else None,
        family="gnn",
        graph={"top_k": top_k, "head_norm": "layer", **graph},
    )


def miso_net_config(
    n_bs: int = 3, n_antennas: int = 16, n_pilots: int = 4, decoder: bool = True
) -> NetConfig:
    """The method paper's MISO networks (SPEC section 3).

    Feature ``2 n_bs L -> 150 -> 150 -> 150 -> 100``; head ``beamforming``
    ``100 -> 100 -> 100 -> 2 n_bs M`` (linear, then unit norm per BS); head
    ``localization`` ``100 -> 125 -> 100 -> 75 -> 50 -> 2`` (sigmoid scaled to [10, 90] m);
    decoder ``100 -> 50 -> 50 -> 3 n_bs`` (distance and two direction cosines per BS).
    """
    n_bs = check_int("n_bs", n_bs, 1)
    m = check_int("n_antennas", n_antennas, 1)
    n_pilots = check_int("n_pilots", n_pilots, 1)
    return NetConfig(
        feature_widths=(2 * n_bs * n_pilots, 150, 150, 150, 100),
        heads={
            "beamforming": HeadConfig(
                (100, 100, 100, 2 * n_bs * m), output="unit_norm_complex",
                output_params={"groups": n_bs},
            ),
            "localization": HeadConfig(
                (100, 125, 100, 75, 50, 2), output="scaled_sigmoid",
                output_params={"low": 10.0, "high": 90.0},
            ),
        },
        decoder_widths=(100, 50, 50, 3 * n_bs) if decoder else None,
    )


def mnist_net_config(image_side: int = 10, decoder: bool = True) -> NetConfig:
    """The method paper's MNIST networks (SPEC section 4).

    Feature ``100 -> 50 -> 25``; heads ``is_one`` and ``is_eight`` ``25 -> 10 -> 1`` with a
    linear output (a logit: the BCE loss applies the sigmoid, which is numerically stable);
    decoder ``25 -> 50 -> 100`` rebuilding the normalized image.
    """
    side = check_int("image_side", image_side, 1)
    head = HeadConfig((25, 10, 1), output="identity")
    return NetConfig(
        feature_widths=(side * side, 50, 25),
        heads={"is_one": head, "is_eight": head},
        decoder_widths=(25, 50, side * side) if decoder else None,
    )


NET_PRESETS: dict[str, Callable[..., NetConfig]] = {
    "d2d": d2d_net_config,
    "d2d_gnn": d2d_gnn_config,
    "miso": miso_net_config,
    "mnist": mnist_net_config,
}
"""Paper architectures by task name."""


def net_config(preset: str, **options: Any) -> NetConfig:
    """Architecture of a named preset (a key of :data:`NET_PRESETS`) with its options.

    Example
    -------
    >>> net_config("d2d", n_links=20).feature_widths[0]
    400
    """
    check_choice("net preset", preset, tuple(NET_PRESETS))
    return NET_PRESETS[preset](**options)
