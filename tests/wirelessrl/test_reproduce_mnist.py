import csv
import json

import pytest
from click.testing import CliRunner

from wirelessrl.cli import main
from wirelessrl.data.mnist import MNIST_FILES, make_fake_mnist

STRATEGIES = {"regular", "conventional", "reconstruction", "finetune"}


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist") / "idx"
    make_fake_mnist(folder, n_train=1000, n_test=300, seed=0)
    return folder


def _invoke(out, fake, *extra):
    return CliRunner().invoke(main, ["reproduce", "mnist", "--scale", "tiny", "-o", str(out),
                                     "--threads", "1", f"data.mnist_dir={fake}", *extra])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, fake_mnist):
    out = tmp_path_factory.mktemp("mnist-run") / "run"
    result = _invoke(out, fake_mnist)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_tiny_mnist_writes_report_tables_and_plots(tiny_run):
    out, _ = tiny_run
    for name in ("report.md", "results.csv", "results.json", "config.yaml",
                 "bars_vs_paper.png", "learning_curves_A.png", "learning_curves_B.png"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    prov = results["provenance"]
    assert prov["config"]["scale"] == "tiny" and prov["seeds"] == [0, 1]
    assert set(prov["mnist_files"]) == set(MNIST_FILES)
    for split in ("A", "B"):
        table = results["summary"][split]
        assert STRATEGIES <= set(table)
        for method in STRATEGIES:
            assert len(table[method]["accuracy"]) == 2  # one per seed
            assert all(0.0 <= a <= 1.0 for a in table[method]["accuracy"])
    report = (out / "report.md").read_text()
    assert "Split A" in report and "Split B" in report and "97.4" in report


def test_tiny_mnist_csv_has_a_row_per_seed_split_and_strategy(tiny_run):
    out, _ = tiny_run
    with open(out / "results.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["method"] in STRATEGIES]
    assert len(rows) == 2 * 2 * 4
    assert {(r["seed"], r["split"]) for r in rows} == {(s, p) for s in "01" for p in "AB"}
    # split B gives the target far more training images than split A (50 % vs 10 %)
    n_a = {int(r["n_target_train"]) for r in rows if r["split"] == "A"}
    n_b = {int(r["n_target_train"]) for r in rows if r["split"] == "B"}
    assert max(n_a) < min(n_b)


def test_tiny_mnist_reconstruction_loss_is_logged(tiny_run):
    out, _ = tiny_run
    with open(out / "seed-0" / "split-A" / "source" / "reconstruction" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["valid_rec_mse"]) < float(rows[0]["valid_rec_mse"])


def test_rerun_skips_finished_steps(tiny_run, fake_mnist):
    out, _ = tiny_run
    result = _invoke(out, fake_mnist)
    assert result.exit_code == 0, result.output
    assert "[run ]" not in result.output
    assert "[skip] data" in result.output and "[skip] target/finetune" in result.output


def test_moved_mnist_folder_with_same_files_still_skips(tiny_run, fake_mnist, tmp_path):
    out, _ = tiny_run
    make_fake_mnist(tmp_path / "copy", n_train=1000, n_test=300, seed=0)  # same bytes
    result = _invoke(out, tmp_path / "copy")
    assert result.exit_code == 0, result.output
    assert "[run ]" not in result.output


def test_missing_mnist_dir_fails_naming_the_files(tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["reproduce", "mnist", "--scale", "tiny", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "data.mnist_dir" in result.output
    assert all(name in result.output for name in MNIST_FILES.values())
    assert "Traceback" not in result.output and not out.exists()


def test_nonexistent_mnist_dir_fails_naming_the_files(tmp_path):
    out = tmp_path / "r"
    result = _invoke(out, tmp_path / "nowhere")
    assert result.exit_code == 2, result.output
    assert all(name in result.output for name in MNIST_FILES.values())
    assert "Traceback" not in result.output and not out.exists()


def test_incomplete_mnist_dir_names_the_missing_file(tmp_path):
    files = make_fake_mnist(tmp_path / "idx", n_train=200, n_test=50, seed=0)
    files["test_labels"].unlink()
    out = tmp_path / "r"
    result = _invoke(out, tmp_path / "idx")
    assert result.exit_code == 2, result.output
    assert "missing t10k-labels-idx1-ubyte" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.splits=[A,C]", "data.splits"),
        ("strategies=[regular,magic]", "magic"),
        ("source.alpha=-1", "alpha"),
        ("target.select_on=auc", "target.select_on"),
        ("target.epochs=0", "epochs"),
    ],
)
def test_bad_overrides_fail_before_any_work(tmp_path, fake_mnist, override, message):
    out = tmp_path / "r"
    result = _invoke(out, fake_mnist, override)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_tiny_mnist_source_variants_get_rows_of_their_own(tmp_path, fake_mnist):
    out = tmp_path / "run"
    variants = ("[{name: unc, source: {loss_balance: uncertainty}, strategies: [reconstruction]}, "
                "{name: vib, source: {bottleneck: variational, pretrain: contrastive, "
                "pretrain_epochs: 1}, strategies: [conventional]}]")
    result = _invoke(out, fake_mnist, "--seeds", "0", "data.splits=[A]",
                     "strategies=[reconstruction]",
                     f"variants={variants}")
    assert result.exit_code == 0, result.output
    table = json.loads((out / "results.json").read_text())["summary"]["A"]
    for method in ("reconstruction + unc", "conventional + vib",
                   "source, with reconstruction [variant unc]",
                   "source, no reconstruction [variant vib]"):
        assert 0.0 <= table[method]["accuracy_mean"] <= 1.0, method
    report = (out / "report.md").read_text()
    assert "| conventional + vib |" in report and "[variant unc]" in report
