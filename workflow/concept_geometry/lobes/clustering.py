"""Spectral clustering of an affinity matrix into k lobes (Li et al. 2024, Sec. 4).

Two routes of the same algorithm (normalised spectral clustering + k-means), by size:

- ``dense``: sklearn ``SpectralClustering(affinity="precomputed", random_state=seed,
  assign_labels="kmeans")`` on the full (F, F) affinity: the labels of one call per k, as
  the paper's code makes them (feature-geometry
  ``brain/experiments/all-occurrences0/cluster.py``, ``cluster_phi.py``,
  ``cluster_smc.py``, ``cluster_ang.py``: ``perform_spectral_clustering``; n_init and every
  other argument at sklearn's default), with the k-independent Laplacian and LU
  factorisation computed once. Memory ~ 3-4 F^2 float64 (affinity, Laplacian, LU of
  ARPACK's shift-invert); the faithful variant always takes this route.
- ``sparse``: for large F (e.g. Gemma Scope's 16k features: a dense LU is ~2 GiB and
  minutes per k), keep each feature's ``n_neighbors`` largest affinities (symmetrised by
  max: a k-nearest-neighbour graph), compute the normalised-Laplacian spectral embedding
  once with ``max(ks)`` components (ARPACK on the sparse normalised adjacency, matrix-vector
  products only), and run k-means on its first k columns for each k. The first k
  eigenvectors are what ``SpectralClustering(n_clusters=k)`` itself uses, so only the
  sparsification changes the result.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .affinity import affinity_blocks


@dataclass
class LobeLabels:
    """Lobe labels of the active features for every k: labels[k] is (n_active,) int."""

    labels: dict[int, np.ndarray]
    method: str


def _kmeans_labels(maps: np.ndarray, k: int, seed: int, n_init: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit_predict(maps[:, :k])


# sklearn's spectral embedding (``manifold/_spectral_embedding.py``, arpack solver) looks for
# the Laplacian's smallest eigenvalues in shift-invert mode around this shift.
ARPACK_SHIFT = -1e-5


def spectral_lobes_dense(
    affinity: np.ndarray, ks: list[int], seed: int, n_init: int | None = None
) -> dict[int, np.ndarray]:
    """sklearn ``SpectralClustering`` on a dense precomputed affinity (F, F), for every k.

    The labels are those of ``SpectralClustering(n_clusters=k, affinity="precomputed",
    assign_labels="kmeans", random_state=seed)``, called once per k (the official
    ``perform_spectral_clustering``), bit for bit (``tests/test_lobes.py`` compares them).
    That call repeats, for every k, steps that do not depend on k: the symmetry check, the
    normalised Laplacian and the LU factorisation of ``L - ARPACK_SHIFT * I`` that scipy's
    ``eigsh`` builds for shift-invert mode (O(F^3): 3 of the 3.5 minutes of one k = 64 call
    at 16k features). Here they run once, with the same sklearn and scipy functions
    (sklearn 1.9 ``SpectralClustering.fit`` -> ``_spectral_embedding``, scipy
    ``arpack.get_OPinv_matvec`` -> ``LuInv``), and the factorisation is handed to ``eigsh``
    as ``OPinv``, the operator it would have built. Per k remain the ARPACK iteration (fresh
    ``RandomState(seed)``: its start vector, then k-means with the same generator) and
    k-means. If ARPACK fails, sklearn falls back to LOBPCG; that k is then left to
    ``SpectralClustering`` itself.

    ``n_init=None`` leaves sklearn's default (10), as the official call does.
    """
    from scipy.linalg import lu_factor, lu_solve
    from scipy.sparse.linalg import LinearOperator, eigsh
    from sklearn.cluster import SpectralClustering, k_means
    from sklearn.utils import check_random_state, check_symmetric
    from sklearn.utils.extmath import _deterministic_vector_sign_flip
    from sklearn.utils.fixes import laplacian as csgraph_laplacian

    n_init = SpectralClustering().n_init if n_init is None else int(n_init)
    adjacency = check_symmetric(np.asarray(affinity, dtype=np.float64))
    n = adjacency.shape[0]
    laplacian, dd = csgraph_laplacian(adjacency, normed=True, return_diag=True)
    laplacian.flat[:: n + 1] = 1.0  # sklearn's _set_diag for the normalised Laplacian
    shifted = np.copy(laplacian)
    shifted.flat[:: n + 1] -= ARPACK_SHIFT
    lu = lu_factor(shifted)
    del shifted
    inverse = LinearOperator(
        laplacian.shape, matvec=lambda x: lu_solve(lu, x), dtype=laplacian.dtype
    )
    out = {}
    for k in ks:
        k = int(k)
        random_state = check_random_state(seed)
        v0 = random_state.uniform(-1, 1, n)  # sklearn's _init_arpack_v0
        try:
            _, vectors = eigsh(
                laplacian, k=k, sigma=ARPACK_SHIFT, which="LM", tol=0, v0=v0, OPinv=inverse
            )
        except RuntimeError:  # sklearn's own fallback (LOBPCG) decides this k
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Graph is not fully connected")
                model = SpectralClustering(
                    n_clusters=k,
                    affinity="precomputed",
                    assign_labels="kmeans",
                    random_state=seed,
                    n_init=n_init,
                )
                out[k] = model.fit_predict(affinity).astype(np.int64)
            continue
        embedding = _deterministic_vector_sign_flip(vectors.T[:k] / dd)
        _, labels, _ = k_means(embedding[:k].T, k, random_state=random_state, n_init=n_init)
        out[k] = labels.astype(np.int64)
    return out


def knn_sparsify_blocks(blocks, n_features: int, n_neighbors: int) -> sp.csr_matrix:
    """Symmetric kNN graph from (row slice, (r, F) affinity) blocks.

    Keeps, per row, the ``n_neighbors`` largest off-diagonal affinities (ties broken by
    index), then symmetrises with the element-wise maximum. Returns CSR (F, F).
    """
    m = min(int(n_neighbors), n_features - 1)
    rows_all, cols_all, vals_all = [], [], []
    for rows, block in blocks:
        block = np.array(block, dtype=np.float64, copy=True)
        idx = np.arange(rows.start, rows.stop)
        block[np.arange(len(idx)), idx] = -np.inf  # self-loops carry no information
        top = np.argpartition(-block, m - 1, axis=1)[:, :m]
        vals = np.take_along_axis(block, top, axis=1)
        rows_all.append(np.repeat(idx, m))
        cols_all.append(top.ravel())
        vals_all.append(vals.ravel())
    graph = sp.csr_matrix(
        (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(n_features, n_features),
    )
    graph.data = np.maximum(graph.data, 0.0)
    graph = graph.maximum(graph.T).tocsr()
    graph.eliminate_zeros()
    return graph


def spectral_embedding_sparse(graph: sp.spmatrix, n_components: int, seed: int) -> np.ndarray:
    """Normalised-Laplacian spectral embedding of a sparse affinity graph (F, F) -> (F, n).

    The smallest eigenvectors of L = I - D^-1/2 A D^-1/2 are the largest of
    M = D^-1/2 A D^-1/2, found by ARPACK with matrix-vector products only (no shift-invert
    factorisation, whose fill-in on a 16k kNN graph can approach a dense matrix); rows are
    then scaled by D^-1/2 as sklearn's ``spectral_embedding`` does.
    """
    from scipy.sparse.linalg import eigsh

    graph = sp.csr_matrix(graph, dtype=np.float64)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree, np.finfo(float).tiny))
    m = sp.diags(inv_sqrt) @ graph @ sp.diags(inv_sqrt)
    v0 = np.random.default_rng(seed).uniform(-1, 1, graph.shape[0])
    vals, vecs = eigsh(
        m, k=n_components, which="LA", v0=v0, tol=1e-8, maxiter=max(1000, 20 * graph.shape[0])
    )
    order = np.argsort(-vals)
    return vecs[:, order] * inv_sqrt[:, None]


def spectral_lobes_sparse(
    graph: sp.spmatrix, ks: list[int], seed: int, *, n_init: int
) -> dict[int, np.ndarray]:
    """Spectral embedding of a sparse affinity graph (once, max(ks) components) + k-means per k."""
    maps = spectral_embedding_sparse(graph, int(max(ks)), seed)
    return {int(k): _kmeans_labels(maps, int(k), seed, n_init).astype(np.int64) for k in ks}


def cluster_measure(
    measure: str,
    ks: list[int],
    seed: int,
    *,
    method: str = "auto",
    dense_max_features: int = 4096,
    n_neighbors: int = 64,
    n_init: int | None = 10,
    counts=None,
    occurrences=None,
    n_chunks=None,
    decoder=None,
    shift_phi: bool = True,
    official_int64: bool = False,
    block: int = 2048,
) -> LobeLabels:
    """Lobes of one affinity (a co-occurrence measure or 'geometric') for every k in ``ks``.

    Pass counts (F, F), occurrences (F,), n_chunks for a co-occurrence measure, or decoder
    (F, d) for 'geometric' -- restricted to the features to cluster.
    ``method``: 'dense', 'sparse' or 'auto' (dense when F <= dense_max_features).
    ``n_init``: k-means restarts (None: sklearn's default; the dense route only, the
    sparse route needs a number).
    """
    n = np.asarray(occurrences).shape[0] if decoder is None else np.asarray(decoder).shape[0]
    if method == "auto":
        method = "dense" if n <= dense_max_features else "sparse"
    blocks = affinity_blocks(
        measure,
        counts=counts,
        occurrences=occurrences,
        n_chunks=n_chunks,
        decoder=decoder,
        shift_phi=shift_phi,
        official_int64=official_int64,
        block=block,
    )
    if method == "dense":
        affinity = np.empty((n, n), dtype=np.float64)
        for rows, values in blocks:
            affinity[rows] = values
        np.maximum(affinity, 0.0, out=affinity)  # only unshifted phi can be negative
        return LobeLabels(spectral_lobes_dense(affinity, ks, seed, n_init), "dense")
    if method == "sparse":
        graph = knn_sparsify_blocks(blocks, n, n_neighbors)
        return LobeLabels(spectral_lobes_sparse(graph, ks, seed, n_init=n_init), "sparse")
    raise ValueError(f"unknown clustering method {method!r}")
