"""The rehearsal's model checkpoints: Llama-2-7b-shaped (two tensors) and gemma-2-2b-shaped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..io import atomic_dir
from .paths import GEMMA_DIR, LLAMA_DIR, PRODUCER
from .sizes import RehearsalSizes
from .store import _identity, _normal, _skip, write_sharded
from .vocab import GEMMA_SPECIALS, LLAMA_SPECIALS, make_tokenizer, vocabulary


def build_llama(
    build_dir: Path, sizes: RehearsalSizes, seed: int, words: list[str], force: bool = False
) -> dict:
    """Llama-2-7b-shaped, untied, float16, embed_tokens and lm_head only (see module doc)."""
    import torch

    cfg = sizes.llama_config()
    vocab = vocabulary(cfg["vocab_size"], LLAMA_SPECIALS, words, sizes.filler_words, seed + 1)
    cfg["vocab_size"] = len(LLAMA_SPECIALS) + len(vocab)
    d = cfg["hidden_size"]
    path = build_dir / LLAMA_DIR
    ident = _identity({"config": cfg}, seed, model="llama-2-7b")
    if not _skip(path, ident, force):
        gen = torch.Generator().manual_seed(seed + 11)
        nbytes = cfg["vocab_size"] * d * 2
        entries = [
            ("model.embed_tokens.weight", (cfg["vocab_size"], d), nbytes),
            ("lm_head.weight", (cfg["vocab_size"], d), nbytes),
        ]
        with atomic_dir(path, PRODUCER, ident) as tmp:
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
            write_sharded(
                tmp,
                entries,
                lambda n, s: _normal(s, cfg["initializer_range"], torch.float16, gen),
                n_shards=sizes.llama_shards,
            )
            make_tokenizer(LLAMA_SPECIALS, vocab, "<s>", "</s>", None, "<unk>").save_pretrained(tmp)
            (tmp / "REHEARSAL.md").write_text(
                "Random weights of Llama-2-7b's shape. Only model.embed_tokens.weight and "
                "lm_head.weight are stored: the alignment stage's safetensors fast path reads "
                "nothing else. Not loadable as a full model.\n"
            )
    return {
        "path": str(path),
        "vocab_size": cfg["vocab_size"],
        "d_model": d,
        "tensors": ["model.embed_tokens.weight", "lm_head.weight"],
        "identity": ident,
    }


def gemma_entries(cfg: dict) -> list[tuple[str, tuple, int]]:
    """(name, shape, bf16 bytes) of every stored Gemma2ForCausalLM tensor, in module order
    (lm_head omitted: tied, as in the hub checkpoint)."""
    import torch
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(
        **{k: v for k, v in cfg.items() if k not in ("architectures", "model_type")}
    )
    with torch.device("meta"):
        model = Gemma2ForCausalLM(config)
    out = []
    for name, param in model.named_parameters():
        if name == "lm_head.weight" and cfg["tie_word_embeddings"]:
            continue
        out.append((name, tuple(param.shape), param.numel() * 2))
    return out


def build_gemma(
    build_dir: Path, sizes: RehearsalSizes, seed: int, words: list[str], force: bool = False
) -> dict:
    """gemma-2-2b-shaped Gemma2ForCausalLM, random weights, bfloat16, with its tokenizer."""
    import torch

    cfg = sizes.gemma_config()
    vocab = vocabulary(cfg["vocab_size"], GEMMA_SPECIALS, words, sizes.filler_words, seed + 2)
    cfg["vocab_size"] = len(GEMMA_SPECIALS) + len(vocab)
    path = build_dir / GEMMA_DIR
    ident = _identity({"config": cfg}, seed, model="gemma-2-2b")
    entries = gemma_entries(cfg)
    if not _skip(path, ident, force):
        gen = torch.Generator().manual_seed(seed + 12)
        std = cfg["initializer_range"]

        def make(name, shape):
            if "norm" in name:  # Gemma's RMSNorm scales by (1 + w): w = 0 at initialisation
                return torch.zeros(shape, dtype=torch.bfloat16)
            return _normal(shape, std, torch.bfloat16, gen)

        with atomic_dir(path, PRODUCER, ident) as tmp:
            (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
            write_sharded(tmp, entries, make, max_bytes=sizes.gemma_shard_bytes)
            make_tokenizer(
                GEMMA_SPECIALS, vocab, "<bos>", "<eos>", "<pad>", "<unk>"
            ).save_pretrained(tmp)
            (tmp / "REHEARSAL.md").write_text("Random weights of gemma-2-2b's shape (bfloat16).\n")
    return {
        "path": str(path),
        "vocab_size": cfg["vocab_size"],
        "d_model": cfg["hidden_size"],
        "n_parameters": int(sum(np.prod(s) for _, s, _ in entries)),
        "identity": ident,
        "words": vocab,
    }
