"""benchmarks/_timing.py: the one timing helper of the benchmark scripts."""

from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_timing.py"


def _load():
    spec = importlib.util.spec_from_file_location("_timing", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_best_time_is_the_least_of_the_repeats(monkeypatch):
    timing = _load()
    # Each call reads the clock twice; the durations of the three calls are 5, 2 and 7 s.
    ticks = iter([0.0, 5.0, 10.0, 12.0, 20.0, 27.0])
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    calls = []
    assert timing.best_time(lambda: calls.append(1), 3) == 2.0
    assert len(calls) == 3


@pytest.mark.parametrize("repeats", [0, -2])
def test_best_time_refuses_fewer_than_one_repeat(repeats):
    expected = rf"repeats={repeats} is invalid; expected an integer >= 1"
    with pytest.raises(ValueError, match=expected):
        _load().best_time(lambda: None, repeats)


def test_docstring_example_runs():
    failures, tried = doctest.testmod(_load(), report=False)
    assert tried >= 1 and failures == 0
