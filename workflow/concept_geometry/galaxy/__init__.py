"""Galaxy scale of Li et al. 2024 (§5): eigen-spectrum, power-law slope, effective volume and
clustering entropy of SAE decoder point clouds, with the paper's estimator, a corrected one
and Gaussian nulls. Pure functions; the workflow scripts only do I/O around them."""

from __future__ import annotations

from ..errors import CONFIG_HINT as _HINT
from ..errors import ConfigError
from .analysis import GALAXY_COLUMNS, SPECTRUM_COLUMNS, LayerResult, analyse_layer
from .entropy import (
    faithful_clustering,
    faithful_preprocess,
    gaussian_entropy,
    gaussian_null,
    kl_entropy,
    kl_entropy_ci,
    preprocess_cloud,
)
from .spectrum import covariance_spectrum, log_volume, powerlaw_slope

__all__ = [
    "GALAXY_COLUMNS",
    "SPECTRUM_COLUMNS",
    "LayerResult",
    "analyse_layer",
    "faithful_clustering",
    "faithful_preprocess",
    "gaussian_entropy",
    "gaussian_null",
    "kl_entropy",
    "kl_entropy_ci",
    "preprocess_cloud",
    "covariance_spectrum",
    "log_volume",
    "powerlaw_slope",
    "check_galaxy_config",
    "galaxy_layers",
]


def galaxy_layers(config: dict) -> list[int]:
    """The layers the galaxy stage analyses: galaxy.layers, else features.layers."""
    from ..settings import stage_layers

    return [int(x) for x in stage_layers(config, "galaxy")]


def check_galaxy_config(config: dict) -> None:
    """Cross-field checks of the `galaxy` section (the schema checks types and bounds)."""
    if "galaxy" not in config.get("stages", []):
        return
    g = config["galaxy"]
    lo, hi = g["fit_range"]
    if not 1 <= lo < hi:
        raise ConfigError(
            f"Invalid config: key `galaxy.fit_range` = {[lo, hi]}: needs 1 ≤ low < high "
            f"(1-based ranks, both included). {_HINT}"
        )
    if hi - lo + 1 < 3:
        raise ConfigError(
            f"Invalid config: key `galaxy.fit_range` = {[lo, hi]} spans fewer than 3 ranks; "
            f"a slope with a confidence interval needs at least 3. {_HINT}"
        )
    if not galaxy_layers(config):
        raise ConfigError(
            "Invalid config: key `galaxy.layers` is null and `features.layers` is empty, so the "
            f"galaxy stage has no layer to analyse. Set `galaxy.layers` (a list of ints). {_HINT}"
        )
    feature_layers = config.get("features", {}).get("layers")
    if g.get("sae") is None and feature_layers is not None:
        missing = sorted(set(galaxy_layers(config)) - {int(x) for x in feature_layers})
        if missing:
            raise ConfigError(
                f"Invalid config: key `galaxy.layers` lists layers {missing} that "
                "`features.layers` does not, "
                "while `galaxy.sae` is null (use the features SAEs). Add them to "
                "`features.layers`, drop them "
                f"from `galaxy.layers`, or name the SAEs to analyse in `galaxy.sae`. {_HINT}"
            )
    n = g["entropy"]["n_points"]
    for key, dim in (
        ("galaxy.entropy.pca_dim", g["entropy"]["pca_dim"]),
        ("galaxy.corrected.pca_dim", g["corrected"]["pca_dim"]),
    ):
        if n is not None and dim > n - 1:
            raise ConfigError(
                f"Invalid config: key `{key}` = {dim} must be below "
                f"`galaxy.entropy.n_points` = {n}. {_HINT}"
            )
    for key in ("faithful", "corrected"):
        k = g[key]["k"]
        if n is not None and k >= n:
            raise ConfigError(
                f"Invalid config: key `galaxy.{key}.k` = {k} must be below "
                f"`galaxy.entropy.n_points` = {n}. {_HINT}"
            )
