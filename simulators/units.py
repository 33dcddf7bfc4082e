"""Unit conversions. Every dB/linear conversion in the project goes through these helpers."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

SPEED_OF_LIGHT_M_PER_S = 2.998e8
"""Speed of light used by the method paper's code (m/s)."""


def db_to_lin(x_db: ArrayLike) -> np.ndarray:
    """Convert decibels to a linear power ratio: ``10 ** (x_db / 10)``.

    Example
    -------
    >>> float(db_to_lin(3.0))
    1.9952623149688795
    """
    return np.power(10.0, np.asarray(x_db, dtype=np.float64) / 10.0)


def lin_to_db(x: ArrayLike) -> np.ndarray:
    """Convert a linear power ratio to decibels: ``10 log10(x)``.

    Example
    -------
    >>> lin_to_db([1.0, 100.0])
    array([ 0., 20.])
    """
    return 10.0 * np.log10(np.asarray(x, dtype=np.float64))


def dbm_to_watt(x_dbm: ArrayLike) -> np.ndarray:
    """Convert dBm to watts.

    Example
    -------
    >>> float(dbm_to_watt(30.0)), float(dbm_to_watt(0.0))
    (1.0, 0.001)
    """
    return db_to_lin(np.asarray(x_dbm, dtype=np.float64) - 30.0)


def watt_to_dbm(x_w: ArrayLike) -> np.ndarray:
    """Convert watts to dBm.

    Example
    -------
    >>> float(watt_to_dbm(1.0))
    30.0
    """
    return lin_to_db(x_w) + 30.0


def noise_power_w(noise_dbm_per_hz: float, bandwidth_hz: float) -> float:
    """Thermal noise power in watts over a band: ``10^((N0_dBm - 30) / 10) B``.

    Example
    -------
    The ``paper`` preset's sigma^2 (-150 dBm/Hz over 5 MHz):

    >>> f"{noise_power_w(-150, 5e6):.3g} W"
    '5e-12 W'
    """
    return float(dbm_to_watt(noise_dbm_per_hz)) * float(bandwidth_hz)


def wavelength_m(carrier_hz: float) -> float:
    """Carrier wavelength in metres, ``c / f`` with c = 2.998e8 m/s.

    Example
    -------
    >>> round(wavelength_m(50e9), 6)
    0.005996
    """
    return SPEED_OF_LIGHT_M_PER_S / float(carrier_hz)
