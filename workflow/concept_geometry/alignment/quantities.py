"""Headline quantities of the alignment stage (Jiang et al. 2024 §5.2, Park et al. word
pairs), for the registry (concept_geometry/registry.py) and results/summary/alignment.tsv.

All from results/alignment/<model>/summary.json (:func:`geometry.summarise`), one unit per
model in ``alignment.models`` order. ``diag_stands_out`` is 1/0 (NaN when tied);
``diag_null_z``/``diag_null_p`` come from its ``diag_null``; the toy's two numbers are there
only for the offline toy model.
"""

from __future__ import annotations

from .. import io
from ..registry import Quantity, Table, Unit
from .geometry import ORTHOGONALITY, STANDS_OUT

_SUMMARY = "alignment/<model>/summary.json"
TABLES = (
    Table("diagonal", "alignment_analyse", _SUMMARY),
    Table("orthogonality", "alignment_analyse", _SUMMARY),
    Table("toy", "alignment_analyse", _SUMMARY),
)
_J = "Jiang et al. 2024 §5.2"
_GEO = "concept_geometry.alignment.geometry"
_NONE = ()
_SI = ("space", "inner_product")

QUANTITIES = (
    Quantity(
        "n_pairs_kept",
        "diagonal",
        "n_pairs_kept",
        _NONE,
        "concept_geometry.alignment.pairs.filter_pairs",
        f"{_J} (Park et al. word pairs)",
        "count",
        "Counterfactual word pairs kept after Park et al.'s filter (BOS + exactly "
        "one token, ids differ), over all concepts; dropped pairs and reasons are in "
        "pairs.tsv.",
    ),
    Quantity(
        "tied",
        "diagonal",
        "tied",
        _NONE,
        "concept_geometry.alignment.matrices.load_embedding_matrices",
        f"{_J}",
        "boolean",
        "1 when the model ties its input embedding and unembedding matrices (then the "
        "alignment check is trivial and reported as tied), else 0.",
    ),
    Quantity(
        "diag_mean_abs",
        "diagonal",
        "diag_mean_abs",
        _NONE,
        f"{_GEO}.diagonal_stats",
        f"{_J} (embedding/unembedding alignment)",
        "real",
        "Mean |cos| on the diagonal of the concept × concept embedding-vs-unembedding "
        "cosine matrix: how well each concept's embedding direction aligns with its own "
        "unembedding direction.",
    ),
    Quantity(
        "diag_mean",
        "diagonal",
        "diag_mean",
        _NONE,
        f"{_GEO}.summarise",
        "",
        "real",
        "Signed mean of the same diagonal.",
    ),
    Quantity(
        "diag_row_max",
        "diagonal",
        "diag_row_max",
        _NONE,
        f"{_GEO}.diagonal_stats",
        "",
        "count",
        "Rows of the cosine matrix in which the diagonal entry is the row's "
        "largest |cos| (out of the number of concepts).",
    ),
    Quantity(
        "diag_null_z",
        "diagonal",
        "diag_null_z",
        _NONE,
        f"{_GEO}.null_verdict",
        "",
        "real",
        "z-score of diag_mean_abs against the null of independent Gaussian embedding/"
        "unembedding matrices with the same pairs (alignment.null_draws redraws). Empty "
        "(NaN) when the model is tied.",
    ),
    Quantity(
        "diag_null_p",
        "diagonal",
        "diag_null_p",
        _NONE,
        f"{_GEO}.null_verdict",
        "",
        "real",
        "Empirical one-sided p-value of diag_mean_abs against the same null, (1 + #null ≥ "
        "observed) / (1 + draws). Empty when tied.",
    ),
    Quantity(
        "diag_stands_out",
        "diagonal",
        "diag_stands_out",
        _NONE,
        f"{_GEO}.null_verdict",
        "",
        "boolean",
        "1 when the diagonal stands out (p < 0.05 and z > 3), 0 when not; "
        "empty when the model is tied.",
    ),
    Quantity(
        "offdiag_mean_abs",
        "diagonal",
        "offdiag_mean_abs",
        _NONE,
        f"{_GEO}.summarise",
        "",
        "real",
        "Mean |cos| off the diagonal (a concept's embedding direction vs other "
        "concepts' unembedding directions).",
    ),
    Quantity(
        "random_pairs_mean_abs",
        "diagonal",
        "random_pairs_mean_abs",
        _NONE,
        f"{_GEO}.random_pair_alignment",
        "",
        "real",
        "Baseline: mean |cos| between embedding and unembedding directions of random token pairs.",
    ),
    Quantity(
        "orth_mean_abs",
        "orthogonality",
        "orth_mean_abs",
        _SI,
        f"{_GEO}.summarise",
        f"{_J} (orthogonality, causal inner product)",
        "real",
        "Mean |cos| between directions of different concepts within one space (setting "
        "space=) under one inner product (setting inner_product=: euclidean, causal, "
        "causal_dual, random_park, random_gaussian). Small: near-orthogonal.",
    ),
    Quantity(
        "orth_median_abs",
        "orthogonality",
        "orth_median_abs",
        _SI,
        f"{_GEO}.summarise",
        f"{_J} (orthogonality)",
        "real",
        "Median of the same |cos| values.",
    ),
    Quantity(
        "toy_kl_to_exact",
        "toy",
        "toy_kl_to_exact",
        _NONE,
        "concept_geometry.alignment.toy_lm.train_toy_lm",
        "",
        "real",
        "Offline toy only: KL divergence (nats) from the toy Llama's next-token "
        "distribution to the latent-concept model's exact one, over the toy's contexts.",
    ),
    Quantity(
        "toy_final_loss",
        "toy",
        "toy_final_loss",
        _NONE,
        "concept_geometry.alignment.toy_lm.train_toy_lm",
        "",
        "real",
        "Offline toy only: the toy Llama's training loss (cross-entropy, nats) at the last step.",
    ),
)


def tables(summary: dict) -> dict:
    """One model's summary.json -> the stage tables."""
    null = summary.get("diag_null") or {}
    verdict = summary.get("diag_verdict")
    diagonal = {
        q: summary.get(q)
        for q in (
            "n_pairs_kept",
            "diag_mean_abs",
            "diag_mean",
            "diag_row_max",
            "offdiag_mean_abs",
            "random_pairs_mean_abs",
        )
    }
    diagonal.update(
        tied=int(bool(summary["tied"])),
        diag_null_z=null.get("z"),
        diag_null_p=null.get("p"),
        diag_stands_out=None if verdict is None else int(verdict == STANDS_OUT),
    )
    orth = [
        {
            "space": space,
            "inner_product": ip,
            **{stat: summary[stat][space].get(ip) for stat in ("orth_mean_abs", "orth_median_abs")},
        }
        for space, ip in ORTHOGONALITY
    ]
    toy = {
        k: summary[k] for k in ("toy_kl_to_exact", "toy_final_loss") if summary.get(k) is not None
    }  # only the offline toy has them
    return {"diagonal": [diagonal], "orthogonality": orth, "toy": [toy] if toy else []}


def load(inputs, params) -> list[Unit]:
    """Rule alignment_summary: input summaries (one summary.json per model), param names."""
    return [
        Unit(name, tables(io.read_json(path)))
        for name, path in zip(params["names"], inputs["summaries"], strict=False)
    ]
