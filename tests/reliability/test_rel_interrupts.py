"""Section 2: interrupted work (SIGKILL and Ctrl-C) leaves no partial output, and the same
command run again gives the same result. The scenarios run as subprocesses in background
threads from the start of the session (:mod:`rel_interrupts`); these tests collect them.
"""

from __future__ import annotations

import json

import pytest
import rel_interrupts as ri
import torch
from rel_helpers import EXTRA

from wirelessrl.checkpoint import load_net
from wirelessrl.fileio import read_arrays

TIMEOUT_S = 600


def _outcome(name: str):
    ri.start_all()  # no-op when conftest started them at collection
    return ri.SCENARIOS[name].result(timeout=TIMEOUT_S)


def _report(command: str, hits: list[str]) -> None:
    EXTRA[f"kills survived with identical reruns: {command}"] = (
        f"{len(hits)} ({', '.join(hits)})")


def test_simulate_and_solve_survive_sigkill_and_sigint_with_identical_reruns():
    hits = _outcome("simulate+solve")
    _report("simulate", hits["simulate"])
    _report("solve", hits["solve"])
    # the watcher kills as soon as the temporary file shows up; the 10 MB simulate output
    # takes long enough to write that this lands mid-write (a kill landing just after the
    # rename is recorded as such, and the file must then be complete)
    assert "mid-write" in (hits["simulate"][0], hits["solve"][0]), hits
    assert hits["simulate"][0] in ("mid-write", "after the rename"), hits
    assert hits["solve"][0] in ("mid-write", "after the rename"), hits


def test_training_resumes_after_sigkill_and_sigint_with_the_same_result():
    out = _outcome("training")
    got, ref = out["got"], out["ref"]
    assert got["last_epoch"] == ref["last_epoch"] == ri.EPOCHS
    assert got["resumed_from"] is not None, got  # the final run continued from last.pt
    delta = abs(got["best_metric"] - ref["best_metric"]) / abs(ref["best_metric"])
    assert delta <= ri.RESUME_TOLERANCE, (got, ref)
    assert got["best_epoch"] == ref["best_epoch"]
    net, _ = load_net(out["run_dir"] / "net.pt")
    ref_state = load_net(out["ref_dir"] / "net.pt")[0].state_dict()
    same_weights = all(torch.equal(v, ref_state[k]) for k, v in net.state_dict().items())
    assert same_weights
    rows = (out["run_dir"] / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(1, ri.EPOCHS + 1))
    _report("training (engine)", [f"SIGKILL at checkpoint epoch {out['epochs'][0]}"] + [
        f"SIGINT at checkpoint epoch {e}" for e in out["epochs"][1:]])
    EXTRA["training resume agreement"] = (
        f"best validation sum-rate {got['best_metric']:.9g} bit/s/Hz vs {ref['best_metric']:.9g} "
        f"uninterrupted (relative difference {delta:.1e}, tolerance {ri.RESUME_TOLERANCE:g}), "
        f"best epoch {got['best_epoch']} = {ref['best_epoch']}, final weights bitwise equal, "
        f"metrics.csv rows 1..{ri.EPOCHS} once each")


def test_sigint_stops_reproduce_with_one_line_and_only_complete_steps():
    try:
        out = _outcome("reproduce")
    except ri.SignalMissed as missed:
        pytest.skip(f"the command finished before Ctrl-C could land (loaded machine): {missed}")
    run_dir = out["run_dir"]
    for f in run_dir.rglob("*.h5"):  # whatever was written is complete (checksums verified)
        read_arrays(f)
    assert not list(run_dir.rglob("*.part"))
    # finished steps (a step marks its stamp "running" before it starts)
    stamps = {p.stem for p in (run_dir / ".steps").glob("*.json")
              if not json.loads(p.read_text()).get("running")}
    if "data" in stamps:
        assert all((run_dir / "data" / f"{s}.h5").is_file() for s in ("source_train", "test"))
    _report("reproduce d2d", ["SIGINT during the data step"])
