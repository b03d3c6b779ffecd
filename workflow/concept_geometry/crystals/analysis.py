"""The crystals analysis of one model layer: every table the stage writes per layer.

Li et al. 2024, atom scale. Faithful and corrected variants side by side (``variant``):
- silhouette ``faithful``: the projection fitted and scored on the same pairs (paper's code);
  ``corrected``: fitted on training folds, scored on the held-out fold (StratifiedKFold).
- clusters (ARI, purity) and crystal quality: ``faithful`` fits the distractor PCs and LDA
  on all pairs and scores those same pairs, as the paper's in-sample LDA; ``corrected``
  fits them on the ``fit`` split and scores the held-out ``eval`` split (stratified by
  relation, seeded), so the LDA space cannot look good by overfitting the pairs it is
  scored on.
- distractors ``faithful``: the paper's Fig. 10 (PCA of the z-scored input − output
  differences against the last-subword character-length difference); ``corrected``: PCA of
  the centred output − input differences (an orthogonal projection in the model's own
  metric, which is what ``distractor_removed`` projects out) against the token-length
  difference. Both covariates' correlations are reported for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputDataError
from . import geometry as g


@dataclass
class CrystalResults:
    """Tables (pandas frames, one per table the stage writes) and arrays for the figures.

    clusters: space, variant, ari, purity, n_clusters, n_pairs.
    silhouette: space, variant, n_components, silhouette.
    quality: relation, space, variant, parallelogram_error_median, trapezoid_cos_median,
        baseline_error_median, baseline_cos_median, n_quadruples.
    distractors: variant, component, explained_variance, corr_last_subword_chars_diff,
        corr_length_diff, removed (the variant's own covariate decides ``removed``; the
        corrected subspace is what ``distractor_removed`` projects out).
    coords: {space: (n_eval, 2)} 2-D views of the held-out pairs (raw / distractor_removed:
        their first two principal components; lda: the first two LDA directions).
    pc1: {variant: (n_pairs,)} PC1 score of every pair; eval_index: (n_eval,) rows of the
        eval split.
    samples: long frame (space, relation, kind: same|baseline, parallelogram_error,
        trapezoid_cos), one row per sampled quadruple of the held-out (corrected) variant.
    """

    clusters: pd.DataFrame
    silhouette: pd.DataFrame
    quality: pd.DataFrame
    distractors: pd.DataFrame
    coords: dict = field(default_factory=dict)
    pc1: dict = field(default_factory=dict)
    eval_index: np.ndarray | None = None
    samples: pd.DataFrame | None = None


def check_inputs(
    y: np.ndarray, lda_components: int, d: int, n_splits: int, eval_fraction: float
) -> None:
    """Refuse an LDA dimension or fold count the data cannot support, naming the key."""
    rel, counts = np.unique(y, return_counts=True)
    if len(rel) < 2:
        raise InputDataError(
            f"The crystals analysis needs pairs from at least 2 relations, but only "
            f"{[str(r) for r in rel]} "
            f"has usable pairs. Add relations (`crystals.relations`) or raise "
            f"`crystals.max_pairs_per_relation`."
        )
    if lda_components > min(len(rel) - 1, d):
        raise ConfigError(
            f"Invalid config: key `crystals.lda.n_components` = {lda_components}, but LDA on "
            f"{len(rel)} relations in {d} dimensions has at most {min(len(rel) - 1, d)} "
            f"components. Lower `crystals.lda.n_components`."
        )
    smallest = counts.min()
    need = max(n_splits, int(np.ceil(2 / min(eval_fraction, 1 - eval_fraction))))
    if smallest < need:
        raise InputDataError(
            f"Relation {str(rel[counts.argmin()])!r} has only {smallest} usable pairs; the folds "
            f"(`crystals.silhouette.n_splits` = {n_splits}) and the fit/eval split "
            f"(`crystals.eval_fraction` = {eval_fraction}) need at least {need}. Raise "
            f"`crystals.min_pairs_per_relation` so such relations are dropped up front."
        )


def analyse_layer(
    D: np.ndarray,
    y: np.ndarray,
    length_diff: np.ndarray,
    *,
    last_subword_chars_diff: np.ndarray,
    cfg: dict,
    seed: int,
    pair_id: np.ndarray | None = None,
) -> CrystalResults:
    """All crystal statistics of one layer.

    D: (n_pairs, d) difference vectors output − input; y: (n_pairs,) relation names;
    length_diff: (n_pairs,) token-length difference; last_subword_chars_diff: (n_pairs,)
    characters of the output's last subword string − the input's (the paper's covariate).
    pair_id: (n_pairs,) row of each row's first copy (``Differences.pair_id``; default: no
    repeats). Faithful statistics keep repeated pairs, as the official code does; corrected
    ones use each pair once (a repeated pair would otherwise look like a perfect
    parallelogram with itself). In both, a quadruple never pairs a word pair with itself.
    Row indices in the results (eval_index, pc1) are of all rows. cfg: the validated
    ``crystals`` config section (its ``lda``, ``distractors``, ``silhouette``, ``quality``,
    ``eval_fraction``, ``kmeans_n_init`` and ``n_clusters`` keys), as every stage's analysis
    entry point takes its section (``galaxy.analyse_layer``, ``simulation``, ``lobes``).
    """
    lda_components = cfg["lda"]["n_components"]
    distractor_components = cfg["distractors"]["n_components"]
    corr_threshold = cfg["distractors"]["corr_threshold"]
    n_splits = cfg["silhouette"]["n_splits"]
    silhouette_sample_size = cfg["silhouette"]["sample_size"]
    eval_fraction = cfg["eval_fraction"]
    n_quadruples = cfg["quality"]["n_quadruples"]
    kmeans_n_init = cfg["kmeans_n_init"]
    n_clusters = cfg["n_clusters"]
    from sklearn.model_selection import train_test_split

    D_all = np.asarray(D, dtype=np.float64)
    y_all = np.asarray(y)
    ld_all = np.asarray(length_diff, dtype=np.float64)
    chars_all = np.asarray(last_subword_chars_diff, dtype=np.float64)
    ids_all = np.arange(len(y_all)) if pair_id is None else np.asarray(pair_id)
    rows = np.flatnonzero(ids_all == np.arange(len(y_all)))
    D, y, length_diff, chars_diff = D_all[rows], y_all[rows], ld_all[rows], chars_all[rows]
    check_inputs(y, lda_components, D.shape[1], n_splits, eval_fraction)
    k = n_clusters or len(np.unique(y))
    kw = dict(
        lda_components=lda_components,
        distractor_components=distractor_components,
        corr_threshold=corr_threshold,
    )

    # distractors (PCA does not see the relation labels): faithful on every row as the
    # official code, corrected on the distinct pairs; scores of every row for the PC1 view
    faithful, scores = g.fit_distractors_faithful(
        D_all, chars_all, distractor_components, corr_threshold, seed
    )
    corrected = g.fit_distractors(D, length_diff, distractor_components, corr_threshold)
    corr_scores = (D_all - D.mean(axis=0)) @ corrected.components.T
    distractors = pd.concat(
        [
            pd.DataFrame(
                {
                    "variant": variant,
                    "component": np.arange(1, len(fit.removed) + 1),
                    "explained_variance": fit.explained_variance_ratio,
                    "corr_last_subword_chars_diff": g.pearson(sc, cd),
                    "corr_length_diff": g.pearson(sc, ld),
                    "removed": fit.removed,
                }
            )
            for variant, fit, sc, cd, ld in (
                ("faithful", faithful, scores, chars_all, ld_all),
                ("corrected", corrected, corr_scores[rows], chars_diff, length_diff),
            )
        ],
        ignore_index=True,
    )
    pc1 = {"faithful": scores[:, 0], "corrected": corr_scores[:, 0]}

    # silhouettes: faithful (in-sample, repeats kept) and corrected (cross-validated)
    sil_rows = []
    for space in g.SPACES:
        dim = {
            "raw": D.shape[1],
            "lda": lda_components,
            "distractor_removed": D.shape[1] - int(corrected.removed.sum()),
        }[space]
        common = dict(sample_size=silhouette_sample_size, seed=seed, **kw)
        sil_rows.append(
            (space, "faithful", dim, g.silhouette_faithful(space, D_all, y_all, ld_all, **common))
        )
        sil_rows.append(
            (
                space,
                "corrected",
                dim,
                g.silhouette_corrected(space, D, y, length_diff, n_splits=n_splits, **common),
            )
        )
    silhouette = pd.DataFrame(sil_rows, columns=["space", "variant", "n_components", "silhouette"])

    # clusters and crystal quality: in-sample on every row (faithful) and, on the distinct
    # pairs, fitted on one part and scored on the held-out part (corrected)
    fit_idx, eval_idx = train_test_split(
        np.arange(len(y)), test_size=eval_fraction, stratify=y, random_state=seed
    )
    everything = np.arange(len(y_all))
    splits = {
        "faithful": (everything, everything),
        "corrected": (rows[np.sort(fit_idx)], rows[np.sort(eval_idx)]),
    }
    cl_rows, q_rows, samples, coords = [], [], [], {}
    for variant, (fit_rows, score_rows) in splits.items():
        rng = np.random.default_rng(seed)
        for space in g.SPACES:
            f = g.fit_space(space, D_all[fit_rows], y_all[fit_rows], ld_all[fit_rows], **kw)
            V = f(D_all[score_rows])
            ye = y_all[score_rows]
            cl_rows.append(
                (space, variant, *cluster_scores(V, ye, k, seed, kmeans_n_init), k, len(ye))
            )
            quality, sampled = crystal_quality(V, ye, n_quadruples, rng, ids_all[score_rows])
            q_rows += [(rel, space, variant, *row) for rel, row in quality]
            if variant == "corrected":
                coords[space] = V[:, :2] if space == "lda" else (V - V.mean(axis=0)) @ _top2(V)
                samples += [frame.assign(space=space) for frame in sampled]
    clusters = pd.DataFrame(
        cl_rows, columns=["space", "variant", "ari", "purity", "n_clusters", "n_pairs"]
    )
    quality = pd.DataFrame(
        q_rows,
        columns=[
            "relation",
            "space",
            "variant",
            "parallelogram_error_median",
            "trapezoid_cos_median",
            "baseline_error_median",
            "baseline_cos_median",
            "n_quadruples",
        ],
    )
    samples = pd.concat(samples, ignore_index=True)[
        ["space", "relation", "kind", "parallelogram_error", "trapezoid_cos"]
    ]
    return CrystalResults(
        clusters, silhouette, quality, distractors, coords, pc1, splits["corrected"][1], samples
    )


def cluster_scores(
    V: np.ndarray, y: np.ndarray, k: int, seed: int, n_init: int
) -> tuple[float, float]:
    """(ARI, purity) of k-means (k clusters, seeded) on V against the relations y."""
    from sklearn.metrics import adjusted_rand_score

    labels = g.kmeans_labels(V, k, seed, n_init)
    return adjusted_rand_score(y, labels), g.purity(y, labels)


def crystal_quality(
    V: np.ndarray,
    y: np.ndarray,
    n_quadruples: int,
    rng: np.random.Generator,
    pair_id: np.ndarray | None = None,
):
    """Per relation: medians of parallelogram error and trapezoid cosine of same-relation
    quadruples and of the mixed-relation baseline, and the sampled values. pair_id: (n,)
    identity of each row's word pair (a quadruple never pairs a pair with itself).

    Returns ([(relation, (err, cos, baseline err, baseline cos, n_quadruples))], [frames of
    relation, kind, parallelogram_error, trapezoid_cos]).
    """
    rows, frames = [], []
    for rel in np.unique(y):
        i, j = g.sample_quadruples(y, rel, n_quadruples, rng, pair_id=pair_id)
        bi, bj = g.sample_quadruples(y, rel, n_quadruples, rng, mix=True, pair_id=pair_id)
        err, cos = g.parallelogram_error(V, i, j), g.trapezoid_cos(V, i, j)
        berr, bcos = g.parallelogram_error(V, bi, bj), g.trapezoid_cos(V, bi, bj)
        rows.append((rel, (_median(err), _median(cos), _median(berr), _median(bcos), len(i))))
        for kind, e, c in (("same", err, cos), ("baseline", berr, bcos)):
            frames.append(
                pd.DataFrame(
                    {"relation": rel, "kind": kind, "parallelogram_error": e, "trapezoid_cos": c}
                )
            )
    return rows, frames


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


def _top2(V: np.ndarray) -> np.ndarray:
    """(d, 2) first two principal directions of V (for a 2-D view)."""
    Vc = V - V.mean(axis=0)
    return np.linalg.svd(Vc, full_matrices=False)[2][:2].T
