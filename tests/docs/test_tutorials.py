"""The tutorials run: every ```bash and ```python block of docs/tutorials/*.md, in order.

Each page runs in one fresh Python process (its python blocks share one namespace, like a
notebook; its bash blocks run from that process with ``bash -e -o pipefail``), in a
folder of its own whose ``runs/`` is shared by the pages (so a page may resume a run an
earlier page made; each page also works alone). A block preceded by
``<!-- skip: reason -->`` is shown but not run (a GPU, a cluster, minutes of compute);
every other block runs exactly as printed, at the tiny sizes the pages use. Blocks of
other languages (``text``, ``yaml``) are not run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((REPO / "docs" / "tutorials").glob("*.md"))
BLOCK = re.compile(r"^(?:<!-- skip: (?P<skip>[^>]+?) -->\n)?```(?P<lang>bash|python)[^\n]*\n"
                   r"(?P<code>.*?)^```[ \t]*$", re.M | re.S)
PAGE_TIMEOUT_S = 240

RUNNER = r'''
import json, subprocess, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for label, lang, code in blocks:
    print(f"----- {label} ({lang})", flush=True)
    if lang == "bash":
        subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], check=True)
    else:
        exec(compile(code, label, "exec"), namespace)
    sys.stdout.flush()
'''


def page_blocks(page: Path) -> list[tuple[str, str, str, str | None]]:
    """``(label, lang, code, skip_reason)`` of every bash / python block of a page."""
    text = page.read_text()
    out = []
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start("code"))
        out.append((f"{page.name}:{line}", m["lang"], m["code"], m["skip"]))
    return out


def tutorial_env() -> dict[str, str]:
    """The environment of a user who installed the package: its ``wirelessrl`` on PATH,
    one thread per library (small networks; a shared test machine)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    env.update({"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"})
    return env


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("tutorials")


def test_there_are_seven_tutorials_each_with_runnable_blocks():
    assert len(TUTORIALS) == 7
    for page in TUTORIALS:
        blocks = page_blocks(page)
        assert any(skip is None for *_, skip in blocks), f"{page.name}: nothing runs"
        text = page.read_text()
        # every bash / python fence was matched (none hidden by a typo in the marker)
        assert len(blocks) == len(re.findall(r"^```(?:bash|python)", text, re.M)), page.name


@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(page, workspace):
    blocks = [(label, lang, code) for label, lang, code, skip in page_blocks(page)
              if skip is None]
    folder = workspace / page.stem
    folder.mkdir()
    (workspace / "runs").mkdir(exist_ok=True)
    (folder / "runs").symlink_to(workspace / "runs", target_is_directory=True)
    spec = workspace / f".{page.stem}.json"
    spec.write_text(json.dumps(blocks))
    runner = workspace / ".run_blocks.py"
    runner.write_text(RUNNER)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(runner), str(spec)], cwd=folder,
                          env=tutorial_env(), capture_output=True, text=True,
                          timeout=PAGE_TIMEOUT_S)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, (f"{page.name} failed after {seconds:.0f} s\n"
                                  f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
