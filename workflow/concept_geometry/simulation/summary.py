"""Headline numbers of the simulation study for the final report (stage=simulation)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MODEL = "latent-concept-model"
COLUMNS = ["stage", "quantity", "setting", "model", "value"]
COSINES = ["steering_cos", "embedding_cos", "alignment_cos"]
MIN_COVERAGE = 0.5  # a mean over fewer than this fraction of the concept cells is flagged

__all__ = ["MODEL", "COLUMNS", "COSINES", "MIN_COVERAGE", "setting_key", "coverage",
           "headline_rows"]


def setting_key(experiment: str, setting: str) -> str:
    """The headline ``setting``: ``experiment=<name>`` then the setting unless it is ``all``,
    e.g. ``experiment=full``, ``experiment=full,optimizer=adam``, ``experiment=dimension,d=4``."""
    return f"experiment={experiment}" if setting == "all" else f"experiment={experiment},{setting}"


def coverage(group: pd.DataFrame, metric: str) -> tuple[int, int]:
    """(measured, total) concept × seed cells of one setting for ``metric``: a concept left
    with fewer than 2 vectors (e.g. its steering pairs dropped from Ĉ) has a NaN cosine and
    is not in the mean."""
    return int(np.isfinite(group[metric].to_numpy(dtype=float)).sum()), len(group)


def headline_rows(summary: pd.DataFrame, orthogonality: pd.DataFrame,
                  mechanism: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per headline number: columns ``stage, quantity, setting, model, value``.

    summary: results/simulation/summary.tsv; orthogonality: results/simulation/
    orthogonality.tsv; mechanism: results/simulation/mechanism.tsv (its pooled rank
    correlation joins the headline). Means are over seeds and the concepts (pairs) measured;
    next to each cosine mean, ``<metric>_n_concepts`` counts the concept × seed cells it
    averages over, out of ``n_concept_cells``, and ``<metric>_low_coverage`` is 1 when that
    is fewer than half of them (0 otherwise).
    """
    rows = []

    def add(quantity, setting, value):
        rows.append({"stage": "simulation", "quantity": quantity, "setting": setting,
                     "model": MODEL, "value": float(value)})

    for (exp, label), grp in summary.groupby(["experiment", "setting"], sort=True):
        setting = setting_key(exp, label)
        for metric in COSINES:
            n, total = coverage(grp, metric)
            add(f"{metric}_mean", setting, np.nanmean(grp[metric]) if n else np.nan)
            add(f"{metric}_n_concepts", setting, n)
            add(f"{metric}_low_coverage", setting, float(n < MIN_COVERAGE * total))
        add("n_concept_cells", setting, len(grp))
        add("final_loss_mean", setting, grp["final_loss"].mean())
    full = orthogonality[(orthogonality["experiment"] == "full")
                         & (orthogonality["setting"] == "all")]
    if len(full):
        for flag, name in [(True, "independent"), (False, "dependent")]:
            part = full[full["independent"].astype(bool) == flag]
            add(f"orth_abs_cos_{name}", "experiment=full",
                part["cos"].abs().mean() if len(part) else np.nan)
            add(f"n_pairs_{name}", "experiment=full", len(part))
    if mechanism is not None:
        from .mechanism import HEADLINE

        for quantity in HEADLINE:
            hit = mechanism[(mechanism["quantity"] == quantity)
                            & (mechanism["experiment"] == "all")]
            for rec in hit.itertuples():
                add(quantity, "experiment=all", rec.value)
    return pd.DataFrame(rows, columns=COLUMNS)
