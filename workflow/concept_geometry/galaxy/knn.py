"""Building blocks of the clustering-entropy estimators of :mod:`.entropy`: covariance
eigenvalues, the entropy of a Gaussian in closed form and Gaussian null clouds, the volume of
the unit ball and exact k-nearest-neighbour distances."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln


def covariance_eigenvalues(points: np.ndarray) -> np.ndarray:
    """Eigenvalues (ddof=1) of the covariance of points (n, d), decreasing, clipped at 0."""
    cov = np.atleast_2d(np.cov(np.asarray(points, dtype=np.float64), rowvar=False))
    return np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)


def gaussian_entropy(eigenvalues: np.ndarray) -> float:
    """Differential entropy (nats) of a Gaussian with covariance eigenvalues λ (d,).

    H_g = (d/2)(1 + ln 2π) + ½ Σ ln λ_i = ½ ln((2πe)^d |Σ|).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    d = lam.size
    return float(0.5 * d * (1.0 + np.log(2 * np.pi)) + 0.5 * np.sum(np.log(lam)))


def log_unit_ball_volume(d: int) -> float:
    """ln V_d, the log volume of the unit Euclidean d-ball: (d/2) ln π − ln Γ(d/2 + 1)."""
    return float(0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1.0))


def knn_distances(points: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Distances and indices of the k nearest *other* points, brute force.

    points: (n, d). Returns (dist (n, k) increasing, idx (n, k)). Candidates are found from
    squared-norm expansion in chunks; the chosen distances are then recomputed exactly as
    ‖x_i − x_j‖ so that near-duplicates do not lose precision to cancellation.
    """
    x = np.asarray(points, dtype=np.float64)
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k={k} needs 1 ≤ k < n={n}")
    sq = np.einsum("ij,ij->i", x, x)
    idx = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        d2 = sq[start:stop, None] + sq[None, :] - 2.0 * (x[start:stop] @ x.T)
        d2[np.arange(stop - start), np.arange(start, stop)] = np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        idx[start:stop] = part
    dist = np.linalg.norm(x[:, None, :] - x[idx], axis=2)
    order = np.argsort(dist, axis=1)
    return np.take_along_axis(dist, order, 1), np.take_along_axis(idx, order, 1)


def gaussian_null(variances: np.ndarray, n_points: int, rng: np.random.Generator) -> np.ndarray:
    """A structureless cloud: n_points draws of N(0, diag(variances)), shape (n_points, d).

    In PCA coordinates the layer's cloud has covariance diag(variances), so this is a Gaussian
    with the layer's own covariance; its true entropy is ``gaussian_entropy(variances)``.
    """
    sd = np.sqrt(np.asarray(variances, dtype=np.float64))
    return rng.standard_normal((n_points, sd.size)) * sd
