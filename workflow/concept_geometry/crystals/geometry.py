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

from .quality import (  # noqa: F401 (re-exported)
    kmeans_labels,
    parallelogram_error,
    purity,
    sample_quadruples,
    silhouette,
    trapezoid_cos,
)

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
    # a unit vector's largest |loading| is at least 1/sqrt(d), so its sign is never 0
    comps = comps * np.sign(comps[np.arange(k), np.abs(comps).argmax(axis=1)])[:, None]
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
