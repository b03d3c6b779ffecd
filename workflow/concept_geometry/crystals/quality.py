"""Cluster quality (silhouette, purity, k-means) and directly measured crystal quality
(parallelogram / trapezoid) of relation difference vectors (notation as in ``geometry``,
which adds the paper's and the cross-fitted silhouette of a fitted space)."""

from __future__ import annotations

import numpy as np


def silhouette(X: np.ndarray, y: np.ndarray, sample_size: int | None, seed: int) -> float:
    """sklearn silhouette score (Euclidean), on a seeded subsample when ``sample_size``."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(y)) < 2:
        return float("nan")
    size = sample_size if sample_size is not None and sample_size < len(y) else None
    return float(silhouette_score(X, y, sample_size=size, random_state=seed))


def purity(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Fraction of points whose cluster's majority relation is their own relation."""
    _, t = np.unique(labels_true, return_inverse=True)
    _, p = np.unique(labels_pred, return_inverse=True)
    table = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(table, (p, t), 1)
    return float(table.max(axis=1).sum() / len(t))


def kmeans_labels(X: np.ndarray, k: int, seed: int, n_init: int = 10) -> np.ndarray:
    """k-means (sklearn, k-means++, ``n_init`` restarts, seeded) cluster labels (n,)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(X)


# --- crystal quality ---------------------------------------------------------------------


def sample_quadruples(
    y: np.ndarray,
    relation: object,
    n: int,
    rng: np.random.Generator,
    mix: bool = False,
    pair_id: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of difference vectors forming quadruples (a, b, c, d).

    i is a pair of ``relation``; j is another pair of the same relation, or with ``mix`` a
    pair of a different relation (the shuffled-relation baseline). Draws with replacement,
    ``n`` quadruples (fewer possible ones are all enumerated when not ``mix``). pair_id:
    (n_pairs,) identity of each row's word pair (rows repeating a pair share it; default:
    every row its own): a quadruple never pairs a word pair with itself, even when the
    relation file repeats it.
    """
    ids = np.arange(len(y)) if pair_id is None else np.asarray(pair_id)
    own = np.flatnonzero(y == relation)
    other = np.flatnonzero(y != relation) if mix else own
    if len(own) < (1 if mix else 2) or len(other) == 0 or (not mix and len(set(ids[own])) < 2):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not mix and len(own) * (len(own) - 1) <= n:
        i, j = np.meshgrid(own, own, indexing="ij")
        keep = ids[i] != ids[j]
        return i[keep], j[keep]
    i = rng.choice(own, size=n)
    j = rng.choice(other, size=n)
    if not mix:
        # j ≠ i: redraw clashes by shifting to the next member of the relation
        pos = np.searchsorted(own, j)
        clash = i == j
        j[clash] = own[(pos[clash] + 1 + rng.integers(0, len(own) - 1, clash.sum())) % len(own)]
        # a repeated word pair is the same pair: redraw until the pairs differ
        while (clash := ids[i] == ids[j]).any():
            j[clash] = rng.choice(own, size=clash.sum())
    return i, j


def parallelogram_error(V: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """‖(b−a) − (d−c)‖ / (‖b−a‖ + ‖d−c‖) with V[i] = b − a and V[j] = d − c; 0 for a perfect
    parallelogram, 1 for opposite vectors. (m,)"""
    vi, vj = V[i], V[j]
    num = np.linalg.norm(vi - vj, axis=1)
    den = np.linalg.norm(vi, axis=1) + np.linalg.norm(vj, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def trapezoid_cos(V: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """cos(b−a, d−c): 1 for a trapezoid (parallel sides of any lengths). (m,)"""
    vi, vj = V[i], V[j]
    den = np.linalg.norm(vi, axis=1) * np.linalg.norm(vj, axis=1)
    return np.where(den > 0, (vi * vj).sum(axis=1) / np.where(den > 0, den, 1), np.nan)
