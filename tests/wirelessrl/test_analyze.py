"""``wirelessrl analyze RUN_DIR`` on tiny reproduce runs (d2d with a denoising variant,
miso, mnist on fake IDX files): the files, finite probe rows, the reference rows, the
rotation invariance of the all-directions probe, and one-line errors."""

import csv
import hashlib
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from experiments.analysis import INPUT_LABEL, RANDOM_LABEL
from experiments.layout import Plan
from wirelessrl.cli import main
from wirelessrl.data.mnist import make_fake_mnist

FAST = ["strategies=[conventional,reconstruction]", "tuning.enabled=false"]
DENOISING = ("variants=[{name: dn, source: {reconstruction_input: denoising, "
             "corruption_level: 0.3}, strategies: [reconstruction]}]")


def _reproduce_and_analyze(out, experiment, *overrides):
    result = CliRunner().invoke(main, ["reproduce", experiment, "--scale", "tiny", "-o",
                                       str(out), "--threads", "1", *overrides])
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256((out / "results.json").read_bytes()).hexdigest()
    result = CliRunner().invoke(main, ["analyze", str(out), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert hashlib.sha256((out / "results.json").read_bytes()).hexdigest() == digest
    return out, result.output, json.loads((out / "analysis.json").read_text())


@pytest.fixture(scope="module")
def d2d(tmp_path_factory):
    return _reproduce_and_analyze(tmp_path_factory.mktemp("d2d") / "run", "d2d", *FAST,
                                  DENOISING)


def _probe_rows(doc, group=""):
    return {r["representation"]: r for u in doc["units"] if u["group"] == group
            for r in u["probe"]}


def test_d2d_analysis_writes_its_files_and_plots(d2d):
    out, output, _ = d2d
    for name in ("analysis.md", "analysis.json", "analysis.csv", "analysis_probe.png",
                 "analysis_spectra.png", "analysis_pca.png", "analysis_reconstruction.png",
                 "analysis_reconstruction_scatter.png"):
        assert (out / name).is_file(), name
    assert f"{INPUT_LABEL}: r2 " in output and "done: open" in output
    md = (out / "analysis.md").read_text()
    assert "## Linear probe: max-min optimum power fractions" in md
    assert "diagonal (direct links)" in md and "off-diagonal (interference)" in md
    with open(out / "analysis.csv") as f:
        sections = {r["section"] for r in csv.DictReader(f)}
    assert sections == {"probe", "spectrum", "pca", "reconstruction"}


def test_d2d_probe_rows_are_finite_and_bounded_by_the_optimum(d2d):
    _, _, doc = d2d
    rows = _probe_rows(doc)
    assert set(rows) == {INPUT_LABEL, RANDOM_LABEL, "conventional source (no reconstruction)",
                         "reconstruction source",
                         "reconstruction source (denoising-0.3, variant dn)", "full power"}
    for label, r in rows.items():
        for key in ("min_rate_pct", "min_rate_mbps", "r2"):
            assert math.isfinite(r[key]), (label, key)
        # no power allocation beats the exact max-min optimum
        assert 0.0 <= r["min_rate_pct"] <= 100.0 + 1e-6, label
        assert r["r2"] <= 1.0
    assert rows[INPUT_LABEL]["dim"] == 100 and rows["reconstruction source"]["dim"] == 100


def test_d2d_all_principal_directions_give_the_raw_input_probe(d2d):
    _, _, doc = d2d
    raw = _probe_rows(doc)[INPUT_LABEL]
    (every,) = [r for r in doc["units"][0]["pca"] if r["part"] == "all"]
    assert every["k"] == 100
    # a rotation of the centred input: the same ridge fit, the same test scores
    assert every["min_rate_pct"] == pytest.approx(raw["min_rate_pct"], rel=1e-9)
    assert every["r2"] == pytest.approx(raw["r2"], rel=1e-9, abs=1e-12)
    assert {r["k"] for r in doc["units"][0]["pca"]} == {10, 25, 50, 100}


def test_d2d_spectra_and_reconstruction_entries(d2d):
    _, _, doc = d2d
    unit = doc["units"][0]
    spectra = unit["spectra"]
    assert len(spectra[INPUT_LABEL]) == 100
    assert all(a >= b for a, b in zip(spectra[INPUT_LABEL], spectra[INPUT_LABEL][1:],
                                      strict=False))
    recon = {r["representation"]: r for r in unit["reconstruction"]}
    # only the sources with a decoder (the conventional source has none)
    assert set(recon) == {"reconstruction source",
                          "reconstruction source (denoising-0.3, variant dn)"}
    for r in recon.values():
        assert len(r["mse_per_entry"]) == 100
        groups = {g["entry_group"]: g for g in r["groups"]}
        assert (groups["diagonal (direct links)"]["entries"],
                groups["off-diagonal (interference)"]["entries"]) == (10, 90)
        mean = (10 * groups["diagonal (direct links)"]["mse"]
                + 90 * groups["off-diagonal (interference)"]["mse"]) / 100
        assert mean == pytest.approx(groups["all entries"]["mse"])
    assert len(unit["entries"]["abs_corr"]) == 100


def test_analyze_a_folder_that_is_not_a_run_fails_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    result = CliRunner().invoke(main, ["analyze", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "is not a finished run folder" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_analyze_a_mu_miso_run_says_it_is_not_supported(tmp_path):
    plan = Plan(["regular"], 1e-3, [1e-3], False)
    (tmp_path / "config.yaml").write_text("experiment: mu-miso\n")
    (tmp_path / "run.json").write_text(json.dumps({
        "experiment": "mu-miso", "plan": plan.to_dict(), "target_mode": "max",
        "units": [{"dir": "seed-0", "seed": 0}], "provenance": {}}))
    result = CliRunner().invoke(main, ["analyze", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "does not support experiment 'mu-miso'" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "run.json"]


def test_miso_analysis_localizes_from_the_top_directions(tmp_path):
    out, _, doc = _reproduce_and_analyze(tmp_path / "run", "miso", *FAST,
                                         "supervised.enabled=false")
    rows = _probe_rows(doc)
    assert {INPUT_LABEL, RANDOM_LABEL, "reconstruction source", "centre guess"} <= set(rows)
    for label, r in rows.items():
        # errors inside the 80 m x 80 m area are below its diagonal
        assert 0.0 < r["error_m"] < 80.0 * math.sqrt(2), label
    assert rows["centre guess"]["error_m"] > rows[INPUT_LABEL]["error_m"]
    pca = {(r["part"], r["k"]): r["error_m"] for r in doc["units"][0]["pca"]}
    assert pca[("top", 12)] < pca[("bottom", 12)]  # half of the 24 input dimensions
    recon = doc["units"][0]["reconstruction"]
    assert [r["representation"] for r in recon] == ["reconstruction source"]
    assert len(recon[0]["mse_per_entry"]) == 9  # (d, dx/d, dy/d) per base station
    assert (out / "analysis_reconstruction.png").is_file()


def test_mnist_analysis_aggregates_over_seeds_per_split(tmp_path):
    fake = tmp_path / "idx"
    make_fake_mnist(fake, n_train=1000, n_test=300, seed=0)
    out, output, doc = _reproduce_and_analyze(tmp_path / "run", "mnist", FAST[0],
                                              f"data.mnist_dir={fake}")
    assert set(doc["summary"]) == {"split-A", "split-B"}
    for group in ("split-A", "split-B"):
        assert (out / f"analysis_probe_{group}.png").is_file()
        assert (out / f"analysis_reconstruction_{group}.png").is_file()
        rows = _probe_rows(doc, group)
        assert INPUT_LABEL in rows and "always \"not an 8\"" in rows
        assert all(0.0 <= r["accuracy_pct"] <= 100.0 for r in rows.values())
        summary = {e["representation"]: e for e in doc["summary"][group]["probe"]}
        assert summary[INPUT_LABEL]["units"] == 2  # seeds 0 and 1
    assert "probe [split-A]" in output and "probe [split-B]" in output


def test_a_source_whose_decoder_rebuilds_a_solution_is_probed_but_has_no_entry_errors(
        tmp_path):
    # source.reconstruction_target=maxmin: the decoder outputs N powers, not the N^2 gains
    _, _, doc = _reproduce_and_analyze(tmp_path / "run", "d2d", *FAST,
                                       "variants=[{name: rec_maxmin, "
                                       "strategies: [reconstruction]}]")
    unit = doc["units"][0]
    label = "reconstruction source (variant rec_maxmin)"
    assert label in {r["representation"] for r in unit["probe"]}
    assert {r["representation"] for r in unit["reconstruction"]} == {"reconstruction source"}


def test_per_link_probe_recovers_a_shared_linear_map_and_is_equivariant():
    from experiments.analysis import _per_link_probe
    from wirelessrl.probes import PROBE_SPLITS, ProbeTask, r2_score

    rng = np.random.default_rng(0)
    w, n_links = rng.normal(size=5), 7
    nodes = {s: rng.normal(size=(40, n_links, 5)) for s in PROBE_SPLITS}
    target = {s: v @ w + 0.5 for s, v in nodes.items()}  # [n, N]: one map for every link
    seen = []

    def score(pred):
        seen.append(pred)
        return {"r2": r2_score(pred, target["test"])}

    spec = ProbeTask(target=target, target_label="t", score=score, metrics={"r2": "R^2"},
                     mode="max")
    assert _per_link_probe(spec, nodes)["r2"] > 1 - 1e-6
    perm = rng.permutation(n_links)  # relabel the links of every sample and split
    permuted = ProbeTask(target={s: v[:, perm] for s, v in target.items()}, target_label="t",
                         score=score, metrics={"r2": "R^2"}, mode="max")
    _per_link_probe(permuted, {s: v[:, perm] for s, v in nodes.items()})
    np.testing.assert_allclose(seen[1], seen[0][:, perm], atol=1e-9)


def test_gnn_sources_get_a_per_link_probe(tmp_path):
    from experiments.analysis import PER_LINK_SUFFIX

    out, _, doc = _reproduce_and_analyze(tmp_path / "run", "d2d", *FAST, "model.family=gnn")
    assert "Rows ending in 'per link'" in (out / "analysis.md").read_text()
    rows = _probe_rows(doc)
    label = "reconstruction source" + PER_LINK_SUFFIX
    assert label in rows and "conventional source (no reconstruction)" + PER_LINK_SUFFIX in rows
    n_links = rows[INPUT_LABEL]["dim"] ** 0.5
    assert rows[label]["dim"] * n_links == rows["reconstruction source"]["dim"]  # [N, width]
    for key in ("min_rate_pct", "r2"):
        assert math.isfinite(rows[label][key])
    assert 0.0 <= rows[label]["min_rate_pct"] <= 100.0 + 1e-6
