"""Galaxy stage science (Li et al. 2024 §5): spectra, slopes, entropies, against independent
expectations (closed forms, planted structure, brute force)."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma

from concept_geometry.errors import ConfigError
from concept_geometry.galaxy import analyse_layer, summary_rows
from concept_geometry.galaxy import entropy as ent
from concept_geometry.galaxy import spectrum as spec


def gaussian_entropy_closed_form(cov):
    """½ ln((2πe)^d |Σ|), computed independently of the package."""
    d = cov.shape[0]
    return 0.5 * (d * np.log(2 * np.pi * np.e) + np.linalg.slogdet(cov)[1])


def random_covariance(d, rng):
    a = rng.standard_normal((d, d)) / np.sqrt(d)
    return a @ a.T + 0.5 * np.eye(d)


# --- corrected estimator ------------------------------------------------------------------

# Kozachenko–Leonenko is consistent but biased upward in higher d at finite n (the bias decays
# like n^(-2/d)); stated tolerance with n = 4000, k = 1 or 3: 0.05 nats per dimension for
# d ≤ 5 (0.1 at d = 2, 0.25 at d = 5) and 0.08 per dimension at d = 20 (1.6 nats of ≈ 30).
KL_TOLERANCE = {2: 0.1, 5: 0.25, 20: 1.6}


@pytest.mark.parametrize("d", [2, 5, 20])
@pytest.mark.parametrize("k", [1, 3])
def test_kl_recovers_gaussian_entropy(d, k):
    rng = np.random.default_rng(100 + d)
    cov = random_covariance(d, rng)
    x = rng.multivariate_normal(np.zeros(d), cov, size=4000)
    truth = gaussian_entropy_closed_form(cov)
    assert abs(ent.kl_entropy(x, k) - truth) <= KL_TOLERANCE[d]


def test_kl_closed_form_in_one_dimension_small_case():
    # Three points 0, 1, 3 in 1-d, k = 1: ρ = (1, 1, 2); V_1 = 2.
    h = ent.kl_entropy(np.array([[0.0], [1.0], [3.0]]), k=1)
    expected = digamma(3) - digamma(1) + np.log(2.0) + np.mean(np.log([1.0, 1.0, 2.0]))
    assert h == pytest.approx(expected, abs=1e-12)


def test_kl_ignores_duplicates():
    x = np.array([[0.0], [1.0], [3.0]])
    assert ent.kl_entropy(np.vstack([x, x[:2]]), 1) == pytest.approx(ent.kl_entropy(x, 1))


def test_unit_ball_volume():
    assert np.exp(ent.log_unit_ball_volume(2)) == pytest.approx(np.pi)
    assert np.exp(ent.log_unit_ball_volume(3)) == pytest.approx(4 / 3 * np.pi)


def test_kl_ci_width_matches_sampling_spread():
    """The subsampling interval's half-width ≈ 1.96 × the estimator's true standard deviation
    (measured over independent samples), and the interval contains the estimate."""
    rng = np.random.default_rng(7)
    lam = np.array([0.5, 1.5])
    estimates, half_widths = [], []
    for _ in range(30):
        x = ent.gaussian_null(lam, 800, rng)
        h, lo, hi = ent.kl_entropy_ci(x, rng, k=3, replicates=20)
        assert lo < h < hi
        estimates.append(h)
        half_widths.append((hi - lo) / 2)
    ratio = np.mean(half_widths) / (1.96 * np.std(estimates, ddof=1))
    assert 0.65 < ratio < 1.5
    assert abs(np.mean(estimates) - gaussian_entropy_closed_form(np.diag(lam))) < 0.05


def test_gaussian_entropy_matches_closed_form():
    lam = np.array([0.5, 2.0, 3.0])
    assert ent.gaussian_entropy(lam) == pytest.approx(gaussian_entropy_closed_form(np.diag(lam)))


# --- faithful estimator -------------------------------------------------------------------

def test_multiset_neighbours_match_brute_force():
    rng = np.random.default_rng(3)
    pts = rng.standard_normal((40, 3))
    counts = rng.integers(1, 4, size=40)
    full = np.repeat(pts, counts, axis=0)
    owner = np.repeat(np.arange(40), counts)
    dist = np.linalg.norm(full[:, None] - full[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    for k in (1, 2, 4):
        brute = np.sort(dist, axis=1)[:, k - 1]
        got = ent._kth_neighbour_with_multiplicity(pts, counts, k)[owner]
        np.testing.assert_allclose(got, brute, atol=1e-12)


def test_faithful_formula_by_brute_force():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((60, 4)) * [1.0, 2.0, 0.5, 1.5]
    h, values = ent.faithful_entropy(x, np.random.default_rng(11), k=1, theta=0.01, bootstrap=3)
    draws = np.random.default_rng(11)
    lam = np.linalg.eigvalsh(np.cov(x, rowvar=False))
    for b in range(3):
        s = x[draws.integers(0, 60, size=60)]
        dist = np.linalg.norm(s[:, None] - s[None], axis=2)
        np.fill_diagonal(dist, np.inf)
        rho = dist.min(axis=1)
        expected = 4 * np.mean(np.log(rho + 0.01)) + np.mean(np.log(lam)) + np.log(59) - digamma(2)
        assert values[b] == pytest.approx(expected, abs=1e-9)
    assert h == pytest.approx(values.mean())


def test_faithful_shows_artifact_corrected_does_not():
    """On a structureless Gaussian cloud (true clustering 0) the paper's estimator reports large
    'clustering' — most bootstrap points sit on a copy of themselves, ρ = 0, and ln θ dominates —
    while Kozachenko–Leonenko on distinct points reports ≈ 0."""
    rng = np.random.default_rng(2)
    d, n = 10, 2000
    lam = np.linspace(0.5, 3.0, d)
    cloud = ent.gaussian_null(lam, n, rng)
    truth = gaussian_entropy_closed_form(np.diag(lam))
    faithful = truth - ent.faithful_entropy(cloud, np.random.default_rng(0), bootstrap=5)[0]
    corrected = truth - ent.kl_entropy(cloud, k=3)
    assert faithful > 20.0  # ≈ d·0.63·(ln ρ_typical − ln θ): tens of nats
    assert abs(corrected) < 0.5
    # The artifact comes from the resampling: without duplicates the estimate falls back.
    s = np.random.default_rng(0).integers(0, n, n)
    assert 1 - np.unique(s).size / n == pytest.approx(np.exp(-1), abs=0.03)


# --- spectrum and slope -------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.3, 0.7, 1.2])
def test_slope_of_exact_power_law(alpha):
    lam = np.arange(1, 301, dtype=float) ** -alpha
    fit = spec.powerlaw_slope(lam, (11, 150))
    assert fit.slope == pytest.approx(-alpha, abs=1e-10)
    assert fit.ci_low <= fit.slope <= fit.ci_high


def test_slope_of_noisy_power_law_ci_covers():
    rng = np.random.default_rng(0)
    lam = np.arange(1, 301, dtype=float) ** -0.5 * np.exp(rng.normal(0, 0.05, 300))
    fit = spec.powerlaw_slope(lam, (11, 150))
    assert fit.ci_low < -0.5 < fit.ci_high


def test_cloud_with_planted_power_law_spectrum():
    rng = np.random.default_rng(1)
    d, n, alpha = 80, 8000, 0.8
    sd = np.arange(1, d + 1, dtype=float) ** (-alpha / 2)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))  # random rotation
    cloud = (rng.standard_normal((n, d)) * sd) @ q.T
    eig = spec.covariance_spectrum(cloud)
    np.testing.assert_allclose(eig, np.sort(np.linalg.eigvalsh(np.cov(cloud, rowvar=False)))[::-1], rtol=1e-8)
    assert spec.powerlaw_slope(eig, (5, 60)).slope == pytest.approx(-alpha, abs=0.05)
    lo, hi = spec.bootstrap_slope_ci(cloud, (5, 60), 10, 0.95, np.random.default_rng(2))
    slope = spec.powerlaw_slope(eig, (5, 60)).slope
    assert lo < slope < hi and hi - lo < 0.1


def test_weighted_spectrum_equals_spectrum_of_repeated_rows():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 5))
    w = rng.integers(0, 3, size=30)
    np.testing.assert_allclose(spec.covariance_spectrum(x, weights=w),
                               spec.covariance_spectrum(np.repeat(x, w, axis=0)), rtol=1e-10)


def test_isotropic_null_is_flat():
    eig = spec.isotropic_null_spectrum(20000, 100, 2.0, np.random.default_rng(0))
    assert abs(spec.powerlaw_slope(eig, (11, 90)).slope) < 0.1
    assert eig.mean() == pytest.approx(2.0, rel=0.02)


def test_log_volume_hand_computed():
    lam = np.arange(1, 11, dtype=float) ** -1.0
    assert spec.log_volume(lam, (2, 4)) == pytest.approx(-(np.log(2) + np.log(3) + np.log(4)))


def test_fit_range_beyond_spectrum_is_refused():
    with pytest.raises(ConfigError, match="galaxy.fit_range"):
        spec.powerlaw_slope(np.ones(50), (11, 150))


def test_preprocess_pca_variances_are_covariance_eigenvalues():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 12)) * np.arange(1, 13)
    pre = ent.preprocess_cloud(x, 300, 5, True, np.random.default_rng(1))
    z = x[pre.rows]
    z = (z - z.mean(0)) / z.std(0)
    np.testing.assert_allclose(pre.variances, np.sort(np.linalg.eigvalsh(np.cov(z, rowvar=False)))[::-1][:5], rtol=1e-8)
    np.testing.assert_allclose(np.cov(pre.points, rowvar=False), np.diag(pre.variances), atol=1e-8)
    assert len(np.unique(pre.rows)) == 300


# --- one layer, end to end ----------------------------------------------------------------

CFG = {
    "fit_range": [3, 20], "slope_ci": {"method": "ols", "replicates": 10, "level": 0.95},
    "entropy": {"n_points": 600, "zscore": True, "pca_dim": 8},
    "faithful": {"k": 1, "theta": 0.01, "bootstrap": 3},
    "corrected": {"k": 3, "subsample_fraction": 0.5, "replicates": 5, "level": 0.95},
    "null": {"replicates": 2},
}


def test_planted_clusters_give_excess_clustering_gaussian_does_not():
    rng = np.random.default_rng(0)
    d = 32
    centres = rng.standard_normal((12, d)) * 3
    clustered = centres[rng.integers(0, 12, 800)] + 0.2 * rng.standard_normal((800, d))
    gauss = rng.standard_normal((800, d)) * np.sqrt(np.linspace(0.5, 2, d))
    rc = analyse_layer(clustered.astype(np.float32), 3, CFG, seed=0).summary
    rg = analyse_layer(gauss.astype(np.float32), 4, CFG, seed=0).summary
    assert rc["excess_clustering_corrected"] > 3.0
    assert abs(rg["excess_clustering_corrected"]) < 1.0
    assert abs(rg["clustering_corrected"]) < 1.0
    assert rg["clustering_faithful"] > 5.0  # the artifact, on a structureless cloud
    assert rc["layer"] == 3 and rc["n_points"] == 600


def test_too_many_points_is_refused():
    from concept_geometry.errors import InputDataError

    with pytest.raises(InputDataError, match="n_points"):
        analyse_layer(np.random.default_rng(0).standard_normal((100, 30)), 0, CFG, seed=0)


def test_summary_rows():
    g = pd.DataFrame({"layer": [0, 1, 2], "slope": [-0.2, -0.5, -0.3], "slope_ci_low": 0.0, "slope_ci_high": 0.0,
                      "null_slope": -0.03, "log_volume": 1.0,
                      "clustering_faithful": [360, 369, 365], "clustering_corrected": [1.0, 2.0, 3.0],
                      "null_clustering_faithful": 366, "null_clustering_corrected": [0.0, 0.0, 2.5],
                      "excess_clustering_faithful": 0.0, "excess_clustering_corrected": [1.0, 2.0, 0.5]})
    rows = summary_rows(g, "m")
    assert list(rows.columns) == ["stage", "quantity", "setting", "model", "value"]
    one = rows.set_index(["quantity", "setting"])["value"]
    assert one[("powerlaw_slope", "layer=1")] == -0.5
    assert one[("steepest_slope_layer", "")] == 1
    assert one[("peak_clustering_layer_faithful", "")] == 1
    assert one[("peak_clustering_layer_corrected", "")] == 1
    assert (rows["stage"] == "galaxy").all()


# --- config cross-checks ------------------------------------------------------------------

def _config(**galaxy):
    g = {"layers": None, "sae": None, "fit_range": [11, 100],
         "entropy": {"n_points": None, "zscore": True, "pca_dim": 100},
         "faithful": {"k": 1}, "corrected": {"k": 1}}
    g.update(galaxy)
    return {"stages": ["features", "galaxy"], "features": {"layers": [1, 3]}, "galaxy": g}


@pytest.mark.parametrize("galaxy, needle", [
    ({"fit_range": [20, 10]}, "galaxy.fit_range"),
    ({"fit_range": [10, 11]}, "fewer than 3"),
    ({"layers": [1, 2]}, "[2]"),
    ({"entropy": {"n_points": 50, "zscore": True, "pca_dim": 100}}, "galaxy.entropy.pca_dim"),
])
def test_config_cross_checks(galaxy, needle):
    from concept_geometry.galaxy import check_galaxy_config

    with pytest.raises(ConfigError) as err:
        check_galaxy_config(_config(**galaxy))
    assert needle in str(err.value) and "config/README.md" in str(err.value)


def test_config_cross_checks_accept_paper_layers_with_own_sae():
    from concept_geometry.galaxy import check_galaxy_config

    check_galaxy_config(_config(layers=list(range(26)), sae={"source": "pretrained"}))
