"""Co-occurrence counts of SAE features over chunks (Li et al. 2024, "Co-occurrence histogram").

For binary firing vectors f_t in {0,1}^F of chunks t = 1..T the paper accumulates
C = Σ_t f_t f_tᵀ (one dense outer product per chunk); the diagonal is the occurrence count
c_i. Here the same sum is computed as XᵀX over batches of chunks X (B, F), accumulated by
float32 GEMMs, exact because every entry is an integer < 2^24 (the float32 accumulator is
flushed to int64 before it could reach 2^24 chunks). Very sparse streams use a
scipy.sparse product instead. Both equal the per-chunk reference exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

EXACT_FLOAT32 = 2**24
SPARSE_DENSITY = 0.01
MODES = ("auto", "dense", "sparse")


def cooccurrence_reference(firings) -> tuple[np.ndarray, np.ndarray, int]:
    """The paper's method: histogram += outer(f_t, f_t) for each chunk t (slow; for tests).

    firings: (T, F) 0/1 (dense or sparse). Returns (counts (F, F) int64, occurrences (F,) int64, T).
    """
    dense = firings.toarray() if sp.issparse(firings) else np.asarray(firings)
    dense = dense.astype(bool)
    n_features = dense.shape[1]
    counts = np.zeros((n_features, n_features), dtype=np.int64)
    for row in dense:
        counts += np.outer(row, row)
    return counts, dense.sum(axis=0).astype(np.int64), dense.shape[0]


class CooccurrenceAccumulator:
    """Streaming exact co-occurrence counts: ``add`` batches of chunk firing vectors.

    Dense batches go into a float32 (F, F) accumulator with an in-place GEMM (torch
    ``addmm_``: no per-batch output matrix, no int64 pass); every entry stays an integer
    below 2^24, hence exact, because the accumulator is flushed into the int64 total before
    it could hold 2^24 chunks. Very sparse batches use a scipy.sparse product straight into
    the int64 total. ``mode``: ``auto`` (sparse when the batch's density < 1%), ``dense``,
    ``sparse``.
    """

    def __init__(self, n_features: int, mode: str = "auto"):
        if mode not in MODES:
            raise ValueError(
                f"Unknown co-occurrence mode {mode!r}: use one of {list(MODES)} (`auto` picks "
                "the sparse product below 1% density, else the dense one)."
            )
        self.n_features = n_features
        self.mode = mode
        self.total: np.ndarray | None = None  # int64 (F, F), allocated when first needed
        self._acc = None  # torch float32 (F, F)
        self._acc_chunks = 0
        self.occurrences = np.zeros(n_features, dtype=np.int64)
        self.n_chunks = 0

    def _total(self) -> np.ndarray:
        if self.total is None:
            self.total = np.zeros((self.n_features, self.n_features), dtype=np.int64)
        return self.total

    def _flush(self) -> None:
        if self._acc is not None and self._acc_chunks:
            self._total()
            self.total += self._acc.numpy().astype(np.int64)
            self._acc.zero_()
            self._acc_chunks = 0

    def add(self, batch) -> None:
        """batch: (B, F) 0/1, dense array or scipy.sparse matrix, B < 2^24."""
        import torch

        n = batch.shape[0]
        if n == 0:
            return
        if n >= EXACT_FLOAT32:
            raise ValueError(f"batch of {n} chunks: float32 counts are exact only below 2^24")
        density = (batch.nnz if sp.issparse(batch) else np.count_nonzero(batch)) / (
            n * self.n_features
        )
        sparse = self.mode == "sparse" or (self.mode == "auto" and density < SPARSE_DENSITY)
        if sparse:
            x = sp.csr_matrix(batch != 0, dtype=np.int64)
            prod = (x.T @ x).tocoo()
            prod.sum_duplicates()  # unique (row, col), so fancy-index += is exact
            self._total()[prod.row, prod.col] += prod.data
            self.occurrences += np.asarray(x.sum(axis=0)).ravel()
        else:
            x = (batch != 0).toarray() if sp.issparse(batch) else (np.asarray(batch) != 0)
            xt = torch.from_numpy(x.astype(np.float32))
            if self._acc is None:
                self._acc = torch.zeros((self.n_features, self.n_features), dtype=torch.float32)
            if self._acc_chunks + n >= EXACT_FLOAT32:
                self._flush()
            self._acc.addmm_(xt.T, xt)
            self._acc_chunks += n
            self.occurrences += x.sum(axis=0).astype(np.int64)
        self.n_chunks += n

    def result(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(counts (F, F) int64 symmetric with diagonal = occurrences, occurrences (F,), T)."""
        self._flush()
        return self._total().copy(), self.occurrences.copy(), self.n_chunks


def cooccurrence_counts(
    firings, batch_size: int = 256, mode: str = "auto"
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact co-occurrence counts of a chunk × feature firing matrix, in batches of chunks.

    firings: (T, F) 0/1, scipy.sparse CSR or dense. Returns (counts (F, F) int64,
    occurrences (F,) int64, T), equal to ``cooccurrence_reference``.
    """
    acc = CooccurrenceAccumulator(firings.shape[1], mode=mode)
    rows = sp.csr_matrix(firings) if sp.issparse(firings) else np.asarray(firings)
    for start in range(0, firings.shape[0], batch_size):
        acc.add(rows[start : start + batch_size])
    return acc.result()
