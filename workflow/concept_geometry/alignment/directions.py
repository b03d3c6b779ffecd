"""Concept directions and the inner products they are compared under (spec §3): the direction
of a concept in a matrix (input embedding or unembedding), cosine matrices, the causal inner
product Cov(γ)^-1 and the random ones; the building blocks of :mod:`.geometry`."""

from __future__ import annotations

import numpy as np

PARK_RANDOM_SEED = 100  # 2_heatmap.ipynb, cell 1: torch.manual_seed(100)


def concept_directions(
    matrix: np.ndarray,
    base_ids: np.ndarray,
    target_ids: np.ndarray,
    concept_index: np.ndarray,
    n_concepts: int,
) -> np.ndarray:
    """Normalised mean difference per concept.

    matrix: (vocab, d). base_ids, target_ids, concept_index: (n_pairs,) ints, concept_index
    in [0, n_concepts). Returns (n_concepts, d) float64 unit rows; a concept without pairs
    (or with a zero mean difference) gets a row of NaN.
    """
    matrix = np.asarray(matrix)
    diffs = matrix[np.asarray(target_ids)].astype(np.float64) - matrix[np.asarray(base_ids)]
    sums = np.zeros((n_concepts, matrix.shape[1]), dtype=np.float64)
    np.add.at(sums, np.asarray(concept_index), diffs)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)  # 0 for a concept without pairs
    out = np.full_like(sums, np.nan)
    np.divide(sums, norms, out=out, where=norms > 0)
    return out


def cosine_matrix(a: np.ndarray, b: np.ndarray, transform: np.ndarray | None = None) -> np.ndarray:
    """cos(a_i, b_j) under the inner product <x, y> = (T x)·(T y).

    a: (k, d), b: (l, d); transform T: (d', d) or None for the Euclidean inner product.
    Returns (k, l).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if transform is not None:
        a, b = a @ transform.T, b @ transform.T
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def covariance_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition of Cov(γ) of the token rows ``matrix`` (vocab, d), centred, float64:
    (eigenvalues ascending, eigenvectors as columns), for ``causal_transform``."""
    gamma = np.asarray(matrix, dtype=np.float64)
    centred = gamma - gamma.mean(axis=0, keepdims=True)
    cov = centred.T @ centred / gamma.shape[0]
    return np.linalg.eigh(cov)


def causal_transform(
    matrix: np.ndarray | None,
    ridge: float = 0.0,
    rcond: float = 1e-10,
    dual: bool = False,
    *,
    eigh: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Park et al.'s causal inner product <x, y>_C = x^T Cov(γ)^{-1} y, as T = Cov(γ)^{-1/2}.

    matrix: (vocab, d), token rows γ(y) (the unembedding in Park et al.; ``analyse`` also
    passes the input embedding for its own space); centred before the covariance. ``ridge`` adds
    ridge * mean eigenvalue to every eigenvalue; eigenvalues below rcond * max are dropped
    (pseudo-inverse), which is what happens when vocab < d: concept directions, being
    differences of rows, lie in the row span, where the pseudo-inverse is exact.
    dual: the inner product it induces on the embedding (context) side instead,
    <x, y> = x^T Cov(γ) y, T = Cov(γ)^{1/2} (Park et al.'s l(x) = Cov(γ)^{1/2} λ(x)).
    eigh: ``covariance_eigh(matrix)`` when already computed (then ``matrix`` is unused), so
    that one Cov(γ) serves both ``causal`` and ``causal_dual``.
    Returns T: (d, d) symmetric.
    """
    eig, vec = covariance_eigh(matrix) if eigh is None else eigh
    eig = np.clip(eig, 0.0, None)
    eig = eig + ridge * eig.mean()
    keep = eig > rcond * eig.max()
    scale = np.zeros_like(eig)
    scale[keep] = np.sqrt(eig[keep]) if dual else 1.0 / np.sqrt(eig[keep])
    return (vec * scale) @ vec.T


def random_transform(d: int, rng: np.random.Generator) -> np.ndarray:
    """A random inner product <x, y> = x^T A^T A y, A (d, d) standard normal / sqrt(d)
    (``random_gaussian``: a generic random metric, close to Euclidean in high d)."""
    return rng.standard_normal((d, d)) / np.sqrt(d)


def park_random_transform(d: int, seed: int = PARK_RANDOM_SEED) -> np.ndarray:
    """Park et al.'s "random M" (``random_park``): rows x map to x @ |N(0, 1)|_(d, d).

    Follows KihoPark/linear_rep_geometry ``2_heatmap.ipynb`` cell 1: ``torch.manual_seed(100)``,
    ``another_g = concept_gamma @ torch.abs(torch.randn(d, d))`` (float32, CPU generator).
    Its entries are all positive, so every direction gains a large shared component: cosines
    are large by construction, which is the point of Park's third panel. Returns T (d, d)
    float32 with T x = x @ A, i.e. T = A^T.
    """
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    return torch.abs(torch.randn(d, d, generator=gen)).numpy().T


def offdiag(matrix: np.ndarray) -> np.ndarray:
    """Entries off the diagonal of a square matrix, flattened."""
    matrix = np.asarray(matrix)
    return matrix[~np.eye(matrix.shape[0], dtype=bool)]


def upper_pairs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, value) for i < j of a square matrix."""
    i, j = np.triu_indices(np.asarray(matrix).shape[0], k=1)
    return i, j, np.asarray(matrix)[i, j]
