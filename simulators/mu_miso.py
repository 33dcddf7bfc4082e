r"""Multi-user MISO downlink channels: one BS with ``M`` antennas, ``K`` single-antenna users.

Users are dropped uniformly in an annulus around the BS (``min_distance_m <= r <=
cell_radius_m``, uniform in area) and see the channel

.. math::

    h_k = \sqrt{\beta_k}\left(\sqrt{\tfrac{\kappa}{1+\kappa}}\, a(\theta_k)
          + \sqrt{\tfrac{1}{1+\kappa}}\, n_k\right),
    \qquad n_k \sim \mathcal{CN}(0, I_M),

    [a(\theta)]_m = e^{j \pi m \sin\theta} \quad (\text{ULA, half-wavelength spacing}),

    \beta_k = 10^{-(PL(d_k) + X_k)/10}, \qquad
    PL(d) = \mathrm{PL}_0 + 10\, n \log_{10}(d / 1\,\mathrm{m})\ \text{dB},
    \quad X_k \sim \mathcal N(0, \sigma_{sh}^2)\ \text{dB},

with ``kappa`` the Rician K factor (``rician_k = 0``: Rayleigh) and ``theta_k`` the
user's angle seen from the BS. ``pathloss_model='none'`` sets ``beta_k = 1`` (no path loss,
no shadowing): the i.i.d. Rayleigh channel ``h_k ~ CN(0, I_M)`` of the learned-beamforming
literature. The downlink SINR and rates are in :mod:`simulators.beamforming`.

**Pilots** (the second input a learner may see). Each user sends ``n_pilots >= K``
orthogonal pilot symbols of power ``P_ue``; after correlating with its own pilot the BS
holds

.. math::

    y_k = \sqrt{L P_{ue}}\, h_k + z_k, \qquad z_k \sim \mathcal{CN}(0, \sigma^2 I_M),

so ``y_k / sqrt(L P_ue)`` is the least-squares estimate of ``h_k``.

**Draw order of sample b** (its own SplitMix64 stream ``stream_state(seed_key(seed), b)``,
see :mod:`simulators.prng`): for each user ``k``: ``u_r, u_theta`` (position) and one
standard normal (shadowing, drawn whatever its sigma); then for each user ``k`` and antenna
``m`` (antenna fastest) the fading ``n_k[m]``; then, in the same order, the pilot noise
``z_k[m]``. Sample ``b`` therefore depends only on ``(config, seed, b)``: not on ``n``,
the chunk size or the number of threads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange
from tqdm.auto import tqdm

from simulators.config_docs import documented
from simulators.miso import _complex_normal_reference, _next_complex_normal
from simulators.presets import PresetConfig
from simulators.prng import next_normal, next_uniform, seed_key, stream_state
from simulators.prng_reference import Stream
from simulators.units import db_to_lin, dbm_to_watt, lin_to_db, noise_power_w
from simulators.validation import (
    ConfigError,
    check_choice,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
)

PATHLOSS_MODELS = ("none", "log-distance")
"""``none``: unit gain (i.i.d. channels); ``log-distance``: ``PL0 + 10 n log10(d)`` dB."""


@dataclass(frozen=True)
class MuMisoConfig(PresetConfig):
    r"""Every parameter of the multi-user MISO downlink (SPEC section 4b). Units in the names.

    Attributes
    ----------
    n_antennas : int, BS antennas ``M``
    n_users : int, single-antenna users ``K``
    cell_radius_m, min_distance_m : users uniform in area in the annulus ``[min, radius]``
    pathloss_model : 'none' (``beta = 1``) or 'log-distance'
    pathloss_ref_db : float, ``PL0``, path loss at 1 m in dB
    pathloss_exponent : float, ``n`` (the slope is ``10 n`` dB per decade)
    shadowing_sigma_db : float, log-normal shadowing std in dB (log-distance only)
    rician_k : float, Rician K factor, linear (0: Rayleigh)
    p_max_dbm : float, total BS transmit power ``P``
    noise_dbm_per_hz, bandwidth_hz : noise power ``sigma^2 = N0 B``
    p_ue_dbm : float, uplink pilot power per symbol ``P_ue``
    n_pilots : int or None, pilot length ``L >= K`` (orthogonal pilots); None: ``L = K``

    Example
    -------
    >>> cfg = MuMisoConfig.from_preset("rayleigh-10db")
    >>> cfg.n_antennas, cfg.n_users, round(cfg.snr_db, 6)
    (4, 4, 10.0)
    """

    n_antennas: int = documented(8, "-", "integer >= 1", "BS antennas M")
    n_users: int = documented(4, "-", "integer >= 1", "single-antenna users K")
    cell_radius_m: float = documented(500.0, "m", "> 0", "users uniform in area up to this")
    min_distance_m: float = documented(35.0, "m", "> 0, < cell_radius_m",
                                       "and at least this far from the BS")
    pathloss_model: str = documented("log-distance", "-", "one of none, log-distance",
                                     "none: beta = 1; log-distance: PL0 + 10 n log10(d/m)")
    pathloss_ref_db: float = documented(15.3, "dB", "finite", "PL0, path loss at 1 m")
    pathloss_exponent: float = documented(3.76, "-", "> 0",
                                          "n (the slope is 10 n dB per decade)")
    shadowing_sigma_db: float = documented(8.0, "dB", ">= 0",
                                           "log-normal shadowing std (log-distance only)")
    rician_k: float = documented(0.0, "linear", ">= 0", "Rician K factor, ULA LoS (0: Rayleigh)")
    p_max_dbm: float = documented(30.0, "dBm", "finite", "total BS transmit power P")
    noise_dbm_per_hz: float = documented(-174.0, "dBm/Hz", "finite",
                                         "noise power spectral density N0")
    bandwidth_hz: float = documented(10e6, "Hz", "> 0", "bandwidth B (noise N0 B)")
    p_ue_dbm: float = documented(23.0, "dBm", "finite", "uplink pilot power per symbol")
    n_pilots: int | None = documented(None, "-", "integer >= n_users, or null (= n_users)",
                                      "orthogonal pilot length L")
    preset: str = field(default="custom", compare=False)

    def _validate(self) -> None:
        object.__setattr__(self, "n_antennas", check_int("n_antennas", self.n_antennas, 1))
        object.__setattr__(self, "n_users", check_int("n_users", self.n_users, 1))
        self._set("cell_radius_m", check_positive)
        self._set("min_distance_m", check_positive)
        if self.min_distance_m >= self.cell_radius_m:
            raise ConfigError(
                f"min_distance_m={self.min_distance_m!r} is invalid; expected a value < "
                f"cell_radius_m={self.cell_radius_m!r}"
            )
        check_choice("pathloss_model", self.pathloss_model, PATHLOSS_MODELS)
        self._set("pathloss_ref_db", check_finite)
        self._set("pathloss_exponent", check_positive)
        self._set("shadowing_sigma_db", check_nonnegative)
        self._set("rician_k", check_nonnegative)
        self._set("p_max_dbm", check_finite)
        self._set("noise_dbm_per_hz", check_finite)
        self._set("bandwidth_hz", check_positive)
        self._set("p_ue_dbm", check_finite)
        if self.n_pilots is None:
            object.__setattr__(self, "n_pilots", self.n_users)
        object.__setattr__(self, "n_pilots", check_int("n_pilots", self.n_pilots, 1))
        if self.n_pilots < self.n_users:
            raise ConfigError(
                f"n_pilots={self.n_pilots!r} is invalid; expected at least n_users="
                f"{self.n_users} (orthogonal pilots)"
            )

    def _set(self, name: str, check) -> None:
        """Validate a numeric field and store it as a float (``"20"`` from YAML -> 20.0)."""
        object.__setattr__(self, name, check(name, getattr(self, name)))

    def to_dict(self) -> dict:
        """Every field (``preset`` included) by name, for files."""
        return dataclasses.asdict(self)

    @property
    def noise_w(self) -> float:
        """Noise power sigma^2 over the band, in watts."""
        return noise_power_w(self.noise_dbm_per_hz, self.bandwidth_hz)

    @property
    def p_max_w(self) -> float:
        """Total BS transmit power ``P`` in watts."""
        return float(dbm_to_watt(self.p_max_dbm))

    @property
    def p_ue_w(self) -> float:
        """Uplink pilot power per symbol in watts."""
        return float(dbm_to_watt(self.p_ue_dbm))

    @property
    def snr_db(self) -> float:
        """Transmit SNR ``P / sigma^2`` in dB (the receive SNR when ``beta = 1``)."""
        return float(lin_to_db(self.p_max_w / self.noise_w))


MU_MISO_PRESETS: dict[str, dict] = {
    # i.i.d. Rayleigh h_k ~ CN(0, I), P / sigma^2 = 10 dB, M = K = 4 (deep-unfolded WMMSE
    # papers). Normalized units: sigma^2 = 1 W (30 dBm/Hz over 1 Hz), P = 10 W.
    "rayleigh-10db": {
        "n_antennas": 4, "n_users": 4, "pathloss_model": "none", "shadowing_sigma_db": 0.0,
        "p_max_dbm": 40.0, "noise_dbm_per_hz": 30.0, "bandwidth_hz": 1.0, "p_ue_dbm": 40.0,
    },
    # one cell of ours: radius 500 m, users >= 35 m, 3GPP-style 128.1 + 37.6 log10(d/km) dB
    # (= 15.3 + 37.6 log10(d/m)), 8 dB shadowing, Rayleigh, 30 dBm over 10 MHz at
    # -174 dBm/Hz, M = 8, K = 4
    "cell": {},
}
"""Named settings (SPEC section 4b), named after what they reproduce."""
MuMisoConfig.KIND = "multi-user MISO"
MuMisoConfig.PRESETS = MU_MISO_PRESETS
MuMisoConfig.PRESET_NOTES = {
    "rayleigh-10db": "i.i.d. CN(0, I), M = K = 4, P / sigma^2 = 10 dB (deep-unfolded WMMSE "
                     "papers; normalized units)",
    "cell": "one cell of ours: 35-500 m, 128.1 + 37.6 log10(d/km) dB, 8 dB shadowing, "
            "Rayleigh, 30 dBm over 10 MHz",
}


@dataclass
class MuMisoSamples:
    """A batch of multi-user MISO channel draws.

    Attributes
    ----------
    config : MuMisoConfig
    seed : int, the sample seed; None for imported channels (``wirelessrl import mu-miso``)
    positions_m : [n, K, 2], float, user (x, y) in m, the BS at the origin; None when
        unknown (imported channels)
    h : [n, K, M], complex, channels (``h[b, k]`` is user k's channel vector, sqrt(W/W))
    y : [n, K, M], complex, despread uplink pilot observations in sqrt(W); None when
        unknown (imported channels without pilots)
    """

    config: MuMisoConfig
    seed: int | None
    positions_m: np.ndarray | None
    h: np.ndarray
    y: np.ndarray | None

    def __len__(self) -> int:
        return self.h.shape[0]

    @property
    def has_positions(self) -> bool:
        """Whether the user positions are known (False for imported channels)."""
        return self.positions_m is not None

    @property
    def has_pilots(self) -> bool:
        """Whether the pilot observations ``y`` are known."""
        return self.y is not None

    def subset(self, index: slice | np.ndarray | list[int]) -> MuMisoSamples:
        """The samples selected by ``index`` (a slice, integer indices or a boolean mask)."""
        return MuMisoSamples(self.config, self.seed,
                             None if self.positions_m is None else self.positions_m[index],
                             self.h[index], None if self.y is None else self.y[index])

    def channel_estimate(self) -> np.ndarray:
        """[n, K, M] complex, least-squares estimate ``y / sqrt(L P_ue)`` of ``h``."""
        if self.y is None:
            raise ConfigError("these samples hold channels only (imported without pilots); "
                              "expected samples with pilots y for a channel estimate "
                              "(import them with --pilots-var NAME)")
        return self.y / math.sqrt(self.config.n_pilots * self.config.p_ue_w)


@njit(cache=True, parallel=True)
def _generate_kernel(pos_all, h_all, y_all, key, first_index, r_min_sq, r_span_sq,
                     use_pathloss, pl_ref_db, pl_slope_db, shadow_db, los_scale, nlos_scale,
                     pilot_amp, noise_amp):
    n, n_users, n_ant = h_all.shape
    for b in prange(n):
        state = np.empty(1, dtype=np.uint64)
        state[0] = stream_state(key, first_index + b)
        amp = np.empty(n_users)  # [K] sqrt(beta_k)
        sin_theta = np.empty(n_users)
        for k in range(n_users):
            r = np.sqrt(r_min_sq + r_span_sq * next_uniform(state))
            theta = 2.0 * np.pi * next_uniform(state)
            shadow = next_normal(state)
            pos_all[b, k, 0] = r * np.cos(theta)
            pos_all[b, k, 1] = r * np.sin(theta)
            sin_theta[k] = np.sin(theta)
            if use_pathloss:
                amp[k] = 10.0 ** (-(pl_ref_db + pl_slope_db * np.log10(r)
                                    + shadow_db * shadow) / 20.0)
            else:
                amp[k] = 1.0
        for k in range(n_users):
            for m in range(n_ant):
                re, im = _next_complex_normal(state)
                phase = np.pi * m * sin_theta[k]
                h_all[b, k, m] = amp[k] * complex(
                    los_scale * np.cos(phase) + nlos_scale * re,
                    los_scale * np.sin(phase) + nlos_scale * im)
        for k in range(n_users):
            for m in range(n_ant):
                re, im = _next_complex_normal(state)
                y_all[b, k, m] = pilot_amp * h_all[b, k, m] + complex(noise_amp * re,
                                                                      noise_amp * im)


def _kernel_args(config: MuMisoConfig) -> tuple:
    kk = float(config.rician_k)
    use_pl = config.pathloss_model == "log-distance"
    return (
        float(config.min_distance_m) ** 2,
        float(config.cell_radius_m) ** 2 - float(config.min_distance_m) ** 2,
        use_pl, float(config.pathloss_ref_db), 10.0 * float(config.pathloss_exponent),
        float(config.shadowing_sigma_db) if use_pl else 0.0,
        math.sqrt(kk / (1.0 + kk)), math.sqrt(1.0 / (1.0 + kk)),
        math.sqrt(config.n_pilots * config.p_ue_w), math.sqrt(config.noise_w),
    )


def generate_mu_miso(
    config: MuMisoConfig, n: int, seed: int, *, chunk_size: int = 100_000,
    progress: bool = False, first_index: int = 0,
) -> MuMisoSamples:
    r"""Draw ``n`` multi-user MISO channel samples (Numba, ``parallel=True``).

    See the module docstring for the model and the draw order. Sample ``b`` depends only
    on ``(config, seed, b)``.

    Input
    -----
    config : MuMisoConfig
    n : int, number of samples (>= 1)
    seed : int in [0, 2**64)
    chunk_size : int, samples per kernel call (drives the progress bar)
    progress : bool, show a tqdm progress bar
    first_index : int >= 0, global index of the first sample: sample ``b`` of the output
        is sample ``first_index + b`` of the seed's sequence (data sets made in pieces)

    Output
    ------
    MuMisoSamples with ``positions_m: [n, K, 2]``, ``h: [n, K, M]``, ``y: [n, K, M]``

    Example
    -------
    >>> data = generate_mu_miso(MuMisoConfig.from_preset("cell"), n=3, seed=1)
    >>> data.h.shape, data.h.dtype
    ((3, 4, 8), dtype('complex128'))
    """
    if not isinstance(config, MuMisoConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a MuMisoConfig")
    n = check_int("n", n, 1)
    key = seed_key(seed)
    chunk_size = check_int("chunk_size", chunk_size, 1)
    first_index = check_int("first_index", first_index, 0)
    args = _kernel_args(config)
    k_users, m_ant = config.n_users, config.n_antennas
    pos = np.empty((n, k_users, 2))
    h = np.empty((n, k_users, m_ant), dtype=np.complex128)
    y = np.empty((n, k_users, m_ant), dtype=np.complex128)
    with tqdm(total=n, desc="mu-miso samples", unit="sample", disable=not progress) as bar:
        for start in range(0, n, chunk_size):
            part = slice(start, min(start + chunk_size, n))
            _generate_kernel(pos[part], h[part], y[part], key, np.uint64(first_index + start),
                             *args)
            bar.update(part.stop - part.start)
    return MuMisoSamples(config, int(seed), pos, h, y)


def path_gain(config: MuMisoConfig, distance_m: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """Linear large-scale gain ``beta = 10^(-(PL(d) + sigma_sh X) / 10)``; 1 for 'none'.

    Input
    -----
    distance_m : [...], float, distance in m
    shadow : [...], float, standard normal shadowing draws ``X``
    """
    d = np.asarray(distance_m, dtype=np.float64)
    if config.pathloss_model == "none":
        return np.ones_like(d)
    pl_db = (config.pathloss_ref_db + 10.0 * config.pathloss_exponent * np.log10(d)
             + config.shadowing_sigma_db * np.asarray(shadow, dtype=np.float64))
    return db_to_lin(-pl_db)


def steering_vector(sin_theta: np.ndarray, n_antennas: int) -> np.ndarray:
    """Half-wavelength ULA response ``a_m = exp(j pi m sin(theta))``, shape [..., M]."""
    return np.exp(1j * np.pi * np.arange(n_antennas) * np.asarray(sin_theta)[..., None])


def generate_mu_miso_reference(
    config: MuMisoConfig, n: int, seed: int, *, first_index: int = 0
) -> MuMisoSamples:
    """Plain NumPy / Python reference of :func:`generate_mu_miso` (same draws); for tests."""
    n = check_int("n", n, 1)
    key = int(seed_key(seed))
    k_users, m_ant = config.n_users, config.n_antennas
    r = np.empty((n, k_users))
    theta = np.empty((n, k_users))
    shadow = np.empty((n, k_users))
    fading = np.empty((n, k_users, m_ant), dtype=np.complex128)
    noise = np.empty((n, k_users, m_ant), dtype=np.complex128)
    r0, r1 = config.min_distance_m, config.cell_radius_m
    for b in range(n):
        s = Stream(key, first_index + b)
        for k in range(k_users):
            r[b, k] = math.sqrt(r0**2 + (r1**2 - r0**2) * s.uniform())
            theta[b, k] = 2.0 * math.pi * s.uniform()
            shadow[b, k] = s.normal()
        for arr in (fading, noise):
            for k in range(k_users):
                for m in range(m_ant):
                    arr[b, k, m] = _complex_normal_reference(s)
    kk = config.rician_k
    beta = path_gain(config, r, shadow)
    # [n, K, M]
    h = np.sqrt(beta)[..., None] * (math.sqrt(kk / (1 + kk)) * steering_vector(np.sin(theta),
                                                                              m_ant)
                                    + math.sqrt(1 / (1 + kk)) * fading)
    y = math.sqrt(config.n_pilots * config.p_ue_w) * h + math.sqrt(config.noise_w) * noise
    pos = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=-1)
    return MuMisoSamples(config, int(seed), pos, h, y)


__all__ = [
    "MU_MISO_PRESETS",
    "PATHLOSS_MODELS",
    "MuMisoConfig",
    "MuMisoSamples",
    "generate_mu_miso",
    "generate_mu_miso_reference",
    "path_gain",
    "steering_vector",
]
