"""Cross-field checks of the `lobes` config section (the schema checks each key alone)."""

from __future__ import annotations

from ..errors import CONFIG_HINT as _HINT
from ..errors import ConfigError


def check_lobes_config(config: dict) -> None:
    """Raise ConfigError for a `lobes` section that cannot run."""
    cfg = config.get("lobes") or {}
    if not cfg:
        return
    ks = [int(k) for k in cfg.get("ks", [])]
    if 2 not in ks:
        raise ConfigError(
            f"Invalid config: key `lobes.ks` = {ks} lacks 2; the headline tests and the "
            f"code-lobe verdict are made at k=2 (Li et al. Figs. 3-4). Add 2. {_HINT}"
        )
    layers = cfg.get("layers")
    feat_layers = (config.get("features") or {}).get("layers")
    if layers is not None and feat_layers is not None:
        missing = sorted(set(layers) - set(feat_layers))
        if missing:
            raise ConfigError(
                f"Invalid config: key `lobes.layers` = {layers} names layers {missing} that "
                f"`features.layers` = {feat_layers} does not compute. Add them to "
                f"`features.layers` or remove them from `lobes.layers` (null = all). {_HINT}"
            )
    probe_ks = (cfg.get("probe") or {}).get("ks")
    if probe_ks is not None and 2 not in probe_ks:
        raise ConfigError(
            f"Invalid config: key `lobes.probe.ks` = {probe_ks} lacks 2, where the headline "
            f"probe accuracy is reported. Add 2, or set it to null (all of `lobes.ks`). {_HINT}"
        )
    spec = cfg.get("specialization") or {}
    other = spec.get("other_categories")
    if other is not None and set(other) & set(spec.get("code_categories", [])):
        raise ConfigError(
            "Invalid config: keys `lobes.specialization.code_categories` and "
            "`lobes.specialization.other_categories` share categories "
            f"{sorted(set(other) & set(spec['code_categories']))}; a category is either code "
            f"or other. {_HINT}"
        )
    fig = cfg.get("figures") or {}
    if fig.get("k") is not None and int(fig["k"]) not in ks:
        raise ConfigError(
            f"Invalid config: key `lobes.figures.k` = {fig['k']} is not in `lobes.ks` = {ks}; "
            f"the feature-cloud figure colours lobes computed for one of them. {_HINT}"
        )
