"""Settings of the `galaxy` section checked against one layer's decoder (its number of
features and d_model): the part of the config checks that needs the data. The checks that need
the config only are :func:`concept_geometry.galaxy.check_galaxy_config`'s."""

from __future__ import annotations

from ..errors import ConfigError, InputDataError


def _entropy_points(cfg: dict, n_features: int) -> int:
    n = cfg["entropy"]["n_points"]
    if n is None:
        return n_features
    if n > n_features:
        raise InputDataError(
            f"`galaxy.entropy.n_points` = {n} but this SAE has only {n_features} features. "
            f"Set `galaxy.entropy.n_points` to at most {n_features}, or to null to use every "
            "feature."
        )
    return int(n)


def check_decoder_fits(cfg: dict, n_features: int, d_model: int, layer) -> int:
    """The number of entropy points of a layer with ``n_features`` decoder rows of dimension
    ``d_model``; refuses ``galaxy.entropy.n_points`` above ``n_features`` and a PCA dimension
    (``galaxy.entropy.pca_dim``, ``galaxy.corrected.pca_dim``) above min(n_points − 1, d_model).
    ``cfg``: the ``galaxy`` config section."""
    n_points = _entropy_points(cfg, n_features)
    for key, dim in (
        ("galaxy.entropy.pca_dim", int(cfg["entropy"]["pca_dim"])),
        ("galaxy.corrected.pca_dim", int(cfg["corrected"]["pca_dim"])),
    ):
        if dim > min(n_points - 1, d_model):
            raise ConfigError(
                f"Invalid config: key `{key}` = {dim} exceeds min(n_points − 1, d_model) "
                f"= {min(n_points - 1, d_model)} for layer {layer}. Lower `{key}`."
            )
    return n_points
