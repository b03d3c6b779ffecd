"""Headline quantities of the crystals stage (Li et al. 2024 atom scale), for the registry
(concept_geometry/registry.py) and results/summary/crystals.tsv.

``setting`` is ``key=value`` pairs in the fixed order layer, space, variant (the report
joins these with the papers' values). ``layer`` is the layer's label in
``crystals.layer_convention`` (``3``, ``embed`` or ``hidden_states[12]``).
``variant=faithful`` is the paper's computation: LDA, distractor PCs and k-means fitted and
scored on the same pairs, the distractor PCs of the z-scored input − output differences
against the last-subword character difference (Fig. 10); ``variant=corrected`` fits on some
pairs and scores others (silhouette: cross-validated; ARI, purity, crystal quality: a
held-out half), with distractor PCs of the centred differences against the token-length
difference. Quality medians are medians over relations.
"""

from __future__ import annotations

import pandas as pd

from .. import io
from ..registry import Quantity, Table, Unit

_DIR = "crystals/<model>/layer_<L>/"
TABLES = (
    Table("silhouette", "crystals_analyse", _DIR + "silhouette.tsv"),
    Table("clusters", "crystals_analyse", _DIR + "clusters.tsv", by=("space", "variant")),
    Table("quality", "crystals_analyse", _DIR + "quality.tsv", by=("space", "variant")),
    Table("distractors", "crystals_analyse", _DIR + "distractors.tsv", by=("variant",)),
    Table("pairs", "crystals_differences", _DIR + "pairs.tsv"),
)
HINT = "`crystals.relations` / `crystals.min_pairs_per_relation` (too few usable pairs)"
_LI = "Li et al. 2024 atom scale"
_GEO = "concept_geometry.crystals.geometry"
_QUAL = "concept_geometry.crystals.quality"
_AN = "concept_geometry.crystals.analysis"
_LSV = ("layer", "space", "variant")
_LV = ("layer", "variant")

QUANTITIES = (
    Quantity(
        "silhouette",
        "silhouette",
        "silhouette",
        _LSV,
        f"{_QUAL}.silhouette",
        f"{_LI} (LDA silhouette)",
        "real",
        "Silhouette of the word-pair differences grouped by relation, in one space "
        "(setting space=: raw, distractor_removed, lda); faithful: LDA fitted and scored "
        "on the same pairs; corrected: held-out pairs.",
        required=True,
    ),
    Quantity(
        "ari",
        "clusters",
        "ari",
        _LSV,
        f"{_AN}.cluster_scores",
        f"{_LI} (k-means)",
        "real",
        "Adjusted Rand index between k-means clusters of the differences (k = number of "
        "relations) and the relation labels, in one space.",
        required=True,
    ),
    Quantity(
        "purity",
        "clusters",
        "purity",
        _LSV,
        f"{_QUAL}.purity",
        f"{_LI} (k-means)",
        "real",
        "Cluster purity of the same k-means clusters: fraction of pairs whose cluster's "
        "majority relation is their own.",
    ),
    Quantity(
        "parallelogram_error_median",
        "quality",
        "parallelogram_error_median",
        _LSV,
        f"{_QUAL}.parallelogram_error",
        f"{_LI} (parallelograms)",
        "real",
        "Median over relations of the median, over same-relation quadruples "
        "(a:b :: c:d), of ‖(b−a) − (d−c)‖ / (‖b−a‖ + ‖d−c‖): 0 for a perfect "
        "parallelogram, 1 for opposite vectors.",
    ),
    Quantity(
        "trapezoid_cos_median",
        "quality",
        "trapezoid_cos_median",
        _LSV,
        f"{_QUAL}.trapezoid_cos",
        f"{_LI} (trapezoids)",
        "real",
        "Median over relations of the median cos(b−a, d−c) over same-relation quadruples: "
        "1 for a trapezoid (parallel sides).",
    ),
    Quantity(
        "baseline_error_median",
        "quality",
        "baseline_error_median",
        _LSV,
        f"{_QUAL}.parallelogram_error",
        "",
        "real",
        "parallelogram_error_median for mixed-relation quadruples (the two pairs from "
        "different relations): the chance level.",
    ),
    Quantity(
        "baseline_cos_median",
        "quality",
        "baseline_cos_median",
        _LSV,
        f"{_QUAL}.trapezoid_cos",
        "",
        "real",
        "trapezoid_cos_median for mixed-relation quadruples: the chance level.",
    ),
    Quantity(
        "pc1_corr_last_subword_chars_diff",
        "distractors",
        "corr_last_subword_chars_diff",
        _LV,
        f"{_GEO}.fit_distractors_faithful",
        f"{_LI}, Fig. 10",
        "real",
        "Correlation between the first principal component of the differences and the "
        "difference in characters of the two words' last subword strings (the paper's "
        "Fig. 10 distractor).",
    ),
    Quantity(
        "pc1_corr_length_diff",
        "distractors",
        "corr_length_diff",
        _LV,
        f"{_GEO}.fit_distractors",
        "",
        "real",
        "Correlation between the first principal component of the differences and the "
        "difference in token length of the two words.",
    ),
    Quantity(
        "pc1_explained_variance",
        "distractors",
        "explained_variance",
        _LV,
        f"{_GEO}.fit_distractors",
        "",
        "real",
        "Fraction of the differences' variance explained by the first principal component.",
    ),
    Quantity(
        "n_distractor_components_removed",
        "distractors",
        "removed",
        _LV,
        f"{_GEO}.fit_distractors",
        "",
        "count",
        "Leading principal components the corrected variant projects out as distractors "
        "(those correlated with length).",
    ),
    Quantity(
        "n_pairs_used",
        "pairs",
        "n_pairs_used",
        ("layer",),
        "concept_geometry.crystals.residuals.pair_status",
        "",
        "count",
        "Word pairs used (known words, not identical tokens), over all relations.",
    ),
    Quantity(
        "n_pairs_dropped",
        "pairs",
        "n_pairs_dropped",
        ("layer",),
        "concept_geometry.crystals.residuals.pair_status",
        "",
        "count",
        "Word pairs dropped (unknown or identical-token words); reasons in pairs.tsv.",
    ),
)
_QUALITY = [
    "parallelogram_error_median",
    "trapezoid_cos_median",
    "baseline_error_median",
    "baseline_cos_median",
]


def tables(
    layer: str,
    clusters: pd.DataFrame,
    silhouette: pd.DataFrame,
    quality: pd.DataFrame,
    distractors: pd.DataFrame,
    pairs: pd.DataFrame,
) -> dict:
    """One layer's analysis tables -> the stage tables (``layer``: the layer's label)."""

    def records(frame):
        return [dict(r, layer=layer) for r in frame.to_dict("records")]

    med = quality.groupby(["space", "variant"], sort=False)[_QUALITY].median().reset_index()
    pcs = []
    for variant, d in distractors.groupby("variant", sort=False):
        first = d.sort_values("component").iloc[0]
        rec = {
            "layer": layer,
            "variant": variant,
            **{
                c: first[c]
                for c in ("corr_last_subword_chars_diff", "corr_length_diff", "explained_variance")
            },
        }
        if variant == "corrected":  # the subspace distractor_removed projects out
            rec["removed"] = d["removed"].sum()
        pcs.append(rec)
    used = {
        "layer": layer,
        "n_pairs_used": pairs["used"].sum(),
        "n_pairs_dropped": (~pairs["used"].astype(bool)).sum(),
    }
    return {
        "silhouette": records(silhouette),
        "clusters": records(clusters),
        "quality": records(med),
        "distractors": pcs,
        "pairs": [used],
    }


def load(inputs, params) -> list[Unit]:
    """Rule crystals_summary: inputs clusters, silhouette, quality, distractors, pairs (one
    file per layer each); params model, layers, layer_convention."""
    from .config import layer_label

    units = []
    for i, layer in enumerate(params["layers"]):
        frames = {
            k: io.read_tsv(inputs[k][i])
            for k in ("clusters", "silhouette", "quality", "distractors", "pairs")
        }
        # short labels read the same for "3" and 3 (params hold the layers as path strings)
        label = layer_label(layer, params["layer_convention"])
        units.append(Unit(params["model"], tables(label, **frames)))
    return units
