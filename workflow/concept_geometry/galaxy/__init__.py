"""Galaxy scale of Li et al. 2024 (§5): eigen-spectrum, power-law slope, effective volume and
clustering entropy of SAE decoder point clouds, with the paper's estimator, a corrected one
and Gaussian nulls. Pure functions; the workflow scripts only do I/O around them."""

from __future__ import annotations

import pandas as pd

from ..errors import ConfigError
from .analysis import GALAXY_COLUMNS, SPECTRUM_COLUMNS, LayerResult, analyse_layer
from .entropy import (faithful_entropy, gaussian_entropy, gaussian_null, kl_entropy, kl_entropy_ci,
                      preprocess_cloud)
from .spectrum import covariance_spectrum, log_volume, powerlaw_slope

__all__ = [
    "GALAXY_COLUMNS", "SPECTRUM_COLUMNS", "LayerResult", "analyse_layer", "faithful_entropy",
    "gaussian_entropy", "gaussian_null", "kl_entropy", "kl_entropy_ci", "preprocess_cloud",
    "covariance_spectrum", "log_volume", "powerlaw_slope", "check_galaxy_config", "galaxy_layers",
    "summary_rows",
]

_HINT = "Edit the config file (config/config.yaml, or the one given with --configfile); every key is documented in config/README.md."


def galaxy_layers(config: dict) -> list[int]:
    """The layers the galaxy stage analyses: galaxy.layers, else features.layers."""
    layers = config.get("galaxy", {}).get("layers")
    if layers is None:
        layers = config.get("features", {}).get("layers")
    return [int(x) for x in (layers or [])]


def check_galaxy_config(config: dict) -> None:
    """Cross-field checks of the `galaxy` section (the schema checks types and bounds)."""
    if "galaxy" not in config.get("stages", []):
        return
    g = config["galaxy"]
    lo, hi = g["fit_range"]
    if not 1 <= lo < hi:
        raise ConfigError(f"Invalid config: key `galaxy.fit_range` = {[lo, hi]}: needs 1 ≤ low < high "
                          f"(1-based ranks, both included). {_HINT}")
    if hi - lo + 1 < 3:
        raise ConfigError(f"Invalid config: key `galaxy.fit_range` = {[lo, hi]} spans fewer than 3 ranks; "
                          f"a slope with a confidence interval needs at least 3. {_HINT}")
    if not galaxy_layers(config):
        raise ConfigError("Invalid config: key `galaxy.layers` is null and `features.layers` is empty, so the "
                          f"galaxy stage has no layer to analyse. Set `galaxy.layers` (a list of ints). {_HINT}")
    feature_layers = config.get("features", {}).get("layers")
    if g.get("sae") is None and feature_layers is not None:
        missing = sorted(set(galaxy_layers(config)) - {int(x) for x in feature_layers})
        if missing:
            raise ConfigError(
                f"Invalid config: key `galaxy.layers` lists layers {missing} that `features.layers` does not, "
                f"while `galaxy.sae` is null (use the features SAEs). Add them to `features.layers`, drop them "
                f"from `galaxy.layers`, or name the SAEs to analyse in `galaxy.sae`. {_HINT}")
    n = g["entropy"]["n_points"]
    if n is not None and g["entropy"]["pca_dim"] > n - 1:
        raise ConfigError(f"Invalid config: key `galaxy.entropy.pca_dim` = {g['entropy']['pca_dim']} must be below "
                          f"`galaxy.entropy.n_points` = {n}. {_HINT}")
    for key in ("faithful", "corrected"):
        k = g[key]["k"]
        if n is not None and k >= n:
            raise ConfigError(f"Invalid config: key `galaxy.{key}.k` = {k} must be below `galaxy.entropy.n_points` = {n}. {_HINT}")


def summary_rows(galaxy: pd.DataFrame, model: str) -> pd.DataFrame:
    """Headline rows (stage, quantity, setting, model, value) for the report.

    Per layer: powerlaw_slope, null_slope, log_volume, clustering_{faithful,corrected},
    null_clustering_{faithful,corrected}, excess_clustering_{faithful,corrected}; overall:
    steepest_slope_layer (most negative slope), peak_clustering_layer_faithful (largest
    faithful clustering, as the paper) and peak_clustering_layer_corrected (largest corrected
    clustering relative to its Gaussian null, i.e. excess_clustering_corrected).
    """
    per_layer = {
        "powerlaw_slope": "slope", "powerlaw_slope_ci_low": "slope_ci_low", "powerlaw_slope_ci_high": "slope_ci_high",
        "null_slope": "null_slope", "log_volume": "log_volume",
        "clustering_faithful": "clustering_faithful", "clustering_corrected": "clustering_corrected",
        "null_clustering_faithful": "null_clustering_faithful", "null_clustering_corrected": "null_clustering_corrected",
        "excess_clustering_faithful": "excess_clustering_faithful",
        "excess_clustering_corrected": "excess_clustering_corrected",
    }
    g = galaxy.sort_values("layer")
    rows = []
    for quantity, col in per_layer.items():
        for layer, value in zip(g["layer"], g[col]):
            rows.append(("galaxy", quantity, f"layer={int(layer)}", model, float(value)))
    for quantity, col, pick in [("steepest_slope_layer", "slope", "idxmin"),
                                ("peak_clustering_layer_faithful", "clustering_faithful", "idxmax"),
                                ("peak_clustering_layer_corrected", "excess_clustering_corrected", "idxmax")]:
        idx = getattr(g[col], pick)()
        rows.append(("galaxy", quantity, "", model, float(g.loc[idx, "layer"])))
    return pd.DataFrame(rows, columns=["stage", "quantity", "setting", "model", "value"])
