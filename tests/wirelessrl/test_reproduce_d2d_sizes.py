"""Size generalization of the graph network (generalization section of the d2d experiment)."""

import csv
import json
import math

import pytest
from click.testing import CliRunner

from wirelessrl.cli import main

TINY = ["--scale", "tiny", "--threads", "1", "model.family=gnn", "strategies=[reconstruction]",
        'system.overrides={"n_links": 5}', "data.source_train=300", "data.source_valid=50",
        "data.target_train=50", "data.target_valid=50", "data.test=50", "source.epochs=2",
        "target.epochs=2", "model.gnn.width=8", "model.gnn.channels=2",
        "generalization.sizes=[5, 10]", "generalization.layouts=[6]",
        "generalization.fp_restarts=2"]


@pytest.fixture(scope="module")
def sizes_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sizes") / "run"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "-o", str(out), *TINY])
    assert result.exit_code == 0, result.output
    return out


def test_generalization_tables_and_plots(sizes_run):
    out = sizes_run
    for name in ("generalization.csv", "generalization.json", "generalization_per_seed.csv",
                 "generalization_pct.png", "generalization_cdf.png", "generalization_time.png"):
        assert (out / name).is_file(), name
    with open(out / "generalization.csv") as f:
        rows = list(csv.DictReader(f))
    methods = {"FP", "FP best-of-K", "WMMSE", "max-min optimum", "source, reconstruction",
               "target, reconstruction"}
    assert {(int(r["n_links"]), r["method"]) for r in rows} == {
        (n, m) for n in (5, 10) for m in methods}
    for r in rows:
        assert float(r["layouts_per_s"]) > 0
        # nothing beats the exact max-min optimum on the min-rate
        assert float(r["pct_maxmin"]) <= 100.0 + 1e-6
        if r["method"] == "FP best-of-K":
            assert float(r["pct_best_of_k_fp"]) == pytest.approx(100.0)
            # run 0 of best-of-K is the single FP start, so best-of-K never loses to it
            assert float(r["pct_fp_1_start"]) >= 100.0 - 1e-9
        if r["method"].startswith(("source", "target")):
            assert float(r["peak_memory_mib"]) >= 0
    report = (out / "report.md").read_text()
    assert "## Size generalization" in report and "best-of-2 FP" in report
    meta = json.loads((out / "seed-123" / "generalization" / "n10" / "metrics.json").read_text())
    assert meta["field_m"] == pytest.approx(150.0 * math.sqrt(10 / 5))  # constant density
    assert meta["layouts"] == 6


def test_rerun_skips_the_generalization_steps(sizes_run):
    result = CliRunner().invoke(main, ["reproduce", "d2d", "-o", str(sizes_run), *TINY])
    assert result.exit_code == 0, result.output
    assert "[skip] generalization/n10" in result.output


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["generalization.sizes=[5, 10]"], "needs model.family='gnn'"),
        (["model.family=gnn", "generalization.sizes=[5, 10]", "strategies=[regular]"],
         "generalization.strategies: 'reconstruction' is not trained"),
        (["model.family=gnn", "generalization.sizes=[1]"], "generalization.sizes"),
        (["model.family=gnn", "generalization.sizes=[5, 10]", "generalization.layouts=[1, 2, 3]"],
         "generalization.layouts=[1, 2, 3] is invalid"),
    ],
)
def test_bad_generalization_configs_fail_before_any_work(tmp_path, overrides, message):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["reproduce", "d2d", "--scale", "tiny", "-o", str(out),
                                       *overrides])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (out / "seed-123").exists()


def test_peak_memory_sees_at_least_the_input_of_the_forward_pass(tmp_path):
    import torch

    from experiments.d2d_sizes import peak_memory_mib
    from simulators.d2d import D2DConfig
    from wirelessrl.checkpoint import save_net
    from wirelessrl.datasets import simulate_d2d_file
    from wirelessrl.models import TransferNet, d2d_gnn_config

    cfg = D2DConfig.from_preset("paper", n_links=300, field_m=1000.0, redraw="offending")
    data = simulate_d2d_file(cfg, 20, 1, tmp_path / "g.h5")
    torch.manual_seed(0)
    net = save_net(tmp_path / "net.pt", TransferNet.from_config(d2d_gnn_config(top_k=None)))
    mib = peak_memory_mib(net, "sum_rate", data, 20, cfg.p_max_w, cfg.noise_w)
    # the forward pass from the linear gains (powers_from_gains) keeps every edge here
    # (top_k None): at least one float32 value per edge of the 20 layouts
    assert mib >= 20 * 300 * 299 * 4 / 2**20
    assert mib < 2000
