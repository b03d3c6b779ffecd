"""Top-activating contexts of every SAE feature, kept while the corpus streams past.

For the feature explorer (lobes_explorer): per feature, the ``n_top`` token positions with the
largest SAE activation (> 0), each with its document, its position among the document's
content tokens (after truncation and dropping special tokens, exactly as chunked) and the
``window`` content tokens either side. The state is a fixed (F, n_top) table, so memory is
O(F · n_top · window) whatever the corpus size. Order, including ties, is total and does not
depend on batching: larger activation first, then smaller document index, then smaller
position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

NO_TOKEN = -1  # snippet slot outside the document's content tokens


@dataclass
class TopContextsResult:
    """activation: (F, N) float32, NaN where a feature has fewer than N positive activations;
    doc_index: (F, N) int64 index into the input texts (-1 empty); position: (F, N) int64
    content-token position (-1 empty); snippet: (F, N, 2W+1) int64 token ids (-1 outside the
    document or empty), the firing token at column W."""

    activation: np.ndarray
    doc_index: np.ndarray
    position: np.ndarray
    snippet: np.ndarray
    window: int


class TopContexts:
    """Streaming top-N (activation, document, position, snippet) per feature.

    ``add`` takes one block of encoded tokens; ``result`` returns the table. ``state_nbytes``
    is the memory of the state, a function of (F, N, W) only.
    """

    def __init__(self, n_features: int, n_top: int, window: int):
        self.n_features, self.n_top, self.window = int(n_features), int(n_top), int(window)
        self.activation = np.full((n_features, n_top), -np.inf, dtype=np.float32)
        self.doc_index = np.full((n_features, n_top), -1, dtype=np.int64)
        self.position = np.full((n_features, n_top), -1, dtype=np.int64)
        self.snippet = np.full((n_features, n_top, 2 * window + 1), NO_TOKEN, dtype=np.int64)

    @property
    def state_nbytes(self) -> int:
        return sum(a.nbytes for a in (self.activation, self.doc_index, self.position, self.snippet))

    @torch.no_grad()
    def add(
        self, feats: torch.Tensor, doc_index: np.ndarray, position: np.ndarray, snippets
    ) -> None:
        """Merge one block. feats: (T, F) activations of T tokens; doc_index, position: (T,)
        each token's document and content position; snippets: callable(token rows (m,)) ->
        (m, 2W+1) token ids, called only for the candidates that can enter the table."""
        # A candidate can enter only if it is positive and reaches the feature's current N-th
        # value (>=: ties are kept and settled by the total order below).
        tiny = np.finfo(np.float32).tiny
        floor = torch.as_tensor(np.maximum(self.activation[:, -1], tiny), device=feats.device)
        floor = floor.to(feats.dtype)
        hit = feats >= floor[None, :]
        if int(hit.sum()) > 4 * self.n_features * self.n_top:  # e.g. while tables fill up
            # ... and its N-th value within this block, which keeps at most ~N per feature.
            k = min(self.n_top, feats.shape[0])
            floor = torch.maximum(floor, torch.topk(feats, k, dim=0).values[-1])
            hit = feats >= floor[None, :]
        t, f = torch.nonzero(hit, as_tuple=True)
        if t.numel() == 0:
            return
        v = feats[t, f].float().cpu().numpy()
        t, f = t.cpu().numpy(), f.cpu().numpy()
        doc_index, position = np.asarray(doc_index), np.asarray(position)
        # Only the features with candidates are re-sorted: their filled slots plus the new ones.
        touched = np.unique(f)
        filled = np.isfinite(self.activation[touched])
        old_f = np.repeat(touched, filled.sum(1))
        keep = (touched[:, None] * self.n_top + np.arange(self.n_top)[None, :])[filled]
        feat = np.concatenate([old_f, f])
        act = np.concatenate([self.activation.ravel()[keep], v])
        doc = np.concatenate([self.doc_index.ravel()[keep], doc_index[t]])
        pos = np.concatenate([self.position.ravel()[keep], position[t]])
        order = np.lexsort((pos, doc, -act.astype(np.float64), feat))  # last key sorts first
        feat = feat[order]
        rank = np.arange(feat.size) - np.searchsorted(feat, feat, side="left")
        sel = rank < self.n_top
        take, ft, rank = order[sel], feat[sel], rank[sel]
        # Snippets: the kept old ones copied before the slots are overwritten, new ones cut
        # only for the candidates that entered.
        flat = self.snippet.reshape(-1, self.snippet.shape[-1])
        snip = np.empty((take.size, flat.shape[1]), dtype=np.int64)
        is_old = take < keep.size
        snip[is_old] = flat[keep[take[is_old]]]
        if (~is_old).any():
            snip[~is_old] = np.asarray(snippets(t[take[~is_old] - keep.size]), dtype=np.int64)
        self.activation[ft, rank] = act[take]
        self.doc_index[ft, rank] = doc[take]
        self.position[ft, rank] = pos[take]
        self.snippet[ft, rank] = snip

    def result(self) -> TopContextsResult:
        act = self.activation.copy()
        act[~np.isfinite(act)] = np.nan
        return TopContextsResult(
            act, self.doc_index.copy(), self.position.copy(), self.snippet.copy(), self.window
        )


def snippet_ids(
    content_ids: np.ndarray, rows: np.ndarray, positions: np.ndarray, window: int
) -> np.ndarray:
    """Token ids of the ``window`` content tokens either side of each (row, position).

    content_ids: (B, S) ids of each row's content tokens left-aligned, -1 after the last.
    Returns (m, 2W+1) int64, -1 outside the row's content.
    """
    b, s = content_ids.shape
    padded = np.full((b, s + 2 * window), NO_TOKEN, dtype=np.int64)
    padded[:, window : window + s] = content_ids
    cols = np.asarray(positions)[:, None] + np.arange(2 * window + 1)[None, :]
    return padded[np.asarray(rows)[:, None], cols]


def content_ids_of(input_ids: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(content_ids (B, S) left-aligned, -1 padded; content_position (B, S) of each column,
    -1 where the column is not content)."""
    keep = np.asarray(keep, dtype=bool)
    pos = np.where(keep, np.cumsum(keep, axis=1) - 1, -1)
    out = np.full(keep.shape, NO_TOKEN, dtype=np.int64)
    rows, cols = np.nonzero(keep)
    out[rows, pos[rows, cols]] = np.asarray(input_ids)[rows, cols]
    return out, pos


def token_strings(tokenizer, snippet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The snippets' tokens as the tokenizer spells them: (vocabulary (U,) str, snippet
    (F, N, 2W+1) int32 index into it, -1 where there is no token)."""
    ids, inverse = np.unique(snippet, return_inverse=True)
    inverse = inverse.reshape(snippet.shape)
    real = ids >= 0
    vocab = np.array(tokenizer.convert_ids_to_tokens([int(i) for i in ids[real]]) or [], dtype=str)
    remap = np.full(ids.size, -1, dtype=np.int64)
    remap[real] = np.arange(int(real.sum()))
    return vocab, remap[inverse].astype(np.int32)
