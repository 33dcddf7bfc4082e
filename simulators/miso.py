r"""MISO uplink-pilot data: users, Rician channels to three base stations, pilot observations.

The SPEC section 3 system: ``B`` base stations (default 3) with ``M = rows x cols`` planar
arrays (default 4 x 4 = 16) in the x-y plane, one single-antenna user uniform in the square
``user_area_m x user_area_m`` at ``z = 0``.

**Channel.** With ``(dx, dy, dz)`` the user minus the BS coordinates and ``d`` the 3-D
distance, the channel from the user to BS ``b`` is

.. math::

    h_b = \sqrt{\beta_b}\left(\sqrt{\tfrac{K}{1+K}}\, a_b + \sqrt{\tfrac{1}{1+K}}\, n_b\right),
    \qquad n_b \sim \mathcal{CN}(0, I_M),

    \beta_b = 10^{-PL(d_b)/10}, \qquad PL(d) = 32.6 + 36.7 \log_{10} d \ \text{dB},

    [a_b]_{m \cdot \mathrm{cols} + n} = \exp\!\big(j \kappa (m\, dx/d + n\, dy/d)\big),
    \quad m = 0..\mathrm{rows}-1,\ n = 0..\mathrm{cols}-1.

Antenna ``i = m * array_cols + n``: row index ``m`` runs along x, column index ``n`` along y
(the ordering of the paper's code, ``itertools.product(range(4), repeat=2)``). The path loss
is the paper code's log-distance model (sub-6 GHz style beside a 50 GHz carrier, kept for
reproduction; see :func:`simulators.pathloss.miso_pathloss_db`). The carrier frequency does
not enter the channel: ``kappa`` is the phase per antenna spacing (``2 pi spacing / lambda``;
``kappa = 1`` is a spacing of ``lambda / (2 pi)``). ``carrier_hz`` is kept as metadata.

**Pilots.** The *system* (:class:`MisoSystem`, drawn from ``system_seed`` alone and shared by
every data set of an experiment) holds ``L`` pilots ``x_l`` with ``|x_l|^2 = P_ue`` and
uniform phases, and per BS and pilot a unit-norm sensing vector ``w_{b,l}`` (uniform on the
sphere: a CN(0, I) draw, normalized). Observation:

.. math::

    y_{b,l} = (w_{b,l}^H h_b)\, x_l + \nu_{b,l},

with ``nu = sqrt(sigma^2) e^{j phi}``, ``phi ~ U[0, 2 pi)`` (``noise_law='constant-modulus'``,
the paper's data) or ``nu ~ CN(0, sigma^2)`` (``noise_law='gaussian'``).

**Draw order of sample k** (its own SplitMix64 stream ``stream_state(seed_key(seed), k)``,
see :mod:`simulators.prng`): ``u_x, u_y`` (position ``lo + (hi - lo) u``); then for each BS
``b`` and antenna ``i`` (antenna fastest) the fading ``n_b[i]``; then for each BS ``b`` and
pilot ``l`` (pilot fastest) the noise: one uniform phase (constant modulus) or one complex
normal (Gaussian). A complex normal takes two uniforms ``u1, u2`` and is
``sqrt(-ln(1 - u1)) exp(j 2 pi u2)`` (polar Box-Muller: ``|z|^2 ~ Exp(1)``, uniform phase,
exactly CN(0, 1)). Sample ``k`` therefore depends only on
``(config, system, seed, k)``: not on ``n``, the chunk size or the number of threads.

**Draw order of the system** (one stream, key ``system_seed XOR SYSTEM_STREAM_SALT``,
index 0, so a system never shares a stream with a sample even when the two seeds are
equal): ``L`` uniform pilot phases, then for each ``b``, ``l``, antenna ``i`` (antenna
fastest) the real then the imaginary part of the sensing vector (standard normals), each
``(b, l)`` vector then scaled to unit norm.

**Named systems.** ``system_seed`` may also name a fixed draw (:data:`NAMED_SYSTEMS`).
``"paper"`` is the method paper's own draw: NumPy's legacy generator seeded once with 123
(``np.random.seed(123)`` in the paper's code; here a private ``RandomState(123)``, so no global
state is touched), then ``normal(0, 1, L) + 1j * normal(0, 1, L)`` for the pilots (all real
parts first), each scaled to modulus ``sqrt(P_ue)``, then ``normal(size=(B, L, M)) + 1j *
normal(size=(B, L, M))`` for the sensing vectors (BS, pilot, antenna), each scaled to unit
norm. The legacy stream is frozen by NumPy's compatibility policy.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange
from tqdm.auto import tqdm

from simulators.config_docs import documented
from simulators.pathloss import miso_pathloss_db
from simulators.presets import PresetConfig
from simulators.prng import next_uniform, seed_key, stream_state
from simulators.prng_reference import Stream
from simulators.units import db_to_lin, dbm_to_watt, noise_power_w
from simulators.validation import (
    ConfigError,
    check_choice,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
)

NOISE_LAWS = ("constant-modulus", "gaussian")
"""Observation noise laws: the paper's constant modulus with uniform phase, or CN(0, s^2)."""

SYSTEM_STREAM_SALT = 0x4D49534F53595354
"""XORed into ``system_seed`` to key the system's stream (ASCII ``MISOSYST``)."""

N_FACTORS = 3
"""Geometry factors per BS: distance (m), dx/d, dy/d."""

# The kernel evaluates the log-distance model PL(d) = a + b log10(d) of
# :func:`miso_pathloss_db`; its two coefficients are read from that one implementation.
_PL_INTERCEPT_DB = float(miso_pathloss_db(1.0))
_PL_SLOPE_DB_PER_DECADE = float(miso_pathloss_db(10.0)) - _PL_INTERCEPT_DB



@njit(cache=True, inline="always")
def _next_complex_normal(state):
    """CN(0, 1) from two uniforms: ``sqrt(-ln(1 - u1)) exp(j 2 pi u2)`` (polar Box-Muller)."""
    r = np.sqrt(-np.log(1.0 - next_uniform(state)))
    theta = 2.0 * np.pi * next_uniform(state)
    return r * np.cos(theta), r * np.sin(theta)


def _complex_normal_reference(stream: Stream) -> complex:
    """Plain-Python mirror of :func:`_next_complex_normal`."""
    r = math.sqrt(-math.log(1.0 - stream.uniform()))
    theta = 2.0 * math.pi * stream.uniform()
    return complex(r * math.cos(theta), r * math.sin(theta))


def _bs_tuple(value) -> tuple[tuple[float, float, float], ...]:
    try:
        rows = [tuple(row) for row in value]
    except TypeError:
        raise ConfigError(
            f"bs_positions_m={value!r} is invalid; expected a list of (x, y, z) positions in m"
        ) from None
    if len(rows) == 0:
        raise ConfigError(
            f"bs_positions_m={value!r} is invalid; expected at least one (x, y, z) position"
        )
    out = []
    for b, row in enumerate(rows):
        if len(row) != 3:
            raise ConfigError(
                f"bs_positions_m[{b}]={row!r} is invalid; expected 3 coordinates (x, y, z) in m"
            )
        xyz = tuple(check_finite(f"bs_positions_m[{b}][{c}]", v) for c, v in enumerate(row))
        if xyz[2] <= 0.0:
            raise ConfigError(
                f"bs_positions_m[{b}][2]={row[2]!r} is invalid; expected a BS height > 0 m "
                "(users are at z = 0)"
            )
        out.append(xyz)
    return tuple(out)


@dataclass(frozen=True)
class MisoConfig(PresetConfig):
    r"""Every parameter of the MISO pilot model (SPEC section 3). Units are in the names.

    Use :meth:`from_preset` for the paper's setting; every field can be overridden.

    Attributes
    ----------
    bs_positions_m : ((x, y, z), ...), BS array positions in m; ``z > 0``
    array_rows, array_cols : int, planar array size; ``M = rows * cols``
    user_area_m : (lo, hi), users uniform in ``[lo, hi]^2`` at ``z = 0`` (m)
    carrier_hz : float, metadata only (the array phase is set by ``kappa``)
    bandwidth_hz, noise_dbm_per_hz : noise power ``sigma^2 = N0 B``
    rician_k : float, Rician K factor, linear (``K = 0`` is Rayleigh)
    kappa : float, phase per antenna spacing (rad)
    n_pilots : int, pilots ``L``
    p_ue_dbm : float, pilot power ``|x_l|^2``
    p_bs_dbm : float, downlink transmit power per BS
    noise_law : 'constant-modulus' (paper) or 'gaussian'

    Example
    -------
    >>> cfg = MisoConfig.from_preset("paper")
    >>> cfg.n_bs, cfg.n_antennas, f"{cfg.noise_w:.3g} W"
    (3, 16, '5e-12 W')
    """

    bs_positions_m: tuple = documented(
        ((0.0, 0.0, 50.0), (0.0, 100.0, 50.0), (100.0, 0.0, 50.0)), "m",
        "list of (x, y, z), finite, z > 0", "BS array positions (users at z = 0)")
    array_rows: int = documented(4, "-", "integer >= 1", "rows of each planar BS array")
    array_cols: int = documented(4, "-", "integer >= 1", "columns of each planar BS array")
    user_area_m: tuple = documented((10.0, 90.0), "m", "[lo, hi], lo < hi",
                                    "users uniform in [lo, hi]^2")
    carrier_hz: float = documented(50e9, "Hz", "> 0",
                                   "metadata only (the array phase is set by kappa)")
    bandwidth_hz: float = documented(5e6, "Hz", "> 0", "bandwidth B (noise N0 B)")
    noise_dbm_per_hz: float = documented(-150.0, "dBm/Hz", "finite",
                                         "noise power spectral density N0")
    rician_k: float = documented(10.0, "linear", ">= 0", "Rician K factor (0: Rayleigh)")
    kappa: float = documented(1.0, "rad", "finite", "phase per antenna spacing")
    n_pilots: int = documented(4, "-", "integer >= 1", "uplink pilots L")
    p_ue_dbm: float = documented(30.0, "dBm", "finite", "pilot power |x_l|^2")
    p_bs_dbm: float = documented(40.0, "dBm", "finite", "downlink transmit power per BS")
    noise_law: str = documented("constant-modulus", "-", "one of constant-modulus, gaussian",
                                "pilot noise: the paper's data or circular Gaussian")
    preset: str = field(default="custom", compare=False)

    def _validate(self) -> None:
        object.__setattr__(self, "bs_positions_m", _bs_tuple(self.bs_positions_m))
        object.__setattr__(self, "array_rows", check_int("array_rows", self.array_rows, 1))
        object.__setattr__(self, "array_cols", check_int("array_cols", self.array_cols, 1))
        try:
            lo, hi = self.user_area_m
        except (TypeError, ValueError):
            raise ConfigError(
                f"user_area_m={self.user_area_m!r} is invalid; expected (lo, hi) in m"
            ) from None
        lo = check_finite("user_area_m[0]", lo)
        hi = check_finite("user_area_m[1]", hi)
        if not lo < hi:
            raise ConfigError(
                f"user_area_m={self.user_area_m!r} is invalid; expected lo < hi"
            )
        object.__setattr__(self, "user_area_m", (lo, hi))
        check_positive("carrier_hz", self.carrier_hz)
        check_positive("bandwidth_hz", self.bandwidth_hz)
        check_finite("noise_dbm_per_hz", self.noise_dbm_per_hz)
        check_nonnegative("rician_k", self.rician_k)
        check_finite("kappa", self.kappa)
        object.__setattr__(self, "n_pilots", check_int("n_pilots", self.n_pilots, 1))
        check_finite("p_ue_dbm", self.p_ue_dbm)
        check_finite("p_bs_dbm", self.p_bs_dbm)
        check_choice("noise_law", self.noise_law, NOISE_LAWS)

    def to_dict(self) -> dict:
        """Plain-Python dict of every field (positions as nested lists, for JSON / YAML)."""
        out = dataclasses.asdict(self)
        out["bs_positions_m"] = [list(p) for p in self.bs_positions_m]
        out["user_area_m"] = list(self.user_area_m)
        return out


    @property
    def n_bs(self) -> int:
        """Number of base stations ``B``."""
        return len(self.bs_positions_m)

    @property
    def n_antennas(self) -> int:
        """Antennas per BS, ``M = array_rows * array_cols``."""
        return int(self.array_rows) * int(self.array_cols)

    @property
    def bs_array_m(self) -> np.ndarray:
        """[n_bs, 3], float, BS positions in m."""
        return np.asarray(self.bs_positions_m, dtype=np.float64).reshape(self.n_bs, 3)

    @property
    def noise_w(self) -> float:
        """Noise power sigma^2 over the band, in watts."""
        return noise_power_w(self.noise_dbm_per_hz, self.bandwidth_hz)

    @property
    def p_ue_w(self) -> float:
        """Uplink pilot power ``|x_l|^2`` in watts."""
        return float(dbm_to_watt(self.p_ue_dbm))

    @property
    def p_bs_w(self) -> float:
        """Downlink transmit power per BS in watts."""
        return float(dbm_to_watt(self.p_bs_dbm))


MISO_PRESETS: dict[str, dict] = {"paper": {}}
"""Named settings (SPEC section 3). ``paper``: constant-modulus noise as in the paper's data."""
MisoConfig.KIND = "MISO"
MisoConfig.PRESETS = MISO_PRESETS
MisoConfig.PRESET_NOTES = {
    "paper": "the method paper's system: 3 BSs, 4x4 arrays, Rician K = 10, 4 pilots",
}


# --------------------------------------------------------------------------------------
# System: pilots and sensing vectors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MisoSystem:
    """Pilots and sensing vectors shared by every data set of one experiment.

    Attributes
    ----------
    pilots : [n_pilots], complex, ``x_l`` with ``|x_l|^2 = P_ue`` (W), uniform phases
    sensing : [n_bs, n_pilots, n_antennas], complex, unit-norm ``w_{b,l}``
    system_seed : int or str, the seed they were drawn from, or the name of a fixed draw

    Compare two systems with :func:`assert_same_system`.
    """

    pilots: np.ndarray
    sensing: np.ndarray
    system_seed: int | str

    @property
    def n_bs(self) -> int:
        """Number of base stations ``B`` (first axis of ``sensing``)."""
        return int(self.sensing.shape[0])

    @property
    def n_pilots(self) -> int:
        """Number of pilot symbols ``L``."""
        return int(self.pilots.shape[0])

    @property
    def n_antennas(self) -> int:
        """Antennas per BS ``M`` (last axis of ``sensing``)."""
        return int(self.sensing.shape[2])

    def check_matches(self, config: MisoConfig) -> None:
        """Raise :class:`ConfigError` unless shapes and pilot power fit ``config``."""
        want = (config.n_bs, config.n_pilots, config.n_antennas)
        if np.ndim(self.pilots) != 1 or np.ndim(self.sensing) != 3:
            raise ConfigError(
                f"system pilots / sensing have shapes {np.shape(self.pilots)} / "
                f"{np.shape(self.sensing)}; expected ({want[1]},) / {want}"
            )
        got = (self.n_bs, self.n_pilots, self.n_antennas)
        if got != want or np.shape(self.sensing)[1] != self.n_pilots:
            raise ConfigError(
                f"system shape (n_bs, n_pilots, n_antennas)={got} does not match the config's "
                f"{want}; build the system with make_system(config, system_seed)"
            )
        if not np.issubdtype(np.asarray(self.pilots).dtype, np.number):
            raise ConfigError(f"system pilots have dtype {self.pilots.dtype}; expected complex")
        power = np.abs(self.pilots) ** 2
        if not np.allclose(power, config.p_ue_w, rtol=1e-9, atol=0.0):
            raise ConfigError(
                f"system pilot power {float(power.max()):.6g} W does not match p_ue_dbm="
                f"{config.p_ue_dbm!r} ({config.p_ue_w:.6g} W); rebuild the system"
            )

    def to_dict(self) -> dict:
        """Arrays and seed, for data-set files."""
        return {"pilots": self.pilots, "sensing": self.sensing, "system_seed": self.system_seed}


def _paper_system_draw(config: MisoConfig) -> tuple[np.ndarray, np.ndarray]:
    """Pilots and sensing vectors as the method paper's code draws them (legacy seed 123)."""
    rng = np.random.RandomState(123)  # the paper's np.random.seed(123), without global state
    n_bs, n_pilots, n_ant = config.n_bs, config.n_pilots, config.n_antennas
    pilots = rng.normal(0, 1, size=n_pilots) + 1j * rng.normal(0, 1, size=n_pilots)
    pilots *= math.sqrt(config.p_ue_w) / np.abs(pilots)
    # [n_bs, n_pilots, n_antennas]
    sensing = rng.normal(size=(n_bs, n_pilots, n_ant)) + 1j * rng.normal(
        size=(n_bs, n_pilots, n_ant)
    )
    sensing /= np.linalg.norm(sensing, axis=-1, keepdims=True)
    return pilots, sensing


NAMED_SYSTEMS = {"paper": _paper_system_draw}
"""Fixed pilot / sensing draws selectable by name in place of an integer ``system_seed``."""


def check_system_seed(value: Any, field_name: str = "system_seed") -> int | str:
    """Validate a system seed: an integer >= 0 or a name in :data:`NAMED_SYSTEMS`.

    Digit strings (as given on a command line) become integers.

    Example
    -------
    >>> check_system_seed("paper"), check_system_seed("7"), check_system_seed(0)
    ('paper', 7, 0)
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, str):
        if value in NAMED_SYSTEMS:
            return value
        raise ConfigError(
            f"{field_name}={value!r} is invalid; expected an integer >= 0 or one of "
            + ", ".join(repr(name) for name in NAMED_SYSTEMS)
        )
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(
            f"{field_name}={value!r} is invalid; expected an integer >= 0 or one of "
            + ", ".join(repr(name) for name in NAMED_SYSTEMS)
        )
    return check_int(field_name, value, 0)


def make_system(config: MisoConfig, system_seed: int | str) -> MisoSystem:
    r"""Draw the pilots and sensing vectors of ``config`` from ``system_seed`` alone.

    .. math::

        x_l = \sqrt{P_{ue}}\, e^{j 2\pi u_l}, \qquad
        w_{b,l} = g_{b,l} / \lVert g_{b,l} \rVert,\ g_{b,l} \sim \mathcal{CN}(0, I_M)

    Drawn in plain Python from one SplitMix64 stream (see the module docstring for the
    order), so the system is the same on every machine and NumPy version.

    Input
    -----
    config : MisoConfig
    system_seed : int, non-negative, or a name in :data:`NAMED_SYSTEMS` (``"paper"``: the
        method paper's own draw, see the module docstring)

    Output
    ------
    MisoSystem with ``pilots: [n_pilots]`` and ``sensing: [n_bs, n_pilots, n_antennas]``

    Example
    -------
    >>> sys0 = make_system(MisoConfig.from_preset("paper"), system_seed=0)
    >>> sys0.sensing.shape
    (3, 4, 16)
    >>> make_system(MisoConfig.from_preset("paper"), "paper").system_seed
    'paper'
    """
    if not isinstance(config, MisoConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a MisoConfig")
    system_seed = check_system_seed(system_seed)
    if isinstance(system_seed, str):
        pilots, sensing = NAMED_SYSTEMS[system_seed](config)
        pilots.setflags(write=False)
        sensing.setflags(write=False)
        return MisoSystem(pilots, sensing, system_seed)
    stream = Stream((system_seed ^ SYSTEM_STREAM_SALT) % (1 << 64), 0)
    n_bs, n_pilots, n_ant = config.n_bs, config.n_pilots, config.n_antennas
    phases = np.array([stream.uniform() for _ in range(n_pilots)])
    pilots = math.sqrt(config.p_ue_w) * np.exp(2j * np.pi * phases)
    parts = np.array([stream.normal() for _ in range(n_bs * n_pilots * n_ant * 2)])
    # [n_bs, n_pilots, n_antennas, re/im]
    parts = parts.reshape(n_bs, n_pilots, n_ant, 2)
    sensing = parts[..., 0] + 1j * parts[..., 1]
    sensing /= np.linalg.norm(sensing, axis=-1, keepdims=True)
    pilots.setflags(write=False)
    sensing.setflags(write=False)
    return MisoSystem(pilots, sensing, system_seed)


def assert_same_system(a: MisoSystem, b: MisoSystem) -> None:
    """Raise :class:`ConfigError` naming what differs between two systems.

    Files of one experiment (source, target, test) must share pilots and sensing vectors;
    mixing systems silently would train on one measurement model and test on another.
    """
    if a.system_seed != b.system_seed:
        raise ConfigError(
            f"system_seed differs: {a.system_seed} vs {b.system_seed}; the data sets come "
            "from different pilot / sensing systems"
        )
    for name in ("pilots", "sensing"):
        x, y = getattr(a, name), getattr(b, name)
        if x.shape != y.shape:
            raise ConfigError(f"system {name} shape differs: {x.shape} vs {y.shape}")
        if not np.array_equal(x, y):
            worst = float(np.max(np.abs(x - y)))
            raise ConfigError(
                f"system {name} differ (max |difference| {worst:.3g}) although system_seed="
                f"{a.system_seed} matches; the pilot power or array size may differ"
            )


# --------------------------------------------------------------------------------------
# Deterministic geometry (NumPy): used by the reference generator and the baselines
# --------------------------------------------------------------------------------------


def _positions(config: MisoConfig, positions_m) -> np.ndarray:
    pos = np.asarray(positions_m, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ConfigError(f"positions_m shape {pos.shape} is invalid; expected (n, 2) in m")
    return pos


def geometry_factors(config: MisoConfig, positions_m: np.ndarray) -> np.ndarray:
    r"""Per-BS geometry ``(d, dx/d, dy/d)``: the reconstruction target of SPEC section 3.

    ``(dx, dy) = user - BS`` in x, y; ``d = sqrt(dx^2 + dy^2 + z_bs^2)`` the 3-D distance.

    Input
    -----
    config : MisoConfig
    positions_m : [n, 2], float, user (x, y) in m (``z = 0``)

    Output
    ------
    factors : [n, n_bs, 3], float, distance in m and the two direction cosines

    Example
    -------
    >>> cfg = MisoConfig.from_preset("paper")
    >>> geometry_factors(cfg, [[30.0, 40.0]])[0, 0].round(4).tolist()
    [70.7107, 0.4243, 0.5657]
    """
    pos = _positions(config, positions_m)
    bs = config.bs_array_m
    # [n, n_bs]
    dx = pos[:, None, 0] - bs[None, :, 0]
    dy = pos[:, None, 1] - bs[None, :, 1]
    dz = -bs[None, :, 2]
    d = np.sqrt(dx * dx + dy * dy + dz * dz)
    return np.stack([d, dx / d, dy / d], axis=-1)


def steering_vectors(config: MisoConfig, positions_m: np.ndarray) -> np.ndarray:
    r"""Unit-modulus array responses ``a_b``, antenna ``i = m * array_cols + n``.

    .. math:: [a_b]_{m \cdot cols + n} = \exp\big(j\kappa(m\,dx/d + n\,dy/d)\big)

    Input
    -----
    config : MisoConfig
    positions_m : [n, 2], float, user (x, y) in m

    Output
    ------
    a : [n, n_bs, n_antennas], complex, ``|a| = 1`` elementwise, ``||a_b||^2 = M``
    """
    fac = geometry_factors(config, positions_m)
    m = np.repeat(np.arange(config.array_rows), config.array_cols)  # [M]: row index (x)
    nn = np.tile(np.arange(config.array_cols), config.array_rows)  # [M]: column index (y)
    # [n, n_bs, M]
    phase = config.kappa * (m * fac[..., 1:2] + nn * fac[..., 2:3])
    return np.exp(1j * phase)


def path_gain(config: MisoConfig, positions_m: np.ndarray) -> np.ndarray:
    """Linear path gain ``beta_b = 10^(-PL(d_b)/10)`` with :func:`miso_pathloss_db`.

    Output
    ------
    beta : [n, n_bs], float, linear power gain (about 1e-10 at 80 m)
    """
    return db_to_lin(-miso_pathloss_db(geometry_factors(config, positions_m)[..., 0]))


def los_channel(config: MisoConfig, positions_m: np.ndarray) -> np.ndarray:
    r"""Deterministic line-of-sight part of the channel, ``E[h_b]``.

    .. math:: \bar h_b = \sqrt{\beta_b}\sqrt{\tfrac{K}{1+K}}\; a_b

    The mean of the Rician channel given the position; its covariance is
    ``beta_b / (1 + K) I``.

    Input
    -----
    config : MisoConfig
    positions_m : [n, 2], float, user (x, y) in m

    Output
    ------
    h_los : [n, n_bs, n_antennas], complex, amplitude in sqrt(linear gain)

    Example
    -------
    >>> cfg = MisoConfig.from_preset("paper")
    >>> los_channel(cfg, [[50.0, 50.0]]).shape
    (1, 3, 16)
    """
    k = float(config.rician_k)
    amp = np.sqrt(path_gain(config, positions_m) * k / (1.0 + k))
    return amp[..., None] * steering_vectors(config, positions_m)


def pilot_signals(system: MisoSystem, h: np.ndarray) -> np.ndarray:
    r"""Noise-free observations ``(w_{b,l}^H h_b) x_l``.

    Input
    -----
    system : MisoSystem
    h : [n, n_bs, n_antennas], complex, channels

    Output
    ------
    s : [n, n_bs, n_pilots], complex, in sqrt(W)
    """
    # [n, n_bs, n_pilots]
    return np.einsum("blm,nbm->nbl", system.sensing.conj(), h) * system.pilots


def observation_snr_db(config: MisoConfig, system: MisoSystem, h: np.ndarray) -> np.ndarray:
    """Per-observation SNR ``|(w_{b,l}^H h_b) x_l|^2 / sigma^2`` in dB, [n, n_bs, n_pilots]."""
    s = pilot_signals(system, h)
    return 10.0 * np.log10(np.abs(s) ** 2 / config.noise_w)


def observations_to_real(y: np.ndarray) -> np.ndarray:
    """Network input: all real parts, then all imaginary parts.

    ``out[:, :B*L] = Re y.reshape(n, B*L)``, ``out[:, B*L:] = Im y.reshape(n, B*L)`` with
    ``(b, l)`` row-major (pilot fastest). 24 reals for the paper's 3 x 4 observations; the
    values are raw (sqrt(W)), standardize them with the source training statistics.

    Input
    -----
    y : [n, n_bs, n_pilots], complex

    Output
    ------
    x : [n, 2 * n_bs * n_pilots], float

    Example
    -------
    >>> observations_to_real(np.array([[[1 + 2j, 3 + 4j]]])).tolist()
    [[1.0, 3.0, 2.0, 4.0]]
    """
    y = np.asarray(y)
    if y.ndim != 3:
        raise ConfigError(f"y shape {y.shape} is invalid; expected (n, n_bs, n_pilots)")
    flat = y.reshape(y.shape[0], -1)
    return np.concatenate([flat.real, flat.imag], axis=1)


def real_to_observations(x: np.ndarray, n_bs: int, n_pilots: int) -> np.ndarray:
    """Inverse of :func:`observations_to_real`: ``[n, 2 B L]`` reals to ``[n, B, L]`` complex."""
    x = np.asarray(x, dtype=np.float64)
    half = n_bs * n_pilots
    if x.ndim != 2 or x.shape[1] != 2 * half:
        raise ConfigError(f"x shape {x.shape} is invalid; expected (n, {2 * half})")
    return (x[:, :half] + 1j * x[:, half:]).reshape(-1, n_bs, n_pilots)


# --------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------


@dataclass
class MisoSamples:
    """A batch of MISO users with channels and pilot observations.

    Attributes
    ----------
    config : MisoConfig
    seed : int, the sample seed
    system : MisoSystem, the pilots and sensing vectors used
    positions_m : [n, 2], float, user (x, y) in m (``z = 0``)
    h : [n, n_bs, n_antennas], complex, channels (sqrt of linear gain)
    factors : [n, n_bs, 3], float, ``(d in m, dx/d, dy/d)`` per BS
    y : [n, n_bs, n_pilots], complex, observations in sqrt(W)
    """

    config: MisoConfig
    seed: int
    system: MisoSystem
    positions_m: np.ndarray
    h: np.ndarray
    factors: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return self.h.shape[0]

    def subset(self, index: slice | np.ndarray | list[int]) -> MisoSamples:
        """The samples selected by ``index`` (a slice, integer indices or a boolean mask),
        with the same config, seed and system."""
        return MisoSamples(
            self.config, self.seed, self.system, self.positions_m[index], self.h[index],
            self.factors[index], self.y[index],
        )

    def observations_real(self) -> np.ndarray:
        """[n, 2 B L] reals, see :func:`observations_to_real`."""
        return observations_to_real(self.y)


# --------------------------------------------------------------------------------------
# Numba kernel
# --------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def _generate_kernel(
    pos_all, h_all, fac_all, y_all, key, first_index,
    bs, rows, cols, area_lo, area_span, kappa, los_scale, nlos_scale,
    pl_intercept_db, pl_slope_db, pilots, sensing_conj, noise_amp, gaussian_noise,
):
    n = h_all.shape[0]
    n_bs = h_all.shape[1]
    n_pilots = y_all.shape[2]
    for k in prange(n):
        state = np.empty(1, dtype=np.uint64)
        state[0] = stream_state(key, first_index + k)
        ux = area_lo + area_span * next_uniform(state)
        uy = area_lo + area_span * next_uniform(state)
        pos_all[k, 0] = ux
        pos_all[k, 1] = uy
        h = h_all[k]
        for b in range(n_bs):
            dx = ux - bs[b, 0]
            dy = uy - bs[b, 1]
            dz = bs[b, 2]
            d = np.sqrt(dx * dx + dy * dy + dz * dz)
            cx = dx / d
            cy = dy / d
            fac_all[k, b, 0] = d
            fac_all[k, b, 1] = cx
            fac_all[k, b, 2] = cy
            # sqrt(10^(-PL/10)) = 10^(-PL/20)
            amp = 10.0 ** (-(pl_intercept_db + pl_slope_db * np.log10(d)) / 20.0)
            a_nlos = amp * nlos_scale
            # LoS by recurrence, sqrt(beta K/(1+K)) (e^{j kappa cx})^m (e^{j kappa cy})^c:
            # equals the direct exp to ~1e-15 relative, 8 sincos per BS instead of 32
            step_x = complex(np.cos(kappa * cx), np.sin(kappa * cx))
            step_y = complex(np.cos(kappa * cy), np.sin(kappa * cy))
            row = complex(amp * los_scale, 0.0)
            for m in range(rows):
                a = row
                for c in range(cols):
                    re, im = _next_complex_normal(state)
                    h[b, m * cols + c] = a + complex(a_nlos * re, a_nlos * im)
                    a = a * step_y
                row = row * step_x
        y = y_all[k]
        n_ant = h.shape[1]
        for b in range(n_bs):
            for ll in range(n_pilots):
                acc = 0j
                for i in range(n_ant):
                    acc += sensing_conj[b, ll, i] * h[b, i]
                y[b, ll] = acc * pilots[ll]
        for b in range(n_bs):
            for ll in range(n_pilots):
                if gaussian_noise:
                    re, im = _next_complex_normal(state)
                    y[b, ll] += complex(noise_amp * re, noise_amp * im)
                else:
                    phi = 2.0 * np.pi * next_uniform(state)
                    y[b, ll] += complex(noise_amp * np.cos(phi), noise_amp * np.sin(phi))


def _kernel_args(config: MisoConfig, system: MisoSystem) -> tuple:
    lo, hi = config.user_area_m
    k = float(config.rician_k)
    return (
        np.ascontiguousarray(config.bs_array_m), int(config.array_rows), int(config.array_cols),
        float(lo), float(hi - lo), float(config.kappa), math.sqrt(k / (1.0 + k)),
        math.sqrt(1.0 / (1.0 + k)), _PL_INTERCEPT_DB, _PL_SLOPE_DB_PER_DECADE,
        np.ascontiguousarray(system.pilots, dtype=np.complex128),
        np.ascontiguousarray(np.conj(system.sensing), dtype=np.complex128),
        math.sqrt(config.noise_w), config.noise_law == "gaussian",
    )


def _check_inputs(config, system) -> MisoSystem:
    if not isinstance(config, MisoConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a MisoConfig")
    if isinstance(system, (int, np.integer)) and not isinstance(system, bool):
        system = make_system(config, int(system))
    if not isinstance(system, MisoSystem):
        raise ConfigError(
            f"system={type(system).__name__} is invalid; expected a MisoSystem from "
            "make_system(config, system_seed) or an integer system_seed"
        )
    system.check_matches(config)
    return system


def _allocate(config: MisoConfig, n: int) -> tuple[np.ndarray, ...]:
    return (
        np.empty((n, 2)),
        np.empty((n, config.n_bs, config.n_antennas), dtype=np.complex128),
        np.empty((n, config.n_bs, N_FACTORS)),
        np.empty((n, config.n_bs, config.n_pilots), dtype=np.complex128),
    )


def generate_miso(
    config: MisoConfig,
    n: int,
    seed: int,
    system: MisoSystem | int,
    *,
    chunk_size: int = 100_000,
    progress: bool = False,
    first_index: int = 0,
) -> MisoSamples:
    r"""Generate ``n`` users, their channels and pilot observations (Numba, parallel).

    See the module docstring for the model and the draw order. Sample ``k`` depends only on
    ``(config, system, seed, k)``: not on ``n``, the chunk size or the number of threads.

    Input
    -----
    config : MisoConfig
    n : int, number of samples (>= 1)
    seed : int, non-negative sample seed
    system : MisoSystem (or an int ``system_seed``, passed to :func:`make_system`)
    chunk_size : int, samples per kernel call (drives the progress bar)
    progress : bool, show a tqdm progress bar
    first_index : int >= 0, global index of the first sample: sample ``k`` of the output
        is sample ``first_index + k`` of the seed's sequence (data sets made in pieces)

    Output
    ------
    MisoSamples with ``positions_m: [n, 2]``, ``h: [n, n_bs, n_antennas]``,
    ``factors: [n, n_bs, 3]``, ``y: [n, n_bs, n_pilots]``

    Example
    -------
    >>> cfg = MisoConfig.from_preset("paper")
    >>> data = generate_miso(cfg, n=4, seed=1, system=make_system(cfg, 0))
    >>> data.h.shape, data.y.shape, data.observations_real().shape
    ((4, 3, 16), (4, 3, 4), (4, 24))
    """
    system = _check_inputs(config, system)
    n = check_int("n", n, 1)
    key = seed_key(seed)
    chunk_size = check_int("chunk_size", chunk_size, 1)
    first_index = check_int("first_index", first_index, 0)
    args = _kernel_args(config, system)
    pos, h, fac, y = _allocate(config, n)
    with tqdm(total=n, desc="miso samples", unit="sample", disable=not progress) as bar:
        for start in range(0, n, chunk_size):
            part = slice(start, min(start + chunk_size, n))
            _generate_kernel(pos[part], h[part], fac[part], y[part], key,
                             np.uint64(first_index + start), *args)
            bar.update(part.stop - part.start)
    return MisoSamples(config, int(seed), system, pos, h, fac, y)


def generate_miso_reference(
    config: MisoConfig, n: int, seed: int, system: MisoSystem | int, *, first_index: int = 0
) -> MisoSamples:
    """Plain NumPy reference of :func:`generate_miso`: same draws, obviously-correct formulas.

    Draws each sample's numbers with :class:`simulators.prng_reference.Stream` in the
    documented order and evaluates the channel with :func:`los_channel`,
    :func:`path_gain` and :func:`pilot_signals`. Slow (pure Python draws); for tests.

    Input
    -----
    first_index : int, global index of the first sample (sample ``k`` of the output is
        sample ``first_index + k`` of :func:`generate_miso`)
    """
    system = _check_inputs(config, system)
    n = check_int("n", n, 1)
    key = int(seed_key(seed))
    n_bs, n_ant, n_pilots = config.n_bs, config.n_antennas, config.n_pilots
    lo, hi = config.user_area_m
    pos = np.empty((n, 2))
    fading = np.empty((n, n_bs, n_ant), dtype=np.complex128)
    noise = np.empty((n, n_bs, n_pilots), dtype=np.complex128)
    sigma = math.sqrt(config.noise_w)
    for k in range(n):
        s = Stream(key, first_index + k)
        pos[k] = [lo + (hi - lo) * s.uniform(), lo + (hi - lo) * s.uniform()]
        for b in range(n_bs):
            for i in range(n_ant):
                fading[k, b, i] = _complex_normal_reference(s)
        for b in range(n_bs):
            for ll in range(n_pilots):
                if config.noise_law == "gaussian":
                    noise[k, b, ll] = sigma * _complex_normal_reference(s)
                else:
                    noise[k, b, ll] = sigma * np.exp(2j * np.pi * s.uniform())
    kk = float(config.rician_k)
    # [n, n_bs, M]
    h = los_channel(config, pos) + np.sqrt(path_gain(config, pos) / (1.0 + kk))[..., None] * fading
    y = pilot_signals(system, h) + noise
    return MisoSamples(config, int(seed), system, pos, h, geometry_factors(config, pos), y)


__all__ = [
    "MISO_PRESETS",
    "NOISE_LAWS",
    "MisoConfig",
    "MisoSamples",
    "MisoSystem",
    "assert_same_system",
    "generate_miso",
    "generate_miso_reference",
    "geometry_factors",
    "los_channel",
    "make_system",
    "observation_snr_db",
    "observations_to_real",
    "path_gain",
    "pilot_signals",
    "real_to_observations",
    "steering_vectors",
]
