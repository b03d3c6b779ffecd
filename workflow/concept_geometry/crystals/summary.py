"""Headline rows of the crystals stage for ``results/summary/crystals.tsv``.

Columns ``stage, quantity, setting, model, value``; ``setting`` is ``key=value`` pairs in
the fixed order layer, space, variant (the report joins these with the papers' values).
``layer`` is the layer's label in ``crystals.layer_convention`` (``3``, ``embed`` or
``hidden_states[12]``). ``variant=faithful`` is the paper's computation: LDA, distractor PCs
and k-means fitted and scored on the same pairs, the distractor PCs of the z-scored
input − output differences against the last-subword character difference (Fig. 10);
``variant=corrected`` fits on some pairs and scores others (silhouette: cross-validated;
ARI, purity, crystal quality: a held-out half), with distractor PCs of the centred
differences against the token-length difference.
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
        add("ari", r.ari, space=r.space, variant=r.variant)
        add("purity", r.purity, space=r.space, variant=r.variant)
    med = quality.groupby(["space", "variant"], sort=False)[[
        "parallelogram_error_median", "trapezoid_cos_median", "baseline_error_median",
        "baseline_cos_median"]].median()
    for (space, variant), r in med.iterrows():
        for quantity, value in r.items():
            add(quantity, value, space=space, variant=variant)
    for variant, d in distractors.groupby("variant", sort=False):
        first = d.sort_values("component").iloc[0]
        add("pc1_corr_last_subword_chars_diff", first["corr_last_subword_chars_diff"], variant=variant)
        add("pc1_corr_length_diff", first["corr_length_diff"], variant=variant)
        add("pc1_explained_variance", first["explained_variance"], variant=variant)
        if variant == "corrected":  # the subspace distractor_removed projects out
            add("n_distractor_components_removed", d["removed"].sum(), variant=variant)
    add("n_pairs_used", pairs["used"].sum())
    add("n_pairs_dropped", (~pairs["used"].astype(bool)).sum())
    return pd.DataFrame(rows, columns=COLUMNS)
