r"""Path-loss models.

ITU-R P.1411 line-of-sight two-slope model (the D2D papers' model)::

    R_bp = 4 h1 h2 / lambda
    L_bp = | 20 log10( lambda^2 / (8 pi h1 h2) ) |
    PL(d) = L_bp + 6 + 20 log10(d / R_bp)   for d <= R_bp
    PL(d) = L_bp + 6 + 40 log10(d / R_bp)   for d >  R_bp        (dB)

and the MISO experiment's log-distance model ``PL(d) = 32.6 + 36.7 log10(d)`` dB.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from simulators.units import wavelength_m


def p1411_breakpoint(carrier_hz: float, h_tx_m: float, h_rx_m: float) -> tuple[float, float]:
    """Breakpoint distance ``R_bp`` (m) and basic loss at the breakpoint ``L_bp`` (dB).

    Example
    -------
    >>> r_bp, l_bp = p1411_breakpoint(50e9, 1.5, 1.5)
    >>> round(r_bp), round(l_bp, 2)
    (1501, 123.93)
    """
    lam = wavelength_m(carrier_hz)
    r_bp = 4.0 * h_tx_m * h_rx_m / lam
    l_bp = abs(20.0 * math.log10(lam**2 / (8.0 * math.pi * h_tx_m * h_rx_m)))
    return r_bp, l_bp


def p1411_los_pathloss_db(
    distance_m: ArrayLike, carrier_hz: float, h_tx_m: float, h_rx_m: float
) -> np.ndarray:
    """ITU-R P.1411 LoS two-slope path loss.

    Input
    -----
    distance_m : [...], float, horizontal distance in metres (> 0)

    Output
    ------
    pathloss_db : [...], float, path loss in dB

    Example
    -------
    >>> round(float(p1411_los_pathloss_db(10.0, 50e9, 1.5, 1.5)), 2)
    86.41
    """
    d = np.asarray(distance_m, dtype=np.float64)
    r_bp, l_bp = p1411_breakpoint(carrier_hz, h_tx_m, h_rx_m)
    slope = np.where(d <= r_bp, 20.0, 40.0)
    return l_bp + 6.0 + slope * np.log10(d / r_bp)


def miso_pathloss_db(distance_m: ArrayLike) -> np.ndarray:
    """Log-distance path loss of the MISO experiment, ``32.6 + 36.7 log10(d)`` dB.

    This is the method paper's code: a sub-6 GHz-style model used beside a 50 GHz carrier.
    Kept as is for reproduction. ``distance_m`` in metres; returns dB, same shape.

    Example
    -------
    >>> miso_pathloss_db([1.0, 10.0])
    array([32.6, 69.3])
    """
    return 32.6 + 36.7 * np.log10(np.asarray(distance_m, dtype=np.float64))
