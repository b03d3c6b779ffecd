"""Co-occurrence affinities between SAE features and the geometric (angular) affinity.

Li et al. 2024, "Brain" scale (Sec. 4): features that co-occur in the same document chunk
are compared with one of five association measures computed from the 2x2 contingency
table of every feature pair. With c_i = occurrences of i, c_ij = co-occurrences, T =
chunks: n11 = c_ij, n10 = c_i - c_ij, n01 = c_j - c_ij, n00 = T - c_i - c_j + c_ij.

All functions are vectorised over a block of rows ``rows`` against all columns, so a
16k x 16k affinity can be built block by block (see ``affinity_blocks``). Undefined values
(0/0, e.g. a pair of features that never fire) are set to 0, as the paper's code does.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

MEASURES = ("jaccard", "simple_matching", "dice", "overlap", "phi")
GEOMETRIC = "geometric"


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where the ratio is undefined (den == 0 or not finite)."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    out[~np.isfinite(out)] = 0.0
    return out


def jaccard(c_ij: np.ndarray, c_i: np.ndarray, c_j: np.ndarray, n_chunks: int) -> np.ndarray:
    """Jaccard c_ij / (c_i + c_j - c_ij). Shapes: c_ij (r, F), c_i (r, 1), c_j (1, F)."""
    return _safe_divide(c_ij, c_i + c_j - c_ij)


def simple_matching(c_ij, c_i, c_j, n_chunks: int) -> np.ndarray:
    """Simple matching coefficient (n11 + n00) / T."""
    n00 = n_chunks - c_i - c_j + c_ij
    return _safe_divide(c_ij + n00, np.float64(n_chunks))


def dice(c_ij, c_i, c_j, n_chunks: int) -> np.ndarray:
    """Dice 2 c_ij / (c_i + c_j)."""
    return _safe_divide(2.0 * c_ij, c_i + c_j)


def overlap(c_ij, c_i, c_j, n_chunks: int) -> np.ndarray:
    """Overlap (Szymkiewicz-Simpson) c_ij / min(c_i, c_j)."""
    return _safe_divide(c_ij, np.minimum(c_i, c_j))


def phi_coefficient(c_ij, c_i, c_j, n_chunks: int) -> np.ndarray:
    """Phi (n11 n00 - n10 n01) / sqrt(c_i (T - c_i) c_j (T - c_j)), in [-1, 1].

    Equal to the Pearson correlation of the two binary firing vectors over chunks. Undefined
    (a feature that never fires or fires in every chunk) -> 0. The paper's code then adds 1
    (see ``cooccurrence_affinity(shift_phi=True)``). Float64 inputs (``affinity_rows``
    converts them), so no margin product overflows.
    """
    n11 = c_ij
    n10 = c_i - c_ij
    n01 = c_j - c_ij
    n00 = n_chunks - c_i - c_j + c_ij
    den = np.sqrt(c_i * (n_chunks - c_i) * c_j * (n_chunks - c_j))
    return _safe_divide(n11 * n00 - n10 * n01, den)


def phi_coefficient_int64(c_ij, c_i, c_j, n_chunks: int) -> np.ndarray:
    """Phi as the official ``get_phi`` computes it (feature-geometry
    ``brain/experiments/all-occurrences0/cluster_phi.py``): the four margins multiplied in
    int64, which wraps past 2^63 -- for T ~ 10^5 chunks, whenever both features fire in more
    than ~16% of the chunks -- before the square root; NaN (a wrapped negative product, or
    0/0) and inf become 0. Equal to ``phi_coefficient`` wherever nothing wraps.
    """
    c_ij = np.asarray(c_ij, dtype=np.int64)
    c_i = np.asarray(c_i, dtype=np.int64)
    c_j = np.asarray(c_j, dtype=np.int64)
    t = np.int64(n_chunks)
    n00 = t - c_i - c_j + c_ij
    num = c_ij * n00 - (c_i - c_ij) * (c_j - c_ij)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = num / np.sqrt(c_i * (t - c_i) * c_j * (t - c_j))
    out[~np.isfinite(out)] = 0.0
    return out


_FUNCS = {
    "jaccard": jaccard,
    "simple_matching": simple_matching,
    "dice": dice,
    "overlap": overlap,
    "phi": phi_coefficient,
}


def affinity_rows(
    counts_rows: np.ndarray,
    occ_rows: np.ndarray,
    occurrences: np.ndarray,
    n_chunks: int,
    measure: str,
    shift_phi: bool = True,
    official_int64: bool = False,
) -> np.ndarray:
    """One block of an affinity matrix.

    counts_rows: (r, F) co-occurrence counts of r features with all F features;
    occ_rows: (r,) their occurrences; occurrences: (F,); n_chunks: T.
    Returns (r, F) float64. ``shift_phi`` adds 1 to phi (the official code's
    ``phi = phi + 1``, making it non-negative, in [0, 2]) as spectral clustering needs;
    ``official_int64`` computes phi as the official code does (``phi_coefficient_int64``).
    """
    if measure not in _FUNCS:
        raise ValueError(f"unknown measure {measure!r}; expected one of {MEASURES}")
    if measure == "phi" and official_int64:
        out = phi_coefficient_int64(
            np.asarray(counts_rows),
            np.asarray(occ_rows)[:, None],
            np.asarray(occurrences)[None, :],
            int(n_chunks),
        )
        return out + 1.0 if shift_phi else out
    c_ij = np.asarray(counts_rows, dtype=np.float64)
    c_i = np.asarray(occ_rows, dtype=np.float64)[:, None]
    c_j = np.asarray(occurrences, dtype=np.float64)[None, :]
    out = _FUNCS[measure](c_ij, c_i, c_j, int(n_chunks))
    if measure == "phi" and shift_phi:
        out += 1.0
    return out


def cooccurrence_affinity(
    counts: np.ndarray, occurrences: np.ndarray, n_chunks: int, measure: str, shift_phi: bool = True
) -> np.ndarray:
    """Dense (F, F) affinity of one measure from co-occurrence counts (F, F) and
    occurrences (F,) over ``n_chunks`` chunks (Li et al. Sec. 4, Eqs. for the five measures)."""
    return affinity_rows(counts, occurrences, occurrences, n_chunks, measure, shift_phi)


def angular_affinity_rows(unit_rows: np.ndarray, unit_all: np.ndarray) -> np.ndarray:
    """Angular similarity 1 - arccos(cos)/pi between unit vectors: (r, d) x (F, d) -> (r, F)."""
    cos = np.clip(unit_rows @ unit_all.T, -1.0, 1.0)
    return 1.0 - np.arccos(cos) / np.pi


def unit_rows(decoder: np.ndarray) -> np.ndarray:
    """Decoder rows W_dec (F, d) scaled to unit norm (float64); zero rows stay zero."""
    w = np.asarray(decoder, dtype=np.float64)
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    return _safe_divide(w, norms)


def geometric_affinity(decoder: np.ndarray) -> np.ndarray:
    """Dense (F, F) angular affinity of the decoder directions W_dec (F, d)."""
    u = unit_rows(decoder)
    return angular_affinity_rows(u, u)


def affinity_blocks(
    measure: str,
    *,
    counts=None,
    occurrences=None,
    n_chunks=None,
    decoder=None,
    shift_phi: bool = True,
    official_int64: bool = False,
    block: int = 2048,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (row slice, (r, F) affinity block) for a co-occurrence measure or 'geometric'.

    Keeps peak memory at a few blocks, so a 16k x 16k matrix can be sparsified on the fly.
    """
    if measure == GEOMETRIC:
        u = unit_rows(decoder)
        n = u.shape[0]
        for start in range(0, n, block):
            rows = slice(start, min(start + block, n))
            yield rows, angular_affinity_rows(u[rows], u)
        return
    occ = np.asarray(occurrences)
    n = occ.shape[0]
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        yield (
            rows,
            affinity_rows(
                np.asarray(counts[rows]),
                occ[rows],
                occ,
                n_chunks,
                measure,
                shift_phi,
                official_int64,
            ),
        )
