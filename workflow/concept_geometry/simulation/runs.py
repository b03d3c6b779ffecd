"""One setting's training run (a subset of contexts and outputs, measured) and the diagnosis
of a diverged run (the largest stable learning rate, probed by halving)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..seeding import derive_seed
from .linearity import _nanmean, linearity_metrics, log_odds_spread
from .model import TrainConfig, TrainingDiverged, auto_lr, entropy, train_log_linear

if TYPE_CHECKING:
    from .experiments import Problem


def _subset(n: int, frac: float, seed: int) -> np.ndarray:
    """A sorted random subset of round(frac*n) indices out of n (all of them for frac=1)."""
    if frac >= 1.0:
        return np.arange(n)
    k = max(1, int(round(frac * n)))
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))


def run_setting(
    problem: Problem,
    d: int,
    context_frac: float,
    concept_frac: float,
    train: TrainConfig,
    master_seed: int,
    replicate: int,
    progress: bool = False,
) -> tuple[dict, dict]:
    """Train one model on (a subset of) the problem and measure it.

    Returns (metrics, info): metrics as in ``linearity_metrics`` plus ``curve`` (list of
    dicts: step, loss, steering_cos, embedding_cos); info: final_loss, entropy floor,
    numbers of contexts and outputs used.
    """
    m = problem.m
    n_out = 2**m
    keep_out = np.zeros(n_out, dtype=bool)
    keep_out[
        _subset(
            n_out,
            concept_frac,
            derive_seed(master_seed, "simulation", "outputs", replicate, f"{concept_frac:g}"),
        )
    ] = True
    ctx_idx = _subset(
        len(problem.contexts),
        context_frac,
        derive_seed(master_seed, "simulation", "contexts", replicate, f"{context_frac:g}"),
    )
    targets = problem.targets[np.ix_(ctx_idx, np.flatnonzero(keep_out))]
    mass = targets.sum(axis=1)
    has_mass = mass > 1e-300
    ctx_idx, targets = ctx_idx[has_mass], targets[has_mass] / mass[has_mass, None]
    contexts = problem.contexts[ctx_idx]
    out_idx = np.flatnonzero(keep_out)

    def full_g(g_kept: np.ndarray) -> np.ndarray:
        g = np.full((n_out, g_kept.shape[1]), np.nan)
        g[out_idx] = g_kept
        return g

    def monitor(f: np.ndarray, g_kept: np.ndarray) -> dict:
        met = linearity_metrics(f, full_g(g_kept), contexts, m, keep_out)
        return {
            "steering_cos": _nanmean(met["steering_cos"]),
            "embedding_cos": _nanmean(met["embedding_cos"]),
        }

    res = train_log_linear(
        targets,
        d,
        train,
        seed=derive_seed(master_seed, "simulation", "init", replicate, d),
        monitor=monitor,
        progress=progress,
    )
    metrics = linearity_metrics(res.f, full_g(res.g), contexts, m, keep_out)
    metrics.update(log_odds_spread(res.f, res.g, out_idx, contexts, m))
    metrics["curve"] = res.curve
    info = {
        "final_loss": res.final_loss,
        "entropy": entropy(targets),
        "n_contexts": int(len(ctx_idx)),
        "n_outputs": int(keep_out.sum()),
    }
    return metrics, info


PROBE_STEPS = 300  # steps of each trial run when a diverged run looks for a stable lr


PROBE_HALVINGS = 10


def _divergence_error(
    err: TrainingDiverged,
    experiment: str,
    replicate: int,
    setting: dict,
    cfg: dict,
    train: TrainConfig,
    retrain,
) -> TrainingDiverged:
    """One paragraph for a diverged run, with the largest of lr/2, lr/4, … that trained
    ``PROBE_STEPS`` steps of the same setting without diverging (``retrain(TrainConfig)``)."""
    suggestion = None
    for k in range(1, PROBE_HALVINGS + 1):
        trial = TrainConfig(
            steps=min(PROBE_STEPS, train.steps),
            lr=train.lr / 2**k,
            init_scale=train.init_scale,
            log_every=train.steps + 1,
            optimizer=train.optimizer,
        )
        try:
            retrain(trial)
        except TrainingDiverged:
            continue
        suggestion = trial.lr
        break
    m = int(cfg["m"])
    key = (
        "`simulation.lr`"
        if setting["optimizer"] == cfg["optimizer"]
        else f"the `auto` rate of the contrast optimiser {setting['optimizer']}"
    )
    fix = (
        f"Set `simulation.lr` to {suggestion:.3g} or lower (the largest of lr/2, lr/4, … "
        f"that trained {min(PROBE_STEPS, train.steps)} steps of this setting without "
        f"diverging)"
        if suggestion is not None
        else f"No rate down to lr/{2**PROBE_HALVINGS} trained stably; lower `simulation.lr` "
        f"further or `simulation.init_scale`"
    )
    return TrainingDiverged(
        f"Simulation training diverged (experiment `{experiment}`, replicate {replicate}, "
        f"setting `{setting['setting']}`): {err}, with `simulation.m` = {m} "
        f"({2**m} outputs, {3**m} contexts). The learning rate ({key} = {train.lr:g}) is "
        f"too large for this problem. {fix}, or use `simulation.lr: auto` "
        f"(= {auto_lr('gd', m):.3g} for gd at m = {m}, scaled with the 2^m outputs; "
        f"config/README.md, ## simulation). No output of this job was written.",
        step=err.step,
        loss=err.loss,
    )
