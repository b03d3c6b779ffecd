"""Linearity metrics of the simulation study (Jiang et al. 2024, §5.1 and §4).

- Steering (unembedding) vectors of concept i: g(y1) - g(y0) for every pair of outputs whose
  concept vectors differ only in coordinate i (both outputs kept in Ĉ).
- Embedding differences of concept i: f(x1) - f(x0) for contexts differing only in the known
  value of concept i (both contexts in the training set D̂).
- Metric: mean pairwise cosine among a concept's vectors (-> 1 for a linear representation);
  alignment = cos(mean embedding difference, mean steering vector) of the same concept;
  orthogonality = cosines between different concepts' mean steering vectors.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "mean_pairwise_cosine",
    "cosine",
    "steering_vectors",
    "embedding_differences",
    "context_codes",
    "cosine_matrix",
]

_EPS = 1e-12


def _unit(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norms, _EPS)


def mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine over all unordered pairs a != b of the rows of ``vectors`` (n, d).

    Uses mean_{a != b} u_a·u_b = (|Σ u|² - n) / (n (n - 1)) for unit rows u, so it is O(n d).
    NaN when n < 2 (no pair).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n = vectors.shape[0]
    if n < 2:
        return float("nan")
    u = _unit(vectors)
    s = u.sum(axis=0)
    sq = float(np.sum(u * u))  # = n unless a vector is exactly zero
    return float((s @ s - sq) / (n * (n - 1)))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two vectors (d,); NaN if either is (numerically) zero or non-finite."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if not np.isfinite(na * nb) or na < _EPS or nb < _EPS:
        return float("nan")
    return float(a @ b / (na * nb))


def cosine_matrix(directions: np.ndarray) -> np.ndarray:
    """(k, k) cosines between the rows of ``directions`` (k, d).

    A row that is not a direction (NaN: the concept has no steering pair left in Ĉ; or
    zero) gives NaN cosines, never a spurious 0 ("orthogonal") for a pair never measured.
    """
    d = np.asarray(directions, dtype=np.float64)
    defined = np.isfinite(d).all(axis=1) & (np.linalg.norm(np.nan_to_num(d), axis=1) > _EPS)
    u = _unit(np.where(defined[:, None], d, 0.0))
    cos = u @ u.T
    cos[~defined, :] = np.nan
    cos[:, ~defined] = np.nan
    return cos


def steering_vectors(
    g: np.ndarray, m: int, concept: int, kept: np.ndarray | None = None
) -> np.ndarray:
    """Steering vectors of ``concept``: g(y1) - g(y0), shape (n_pairs, d).

    g: (2**m, d) unembeddings indexed by output token y (concept vector = binary of y,
    concept 0 = most significant bit). kept: optional (2**m,) bool mask of outputs in Ĉ; only
    pairs with both outputs kept are used. Paper §2/§5.1.
    """
    y = np.arange(2**m)
    bit = 1 << (m - 1 - concept)
    y0 = y[(y & bit) == 0]
    y1 = y0 | bit
    if kept is not None:
        kept = np.asarray(kept, dtype=bool)
        ok = kept[y0] & kept[y1]
        y0, y1 = y0[ok], y1[ok]
    return np.asarray(g)[y1] - np.asarray(g)[y0]


def context_codes(contexts: np.ndarray) -> np.ndarray:
    """Base-3 code of each context (n, m) in {-1,0,1} (⋄->0, 0->1, 1->2; column 0 = MSB).

    Equals the row index of the context in ``dag.all_contexts(m)``.
    """
    contexts = np.asarray(contexts, dtype=np.int64)
    m = contexts.shape[1]
    powers = 3 ** np.arange(m - 1, -1, -1, dtype=np.int64)
    return (contexts + 1) @ powers


def embedding_differences(f: np.ndarray, contexts: np.ndarray, concept: int) -> np.ndarray:
    """Embedding differences of ``concept``: f(x1) - f(x0), shape (n_pairs, d).

    f: (n, d) embeddings of the contexts (n, m) (rows aligned). Pairs are all (x0, x1) among
    the given contexts with x0[concept] = 0, x1[concept] = 1 and every other coordinate
    (including which are unknown) equal. Paper §5.1 (embedding side).
    """
    contexts = np.asarray(contexts)
    m = contexts.shape[1]
    codes = context_codes(contexts)
    order = np.argsort(codes)
    sorted_codes = codes[order]
    is0 = np.flatnonzero(contexts[:, concept] == 0)
    partner = codes[is0] + 3 ** (m - 1 - concept)  # the same context with concept set to 1
    pos = np.searchsorted(sorted_codes, partner)
    pos = np.minimum(pos, len(sorted_codes) - 1)
    found = sorted_codes[pos] == partner
    x0 = is0[found]
    x1 = order[pos[found]]
    return np.asarray(f)[x1] - np.asarray(f)[x0]
