"""The four experiments of the simulation study (Jiang et al. 2024 §5.1; spec claims 1-6).

- ``full``: all contexts D, all outputs C, dimension d.
- ``incomplete_contexts``: train on a random fraction of the contexts (D̂ ⊂ D).
- ``incomplete_concepts``: keep a random fraction of the outputs (Ĉ ⊂ C); targets are
  renormalised over Ĉ and contexts with no mass on Ĉ are dropped.
- ``dimension``: all of D and C, representation dimension d swept (including d < m).

With ``implicit_bias_contrast`` on, ``full`` also trains the other optimiser (setting
``optimizer=adam`` next to ``all`` for the default GD): the implicit-bias contrast of the
theory. Every setting also records the model's log-odds of each concept across the contexts
where that concept is unknown (``concept_log_odds``), the log-odds-matching side of it.

A replicate seed fixes the DAG (the same DAG in every experiment), so a kept fraction of 1.0
gives exactly the ``full`` run. All randomness derives from the master seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..seeding import derive_seed
from . import dag as dagmod
from .linearity import REL_SD_FLOOR, _nanmean, linearity_metrics, log_odds_spread  # noqa: F401
from .metrics import cosine_matrix
from .model import TrainConfig, TrainingDiverged, auto_lr
from .runs import PROBE_HALVINGS, PROBE_STEPS, _divergence_error, _subset, run_setting  # noqa: F401 (re-exported)

EXPERIMENTS = ("full", "incomplete_contexts", "incomplete_concepts", "dimension")

__all__ = [
    "EXPERIMENTS",
    "Problem",
    "SettingResult",
    "make_problem",
    "experiment_settings",
    "setting_label",
    "run_setting",
    "linearity_metrics",
    "run_experiment",
    "resolve_lr",
    "log_odds_spread",
]


@dataclass
class Problem:
    """One latent-concept model: its DAG, exact joint, all contexts and conditionals."""

    dag: dagmod.Dag
    joint: np.ndarray  # (2**m,)
    contexts: np.ndarray  # (3**m, m)
    targets: np.ndarray  # (3**m, 2**m) exact p(y | x)
    independent: np.ndarray  # (m, m) bool

    @property
    def m(self) -> int:
        return self.dag.m


@dataclass
class SettingResult:
    """Per-concept metrics (m rows), orthogonality pairs, training curve of one setting."""

    concepts: pd.DataFrame
    orthogonality: pd.DataFrame
    curve: pd.DataFrame


def make_problem(
    m: int,
    edge_prob: float,
    master_seed: int,
    replicate: int,
    low: float = 0.3,
    high: float = 0.7,
    tol: float = 1e-9,
) -> Problem:
    """Draw the replicate's random DAG and compute everything exact about it."""
    rng = np.random.default_rng(derive_seed(master_seed, "simulation", "dag", replicate))
    dag = dagmod.random_dag(m, edge_prob, rng, low=low, high=high)
    joint = dagmod.joint_distribution(dag)
    contexts = dagmod.all_contexts(m)
    targets = dagmod.conditionals(joint, contexts, m)
    return Problem(
        dag=dag,
        joint=joint,
        contexts=contexts,
        targets=targets,
        independent=dagmod.independence_matrix(joint, m, tol=tol),
    )


def setting_label(experiment: str, value) -> str:
    """The `setting` string of a sweep value: 'all', 'context_frac=0.5', 'd=4', ..."""
    if experiment == "full":
        return "all"
    key = {
        "incomplete_contexts": "context_frac",
        "incomplete_concepts": "concept_frac",
        "dimension": "d",
    }[experiment]
    return f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"


def experiment_settings(experiment: str, cfg: dict) -> list[dict]:
    """The settings (d, context_frac, concept_frac, label) an experiment runs, from the
    config section ``simulation``."""
    base = {
        "d": int(cfg["d"]),
        "context_frac": 1.0,
        "concept_frac": 1.0,
        "optimizer": cfg["optimizer"],
    }
    if experiment == "full":
        out = [{**base, "setting": setting_label("full", None)}]
        if cfg.get("implicit_bias_contrast", False):
            other = "adam" if cfg["optimizer"] == "gd" else "gd"
            out.append({**base, "optimizer": other, "setting": f"optimizer={other}"})
        return out
    if experiment == "incomplete_contexts":
        return [
            {**base, "context_frac": float(q), "setting": setting_label(experiment, float(q))}
            for q in cfg["context_fracs"]
        ]
    if experiment == "incomplete_concepts":
        return [
            {**base, "concept_frac": float(q), "setting": setting_label(experiment, float(q))}
            for q in cfg["concept_fracs"]
        ]
    if experiment == "dimension":
        return [
            {**base, "d": int(d), "setting": setting_label(experiment, int(d))} for d in cfg["dims"]
        ]
    raise ValueError(f"unknown experiment {experiment!r}; expected one of {EXPERIMENTS}")


def resolve_lr(cfg: dict, optimizer: str) -> float:
    """The learning rate of ``optimizer``: ``simulation.lr`` when it is a number and
    ``optimizer`` is the configured one, else :func:`model.auto_lr` (`lr: auto`; also the
    contrast optimiser's rate)."""
    lr = cfg["lr"]
    if lr == "auto" or optimizer != cfg["optimizer"]:
        return auto_lr(optimizer, int(cfg["m"]))
    return float(lr)


def run_experiment(
    experiment: str, cfg: dict, master_seed: int, replicate: int, log=None, progress: bool = False
) -> SettingResult:
    """Run every setting of ``experiment`` for one replicate; tidy tables out.

    cfg: the validated config section ``simulation``. Tables:
    concepts (one row per setting × concept), orthogonality (one row per setting × pair
    i < j), curve (one row per setting × logged step).
    """
    problem = make_problem(
        cfg["m"],
        cfg["edge_prob"],
        master_seed,
        replicate,
        low=cfg["cpt_low"],
        high=cfg["cpt_high"],
        tol=cfg["independence_tol"],
    )
    m = problem.m
    concept_rows, orth_rows, curve_rows = [], [], []
    iu, ju = np.triu_indices(m, k=1)
    for s in experiment_settings(experiment, cfg):
        train = TrainConfig(
            steps=cfg["steps"],
            lr=resolve_lr(cfg, s["optimizer"]),
            init_scale=cfg["init_scale"],
            log_every=cfg["log_every"],
            optimizer=s["optimizer"],
        )
        if log is not None:
            log.info(
                "experiment %s, replicate %d, setting %s: training (%s, lr %g)",
                experiment,
                replicate,
                s["setting"],
                train.optimizer,
                train.lr,
            )
        args = (problem, s["d"], s["context_frac"], s["concept_frac"])
        try:
            met, info = run_setting(*args, train, master_seed, replicate, progress=progress)
        except TrainingDiverged as err:
            raise _divergence_error(
                err,
                experiment,
                replicate,
                s,
                cfg,
                train,
                lambda t, args=args: run_setting(*args, t, master_seed, replicate),
            ) from None
        key = {"experiment": experiment, "setting": s["setting"], "seed": replicate}
        for i in range(m):
            concept_rows.append(
                {
                    **key,
                    "optimizer": train.optimizer,
                    "m": m,
                    "d": s["d"],
                    "context_frac": s["context_frac"],
                    "concept_frac": s["concept_frac"],
                    "concept": i,
                    "steering_cos": met["steering_cos"][i],
                    "embedding_cos": met["embedding_cos"][i],
                    "alignment_cos": met["alignment_cos"][i],
                    "final_loss": info["final_loss"],
                    "entropy_floor": info["entropy"],
                    "excess_loss": info["final_loss"] - info["entropy"],
                    "n_steering_vectors": met["n_steering"][i],
                    "n_embedding_pairs": met["n_embedding"][i],
                    "n_contexts": info["n_contexts"],
                    "n_outputs": info["n_outputs"],
                    "logodds_mean": met["logodds_mean"][i],
                    "logodds_var": met["logodds_var"][i],
                    "logodds_rel_sd": met["logodds_rel_sd"][i],
                    "n_logodds_contexts": met["n_logodds_contexts"][i],
                }
            )
        cu = cosine_matrix(met["unembedding_dirs"])  # NaN where a concept has no pairs
        ce = cosine_matrix(met["embedding_dirs"])
        for i, j in zip(iu, ju, strict=False):
            orth_rows.append(
                {
                    **key,
                    "concept_i": int(i),
                    "concept_j": int(j),
                    "independent": bool(problem.independent[i, j]),
                    "cos": float(cu[i, j]),
                    "embedding_cos": float(ce[i, j]),
                    "optimizer": train.optimizer,
                }
            )
        for row in met["curve"]:
            curve_rows.append({**key, "optimizer": train.optimizer, **row})
    return SettingResult(
        concepts=pd.DataFrame(concept_rows),
        orthogonality=pd.DataFrame(orth_rows),
        curve=pd.DataFrame(curve_rows),
    )
