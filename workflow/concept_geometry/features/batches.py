"""Tokenizing documents and capturing their residual stream in batches (content tokens only),
and a sample of residual activations (for SAE sanity checks)."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ..models import residual_stream
from .chunking import content_mask


def _encode_texts(tokenizer, texts: Sequence[str], max_length: int) -> dict:
    tokenizer.padding_side = "right"  # real tokens keep positions 0..n-1 in causal models
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_special_tokens_mask=True,
        return_tensors="pt",
    )


def count_content_tokens(
    tokenizer,
    texts: Sequence[str],
    max_length: int,
    drop_special: bool = True,
    batch_size: int = 256,
) -> np.ndarray:
    """(n_docs,) number of content tokens of each document (after truncation)."""
    out = []
    for start in range(0, len(texts), batch_size):
        enc = _encode_texts(tokenizer, texts[start : start + batch_size], max_length)
        keep = content_mask(
            enc["attention_mask"].numpy(), enc["special_tokens_mask"].numpy(), drop_special
        )
        out.append(keep.sum(1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def iter_residual_batches(
    model,
    tokenizer,
    texts: Sequence[str],
    layers: Sequence[int],
    batch_size: int,
    max_length: int,
    drop_special: bool = True,
    device: str = "cpu",
    progress: bool = True,
    desc: str = "forward",
    with_ids: bool = False,
) -> Iterator[tuple]:
    """Yield (doc_index (B,), {layer: (B, S, d) float32 tensor}, keep (B, S) bool) per batch,
    plus the batch's input_ids (B, S) as a fourth item when ``with_ids``.

    Documents are processed in order of decreasing text length (less padding); ``doc_index``
    says which input texts a batch holds.
    """
    from tqdm import tqdm

    order = np.argsort([-len(t) for t in texts], kind="stable")
    bar = tqdm(total=len(texts), desc=desc, unit="doc", disable=not progress, mininterval=2)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = _encode_texts(tokenizer, [texts[i] for i in idx], max_length)
        keep = content_mask(
            enc["attention_mask"].numpy(), enc["special_tokens_mask"].numpy(), drop_special
        )
        resid = residual_stream(
            model, enc["input_ids"].to(device), enc["attention_mask"].to(device), list(layers)
        )
        yield (idx, resid, keep, enc["input_ids"].numpy()) if with_ids else (idx, resid, keep)
        bar.update(len(idx))
    bar.close()


def sample_activations(
    model,
    tokenizer,
    texts: Sequence[str],
    layers: Sequence[int],
    n_tokens: int,
    seed: int,
    batch_size: int,
    max_length: int,
    drop_special: bool = True,
    device: str = "cpu",
    progress: bool = True,
) -> dict[int, np.ndarray]:
    """A seeded sample of content-token residual activations, per layer (SAE training data).

    Documents are drawn in a seeded random order until they hold 1.25·n_tokens content
    tokens; only those are run through the model (the pass costs ~n_tokens, not the corpus).
    Their content tokens are shuffled and cut to ``n_tokens`` (fewer when the corpus is
    smaller). The same tokens are used at every layer. Returns {layer: (n, d_model) float32}.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    counts = count_content_tokens(tokenizer, [texts[i] for i in order], max_length, drop_special)
    n_docs = int(np.searchsorted(np.cumsum(counts), 1.25 * n_tokens) + 1)
    chosen = [texts[i] for i in order[:n_docs]]
    parts: dict[int, list] = {layer: [] for layer in layers}
    for _, resid, keep in iter_residual_batches(
        model,
        tokenizer,
        chosen,
        layers,
        batch_size,
        max_length,
        drop_special,
        device,
        progress,
        desc="sample activations",
    ):
        rows, cols = np.nonzero(keep)
        for layer in layers:
            parts[layer].append(resid[layer][rows, cols].cpu().numpy().astype(np.float32))
    out = {}
    perm = None
    for layer in layers:
        x = np.concatenate(parts[layer]) if parts[layer] else np.zeros((0, 0), np.float32)
        if perm is None:
            perm = rng.permutation(len(x))[:n_tokens]
        out[layer] = np.ascontiguousarray(x[perm])
    return out
