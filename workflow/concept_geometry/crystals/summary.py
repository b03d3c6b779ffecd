"""Headline rows of the crystals stage for ``results/summary/crystals.tsv``.

Columns ``stage, quantity, setting, model, value``; ``setting`` is ``key=value`` pairs in
the fixed order layer, space, variant (the report joins these with the papers' values).
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["stage", "quantity", "setting", "model", "value"]


def summary_rows(model: str, layer: str, clusters: pd.DataFrame, silhouette: pd.DataFrame,
                 quality: pd.DataFrame, distractors: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """One layer's headline numbers (quality medians are medians over relations)."""
    rows = []

    def add(quantity, value, **setting):
        text = ",".join(f"{k}={v}" for k, v in (("layer", layer), *setting.items()))
        rows.append(("crystals", quantity, text, model, float(value)))

    for r in silhouette.itertuples():
        add("silhouette", r.silhouette, space=r.space, variant=r.variant)
    for r in clusters.itertuples():
        add("ari", r.ari, space=r.space)
        add("purity", r.purity, space=r.space)
    med = quality.groupby("space", sort=False)[[
        "parallelogram_error_median", "trapezoid_cos_median", "baseline_error_median",
        "baseline_cos_median"]].median()
    for space, r in med.iterrows():
        for quantity, value in r.items():
            add(quantity, value, space=space)
    add("pc1_corr_length_diff", distractors["corr_length_diff"].iloc[0])
    add("pc1_explained_variance", distractors["explained_variance"].iloc[0])
    add("n_distractor_components_removed", distractors["removed"].sum())
    add("n_pairs_used", pairs["used"].sum())
    add("n_pairs_dropped", (~pairs["used"].astype(bool)).sum())
    return pd.DataFrame(rows, columns=COLUMNS)
