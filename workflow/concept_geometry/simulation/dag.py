"""The latent conditional model of Jiang et al. 2024 (§1 of the spec, paper §2 and §5.1).

m binary latent concepts C = (C_0..C_{m-1}) follow a Bayesian network (a random DAG with
Bernoulli conditionals). Every full concept vector c in {0,1}^m is one output token y, and a
context x is a partial assignment in {0,1,⋄}^m (⋄ = unknown, stored as -1). The exact
next-token law is p(y | x) = p(c | c_core(x)), obtained here by brute-force enumeration of
the 2^m joint states, which is exact and cheap for the m this study uses (the config
allows m ≤ 10: 3^m contexts × 2^m outputs).

Conventions (relied upon by other stages, keep them stable):
- Topological order is index order: every parent of node i has an index < i.
- ``cpts[i][k] = P(C_i = 1 | parents(i) in configuration k)``, k the parent values read as a
  binary number with the first listed parent as the most significant bit.
- Output token y <-> concept vector ``concept_vectors(m)[y]``: the binary expansion of y,
  column 0 (concept 0) the most significant bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN = -1  # the ⋄ symbol in a context

__all__ = [
    "UNKNOWN",
    "Dag",
    "random_dag",
    "concept_vectors",
    "joint_distribution",
    "all_contexts",
    "conditionals",
    "independence_matrix",
    "ancestors",
    "graph_independence",
]


@dataclass
class Dag:
    """A Bayesian network over m binary concepts (topological order = index order).

    m: number of concepts.
    parents: parents[i] is the sorted tuple of parent indices of node i (all < i).
    cpts: cpts[i] has shape (2**len(parents[i]),); cpts[i][k] = P(C_i = 1 | parent config k),
        k the parent values as a binary number, first parent = most significant bit.
    """

    m: int
    parents: list[tuple[int, ...]]
    cpts: list[np.ndarray]

    def __post_init__(self) -> None:
        if len(self.parents) != self.m or len(self.cpts) != self.m:
            raise ValueError(
                f"Dag needs {self.m} parent tuples and cpts, got "
                f"{len(self.parents)} and {len(self.cpts)}"
            )
        for i, (pa, cpt) in enumerate(zip(self.parents, self.cpts, strict=False)):
            if any(p >= i or p < 0 for p in pa):
                raise ValueError(f"node {i}: parents {pa} break index-order topology")
            if np.shape(cpt) != (2 ** len(pa),):
                raise ValueError(f"node {i}: cpt shape {np.shape(cpt)} != ({2 ** len(pa)},)")


def random_dag(
    m: int, edge_prob: float, rng: np.random.Generator, low: float = 0.3, high: float = 0.7
) -> Dag:
    """A random DAG: each edge j -> i (j < i) present with probability ``edge_prob``.

    Each node gets one Bernoulli parameter per parent configuration, drawn from
    U[low, high] (the paper uses [0.3, 0.7], §5.1).
    """
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    parents: list[tuple[int, ...]] = []
    cpts: list[np.ndarray] = []
    for i in range(m):
        edges = rng.random(i) < edge_prob
        pa = tuple(int(j) for j in np.flatnonzero(edges))
        parents.append(pa)
        cpts.append(rng.uniform(low, high, size=2 ** len(pa)).astype(np.float64))
    return Dag(m=m, parents=parents, cpts=cpts)


def concept_vectors(m: int) -> np.ndarray:
    """All concept vectors, shape (2**m, m) int8; row y is y in binary (column 0 = MSB)."""
    y = np.arange(2**m, dtype=np.int64)
    shifts = np.arange(m - 1, -1, -1, dtype=np.int64)
    return ((y[:, None] >> shifts[None, :]) & 1).astype(np.int8)


def joint_distribution(dag: Dag) -> np.ndarray:
    """The exact joint P(C = c) for every c, shape (2**m,) float64 (index = output token y)."""
    cv = concept_vectors(dag.m).astype(np.int64)
    p = np.ones(2**dag.m, dtype=np.float64)
    for i, (pa, cpt) in enumerate(zip(dag.parents, dag.cpts, strict=False)):
        k = np.zeros(2**dag.m, dtype=np.int64)
        for parent in pa:  # first parent ends up most significant
            k = (k << 1) | cv[:, parent]
        p1 = np.asarray(cpt, dtype=np.float64)[k]
        p *= np.where(cv[:, i] == 1, p1, 1.0 - p1)
    return p


def all_contexts(m: int) -> np.ndarray:
    """Every partial assignment, shape (3**m, m) int8: 0/1 known, -1 (⋄) unknown.

    Row n is n written in base 3 (column 0 most significant) with digits 0, 1, 2 mapped to
    ⋄, 0, 1; so row 0 is the all-unknown context.
    """
    n = np.arange(3**m, dtype=np.int64)
    powers = 3 ** np.arange(m - 1, -1, -1, dtype=np.int64)
    digits = (n[:, None] // powers[None, :]) % 3
    return (digits - 1).astype(np.int8)


def consistent_mask(contexts: np.ndarray, m: int) -> np.ndarray:
    """Boolean (n_contexts, 2**m): output y agrees with every known concept of context x."""
    contexts = np.asarray(contexts)
    cv = concept_vectors(m)
    mask = np.ones((contexts.shape[0], 2**m), dtype=bool)
    for i in range(m):
        ci = contexts[:, i][:, None]
        mask &= (ci == UNKNOWN) | (ci == cv[None, :, i])
    return mask


def conditionals(joint: np.ndarray, contexts: np.ndarray, m: int) -> np.ndarray:
    """Exact p(y | x) = p(c | c_core(x)), shape (n_contexts, 2**m) float64, rows sum to 1.

    joint: (2**m,) the joint law of the concepts. contexts: (n_contexts, m) in {-1, 0, 1}.
    Raises ValueError for a context of probability zero (cannot happen with the paper's
    parameters in (0, 1)).
    """
    joint = np.asarray(joint, dtype=np.float64)
    p = consistent_mask(contexts, m) * joint[None, :]
    z = p.sum(axis=1, keepdims=True)
    if np.any(z <= 0):
        raise ValueError("a context has probability zero under the joint law")
    return p / z


def _pair_marginals(joint: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    cv = concept_vectors(m).astype(np.float64)
    p1 = joint @ cv  # P(C_i = 1), (m,)
    p11 = cv.T @ (joint[:, None] * cv)  # P(C_i = 1, C_j = 1), (m, m)
    return p1, p11


def independence_matrix(joint: np.ndarray, m: int, tol: float = 1e-9) -> np.ndarray:
    """(m, m) bool: concepts i and j are marginally independent in ``joint``.

    For binary variables, independence <=> P(C_i=1, C_j=1) = P(C_i=1) P(C_j=1). The
    diagonal is False (a non-degenerate concept is not independent of itself).
    """
    p1, p11 = _pair_marginals(np.asarray(joint, dtype=np.float64), m)
    indep = np.abs(p11 - np.outer(p1, p1)) <= tol
    np.fill_diagonal(indep, False)
    return indep


def ancestors(dag: Dag) -> list[set[int]]:
    """ancestors(dag)[i]: the set of proper ancestors of node i."""
    anc: list[set[int]] = []
    for i in range(dag.m):
        s: set[int] = set()
        for p in dag.parents[i]:
            s.add(p)
            s |= anc[p]
        anc.append(s)
    return anc


def graph_independence(dag: Dag) -> np.ndarray:
    """(m, m) bool: i and j are d-separated given nothing (no common ancestor, neither an
    ancestor of the other). For generic CPTs this equals ``independence_matrix``."""
    anc = ancestors(dag)
    closed = [a | {i} for i, a in enumerate(anc)]
    out = np.zeros((dag.m, dag.m), dtype=bool)
    for i in range(dag.m):
        for j in range(dag.m):
            if i != j:
                out[i, j] = not (closed[i] & closed[j])
    return out
