"""Headline numbers of the simulation study for the final report (stage=simulation)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MODEL = "latent-concept-model"
COLUMNS = ["stage", "quantity", "setting", "model", "value"]


def headline_rows(summary: pd.DataFrame, orthogonality: pd.DataFrame) -> pd.DataFrame:
    """One row per headline number: columns ``stage, quantity, setting, model, value``.

    summary: results/simulation/summary.tsv; orthogonality: results/simulation/
    orthogonality.tsv. Means are over seeds and concepts (pairs); `setting` is
    ``experiment=<name>`` then the swept key, e.g. ``experiment=dimension,d=4``.
    """
    rows = []

    def add(quantity, setting, value):
        rows.append({"stage": "simulation", "quantity": quantity, "setting": setting,
                     "model": MODEL, "value": float(value)})

    for (exp, label), grp in summary.groupby(["experiment", "setting"], sort=True):
        setting = f"experiment={exp}" if exp == "full" else f"experiment={exp},{label}"
        add("steering_cos_mean", setting, np.nanmean(grp["steering_cos"]))
        add("embedding_cos_mean", setting, np.nanmean(grp["embedding_cos"]))
        add("alignment_cos_mean", setting, np.nanmean(grp["alignment_cos"]))
        add("final_loss_mean", setting, grp["final_loss"].mean())
    full = orthogonality[orthogonality["experiment"] == "full"]
    if len(full):
        for flag, name in [(True, "independent"), (False, "dependent")]:
            part = full[full["independent"].astype(bool) == flag]
            add(f"orth_abs_cos_{name}", "experiment=full",
                part["cos"].abs().mean() if len(part) else np.nan)
            add(f"n_pairs_{name}", "experiment=full", len(part))
    return pd.DataFrame(rows, columns=COLUMNS)
