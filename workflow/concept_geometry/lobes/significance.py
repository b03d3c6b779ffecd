"""Does function predict geometry? Two tests of Li et al. 2024, Sec. 4 (Fig. 3).

1. Adjusted mutual information between co-occurrence lobes and geometric (angular)
   clusters, against a permutation null (labels shuffled, z-score and empirical p-value).
2. A logistic-regression probe predicting a feature's lobe from its decoder direction
   (balanced accuracy on held-out features), against the same probe trained on random unit
   vectors (same labels, same split), as a z-score.
   - ``faithful``: one train/test split by feature index (the first
     ``int(len(labels) * train_fraction)`` features train, the rest test) on the decoder rows
     as they are, unweighted, as the official ``fit_model`` does (feature-geometry
     ``brain/notebooks/clusters3 (comparison).ipynb``, cell 13);
   - ``corrected``: stratified, shuffled K-fold cross-validation; the balanced accuracy is
     computed on the pooled out-of-fold predictions (robust when a lobe has few members),
     and the probe weighs classes inversely to their size (``class_weight="balanced"``):
     unweighted, a probe on uninformative vectors predicts the majority lobe for every
     feature, so the null collapses to exactly 1/k with zero spread and z is undefined.
   A null with zero spread gives z = NaN (never a made-up number).
The null's spread: ``faithful`` uses the population std (``np.std``, ddof 0) as the official
notebook does (same notebook, cells 17 and 19); ``corrected`` the sample std (ddof 1).
Every random step takes an explicit seed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

VARIANTS = ("faithful", "corrected")


@dataclass
class NullTest:
    """An observed statistic against a null sample: z = (observed - mean) / std."""

    observed: float
    null_mean: float
    null_std: float
    z: float
    p: float  # empirical, one-sided (null >= observed), (1 + #) / (1 + n)


NULL_DDOF = {"faithful": 0, "corrected": 1}


def _null_test(observed: float, null: np.ndarray, ddof: int) -> NullTest:
    """z of ``observed`` against ``null`` with the null's std at ``ddof`` (see NULL_DDOF)."""
    null = np.asarray(null, dtype=np.float64)
    mean = float(null.mean())
    std = float(null.std(ddof=ddof)) if null.size > ddof else np.nan
    z = (observed - mean) / std if std > 0 else np.nan
    p = (1.0 + np.sum(null >= observed - 1e-12)) / (1.0 + null.size)
    return NullTest(float(observed), mean, std, float(z), float(p))


def ami_permutation_test(
    lobes: np.ndarray, clusters: np.ndarray, n_permutations: int, seed: int, ddof: int
) -> NullTest:
    """AMI(lobes, clusters) vs AMI with ``lobes`` randomly permuted.

    lobes, clusters: (F,) int labels of the same features; ``ddof`` of the null's std
    (``NULL_DDOF[variant]``: 0 faithful, as the official notebook, 1 corrected).
    Returns NullTest.
    """
    from sklearn.metrics import adjusted_mutual_info_score as ami

    gen = np.random.default_rng(seed)
    observed = ami(clusters, lobes)
    null = np.array([ami(clusters, gen.permutation(lobes)) for _ in range(int(n_permutations))])
    return _null_test(observed, null, ddof)


def random_unit_vectors(n: int, d: int, gen: np.random.Generator) -> np.ndarray:
    """(n, d) vectors uniform on the unit sphere."""
    x = gen.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _probe(C: float, max_iter: int, seed: int, balanced: bool):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=C, max_iter=max_iter, random_state=seed, class_weight="balanced" if balanced else None
    )


def _fit_predict(X_train, y_train, X_test, C, max_iter, seed, balanced=False) -> np.ndarray:
    classes = np.unique(y_train)
    if classes.size == 1:  # a single class in the training set: the probe can only say it
        return np.full(X_test.shape[0], classes[0])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*converge.*")
        return _probe(C, max_iter, seed, balanced).fit(X_train, y_train).predict(X_test)


def probe_balanced_accuracy(
    X: np.ndarray,
    y: np.ndarray,
    variant: str,
    seed: int,
    *,
    train_fraction: float = 0.8,
    n_splits: int = 5,
    C: float = 1.0,
    max_iter: int = 1000,
) -> float:
    """Held-out balanced accuracy of a logistic-regression probe X (F, d) -> y (F,)."""
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    if variant == "faithful":
        n_train = int(len(y) * train_fraction)  # the official floor, not round
        pred = _fit_predict(X[:n_train], y[:n_train], X[n_train:], C, max_iter, seed)
        truth = y[n_train:]
    elif variant == "corrected":
        smallest = np.bincount(np.unique(y, return_inverse=True)[1]).min()
        splits = int(min(n_splits, max(2, smallest)))  # 2 folds even for a 1-member lobe
        folds = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
        pred = np.empty_like(y)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*least populated class.*")
            for train, test in folds.split(X, y):
                pred[test] = _fit_predict(
                    X[train], y[train], X[test], C, max_iter, seed, balanced=True
                )
        truth = y
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*y_pred contains classes not in y_true.*")
        return float(balanced_accuracy_score(truth, pred))


def probe_test(
    decoder: np.ndarray, lobes: np.ndarray, variant: str, n_null: int, seed: int, **probe_kw
) -> NullTest:
    """Probe on decoder directions vs the same probe on ``n_null`` sets of random unit vectors.

    decoder: (F, d); lobes: (F,) labels. ``faithful`` probes the decoder rows as given (the
    official ``fit_model(W_dec, ...)``); ``corrected`` scales them to unit norm first, like
    the random unit vectors of the null.
    """
    from .affinity import unit_rows

    gen = np.random.default_rng(seed)
    X = np.asarray(decoder) if variant == "faithful" else unit_rows(decoder)
    observed = probe_balanced_accuracy(X, lobes, variant, seed, **probe_kw)
    null = np.array(
        [
            probe_balanced_accuracy(
                random_unit_vectors(X.shape[0], X.shape[1], gen), lobes, variant, seed, **probe_kw
            )
            for _ in range(int(n_null))
        ]
    )
    return _null_test(observed, null, NULL_DDOF[variant])
