"""The docs-side rewrite of this project's docstring sections (docs/griffe_sections.py)."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("griffe")
PATH = Path(__file__).resolve().parents[2] / "docs" / "griffe_sections.py"
spec = importlib.util.spec_from_file_location("griffe_sections", PATH)
griffe_sections = importlib.util.module_from_spec(spec)
sys.modules["griffe_sections"] = griffe_sections
spec.loader.exec_module(griffe_sections)
rewrite = griffe_sections.rewrite


def test_entries_become_numpy_parameters_and_returns():
    text = ("Solve it.\n\nInput\n-----\ng : [batch, n, n], float, gains\n    more\n"
            "noise_w : float, W\n\nOutput\n------\np_w : [batch, n], W\n\n"
            "Example\n-------\n>>> 1 + 1\n2\n")
    out = rewrite(text)
    assert "Parameters\n----------\ng\n    [batch, n, n], float, gains\n    more\n" in out
    assert "noise_w\n    float, W" in out
    assert "Returns\n-------\np_w\n    [batch, n], W" in out
    assert "Examples\n--------\n>>> 1 + 1\n2" in out


def test_prose_sections_keep_their_name():
    text = "Input\n-----\nAs ``full_power``, plus a seed.\n\nOutput\n------\nA result\n"
    out = rewrite(text)
    assert out.startswith("Input\n-----\nAs") and "Output\n------\nA result" in out


def test_roles_become_code_and_leading_gt_is_escaped():
    out = rewrite("See :func:`~baselines.fp.fp` and :class:`a.B`, :math:`x^2`.\n"
                  "finite,\n    >= 0\n>>> 3 > 2\nTrue\n")
    assert "See `fp` and `a.B`, `x^2`." in out
    assert "    \\>= 0" in out and ">>> 3 > 2" in out
