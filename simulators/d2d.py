r"""D2D layouts and channel gains (Numba, batched, seeded).

A layout has ``n_links`` transmitter-receiver pairs in a square field. Transmitters are
uniform in the square; each receiver lies at a distance ``U[d_min, d_max]`` and an angle
``U[0, 2 pi)`` from its transmitter, redrawn until it falls inside the square. When a
cross distance ``|tx_j - rx_i|`` (``i != j``) is below ``min_cross_distance_m`` the
receivers are redrawn: all of them (``redraw="all"``, the papers' rule) or only the
offending ones (``redraw="offending"``).

Gains ``g[b, i, j]`` (transmitter j to receiver i, linear) are the ITU-R P.1411 LoS
path gain, times the direct-link antenna gain on the diagonal, times optional log-normal
shadowing and Rayleigh fading power.

Draw order of layout ``k`` (its own SplitMix64 stream, see :mod:`simulators.prng`):
``tx_x, tx_y`` for each link; then for each receiver ``r, theta`` until inside; redraws
repeat the receiver loop; then ``n*n`` shadowing normals (row-major, if enabled), then
``n*n`` fading exponentials (row-major, if enabled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit, prange
from tqdm.auto import tqdm

from simulators.config_docs import documented
from simulators.pathloss import p1411_breakpoint
from simulators.presets import PresetConfig
from simulators.prng import next_exponential, next_normal, next_uniform, seed_key, stream_state
from simulators.units import db_to_lin, dbm_to_watt, noise_power_w
from simulators.validation import (
    ConfigError,
    check_choice,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
)

REDRAW_RULES = ("all", "offending")

STATUS_OK = 0
STATUS_REDRAW_EXHAUSTED = 1
STATUS_PLACEMENT_EXHAUSTED = 2
_MAX_PLACEMENT_TRIES = 100_000


@dataclass(frozen=True)
class D2DConfig(PresetConfig):
    """Every parameter of the D2D system model. Units are in the names.

    Use :meth:`from_preset` for the papers' settings; every field can be overridden.

    Example
    -------
    >>> cfg = D2DConfig.from_preset("paper", n_links=20)
    >>> f"{cfg.noise_w:.3g} W"
    '5e-12 W'
    """

    n_links: int = documented(10, "-", "integer >= 1", "links (tx-rx pairs) per layout")
    field_m: float = documented(150.0, "m", "> 0, >= sqrt(2) * link_distance_max_m",
                                "side of the square field")
    link_distance_min_m: float = documented(5.0, "m", "> 0, <= link_distance_max_m",
                                            "shortest tx-rx distance of a link")
    link_distance_max_m: float = documented(25.0, "m", "> 0",
                                            "longest tx-rx distance of a link")
    min_cross_distance_m: float = documented(
        5.0, "m", "> 0", "receivers closer than this to another link's tx are redrawn")
    carrier_hz: float = documented(50e9, "Hz", "> 0", "carrier frequency (path loss)")
    h_tx_m: float = documented(1.5, "m", "> 0", "transmitter antenna height")
    h_rx_m: float = documented(1.5, "m", "> 0", "receiver antenna height")
    direct_gain_db: float = documented(6.0, "dB", "finite",
                                       "antenna gain on the direct links (diagonal)")
    p_max_dbm: float = documented(30.0, "dBm", "finite", "maximum transmit power per link")
    noise_dbm_per_hz: float = documented(-150.0, "dBm/Hz", "finite",
                                         "noise power spectral density N0")
    bandwidth_hz: float = documented(5e6, "Hz", "> 0", "bandwidth B (noise N0 B, rates)")
    snr_gap_db: float = documented(0.0, "dB", ">= 0",
                                   "SNR gap Gamma: rate log2(1 + SINR / Gamma)")
    shadowing_sigma_db: float = documented(0.0, "dB", ">= 0",
                                           "log-normal shadowing std (0: none)")
    fading: bool = documented(False, "bool", "true or false", "Rayleigh fading power")
    redraw: str = documented("all", "-", "one of all, offending",
                             "after a too-short cross distance, redraw all receivers or "
                             "only the offending ones")
    max_redraws: int = documented(10_000, "-", "integer >= 1",
                                  "redraw rounds per layout before giving up")
    preset: str = field(default="custom", compare=False)

    def _validate(self) -> None:
        check_int("n_links", self.n_links, 1)
        check_positive("field_m", self.field_m)
        check_positive("link_distance_min_m", self.link_distance_min_m)
        check_positive("link_distance_max_m", self.link_distance_max_m)
        if self.link_distance_min_m > self.link_distance_max_m:
            raise ConfigError(
                f"link_distance_min_m={self.link_distance_min_m!r} is invalid; expected a "
                f"value <= link_distance_max_m={self.link_distance_max_m!r}"
            )
        if self.link_distance_max_m > self.field_m / math.sqrt(2.0):
            raise ConfigError(
                f"field_m={self.field_m!r} is too small for the links; expected field_m >= "
                f"sqrt(2) * link_distance_max_m = {math.sqrt(2) * self.link_distance_max_m:.4g}"
            )
        check_positive("min_cross_distance_m", self.min_cross_distance_m)
        check_positive("carrier_hz", self.carrier_hz)
        check_positive("h_tx_m", self.h_tx_m)
        check_positive("h_rx_m", self.h_rx_m)
        check_finite("direct_gain_db", self.direct_gain_db)
        check_finite("p_max_dbm", self.p_max_dbm)
        check_finite("noise_dbm_per_hz", self.noise_dbm_per_hz)
        check_positive("bandwidth_hz", self.bandwidth_hz)
        check_nonnegative("snr_gap_db", self.snr_gap_db)
        check_nonnegative("shadowing_sigma_db", self.shadowing_sigma_db)
        if not isinstance(self.fading, (bool, np.bool_)):
            raise ConfigError(f"fading={self.fading!r} is invalid; expected true or false")
        check_choice("redraw", self.redraw, REDRAW_RULES)
        check_int("max_redraws", self.max_redraws, 1)


    @property
    def noise_w(self) -> float:
        """Noise power sigma^2 over the band, in watts."""
        return noise_power_w(self.noise_dbm_per_hz, self.bandwidth_hz)

    @property
    def p_max_w(self) -> float:
        """Maximum transmit power per link, in watts."""
        return float(dbm_to_watt(self.p_max_dbm))


D2D_PRESETS: dict[str, dict] = {
    "paper": {},
    "paper-fading": {"shadowing_sigma_db": 8.0, "fading": True},
    "spatial-2019": {
        "n_links": 50,
        "field_m": 1000.0,
        "link_distance_min_m": 2.0,
        "link_distance_max_m": 65.0,
        "min_cross_distance_m": 1.0,
        "carrier_hz": 2.4e9,
        "direct_gain_db": 2.5,
        "p_max_dbm": 40.0,
        "noise_dbm_per_hz": -169.0,
        "snr_gap_db": 6.0,
    },
}
"""Named settings (SPEC section 2). ``paper`` has no shadowing or fading: the method
paper's data is pure path loss (its code draws both, then discards them)."""
D2DConfig.KIND = "D2D"
D2DConfig.PRESETS = D2D_PRESETS
D2DConfig.PRESET_NOTES = {
    "paper": "the method paper's data (Cui, Yu 2024): pure path loss, no shadowing or fading",
    "paper-fading": "what the method paper's text describes: shadowing and Rayleigh fading",
    "spatial-2019": "Cui, Shen, Yu, JSAC 2019: 50 links in 1 km at 2.4 GHz, SNR gap 6 dB",
}


@dataclass
class D2DLayouts:
    """A batch of D2D layouts.

    Attributes
    ----------
    config : D2DConfig
    seed : int, or None for gains that were not simulated (imported from a file)
    tx_m : [batch, n, 2], float, transmitter positions in metres (None: not known, e.g.
        imported gains)
    rx_m : [batch, n, 2], float, receiver positions in metres (None: not known)
    g : [batch, n, n], float, linear power gains, ``g[b, i, j]`` from tx j to rx i
    redraws : [batch], int, receiver redraw rounds each layout needed (None: not known)
    """

    config: D2DConfig
    seed: int | None
    tx_m: np.ndarray | None
    rx_m: np.ndarray | None
    g: np.ndarray
    redraws: np.ndarray | None

    def __len__(self) -> int:
        return self.g.shape[0]

    @property
    def has_positions(self) -> bool:
        """Whether transmitter and receiver positions are known (False for imported gains)."""
        return self.tx_m is not None and self.rx_m is not None

    @property
    def distance_m(self) -> np.ndarray:
        """[batch, n, n] distances ``|tx_j - rx_i|`` in metres."""
        if not self.has_positions:
            raise ConfigError("these layouts hold gains only (imported, no positions); "
                              "expected layouts with tx_m and rx_m for distances")
        return cross_distances_m(self.tx_m, self.rx_m)

    def subset(self, index: slice | np.ndarray | list[int]) -> D2DLayouts:
        """The layouts selected by ``index`` (a slice, integer indices or a boolean mask).

        Example
        -------
        >>> data = generate_d2d(D2DConfig.from_preset("paper"), n=4, seed=1)
        >>> len(data.subset(slice(1, 3)))
        2
        """
        def take(a):
            return None if a is None else a[index]

        return D2DLayouts(
            self.config, self.seed, take(self.tx_m), take(self.rx_m), self.g[index],
            take(self.redraws),
        )


def cross_distances_m(tx_m: np.ndarray, rx_m: np.ndarray) -> np.ndarray:
    """``d[b, i, j] = |tx[b, j] - rx[b, i]|``, shape [batch, n, n]."""
    diff = rx_m[..., :, None, :] - tx_m[..., None, :, :]
    return np.sqrt(np.sum(diff * diff, axis=-1))


@njit(cache=True, inline="always")
def _place_receiver(state, tx, rx, i, field, d_min, d_span):
    for _ in range(_MAX_PLACEMENT_TRIES):
        r = d_min + next_uniform(state) * d_span
        theta = 2.0 * np.pi * next_uniform(state)
        x = tx[i, 0] + r * np.cos(theta)
        y = tx[i, 1] + r * np.sin(theta)
        if 0.0 <= x <= field and 0.0 <= y <= field:
            rx[i, 0] = x
            rx[i, 1] = y
            return True
    return False


@njit(cache=True, inline="always")
def _mark_violations(tx, rx, min_cross_sq, bad):
    n = tx.shape[0]
    any_bad = False
    for i in range(n):
        bad[i] = False
        for j in range(n):
            if j != i:
                dx = tx[j, 0] - rx[i, 0]
                dy = tx[j, 1] - rx[i, 1]
                if dx * dx + dy * dy < min_cross_sq:
                    bad[i] = True
                    any_bad = True
                    break
    return any_bad


@njit(cache=True)
def _layout_one(state, tx, rx, bad, field, d_min, d_span, min_cross_sq, redraw_all, max_redraws):
    n = tx.shape[0]
    for i in range(n):
        tx[i, 0] = next_uniform(state) * field
        tx[i, 1] = next_uniform(state) * field
    for i in range(n):
        if not _place_receiver(state, tx, rx, i, field, d_min, d_span):
            return STATUS_PLACEMENT_EXHAUSTED, 0
    rounds = 0
    while _mark_violations(tx, rx, min_cross_sq, bad):
        rounds += 1
        if rounds > max_redraws:
            return STATUS_REDRAW_EXHAUSTED, rounds
        for i in range(n):
            if redraw_all or bad[i]:
                if not _place_receiver(state, tx, rx, i, field, d_min, d_span):
                    return STATUS_PLACEMENT_EXHAUSTED, rounds
    return STATUS_OK, rounds


@njit(cache=True, parallel=True)
def _generate_kernel(
    tx_all, rx_all, g_all, status, rounds, key, first_index,
    field, d_min, d_max, min_cross, redraw_all, max_redraws,
    r_bp, gain_bp, direct_gain, shadow_sigma_db, fading,
):
    n_layouts, n = g_all.shape[0], g_all.shape[1]
    d_span = d_max - d_min
    min_cross_sq = min_cross * min_cross
    for k in prange(n_layouts):
        state = np.empty(1, dtype=np.uint64)
        state[0] = stream_state(key, first_index + k)
        bad = np.empty(n, dtype=np.bool_)
        tx = tx_all[k]
        rx = rx_all[k]
        status[k], rounds[k] = _layout_one(
            state, tx, rx, bad, field, d_min, d_span, min_cross_sq, redraw_all, max_redraws
        )
        g = g_all[k]
        for i in range(n):
            for j in range(n):
                dx = rx[i, 0] - tx[j, 0]
                dy = rx[i, 1] - tx[j, 1]
                ratio_sq = (dx * dx + dy * dy) / (r_bp * r_bp)
                # P.1411: 20 log10 slope -> (d/R_bp)^-2, 40 log10 slope -> (d/R_bp)^-4
                if ratio_sq <= 1.0:
                    g[i, j] = gain_bp / ratio_sq
                else:
                    g[i, j] = gain_bp / (ratio_sq * ratio_sq)
            g[i, i] *= direct_gain
        if shadow_sigma_db > 0.0:
            for i in range(n):
                for j in range(n):
                    g[i, j] *= 10.0 ** (shadow_sigma_db * next_normal(state) / 10.0)
        if fading:
            for i in range(n):
                for j in range(n):
                    g[i, j] *= next_exponential(state)


def _kernel_args(config: D2DConfig) -> tuple:
    r_bp, l_bp = p1411_breakpoint(config.carrier_hz, config.h_tx_m, config.h_rx_m)
    return (
        float(config.field_m), float(config.link_distance_min_m),
        float(config.link_distance_max_m), float(config.min_cross_distance_m),
        config.redraw == "all", int(config.max_redraws), float(r_bp),
        float(db_to_lin(-(l_bp + 6.0))), float(db_to_lin(config.direct_gain_db)),
        float(config.shadowing_sigma_db), bool(config.fading),
    )


def generate_d2d(
    config: D2DConfig,
    n: int,
    seed: int,
    *,
    chunk_size: int = 100_000,
    progress: bool = False,
    first_index: int = 0,
) -> D2DLayouts:
    """Generate ``n`` layouts and their gains.

    Layout ``k`` depends only on ``(config, seed, k)``: not on ``n``, the chunk size or the
    number of Numba threads.

    Input
    -----
    config : D2DConfig
    n : int, number of layouts (>= 1)
    seed : int, non-negative
    chunk_size : int, layouts per kernel call (drives the progress bar)
    progress : bool, show a tqdm progress bar
    first_index : int >= 0, global index of the first layout: layout ``k`` of the output
        is layout ``first_index + k`` of the seed's sequence, so a data set can be made
        in independent pieces (out of core, or on several machines)

    Output
    ------
    D2DLayouts with ``g: [n, n_links, n_links]``

    Example
    -------
    >>> data = generate_d2d(D2DConfig.from_preset("paper"), n=4, seed=1)
    >>> data.g.shape
    (4, 10, 10)
    """
    if not isinstance(config, D2DConfig):
        raise ConfigError(f"config={type(config).__name__} is invalid; expected a D2DConfig")
    n = check_int("n", n, 1)
    key = seed_key(seed)
    chunk_size = check_int("chunk_size", chunk_size, 1)
    first_index = check_int("first_index", first_index, 0)
    args = _kernel_args(config)
    n_links = int(config.n_links)
    tx = np.empty((n, n_links, 2))
    rx = np.empty((n, n_links, 2))
    g = np.empty((n, n_links, n_links))
    status = np.empty(n, dtype=np.int64)
    rounds = np.empty(n, dtype=np.int64)
    with tqdm(total=n, desc="d2d layouts", unit="layout", disable=not progress) as bar:
        for start in range(0, n, chunk_size):
            part = slice(start, min(start + chunk_size, n))
            _generate_kernel(
                tx[part], rx[part], g[part], status[part], rounds[part], key,
                np.uint64(first_index + start), *args,
            )
            _raise_on_status(config, status[part], first_index + start)
            bar.update(part.stop - part.start)
    return D2DLayouts(config, int(seed), tx, rx, g, rounds)


def _raise_on_status(config: D2DConfig, status: np.ndarray, first_index: int) -> None:
    if np.all(status == STATUS_OK):
        return
    k = int(np.flatnonzero(status != STATUS_OK)[0])
    if status[k] == STATUS_REDRAW_EXHAUSTED:
        hint = (
            "use redraw='offending' to redraw only the receivers involved, "
            if config.redraw == "all"
            else ""
        )
        raise ConfigError(
            f"redraw={config.redraw!r} could not place layout {first_index + k} with every "
            f"cross distance >= min_cross_distance_m={config.min_cross_distance_m} within "
            f"max_redraws={config.max_redraws} rounds; {hint}or lower n_links="
            f"{config.n_links} / min_cross_distance_m, or enlarge field_m={config.field_m}"
        )
    raise ConfigError(
        f"layout {first_index + k}: no receiver position inside field_m={config.field_m} "
        f"after {_MAX_PLACEMENT_TRIES} tries; enlarge field_m or shorten link_distance_max_m"
    )
