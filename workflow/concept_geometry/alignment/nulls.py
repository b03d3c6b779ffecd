"""Baselines and nulls of the alignment check: random-pair pseudo-concepts, and whether the
diagonal of the embedding x unembedding cosine matrix stands out against a Gaussian null."""

from __future__ import annotations

import numpy as np

from .directions import concept_directions

STANDS_OUT, DOES_NOT_STAND_OUT = "stands out", "does not stand out"
NULL_P, NULL_Z = 0.05, 3.0  # the diagonal stands out when p < NULL_P and z > NULL_Z


def random_pair_alignment(
    embedding: np.ndarray,
    unembedding: np.ndarray,
    candidates: np.ndarray,
    pair_counts: np.ndarray,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Baseline: cos(embedding dir, unembedding dir) of pseudo-concepts of random token pairs.

    For each real concept with n kept pairs, ``draws`` pseudo-concepts of n pairs of distinct
    tokens drawn uniformly from ``candidates`` (token ids). Returns (len(pair_counts) * draws,)
    cosines (signed).
    """
    if len(np.unique(candidates)) < 2:
        raise ValueError("random_pair_alignment needs at least two distinct candidate tokens")
    sizes = np.repeat(pair_counts, draws)
    sizes = sizes[sizes > 0]
    total = int(sizes.sum())
    base = rng.choice(candidates, size=total)
    target = rng.choice(candidates, size=total)
    clash = base == target
    while clash.any():
        target[clash] = rng.choice(candidates, size=int(clash.sum()))
        clash = base == target
    index = np.repeat(np.arange(sizes.size), sizes)
    e = concept_directions(embedding, base, target, index, sizes.size)
    u = concept_directions(unembedding, base, target, index, sizes.size)
    return np.einsum("kd,kd->k", e, u)


def diagonal_stats(alignment: np.ndarray) -> tuple[float, int]:
    """Mean |cos| of the diagonal and the number of rows whose |cos| is largest on it.

    alignment: (k, k) cos(embedding dir i, unembedding dir j).
    """
    a = np.abs(np.asarray(alignment, dtype=np.float64))
    return float(np.diag(a).mean()), int((np.argmax(a, axis=1) == np.arange(a.shape[0])).sum())


def diagonal_null(
    base_ids: np.ndarray,
    target_ids: np.ndarray,
    concept_index: np.ndarray,
    n_concepts: int,
    d: int,
    draws: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Null for "the diagonal stands out": independent Gaussian embedding and unembedding
    matrices with the same kept pairs.

    Only the rows of tokens in some pair enter a concept direction, and the rows of an
    i.i.d. Gaussian (vocab, d) matrix are independent, so drawing just those rows is the
    same law as drawing the full matrix of the model's shape (and costs kilobytes, not the
    2 x 32000 x 4096 of Llama-2). Returns (draws,) diagonal mean |cos| and (draws,) the
    number of rows whose diagonal is the row maximum.
    """
    ids, inverse = np.unique(np.concatenate([base_ids, target_ids]), return_inverse=True)
    b, t = inverse[: len(base_ids)], inverse[len(base_ids) :]
    means, row_max = np.empty(draws), np.empty(draws, dtype=np.int64)
    for r in range(draws):
        e = concept_directions(rng.standard_normal((ids.size, d)), b, t, concept_index, n_concepts)
        u = concept_directions(rng.standard_normal((ids.size, d)), b, t, concept_index, n_concepts)
        means[r], row_max[r] = diagonal_stats(e @ u.T)
    return means, row_max


def null_verdict(observed: float, null: np.ndarray) -> dict:
    """z-score and empirical p (one-sided, (1 + #{null >= observed}) / (1 + draws)) of the
    observed diagonal mean |cos|, and the verdict: stands out when p < 0.05 and z > 3."""
    null = np.asarray(null, dtype=np.float64)
    sd = float(null.std(ddof=1))
    z = (observed - float(null.mean())) / sd if sd > 0 else float("nan")
    p = float((1 + (null >= observed).sum()) / (1 + null.size))
    stands = p < NULL_P and z > NULL_Z
    return {"z": z, "p": p, "verdict": STANDS_OUT if stands else DOES_NOT_STAND_OUT}
