"""Plots read the training files as the engine writes them."""

from wirelessrl.plots import plot_learning_curves


def test_learning_curves_skip_epochs_without_validation(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    # validate_every=2: the engine leaves the validation columns of the other epochs empty
    csv_path.write_text("epoch,train_loss,valid_min_rate_nats\n1,-0.5,0.6\n2,-0.7,\n3,-0.8,0.9\n")
    out = plot_learning_curves({"run": csv_path}, "valid_min_rate_nats", tmp_path / "lc.png")
    assert out.is_file() and out.stat().st_size > 0
