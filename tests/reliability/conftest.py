"""Reliability suite set-up: one torch thread, small shared data files, and the summary of
malformed inputs tried / rejected (printed after the run, with or without ``-s``)."""

from __future__ import annotations

import pytest
import torch
from rel_helpers import EXTRA, HARMLESS, TALLY

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def d2d_files(tmp_path_factory):
    """A small D2D data file, its FP and max-min solutions, and a MISO file."""
    from click.testing import CliRunner

    from wirelessrl.cli import main

    root = tmp_path_factory.mktemp("files")
    runner = CliRunner()
    data, miso = root / "d2d.h5", root / "miso.h5"
    for args in (
        ["simulate", "d2d", "--n", "6", "--seed", "3", "--set", "n_links=3", "-o", data],
        ["simulate", "miso", "--n", "3", "--seed", "1", "-o", miso],
        ["solve", data, "--method", "fp", "--iterations", "20", "-o", root / "fp.h5"],
        ["solve", data, "--method", "full", "-o", root / "full.h5"],
    ):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == 0, result.output
    return {"root": root, "data": data, "fp": root / "fp.h5", "full": root / "full.h5",
            "miso": miso}


def pytest_collection_modifyitems(session, config, items):
    """Start the subprocess scenarios of section 2 right away, in background threads, so
    they overlap the in-process tests instead of adding to the wall time."""
    if any(item.path.name == "test_rel_interrupts.py" for item in items):
        import rel_interrupts

        rel_interrupts.start_all()


def pytest_sessionfinish(session, exitstatus):
    import sys

    if "rel_interrupts" in sys.modules:
        sys.modules["rel_interrupts"].cleanup()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not TALLY and not EXTRA and not HARMLESS:
        return
    tr = terminalreporter
    tr.section("reliability summary")
    total = rejected = 0
    for category in sorted(TALLY):
        outcomes = TALLY[category]
        ok = sum(1 for v in outcomes.values() if v == "rejected")
        total, rejected = total + len(outcomes), rejected + ok
        tr.write_line(f"{category:<44} {ok:>5} / {len(outcomes):<5} distinct malformed inputs "
                      "rejected cleanly")
    if total:
        tr.write_line(f"{'TOTAL':<44} {rejected:>5} / {total:<5} "
                      f"({100.0 * rejected / total:.1f} %)")
    for category in sorted(HARMLESS):
        tr.write_line(f"not malformed, loaded identical content: {len(HARMLESS[category])} "
                      f"{category}")
    for key in sorted(EXTRA):
        tr.write_line(f"{key}: {EXTRA[key]}")
