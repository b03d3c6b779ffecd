"""Token positions -> consecutive full chunks (Li et al. 2024, "Co-occurrence histogram")."""

from __future__ import annotations

import numpy as np


def content_mask(
    attention_mask: np.ndarray, special_tokens_mask: np.ndarray | None, drop_special: bool = True
) -> np.ndarray:
    """Positions that count as text: attended and (optionally) not a special token.

    attention_mask, special_tokens_mask: (batch, seq) 0/1. Returns (batch, seq) bool. With
    ``drop_special`` the BOS the tokenizer added (and BERT's [CLS]/[SEP]) is dropped, as the
    paper drops Gemma's BOS; padding is never content.
    """
    keep = np.asarray(attention_mask).astype(bool)
    if drop_special and special_tokens_mask is not None:
        keep &= ~np.asarray(special_tokens_mask).astype(bool)
    return keep


def chunk_positions(keep: np.ndarray, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays of every full chunk of consecutive content tokens, row by row.

    keep: (batch, seq) bool content mask. A row with m content tokens gives m // chunk_size
    chunks: content tokens [0, C), [C, 2C), ... in order; a trailing partial chunk is dropped.
    Returns (rows (n_chunks,) int64, positions (n_chunks, chunk_size) int64) so that
    ``x[rows[:, None], positions]`` gathers (n_chunks, chunk_size, ...) from (batch, seq, ...).
    """
    keep = np.asarray(keep, dtype=bool)
    rows_all, cols_all = np.nonzero(keep)  # row-major, so columns are in order within a row
    counts = keep.sum(axis=1)
    n_chunks = counts // chunk_size
    rows_out, pos_out = [], []
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for r in np.flatnonzero(n_chunks):
        take = cols_all[starts[r] : starts[r] + n_chunks[r] * chunk_size]
        pos_out.append(take.reshape(n_chunks[r], chunk_size))
        rows_out.append(np.full(n_chunks[r], r, dtype=np.int64))
    if not pos_out:
        return np.zeros(0, dtype=np.int64), np.zeros((0, chunk_size), dtype=np.int64)
    return np.concatenate(rows_out), np.concatenate(pos_out).astype(np.int64)
