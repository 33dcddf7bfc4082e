"""Shared pieces of the reliability suite: the tally of malformed inputs, clean-rejection
checks, directory snapshots and file surgery.

Every malformed input a test generates is recorded in :data:`TALLY` under a category with a
key that identifies it (the command line, or the SHA-256 of a corrupted file), so the
counts are of *distinct* inputs. ``conftest.pytest_terminal_summary`` prints them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.fileio import META_CHECKSUM_KEY, arrays_checksum, meta_checksum

TALLY: dict[str, dict[str, str]] = {}
"""category -> {input key -> outcome}; outcome is "rejected" or what went wrong."""

HARMLESS: dict[str, set[str]] = {}
"""category -> distinct altered files that still hold exactly the original content (a
flipped byte in HDF5 padding or zip framing): not malformed, so not in :data:`TALLY`."""

EXTRA: dict[str, str] = {}
"""Other figures for the summary (kills survived, resume agreement, extreme inputs...)."""

PROPERTY = settings(
    deadline=None,
    derandomize=True,  # seeded: the same inputs on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.filter_too_much],
)


def _key(key: str | bytes) -> str:
    return hashlib.sha256(key).hexdigest() if isinstance(key, bytes) else key


def record(category: str, key: str | bytes, outcome: str) -> None:
    TALLY.setdefault(category, {})[_key(key)] = outcome


def record_harmless(category: str, key: str | bytes) -> None:
    HARMLESS.setdefault(category, set()).add(_key(key))


def digest(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(folder: str | os.PathLike) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> SHA-256 of its bytes."""
    root = Path(folder)
    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


@contextmanager
def workdir() -> Iterable[Path]:
    """A fresh empty folder (hypothesis examples cannot use the function-scoped tmp_path)."""
    d = Path(tempfile.mkdtemp(prefix="rel-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def invoke(args: list[str], cwd: Path) -> Result:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)


def clean_rejection_problem(result: Result, names: Iterable[str]) -> str | None:
    """None when the CLI rejected cleanly: exit 2, one line ``error: ...`` naming one of
    ``names``, no traceback; else a description of what went wrong."""
    out = result.output.strip()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"uncaught {type(result.exception).__name__}: {result.exception}"
    if result.exit_code != 2:
        return f"exit code {result.exit_code}: {out[-300:]}"
    if "\n" in out or not out.startswith("error: "):
        return f"not one 'error:' line: {out[:300]!r}"
    if "Traceback" in out:
        return "traceback printed"
    names = [n for n in names if n]
    if names and not any(n in out for n in names):
        return f"message names none of {names}: {out}"
    return None


def expect_cli_rejects(
    category: str, args: list[str], cwd: Path, names: Iterable[str],
    key: str | bytes | None = None,
) -> str:
    """Run the CLI in ``cwd``; assert a clean rejection that changed no file in ``cwd``."""
    before = snapshot(cwd)
    result = invoke(args, cwd)
    problem = clean_rejection_problem(result, list(names))
    after = snapshot(cwd)
    if problem is None and after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))
        problem = f"files changed although the input was rejected: {changed[:3]}"
    record(category, key or json.dumps([str(a) for a in args]), problem or "rejected")
    assert problem is None, f"{args}: {problem}"
    return result.output.strip()


def expect_load_rejects(
    category: str, key: str | bytes, load: Callable[[], object], names: Iterable[str]
) -> str:
    """A public loader must raise ConfigError with a one-line message naming ``names``."""
    try:
        load()
    except ConfigError as err:
        msg = str(err)
        problem = None
        if "\n" in msg:
            problem = f"message spans lines: {msg!r}"
        elif not any(n in msg for n in names):
            problem = f"message names none of {list(names)}: {msg}"
    except Exception as err:  # noqa: BLE001 - anything else is the bug we look for
        problem, msg = f"raised {type(err).__name__}: {err}", ""
    else:
        problem, msg = "accepted", ""
    record(category, key, problem or "rejected")
    assert problem is None, problem
    return msg


# ------------------------------------------------------------------- file surgery


def read_h5(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f.keys()}, json.loads(f.attrs["meta_json"])


def write_h5(path: str | os.PathLike, arrays: dict, meta: dict, *, reseal: bool) -> None:
    """Write a wirelessrl-style HDF5 file by hand. ``reseal``: recompute both checksums,
    as a user crafting a file would; else keep the stored ones (tampering)."""
    meta = dict(meta)
    if reseal:
        try:
            meta["checksum_sha256"] = arrays_checksum(arrays)
        except (TypeError, ValueError):
            pass
        meta[META_CHECKSUM_KEY] = meta_checksum(meta)
    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            f.create_dataset(name, data=a)
        f.attrs["meta_json"] = json.dumps(meta, sort_keys=True)
