"""Glue for the features stage's scripts: config slices -> loaded model / SAE objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputDataError
from .sae import format_layer, load_local_sae, load_pretrained_sae


def load_model_and_tokenizer(model_cfg: dict, spec: str, layers, key: str = "features.model.path"):
    """(model, tokenizer, d_model) for ``features.model``; refuses layers the model lacks."""
    from ..models import load_model, load_tokenizer
    from ..models.residual import check_layers

    tokenizer = load_tokenizer(spec, key)
    model = load_model(spec, key, dtype=model_cfg["dtype"], device=model_cfg["device"])
    check_layers(model, list(layers), "features.layers")
    return model, tokenizer, int(model.config.hidden_size)


def load_sae_for_layer(
    spec: dict, layer, key: str, device: str = "cpu", sae_dir: str | None = None
):
    """The SAE of ``layer``: from the materialised folder when given, else from its source."""
    dtype = spec.get("dtype", "float32")
    if sae_dir is not None:
        return load_local_sae(sae_dir, key, device=device, dtype=dtype)
    if spec["source"] == "pretrained":
        return load_pretrained_sae(
            spec["release"], format_layer(spec["sae_id"], layer), key, device, dtype
        )
    if spec["source"] == "local":
        return load_local_sae(format_layer(spec["path"], layer), key, device=device, dtype=dtype)
    raise ConfigError(
        f"Invalid config: `{key}.source: train` SAEs exist only once trained by the workflow."
    )


def model_hidden_size(spec: str, key: str = "features.model.path") -> int:
    """Width of the language model's residual stream, from config.json (no weights loaded):
    the text config's hidden_size in a composite (e.g. multimodal) config, which may also
    carry another hidden_size at its top level; the config's own in any other."""
    from ..models import load_model_config

    return int(load_model_config(spec, key).get_text_config().hidden_size)


def layer_stats(
    layer: int,
    extraction_stats: dict,
    n_rows: int,
    nnz: int,
    chunk_size: int,
    max_length: int,
    threshold: float,
) -> dict:
    """stats.json entry of one layer after extraction: the extractor's statistics, the number of
    chunks and the mean number of firing features per chunk. Refuses a layer with no full chunk
    or no firing at all (every later statistic would be empty)."""
    if n_rows == 0:
        raise InputDataError(
            f"No document of the corpus has a full chunk of {chunk_size} tokens (after dropping "
            "special "
            f"tokens, truncation at {max_length}). Lower `features.chunk_size` or give longer "
            "documents."
        )
    if nnz == 0:
        raise InputDataError(
            f"No SAE feature of layer {layer} fires (activation > `features.threshold` = "
            f"{threshold:g}) on any of the {n_rows} chunks, so co-occurrences, lobes "
            f"and galaxy statistics would all be empty. Lower `features.threshold`."
        )
    return {**extraction_stats, "n_chunks": n_rows, "mean_firing_per_chunk": nnz / n_rows}


def chunk_columns(docs, doc_index: np.ndarray) -> dict[str, np.ndarray]:
    """Per-chunk doc_id, category and split (stored beside the firing rows), from the documents
    table and each chunk's row in it."""
    rows = docs.iloc[doc_index]
    return {
        "doc_id": rows["doc_id"].to_numpy(np.int64),
        "category": rows["category"].to_numpy(str),
        "split": rows["split"].to_numpy(str),
    }


def top_context_arrays(top, tokenizer, docs) -> dict[str, np.ndarray]:
    """The arrays of top_contexts.npz from a TopContexts result: document ids (-1 where a
    feature has fewer contexts than slots), token strings of the snippets and the window."""
    from .contexts import token_strings

    filled = top.doc_index >= 0
    vocab, snippet = token_strings(tokenizer, top.snippet)
    doc_id = np.where(
        filled, docs["doc_id"].to_numpy(np.int64)[np.where(filled, top.doc_index, 0)], -1
    )
    return {
        "activation": top.activation,
        "doc_id": doc_id,
        "position": top.position,
        "snippet": snippet,
        "tokens": vocab,
        "window": np.int64(top.window),
    }


def layer_meta(
    *,
    model: str,
    model_path: str,
    corpus: str,
    layer: int,
    sae: dict,
    threshold: float,
    chunk_size: int,
    max_length: int,
    split: np.ndarray,
    doc_id: np.ndarray,
    occurrences: np.ndarray,
    n_chunks_histogram: int,
    stats: dict,
) -> dict:
    """meta.json of one features layer: what was extracted (model, corpus, SAE, settings), the
    chunk counts per split, the number of documents and of features that ever fired, and the
    layer's extraction statistics (``stats``, each key prefixed ``sae_``)."""
    hist = split == "histogram"
    return {
        "model": model,
        "model_path": model_path,
        "corpus": corpus,
        "layer": int(layer),
        "sae": sae,
        "threshold": threshold,
        "chunk_size": chunk_size,
        "max_length": max_length,
        "n_features": int(len(occurrences)),
        "n_chunks_total": int(len(hist)),
        "n_chunks_histogram": int(n_chunks_histogram),
        "n_chunks_heldout": int((~hist).sum()),
        "n_documents": int(len(set(doc_id.tolist()))),
        "features_ever_fired": int((occurrences > 0).sum()),
        **{f"sae_{k}": v for k, v in stats.items()},
    }


__all__ = [
    "load_model_and_tokenizer",
    "load_sae_for_layer",
    "model_hidden_size",
    "layer_stats",
    "chunk_columns",
    "top_context_arrays",
    "layer_meta",
    "Path",
]
