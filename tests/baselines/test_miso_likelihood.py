"""The exact-likelihood localization floor: against the closed form where it exists (one
pilot), bounds, seeding, bad input, and the file command."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from baselines.miso import centre_guess, localization_errors_m
from baselines.miso_likelihood import exact_likelihood_localization
from simulators.miso import MisoConfig, generate_miso, make_system
from simulators.validation import ConfigError


def _users(n, seed=3, **overrides):
    cfg = MisoConfig.from_preset("paper", **overrides)
    system = make_system(cfg, 0)
    return cfg, system, generate_miso(cfg, n, seed=seed, system=system)


def test_with_one_pilot_the_sampler_is_the_closed_form():
    # one pilot: no fading correlation to sample, the diagonal likelihood is exact, so the
    # importance sampler must reproduce its posterior mean (up to the 30-nat support cut)
    cfg, system, users = _users(4, n_pilots=1)
    est = exact_likelihood_localization(cfg, system, users.y, grid_step_m=5.0, n_particles=3)
    np.testing.assert_allclose(est["exact"], est["diag"], atol=1e-6)
    np.testing.assert_allclose(est["ess_median"], 3.0)  # equal weights: ESS = particles


def test_estimates_are_in_the_area_seeded_and_beat_the_centre_guess():
    cfg, system, users = _users(12)
    kw = {"grid_step_m": 5.0, "n_particles": 8}
    est = exact_likelihood_localization(cfg, system, users.y, **kw)
    again = exact_likelihood_localization(cfg, system, users.y, **kw)
    lo, hi = cfg.user_area_m
    for name in ("diag", "exact", "exact_geomed"):
        assert est[name].shape == (12, 2)
        assert np.all((est[name] >= lo) & (est[name] <= hi))
        np.testing.assert_array_equal(est[name], again[name])  # same seed, same bytes
    assert np.all((est["ess_median"] >= 1) & (est["ess_median"] <= 8))
    centre = localization_errors_m(centre_guess(12, cfg), users.positions_m).mean()
    assert localization_errors_m(est["exact"], users.positions_m).mean() < 0.5 * centre


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"grid_step_m": 0.0}, "grid_step_m"),
    ({"grid_step_m": "one"}, "grid_step_m"),
    ({"support_nats": -1.0}, "support_nats"),
    ({"n_particles": 0}, "n_particles"),
    ({"n_particles": 2.5}, "n_particles"),
])
def test_bad_settings_fail_naming_the_field(kwargs, message):
    cfg, system, users = _users(1)
    with pytest.raises(ConfigError, match=message):
        exact_likelihood_localization(cfg, system, users.y, **kwargs)


def test_wrong_observation_shape_fails_in_one_line():
    cfg, system, users = _users(1)
    with pytest.raises(ConfigError, match=r"y has shape \(1, 3\); expected \[n, 3, 4\]"):
        exact_likelihood_localization(cfg, system, users.y[:, :, 0])


def test_file_command_prints_the_floor(tmp_path):
    from wirelessrl.cli import main
    from wirelessrl.datasets import save_miso

    cfg, system, users = _users(5)
    path = save_miso(users, tmp_path / "test.h5")
    args = ["likelihood-floor", str(path), "--users", "3", "--offset", "1", "--particles", "4",
            "--grid-step-m", "10"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["users"] == 3 and out["exact"]["mean_m"] > 0 and "rmse_m" in out["diag"]
    table = CliRunner().invoke(main, args)
    assert table.exit_code == 0 and "exact_geomed" in table.output
    too_many = CliRunner().invoke(main, [*args[:2], "--users", "6"])
    assert too_many.exit_code == 2 and "exceed the 5 users" in too_many.output
