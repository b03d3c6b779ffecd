"""Cross-field checks of the `features` config section (run at start-up)."""

from __future__ import annotations

from ..errors import CONFIG_HINT as _HINT
from ..errors import ConfigError


def check_features_config(config: dict) -> None:
    """Refuse `features` settings that cannot run together, naming the keys."""
    feat = config.get("features") or {}
    if not feat:
        return
    if feat["chunk_size"] > feat["max_length"] - 1:
        raise ConfigError(
            f"Invalid config: `features.chunk_size` = {feat['chunk_size']} exceeds the "
            f"`features.max_length` = {feat['max_length']} tokens minus the BOS, so no chunk could "
            f"ever be full. Lower `features.chunk_size` or raise `features.max_length`. {_HINT}"
        )
    corpus = feat["corpus"]
    if corpus["source"] == "local" and not corpus.get("path"):
        raise ConfigError(
            "Invalid config: `features.corpus.source: local` needs `features.corpus.path` (a "
            ".jsonl, "
            f".jsonl.zst or .parquet file). {_HINT}"
        )
    for key, spec in (
        ("features.sae", feat["sae"]),
        ("galaxy.sae", (config.get("galaxy") or {}).get("sae")),
    ):
        if not spec:
            continue
        if spec.get("source") == "pretrained" and not (spec.get("release") and spec.get("sae_id")):
            raise ConfigError(
                f"Invalid config: `{key}.source: pretrained` needs `{key}.release` and "
                f"`{key}.sae_id`. {_HINT}"
            )
        if spec.get("source") == "local" and not spec.get("path"):
            raise ConfigError(f"Invalid config: `{key}.source: local` needs `{key}.path`. {_HINT}")
