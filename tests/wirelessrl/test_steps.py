from pathlib import Path

import pytest

from wirelessrl.steps import StepRunner


def _writer(calls: list, text: str):
    def fn(run_dir: Path) -> None:
        calls.append(text)
        (run_dir / "model").mkdir(parents=True, exist_ok=True)
        (run_dir / "model" / "net.txt").write_text(text)
    return fn


def _run(runner: StepRunner, calls: list, config: dict, text: str) -> bool:
    return runner.run("source/net", config, lambda: _writer(calls, text)(runner.run_dir),
                      ["model/net.txt"], folder="model", share=True)


def test_step_runs_once_then_skips(tmp_path):
    calls = []
    runner = StepRunner(tmp_path / "a", echo=lambda s: None)
    assert _run(runner, calls, {"x": 1}, "one") is True
    assert _run(runner, calls, {"x": 1}, "one") is False
    assert _run(runner, calls, {"x": 2}, "two") is True  # config changed: runs again
    assert calls == ["one", "two"]


def test_shared_step_is_restored_from_the_cache_in_another_run_dir(tmp_path):
    calls, lines = [], []
    cache = tmp_path / "cache"
    first = StepRunner(tmp_path / "a", echo=lines.append, cache_dir=cache)
    assert _run(first, calls, {"x": 1}, "trained") is True
    second = StepRunner(tmp_path / "b", echo=lines.append, cache_dir=cache)
    assert _run(second, calls, {"x": 1}, "never written") is False
    assert calls == ["trained"]
    assert (tmp_path / "b" / "model" / "net.txt").read_text() == "trained"
    assert any("restored from the step cache" in line for line in lines)
    # the restored step is an ordinary finished step of its run directory
    assert second.is_done("source/net", {"x": 1}, ["model/net.txt"])


def test_shared_step_with_another_config_is_not_restored(tmp_path):
    calls = []
    cache = tmp_path / "cache"
    _run(StepRunner(tmp_path / "a", echo=lambda s: None, cache_dir=cache), calls, {"x": 1}, "1")
    _run(StepRunner(tmp_path / "b", echo=lambda s: None, cache_dir=cache), calls, {"x": 2}, "2")
    assert calls == ["1", "2"]
    assert (tmp_path / "b" / "model" / "net.txt").read_text() == "2"
    assert len(list(cache.iterdir())) == 2


def test_without_cache_dir_share_is_ignored(tmp_path):
    calls = []
    runner = StepRunner(tmp_path / "a", echo=lambda s: None)
    _run(runner, calls, {"x": 1}, "1")
    assert calls == ["1"] and [p.name for p in tmp_path.iterdir()] == ["a"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".steps", "model"]


def test_step_interrupted_after_writing_its_outputs_is_not_taken_for_done(tmp_path):
    runner = StepRunner(tmp_path, echo=lambda s: None)
    out = tmp_path / "out.txt"

    def crash_after_writing():
        out.write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run("data", {"n": 1}, crash_after_writing, ["out.txt"])
    assert out.exists() and not runner.is_done("data", {"n": 1}, ["out.txt"])
    assert runner.run("data", {"n": 1}, lambda: out.write_text("full"), ["out.txt"]) is True
    assert out.read_text() == "full"


def test_a_cache_entry_is_never_replaced(tmp_path):
    calls = []
    cache = tmp_path / "cache"
    _run(StepRunner(tmp_path / "a", echo=lambda s: None, cache_dir=cache), calls, {"x": 1}, "1")
    entry = next(cache.iterdir())
    # another process finished the same step meanwhile: its copy is dropped, not mixed in
    StepRunner._store(tmp_path / "a" / "model", entry)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "net.txt").write_text("other")
    StepRunner._store(tmp_path / "other", entry)
    assert (entry / "net.txt").read_text() == "1"
    assert [p.name for p in cache.iterdir()] == [entry.name]  # no temporary folder left


def test_changed_config_starts_over_in_an_emptied_folder(tmp_path):
    runner = StepRunner(tmp_path, echo=lambda s: None)
    folder = tmp_path / "model"

    def train(text, crash=False):
        def fn():
            folder.mkdir(exist_ok=True)
            seen.append(sorted(p.name for p in folder.iterdir()))
            (folder / "last.pt").write_text(text)  # a resumable checkpoint
            if crash:
                raise KeyboardInterrupt
            (folder / "net.txt").write_text(text)
        return fn

    seen = []
    runner.run("net", {"lr": 1}, train("lr1"), ["model/net.txt"], folder="model")
    # another config: the old checkpoint must not be resumed
    with pytest.raises(KeyboardInterrupt):
        runner.run("net", {"lr": 2}, train("lr2", crash=True), ["model/net.txt"],
                   folder="model")
    assert seen[-1] == []
    assert not runner.is_done("net", {"lr": 2}, ["model/net.txt"])
    # interrupted under the same config: its checkpoint is kept for the resume
    runner.run("net", {"lr": 2}, train("lr2"), ["model/net.txt"], folder="model")
    assert seen[-1] == ["last.pt"] and (folder / "last.pt").read_text() == "lr2"
    assert runner.is_done("net", {"lr": 2}, ["model/net.txt"])
