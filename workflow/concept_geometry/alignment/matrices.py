"""The input-embedding and unembedding matrices of a causal LM (spec §3).

Only two matrices are needed, so for a checkpoint in safetensors format they are read
straight from the shard(s) that hold them (``model.safetensors.index.json`` says which),
without instantiating the model: a 7B checkpoint costs two 0.5 GB reads instead of 13 GB
of RAM. Other formats (e.g. ``pytorch_model.bin``) fall back to loading the full model.
Tied input/output embeddings (Gemma-2, GPT-2, ...) are detected and flagged, so the
embedding-vs-unembedding check is never reported as a trivial perfect alignment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MissingResourceError
from ..models.loading import how_to_fix, hub_reachable, load_model, resolve_model_path

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
# Tensor names, most specific first; suffix matches cover wrappers such as
# `model.language_model.embed_tokens.weight`.
EMBEDDING_SUFFIXES = (
    "embed_tokens.weight",
    "transformer.wte.weight",
    "gpt_neox.embed_in.weight",
    "word_embeddings.weight",
)
UNEMBEDDING_SUFFIXES = ("lm_head.weight", "embed_out.weight")


@dataclass
class EmbeddingMatrices:
    """embedding, unembedding: (vocab, d_model) float32; tied: the model shares them.

    source: ``safetensors`` (fast path) or ``model`` (full model loaded).
    names: the tensor names read (or module names for the full model).
    """

    embedding: np.ndarray
    unembedding: np.ndarray
    tied: bool
    source: str
    names: tuple[str, str]


def candidate_tokens(mats, tokenizer) -> tuple[int, np.ndarray]:
    """(vocab, candidates): the vocabulary size that both matrices and the tokenizer cover, and
    its token ids that are not special tokens (the random-pair baseline draws from these)."""
    vocab = min(mats.embedding.shape[0], mats.unembedding.shape[0], len(tokenizer))
    special = set(tokenizer.all_special_ids)
    return vocab, np.array([i for i in range(vocab) if i not in special])


def _find(names, suffixes) -> str | None:
    for suffix in suffixes:
        hits = sorted(n for n in names if n == suffix or n.endswith("." + suffix))
        if hits:
            return min(hits, key=len)
    return None


def _config_tied(config: dict) -> bool:
    """tie_word_embeddings from a config.json dict, with the architecture's default."""
    for cfg in (config, config.get("text_config") or {}):
        if "tie_word_embeddings" in cfg:
            return bool(cfg["tie_word_embeddings"])
    try:  # absent from the file: the config class's default decides (Gemma-2: True)
        from transformers import AutoConfig

        return bool(
            getattr(AutoConfig.for_model(config["model_type"]), "tie_word_embeddings", False)
        )
    except (KeyError, ValueError):
        return False


def _as_float32(tensor) -> np.ndarray:
    return tensor.float().numpy() if hasattr(tensor, "float") else np.asarray(tensor, np.float32)


def read_safetensors_matrices(folder: str | Path) -> EmbeddingMatrices | None:
    """The two matrices straight from a safetensors checkpoint folder (no model built).

    Returns None when the folder holds no safetensors checkpoint or no recognisable
    embedding tensor (the caller then loads the full model).
    """
    from safetensors import safe_open

    folder = Path(folder)
    if (folder / INDEX_FILE).exists():
        weight_map = json.loads((folder / INDEX_FILE).read_text())["weight_map"]
    elif (folder / SINGLE_FILE).exists():
        with safe_open(folder / SINGLE_FILE, framework="pt") as fh:
            weight_map = {name: SINGLE_FILE for name in fh.keys()}
    else:
        return None
    emb_name = _find(weight_map, EMBEDDING_SUFFIXES)
    if emb_name is None:
        return None
    unemb_name = _find(weight_map, UNEMBEDDING_SUFFIXES)
    config = (
        json.loads((folder / "config.json").read_text())
        if (folder / "config.json").exists()
        else {}
    )

    def load(name):
        with safe_open(folder / weight_map[name], framework="pt") as fh:
            return _as_float32(fh.get_tensor(name))

    embedding = load(emb_name)
    unembedding = embedding if unemb_name is None else load(unemb_name)
    tied = _config_tied(config) or np.array_equal(embedding, unembedding)  # no lm_head: equal
    return EmbeddingMatrices(
        embedding, unembedding, tied, "safetensors", (emb_name, unemb_name or emb_name)
    )


def _snapshot_files(repo_id: str, key: str) -> Path:
    """Download (or find in the local HF cache) only the files the fast path needs."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    online = hub_reachable()

    def get(filename):
        return Path(hf_hub_download(repo_id, filename, local_files_only=not online))

    try:
        config = get("config.json")
    except Exception as err:  # offline and not cached, gated, or no such repo
        raise MissingResourceError(
            f"The model `{repo_id}` (config key `{key}`) is not a local folder and could not be "
            f"fetched from the Hugging Face hub ({'offline' if not online else type(err).__name__}"
            f"{'' if not online else ': ' + str(err).splitlines()[0]}). {how_to_fix(repo_id, key)}"
        ) from None
    folder = config.parent
    try:
        index = get(INDEX_FILE)
        weight_map = json.loads(index.read_text())["weight_map"]
        wanted = {
            weight_map[n]
            for n in (
                _find(weight_map, EMBEDDING_SUFFIXES),
                _find(weight_map, UNEMBEDDING_SUFFIXES),
            )
            if n
        }
        for shard in sorted(wanted):
            get(shard)
    except EntryNotFoundError:
        try:
            get(SINGLE_FILE)
        except EntryNotFoundError:
            pass  # no safetensors: the full-model fallback handles it
    return folder


def load_embedding_matrices(spec: str, key: str = "alignment.models[].path") -> EmbeddingMatrices:
    """Input embedding and unembedding of the causal LM ``spec`` (folder, package: or hub id).

    Fast path: safetensors shards; fallback: the full model (``load_model``), reading
    ``get_input_embeddings()`` / ``get_output_embeddings()``.
    Raises MissingResourceError (one paragraph, how to give a local path) when the model
    cannot be had offline.
    """
    source = resolve_model_path(spec, key)
    local = Path(source).exists()
    folder = Path(source) if local else _snapshot_files(source, key)
    fast = read_safetensors_matrices(folder)
    if fast is not None:
        return fast
    # A hub snapshot holds only the files the fast path wanted: load the full model by its id.
    model = load_model(str(folder) if local else source, key)
    inp, out = model.get_input_embeddings(), model.get_output_embeddings()
    if inp is None:
        raise MissingResourceError(
            f"Model `{spec}` (config key `{key}`) has no input embedding "
            f"module; it is not a causal LM the alignment stage can read."
        )
    embedding = _as_float32(inp.weight.detach())
    if out is None or out.weight is inp.weight:
        return EmbeddingMatrices(embedding, embedding, True, "model", ("input", "input"))
    unembedding = _as_float32(out.weight.detach())
    tied = bool(getattr(model.config, "tie_word_embeddings", False)) or np.array_equal(
        embedding, unembedding
    )
    return EmbeddingMatrices(embedding, unembedding, tied, "model", ("input", "output"))
