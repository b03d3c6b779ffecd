"""Glue for the features stage's scripts: config slices -> loaded model / SAE objects."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .sae import check_d_in, format_layer, load_local_sae, load_pretrained_sae


def load_model_and_tokenizer(model_cfg: dict, spec: str, layers, key: str = "features.model.path"):
    """(model, tokenizer, d_model) for ``features.model``; refuses layers the model lacks."""
    from ..models import load_model, load_tokenizer
    from ..models.residual import check_layers

    tokenizer = load_tokenizer(spec, key)
    model = load_model(spec, key, dtype=model_cfg["dtype"], device=model_cfg["device"])
    check_layers(model, list(layers), "features.layers")
    return model, tokenizer, int(model.config.hidden_size)


def load_sae_for_layer(spec: dict, layer, key: str, device: str = "cpu", sae_dir: str | None = None):
    """The SAE of ``layer``: from the materialised folder when given, else from its source."""
    dtype = spec.get("dtype", "float32")
    if sae_dir is not None:
        return load_local_sae(sae_dir, key, device=device, dtype=dtype)
    if spec["source"] == "pretrained":
        return load_pretrained_sae(spec["release"], format_layer(spec["sae_id"], layer), key, device, dtype)
    if spec["source"] == "local":
        return load_local_sae(format_layer(spec["path"], layer), key, device=device, dtype=dtype)
    raise ConfigError(f"Invalid config: `{key}.source: train` SAEs exist only once trained by the workflow.")


def model_hidden_size(spec: str, key: str = "features.model.path") -> int:
    """hidden_size from the model's config.json (no weights loaded)."""
    from transformers import AutoConfig

    from ..models.loading import _load

    cfg = _load(AutoConfig.from_pretrained, spec, key, "model config")
    return int(getattr(cfg, "hidden_size", None) or cfg.get_text_config().hidden_size)


__all__ = ["load_model_and_tokenizer", "load_sae_for_layer", "model_hidden_size", "Path"]
