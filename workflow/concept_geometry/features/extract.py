"""The forward pass of Paper B's data stage (Li et al. 2024, "Data").

Documents are tokenized with the tokenizer's special tokens (BOS), truncated at
``max_length``, padded on the right and run in batches; the residual stream after every
requested block is captured in one pass that stops after the deepest one
(``models.residual_stream``). Special-token positions (the BOS) and padding are dropped, the
remaining tokens are cut into consecutive full chunks, each chunk's tokens are SAE-encoded and a
feature *fires* in the chunk when its activation exceeds ``threshold`` on any of its tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from .batches import _encode_texts, count_content_tokens, iter_residual_batches, sample_activations  # noqa: F401 (re-exported)
from .chunking import chunk_positions
from .contexts import TopContexts, content_ids_of, snippet_ids


@dataclass
class LayerFirings:
    """Firing sets of one layer. firings: (n_chunks, n_features) CSR uint8 (None when they
    went to a sink); doc_index: (n_chunks,) index into the input texts; stats: token-level
    SAE statistics."""

    firings: sp.csr_matrix | None
    doc_index: np.ndarray
    stats: dict = field(default_factory=dict)


class _Stats:
    """Streaming SAE statistics over encoded tokens."""

    def __init__(self, d: int):
        self.n = 0
        self.sum_x = torch.zeros(d, dtype=torch.float64)
        self.sum_sq = 0.0
        self.sse = 0.0
        self.l0 = 0.0
        self.fired = 0.0

    def add(self, x, feats, recon, threshold):
        self.n += x.shape[0]
        self.sum_x += x.double().sum(0).cpu()
        self.sum_sq += x.double().pow(2).sum().item()
        self.sse += (recon.double() - x.double()).pow(2).sum().item()
        self.l0 += (feats > 0).sum().item()
        self.fired += (feats > threshold).sum().item()

    def result(self) -> dict:
        if self.n == 0:
            return {
                "n_tokens": 0,
                "explained_variance": float("nan"),
                "l0_per_token": float("nan"),
                "firing_per_token": float("nan"),
            }
        sst = self.sum_sq - (self.sum_x.pow(2).sum().item() / self.n)
        return {
            "n_tokens": self.n,
            "explained_variance": 1.0 - self.sse / max(sst, 1e-12),
            "l0_per_token": self.l0 / self.n,
            "firing_per_token": self.fired / self.n,
        }


@torch.no_grad()
def chunk_firings(
    sae,
    tokens: torch.Tensor,
    threshold: float,
    stats: _Stats | None = None,
    block_tokens: int = 8192,
    on_block=None,
) -> np.ndarray:
    """Which features fire anywhere in each chunk.

    tokens: (n_chunks, chunk_size, d_model) residual activations. Returns (n_chunks, F) bool:
    True where the SAE activation exceeds ``threshold`` on at least one of the chunk's tokens.
    Encodes in blocks of about ``block_tokens`` tokens to bound memory; ``on_block(start,
    stop, feats)``, when given, sees each block's (n_tokens, F) activations (chunks
    start..stop, chunk by chunk, token by token).
    """
    n_chunks, chunk_size, d = tokens.shape
    per = max(1, block_tokens // chunk_size)
    out = np.zeros((n_chunks, sae.cfg.d_sae), dtype=bool)
    dtype = sae.W_dec.dtype
    for start in range(0, n_chunks, per):
        x = tokens[start : start + per].reshape(-1, d)
        feats = sae.encode(x.to(dtype)).float()
        if stats is not None:
            stats.add(x, feats, sae.decode(feats.to(dtype)).float(), threshold)
        if on_block is not None:
            on_block(start, min(start + per, n_chunks), feats)
        fired = (feats > threshold).reshape(-1, chunk_size, feats.shape[-1]).any(dim=1)
        out[start : start + per] = fired.cpu().numpy()
    return out


def _contexts_hook(acc: TopContexts, tok_doc, tok_row, tok_pos, content_ids, chunk_size):
    """on_block for chunk_firings: feed a block's activations to ``acc`` (tokens of chunks
    start..stop; snippets from the batch's content tokens)."""

    def hook(start, stop, feats):
        sl = slice(start * chunk_size, stop * chunk_size)
        rows, pos = tok_row[sl], tok_pos[sl]
        acc.add(
            feats, tok_doc[sl], pos, lambda t: snippet_ids(content_ids, rows[t], pos[t], acc.window)
        )

    return hook


def extract_firings(
    model,
    tokenizer,
    texts: Sequence[str],
    saes: dict,
    threshold: float,
    chunk_size: int,
    batch_size: int,
    max_length: int,
    drop_special: bool = True,
    device: str = "cpu",
    progress: bool = True,
    sinks: dict | None = None,
    top_contexts: dict[int, TopContexts] | None = None,
) -> dict[int, LayerFirings]:
    """Per-chunk firing sets of every layer's SAE, from one forward pass per document batch.

    saes: {layer: SAELens SAE}. Returns {layer: LayerFirings}; chunks are listed document by
    document in the order the documents were processed (``doc_index`` says which).
    sinks: optional {layer: callable(CSR block)} that receives each batch's firing rows as
    they are computed (e.g. ``io.SparseRowsWriter.append``), so memory does not grow with
    the corpus; the returned ``firings`` are then None.
    top_contexts: optional {layer: TopContexts} that see every encoded token's activations
    (the tokens of full chunks), with its document (index into ``texts``) and its position
    among the document's content tokens; snippets are cut from those content tokens.
    """
    layers = sorted(saes)
    shards: dict[int, list] = {layer: [] for layer in layers}
    doc_parts: list[np.ndarray] = []
    stats = {layer: _Stats(int(saes[layer].cfg.d_in)) for layer in layers}
    for batch in iter_residual_batches(
        model,
        tokenizer,
        texts,
        layers,
        batch_size,
        max_length,
        drop_special,
        device,
        progress,
        desc="extract firings",
        with_ids=True,
    ):
        idx, resid, keep, input_ids = batch
        rows, positions = chunk_positions(keep, chunk_size)
        if top_contexts:
            cids, cpos = content_ids_of(input_ids, keep)
            tok_doc = np.repeat(idx[rows], chunk_size)
            tok_row = np.repeat(rows, chunk_size)
            tok_pos = cpos[rows[:, None], positions].ravel()
        doc_parts.append(idx[rows])
        r = torch.as_tensor(rows, device=resid[layers[0]].device)
        pos = torch.as_tensor(positions, device=r.device)
        for layer in layers:
            tokens = resid[layer][r[:, None], pos]  # (n_chunks, chunk_size, d)
            hook = None
            if top_contexts and layer in top_contexts:
                hook = _contexts_hook(
                    top_contexts[layer], tok_doc, tok_row, tok_pos, cids, chunk_size
                )
            fired = sp.csr_matrix(
                chunk_firings(saes[layer], tokens, threshold, stats[layer], on_block=hook).astype(
                    np.uint8
                )
            )
            if sinks is not None:
                sinks[layer](fired)
            else:
                shards[layer].append(fired)
    doc_index = np.concatenate(doc_parts).astype(np.int64) if doc_parts else np.zeros(0, np.int64)
    out = {}
    for layer in layers:
        if sinks is not None:
            out[layer] = LayerFirings(None, doc_index, stats[layer].result())
            continue
        n_features = int(saes[layer].cfg.d_sae)
        mat = (
            sp.vstack(shards[layer], format="csr")
            if shards[layer]
            else sp.csr_matrix((0, n_features), dtype=np.uint8)
        )
        out[layer] = LayerFirings(mat.astype(np.uint8), doc_index, stats[layer].result())
    return out
