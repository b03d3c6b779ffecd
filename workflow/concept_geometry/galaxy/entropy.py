"""Galaxy scale, part 2: clustering entropy of the decoder point cloud (Li et al. 2024, §5).

Clustering entropy = H_gauss − H_knn: the entropy of a Gaussian with the cloud's covariance
(the maximum for that covariance) minus a k-nearest-neighbour estimate of the cloud's own
entropy; the more clustered the cloud, the larger the gap (paper Fig. 8).

Two k-NN estimators:
- faithful (``faithful_preprocess`` + ``faithful_clustering``): the official notebook's
  computation number for number — float32 data, sklearn PCA with its default (randomized)
  solver, 30 bootstrap resamples *with replacement*, ρ from float32 ``torch.cdist`` (the
  product expansion, so a point and its bootstrap copy sit at 0–0.02 rather than 0), a
  softening θ. Seeded by one legacy RandomState, used in the official order.
- ``kl_entropy``: Kozachenko–Leonenko on distinct points, with confidence intervals from
  subsampling *without* replacement (``kl_entropy_ci``), on an exact-SVD PCA
  (``preprocess_cloud``). It is near-unbiased for d ≤ 10 at n = 5000 but overestimates the
  entropy by ~22 nats at d = 100, so the workflow also reports it at a low dimension.
Both are calibrated on Gaussian clouds with the layer's own covariance (``gaussian_null``),
whose true entropy is ``gaussian_entropy`` in closed form. On a structureless isotropic
Gaussian cloud of the paper's shape the faithful estimator reports ≈ 350 nats of clustering
(``benchmarks/galaxy_gaussian_null.py``), against the paper's 355–369 for the real layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

from .knn import (  # noqa: F401
    covariance_eigenvalues,
    gaussian_entropy,
    gaussian_null,
    knn_distances,
    log_unit_ball_volume,
)

__all__ = [
    "Preprocessed",
    "preprocess_cloud",
    "gaussian_entropy",
    "covariance_eigenvalues",
    "knn_distances",
    "FaithfulCloud",
    "faithful_preprocess",
    "faithful_gaussian_entropy",
    "faithful_knn_entropy",
    "FaithfulClustering",
    "faithful_clustering",
    "kl_entropy",
    "kl_entropy_ci",
    "log_unit_ball_volume",
    "gaussian_null",
]


@dataclass(frozen=True)
class Preprocessed:
    """The cloud the entropies are computed on.

    points: (n, d_pca) PCA coordinates; variances: (d_pca,) component variances (ddof=1),
    decreasing; rows: (n,) indices of the subsampled rows in the original cloud.
    """

    points: np.ndarray
    variances: np.ndarray
    rows: np.ndarray


def preprocess_cloud(
    points: np.ndarray, n_points: int | None, pca_dim: int, zscore: bool, rng: np.random.Generator
) -> Preprocessed:
    """The paper's preprocessing: subsample n points, z-score each dimension, PCA to pca_dim.

    points: (n_features, d_model) decoder rows. n_points: rows drawn without replacement
    (None: all rows, in a random order). Dimensions with zero variance are centred, not scaled.
    PCA by SVD of the centred matrix (as sklearn's PCA), so the output's covariance is
    diag(variances). Paper: Li et al. 2024 §5 (5000 points, z-score, PCA to 100).
    """
    points = np.asarray(points, dtype=np.float64)
    n_total = points.shape[0]
    n = n_total if n_points is None else int(n_points)
    rows = np.sort(rng.choice(n_total, size=n, replace=False))
    x = points[rows]
    x = x - x.mean(axis=0)
    if zscore:
        sd = x.std(axis=0, ddof=0)
        x = x / np.where(sd > 0, sd, 1.0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    y = x @ vt[:pca_dim].T
    variances = s[:pca_dim] ** 2 / (n - 1)
    return Preprocessed(points=y, variances=variances, rows=rows)


@dataclass(frozen=True)
class FaithfulCloud:
    """The cloud the paper's estimator scores, preprocessed as the official notebook does.

    points: (n, d_pca) float32 PCA coordinates; rows: (n,) rows of the original cloud, in
    draw order.
    """

    points: np.ndarray
    rows: np.ndarray


def faithful_preprocess(
    points: np.ndarray,
    n_points: int | None,
    pca_dim: int,
    zscore: bool,
    random_state: np.random.RandomState,
) -> FaithfulCloud:
    """The official preprocessing: subsample, z-score, sklearn ``PCA`` with its default solver.

    points: (n_features, d_model) decoder rows, cast to float32 (the official arrays are
    float32 ``W_dec``, and sklearn keeps float32). random_state: a legacy RandomState, used
    in the official order: first ``choice(n, n_points, replace=False)`` (only when the cloud
    has more rows, as the official ``if``), then the PCA (sklearn picks the randomized solver
    for e.g. 5000 × 2304 → 100), then the bootstrap (``faithful_knn_entropy``). Z-scoring
    uses np.std (ddof 0); a zero-variance dimension is centred, not divided (the official
    code would give NaN). Follows galaxy/PointCloudStructure_Galaxy.ipynb (ejmichaud/
    feature-geometry), entropy cell, ``compute_clustering_with_error``.
    """
    from sklearn.decomposition import PCA

    x = np.asarray(points, dtype=np.float32)
    rows = np.arange(x.shape[0])
    if n_points is not None and x.shape[0] > n_points:
        rows = random_state.choice(x.shape[0], int(n_points), replace=False)
        x = x[rows]
    if zscore:
        sd = np.std(x, axis=0)
        x = (x - np.mean(x, axis=0)) / np.where(sd > 0, sd, np.float32(1.0))
    y = PCA(n_components=pca_dim, random_state=random_state).fit_transform(x)
    return FaithfulCloud(points=np.asarray(y, dtype=np.float32), rows=rows)


def faithful_gaussian_entropy(points: np.ndarray) -> float:
    """H_gauss as the official cell computes it: Gaussian entropy of the top-d covariance
    eigenvalues (np.cov, ddof 1, floored at 1e-10) of the scored cloud points (n, d)."""
    lam = np.maximum(covariance_eigenvalues(points), 1e-10)
    return gaussian_entropy(lam)


def faithful_knn_entropy(
    points: np.ndarray,
    random_state: np.random.RandomState,
    k: int = 1,
    theta: float = 0.01,
    bootstrap: int = 30,
    chunk: int = 8192,
) -> np.ndarray:
    """The paper code's k-NN entropy on each of ``bootstrap`` resamples WITH replacement.

    points: (n, d) PCA coordinates, scored in float32. For each resample s of n rows
    (``random_state.choice(n, n, replace=True)``):

        H_s = d·mean ln(ρ_k + θ) + mean ln λ(s) + ln(n − 1) − Ψ_k

    - ρ_k: entry k of each row of the sorted float32 ``torch.cdist(s, s)`` (entry 0 is
      normally the point itself). torch computes Euclidean distances through the product
      expansion ‖a‖² + ‖b‖² − 2a·b, so a point and its bootstrap copy get 0 to ~0.02 instead
      of 0 — comparable to θ = 0.01, which is why this differs from exact distances by many
      nats. Rows of s are done ``chunk`` at a time (one call, as the official, when n ≤ chunk).
    - λ(s): covariance eigenvalues (ddof 1, floored at 1e-10) of the *resample*.
    - Ψ_k = −0.577216 + Σ_{j≤k} 1/j (the official truncated Euler constant).
    The d·mean term is a float32 torch scalar and the sum is rounded to float32, as there.
    Returns (bootstrap,) values; the official estimate is their mean. Follows
    galaxy/PointCloudStructure_Galaxy.ipynb (ejmichaud/feature-geometry), entropy cell,
    ``get_entropy_revised`` and the bootstrap loop of ``compute_clustering_with_error``.
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    n, d = x.shape
    if not 1 <= k < n:
        raise ValueError(f"k={k} needs 1 ≤ k < n={n}")
    psi = -0.577216 + float(np.sum(1.0 / np.arange(1, k + 1)))
    values = np.empty(bootstrap)
    for b in range(bootstrap):
        s = x[torch.from_numpy(random_state.choice(n, n, replace=True))]
        const = float(np.mean(np.log(np.maximum(covariance_eigenvalues(s.numpy()), 1e-10)[:d])))
        const += np.log(n - 1) - psi
        rho = torch.cat(
            [
                torch.topk(
                    torch.cdist(s[i : i + chunk], s, p=2), k + 1, dim=1, largest=False, sorted=True
                ).values[:, k]
                for i in range(0, n, chunk)
            ]
        )
        values[b] = (d * torch.mean(torch.log(rho + theta)) + const).item()
    return values


@dataclass(frozen=True)
class FaithfulClustering:
    """The official clustering entropy of one cloud: H_gauss − mean_b H_b.

    entropy_gauss, entropy_knn (mean over resamples), clustering; ci_low/ci_high: the
    official error bar, clustering ∓ t_{0.975, B−1}·sd(H_b)/√B; values: (B,) the H_b.
    """

    entropy_gauss: float
    entropy_knn: float
    clustering: float
    ci_low: float
    ci_high: float
    values: np.ndarray


def faithful_clustering(
    points: np.ndarray,
    random_state: np.random.RandomState,
    k: int = 1,
    theta: float = 0.01,
    bootstrap: int = 30,
) -> FaithfulClustering:
    """Clustering entropy of preprocessed points (n, d) with the paper's estimator.

    H_gauss from ``faithful_gaussian_entropy(points)``, the k-NN entropy from
    ``faithful_knn_entropy``; clustering = H_gauss − mean H_b, error bar from a t quantile
    over the resamples (official: ``t.ppf(0.975, B − 1)`` times the standard error).
    Follows galaxy/PointCloudStructure_Galaxy.ipynb, ``compute_clustering_with_error``.
    """
    from scipy.stats import t

    points = np.asarray(points, dtype=np.float32)  # the official cloud is float32 throughout
    values = faithful_knn_entropy(points, random_state, k=k, theta=theta, bootstrap=bootstrap)
    h_gauss = faithful_gaussian_entropy(points)
    h_knn = float(values.mean())
    half = (
        float(t.ppf(0.975, bootstrap - 1) * values.std(ddof=1) / np.sqrt(bootstrap))
        if bootstrap > 1
        else np.nan
    )
    clus = h_gauss - h_knn
    return FaithfulClustering(
        entropy_gauss=h_gauss,
        entropy_knn=h_knn,
        clustering=clus,
        ci_low=clus - half,
        ci_high=clus + half,
        values=values,
    )


def kl_entropy(points: np.ndarray, k: int = 1) -> float:
    """Kozachenko–Leonenko entropy estimate (nats) on distinct points.

    points: (n, d). Exact duplicate rows are removed first (a zero distance would send
    ln ρ to −∞). H = ψ(n) − ψ(k) + ln V_d + (d/n) Σ_i ln ρ_k(i), ρ_k(i) the Euclidean distance
    from point i to its k-th nearest other point, V_d the volume of the unit d-ball.
    Kozachenko & Leonenko (1987); the corrected estimator of this workflow (spec §Galaxy).
    """
    x = np.unique(np.asarray(points), axis=0)  # knn_distances works in float64
    n, d = x.shape
    dist, _ = knn_distances(x, k)
    rho = dist[:, k - 1]
    if np.any(rho <= 0):
        raise ValueError("zero nearest-neighbour distance between distinct points")
    return float(digamma(n) - digamma(k) + log_unit_ball_volume(d) + d * np.mean(np.log(rho)))


def kl_entropy_ci(
    points: np.ndarray,
    rng: np.random.Generator,
    k: int = 1,
    fraction: float = 0.5,
    replicates: int = 30,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """KL entropy with a subsampling (without replacement) confidence interval.

    points: (n, d). Each replicate draws m = round(fraction·n) distinct rows without
    replacement and re-estimates H_m. Without replacement, Var(H_m | sample) ≈
    σ²(1/m − 1/n), so the centred deviations √(m/(n − m))·(H_m − mean H_m) stand in for
    those of H_n around its mean (delete-d jackknife scaling, Shao & Wu 1989; for m = n/2 the
    factor is 1), and CI = [H_n − q_hi, H_n − q_lo]. Centring on the subsample mean removes
    the difference in the estimator's finite-sample bias between sizes m and n; the bias
    of H_n itself is not in the interval (that is what the Gaussian null calibrates).
    Returns (estimate, ci_low, ci_high).
    """
    x = np.unique(np.asarray(points), axis=0)  # kl_entropy works in float64
    n = x.shape[0]
    h = kl_entropy(x, k)
    m = int(round(fraction * n))
    if not k < m < n:
        raise ValueError(f"subsample size {m} must lie strictly between k={k} and n={n}")
    sub = np.array(
        [kl_entropy(x[rng.choice(n, size=m, replace=False)], k) for _ in range(replicates)]
    )
    dev = np.sqrt(m / (n - m)) * (sub - sub.mean())
    alpha = (1 - level) / 2
    return h, float(h - np.quantile(dev, 1 - alpha)), float(h - np.quantile(dev, alpha))
