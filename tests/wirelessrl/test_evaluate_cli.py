"""``wirelessrl evaluate``: 95 % confidence intervals, per-layout and per-link rates, the
reference each percent column uses (or why it is empty), JSON / CSV output."""

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from simulators.d2d import D2DConfig, generate_d2d
from simulators.rates import link_rates_bps
from wirelessrl.cli import main
from wirelessrl.datasets import save_d2d
from wirelessrl.evaluate import t_interval
from wirelessrl.solutions import evaluate_solutions, load_solution

N, LINKS = 40, 4


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaluate")
    data = d / "d2d.h5"
    save_d2d(generate_d2d(D2DConfig.from_preset("paper", n_links=LINKS), N, seed=3), data)
    out = {"data": data}
    for method in ("fp", "wmmse", "maxmin", "full", "random"):
        out[method] = d / f"{method}.h5"
        r = CliRunner().invoke(main, ["solve", str(data), "--method", method, "-o",
                                      str(out[method])])
        assert r.exit_code == 0, r.output
    return out


def _run(*args):
    return CliRunner().invoke(main, ["evaluate", *map(str, args)])


def _link_rates_mbps(files, method):
    cfg = D2DConfig.from_preset("paper", n_links=LINKS)
    g = generate_d2d(cfg, N, seed=3).g
    p = load_solution(files[method])[0]["p_w"]
    return link_rates_bps(g, p, cfg.noise_w, cfg.bandwidth_hz, cfg.snr_gap_db) / 1e6


def test_t_interval_equals_scipy_and_covers_the_mean_95_percent_of_the_time():
    x = np.random.default_rng(0).normal(3.0, 2.0, 25)
    expected = stats.t.interval(0.95, 24, loc=x.mean(), scale=stats.sem(x))
    np.testing.assert_allclose(t_interval(x), expected, rtol=1e-12)
    assert all(np.isnan(t_interval([1.0])))
    # coverage over 4,000 samples of 10 normal values: 95 % +- 1.5 % (the normal interval
    # mean +- 1.96 s / sqrt(n) covers ~92 % here and fails this check)
    rng = np.random.default_rng(1)
    hits = [lo <= 1.0 <= hi for lo, hi in (t_interval(rng.normal(1.0, 1.0, 10))
                                          for _ in range(4000))]
    assert np.mean(hits) == pytest.approx(0.95, abs=0.015)


def test_json_rows_carry_ci_of_the_mean_and_of_the_percent(files):
    r = _run(files["data"], files["fp"], files["maxmin"], files["full"], "--json")
    assert r.exit_code == 0, r.output
    rows = {(x["method"], x["metric"]): x for x in json.loads(r.output)}  # a list, as before
    sums = _link_rates_mbps(files, "full").sum(axis=1)
    row = rows[("full", "sum-rate")]
    lo, hi = stats.t.interval(0.95, N - 1, loc=sums.mean(), scale=stats.sem(sums))
    assert row["ci95_low"] == pytest.approx(lo, rel=1e-10)
    assert row["ci95_high"] == pytest.approx(hi, rel=1e-10)
    assert row["n"] == N and row["ci_method"] == "student-t"
    ratios = 100 * sums / _link_rates_mbps(files, "fp").sum(axis=1)
    lo, hi = stats.t.interval(0.95, N - 1, loc=ratios.mean(), scale=stats.sem(ratios))
    assert row["pct_ci95_low"] == pytest.approx(lo, rel=1e-10)
    assert row["pct_ci95_high"] == pytest.approx(hi, rel=1e-10)
    assert row["pct_ci95_low"] < row["pct_of_reference_mean_ratio"] < row["pct_ci95_high"]
    assert "FP, 150 iterations" in row["reference_note"]


def test_per_link_csv_holds_every_layout_and_link_rate(files, tmp_path):
    out = tmp_path / "rates.csv"
    r = _run(files["data"], files["fp"], files["full"], "--per-link", "--csv", "-o", out)
    assert r.exit_code == 0, r.output
    assert "sum-rate reference: % of fp" in r.output and f"wrote {out}" in r.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2 * N
    assert list(rows[0])[:4] == ["method", "layout", "sum_rate_mbps", "min_rate_mbps"]
    full = [x for x in rows if x["method"] == "full"]
    rates = np.array([[float(x[f"link_{i}_rate_mbps"]) for i in range(LINKS)] for x in full])
    expected = _link_rates_mbps(files, "full")
    np.testing.assert_allclose(rates, expected, rtol=1e-5)  # 6 digits in the CSV
    np.testing.assert_allclose([float(x["sum_rate_mbps"]) for x in full],
                               expected.sum(axis=1), rtol=1e-5)
    np.testing.assert_allclose([float(x["min_rate_mbps"]) for x in full],
                               expected.min(axis=1), rtol=1e-5)
    assert [int(x["layout"]) for x in full] == list(range(N))
    # stdout: the same CSV
    r = _run(files["data"], files["fp"], files["full"], "--per-link", "--csv")
    assert r.exit_code == 0 and r.output.replace("\r\n", "\n") == \
        out.read_text().replace("\r\n", "\n")


def test_per_link_json_document(files, tmp_path):
    out = tmp_path / "ev.json"
    r = _run(files["data"], files["maxmin"], files["random"], "--per-link", "-o", out)
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["kind"] == "evaluation" and doc["unit"] == "Mbps"
    assert doc["confidence_interval"]["method"] == "student-t"
    assert "Student t interval over the 40 layouts" in doc["confidence_interval"]["text"]
    assert doc["provenance"]["seed"] == 3 and doc["provenance"]["version"]
    per = doc["per_layout"]["random"]
    expected = _link_rates_mbps(files, "random")
    np.testing.assert_allclose(per["link_rates_mbps"], expected, rtol=1e-12)
    np.testing.assert_allclose(per["min_rate_mbps"], expected.min(axis=1), rtol=1e-12)
    assert per["file"] == str(files["random"])
    rows = {(x["method"], x["metric"]): x for x in doc["records"]}
    assert rows[("random", "min-rate")]["mean"] == pytest.approx(expected.min(axis=1).mean())
    notes = {c["metric"]: c for c in doc["references"]}
    assert notes["min-rate"]["label"] == "maxmin" and notes["sum-rate"]["label"] is None


def test_table_says_which_reference_and_why_a_percent_column_is_empty(files):
    r = _run(files["data"], files["full"], files["random"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split()[:4] == ["method", "metric", "mean", "±95%"]
    assert (f"sum-rate reference: empty: no fp solution given; pass a file from 'wirelessrl "
            f"solve {files['data']} --method fp -o fp.h5' to get % of FP") in r.output
    assert "min-rate reference: empty: no maxmin solution given" in r.output
    assert "Student t interval over the 40 layouts" in r.output
    # WMMSE stands in for FP (same iterates), and says so
    r = _run(files["data"], files["wmmse"], files["full"])
    assert "sum-rate reference: % of wmmse (WMMSE, 150 iterations, 1 start), standing in " \
           "for FP" in r.output
    ev = evaluate_solutions(files["data"], [files["wmmse"], files["full"]])
    full = {x.metric: x for x in ev.rows if x.method == "full"}
    assert full["sum-rate"].reference == "wmmse" and full["min-rate"].reference is None


def test_two_files_of_one_method_get_their_own_rows(files, tmp_path):
    other = tmp_path / "fp30.h5"
    r = CliRunner().invoke(main, ["solve", str(files["data"]), "--method", "fp",
                                  "--iterations", "30", "-o", str(other)])
    assert r.exit_code == 0, r.output
    ev = evaluate_solutions(files["data"], [files["fp"], other])
    methods = list(dict.fromkeys(x.method for x in ev.rows))
    assert methods == ["fp [fp.h5]", "fp [fp30.h5]"]
    assert ev.references[0].label == methods[0]  # the first fp file is the reference
    sums = {x.method: x.mean for x in ev.rows if x.metric == "sum-rate"}
    assert sums[methods[0]] != sums[methods[1]]


@pytest.mark.parametrize("args, message", [
    (["--per-link"], "--per-link needs --json or --csv"),
    (["--json", "--csv"], "--json and --csv were both given"),
    (["-o", "{tmp}/x.txt"], "expected one of .json, .csv"),
    (["--csv", "-o", "{tmp}/x.json"], "does not match --csv"),
    (["-o", "{tmp}/no/such/folder/x.json"], "does not exist; create it first"),
])
def test_bad_output_options_fail_in_one_line(files, tmp_path, args, message):
    r = _run(files["data"], files["full"], *[a.format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2 and message in r.output
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite(files, tmp_path):
    out = tmp_path / "ev.csv"
    out.write_text("keep")
    r = _run(files["data"], files["full"], "-o", out)
    assert r.exit_code == 2 and "--overwrite" in r.output and out.read_text() == "keep"
    r = _run(files["data"], files["full"], "-o", out, "--overwrite")
    assert r.exit_code == 0 and list(csv.DictReader(io.StringIO(out.read_text())))
