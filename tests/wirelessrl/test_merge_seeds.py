"""``wirelessrl merge-seeds`` / :func:`wirelessrl.results.merge_seeds`: mean ± std over the
results.csv files of separate runs, checked against NumPy; wrong types and round trips."""

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.results import merge_seeds, read_json, write_csv

COLUMNS = ("seed", "table", "method", "metric", "pct")


def _results(path, seed, rows):
    write_csv(path, [dict(zip(COLUMNS, (seed, *r), strict=True)) for r in rows])
    return path


@pytest.fixture
def three_seeds(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.uniform(50, 70, size=(3, 2))  # seed x method
    paths = [_results(tmp_path / f"s{s}.csv", s,
                      [("paper", "regular", "min-rate", values[i, 0]),
                       ("paper", "reconstruction", "min-rate", values[i, 1]),
                       ("paper", "regular", "sum-rate", 99.0),
                       ("baselines", "FP", "min-rate", "")])
             for i, s in enumerate((123, 2, 10))]
    return paths, values


def test_mean_and_std_match_numpy(three_seeds):
    paths, values = three_seeds
    rows = merge_seeds(paths, by=["table", "method"], value="pct",
                       where={"metric": "min-rate"})
    assert [(r["table"], r["method"]) for r in rows] == [("paper", "regular"),
                                                          ("paper", "reconstruction")]
    for r, column in zip(rows, values.T, strict=True):
        # write_csv keeps 6 significant digits
        assert r["mean"] == pytest.approx(column.mean(), rel=1e-5)
        assert r["std"] == pytest.approx(column.std(ddof=1), rel=1e-4)
        assert r["n_seeds"] == 3
        # numeric order, not string order ("seed 10" < "seed 123" < "seed 2")
        assert [k for k in r if k.startswith("seed ")] == ["seed 2", "seed 10", "seed 123"]
        assert r["seed 123"] == pytest.approx(column[0], rel=1e-5)


def test_without_where_the_duplicate_group_is_refused(three_seeds):
    paths, _ = three_seeds
    with pytest.raises(ConfigError, match=r"s123\.csv, line 4: seed 123 of \{'table': "
                                          r"'paper', 'method': 'regular'\} was already given "
                                          r"at .*s123\.csv, line 2; .*add a column to by"):
        merge_seeds(paths, by=["table", "method"], value="pct")


def test_one_seed_has_std_zero(tmp_path):
    path = _results(tmp_path / "a.csv", 5, [("t", "fp", "min-rate", 61.5)])
    (row,) = merge_seeds([path], by=["method"], value="pct")
    assert (row["mean"], row["std"], row["n_seeds"]) == (61.5, 0.0, 1)


@pytest.mark.parametrize("seed, pct, message", [
    ("1e-3", 60.0, r"line 2: seed='1e-3' is invalid; expected an integer"),
    ("1_0", 60.0, r"line 2: seed='1_0' is invalid; expected an integer"),
    (1, "inf", r"line 2: pct='inf' is invalid; expected a finite number"),
    (1, "sixty", r"line 2: pct='sixty' is invalid; expected a finite number"),
    (1, "nan", r"line 2: pct='nan' is invalid; expected a finite number"),
])
def test_wrong_types_name_file_line_and_value(tmp_path, seed, pct, message):
    path = _results(tmp_path / "bad.csv", seed, [("t", "fp", "min-rate", pct)])
    with pytest.raises(ConfigError, match=r"bad\.csv, " + message):
        merge_seeds([path], by=["method"], value="pct")


def test_missing_column_and_file_are_named(tmp_path):
    path = _results(tmp_path / "a.csv", 1, [("t", "fp", "min-rate", 1.0)])
    with pytest.raises(ConfigError, match=r"a\.csv: no column 'mean'; its columns are "
                                          r"method, metric, pct, seed, table"):
        merge_seeds([path], by=["method"], value="mean")
    with pytest.raises(ConfigError, match=r"results file .*nope\.csv' does not exist"):
        merge_seeds([tmp_path / "nope.csv"], by=["method"], value="pct")
    with pytest.raises(ConfigError, match=r"results file .* is a folder; expected a CSV file"):
        merge_seeds([tmp_path], by=["method"], value="pct")
    with pytest.raises(ConfigError, match=r"no row matches where=\{'metric': 'x'\} with a "
                                          r"value in 'pct'"):
        merge_seeds([path], by=["method"], value="pct", where={"metric": "x"})


def test_cli_table_and_round_trips(three_seeds, tmp_path):
    paths, values = three_seeds
    args = ["merge-seeds", *map(str, paths), "--where", "metric=min-rate", "--value", "pct"]
    out_csv, out_json = tmp_path / "merged.csv", tmp_path / "merged.json"
    r = CliRunner().invoke(main, [*args, "-o", str(out_csv)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "| table | method | seed 2 | seed 10 | seed 123 | mean ± std (n) |"
    mean, std = values[:, 0].mean(), values[:, 0].std(ddof=1)
    assert lines[2].endswith(f"| {mean:.1f} ± {std:.1f} (3) |")
    with open(out_csv, newline="") as f:
        written = list(csv.DictReader(f))
    assert float(written[1]["mean"]) == pytest.approx(values[:, 1].mean(), rel=1e-5)
    result = CliRunner().invoke(main, [*args, "-o", str(out_json)])
    assert result.exit_code == 0, result.output
    document = read_json(out_json)
    assert document["inputs"] == [str(p) for p in paths]
    assert (document["value"], document["where"]) == ("pct", {"metric": "min-rate"})
    assert [r["mean"] for r in document["rows"]] == pytest.approx(
        [float(r["mean"]) for r in written], rel=1e-5)  # the CSV keeps 6 digits


@pytest.mark.parametrize("extra, message", [
    (["--where", "metric"], "--where 'metric' is invalid; expected COLUMN=VALUE"),
    (["--value", "nope"], "no column 'nope'"),
    (["-o", "merged.txt"], "has the suffix '.txt'; expected one of .csv, .json"),
    (["--by", ","], "by=[] is invalid; expected at least one column"),
    (["--by", "method,mean"], "expected distinct columns other than seed, mean, std"),
    (["--where", "metric=a", "--where", "metric=b"], "--where metric= was given twice"),
])
def test_cli_errors_are_one_line(three_seeds, extra, message):
    paths, _ = three_seeds
    r = CliRunner().invoke(main, ["merge-seeds", *map(str, paths), "--value", "pct", *extra])
    assert r.exit_code == 2
    assert message in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("text, message", [
    ("", r"is empty; expected a header line"),
    ("seed,method,pct\n", r"has a header but no rows"),
    ("seed,method,pct\n1,fp\n", r"line 2: pct=None is invalid; expected a finite number"),
    ("seed,method,pct\n1,fp,60\n\n2,fp,x\n", r"line 4: pct='x' is invalid"),  # blank line 3
    (b"seed,method,pct\n1,fp,\xff\n", r"is not a readable CSV file"),
])
def test_malformed_files_get_one_line_errors(tmp_path, text, message):
    path = tmp_path / "m.csv"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    with pytest.raises(ConfigError, match=message) as err:
        merge_seeds([path], by=["method"], value="pct")
    assert "\n" not in str(err.value)


def test_uneven_seed_sets_keep_every_seed_column_in_order(tmp_path):
    a = _results(tmp_path / "a.csv", 10, [("t", "fp", "m", 1.0), ("t", "full", "m", 2.0)])
    b = _results(tmp_path / "b.csv", 2, [("t", "full", "m", 4.0)])
    rows = merge_seeds([a, b], by=["method"], value="pct")
    assert [list(r) for r in rows] == [["method", "mean", "std", "n_seeds", "seed 2",
                                        "seed 10"]] * 2
    assert (rows[0]["seed 2"], rows[0]["n_seeds"], rows[1]["mean"]) == (None, 1, 3.0)
    out = write_csv(tmp_path / "out.csv", rows)
    assert out.read_text().splitlines()[0] == "method,mean,std,n_seeds,seed 2,seed 10"


def test_the_same_seed_from_two_files_names_both(tmp_path):
    a = _results(tmp_path / "a.csv", 1, [("t", "fp", "m", 1.0)])
    b = _results(tmp_path / "b.csv", 1, [("t", "fp", "m", 2.0)])
    with pytest.raises(ConfigError, match=r"b\.csv, line 2: seed 1 .* already given at "
                                          r".*a\.csv, line 2"):
        merge_seeds([a, b], by=["method"], value="pct")


@pytest.mark.parametrize("kwargs, message", [
    ({"paths": "a.csv"}, r"paths='a.csv' is a single path"),
    ({"by": "method"}, r"by='method' is a single string"),
    ({"where": {"lr": 0.001}}, r"where=\{'lr': 0.001\} is invalid; expected strings"),
])
def test_wrong_argument_types(tmp_path, kwargs, message):
    path = _results(tmp_path / "a.csv", 1, [("t", "fp", "m", 1.0)])
    args = {"paths": [path], "by": ["method"], "value": "pct", **kwargs}
    with pytest.raises(ConfigError, match=message):
        merge_seeds(**args)
