"""A structured multi-user MISO beamformer trained at one K, tested at other K.

Loads the networks of a ``reproduce mu-miso ... model.family=structured`` run (the
``conventional`` source, sum-rate head, and every ``target/<strategy>-lr<lr>`` min-rate
network of the seed), draws ``--samples`` fresh channels of the run's preset with
``n_users`` set to each of ``--users`` (seed ``--seed``, not a training seed's stream), and
prints per K: the source's sum-rate in % of best-of-4 WMMSE (init zf or mrt when K > M,
+ 3 random starts, tol 1e-6 relative, max 1000 iterations) and each target's min-rate in %
of the exact max-min optimum (means of per-sample ratios, as in the report).

Usage::

    python benchmarks/mu_miso_any_k.py runs/mu-miso-structured --users 3,4,6 --samples 300
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from baselines.mu_miso import solve_beamforming
from experiments.mu_miso import network_input, system_config
from simulators.beamforming import user_rates_bps
from simulators.mu_miso import MuMisoConfig, generate_mu_miso
from wirelessrl.checkpoint import load_net
from wirelessrl.config import load_yaml


def _beams(net, x: np.ndarray, head: str) -> np.ndarray:
    with torch.no_grad():
        out = net(torch.from_numpy(x.astype(np.float32)), head=head)["out"].double().numpy()
    pairs = out.reshape(x.shape[0], x.shape[1], x.shape[2], 2)
    return pairs[..., 0] + 1j * pairs[..., 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--users", default="3,4,6")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--unit", default="seed-1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_yaml(args.run_dir / "config.yaml")
    base = system_config(config)
    unit = args.run_dir / args.unit
    source, _ = load_net(unit / "source" / "conventional" / "net.pt")
    targets = {p.name: load_net(p / "net.pt")[0] for p in sorted((unit / "target").iterdir())
               if (p / "net.pt").is_file()}
    for net in (source, *targets.values()):
        net.drop_decoder().eval()
    print(f"trained at K = {base.n_users}, M = {base.n_antennas}, preset "
          f"{config['system'].get('preset')}; {args.samples} test samples per K, seed {args.seed}")
    print("| K | source sum-rate, % of WMMSE best of 4 | "
          + " | ".join(f"{t} min-rate, % of max-min" for t in targets) + " |")
    print("|---|---|" + "---|" * len(targets))
    for k in (int(v) for v in args.users.split(",")):
        system = MuMisoConfig(**{**base.to_dict(), "n_users": k, "n_pilots": max(k, base.n_pilots)})
        samples = generate_mu_miso(system, args.samples, args.seed)
        h, noise = samples.h, system.noise_w
        x = network_input(samples, config["model"]["input"])
        init = "zf" if k <= system.n_antennas else "mrt"
        wmmse = solve_beamforming("wmmse", h, p_max_w=system.p_max_w, noise_w=noise, seed=1,
                                  init=init, restarts=4, tol=1e-6, iterations=1000).w
        maxmin = solve_beamforming("maxmin", h, p_max_w=system.p_max_w, noise_w=noise).w
        ref_sum = user_rates_bps(h, wmmse, noise).sum(1)
        ref_min = user_rates_bps(h, maxmin, noise).min(1)
        pct_sum = 100 * np.mean(user_rates_bps(h, _beams(source, x, "sum_rate"), noise).sum(1)
                                / ref_sum)
        cells = [f"{100 * np.mean(user_rates_bps(h, _beams(n, x, 'min_rate'), noise).min(1) / ref_min):.1f}"  # noqa: E501
                 for n in targets.values()]
        print(f"| {k} | {pct_sum:.1f} | " + " | ".join(cells) + " |")
    assert math.isfinite(pct_sum)


if __name__ == "__main__":
    main()
