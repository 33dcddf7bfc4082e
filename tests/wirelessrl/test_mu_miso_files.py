"""Multi-user MISO data and solution files through the CLI, .mat round trips, and the torch
SINR / rates against the NumPy definitions."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from baselines.mu_miso import solve_beamforming
from simulators.beamforming import sinr, user_rates_bps
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from simulators.validation import ConfigError
from wirelessrl.beamforming_solutions import load_mu_miso_solution
from wirelessrl.cli import main
from wirelessrl.datasets import load_mu_miso, save_mu_miso
from wirelessrl.objectives import mu_miso_rates_nats, mu_miso_sinr


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mu") / "mu.h5"
    r = _run("simulate", "mu-miso", "--n", 30, "--seed", 4, "--set", "n_users=3", "-o", path)
    assert r.exit_code == 0, r.output
    assert "wrote 30 cell multi-user MISO samples (M=8, K=3, seed 4)" in r.output
    return path


def test_simulate_file_holds_the_seeded_samples_with_provenance(data_file, tmp_path):
    data = load_mu_miso(data_file)
    cfg = MuMisoConfig.from_preset("cell", n_users=3)
    assert data.config == cfg and data.seed == 4
    assert data.h.tobytes() == generate_mu_miso(cfg, 30, seed=4).h.tobytes()
    mat = tmp_path / "mu.mat"
    r = _run("simulate", "mu-miso", "--n", 30, "--seed", 4, "--set", "n_users=3", "-o", mat)
    assert r.exit_code == 0, r.output
    back = load_mu_miso(mat)
    assert back.h.tobytes() == data.h.tobytes() and back.y.tobytes() == data.y.tobytes()
    assert back.positions_m.tobytes() == data.positions_m.tobytes()


@pytest.mark.parametrize("method", ["mrt", "zf", "zf-wf", "rzf", "wmmse", "maxmin"])
def test_solve_writes_beamformers_status_and_stopping_rule(data_file, tmp_path, method):
    out = tmp_path / f"{method}.h5"
    r = _run("solve", data_file, "--method", method, "-o", out)
    assert r.exit_code == 0, r.output
    arrays, meta = load_mu_miso_solution(out)
    data = load_mu_miso(data_file)
    direct = solve_beamforming(method, data.h, p_max_w=data.config.p_max_w,
                               noise_w=data.config.noise_w)
    np.testing.assert_array_equal(arrays["w"], direct.w)
    assert meta["options"]["stopping_rule"] == direct.options["stopping_rule"]
    assert meta["method"] == method and meta["seed"] == 4 and meta["version"]
    closed_form = method in ("mrt", "zf", "zf-wf", "rzf")
    assert set(arrays["status"]) <= ({"heuristic"} if closed_form
                                     else {"optimal", "converged", "max_iter"})


def test_wmmse_options_and_evaluate(data_file, tmp_path):
    w_out, m_out = tmp_path / "w.h5", tmp_path / "m.h5"
    r = _run("solve", data_file, "--method", "wmmse", "--restarts", 2, "--init", "mrt",
             "--power-constraint", "per-antenna", "--tol", "1e-5", "--seed", 3, "-o", w_out)
    assert r.exit_code == 0, r.output
    assert "WMMSE (init mrt, per-antenna power, 20 sweeps), tol 1e-05 relative" in r.output
    assert _run("solve", data_file, "--method", "maxmin", "-o", m_out).exit_code == 0
    r = _run("evaluate", data_file, w_out, m_out, "--json")
    assert r.exit_code == 0, r.output
    rows = {(x["method"], x["metric"]): x for x in json.loads(r.output)}
    data = load_mu_miso(data_file)
    w = load_mu_miso_solution(w_out)[0]["w"]
    expect = user_rates_bps(data.h, w, data.config.noise_w).sum(1).mean()
    assert rows[("wmmse", "sum-rate")]["mean"] == pytest.approx(expect, rel=1e-12)
    assert rows[("maxmin", "min-rate")]["pct_of_reference_mean_ratio"] == pytest.approx(100)
    assert rows[("wmmse", "min-rate")]["pct_of_reference_mean_ratio"] < 100
    r = _run("evaluate", data_file, w_out, m_out)
    assert "units: bit/s/Hz" in r.output


def test_cli_bad_input_is_one_line_and_writes_nothing(data_file, tmp_path):
    out = tmp_path / "o.h5"
    cases = [
        (("solve", data_file, "--method", "fp", "-o", out), "method='fp' is invalid"),
        (("solve", data_file, "--method", "wmmse", "--init", "ones", "-o", out), "init='ones'"),
        (("solve", data_file, "--method", "zf", "--restarts", 2, "-o", out),
         "option restarts=2 is not used by method 'zf'"),
        (("simulate", "mu-miso", "--n", 3, "--set", "n_users=0", "-o", out), "n_users=0"),
        (("simulate", "mu-miso", "--n", 3, "--preset", "paper", "-o", out), "preset='paper'"),
        (("simulate", "mu-miso", "--n", 3, "--set", "p_max_dbm=high", "-o", out),
         "p_max_dbm='high' is invalid"),
    ]
    for args, message in cases:
        r = _run(*args)
        assert r.exit_code == 2 and message in r.output, r.output
        assert r.output.count("\n") == 1 and "Traceback" not in r.output
        assert not out.exists()
    wide = tmp_path / "wide.h5"
    assert _run("simulate", "mu-miso", "--n", 2, "--set", "n_users=9", "-o", wide).exit_code == 0
    r = _run("solve", wide, "--method", "zf", "-o", out)
    assert r.exit_code == 2 and "n_users=9 > n_antennas=8" in r.output and not out.exists()


def test_loading_a_file_of_another_kind_or_bad_arrays(data_file, tmp_path):
    with pytest.raises(ConfigError, match="holds kind='mu-miso-samples'; expected kind="):
        load_mu_miso_solution(data_file)
    data = load_mu_miso(data_file)
    data.h[0, 0, 0] = np.nan
    bad = tmp_path / "bad.h5"
    save_mu_miso(data, bad)
    with pytest.raises(ConfigError, match="h holds non-numeric or non-finite values"):
        load_mu_miso(bad)


def test_torch_sinr_and_rates_match_numpy():
    cfg = MuMisoConfig.from_preset("cell")
    h = generate_mu_miso(cfg, 64, seed=9).h
    w = solve_beamforming("rzf", h, p_max_w=cfg.p_max_w, noise_w=cfg.noise_w).w
    ref = sinr(h, w, cfg.noise_w)
    got64 = mu_miso_sinr(torch.from_numpy(h), torch.from_numpy(w), cfg.noise_w)
    assert got64.dtype == torch.float64
    np.testing.assert_allclose(got64.numpy(), ref, rtol=1e-12)
    got32 = mu_miso_sinr(torch.from_numpy(h).to(torch.complex64),
                         torch.view_as_real(torch.from_numpy(w)).float(), cfg.noise_w)
    np.testing.assert_allclose(got32.numpy(), ref, rtol=2e-4)
    rates = mu_miso_rates_nats(torch.from_numpy(h), torch.from_numpy(w), cfg.noise_w)
    np.testing.assert_allclose(rates.numpy() / np.log(2), user_rates_bps(h, w, cfg.noise_w),
                               rtol=1e-12)


def test_torch_sinr_gradient_is_finite_at_zero_beams():
    h = torch.randn(4, 3, 5, dtype=torch.complex128)
    w = torch.zeros(4, 3, 5, 2, dtype=torch.float64, requires_grad=True)
    mu_miso_rates_nats(h, w, 1.0).min(dim=-1).values.sum().backward()
    assert torch.isfinite(w.grad).all()
