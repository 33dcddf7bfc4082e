"""Resumable pipeline steps: a step is skipped when its outputs exist and its config is unchanged.

Each finished step leaves ``<run_dir>/.steps/<name>.json`` holding a hash of the config the
step ran with. A step re-runs when that hash changes or an output is missing.

A step marks its stamp *running* with its hash before it starts, so an interrupted step is
never taken for done. A step that writes into its own folder (``folder="<folder>"``, e.g. a
training run with its resumable ``last.pt``) keeps that folder when it starts again with the
same hash (the work resumes) and empties it when it was written under another config, so a
changed config never resumes from a stale checkpoint.

Shared steps: with ``cache_dir``, a step run with ``share=True`` copies its folder into
``<cache_dir>/<name>-<hash>/`` when it finishes, and a later run (another run directory,
same step name and config hash) restores it from there instead of running. The sweeps use
this so that every point with the same source config trains its source network once.

Example
-------
>>> from pathlib import Path
>>> def make_data(n):
...     Path("runs/demo/data").mkdir(parents=True, exist_ok=True)
...     Path("runs/demo/data/test.txt").write_text(str(n))
>>> runner = StepRunner("runs/demo", echo=lambda line: None)
>>> runner.run("data", {"n": 10}, lambda: make_data(10), outputs=["data/test.txt"])
True
>>> runner.run("data", {"n": 10}, lambda: make_data(10), outputs=["data/test.txt"])  # done
False
>>> runner.run("data", {"n": 20}, lambda: make_data(20), outputs=["data/test.txt"])  # changed
True
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from wirelessrl.fileio import atomic_path


def config_hash(config: Mapping[str, Any]) -> str:
    """First 16 hex digits of the SHA-256 of ``config`` as JSON (sorted keys, non-JSON
    values as ``str``): the key under which a step's output is recorded.

    Example
    -------
    >>> config_hash({"a": 1, "b": [2.0]}) == config_hash({"b": [2.0], "a": 1})
    True
    >>> len(config_hash({}))
    16
    """
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class StepRunner:
    """Run named steps once per config; print one line per step."""

    def __init__(self, run_dir: str | Path, echo: Callable[[str], None] = print,
                 cache_dir: str | Path | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.echo = echo
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        (self.run_dir / ".steps").mkdir(parents=True, exist_ok=True)

    def _stamp(self, name: str) -> Path:
        return self.run_dir / ".steps" / f"{name.replace('/', '__')}.json"

    def is_done(self, name: str, config: Mapping, outputs: Iterable[str | Path] = ()) -> bool:
        """True when step ``name`` finished with this ``config`` (same :func:`config_hash`,
        not marked running) and every path of ``outputs`` (relative to ``run_dir``) exists."""
        stamp = self._stamp(name)
        if not stamp.is_file():
            return False
        recorded = self._recorded(name)
        if recorded is None or recorded.get("running") \
                or recorded.get("config_hash") != config_hash(config):
            return False
        return all((self.run_dir / out).exists() for out in outputs)

    def _recorded(self, name: str) -> dict | None:
        try:
            recorded = json.loads(self._stamp(name).read_text())
        except (OSError, ValueError):
            return None
        return recorded if isinstance(recorded, dict) else None

    def run(
        self,
        name: str,
        config: Mapping,
        fn: Callable[[], Any],
        outputs: Iterable[str | Path] = (),
        folder: str | None = None,
        share: bool = False,
    ) -> bool:
        """Run ``fn`` unless the step is done; return True when it ran.

        ``folder``: the folder of the run that holds every output of the step (emptied
        when it was written under another config). ``share``: with a ``cache_dir``, the
        folder is restored from the cache when there and stored there after a run.
        """
        outputs = list(outputs)
        if self.is_done(name, config, outputs):
            self.echo(f"[skip] {name} (done, config unchanged)")
            return False
        if share and folder is None:
            raise ValueError(f"step {name!r}: share=True needs the step's folder")
        cached = self._cached(name, config) if share else None
        if cached is not None and cached.is_dir():
            self._copy_folder(cached, self.run_dir / folder)
            self._write_stamp(name, config, 0.0, restored_from=str(cached))
            if all((self.run_dir / out).exists() for out in outputs):
                self.echo(f"[skip] {name} (restored from the step cache {cached})")
                return False
        self._start(name, config, None if folder is None else self.run_dir / folder)
        for out in outputs:  # the step's folders are the run's to make (a user's -o is not)
            (self.run_dir / out).parent.mkdir(parents=True, exist_ok=True)
        self.echo(f"[run ] {name}")
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        if cached is not None:
            self._store(self.run_dir / folder, cached)
        self._write_stamp(name, config, seconds)
        self.echo(f"[done] {name} in {seconds:.1f} s")
        return True

    def _cached(self, name: str, config: Mapping) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{name.replace('/', '__')}-{config_hash(config)}"

    def _start(self, name: str, config: Mapping, folder: Path | None) -> None:
        """Mark the step running (so an interrupted step is never taken for done); empty
        its folder when that was written under another config."""
        recorded = self._recorded(name)
        if folder is not None and folder.exists() and recorded is not None \
                and recorded.get("config_hash") != config_hash(config):
            self.echo(f"[new ] {name}: config changed, starting over in {folder}")
            shutil.rmtree(folder)
        with atomic_path(self._stamp(name)) as tmp:
            tmp.write_text(json.dumps({"config_hash": config_hash(config), "running": True}))

    @staticmethod
    def _copy_folder(src: Path, dst: Path) -> None:
        """Replace ``dst`` by a copy of ``src``, renamed into place in one step."""
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        shutil.rmtree(dst, ignore_errors=True)
        tmp.rename(dst)

    @staticmethod
    def _store(src: Path, entry: Path) -> None:
        """Put a finished folder into the cache. An entry, once in place, is never replaced
        or removed, so a restore never reads a half-written one; when another process
        stored the same entry first, this copy is dropped."""
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        try:
            tmp.rename(entry)  # fails when the entry exists (a non-empty directory)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)

    def _write_stamp(self, name: str, config: Mapping, seconds: float, **extra: str) -> None:
        with atomic_path(self._stamp(name)) as tmp:
            tmp.write_text(json.dumps(
                {"config_hash": config_hash(config), "seconds": round(seconds, 3),
                 "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}
            ))
