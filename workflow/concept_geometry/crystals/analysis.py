"""The crystals analysis of one model layer: every table of the stage's output contract.

Li et al. 2024, atom scale. Faithful and corrected variants side by side:
- silhouette ``faithful``: the projection fitted and scored on the same pairs (paper's code);
  ``corrected``: fitted on training folds, scored on the held-out fold (StratifiedKFold).
- clusters and crystal quality are always measured on held-out pairs (``eval`` split), with
  the distractor PCs and LDA fitted on the other pairs (``fit`` split), so the LDA space
  cannot look good by overfitting the very pairs it is scored on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputDataError
from . import geometry as g


@dataclass
class CrystalResults:
    """Tables (pandas frames as in the output contract) and arrays for the figures.

    clusters: space, ari, purity, n_clusters, n_pairs.
    silhouette: space, variant, n_components, silhouette.
    quality: relation, space, parallelogram_error_median, trapezoid_cos_median,
        baseline_error_median, baseline_cos_median, n_quadruples.
    distractors: component, explained_variance, corr_length_diff, removed.
    coords: {space: (n_eval, 2)} 2-D views of the held-out pairs (raw / distractor_removed:
        their first two principal components; lda: the first two LDA directions).
    pc1: (n_pairs,) PC1 score of every pair; eval_index: (n_eval,) rows of the eval split.
    samples: long frame (space, relation, kind: same|baseline, parallelogram_error,
        trapezoid_cos), one row per sampled quadruple.
    """

    clusters: pd.DataFrame
    silhouette: pd.DataFrame
    quality: pd.DataFrame
    distractors: pd.DataFrame
    coords: dict = field(default_factory=dict)
    pc1: np.ndarray | None = None
    eval_index: np.ndarray | None = None
    samples: pd.DataFrame | None = None


def check_inputs(y: np.ndarray, lda_components: int, d: int, n_splits: int,
                 eval_fraction: float) -> None:
    """Refuse an LDA dimension or fold count the data cannot support, naming the key."""
    rel, counts = np.unique(y, return_counts=True)
    if len(rel) < 2:
        raise InputDataError(
            f"The crystals analysis needs pairs from at least 2 relations, but only {list(rel)} "
            f"has usable pairs. Add relations (`crystals.relations`) or raise "
            f"`crystals.max_pairs_per_relation`.")
    if lda_components > min(len(rel) - 1, d):
        raise ConfigError(
            f"Invalid config: key `crystals.lda.n_components` = {lda_components}, but LDA on "
            f"{len(rel)} relations in {d} dimensions has at most {min(len(rel) - 1, d)} "
            f"components. Lower `crystals.lda.n_components`.")
    smallest = counts.min()
    need = max(n_splits, int(np.ceil(2 / min(eval_fraction, 1 - eval_fraction))))
    if smallest < need:
        raise InputDataError(
            f"Relation {rel[counts.argmin()]!r} has only {smallest} usable pairs; the folds "
            f"(`crystals.silhouette.n_splits` = {n_splits}) and the fit/eval split "
            f"(`crystals.eval_fraction` = {eval_fraction}) need at least {need}. Raise "
            f"`crystals.min_pairs_per_relation` so such relations are dropped up front.")


def analyse_layer(D: np.ndarray, y: np.ndarray, length_diff: np.ndarray, *, seed: int,
                  lda_components: int = 8, distractor_components: int = 10,
                  corr_threshold: float = 0.3, n_splits: int = 5, eval_fraction: float = 0.5,
                  silhouette_sample_size: int | None = None, n_quadruples: int = 2000,
                  kmeans_n_init: int = 10, n_clusters: int | None = None,
                  pair_id: np.ndarray | None = None) -> CrystalResults:
    """All crystal statistics of one layer.

    D: (n_pairs, d) difference vectors; y: (n_pairs,) relation names; length_diff: (n_pairs,).
    pair_id: (n_pairs,) row of each row's first copy (``Differences.pair_id``; default: no
    repeats). The faithful silhouette keeps repeated pairs, as the official code does; every
    other statistic uses each pair once (a repeated pair would otherwise look like a perfect
    parallelogram with itself). Row indices in the results (eval_index, pc1) are of all rows.
    """
    from sklearn.metrics import adjusted_rand_score
    from sklearn.model_selection import train_test_split

    D_all = np.asarray(D, dtype=np.float64)
    y_all = np.asarray(y)
    ld_all = np.asarray(length_diff, dtype=np.float64)
    rows = np.arange(len(y_all)) if pair_id is None else \
        np.flatnonzero(np.asarray(pair_id) == np.arange(len(y_all)))
    D, y, length_diff = D_all[rows], y_all[rows], ld_all[rows]
    check_inputs(y, lda_components, D.shape[1], n_splits, eval_fraction)
    relations = np.unique(y)
    k = n_clusters or len(relations)
    kw = dict(lda_components=lda_components, distractor_components=distractor_components,
              corr_threshold=corr_threshold)

    # distractors: on all distinct pairs (PCA does not see the relation labels)
    dist = g.fit_distractors(D, length_diff, distractor_components, corr_threshold)
    distractors = pd.DataFrame({
        "component": np.arange(1, len(dist.removed) + 1),
        "explained_variance": dist.explained_variance_ratio,
        "corr_length_diff": dist.corr_length_diff,
        "removed": dist.removed,
    })
    pc1 = (D_all - D.mean(axis=0)) @ dist.components[0]

    # silhouettes: faithful (in-sample) and corrected (cross-validated)
    sil_rows = []
    for space in g.SPACES:
        dim = {"raw": D.shape[1], "lda": lda_components,
               "distractor_removed": D.shape[1] - int(dist.removed.sum())}[space]
        common = dict(sample_size=silhouette_sample_size, seed=seed, **kw)
        sil_rows.append((space, "faithful", dim,
                         g.silhouette_faithful(space, D_all, y_all, ld_all, **common)))
        sil_rows.append((space, "corrected", dim, g.silhouette_corrected(
            space, D, y, length_diff, n_splits=n_splits, **common)))
    silhouette = pd.DataFrame(sil_rows, columns=["space", "variant", "n_components", "silhouette"])

    # clusters and crystal quality on held-out pairs
    fit_idx, eval_idx = train_test_split(np.arange(len(y)), test_size=eval_fraction,
                                         stratify=y, random_state=seed)
    eval_idx = np.sort(eval_idx)
    fit_idx = np.sort(fit_idx)
    rng = np.random.default_rng(seed)
    cl_rows, q_rows, samples, coords = [], [], [], {}
    for space in g.SPACES:
        f = g.fit_space(space, D[fit_idx], y[fit_idx], length_diff[fit_idx], **kw)
        V = f(D[eval_idx])
        ye = y[eval_idx]
        labels = g.kmeans_labels(V, k, seed, kmeans_n_init)
        cl_rows.append((space, adjusted_rand_score(ye, labels), g.purity(ye, labels), k, len(ye)))
        coords[space] = V[:, :2] if space == "lda" else (V - V.mean(axis=0)) @ _top2(V)
        for rel in relations:
            i, j = g.sample_quadruples(ye, rel, n_quadruples, rng)
            bi, bj = g.sample_quadruples(ye, rel, n_quadruples, rng, mix=True)
            err, cos = g.parallelogram_error(V, i, j), g.trapezoid_cos(V, i, j)
            berr, bcos = g.parallelogram_error(V, bi, bj), g.trapezoid_cos(V, bi, bj)
            q_rows.append((rel, space, _median(err), _median(cos), _median(berr), _median(bcos), len(i)))
            for kind, e, c in (("same", err, cos), ("baseline", berr, bcos)):
                samples.append(pd.DataFrame({"space": space, "relation": rel, "kind": kind,
                                             "parallelogram_error": e, "trapezoid_cos": c}))
    clusters = pd.DataFrame(cl_rows, columns=["space", "ari", "purity", "n_clusters", "n_pairs"])
    quality = pd.DataFrame(q_rows, columns=[
        "relation", "space", "parallelogram_error_median", "trapezoid_cos_median",
        "baseline_error_median", "baseline_cos_median", "n_quadruples"])
    return CrystalResults(clusters, silhouette, quality, distractors, coords, pc1, rows[eval_idx],
                          pd.concat(samples, ignore_index=True))


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


def _top2(V: np.ndarray) -> np.ndarray:
    """(d, 2) first two principal directions of V (for a 2-D view)."""
    Vc = V - V.mean(axis=0)
    return np.linalg.svd(Vc, full_matrices=False)[2][:2].T
