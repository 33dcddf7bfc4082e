"""Scale: peak memory of out-of-core `simulate` / `solve`, and throughput in-process against
1 and 2 local Dask workers, in one run.

Memory: each command runs as its own process (the CLI, as a user runs it) and its peak
resident set is read from ``wait4`` (``ru_maxrss``): ``simulate d2d --n N`` and
``solve --method maxmin`` on that file at two sizes (goal: under 500 MB and flat in N), and
``simulate d2d --preset spatial-2019 --set n_links=1000 --n 200`` (8 MB of gains per layout).

Throughput: the library calls behind the commands (``simulate_d2d_file``, ``solve_file``)
on ``--throughput-n`` layouts, in-process and on a ``LocalCluster`` of 1 and 2 worker
processes (started once per size, outside the timing; its start-up time is printed). Each
Dask run is checked to give the in-process bytes (simulate) / arrays (solve).

Usage::

    python benchmarks/bench_scale.py [--sizes 250000,1000000] [--throughput-n 1000000]
                                     [--dir /tmp/bench-scale] [--skip-dask]

The machine's load average is printed before and after: on a machine shared with other
jobs, throughput (not memory) moves with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_cli(args: list[str], env: dict) -> tuple[float, float]:
    """Run ``wirelessrl ARGS``; return (peak RSS in MB, wall seconds)."""
    cmd = [sys.executable, "-c", "from wirelessrl.cli import main; main()", *args]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{err}")
    return usage.ru_maxrss / 1024.0, seconds  # Linux: KiB


def memory_table(sizes: list[int], folder: Path, env: dict) -> list[str]:
    rows = ["| command | peak RSS (MB) | wall (s) |", "|---|---|---|"]
    for n in sizes:
        data = folder / f"d2d-{n}.h5"
        sim = ["simulate", "d2d", "--n", str(n), "--seed", "1", "-o", str(data), "--overwrite"]
        rss, sec = run_cli(sim, env)
        rows.append(f"| `wirelessrl {' '.join(sim[:6])}` | {rss:.0f} | {sec:.1f} |")
        sol = ["solve", str(data), "--method", "maxmin", "-o", str(folder / f"mm-{n}.h5"),
               "--overwrite"]
        rss, sec = run_cli(sol, env)
        rows.append(f"| `wirelessrl solve d2d-{n}.h5 --method maxmin` | {rss:.0f} | {sec:.1f} |")
        print(rows[-2], rows[-1], sep="\n", flush=True)
    dense = ["simulate", "d2d", "--preset", "spatial-2019", "--set", "n_links=1000", "--n",
             "200", "-o", str(folder / "dense.h5"), "--overwrite"]
    rss, sec = run_cli(dense, env)
    rows.append(f"| `wirelessrl {' '.join(dense[:8])}` | {rss:.0f} | {sec:.1f} |")
    print(rows[-1], flush=True)
    for n in sizes:
        (folder / f"d2d-{n}.h5").unlink(missing_ok=True)
        (folder / f"mm-{n}.h5").unlink(missing_ok=True)
    (folder / "dense.h5").unlink(missing_ok=True)
    return rows


def throughput_table(n: int, folder: Path, skip_dask: bool) -> list[str]:
    from simulators.d2d import D2DConfig
    from wirelessrl.datasets import simulate_d2d_file
    from wirelessrl.executors import open_executor
    from wirelessrl.fileio import read_arrays
    from wirelessrl.solutions import solve_file

    os.environ["SOURCE_DATE_EPOCH"] = "1700000000"  # files then compare byte for byte
    cfg = D2DConfig.from_preset("paper")
    simulate_d2d_file(cfg, 1000, 1, folder / "warm.h5")  # compile outside the timing
    solve_file(folder / "warm.h5", "maxmin", folder / "warm-s.h5", overwrite=True)
    rows = ["| run | simulate (layouts/s) | vs in-process | solve maxmin (layouts/s) "
            "| vs in-process | cluster start (s) |", "|---|---|---|---|---|---|"]
    ref_sim, ref_sol = None, None
    settings = [("in-process", None)] + ([] if skip_dask else [("1 worker", 1),
                                                                ("2 workers", 2)])
    for label, workers in settings:
        t0 = time.perf_counter()
        with open_executor(workers=workers) as run:
            started = time.perf_counter() - t0
            if workers:  # warm the workers (imports, Numba cache) outside the timing
                simulate_d2d_file(cfg, 1000, 1, folder / "warm-w.h5", executor=run)
                solve_file(folder / "warm-w.h5", "maxmin", folder / "warm-ws.h5",
                           overwrite=True, executor=run)
            sim_path, sol_path = folder / f"sim-{label}.h5", folder / f"sol-{label}.h5"
            t = time.perf_counter()
            simulate_d2d_file(cfg, n, 1, sim_path, executor=run)
            sim_rate = n / (time.perf_counter() - t)
            t = time.perf_counter()
            solve_file(folder / "sim-in-process.h5", "maxmin", sol_path, overwrite=True,
                       executor=run)
            sol_rate = n / (time.perf_counter() - t)
        if ref_sim is None:
            ref_sim, ref_sol = sim_rate, sol_rate
        else:  # the same bytes / arrays as in-process
            assert sim_path.read_bytes() == (folder / "sim-in-process.h5").read_bytes(), label
            a, _ = read_arrays(sol_path)
            b, _ = read_arrays(folder / "sol-in-process.h5")
            assert all(np.array_equal(a[k], b[k]) for k in a), f"{label}: solve differs"
            sim_path.unlink()
        rows.append(f"| {label} | {sim_rate:,.0f} | {sim_rate / ref_sim:.2f}x | "
                    f"{sol_rate:,.0f} | {sol_rate / ref_sol:.2f}x | "
                    f"{'' if workers is None else f'{started:.1f}'} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="250000,1000000")
    parser.add_argument("--throughput-n", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None, help="Scratch folder (default: a temp dir).")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
    os.environ.setdefault("NUMBA_CACHE_DIR", env["NUMBA_CACHE_DIR"])
    print(f"# bench_scale on {platform.node()}, {os.cpu_count()} CPUs; load average {load()}")
    try:
        if not args.skip_memory:
            sizes = [int(s) for s in args.sizes.split(",")]
            memory_table(sizes, folder, env)
            print(f"# load average {load()}")
        throughput_table(args.throughput_n, folder, args.skip_dask)
        print(f"# load average {load()}")
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
