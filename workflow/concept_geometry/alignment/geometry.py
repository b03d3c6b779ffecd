"""Concept directions, inner products and the alignment/orthogonality checks (spec §3).

Jiang et al. 2024 §5 (after Park et al. 2023): the direction of concept c in a matrix M
(input embedding or unembedding, rows = tokens) is the normalised mean of
M[target] - M[base] over the concept's kept word pairs. The theory predicts that the
embedding-space and unembedding-space directions of the same concept align (diagonal of
the concept x concept cosine matrix) and that different concepts are nearly orthogonal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .directions import (  # noqa: F401
    PARK_RANDOM_SEED,
    causal_transform,
    concept_directions,
    cosine_matrix,
    covariance_eigh,
    offdiag,
    park_random_transform,
    random_transform,
    upper_pairs,
)
from .nulls import (  # noqa: F401 (re-exported)
    DOES_NOT_STAND_OUT,
    NULL_P,
    NULL_Z,
    STANDS_OUT,
    diagonal_null,
    diagonal_stats,
    null_verdict,
    random_pair_alignment,
)

SPACES = ("embedding", "unembedding")
INNER_PRODUCTS = ("euclidean", "causal", "causal_dual", "random_park", "random_gaussian")
# causal_dual (x^T Cov(γ) y) is the inner product Cov(γ)^-1 induces on the context side; it
# is defined for the embedding space only.
ORTHOGONALITY = tuple(
    (s, ip)
    for s in SPACES
    for ip in INNER_PRODUCTS
    if not (ip == "causal_dual" and s != "embedding")
)


@dataclass
class AlignmentResult:
    """Outputs of ``analyse``.

    concepts: names of the concepts with >= 1 kept pair (k of them), in order.
    directions: {space: (k, d)} unit directions.
    alignment: (k, k) cos(embedding dir i, unembedding dir j); None when tied.
    orthogonality: {(space, inner_product): (k, k)} cosines within a space (``ORTHOGONALITY``).
    random_pairs: (n,) embedding-vs-unembedding cosines of random-pair pseudo-concepts.
    null_diag_mean_abs, null_diag_row_max: (draws,) the diagonal's mean |cos| and row-maximum
    count on independent Gaussian matrices with the same pairs (``diagonal_null``); empty
    when tied.
    """

    concepts: list[str]
    directions: dict
    alignment: np.ndarray | None
    orthogonality: dict
    random_pairs: np.ndarray
    null_diag_mean_abs: np.ndarray
    null_diag_row_max: np.ndarray


def inner_product_transforms(
    embedding: np.ndarray, unembedding: np.ndarray, rng: np.random.Generator, ridge: float
) -> dict:
    """{(space, inner_product): T (d, d) or None (Euclidean)} for every entry of ORTHOGONALITY.

    causal: the spec's <x, y> = x^T Cov^-1 y in both spaces, Cov estimated from that space's
    own token rows (Cov(γ) of the unembedding, as Park et al.; Cov of the input-embedding rows
    for the embedding space). causal_dual: x^T Cov(γ) y on the embedding side, the inner
    product Cov(γ)^-1 induces there by duality (Park et al.'s l(x) = Cov(γ)^{1/2} λ(x)).
    random_park: Park's |N(0,1)| map (seed 100); random_gaussian: N(0,1)/sqrt(d) from ``rng``,
    one draw shared by both spaces.
    """
    d = embedding.shape[1]
    # Cov(γ) of the unembedding serves causal (unembedding) and causal_dual: computed once
    # (at Llama-2's 32,000 x 4,096 it is a third of the stage's arithmetic).
    # (a tied model's two matrices are one: one Cov in all.)
    eigh = {"unembedding": covariance_eigh(unembedding)}
    same = embedding.shape == unembedding.shape and np.array_equal(embedding, unembedding)
    eigh["embedding"] = eigh["unembedding"] if same else covariance_eigh(embedding)
    shared = {
        "euclidean": None,
        "random_park": park_random_transform(d),
        "random_gaussian": random_transform(d, rng),
        "causal_dual": causal_transform(None, ridge, dual=True, eigh=eigh["unembedding"]),
    }
    return {
        (space, ip): causal_transform(None, ridge, eigh=eigh[space])
        if ip == "causal"
        else shared[ip]
        for space, ip in ORTHOGONALITY
    }


def analyse(
    embedding: np.ndarray,
    unembedding: np.ndarray,
    tied: bool,
    pairs,
    candidates: np.ndarray,
    seed_rng: np.random.Generator,
    ridge: float = 0.0,
    random_pair_draws: int = 10,
    null_draws: int = 20,
) -> AlignmentResult:
    """All of spec §3 for one model.

    embedding, unembedding: (vocab, d); pairs: the filter's frame (``kept`` rows used);
    candidates: token ids for the random-pair baseline. ``seed_rng`` draws the Gaussian
    random inner product, the random pairs and the diagonal's null (in that order).
    """
    kept = pairs[pairs["kept"]]
    concepts = list(dict.fromkeys(kept["concept"]))
    index = kept["concept"].map({c: i for i, c in enumerate(concepts)}).to_numpy()
    b, t = kept["base_id"].to_numpy(), kept["target_id"].to_numpy()
    k = len(concepts)
    directions = {
        "embedding": concept_directions(embedding, b, t, index, k),
        "unembedding": concept_directions(unembedding, b, t, index, k),
    }
    transforms = inner_product_transforms(embedding, unembedding, seed_rng, ridge)
    orthogonality = {
        key: cosine_matrix(directions[key[0]], directions[key[0]], transform)
        for key, transform in transforms.items()
    }
    alignment = None if tied else cosine_matrix(directions["embedding"], directions["unembedding"])
    counts = np.bincount(index, minlength=k)
    # With tied matrices every pair aligns trivially: no baseline and no null either.
    random_pairs = (
        np.empty(0)
        if tied
        else random_pair_alignment(
            embedding, unembedding, candidates, counts, random_pair_draws, seed_rng
        )
    )
    null_mean, null_max = (
        (np.empty(0), np.empty(0, dtype=np.int64))
        if tied or k == 0
        else diagonal_null(b, t, index, k, embedding.shape[1], null_draws, seed_rng)
    )
    return AlignmentResult(
        concepts, directions, alignment, orthogonality, random_pairs, null_mean, null_max
    )


def _mean(x) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()) if x.size else None


def _median(x) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    return float(np.median(x)) if x.size else None


def alignment_table(result: AlignmentResult):
    """Long table (concept_embedding, concept_unembedding, cos); empty when tied."""
    import pandas as pd

    cols = ["concept_embedding", "concept_unembedding", "cos"]
    if result.alignment is None:
        return pd.DataFrame(columns=cols)
    k = len(result.concepts)
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    names = np.asarray(result.concepts, dtype=object)
    return pd.DataFrame(
        {cols[0]: names[i.ravel()], cols[1]: names[j.ravel()], cols[2]: result.alignment.ravel()}
    )


def orthogonality_table(result: AlignmentResult):
    """Long table (space, inner_product, concept_i, concept_j, abs_cos) over i < j."""
    import pandas as pd

    names = np.asarray(result.concepts, dtype=object)
    frames = []
    for (space, ip), cos in result.orthogonality.items():
        i, j, v = upper_pairs(cos)
        frames.append(
            pd.DataFrame(
                {
                    "space": space,
                    "inner_product": ip,
                    "concept_i": names[i],
                    "concept_j": names[j],
                    "abs_cos": np.abs(v),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


TIED_NOTE = (
    "tied input/output embeddings: the embedding-vs-unembedding alignment is "
    "trivially perfect and not reported"
)


def summarise(result: AlignmentResult, pairs, tied: bool, **extra) -> dict:
    """summary.json: pair counts; the alignment diagonal (mean |cos|, signed mean, minimum,
    rows where it is the row maximum) against the Gaussian null (z, empirical p, verdict);
    mean |cos| off the diagonal; orthogonality per space and inner product (mean and median
    |cos| over i < j); the random-pair baseline (mean |cos|)."""
    kept = pairs[pairs["kept"]]
    all_concepts = list(dict.fromkeys(pairs["concept"]))
    out = {
        "n_pairs_total": int(len(pairs)),
        "n_pairs_kept": int(len(kept)),
        "n_concepts": len(all_concepts),
        "n_concepts_used": len(result.concepts),
        "concepts_without_pairs": [c for c in all_concepts if c not in result.concepts],
        "pairs_kept_per_concept": {
            c: int(n) for c, n in kept["concept"].value_counts(sort=False).items()
        },
        "drop_reasons": {
            r: int(n) for r, n in pairs.loc[~pairs["kept"], "reason"].value_counts().items()
        },
        "tied": bool(tied),
        "diag_mean_abs": None,
        "diag_mean": None,
        "diag_min": None,
        "diag_row_max": None,
        "offdiag_mean_abs": None,
        "diag_null": None,
        "diag_verdict": None,
        "random_pairs_mean_abs": _mean(np.abs(result.random_pairs)),
        "orth_mean_abs": {s: {} for s in SPACES},
        "orth_median_abs": {s: {} for s in SPACES},
        "note": TIED_NOTE if tied else "",
    }
    if result.alignment is not None and len(result.concepts):
        diag = np.diag(result.alignment)
        out["diag_mean_abs"], out["diag_row_max"] = diagonal_stats(result.alignment)
        out["diag_mean"] = _mean(diag)
        out["diag_min"] = float(diag.min())
        out["offdiag_mean_abs"] = _mean(np.abs(offdiag(result.alignment)))
        verdict = null_verdict(out["diag_mean_abs"], result.null_diag_mean_abs)
        out["diag_null"] = {
            "draws": int(result.null_diag_mean_abs.size),
            "mean_abs": _mean(result.null_diag_mean_abs),
            "sd_abs": float(np.std(result.null_diag_mean_abs, ddof=1)),
            "row_max_mean": _mean(result.null_diag_row_max),
            "z": verdict["z"],
            "p": verdict["p"],
            "rule": f"stands out when p < {NULL_P} and z > {NULL_Z:g} against independent "
            "Gaussian embedding/unembedding matrices with the same kept pairs",
        }
        out["diag_verdict"] = verdict["verdict"]
    for (space, ip), cos in result.orthogonality.items():
        v = np.abs(upper_pairs(cos)[2])
        out["orth_mean_abs"][space][ip] = _mean(v)
        out["orth_median_abs"][space][ip] = _median(v)
    out.update(extra)
    return out
