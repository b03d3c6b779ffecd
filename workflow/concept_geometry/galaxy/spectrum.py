"""Galaxy scale, part 1: eigen-spectrum of the SAE decoder point cloud (Li et al. 2024, §5).

The point cloud is the set of decoder rows ``W_dec: (n_features, d_model)``. Its covariance
spectrum, sorted in decreasing order, follows a power law over a middle range of ranks; the
log10–log10 slope there is steepest in the middle layers (paper Fig. 7). An isotropic Gaussian
cloud of the same shape is the null (Marchenko–Pastur spectrum, slope ≈ 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import ConfigError

__all__ = [
    "covariance_spectrum",
    "isotropic_null_spectrum",
    "PowerLawFit",
    "powerlaw_slope",
    "bootstrap_slope_ci",
    "log_volume",
    "check_fit_range",
]


def _covariance_from_chunks(chunks, d: int) -> np.ndarray:
    """Centred covariance (ddof=1) accumulated over row chunks, in float64."""
    n = 0
    s = np.zeros(d)
    ss = np.zeros((d, d))
    for block in chunks:
        block = np.asarray(block, dtype=np.float64)
        n += block.shape[0]
        s += block.sum(axis=0)
        ss += block.T @ block
    mean = s / n
    return (ss - n * np.outer(mean, mean)) / (n - 1)


def covariance_spectrum(
    points: np.ndarray, weights: np.ndarray | None = None, chunk: int = 8192
) -> np.ndarray:
    """Eigenvalues of the covariance of a point cloud, sorted in decreasing order.

    points: (n_points, d) — e.g. SAE decoder rows W_dec (n_features, d_model).
    weights: optional (n_points,) non-negative integer multiplicities (a bootstrap resample
        written as counts, so no copy of the cloud is made).
    Returns (min(n_points - 1, d),) float64 eigenvalues λ_1 ≥ λ_2 ≥ …, clipped at 0.
    Paper: Li et al. 2024 §5 ("Galaxy"), Fig. 7 left.
    """
    points = np.asarray(points)
    n, d = points.shape
    if weights is None:
        cov = _covariance_from_chunks((points[i : i + chunk] for i in range(0, n, chunk)), d)
    else:
        w = np.asarray(weights, dtype=np.float64)
        m = w.sum()
        s = np.zeros(d)
        ss = np.zeros((d, d))
        for i in range(0, n, chunk):
            block = np.asarray(points[i : i + chunk], dtype=np.float64)
            wb = w[i : i + chunk]
            s += wb @ block
            ss += (block * wb[:, None]).T @ block
        mean = s / m
        cov = (ss - m * np.outer(mean, mean)) / (m - 1)
    eig = np.linalg.eigvalsh(cov)[::-1]
    return np.clip(eig[: min(n - 1, d)], 0.0, None)


def isotropic_null_spectrum(
    n_points: int, d: int, variance: float, rng: np.random.Generator, chunk: int = 8192
) -> np.ndarray:
    """Spectrum of an isotropic Gaussian cloud N(0, variance·I) of shape (n_points, d).

    Drawn in row chunks (never the whole cloud in memory); the finite-sample spectrum is
    Marchenko–Pastur, so its power-law slope is close to 0 (paper: ≈ −0.03).
    Returns (min(n_points - 1, d),) eigenvalues, decreasing.
    """
    scale = float(np.sqrt(variance))

    def chunks():
        left = n_points
        while left > 0:
            m = min(chunk, left)
            left -= m
            yield rng.standard_normal((m, d)) * scale

    eig = np.linalg.eigvalsh(_covariance_from_chunks(chunks(), d))[::-1]
    return np.clip(eig[: min(n_points - 1, d)], 0.0, None)


def check_fit_range(
    fit_range, n_eigenvalues: int, key: str = "galaxy.fit_range"
) -> tuple[int, int]:
    """Validate a 1-based inclusive rank range [lo, hi] against the number of eigenvalues."""
    lo, hi = int(fit_range[0]), int(fit_range[1])
    if not 1 <= lo < hi:
        raise ConfigError(
            f"Invalid config: key `{key}` = {list(fit_range)}: needs 1 ≤ low < high "
            f"(1-based ranks, both included). Edit `{key}` in your config file."
        )
    if hi > n_eigenvalues:
        raise ConfigError(
            f"Invalid config: key `{key}` = {list(fit_range)} asks for rank {hi}, but this point "
            f"cloud has only {n_eigenvalues} eigenvalues (min(n_features - 1, d_model)). Lower the "
            f"upper rank of `{key}` to at most {n_eigenvalues} (the paper's ranks 11–150 need "
            f"d_model > 150)."
        )
    return lo, hi


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit log10 λ_r = intercept + slope · log10 r over ranks lo..hi."""

    slope: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    lo: int
    hi: int


def powerlaw_slope(
    eigenvalues: np.ndarray, fit_range=(11, 150), level: float = 0.95
) -> PowerLawFit:
    """Power-law exponent of a sorted spectrum from a log10–log10 OLS fit.

    eigenvalues: (n,) decreasing, positive over the fit range.
    fit_range: 1-based ranks [lo, hi], both included (paper code: 11–150).
    The confidence interval here is the OLS one (t quantile × standard error of the slope);
    residuals along a spectrum are correlated, so ``bootstrap_slope_ci`` is the honest one.
    Paper: Li et al. 2024 §5, Fig. 7 right. For λ_r = C r^-α the slope is −α.
    """
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    lo, hi = check_fit_range(fit_range, eigenvalues.size)
    lam = eigenvalues[lo - 1 : hi]
    if np.any(lam <= 0):
        raise ValueError(
            f"non-positive eigenvalue within ranks {lo}–{hi}; the cloud is rank-deficient there"
        )
    x = np.log10(np.arange(lo, hi + 1, dtype=np.float64))
    y = np.log10(lam)
    res = stats.linregress(x, y)
    t = stats.t.ppf(0.5 + level / 2, df=x.size - 2)
    return PowerLawFit(
        float(res.slope),
        float(res.intercept),
        float(res.stderr),
        float(res.slope - t * res.stderr),
        float(res.slope + t * res.stderr),
        lo,
        hi,
    )


def bootstrap_slope_ci(
    points: np.ndarray,
    fit_range,
    replicates: int,
    level: float,
    rng: np.random.Generator,
    progress=None,
) -> tuple[float, float]:
    """Bootstrap CI of the power-law slope, resampling points (features) with replacement.

    points: (n_points, d). Each replicate draws n_points rows with replacement (as
    multinomial counts), recomputes the covariance spectrum and refits the slope. Returns
    the normal-approximation interval slope ± z·SE_boot at ``level``, centred on the
    full-sample slope: resampling with replacement itself spreads the spectrum (duplicated
    rows), so the bootstrap distribution is shifted and percentile intervals can miss the
    estimate; its spread is what we use.
    """
    n = points.shape[0]
    slopes = np.empty(replicates)
    it = range(replicates) if progress is None else progress(range(replicates))
    for b in it:
        counts = rng.multinomial(n, np.full(n, 1.0 / n))
        slopes[b] = powerlaw_slope(covariance_spectrum(points, weights=counts), fit_range).slope
    centre = powerlaw_slope(covariance_spectrum(points), fit_range).slope
    half = stats.norm.ppf(0.5 + level / 2) * slopes.std(ddof=1)
    return float(centre - half), float(centre + half)


def log_volume(eigenvalues: np.ndarray, fit_range) -> float:
    """Effective volume Σ ln λ_r over the fitted ranks (natural log; paper §5)."""
    lo, hi = check_fit_range(fit_range, np.asarray(eigenvalues).size)
    return float(np.sum(np.log(np.asarray(eigenvalues, dtype=np.float64)[lo - 1 : hi])))
