"""What each stored array means: its unit and a one-line description, per file kind.

:mod:`wirelessrl.fileio` writes these as the ``units`` and ``description`` attributes of
every HDF5 data set, and into the ``meta.arrays`` struct of ``.mat`` files, so a file
explains itself in ``h5dump``, HDFView or MATLAB without this package.

Example
-------
>>> array_doc("d2d-layouts", "p_w") == ("", "")
True
>>> array_doc("d2d-solution", "p_w")
('W', 'p_w[b, j]: transmit power of link j in layout b')
>>> array_doc("any-kind", "no-such-array")
('', '')
"""

from __future__ import annotations

_COMMON: dict[str, tuple[str, str]] = {
    "status": ("", "per-sample solver status: optimal, converged, max_iter, heuristic, failed"),
    "iterations": ("1", "per-sample iterations the solver ran"),
}

ARRAY_DOCS: dict[str, dict[str, tuple[str, str]]] = {
    "d2d-layouts": {
        "tx_m": ("m", "tx_m[b, j]: (x, y) of transmitter j in layout b"),
        "rx_m": ("m", "rx_m[b, i]: (x, y) of receiver i in layout b"),
        "g": ("1 (linear power gain)", "g[b, i, j]: power gain from transmitter j to receiver "
              "i of layout b (direct links on the diagonal)"),
        "redraws": ("1", "redraws[b]: receiver placements redrawn to meet the distance rules"),
    },
    "d2d-solution": {
        "p_w": ("W", "p_w[b, j]: transmit power of link j in layout b"),
        "objective": ("bit/s/Hz", "objective[b]: the solver's objective (sum-rate or "
                      "min-rate) at its powers"),
    },
    "miso-samples": {
        "positions_m": ("m", "positions_m[b]: (x, y) of the user of sample b"),
        "h": ("1 (complex baseband amplitude)", "h[b, k, a]: channel from the user to antenna "
              "a of base station k"),
        "factors": ("m, 1, 1", "factors[b, k]: geometry of BS k: distance, dx/d, dy/d"),
        "y": ("sqrt(W) (complex baseband)", "y[b, k, t]: received pilot t at base station k "
              "after its sensing vector"),
        "pilots": ("sqrt(W) (complex baseband)", "pilots[t]: pilot symbols of the user"),
        "sensing": ("1 (unit norm)", "sensing[k, t, a]: sensing vector of BS k for pilot t"),
    },
    "miso-solution": {
        "v": ("1 (unit-norm complex beamformer)", "v[b, k, a]: beamformer of BS k on antenna a"),
        "positions_m": ("m", "positions_m[b]: estimated (x, y) of the user of sample b"),
    },
    "mu-miso-samples": {
        "positions_m": ("m", "positions_m[b, k]: (x, y) of user k, the BS at the origin"),
        "h": ("1 (complex baseband amplitude)", "h[b, k, m]: channel from BS antenna m to "
              "user k"),
        "y": ("sqrt(W) (complex baseband)", "y[b, k, m]: despread uplink pilot observation "
              "of user k at antenna m"),
    },
    "mu-miso-solution": {
        "w": ("sqrt(W) (complex baseband)", "w[b, k, m]: beamformer of user k on antenna m"),
        "objective": ("bit/s/Hz", "objective[b]: sum-rate or min-rate at the beamformers"),
    },
}


def array_doc(kind: str | None, name: str) -> tuple[str, str]:
    """``(units, description)`` of array ``name`` in a file of ``kind``; empty if unknown."""
    return ARRAY_DOCS.get(kind or "", {}).get(name) or _COMMON.get(name) or ("", "")
