"""Test-set figures of every finished network of one seed of a ``reproduce mu-miso`` run,
also while the run is still going (the report needs every network of every seed).

For each ``source/<name>`` (sum-rate head) and ``target/<strategy>-lr<lr>`` (min-rate head)
folder with a ``net.pt``, prints the sum-rate in % of the run's best-of-K WMMSE and the
min-rate in % of the exact max-min optimum on the seed's test set (``baselines.h5``; means
of per-sample ratios, as in the report).

Usage::

    python benchmarks/mu_miso_eval_nets.py runs/mu-miso-maxmin --unit seed-2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from experiments.mu_miso import fit_inputs, model_family, network_input, tensors
from simulators.beamforming import user_rates_bps
from wirelessrl.checkpoint import load_net
from wirelessrl.config import load_yaml
from wirelessrl.datasets import load_mu_miso
from wirelessrl.fileio import read_arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--unit", default="seed-1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_yaml(args.run_dir / "config.yaml")
    unit = args.run_dir / args.unit
    kind, family = config["model"]["input"], model_family(config)
    train, test = (load_mu_miso(unit / "data" / f"{s}.h5") for s in ("source_train", "test"))
    x = tensors(test, fit_inputs(family, network_input(train, kind)), kind, family)["x"]
    base, meta = read_arrays(unit / "baselines.h5", "mu-miso-baselines")
    keys = {label: m["key"] for label, m in meta["methods"].items()}
    wmmse = next(k for k in keys if k.startswith("WMMSE best of"))
    noise = test.config.noise_w
    ref_sum = user_rates_bps(test.h, base[keys[wmmse]], noise).sum(1)
    ref_min = user_rates_bps(test.h, base[keys["max-min optimum"]], noise).min(1)
    print(f"{args.unit}: {len(test.h)} test samples; sum-rate in % of {wmmse}, min-rate in % "
          "of the max-min optimum")
    print("| network | sum-rate, % | min-rate, % |\n|---|---|---|")
    for folder, head in (("source", "sum_rate"), ("target", "min_rate")):
        for path in sorted((unit / folder).glob("*/net.pt")):
            net, _ = load_net(path)
            net.drop_decoder().eval()
            with torch.no_grad():
                out = net(x, head=head)["out"].double().numpy()
            pairs = out.reshape(*test.h.shape, 2)
            r = user_rates_bps(test.h, pairs[..., 0] + 1j * pairs[..., 1], noise)
            print(f"| {folder}/{path.parent.name} | {100 * np.mean(r.sum(1) / ref_sum):.2f} | "
                  f"{100 * np.mean(r.min(1) / ref_min):.2f} |")


if __name__ == "__main__":
    main()
