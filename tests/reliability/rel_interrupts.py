"""Section 2 scenarios: interrupted work, as subprocesses at tiny scale.

``simulate``, ``solve`` and a training run are killed with SIGKILL at seeded random moments
and once mid-write (as soon as the temporary file shows up); afterwards no partial or
corrupt file may sit under the final name, and re-running the same command must finish
with the same content as an uninterrupted run of the same seed. Ctrl-C (SIGINT) must stop
a command with one line and the same guarantees.

The scenarios only wait on subprocesses, so :func:`start_all` runs them in background
threads from the start of the test session (see ``conftest.py``); the tests in
``test_rel_interrupts.py`` collect their outcomes. Every path here is absolute (the
in-process CLI tests change the working directory meanwhile).

HDF5 outputs of ``simulate`` are compared byte for byte after masking the creation
timestamp in the metadata, the only difference between two runs; ``solve`` files also
record the solve time, so they are compared by arrays, array checksum and metadata minus
the timestamp and the time. Training must resume from ``last.pt`` and end with the best
validation figure of an uninterrupted run within :data:`RESUME_TOLERANCE` (observed: equal
to the last bit, and the final weights bitwise equal).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-c", "import sys; from wirelessrl.cli import main; "
       "sys.argv[0] = 'wirelessrl'; main()"]
TRAIN = [sys.executable, str(HERE / "train_job.py")]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "PYTHONUNBUFFERED": "1"}
if ENV.get("NUMBA_CACHE_DIR"):  # the subprocesses run elsewhere: keep sharing the cache
    ENV["NUMBA_CACHE_DIR"] = os.path.abspath(ENV["NUMBA_CACHE_DIR"])
SIMULATE = ["simulate", "d2d", "--n", "100000", "--seed", "5", "--set", "n_links=2",
            "-o", "out/out.h5"]
SOLVE = ["solve", "simulate.h5", "--method", "fp", "--iterations", "100", "-o", "out/out.h5"]
EPOCHS = 40
RESUME_TOLERANCE = 1e-6  # relative, on the best validation sum-rate
STAMP = re.compile(rb'"created_utc": "[^"]*"')

SCENARIOS: dict[str, Future] = {}
ROOT: Path | None = None


# ------------------------------------------------------------------------ machinery


def _default_sigint() -> None:
    """Give the child the default Ctrl-C handling: a test run started in the background of
    a non-interactive shell inherits SIGINT as ignored, and Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, cwd: Path, cmd=CLI) -> tuple[subprocess.Popen, Path]:
    """Start a subprocess; its stdout and stderr (unbuffered) go to the returned file."""
    err = Path(cwd) / f".stderr-{time.monotonic_ns()}"
    with open(err, "wb") as f:
        proc = subprocess.Popen([*cmd, *map(str, args)], cwd=cwd, env=ENV, stdout=f,
                                stderr=subprocess.STDOUT, preexec_fn=_default_sigint)
    return proc, err


def run(args, cwd: Path, cmd=CLI) -> float:
    """Run to completion (exit 0 asserted); return the wall time."""
    t0 = time.perf_counter()
    proc, err = start(args, cwd, cmd)
    code = proc.wait(timeout=300)
    text = err.read_text()
    err.unlink()
    assert code == 0, text
    return time.perf_counter() - t0


WATCHER = r"""
import os, signal, sys, time
pid, sig, kind, where, text = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:6]
delay = float(sys.argv[6])
end = time.monotonic() + 300
while time.monotonic() < end:
    try:
        if kind == "part":
            seen = any(n.endswith(".part") for n in os.listdir(where))
        elif kind == "newer":
            seen = str(os.stat(where).st_mtime_ns) != text
        else:
            with open(where, errors="replace") as f:
                seen = text in f.read()
    except FileNotFoundError:
        seen = False
    if seen:
        time.sleep(delay)
        os.kill(pid, sig)
        print("hit")
        break
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        print("exited")
        break
    time.sleep(0.001)
"""


def signal_when(proc: subprocess.Popen, sig: int, kind: str, where: Path, text: str = "",
                delay_s: float = 0.0) -> bool:
    """Send ``sig`` to ``proc`` ``delay_s`` after ``where`` (a folder) holds a ``.part`` file
    (``kind="part"``), the file ``where`` contains ``text`` (``kind="text"``) or the file
    ``where`` has a modification time other than ``text`` (``kind="newer"``).

    The polling runs in a separate, bare Python process: a thread of this one could be kept
    from running for a second by a numba kernel holding the GIL in the main thread. Returns
    whether the signal was sent while ``proc`` was still running.
    """
    watcher = subprocess.Popen([sys.executable, "-S", "-c", WATCHER, str(proc.pid),
                                str(int(sig)), kind, str(where), text, repr(delay_s)],
                               stdout=subprocess.PIPE, text=True)
    proc.wait(timeout=300)  # reaps it, so the watcher sees it gone if it ended by itself
    out, _ = watcher.communicate(timeout=60)
    return out.strip() == "hit"


def masked(path: Path) -> bytes:
    return STAMP.sub(b'"created_utc": "-"', path.read_bytes())


def leftovers(folder: Path, final: str) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.name != final and not p.name.startswith(".stderr"))


def assert_no_partial_output(folder: Path, final: str, reference: Path, same) -> bool:
    """The final name holds nothing or a complete file equal to ``reference``; the only
    other files are hidden temporaries (``.<name>.<pid>.*.part``) that no loader picks up
    and the next successful write of that name removes. Returns whether the final file
    exists."""
    extra = leftovers(folder, final)
    assert all(n.startswith(f".{final}.") and n.endswith(".part") for n in extra), extra
    out = folder / final
    if out.exists():
        same(out, reference)
        return True
    return False


def same_simulation(out: Path, ref: Path) -> None:
    from wirelessrl.fileio import read_arrays

    read_arrays(out, "d2d-layouts")  # both checksums verified
    assert masked(out) == masked(ref), "bytes differ beyond the creation timestamp"


def same_solution(out: Path, ref: Path) -> None:
    from wirelessrl.fileio import read_arrays

    arrays, meta = read_arrays(out, "d2d-solution")
    ref_arrays, ref_meta = read_arrays(ref, "d2d-solution")
    assert sorted(arrays) == sorted(ref_arrays)
    for k in arrays:
        np.testing.assert_array_equal(arrays[k], ref_arrays[k])
    assert meta["checksum_sha256"] == ref_meta["checksum_sha256"]
    volatile = {"created_utc", "seconds", "meta_sha256"}
    assert {k: v for k, v in meta.items() if k not in volatile} == \
        {k: v for k, v in ref_meta.items() if k not in volatile}


def kill_and_rerun(args, cwd: Path, reference: Path, seconds: float, same, moment: str,
                   rng: random.Random) -> str:
    """Kill ``args`` (SIGKILL) at ``moment``, check, run again, check; return what the
    kill hit."""
    folder = cwd / "out"
    folder.mkdir(exist_ok=True)
    proc, _ = start(args, cwd)
    if moment == "mid-write":
        hit = "mid-write" if signal_when(proc, signal.SIGKILL, "part", folder) else "after exit"
    else:
        time.sleep(rng.uniform(0.3, 0.8) * seconds)
        hit = "random moment" if proc.poll() is None else "after exit"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    if assert_no_partial_output(folder, "out.h5", reference, same):
        hit = "after the rename" if hit != "after exit" else hit
        (folder / "out.h5").unlink()
    run(args, cwd)  # the same command again
    assert assert_no_partial_output(folder, "out.h5", reference, same)
    assert leftovers(folder, "out.h5") == []  # the killed run's temporary file was removed
    (folder / "out.h5").unlink()
    return hit


class SignalMissed(Exception):
    """The command finished before the signal could be sent (a heavily loaded machine)."""


def sigint(args, cwd: Path, marker: str) -> str:
    """Send Ctrl-C once the output shows ``marker``; return the output (exit 130 and a last
    line ``interrupted: ...`` without traceback asserted). Raises :class:`SignalMissed` when
    the command ended on its own first: its output is then complete, and no Ctrl-C
    behaviour was exercised."""
    proc, err = start(args, cwd)
    if not signal_when(proc, signal.SIGINT, "text", err, marker):
        assert proc.returncode == 0, err.read_text()
        err.unlink()
        raise SignalMissed(" ".join(map(str, args)))
    code = proc.returncode
    text = err.read_text(errors="replace")
    err.unlink()
    lines = [ln for ln in re.split(r"[\r\n]", text) if ln.strip()]
    assert code == 130, text
    assert lines[-1].startswith("interrupted:") and "Traceback" not in text, text
    return text


# ------------------------------------------------------------------------ scenarios


def simulate_and_solve(root: Path, pool: ThreadPoolExecutor) -> dict:
    """Reference runs, then every interruption in its own folder, all at once."""
    ref = root / "reference"
    (ref / "out").mkdir(parents=True)
    simulate_s = run(SIMULATE, ref)
    (ref / "out" / "out.h5").rename(ref / "simulate.h5")
    solve_job = pool.submit(solve_kills, root, ref, pool)
    jobs = [pool.submit(_kill_in, root / f"simulate-{seed}", SIMULATE, ref / "simulate.h5",
                        simulate_s, same_simulation, moment, seed)
            for seed, moment in enumerate(("mid-write", "random", "random"))]
    sigint_job = pool.submit(simulate_sigint, root / "simulate-sigint", ref / "simulate.h5")
    return {"simulate": [j.result() for j in jobs] + [sigint_job.result()],
            "solve": solve_job.result()}


def _kill_in(work: Path, args, reference: Path, seconds: float, same, moment: str,
             seed: int) -> str:
    work.mkdir()
    if args is SOLVE:
        os.link(reference.parent / "simulate.h5", work / "simulate.h5")
    return kill_and_rerun(args, work, reference, seconds, same, moment, random.Random(seed))


def simulate_sigint(work: Path, reference: Path) -> str:
    """Ctrl-C once the progress bar shows the layouts are being drawn, then rerun."""
    (work / "out").mkdir(parents=True)  # -o out/out.h5: the folder must exist
    try:
        sigint(SIMULATE, work, "d2d layouts")
    except SignalMissed:  # finished first: the file must be complete and equal
        same_simulation(work / "out" / "out.h5", reference)
        return "SIGINT missed (the command finished first)"
    assert not (work / "out" / "out.h5").exists()
    assert leftovers(work / "out", "out.h5") == []  # the temporary file is gone too
    run(SIMULATE, work)
    same_simulation(work / "out" / "out.h5", reference)
    return "SIGINT"


def solve_kills(root: Path, ref: Path, pool: ThreadPoolExecutor) -> list[str]:
    solve_s = run(SOLVE, ref)
    (ref / "out" / "out.h5").rename(ref / "solve.h5")
    jobs = [pool.submit(_kill_in, root / f"solve-{seed}", SOLVE, ref / "solve.h5", solve_s,
                        same_solution, moment, 10 + seed)
            for seed, moment in enumerate(("mid-write", "random", "random"))]
    return [j.result() for j in jobs]


def training(root: Path) -> dict:
    """Uninterrupted reference, then SIGKILL and SIGINT shortly after fresh checkpoints,
    then a run to the end that resumes from ``last.pt``."""
    ref_dir, run_dir = root / "train-ref", root / "train"
    with ThreadPoolExecutor(1) as one:
        reference = one.submit(run, [ref_dir, EPOCHS, "none"], root, TRAIN)
        interrupted = _interrupted_training(root, run_dir)
        reference.result()
    got = json.loads((run_dir / "result.json").read_text())
    ref = json.loads((ref_dir / "result.json").read_text())
    return {"got": got, "ref": ref, "epochs": interrupted, "run_dir": run_dir,
            "ref_dir": ref_dir}


def _interrupted_training(root: Path, run_dir: Path) -> list[int]:
    rng = random.Random(13)
    ckpt = run_dir / "last.pt"
    epochs = []
    for sig in (signal.SIGKILL, signal.SIGINT):
        before = str(ckpt.stat().st_mtime_ns) if ckpt.exists() else ""
        proc, err = start([run_dir, EPOCHS], root, TRAIN)
        signal_when(proc, sig, "newer", ckpt, before, rng.uniform(0.0, 0.15))
        err.unlink()
        from wirelessrl.checkpoint import load_checkpoint

        epochs.append(int(load_checkpoint(ckpt)["epoch"]))  # never torn: checksum verified
        if (run_dir / "result.json").exists():
            break
    run([run_dir, EPOCHS], root, TRAIN)
    return epochs


def reproduce_sigint(root: Path) -> dict:
    work = root / "reproduce"
    work.mkdir()
    args = ["reproduce", "d2d", "--scale", "tiny", "--threads", "1", "-o", "run",
            "data.source_train=200000"]
    text = sigint(args, work, "[run ] data")
    return {"run_dir": work / "run" / "seed-123", "stderr": text}


def start_all() -> None:
    """Start every scenario in background threads (once per session)."""
    global ROOT
    if SCENARIOS:
        return
    ROOT = Path(tempfile.mkdtemp(prefix="rel-interrupts-"))
    pool = ThreadPoolExecutor(max_workers=12, thread_name_prefix="interrupts")
    SCENARIOS["simulate+solve"] = pool.submit(simulate_and_solve, ROOT, pool)
    SCENARIOS["training"] = pool.submit(training, ROOT)
    SCENARIOS["reproduce"] = pool.submit(reproduce_sigint, ROOT)


def cleanup() -> None:
    for future in SCENARIOS.values():
        try:
            future.result(timeout=600)
        except Exception:  # noqa: BLE001, S110 - reported by the tests themselves
            pass
    if ROOT is not None:
        shutil.rmtree(ROOT, ignore_errors=True)
