"""Geometry of relation difference vectors: distractor directions, LDA, clustering,
silhouettes, and directly measured crystal (parallelogram / trapezoid) quality.

Li et al. 2024, "The Geometry of Concepts", atom scale. Notation: ``D`` (n_pairs, d) holds
one difference vector b − a per word pair (a → b), ``y`` (n_pairs,) its relation label,
``length_diff`` (n_pairs,) the token-length difference (tokens of b − tokens of a), the
corrected variant's covariate of the "word length" distractor; the faithful one
(``fit_distractors_faithful``) is the paper's: characters of the last subword string.

Three spaces are compared, each a linear map fitted on some pairs and applied to others:
``raw`` (identity), ``distractor_removed`` (leading principal components of D that
correlate with length_diff projected out) and ``lda`` (linear discriminant analysis on the
relation labels, the paper's choice; its linear part only, so displacements stay
displacements).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SPACES = ("raw", "distractor_removed", "lda")


# --- distractors -------------------------------------------------------------------------


@dataclass
class DistractorFit:
    """Leading principal components of the difference vectors and their length correlation.

    components: (k, d) orthonormal PC directions (rows), sign fixed so that the largest
        |loading| is positive.
    explained_variance_ratio: (k,) fraction of the total variance of D on each PC.
    corr_length_diff: (k,) Pearson correlation of the PC scores with length_diff (NaN when
        length_diff is constant).
    removed: (k,) bool, PCs whose |corr_length_diff| >= threshold (the distractor subspace).
    """

    components: np.ndarray
    explained_variance_ratio: np.ndarray
    corr_length_diff: np.ndarray
    removed: np.ndarray

    @property
    def basis(self) -> np.ndarray:
        """(n_removed, d) orthonormal basis of the distractor subspace."""
        return self.components[self.removed]


def pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``x`` (n, k) with ``y`` (n,); NaN if constant."""
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    denom = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    # the inner where keeps the division away from 0, so it never warns
    return np.where(
        denom > 0, (xc * yc[:, None]).sum(axis=0) / np.where(denom > 0, denom, 1), np.nan
    )


def fit_distractors(
    D: np.ndarray, length_diff: np.ndarray, n_components: int, corr_threshold: float
) -> DistractorFit:
    """PCA of D (centred) and the correlation of each leading PC with ``length_diff``.

    D: (n, d). Returns the first ``n_components`` PCs (cf. Li et al. Fig. 1 right: the first
    PC of the raw differences tracks word length). Exact, so deterministic.
    """
    D = np.asarray(D, dtype=np.float64)
    Dc = D - D.mean(axis=0)
    # eigh of the (d, d) scatter matrix: same PCs as an SVD of Dc, several times faster
    evals, evecs = np.linalg.eigh(Dc.T @ Dc)
    evals, evecs = np.clip(evals[::-1], 0, None), evecs[:, ::-1]
    k = min(n_components, Dc.shape[0], Dc.shape[1])
    comps = evecs[:, :k].T
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1, signs)[:, None]
    total = evals.sum()
    evr = evals[:k] / total if total > 0 else np.zeros(k)
    corr = pearson(Dc @ comps.T, np.asarray(length_diff, dtype=np.float64))
    removed = np.nan_to_num(np.abs(corr), nan=0.0) >= corr_threshold
    return DistractorFit(comps, evr, corr, removed)


def zscore_columns(X: np.ndarray) -> np.ndarray:
    """(X − column mean) / column std (ddof 0, numpy's default). A constant column, which the
    official code turns into NaN (and its PCA into an error), becomes 0 here."""
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0)
    ok = sd > 0
    return np.where(ok, (X - X.mean(axis=0)) / np.where(ok, sd, 1.0), 0.0)


def fit_distractors_faithful(
    D: np.ndarray,
    last_subword_chars_diff: np.ndarray,
    n_components: int,
    corr_threshold: float,
    seed: int,
) -> tuple[DistractorFit, np.ndarray]:
    """The paper's distractor analysis (Fig. 10): PCs of the z-scored input − output
    differences and their correlation with the last-subword character-length difference.

    Follows ejmichaud/feature-geometry: ``atom/crystal_pca.py`` line 86 (difference = input −
    output embedding; ``D`` here is output − input, so it is negated, exactly), and
    ``atom/crystal_interp_pc0.py`` lines 79 and 104 (z-scored twice, ``np.std`` ddof 0),
    103-105 (sklearn ``PCA`` with its default solver, randomized at the paper's size, seeded
    here by ``seed`` where the official script seeds numpy's global state with 83), 69 and
    113 (covariate ``len(tokenize(output)[-1]) − len(tokenize(input)[-1])``, characters of
    the last subword string). PC signs are sklearn's (largest |loading| positive). The
    correlation is Pearson's r of each PC score with the covariate (the official figure
    fits a line to the same points).
    D: (n, d) float32-valued; last_subword_chars_diff: (n,) int.
    """
    from sklearn.decomposition import PCA

    X = -np.asarray(D, dtype=np.float64)
    Z = zscore_columns(zscore_columns(X))
    k = min(n_components, *Z.shape)
    pca = PCA(n_components=k, random_state=seed)
    scores = pca.fit_transform(Z)
    corr = pearson(scores, np.asarray(last_subword_chars_diff, dtype=np.float64))
    removed = np.nan_to_num(np.abs(corr), nan=0.0) >= corr_threshold
    return DistractorFit(pca.components_, pca.explained_variance_ratio_, corr, removed), scores


def remove_subspace(X: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """X (n, d) with its components along the orthonormal rows of ``basis`` (m, d) removed
    (m may be 0: X itself)."""
    return X - (X @ basis.T) @ basis


# --- LDA ---------------------------------------------------------------------------------


def lda_directions(D: np.ndarray, y: np.ndarray, n_components: int) -> np.ndarray:
    """Linear part of sklearn's LDA (svd solver) fitted on (D, y): W (d, n_components).

    ``lda.transform(X) == (X − mean) @ W``; D @ W therefore differs from it by a constant
    shift, which leaves distances, silhouettes and clusters unchanged and keeps a
    difference of difference vectors a difference.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    lda = LinearDiscriminantAnalysis(n_components=n_components, solver="svd")
    lda.fit(np.asarray(D, dtype=np.float64), y)
    return lda.scalings_[:, :n_components]


# --- spaces ------------------------------------------------------------------------------


def fit_space(
    space: str,
    D: np.ndarray,
    y: np.ndarray,
    length_diff: np.ndarray,
    lda_components: int,
    distractor_components: int,
    corr_threshold: float,
) -> Callable[[np.ndarray], np.ndarray]:
    """The map X (n, d) → projected X of ``space``, fitted on (D, y, length_diff)."""
    if space == "raw":
        return lambda X: np.asarray(X, dtype=np.float64)
    if space == "distractor_removed":
        basis = fit_distractors(D, length_diff, distractor_components, corr_threshold).basis
        return lambda X: remove_subspace(np.asarray(X, dtype=np.float64), basis)
    if space == "lda":
        W = lda_directions(D, y, lda_components)
        return lambda X: np.asarray(X, dtype=np.float64) @ W
    raise ValueError(f"unknown space {space!r}; expected one of {SPACES}")


# --- cluster quality ---------------------------------------------------------------------


def silhouette(X: np.ndarray, y: np.ndarray, sample_size: int | None, seed: int) -> float:
    """sklearn silhouette score (Euclidean), on a seeded subsample when ``sample_size``."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(y)) < 2:
        return float("nan")
    size = sample_size if sample_size is not None and sample_size < len(y) else None
    return float(silhouette_score(X, y, sample_size=size, random_state=seed))


def silhouette_faithful(
    space: str,
    D,
    y,
    length_diff,
    *,
    lda_components,
    distractor_components,
    corr_threshold,
    sample_size=None,
    seed=0,
) -> float:
    """The paper's silhouette: the projection fitted and scored on the same pairs."""
    f = fit_space(space, D, y, length_diff, lda_components, distractor_components, corr_threshold)
    return silhouette(f(D), y, sample_size, seed)


def silhouette_corrected(
    space: str,
    D,
    y,
    length_diff,
    *,
    lda_components,
    distractor_components,
    corr_threshold,
    n_splits=5,
    sample_size=None,
    seed=0,
) -> float:
    """Out-of-sample silhouette: fit on k−1 folds (StratifiedKFold, seeded), score the held-out
    fold, average over folds weighted by fold size."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores, sizes = [], []
    for k, (tr, te) in enumerate(folds.split(D, y)):
        f = fit_space(
            space,
            D[tr],
            y[tr],
            length_diff[tr],
            lda_components,
            distractor_components,
            corr_threshold,
        )
        scores.append(silhouette(f(D[te]), y[te], sample_size, seed + k))
        sizes.append(len(te))
    return float(np.average(scores, weights=sizes))


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
