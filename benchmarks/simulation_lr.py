"""Benchmark: does `simulation.lr: auto` train the simulation study for large m (7…10)?

CI trains m = 2…6 at the defaults (tests/test_simulation.py); m = 7…10 are too big for it
(m = 10 is 3^10 × 2^10 ≈ 60 M logits per step). For each m this trains the `full` setting of
replicate 0 at the default config (d, steps, init_scale; `lr: auto`) and prints the final
loss (at d = m by default: the default d = 6 < m cannot represent the conditionals, so
its gap would measure the dimension, not the rate), its relative gap to the entropy floor
(target ≤ 5 %), the mean steering cosine and the time. With ``--probe`` it also tries
lr × {1/2, 2, 4} for a short run to show where the auto rate sits in the stable range.

    python benchmarks/simulation_lr.py --m 7 8            # ~ minutes on a laptop core
    python benchmarks/simulation_lr.py --m 9 10 --steps 1500
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from concept_geometry.simulation.experiments import (
    make_problem,
    resolve_lr,  # noqa: E402
    run_setting,
)
from concept_geometry.simulation.model import TrainConfig, TrainingDiverged  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, nargs="+", default=[7, 8, 9, 10])
    ap.add_argument("--steps", type=int, default=None, help="default: config/config.yaml")
    ap.add_argument("--d", type=int, default=None, help="default: d = m")
    ap.add_argument("--probe", action="store_true")
    args = ap.parse_args()
    cfg = dict(yaml.safe_load((ROOT / "config/config.yaml").read_text())["simulation"])
    steps = args.steps or cfg["steps"]
    print("m\tlr\tsteps\tfinal_loss\tentropy\trel_gap\tsteering_cos\tseconds", flush=True)
    for m in args.m:
        cfg["m"] = m
        problem = make_problem(m, cfg["edge_prob"], 0, 0, cfg["cpt_low"], cfg["cpt_high"])
        lr = resolve_lr(cfg, cfg["optimizer"])
        factors = [1.0, 0.5, 2.0, 4.0] if args.probe else [1.0]
        for factor in factors:
            train = TrainConfig(
                steps=steps if factor == 1.0 else min(steps, 300),
                lr=lr * factor,
                init_scale=cfg["init_scale"],
                log_every=steps + 1,
                optimizer=cfg["optimizer"],
            )
            t0 = time.perf_counter()
            try:
                met, info = run_setting(problem, args.d or m, 1.0, 1.0, train, 0, 0)
            except TrainingDiverged as err:
                print(f"{m}\t{train.lr:g}\t{train.steps}\tdiverged: {err}", flush=True)
                continue
            gap = (info["final_loss"] - info["entropy"]) / info["entropy"]
            print(
                f"{m}\t{train.lr:g}\t{train.steps}\t{info['final_loss']:.4f}\t"
                f"{info['entropy']:.4f}\t{gap:.4f}\t{np.nanmean(met['steering_cos']):.4f}\t"
                f"{time.perf_counter() - t0:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
