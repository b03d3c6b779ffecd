"""Headline quantities of the galaxy stage (Li et al. 2024 galaxy scale, Fig. 7), for the
registry (concept_geometry/registry.py) and results/summary/galaxy.tsv.

Tables: ``layers`` (one record per layer of results/galaxy/<model>/galaxy.tsv, its own
columns), ``corrected`` (one record per layer and corrected PCA dimension: the headline
``galaxy.entropy.pca_dim``, marked ``role=headline`` on the excess, then
``galaxy.corrected.pca_dim`` when it differs) and ``peaks`` (one record: the layers of the
steepest slope and of the clustering peaks).
"""

from __future__ import annotations

from .. import io
from ..registry import Quantity, Table, Unit

TABLES = (
    Table("layers", "galaxy_gather", "galaxy/<model>/galaxy.tsv"),
    Table("corrected", "galaxy_gather", "galaxy/<model>/galaxy.tsv", by=("pca_dim",)),
    Table("peaks", "galaxy_gather", "galaxy/<model>/galaxy.tsv"),
)
HINT = "`galaxy.fit_range` or `galaxy.sae`"
_LI = "Li et al. 2024 galaxy scale"
_SPEC = "concept_geometry.galaxy.spectrum"
_ENT = "concept_geometry.galaxy.entropy"
_L = ("layer",)
_LD = ("layer", "pca_dim")

QUANTITIES = (
    Quantity(
        "powerlaw_slope",
        "layers",
        "slope",
        _L,
        f"{_SPEC}.powerlaw_slope",
        f"{_LI}, Fig. 7",
        "real",
        "Slope of log10 eigenvalue against log10 rank of the covariance of the SAE "
        "decoder directions, fitted over galaxy.fit_range (Li et al. Fig. 7). More negative: "
        "more anisotropic.",
        required=True,
    ),
    Quantity(
        "powerlaw_slope_ci_low",
        "layers",
        "slope_ci_low",
        _L,
        f"{_SPEC}.bootstrap_slope_ci",
        "",
        "real",
        "Lower end of the bootstrap confidence interval of powerlaw_slope.",
    ),
    Quantity(
        "powerlaw_slope_ci_high",
        "layers",
        "slope_ci_high",
        _L,
        f"{_SPEC}.bootstrap_slope_ci",
        "",
        "real",
        "Upper end of the bootstrap confidence interval of powerlaw_slope.",
    ),
    Quantity(
        "null_slope",
        "layers",
        "null_slope",
        _L,
        f"{_SPEC}.isotropic_null_spectrum",
        f"{_LI} (isotropic null)",
        "real",
        "powerlaw_slope of an isotropic Gaussian cloud of the same shape (features × "
        "dimensions): the slope of no structure at this sample size.",
    ),
    Quantity(
        "log_volume",
        "layers",
        "log_volume",
        _L,
        f"{_SPEC}.log_volume",
        f"{_LI} (volume)",
        "real",
        "Effective volume Σ ln λ_r (natural log) of the decoder covariance "
        "eigenvalues over the fitted ranks.",
    ),
    Quantity(
        "clustering_faithful",
        "layers",
        "clustering_faithful",
        _L,
        f"{_ENT}.faithful_clustering",
        f"{_LI} (clustering entropy)",
        "real",
        "Clustering entropy (nats) by the paper's estimator, run as the official notebook "
        "runs it: Gaussian entropy − k-NN entropy of the z-scored, PCA-100 decoder cloud, "
        "bootstrap with replacement, θ = 0.01.",
    ),
    Quantity(
        "null_clustering_faithful",
        "layers",
        "null_clustering_faithful",
        _L,
        f"{_ENT}.gaussian_null",
        "",
        "real",
        "clustering_faithful of a Gaussian cloud with the layer's own covariance (the "
        "estimator's value for no clustering).",
    ),
    Quantity(
        "excess_clustering_faithful",
        "layers",
        "excess_clustering_faithful",
        _L,
        "concept_geometry.galaxy.analysis.analyse_layer",
        "",
        "real",
        "clustering_faithful − null_clustering_faithful.",
    ),
    Quantity(
        "clustering_corrected",
        "corrected",
        "clustering_corrected",
        _LD,
        f"{_ENT}.kl_entropy_ci",
        "",
        "real",
        "Clustering entropy (nats) with the Kozachenko–Leonenko estimator on distinct "
        "points, at the PCA dimension in setting pca_dim=.",
    ),
    Quantity(
        "null_clustering_corrected",
        "corrected",
        "null_clustering_corrected",
        _LD,
        f"{_ENT}.gaussian_null",
        "",
        "real",
        "clustering_corrected of Gaussian clouds with the layer's own covariance (mean over "
        "the null draws).",
    ),
    Quantity(
        "excess_clustering_corrected",
        "corrected",
        "excess_clustering_corrected",
        ("layer", "pca_dim", "role"),
        "concept_geometry.galaxy.analysis.analyse_layer",
        "",
        "real",
        "clustering_corrected − null_clustering_corrected: the corrected clustering "
        "beyond what the layer's covariance alone gives; role=headline marks the headline "
        "dimension.",
    ),
    Quantity(
        "excess_clustering_corrected_ci_low",
        "corrected",
        "excess_clustering_corrected_ci_low",
        _LD,
        f"{_ENT}.kl_entropy_ci",
        "",
        "real",
        "Lower end of excess_clustering_corrected's interval (subsampling CI combined with "
        "the null's spread).",
    ),
    Quantity(
        "excess_clustering_corrected_ci_high",
        "corrected",
        "excess_clustering_corrected_ci_high",
        _LD,
        f"{_ENT}.kl_entropy_ci",
        "",
        "real",
        "Upper end of the same interval.",
    ),
    Quantity(
        "steepest_slope_layer",
        "peaks",
        "steepest_slope_layer",
        (),
        "concept_geometry.galaxy.quantities.peaks",
        f"{_LI} (steepest near layer 13)",
        "layer",
        "The layer with the most negative powerlaw_slope.",
    ),
    Quantity(
        "peak_clustering_layer_faithful",
        "peaks",
        "peak_clustering_layer_faithful",
        (),
        "concept_geometry.galaxy.quantities.peaks",
        f"{_LI} (peak near layer 11)",
        "layer",
        "The layer with the largest clustering_faithful (as the paper picks its peak).",
    ),
    Quantity(
        "peak_clustering_layer_corrected",
        "peaks",
        "peak_clustering_layer_corrected",
        (),
        "concept_geometry.galaxy.quantities.peaks",
        "",
        "layer",
        "The layer with the largest headline excess_clustering_corrected.",
    ),
)

_CORRECTED = (
    "clustering_corrected",
    "null_clustering_corrected",
    "excess_clustering_corrected",
    "excess_clustering_corrected_ci_low",
    "excess_clustering_corrected_ci_high",
)


def peaks(galaxy) -> dict:
    """The layers of the steepest slope (most negative), of the largest faithful clustering
    (as the paper picks its peak) and of the largest headline corrected excess; empty when
    that column has no number (then the required-quantity check names the cause)."""
    out = {}
    for name, col, pick in [
        ("steepest_slope_layer", "slope", "idxmin"),
        ("peak_clustering_layer_faithful", "clustering_faithful", "idxmax"),
        ("peak_clustering_layer_corrected", "excess_clustering_corrected", "idxmax"),
    ]:
        values = galaxy[col]
        out[name] = galaxy.loc[getattr(values, pick)(), "layer"] if values.notna().any() else None
    return out


def tables(galaxy) -> dict:
    """galaxy.tsv (one row per layer) -> the stage tables (layers sorted)."""
    g = galaxy.sort_values("layer")
    layers = [dict(rec, layer=int(rec["layer"])) for rec in g.to_dict("records")]
    dims = {"": int(g["pca_dim"].iloc[0]), "_lowdim": int(g["corrected_pca_dim"].iloc[0])}
    corrected = []
    for tag, dim in dims.items():
        if tag and dim == dims[""]:
            continue
        for rec in layers:
            corrected.append(
                {
                    "layer": rec["layer"],
                    "pca_dim": dim,
                    "role": None if tag else "headline",
                    **{c: rec[c.replace("_corrected", f"_corrected{tag}")] for c in _CORRECTED},
                }
            )
    return {"layers": layers, "corrected": corrected, "peaks": [peaks(g)]}


def load(inputs, params) -> list[Unit]:
    """Rule galaxy_summary: input ``galaxy`` (galaxy.tsv), param ``model``."""
    return [Unit(params["model"], tables(io.read_tsv(inputs["galaxy"])))]
