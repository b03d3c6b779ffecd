"""Cross-field checks of the `crystals` config section and the model it resolves to."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError

_HINT = "Every key is documented in config/README.md (## crystals)."
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def crystals_model(config: dict) -> tuple[str, str, str]:
    """(model spec, model name, config key of the spec) of the crystals stage.

    ``crystals.model.path`` / ``.name`` when set, else ``features.model.path`` / ``.name``.
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
            f"they default to). {_HINT}")
    if not _NAME.match(str(name)):
        raise ConfigError(
            f"Invalid config: model name {name!r} (`crystals.model.name` or "
            f"`features.model.name`) must match [A-Za-z0-9_.-]+ (it is a folder name). {_HINT}")
    return str(path), str(name), key


def check_crystals_config(config: dict) -> None:
    """Refuse crystals settings that cannot run, naming the key (run at start-up)."""
    if "crystals" not in set(config.get("stages", [])):
        return
    cfg = config["crystals"]
    crystals_model(config)
    names = cfg.get("relations")
    if cfg.get("relations_dir") is not None:  # always, once the schema filled defaults in
        _check_relation_files(cfg["relations_dir"], names)
    n_rel = len(names) if names else None
    k = cfg["lda"]["n_components"]
    if n_rel is not None and k > n_rel - 1:
        raise ConfigError(
            f"Invalid config: key `crystals.lda.n_components` = {k}, but LDA on the {n_rel} "
            f"relations in `crystals.relations` has at most {n_rel - 1} components. Lower it. {_HINT}")
    cap = cfg.get("max_pairs_per_relation")
    if cap is not None and cap < cfg["min_pairs_per_relation"]:
        raise ConfigError(
            f"Invalid config: key `crystals.max_pairs_per_relation` = {cap} is below "
            f"`crystals.min_pairs_per_relation` = {cfg['min_pairs_per_relation']}, so every "
            f"relation would be dropped. Raise the cap (or null for all pairs). {_HINT}")
    need = cfg["silhouette"]["n_splits"]
    if cfg["min_pairs_per_relation"] < need:
        raise ConfigError(
            f"Invalid config: key `crystals.min_pairs_per_relation` = {cfg['min_pairs_per_relation']} "
            f"is below `crystals.silhouette.n_splits` = {need}; every kept relation needs a pair "
            f"in each fold. {_HINT}")


def _check_relation_files(relations_dir: str, names) -> None:
    """The relation folder exists and holds a file for every listed relation."""
    folder = Path(str(relations_dir)).expanduser()
    if not folder.is_absolute():
        folder = Path(__file__).resolve().parents[3] / folder  # relative to the repository root
    if not folder.is_dir():
        raise ConfigError(
            f"Invalid config: key `crystals.relations_dir` = {relations_dir!r}: no such folder "
            f"({folder}). Point it at a folder of relation JSON files, e.g. config/relations. {_HINT}")
    available = sorted(p.stem for p in folder.glob("*.json"))
    missing = [n for n in names or [] if n not in available]
    if missing:
        raise ConfigError(
            f"Invalid config: key `crystals.relations` lists {missing}, which have no JSON file in "
            f"{folder} (available: {available or '(none)'}). Fix the names, add the files, or "
            f"set `crystals.relations: null` to use every file there. {_HINT}")
