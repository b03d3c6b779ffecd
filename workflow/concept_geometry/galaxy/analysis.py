"""Galaxy stage, one layer: spectrum, slope, volume and clustering entropies (Li et al. 2024 §5).

``analyse_layer`` turns one decoder matrix into the rows of ``spectrum.tsv`` and one row of
``galaxy.tsv``; every random step draws from a Generator derived from the master seed, the
stage tag and the layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputDataError
from ..seeding import rng as make_rng
from . import entropy as ent
from . import spectrum as spec

__all__ = ["LayerResult", "analyse_layer", "GALAXY_COLUMNS", "SPECTRUM_COLUMNS"]

SPECTRUM_COLUMNS = ["layer", "rank", "eigenvalue", "null_eigenvalue"]
GALAXY_COLUMNS = [
    "layer", "slope", "slope_ci_low", "slope_ci_high", "null_slope", "log_volume",
    "entropy_gauss", "entropy_faithful", "entropy_corrected",
    "clustering_faithful", "clustering_corrected",
    "null_clustering_faithful", "null_clustering_corrected",
    # beyond the contract: intervals, the null band and the null-relative (calibrated) values
    "entropy_corrected_ci_low", "entropy_corrected_ci_high",
    "clustering_corrected_ci_low", "clustering_corrected_ci_high",
    "null_clustering_faithful_low", "null_clustering_faithful_high",
    "null_clustering_corrected_low", "null_clustering_corrected_high",
    "excess_clustering_faithful", "excess_clustering_corrected",
    "n_features", "d_model", "n_points", "n_distinct", "pca_dim", "slope_ci_method",
]


@dataclass(frozen=True)
class LayerResult:
    """spectrum: rows of spectrum.tsv (SPECTRUM_COLUMNS); summary: one galaxy.tsv row."""

    spectrum: pd.DataFrame
    summary: dict[str, Any]


def _entropy_points(cfg: dict, n_features: int) -> int:
    n = cfg["entropy"]["n_points"]
    if n is None:
        return n_features
    if n > n_features:
        raise InputDataError(
            f"`galaxy.entropy.n_points` = {n} but this SAE has only {n_features} features. "
            f"Set `galaxy.entropy.n_points` to at most {n_features}, or to null to use every feature."
        )
    return int(n)


def analyse_layer(decoder: np.ndarray, layer: int, cfg: dict, seed: int,
                  progress: Callable | None = None, log=None) -> LayerResult:
    """All galaxy quantities of one layer.

    decoder: (n_features, d_model) SAE decoder rows W_dec. cfg: the ``galaxy`` config
    section. seed: the master seed. Returns spectrum rows and the galaxy.tsv row
    (columns ``GALAXY_COLUMNS``).
    """
    info = log.info if log is not None else (lambda *a: None)
    w = np.asarray(decoder)
    if w.ndim != 2 or not np.all(np.isfinite(w)):
        raise InputDataError(f"Decoder of layer {layer} must be a finite (n_features, d_model) matrix; got shape {w.shape}.")
    n_features, d_model = w.shape
    fit_range = cfg["fit_range"]

    info("layer %s: covariance spectrum of %d × %d decoder rows", layer, n_features, d_model)
    eig = spec.covariance_spectrum(w)
    spec.check_fit_range(fit_range, eig.size)
    fit = spec.powerlaw_slope(eig, fit_range, level=cfg["slope_ci"]["level"])
    if cfg["slope_ci"]["method"] == "bootstrap":
        info("layer %s: bootstrap CI of the slope (%d resamples of features)", layer, cfg["slope_ci"]["replicates"])
        lo, hi = spec.bootstrap_slope_ci(w, fit_range, cfg["slope_ci"]["replicates"], cfg["slope_ci"]["level"],
                                         make_rng(seed, "galaxy", layer, "slope_bootstrap"), progress)
    else:
        lo, hi = fit.ci_low, fit.ci_high
    null_eig = spec.isotropic_null_spectrum(n_features, d_model, float(eig.sum() / d_model),
                                            make_rng(seed, "galaxy", layer, "null_spectrum"))
    null_fit = spec.powerlaw_slope(null_eig, fit_range)
    volume = spec.log_volume(eig, fit_range)

    e = cfg["entropy"]
    n_points = _entropy_points(cfg, n_features)
    pca_dim = int(e["pca_dim"])
    if pca_dim > min(n_points - 1, d_model):
        raise ConfigError(
            f"Invalid config: key `galaxy.entropy.pca_dim` = {pca_dim} exceeds min(n_points − 1, d_model) "
            f"= {min(n_points - 1, d_model)} for layer {layer}. Lower `galaxy.entropy.pca_dim`."
        )
    info("layer %s: preprocessing (%d points, z-score=%s, PCA to %d)", layer, n_points, e["zscore"], pca_dim)
    pre = ent.preprocess_cloud(w, n_points, pca_dim, e["zscore"], make_rng(seed, "galaxy", layer, "subsample"))
    h_gauss = ent.gaussian_entropy(pre.variances)
    n_distinct = int(np.unique(pre.points, axis=0).shape[0])

    fcfg, ccfg = cfg["faithful"], cfg["corrected"]
    info("layer %s: faithful estimator (%d bootstrap resamples with replacement, θ=%g)", layer, fcfg["bootstrap"], fcfg["theta"])
    h_faith, _ = ent.faithful_entropy(pre.points, make_rng(seed, "galaxy", layer, "faithful"),
                                      k=fcfg["k"], theta=fcfg["theta"], bootstrap=fcfg["bootstrap"])
    info("layer %s: corrected (Kozachenko–Leonenko) estimator, %d subsamples", layer, ccfg["replicates"])
    h_corr, h_lo, h_hi = ent.kl_entropy_ci(pre.points, make_rng(seed, "galaxy", layer, "corrected"),
                                           k=ccfg["k"], fraction=ccfg["subsample_fraction"],
                                           replicates=ccfg["replicates"], level=ccfg["level"])

    reps = int(cfg["null"]["replicates"])
    info("layer %s: Gaussian null with the layer's covariance (%d clouds)", layer, reps)
    null_f, null_c = np.empty(reps), np.empty(reps)
    it = range(reps) if progress is None else progress(range(reps))
    for r in it:
        cloud = ent.gaussian_null(pre.variances, n_points, make_rng(seed, "galaxy", layer, "null_cloud", r))
        # The null's true entropy is h_gauss in closed form, so H_true − Ĥ is its "clustering".
        null_f[r] = h_gauss - ent.faithful_entropy(cloud, make_rng(seed, "galaxy", layer, "null_faithful", r),
                                                   k=fcfg["k"], theta=fcfg["theta"], bootstrap=fcfg["bootstrap"])[0]
        null_c[r] = h_gauss - ent.kl_entropy(cloud, ccfg["k"])

    clus_f, clus_c = h_gauss - h_faith, h_gauss - h_corr
    summary = {
        "layer": layer, "slope": fit.slope, "slope_ci_low": lo, "slope_ci_high": hi,
        "null_slope": null_fit.slope, "log_volume": volume, "entropy_gauss": h_gauss,
        "entropy_faithful": h_faith, "entropy_corrected": h_corr,
        "clustering_faithful": clus_f, "clustering_corrected": clus_c,
        "null_clustering_faithful": float(null_f.mean()), "null_clustering_corrected": float(null_c.mean()),
        "entropy_corrected_ci_low": h_lo, "entropy_corrected_ci_high": h_hi,
        "clustering_corrected_ci_low": h_gauss - h_hi, "clustering_corrected_ci_high": h_gauss - h_lo,
        "null_clustering_faithful_low": float(null_f.min()), "null_clustering_faithful_high": float(null_f.max()),
        "null_clustering_corrected_low": float(null_c.min()), "null_clustering_corrected_high": float(null_c.max()),
        "excess_clustering_faithful": clus_f - float(null_f.mean()),
        "excess_clustering_corrected": clus_c - float(null_c.mean()),
        "n_features": n_features, "d_model": d_model, "n_points": n_points, "n_distinct": n_distinct,
        "pca_dim": pca_dim, "slope_ci_method": cfg["slope_ci"]["method"],
    }
    spectrum = pd.DataFrame({"layer": layer, "rank": np.arange(1, eig.size + 1),
                             "eigenvalue": eig, "null_eigenvalue": null_eig[: eig.size]})
    return LayerResult(spectrum=spectrum, summary=summary)
