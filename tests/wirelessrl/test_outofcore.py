"""Out-of-core data sets: chunked simulate / solve / evaluate, streamed checksums, bounded
memory."""

import tracemalloc

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from baselines import SeedAt, solve
from baselines._common import uniform_draws
from simulators.d2d import D2DConfig, generate_d2d
from simulators.miso import MisoConfig, generate_miso, make_system
from simulators.rates import link_rates_bps
from simulators.validation import ConfigError
from wirelessrl.cli import main
from wirelessrl.datasets import D2DFile, load_d2d, load_miso, simulate_d2d_file, simulate_miso_file
from wirelessrl.evaluate import evaluate_rates
from wirelessrl.fileio import (
    ArrayReader,
    ArraysDigest,
    RowArray,
    arrays_checksum,
    legacy_arrays_checksum,
    meta_checksum,
    provenance,
    read_arrays,
    stream_arrays,
    write_arrays,
)
from wirelessrl.solutions import D2D_REFERENCES, evaluate_solutions, load_solution, solve_file

PAPER = D2DConfig.from_preset("paper")


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    """Files of the same command are then equal byte for byte (created_utc is fixed)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


@pytest.mark.parametrize("dtype, compression", [("float64", None), ("float32", "gzip"),
                                                ("float64", "lzf")])
def test_simulate_file_bytes_do_not_depend_on_the_chunk_size(tmp_path, dtype, compression):
    cfg = D2DConfig.from_preset("paper-fading", n_links=7)
    files = [simulate_d2d_file(cfg, 2001, 5, tmp_path / f"c{k}.h5", chunk_size=k, dtype=dtype,
                               compression=compression) for k in (37, 500, 2001, None)]
    first = files[0].read_bytes()
    assert all(f.read_bytes() == first for f in files[1:])
    back = load_d2d(files[0])
    whole = generate_d2d(cfg, 2001, seed=5)
    assert back.g.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.g, whole.g.astype(dtype))
    np.testing.assert_array_equal(back.redraws, whole.redraws)
    with h5py.File(files[0]) as f:  # storage chunks follow the row size, not --chunk-size
        assert f["g"].chunks[1:] == (7, 7) and f["g"].compression == compression


def test_first_index_gives_the_same_layouts_as_one_call():
    whole = generate_d2d(PAPER, 50, seed=3)
    part = generate_d2d(PAPER, 20, seed=3, first_index=17)
    np.testing.assert_array_equal(part.g, whole.g[17:37])
    cfg = MisoConfig.from_preset("paper")
    system = make_system(cfg, 0)
    a, b = generate_miso(cfg, 30, 2, system), generate_miso(cfg, 9, 2, system, first_index=11)
    np.testing.assert_array_equal(b.y, a.y[11:20])


def test_miso_streamed_file_equals_one_call_and_any_chunking(tmp_path):
    cfg = MisoConfig.from_preset("paper")
    paths = [simulate_miso_file(cfg, 301, 4, 0, tmp_path / f"m{k}.h5", chunk_size=k)
             for k in (7, 301)]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    back, ref = load_miso(paths[0]), generate_miso(cfg, 301, 4, make_system(cfg, 0))
    np.testing.assert_array_equal(back.h, ref.h)
    np.testing.assert_array_equal(back.system.pilots, ref.system.pilots)
    small = load_miso(simulate_miso_file(cfg, 20, 4, 0, tmp_path / "f.h5", dtype="float32"))
    assert small.h.dtype == np.complex64 and small.factors.dtype == np.float32


@pytest.mark.parametrize("method, options", [("fp", {"restarts": 3, "iterations": 30}),
                                             ("random", {"seed": 11}),
                                             ("maxmin", {}), ("wmmse", {"iterations": 20})])
def test_chunked_solve_equals_one_batch_call(tmp_path, method, options):
    data = simulate_d2d_file(PAPER, 503, 2, tmp_path / "d.h5", chunk_size=100)
    g = load_d2d(data).g
    ref = solve(method, g, p_max_w=PAPER.p_max_w, noise_w=PAPER.noise_w, **options)
    outs = []
    for k in (64, 503):
        path = solve_file(data, method, tmp_path / f"s{k}.h5", chunk_size=k, **options)
        arrays, meta = load_solution(path)
        np.testing.assert_array_equal(arrays["p_w"], ref.p_w)
        np.testing.assert_array_equal(arrays["status"], ref.status)
        np.testing.assert_array_equal(arrays["iterations"], ref.iterations)
        assert meta["options"]["stopping_rule"] == ref.options["stopping_rule"]
        outs.append((arrays, meta))
    assert outs[0][1]["checksum_sha256"] == outs[1][1]["checksum_sha256"]


def test_seed_at_positions_the_draws_of_the_whole_batch():
    whole = uniform_draws(9, 3, 40, 5)
    for first, m in ((0, 40), (0, 1), (13, 9), (39, 1)):
        part = uniform_draws(SeedAt(9, first, 40), 3, m, 5)
        np.testing.assert_array_equal(part, whole[:, first:first + m])
    np.testing.assert_array_equal(uniform_draws(np.random.default_rng(9), 1, 40, 5)[0],
                                  np.random.default_rng(9).random((40, 5)))
    with pytest.raises(ConfigError, match="total=40"):
        uniform_draws(SeedAt(9, 35, 40), 1, 6, 5)
    with pytest.raises(ConfigError, match="seed"):
        SeedAt(-1, 0, 1)
    with pytest.raises(ConfigError, match="seed"):
        SeedAt("1", 0, 1)


def test_streaming_digest_equals_whole_array_checksum_and_differs_from_legacy():
    rng = np.random.default_rng(0)
    arrays = {"b": rng.random((11, 3)), "a": rng.integers(0, 9, 11), "s": np.array([b"x"] * 11)}
    digest = ArraysDigest()
    for name, a in arrays.items():
        digest.start(name, a.dtype, a.shape)
    for lo, hi in ((0, 4), (4, 5), (5, 11)):
        for name in ("s", "b", "a"):  # any interleaving of the arrays
            digest.update(name, arrays[name][lo:hi])
    assert digest.hexdigest() == arrays_checksum(arrays)
    assert arrays_checksum(arrays) != legacy_arrays_checksum(arrays)
    changed = dict(arrays, b=arrays["b"].copy())
    changed["b"][10, 2] += 1e-12
    assert arrays_checksum(changed) != arrays_checksum(arrays)


def test_files_of_the_old_checksum_scheme_still_load(tmp_path):
    data = generate_d2d(PAPER, 30, seed=1)
    arrays = {"tx_m": data.tx_m, "rx_m": data.rx_m, "g": data.g, "redraws": data.redraws}
    meta = provenance("d2d-layouts", PAPER.to_dict(), 1, n=30)
    meta["shapes"] = {k: list(a.shape) for k, a in arrays.items()}
    meta["checksum_sha256"] = legacy_arrays_checksum(arrays)
    meta["meta_sha256"] = meta_checksum(meta)
    import json

    old = tmp_path / "old.h5"
    with h5py.File(old, "w") as f:
        for k, a in arrays.items():
            f.create_dataset(k, data=a)
        f.attrs["meta_json"] = json.dumps(meta, sort_keys=True)
    np.testing.assert_array_equal(load_d2d(old).g, data.g)
    with D2DFile(old) as f:
        assert sum(len(p["g"]) for _, p in f.chunks(7)) == 30
    solve_file(old, "full", tmp_path / "full.h5")
    with h5py.File(old, "r+") as f:
        f["g"][3, 1, 1] = 2.0
    with pytest.raises(ConfigError, match="failed its checksum"):
        load_d2d(old)
    with pytest.raises(ConfigError, match="failed its checksum"):
        solve_file(old, "full", tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()


def test_streamed_solve_refuses_a_tampered_file_after_reading_it(tmp_path):
    data = simulate_d2d_file(PAPER, 400, 2, tmp_path / "d.h5", chunk_size=50)
    with h5py.File(data, "r+") as f:
        f["tx_m"][399, 0, 0] += 1.0  # not read by the solver: found by the fused checksum
    with pytest.raises(ConfigError, match="failed its checksum"):
        solve_file(data, "maxmin", tmp_path / "s.h5", chunk_size=64)
    assert not list(tmp_path.glob("s.h5*")) and not list(tmp_path.glob(".s.h5*"))


def test_unknown_checksum_scheme_is_refused_naming_it(tmp_path):
    path = simulate_d2d_file(PAPER, 5, 1, tmp_path / "d.h5")
    arrays, meta = read_arrays(path)
    meta["checksum_scheme"] = "sha3/9"
    meta["meta_sha256"] = meta_checksum(meta)
    with h5py.File(path, "r+") as f:
        import json

        f.attrs["meta_json"] = json.dumps(meta)
    for load in (load_d2d, ArrayReader, D2DFile):
        with pytest.raises(ConfigError, match="checksum_scheme='sha3/9' is unknown"):
            load(path)


def test_peak_memory_is_bounded_by_the_chunk_not_by_n(tmp_path):
    """50,000 layouts (56 MB of arrays) in chunks of 1,000: NumPy's allocations (traced)
    stay near one chunk (1.1 MB) plus one HDF5 storage chunk per array."""
    generate_d2d(PAPER, 10, seed=0)  # compile outside the trace
    tracemalloc.start()
    try:
        simulate_d2d_file(PAPER, 50_000, 1, tmp_path / "d.h5", chunk_size=1000)
        _, peak_sim = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        solve_file(tmp_path / "d.h5", "maxmin", tmp_path / "s.h5", chunk_size=1000)
        _, peak_solve = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_sim < 12e6, peak_sim
    assert peak_solve < 16e6, peak_solve


def test_stream_writer_checks_rows(tmp_path):
    spec = {"g": RowArray((2,))}
    with pytest.raises(ValueError, match="3 of 4 rows"):
        with stream_arrays(tmp_path / "x.h5", 4, spec, {}) as w:
            w.append({"g": np.ones((3, 2))})
    with pytest.raises(ValueError, match="rows of shape"):
        with stream_arrays(tmp_path / "x.h5", 4, spec, {}) as w:
            w.append({"g": np.ones((4, 3))})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--chunk-size", "0"], "chunk_size=0"),
    (["--chunk-size", "x"], "--chunk-size"),
    (["--dtype", "float16"], "--dtype"),
    (["--compression", "zip"], "--compression"),
    (["--workers", "0"], "workers=0"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "expected one of them"),
])
def test_cli_bad_chunk_and_cluster_options_one_line_nothing_written(tmp_path, args, message):
    out = tmp_path / "d.h5"
    for cmd in (["simulate", "d2d", "--n", "10", "-o", str(out)],):
        result = CliRunner().invoke(main, cmd + args)
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_cli_solve_chunk_options(tmp_path):
    runner = CliRunner()
    data = tmp_path / "d.h5"
    assert runner.invoke(main, ["simulate", "d2d", "--n", "300", "-o", str(data),
                                "--chunk-size", "64", "--dtype", "float32"]).exit_code == 0
    result = runner.invoke(main, ["solve", str(data), "--method", "maxmin", "-o",
                                  str(tmp_path / "s.h5"), "--chunk-size", "50",
                                  "--compression", "gzip"])
    assert result.exit_code == 0, result.output
    assert "300 layouts" in result.output and "'optimal': 300" in result.output
    result = runner.invoke(main, ["solve", str(data), "--method", "maxmin", "-o",
                                  str(tmp_path / "t.h5"), "--chunk-size", "-3"])
    assert result.exit_code == 2 and "chunk_size=-3" in result.output
    assert not (tmp_path / "t.h5").exists()


# ------------------------------------------------------------------ streamed evaluate

def _plain_evaluation(data, solutions):
    """The reference: whole arrays in memory, rates from the NumPy formula."""
    d = load_d2d(data)
    cfg = d.config
    rates = {}
    for path in solutions:
        arrays, meta = load_solution(path)
        rates[meta["method"]] = 1e-6 * link_rates_bps(d.g, arrays["p_w"], cfg.noise_w,
                                                      cfg.bandwidth_hz, cfg.snr_gap_db)
    return evaluate_rates(rates, {m: m for m in rates}, {}, "Mbps", D2D_REFERENCES)


def test_streamed_evaluate_gives_the_numbers_of_the_whole_arrays_at_any_chunk_size(tmp_path):
    cfg = D2DConfig.from_preset("paper-fading", n_links=5)
    data = simulate_d2d_file(cfg, 61, 4, tmp_path / "d.h5", chunk_size=16, dtype="float32")
    sols = [solve_file(data, m, tmp_path / f"{m}.h5", chunk_size=16, **opts)
            for m, opts in (("fp", {"iterations": 40}), ("maxmin", {}), ("random", {}))]
    ref = _plain_evaluation(data, sols)
    for chunk in (1, 7, 61, None):
        ev = evaluate_solutions(data, sols, per_link=True, chunk_size=chunk)
        assert [r.as_dict() | {"reference_note": None} for r in ev.rows] == \
            [r.as_dict() | {"reference_note": None} for r in ref.rows]  # exactly equal
        for label in ref.rates:
            np.testing.assert_array_equal(ev.rates[label], ref.rates[label])
            np.testing.assert_array_equal(ev.sums[label], ref.rates[label].sum(axis=1))
    summary = evaluate_solutions(data, sols, chunk_size=3)
    assert summary.rates == {} and summary.records() == ev.records()
    outs = [CliRunner().invoke(main, ["evaluate", str(data), *map(str, sols), "--json",
                                      *args]) for args in ([], ["--chunk-size", "2"])]
    assert outs[0].exit_code == 0 and outs[0].output == outs[1].output


def test_streamed_evaluate_checks_checksums_and_rows_of_every_chunk(tmp_path):
    data = simulate_d2d_file(PAPER, 50, 2, tmp_path / "d.h5")
    sol = solve_file(data, "full", tmp_path / "full.h5")
    with h5py.File(sol, "r+") as f:
        f["objective"][49] += 1.0  # not read by the evaluation: found by the fused checksum
    with pytest.raises(ConfigError, match="full.h5' failed its checksum"):
        evaluate_solutions(data, [sol], chunk_size=8)
    sol = solve_file(data, "full", tmp_path / "full.h5", overwrite=True)
    with h5py.File(data, "r+") as f:
        f["redraws"][49] += 1
    with pytest.raises(ConfigError, match="d.h5' failed its checksum"):
        evaluate_solutions(data, [sol], chunk_size=8)
    data = simulate_d2d_file(PAPER, 50, 2, tmp_path / "d.h5", overwrite=True)
    arrays, meta = read_arrays(sol)
    arrays["status"][37] = b"failed"  # a resealed file: the checksums hold
    write_arrays(sol, arrays, meta)
    with pytest.raises(ConfigError, match="1 layouts have status 'failed'"):
        evaluate_solutions(data, [sol], chunk_size=8)


def test_streamed_evaluate_memory_is_bounded_by_the_chunk_not_by_n(tmp_path):
    """20,000 layouts (16 MB of gains) in chunks of 500: NumPy's allocations (traced)
    stay near one chunk (0.9 MB of gains and rates), plus the 4 MiB blocks in which the
    arrays not read (positions) are hashed, plus 16 bytes per layout and method."""
    data = simulate_d2d_file(PAPER, 20_000, 1, tmp_path / "d.h5")
    sol = solve_file(data, "full", tmp_path / "full.h5")
    evaluate_solutions(data, [sol], chunk_size=20_000)  # imports (scipy) outside the trace
    peaks = []
    for chunk in (500, 20_000):
        tracemalloc.start()
        try:
            ev = evaluate_solutions(data, [sol], chunk_size=chunk)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert ev.rows[0].n == 20_000
    assert peaks[0] < 6e6 < 16e6 < peaks[1], peaks  # one chunk of all layouts: all gains
