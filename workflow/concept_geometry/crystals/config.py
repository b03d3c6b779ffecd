"""Cross-field checks of the `crystals` config section and the model it resolves to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..errors import CONFIG_HINT as _HINT
from ..errors import ConfigError
from ..settings import ModelRef

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")

LAYER_CONVENTIONS = ("block_output", "hidden_states")


def check_crystal_layers(
    layers: Sequence,
    n_blocks: int,
    convention: str,
    key: str = "crystals.layers",
    model: str = "the model",
) -> None:
    """Refuse layers a model of ``n_blocks`` blocks does not have under ``convention``
    (block_output: "embed" or 0..n−1; hidden_states: 0..n, n = the last, normed, output)."""
    if convention == "hidden_states":
        bad = [layer for layer in layers if not (isinstance(layer, int) and 0 <= layer <= n_blocks)]
        valid = (
            f"0..{n_blocks} (hidden_states[L] = input of block L; 0 = the embedding, "
            f'{n_blocks} = the last block\'s output after the final norm; "embed" is '
            f"written 0 under this convention)"
        )
    elif convention == "block_output":
        bad = [
            layer
            for layer in layers
            if layer != "embed" and not (isinstance(layer, int) and 0 <= layer < n_blocks)
        ]
        valid = f'0..{n_blocks - 1} (output of block L), or "embed" for the embedding'
    else:
        raise ConfigError(
            f"Invalid config: key `crystals.layer_convention` = {convention!r}; "
            f"expected one of {list(LAYER_CONVENTIONS)}."
        )
    if bad:
        raise ConfigError(
            f"Invalid config: key `{key}` asks for layer(s) {bad}, but {model} has {n_blocks} "
            f"blocks and `crystals.layer_convention` is {convention!r} (valid layers: {valid}). "
            f"Fix `{key}`. {_HINT}"
        )


def layer_label(layer, convention: str, n_blocks: int | None = None, long: bool = False) -> str:
    """How tables (short) and figures (long) name ``layer`` under ``convention``.

    Short: ``embed`` / ``3`` (block_output, as the result folders), ``hidden_states[12]``.
    Long, e.g. ``hidden_states[12] = input of block 12``.
    """
    if convention == "hidden_states":
        short = f"hidden_states[{layer}]"
        if not long:
            return short
        if layer == 0:
            return f"{short} = embedding (input of block 0)"
        if n_blocks is not None and layer == n_blocks:
            return f"{short} = output of block {layer - 1} after the final norm"
        return f"{short} = input of block {layer}"
    if not long:
        return str(layer)
    if layer == "embed":
        return "embed = input of block 0"
    return f"{layer} = output of block {layer} (blocks.{layer}.hook_resid_post)"


def crystals_model(config: dict) -> ModelRef:
    """The crystals stage's model: spec (as written in the config), name, config key of the spec.

    ``crystals.model.path`` / ``.name`` when set, else ``features.model.path`` / ``.name``.
    ``concept_geometry.settings`` resolves the spec against the repository root.
    """
    own = (config.get("crystals") or {}).get("model") or {}
    feat = (config.get("features") or {}).get("model") or {}
    path, key = own.get("path"), "crystals.model.path"
    if path is None:
        path, key = feat.get("path"), "features.model.path"
    name = own.get("name") if own.get("name") is not None else feat.get("name")
    if path is None or name is None:
        raise ConfigError(
            "Invalid config: the crystals stage has no model: set `crystals.model.path` and "
            "`crystals.model.name` (or `features.model.path` / `features.model.name`, which "
            f"they default to). {_HINT}"
        )
    if not _NAME.match(str(name)):
        raise ConfigError(
            f"Invalid config: model name {name!r} (`crystals.model.name` or "
            f"`features.model.name`) must match [A-Za-z0-9_.-]+ (it is a folder name). {_HINT}"
        )
    return ModelRef(name=str(name), spec=str(path), key=key)


def check_crystals_config(config: dict) -> None:
    """Refuse crystals settings that cannot run, naming the key (run at start-up)."""
    if "crystals" not in set(config.get("stages", [])):
        return
    cfg = config["crystals"]
    crystals_model(config)
    if cfg.get("layer_convention") == "hidden_states" and "embed" in cfg["layers"]:
        raise ConfigError(
            'Invalid config: key `crystals.layers` has "embed", but under '
            "`crystals.layer_convention: hidden_states` layers are hidden_states indices: write "
            f"0 (hidden_states[0] is the embedding). {_HINT}"
        )
    names = cfg.get("relations")
    if cfg.get("relations_dir") is not None:  # always, once the schema filled defaults in
        _check_relation_files(cfg["relations_dir"], names)
    n_rel = len(names) if names else None
    k = cfg["lda"]["n_components"]
    if n_rel is not None and k > n_rel - 1:
        raise ConfigError(
            f"Invalid config: key `crystals.lda.n_components` = {k}, but LDA on the {n_rel} "
            f"relations in `crystals.relations` has at most {n_rel - 1} components. Lower it. "
            f"{_HINT}"
        )
    cap = cfg.get("max_pairs_per_relation")
    if cap is not None and cap < cfg["min_pairs_per_relation"]:
        raise ConfigError(
            f"Invalid config: key `crystals.max_pairs_per_relation` = {cap} is below "
            f"`crystals.min_pairs_per_relation` = {cfg['min_pairs_per_relation']}, so every "
            f"relation would be dropped. Raise the cap (or null for all pairs). {_HINT}"
        )
    need = cfg["silhouette"]["n_splits"]
    if cfg["min_pairs_per_relation"] < need:
        raise ConfigError(
            "Invalid config: key `crystals.min_pairs_per_relation` = "
            f"{cfg['min_pairs_per_relation']} "
            f"is below `crystals.silhouette.n_splits` = {need}; every kept relation needs a pair "
            f"in each fold. {_HINT}"
        )


def _check_relation_files(relations_dir: str, names) -> None:
    """The relation folder exists and holds a file for every listed relation."""
    folder = Path(str(relations_dir)).expanduser()
    if not folder.is_absolute():
        folder = Path(__file__).resolve().parents[3] / folder  # relative to the repository root
    if not folder.is_dir():
        raise ConfigError(
            f"Invalid config: key `crystals.relations_dir` = {relations_dir!r}: no such folder "
            f"({folder}). Point it at a folder of relation JSON files, e.g. config/relations. "
            f"{_HINT}"
        )
    available = sorted(p.stem for p in folder.glob("*.json"))
    missing = [n for n in names or [] if n not in available]
    if missing:
        raise ConfigError(
            f"Invalid config: key `crystals.relations` lists {missing}, which have no JSON file in "
            f"{folder} (available: {available or '(none)'}). Fix the names, add the files, or "
            f"set `crystals.relations: null` to use every file there. {_HINT}"
        )
