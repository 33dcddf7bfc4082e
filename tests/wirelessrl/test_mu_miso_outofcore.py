"""``simulate mu-miso`` out of core: chunks, float32 storage, the same samples at any chunking."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from wirelessrl.cli import main
from wirelessrl.datasets import load_mu_miso, simulate_mu_miso_file
from wirelessrl.fileio import read_arrays


def test_first_index_continues_the_seed_sequence():
    cfg = MuMisoConfig.from_preset("cell", n_users=3)
    whole = generate_mu_miso(cfg, 7, seed=5)
    tail = generate_mu_miso(cfg, 3, seed=5, first_index=4)
    np.testing.assert_array_equal(tail.h, whole.h[4:])
    np.testing.assert_array_equal(tail.positions_m, whole.positions_m[4:])


def test_chunked_file_equals_the_in_memory_draw_at_any_chunk_size(tmp_path):
    cfg = MuMisoConfig.from_preset("rayleigh-10db", n_users=2, n_antennas=4)
    ref = generate_mu_miso(cfg, 11, seed=3)
    sums = set()
    for chunk in (1, 4, 11, None):
        path = simulate_mu_miso_file(cfg, 11, 3, tmp_path / f"c{chunk}.h5", chunk_size=chunk)
        data = load_mu_miso(path)
        np.testing.assert_array_equal(data.h, ref.h)
        np.testing.assert_array_equal(data.y, ref.y)
        sums.add(read_arrays(path)[1]["checksum_sha256"])
    assert len(sums) == 1


def test_cli_chunk_size_dtype_and_compression(tmp_path):
    out = tmp_path / "mu.h5"
    r = CliRunner().invoke(main, ["simulate", "mu-miso", "--n", "9", "--seed", "2",
                                  "--chunk-size", "4", "--dtype", "float32",
                                  "--compression", "gzip", "-o", str(out)])
    assert r.exit_code == 0, r.output
    arrays, meta = read_arrays(out)
    assert arrays["h"].dtype == np.complex64 and arrays["positions_m"].dtype == np.float32
    ref = generate_mu_miso(MuMisoConfig.from_preset("cell"), 9, seed=2)
    np.testing.assert_allclose(arrays["h"], ref.h, rtol=1e-6, atol=1e-12)
    r = CliRunner().invoke(main, ["solve", str(out), "--method", "zf", "-o",
                                  str(tmp_path / "zf.h5")])
    assert r.exit_code == 0, r.output
