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
from scipy.stats import norm

from ..errors import InputDataError
from ..seeding import derive_seed
from ..seeding import rng as make_rng
from . import entropy as ent
from . import spectrum as spec
from .checks import check_decoder_fits

__all__ = ["LayerResult", "analyse_layer", "GALAXY_COLUMNS", "SPECTRUM_COLUMNS"]

SPECTRUM_COLUMNS = ["layer", "rank", "eigenvalue", "null_eigenvalue"]
_CORRECTED_EXTRA = [  # per dimension; suffix "" = pca_dim, "_lowdim" = corrected_pca_dim
    "entropy_corrected{}_ci_low",
    "entropy_corrected{}_ci_high",
    "clustering_corrected{}_ci_low",
    "clustering_corrected{}_ci_high",
    "null_clustering_corrected{}_low",
    "null_clustering_corrected{}_high",
    "null_clustering_corrected{}_sd",
    "excess_clustering_corrected{}",
    "excess_clustering_corrected{}_ci_low",
    "excess_clustering_corrected{}_ci_high",
]
GALAXY_COLUMNS = [
    "layer",
    "slope",
    "slope_ci_low",
    "slope_ci_high",
    "null_slope",
    "log_volume",
    "entropy_gauss",
    "entropy_faithful",
    "entropy_corrected",
    "clustering_faithful",
    "clustering_corrected",
    "null_clustering_faithful",
    "null_clustering_corrected",
    # beyond the paper's columns: intervals, the null band and the null-relative
    # (calibrated) values.
    # Faithful: the official pipeline (its own subsample and PCA, hence its own H_gauss).
    "entropy_gauss_faithful",
    "clustering_faithful_ci_low",
    "clustering_faithful_ci_high",
    "null_clustering_faithful_low",
    "null_clustering_faithful_high",
    "excess_clustering_faithful",
    *[c.format("") for c in _CORRECTED_EXTRA],
    "entropy_gauss_lowdim",
    "entropy_corrected_lowdim",
    "clustering_corrected_lowdim",
    "null_clustering_corrected_lowdim",
    *[c.format("_lowdim") for c in _CORRECTED_EXTRA],
    "n_features",
    "d_model",
    "n_points",
    "n_distinct",
    "pca_dim",
    "corrected_pca_dim",
    "faithful_seed",
    "slope_ci_method",
]


@dataclass(frozen=True)
class LayerResult:
    """spectrum: rows of spectrum.tsv (SPECTRUM_COLUMNS); summary: one galaxy.tsv row."""

    spectrum: pd.DataFrame
    summary: dict[str, Any]


def analyse_layer(
    decoder: np.ndarray,
    layer: int,
    cfg: dict,
    seed: int,
    progress: Callable | None = None,
    log=None,
) -> LayerResult:
    """All galaxy quantities of one layer.

    decoder: (n_features, d_model) SAE decoder rows W_dec. cfg: the ``galaxy`` config
    section. seed: the master seed. Returns spectrum rows and the galaxy.tsv row
    (columns ``GALAXY_COLUMNS``).

    Faithful: the official pipeline (its own subsample, float32, default-solver PCA, bootstrap
    k-NN) seeded by ``faithful_seed`` (recorded); its null scores Gaussian clouds with the
    faithful cloud's covariance the same way. Corrected: exact-SVD PCA and Kozachenko–Leonenko
    at ``entropy.pca_dim`` and at ``corrected.pca_dim`` (suffix ``_lowdim``), each against
    Gaussian clouds of known entropy. The headline ``excess_clustering_corrected`` = clustering
    − mean null clustering; its interval widens each subsampling half-width h± to
    √(h±² + (z·s)²), s the null replicates' sd, z the normal quantile of ``corrected.level``.
    """
    info = log.info if log is not None else (lambda *a: None)
    w = np.asarray(decoder)
    if w.ndim != 2 or not np.all(np.isfinite(w)):
        raise InputDataError(
            f"Decoder of layer {layer} must be a finite (n_features, d_model) matrix; got shape "
            f"{w.shape}."
        )
    n_features, d_model = w.shape
    n_points = check_decoder_fits(cfg, n_features, d_model, layer)
    fit_range = cfg["fit_range"]

    info("layer %s: covariance spectrum of %d × %d decoder rows", layer, n_features, d_model)
    eig = spec.covariance_spectrum(w)
    spec.check_fit_range(fit_range, eig.size)
    fit = spec.powerlaw_slope(eig, fit_range, level=cfg["slope_ci"]["level"])
    if cfg["slope_ci"]["method"] == "bootstrap":
        info(
            "layer %s: bootstrap CI of the slope (%d resamples of features)",
            layer,
            cfg["slope_ci"]["replicates"],
        )
        lo, hi = spec.bootstrap_slope_ci(
            w,
            fit_range,
            cfg["slope_ci"]["replicates"],
            cfg["slope_ci"]["level"],
            make_rng(seed, "galaxy", layer, "slope_bootstrap"),
            progress,
        )
    else:
        lo, hi = fit.ci_low, fit.ci_high
    null_eig = spec.isotropic_null_spectrum(
        n_features,
        d_model,
        float(eig.sum() / d_model),
        make_rng(seed, "galaxy", layer, "null_spectrum"),
    )
    null_fit = spec.powerlaw_slope(null_eig, fit_range)
    volume = spec.log_volume(eig, fit_range)

    e, fcfg, ccfg = cfg["entropy"], cfg["faithful"], cfg["corrected"]
    pca_dim, low_dim = int(e["pca_dim"]), int(ccfg["pca_dim"])

    # Faithful: the official pipeline end to end, one legacy RandomState (seed recorded).
    faithful_seed = derive_seed(seed, "galaxy", layer, "faithful")
    info(
        "layer %s: faithful estimator (official preprocessing, %d bootstrap resamples with "
        "replacement, "
        "θ=%g, float32 cdist; seed %d)",
        layer,
        fcfg["bootstrap"],
        fcfg["theta"],
        faithful_seed,
    )
    state = np.random.RandomState(faithful_seed)
    fcloud = ent.faithful_preprocess(w, n_points, pca_dim, e["zscore"], state)
    faith = ent.faithful_clustering(
        fcloud.points, state, k=fcfg["k"], theta=fcfg["theta"], bootstrap=fcfg["bootstrap"]
    )

    # Corrected: exact-SVD PCA, Kozachenko–Leonenko at pca_dim and at the low dimension.
    info(
        "layer %s: preprocessing (%d points, z-score=%s, PCA to %d)",
        layer,
        n_points,
        e["zscore"],
        pca_dim,
    )
    pre = ent.preprocess_cloud(
        w,
        n_points,
        max(pca_dim, low_dim),
        e["zscore"],
        make_rng(seed, "galaxy", layer, "subsample"),
    )
    dims = {"": pca_dim, "_lowdim": low_dim}
    h_gauss = {tag: ent.gaussian_entropy(pre.variances[:dim]) for tag, dim in dims.items()}
    corrected = {}
    for tag, dim in dims.items():
        info(
            "layer %s: corrected (Kozachenko–Leonenko) estimator at d=%d, %d subsamples",
            layer,
            dim,
            ccfg["replicates"],
        )
        corrected[tag] = ent.kl_entropy_ci(
            pre.points[:, :dim],
            make_rng(seed, "galaxy", layer, "corrected" + tag),
            k=ccfg["k"],
            fraction=ccfg["subsample_fraction"],
            replicates=ccfg["replicates"],
            level=ccfg["level"],
        )
    n_distinct = int(np.unique(pre.points[:, :pca_dim], axis=0).shape[0])

    reps = int(cfg["null"]["replicates"])
    info("layer %s: Gaussian null with the layer's covariance (%d clouds)", layer, reps)
    faithful_variances = ent.covariance_eigenvalues(fcloud.points)
    null_f = np.empty(reps)
    null_c = {tag: np.empty(reps) for tag in dims}
    it = range(reps) if progress is None else progress(range(reps))
    for r in it:
        # Faithful null: a Gaussian drawn directly in the faithful PCA coordinates, with the
        # variances of the layer's preprocessed cloud, scored by the faithful k-NN and H_gauss.
        cloud = ent.gaussian_null(
            faithful_variances, n_points, make_rng(seed, "galaxy", layer, "null_cloud_faithful", r)
        )
        null_f[r] = ent.faithful_clustering(
            cloud,
            np.random.RandomState(derive_seed(seed, "galaxy", layer, "null_faithful", r)),
            k=fcfg["k"],
            theta=fcfg["theta"],
            bootstrap=fcfg["bootstrap"],
        ).clustering
        cloud = ent.gaussian_null(
            pre.variances[: max(dims.values())],
            n_points,
            make_rng(seed, "galaxy", layer, "null_cloud", r),
        )
        for tag, dim in dims.items():
            # The null's true entropy is h_gauss in closed form, so H_true − Ĥ is its "clustering".
            null_c[tag][r] = h_gauss[tag] - ent.kl_entropy(cloud[:, :dim], ccfg["k"])

    # the corrected entropies and clusterings (tag "" included) are filled in per dimension below
    summary = {
        "layer": layer,
        "slope": fit.slope,
        "slope_ci_low": lo,
        "slope_ci_high": hi,
        "null_slope": null_fit.slope,
        "log_volume": volume,
        "entropy_faithful": faith.entropy_knn,
        "clustering_faithful": faith.clustering,
        "null_clustering_faithful": float(null_f.mean()),
        "entropy_gauss_faithful": faith.entropy_gauss,
        "clustering_faithful_ci_low": faith.ci_low,
        "clustering_faithful_ci_high": faith.ci_high,
        "null_clustering_faithful_low": float(null_f.min()),
        "null_clustering_faithful_high": float(null_f.max()),
        "excess_clustering_faithful": faith.clustering - float(null_f.mean()),
    }
    z = float(norm.ppf(0.5 + ccfg["level"] / 2))
    for tag, _dim in dims.items():
        h, h_lo, h_hi = corrected[tag]
        clus, null = h_gauss[tag] - h, null_c[tag]
        excess = clus - float(null.mean())
        # Headline interval: the subsampling half-widths and z·sd(null) added in quadrature.
        spread = z * float(null.std(ddof=1))
        summary.update(
            {
                f"entropy_gauss{tag}": h_gauss[tag],
                f"entropy_corrected{tag}": h,
                f"clustering_corrected{tag}": clus,
                f"entropy_corrected{tag}_ci_low": h_lo,
                f"entropy_corrected{tag}_ci_high": h_hi,
                f"clustering_corrected{tag}_ci_low": h_gauss[tag] - h_hi,
                f"clustering_corrected{tag}_ci_high": h_gauss[tag] - h_lo,
                f"null_clustering_corrected{tag}": float(null.mean()),
                f"null_clustering_corrected{tag}_low": float(null.min()),
                f"null_clustering_corrected{tag}_high": float(null.max()),
                f"null_clustering_corrected{tag}_sd": float(null.std(ddof=1)),
                f"excess_clustering_corrected{tag}": excess,
                f"excess_clustering_corrected{tag}_ci_low": excess
                - float(np.hypot(h_hi - h, spread)),
                f"excess_clustering_corrected{tag}_ci_high": excess
                + float(np.hypot(h - h_lo, spread)),
            }
        )
    summary.update(
        {
            "n_features": n_features,
            "d_model": d_model,
            "n_points": n_points,
            "n_distinct": n_distinct,
            "pca_dim": pca_dim,
            "corrected_pca_dim": low_dim,
            "faithful_seed": faithful_seed,
            "slope_ci_method": cfg["slope_ci"]["method"],
        }
    )
    spectrum = pd.DataFrame(
        {
            "layer": layer,
            "rank": np.arange(1, eig.size + 1),
            "eigenvalue": eig,
            "null_eigenvalue": null_eig[: eig.size],
        }
    )
    return LayerResult(spectrum=spectrum, summary=summary)
