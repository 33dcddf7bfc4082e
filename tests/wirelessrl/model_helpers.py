"""Helpers of the model-folder tests (test_modeldir*.py): a deterministic Ctrl-C in the
middle of a training and the training history without its timings."""

import csv


def interrupt_after(monkeypatch, epoch):
    """Ctrl-C right after the engine's checkpoint of ``epoch`` (``--checkpoint-every 0``)."""
    from wirelessrl import engine

    original = engine.Checkpoints.on_epoch_end

    def stop(self, loop, train_loss, metrics):
        original(self, loop, train_loss, metrics)
        if loop.state.epoch == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(engine.Checkpoints, "on_epoch_end", stop)


def metrics_without_times(folder):
    """The rows of ``folder/metrics.csv`` without the ``seconds`` column."""
    with open(folder / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def interrupted_then_resumed(train, data, output, monkeypatch, epoch, **options):
    """``train(data, output, **options)`` stopped by Ctrl-C after the checkpoint of
    ``epoch``, then the same call again (the resume); returns the resumed model."""
    import pytest

    interrupt_after(monkeypatch, epoch)
    with pytest.raises(KeyboardInterrupt):
        train(data, output, **options)
    monkeypatch.undo()
    return train(data, output, **options)
