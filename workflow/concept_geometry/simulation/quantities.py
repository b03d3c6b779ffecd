"""Headline quantities of the simulation study (Jiang et al. 2024 §5.1), for the registry
(concept_geometry/registry.py) and results/summary/simulation.tsv (model
``latent-concept-model``).

Table ``cells``: one record per experiment × setting of results/simulation/summary.tsv
(sorted), with means over seeds and the concepts measured; next to each cosine mean,
``<metric>_n_concepts`` counts the concept × seed cells it averages over, out of
``n_concept_cells``, and ``<metric>_low_coverage`` is 1 when that is fewer than half of them
(0 otherwise). Setting: ``experiment=<name>`` then the experiment's own setting unless it is
``all`` (``experiment=full``, ``experiment=full,optimizer=adam``, ``experiment=dimension,d=4``).
Table ``orthogonality``: experiment ``full`` (setting ``all``) only. Table ``mechanism``: the
pooled rank correlations of results/simulation/mechanism.tsv (rows ``experiment=all``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import io
from ..registry import Quantity, Table, Unit
from .summary import COSINES, MIN_COVERAGE, MODEL, coverage

TABLES = (
    Table("cells", "simulation_collect", "simulation/summary.tsv", by=("experiment", "label")),
    Table("orthogonality", "simulation_collect", "simulation/orthogonality.tsv"),
    Table("mechanism", "simulation_mechanism", "simulation/mechanism.tsv"),
)
HINT = "`simulation.lr` (training diverged: lower it) or `simulation.steps`"
_S = ("experiment", "optimizer", "context_frac", "concept_frac", "d")
_J = "Jiang et al. 2024 §5.1"
_LIN = "concept_geometry.simulation.experiments.linearity_metrics"
_THIS = "concept_geometry.simulation.quantities"
_WHAT = {
    "steering_cos": ("steering", "steering_cos_mean"),
    "embedding_cos": ("embedding", "embedding_cos_mean"),
    "alignment_cos": ("alignment", "alignment_cos_mean"),
}
_MEAN_DEFINITION = {
    "steering_cos": "Mean cosine between same-concept steering vectors: differences of the "
    "unembedding vectors g(y) of two outputs that differ only in that concept, "
    "compared across the other concepts' values; averaged over the measured "
    "concept × seed cells. Near 1: the concept is one direction (linear). Jiang "
    "et al. §5.1.",
    "embedding_cos": "As steering_cos_mean for the context embeddings f(x): cosine between "
    "differences of embeddings of contexts that differ only in one concept, "
    "averaged over concept × seed cells.",
    "alignment_cos": "Mean cosine between a concept's embedding direction and its unembedding "
    "(steering) direction, over concept × seed cells: the simulation's version "
    "of the embedding/unembedding alignment.",
}
_N_DEFINITION = {
    "steering_cos": "Concept × seed cells that steering_cos_mean averages over (cells without a "
    "usable pair are left out).",
    "embedding_cos": "Concept × seed cells that embedding_cos_mean averages over.",
    "alignment_cos": "Concept × seed cells that alignment_cos_mean averages over.",
}
_LOW_DEFINITION = {
    "steering_cos": "1 when steering_cos_mean averages over fewer than half of the concept × "
    "seed cells (n_concept_cells), else 0.",
    "embedding_cos": "1 when embedding_cos_mean averages over fewer than half of the concept × "
    "seed cells, else 0.",
    "alignment_cos": "1 when alignment_cos_mean averages over fewer than half of the concept × "
    "seed cells, else 0.",
}


def _cosine_quantities(metric: str) -> tuple:
    paper = {"steering_cos": f"{_J} (linearity of steering vectors)"}.get(metric, "")
    return (
        Quantity(
            f"{metric}_mean",
            "cells",
            f"{metric}_mean",
            _S,
            _LIN,
            paper,
            "real",
            _MEAN_DEFINITION[metric],
            required=metric == "steering_cos",
        ),
        Quantity(
            f"{metric}_n_concepts",
            "cells",
            f"{metric}_n_concepts",
            _S,
            f"{_THIS}.cells",
            "",
            "count",
            _N_DEFINITION[metric],
        ),
        Quantity(
            f"{metric}_low_coverage",
            "cells",
            f"{metric}_low_coverage",
            _S,
            f"{_THIS}.cells",
            "",
            "boolean",
            _LOW_DEFINITION[metric],
        ),
    )


QUANTITIES = (
    *(q for metric in COSINES for q in _cosine_quantities(metric)),
    Quantity(
        "n_concept_cells",
        "cells",
        "n_concept_cells",
        _S,
        f"{_THIS}.cells",
        "",
        "count",
        "Concepts × replicate seeds at this setting: the most cells a cosine mean can "
        "average over.",
    ),
    Quantity(
        "final_loss_mean",
        "cells",
        "final_loss_mean",
        _S,
        "concept_geometry.simulation.runs.run_setting",
        "",
        "real",
        "Cross-entropy (nats) of the model's next-token distribution against the exact "
        "conditionals at the last training step, mean over seeds.",
    ),
    Quantity(
        "orth_abs_cos_independent",
        "orthogonality",
        "orth_abs_cos_independent",
        ("experiment",),
        f"{_THIS}.orthogonality",
        f"{_J} and §4 (orthogonality)",
        "real",
        "Mean |cos| between steering directions of two different concepts that are "
        "independent in the DAG's joint distribution (experiment full). Near 0: "
        "near-orthogonal.",
    ),
    Quantity(
        "n_pairs_independent",
        "orthogonality",
        "n_pairs_independent",
        ("experiment",),
        f"{_THIS}.orthogonality",
        "",
        "count",
        "Concept pairs × seeds behind orth_abs_cos_independent.",
    ),
    Quantity(
        "orth_abs_cos_dependent",
        "orthogonality",
        "orth_abs_cos_dependent",
        ("experiment",),
        f"{_THIS}.orthogonality",
        "",
        "real",
        "Mean |cos| between steering directions of two different concepts that are "
        "dependent in the joint (experiment full).",
    ),
    Quantity(
        "n_pairs_dependent",
        "orthogonality",
        "n_pairs_dependent",
        ("experiment",),
        f"{_THIS}.orthogonality",
        "",
        "count",
        "Concept pairs × seeds behind orth_abs_cos_dependent.",
    ),
    Quantity(
        "spearman_logodds_rel_sd_vs_steering_cos",
        "mechanism",
        "spearman_logodds_rel_sd_vs_steering_cos",
        ("experiment",),
        "concept_geometry.simulation.mechanism.mechanism_table",
        "",
        "real",
        "Spearman rank correlation, pooled over the concept × seed cells of every "
        "experiment (setting experiment=all), between the relative spread (sd / mean "
        "|value|) of the model's log-odds of a concept across the contexts where it is "
        "unknown and that concept's steering cosine (log-odds matching: expected "
        "negative).",
    ),
    Quantity(
        "spearman_logodds_var_vs_steering_cos",
        "mechanism",
        "spearman_logodds_var_vs_steering_cos",
        ("experiment",),
        "concept_geometry.simulation.mechanism.mechanism_table",
        "",
        "real",
        "As spearman_logodds_rel_sd_vs_steering_cos with the variance of the log-odds "
        "instead of the relative spread.",
    ),
)


def cells(summary: pd.DataFrame) -> list[dict]:
    """One record per (experiment, setting) of summary.tsv: cosine means over the measured
    concept × seed cells, their counts and coverage flags, the cell count and mean loss."""
    out = []
    for (exp, label), grp in summary.groupby(["experiment", "setting"], sort=True):
        rec = {"experiment": exp, "label": label}
        if label != "all":
            key, _, value = label.partition("=")
            rec[key] = value
        for metric in COSINES:
            n, total = coverage(grp, metric)
            rec[f"{metric}_mean"] = np.nanmean(grp[metric]) if n else np.nan
            rec[f"{metric}_n_concepts"] = n
            rec[f"{metric}_low_coverage"] = float(n < MIN_COVERAGE * total)
        rec["n_concept_cells"] = len(grp)
        rec["final_loss_mean"] = grp["final_loss"].mean()
        out.append(rec)
    return out


def orthogonality(orth: pd.DataFrame) -> list[dict]:
    """Mean |cos| and pair counts of independent and dependent concept pairs, experiment
    ``full`` at setting ``all`` only (none when that experiment did not run)."""
    full = orth[(orth["experiment"] == "full") & (orth["setting"] == "all")]
    if not len(full):
        return []
    rec = {"experiment": "full"}
    for flag, name in [(True, "independent"), (False, "dependent")]:
        part = full[full["independent"].astype(bool) == flag]
        rec[f"orth_abs_cos_{name}"] = part["cos"].abs().mean() if len(part) else np.nan
        rec[f"n_pairs_{name}"] = len(part)
    return [rec]


def mechanism(table: pd.DataFrame) -> list[dict]:
    """The pooled (experiment ``all``) rows of mechanism.tsv, one record each."""
    from .mechanism import HEADLINE

    hit = table[table["quantity"].isin(HEADLINE) & (table["experiment"] == "all")]
    return [{"experiment": "all", rec.quantity: rec.value} for rec in hit.itertuples()]


def tables(summary: pd.DataFrame, orth: pd.DataFrame, mech: pd.DataFrame | None = None) -> dict:
    """summary.tsv, orthogonality.tsv (and mechanism.tsv) -> the stage tables."""
    return {
        "cells": cells(summary),
        "orthogonality": orthogonality(orth),
        "mechanism": [] if mech is None else mechanism(mech),
    }


def load(inputs, params) -> list[Unit]:
    """Rule simulation_summary: inputs summary, orthogonality, mechanism."""
    return [
        Unit(
            MODEL,
            tables(
                io.read_tsv(inputs["summary"]),
                io.read_tsv(inputs["orthogonality"]),
                io.read_tsv(inputs["mechanism"]),
            ),
        )
    ]
