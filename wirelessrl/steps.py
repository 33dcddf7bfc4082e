"""Resumable pipeline steps: a step is skipped when its outputs exist and its config is unchanged.

Each finished step leaves ``<run_dir>/.steps/<name>.json`` holding a hash of the config the
step ran with. A step re-runs when that hash changes or an output is missing.

Example
-------
>>> runner = StepRunner("runs/demo")
>>> runner.run("data", {"n": 10}, lambda: make_data(10), outputs=["data/test.h5"])
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from wirelessrl.fileio import atomic_path


def config_hash(config: Mapping[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StepRunner:
    """Run named steps once per config; print one line per step."""

    def __init__(self, run_dir: str | Path, echo: Callable[[str], None] = print) -> None:
        self.run_dir = Path(run_dir)
        self.echo = echo
        (self.run_dir / ".steps").mkdir(parents=True, exist_ok=True)

    def _stamp(self, name: str) -> Path:
        return self.run_dir / ".steps" / f"{name.replace('/', '__')}.json"

    def is_done(self, name: str, config: Mapping, outputs: Iterable[str | Path] = ()) -> bool:
        stamp = self._stamp(name)
        if not stamp.is_file():
            return False
        try:
            recorded = json.loads(stamp.read_text())["config_hash"]
        except (ValueError, KeyError):
            return False
        if recorded != config_hash(config):
            return False
        return all((self.run_dir / out).exists() for out in outputs)

    def run(
        self,
        name: str,
        config: Mapping,
        fn: Callable[[], Any],
        outputs: Iterable[str | Path] = (),
    ) -> bool:
        """Run ``fn`` unless the step is done; return True when it ran."""
        outputs = list(outputs)
        if self.is_done(name, config, outputs):
            self.echo(f"[skip] {name} (done, config unchanged)")
            return False
        self.echo(f"[run ] {name}")
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        with atomic_path(self._stamp(name)) as tmp:
            tmp.write_text(json.dumps(
                {"config_hash": config_hash(config), "seconds": round(seconds, 3),
                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
            ))
        self.echo(f"[done] {name} in {seconds:.1f} s")
        return True
