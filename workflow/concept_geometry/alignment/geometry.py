"""Concept directions, inner products and the alignment/orthogonality checks (spec §3).

Jiang et al. 2024 §5 (after Park et al. 2023): the direction of concept c in a matrix M
(input embedding or unembedding, rows = tokens) is the normalised mean of
M[target] - M[base] over the concept's kept word pairs. The theory predicts that the
embedding-space and unembedding-space directions of the same concept align (diagonal of
the concept x concept cosine matrix) and that different concepts are nearly orthogonal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPACES = ("embedding", "unembedding")
INNER_PRODUCTS = ("euclidean", "causal", "random")


def concept_directions(matrix: np.ndarray, base_ids: np.ndarray, target_ids: np.ndarray,
                       concept_index: np.ndarray, n_concepts: int) -> np.ndarray:
    """Normalised mean difference per concept.

    matrix: (vocab, d). base_ids, target_ids, concept_index: (n_pairs,) ints, concept_index
    in [0, n_concepts). Returns (n_concepts, d) float64 unit rows; a concept without pairs
    (or with a zero mean difference) gets a row of NaN.
    """
    matrix = np.asarray(matrix)
    diffs = matrix[np.asarray(target_ids)].astype(np.float64) - matrix[np.asarray(base_ids)]
    sums = np.zeros((n_concepts, matrix.shape[1]), dtype=np.float64)
    np.add.at(sums, np.asarray(concept_index), diffs)
    counts = np.bincount(np.asarray(concept_index), minlength=n_concepts).astype(np.float64)
    norms = np.linalg.norm(sums, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / norms[:, None]
    out[(counts == 0) | (norms == 0)] = np.nan
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


def causal_transform(unembedding: np.ndarray, ridge: float = 0.0, rcond: float = 1e-10,
                     dual: bool = False) -> np.ndarray:
    """Park et al.'s causal inner product <x, y>_C = x^T Cov(γ)^{-1} y, as T = Cov(γ)^{-1/2}.

    unembedding: (vocab, d), rows γ(y); centred before the covariance. ``ridge`` adds
    ridge * mean eigenvalue to every eigenvalue; eigenvalues below rcond * max are dropped
    (pseudo-inverse), which is what happens when vocab < d: concept directions, being
    differences of rows, lie in the row span, where the pseudo-inverse is exact.
    dual: the inner product it induces on the embedding (context) side instead,
    <x, y> = x^T Cov(γ) y, T = Cov(γ)^{1/2} (Park et al.'s l(x) = Cov(γ)^{1/2} λ(x)).
    Returns T: (d, d) symmetric.
    """
    gamma = np.asarray(unembedding, dtype=np.float64)
    centred = gamma - gamma.mean(axis=0, keepdims=True)
    cov = centred.T @ centred / gamma.shape[0]
    eig, vec = np.linalg.eigh(cov)
    eig = np.clip(eig, 0.0, None)
    eig = eig + ridge * eig.mean()
    keep = eig > rcond * eig.max()
    scale = np.zeros_like(eig)
    scale[keep] = np.sqrt(eig[keep]) if dual else 1.0 / np.sqrt(eig[keep])
    return (vec * scale) @ vec.T


def random_transform(d: int, rng: np.random.Generator) -> np.ndarray:
    """A random inner product <x, y> = x^T A^T A y, A (d, d) standard normal / sqrt(d)."""
    return rng.standard_normal((d, d)) / np.sqrt(d)


def offdiag(matrix: np.ndarray) -> np.ndarray:
    """Entries off the diagonal of a square matrix, flattened."""
    matrix = np.asarray(matrix)
    return matrix[~np.eye(matrix.shape[0], dtype=bool)]


def upper_pairs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, value) for i < j of a square matrix."""
    i, j = np.triu_indices(np.asarray(matrix).shape[0], k=1)
    return i, j, np.asarray(matrix)[i, j]


def random_pair_alignment(embedding: np.ndarray, unembedding: np.ndarray, candidates: np.ndarray,
                          pair_counts: np.ndarray, draws: int,
                          rng: np.random.Generator) -> np.ndarray:
    """Baseline: cos(embedding dir, unembedding dir) of pseudo-concepts of random token pairs.

    For each real concept with n kept pairs, ``draws`` pseudo-concepts of n pairs of distinct
    tokens drawn uniformly from ``candidates`` (token ids). Returns (len(pair_counts) * draws,)
    cosines (signed).
    """
    if len(np.unique(candidates)) < 2:
        raise ValueError("random_pair_alignment needs at least two distinct candidate tokens")
    sizes = np.repeat(np.asarray(pair_counts, dtype=np.int64), draws)
    sizes = sizes[sizes > 0]
    total = int(sizes.sum())
    base = rng.choice(candidates, size=total)
    target = rng.choice(candidates, size=total)
    clash = base == target
    while clash.any():
        target[clash] = rng.choice(candidates, size=int(clash.sum()))
        clash = base == target
    index = np.repeat(np.arange(sizes.size), sizes)
    e = concept_directions(embedding, base, target, index, sizes.size)
    u = concept_directions(unembedding, base, target, index, sizes.size)
    return np.einsum("kd,kd->k", e, u)


@dataclass
class AlignmentResult:
    """Outputs of ``analyse``.

    concepts: names of the concepts with >= 1 kept pair (k of them), in order.
    directions: {space: (k, d)} unit directions.
    alignment: (k, k) cos(embedding dir i, unembedding dir j); None when tied.
    orthogonality: {(space, inner_product): (k, k)} cosines within a space.
    random_pairs: (n,) embedding-vs-unembedding cosines of random-pair pseudo-concepts.
    """

    concepts: list[str]
    directions: dict
    alignment: np.ndarray | None
    orthogonality: dict
    random_pairs: np.ndarray


def analyse(embedding: np.ndarray, unembedding: np.ndarray, tied: bool, pairs,
            candidates: np.ndarray, seed_rng: np.random.Generator, ridge: float = 0.0,
            random_pair_draws: int = 10) -> AlignmentResult:
    """All of spec §3 for one model.

    embedding, unembedding: (vocab, d); pairs: the filter's frame (``kept`` rows used);
    candidates: token ids for the random-pair baseline. ``seed_rng`` draws the random inner
    product and the random pairs (in that order).
    """
    kept = pairs[pairs["kept"]]
    concepts = list(dict.fromkeys(kept["concept"]))
    index = kept["concept"].map({c: i for i, c in enumerate(concepts)}).to_numpy()
    b, t = kept["base_id"].to_numpy(), kept["target_id"].to_numpy()
    k = len(concepts)
    directions = {"embedding": concept_directions(embedding, b, t, index, k),
                  "unembedding": concept_directions(unembedding, b, t, index, k)}
    d = embedding.shape[1]
    random = random_transform(d, seed_rng)
    # Causal inner product: Cov(γ)^-1 on the unembedding side (Park et al.); on the embedding
    # (context) side the inner product it induces by duality, Cov(γ).
    transforms = {("unembedding", "causal"): causal_transform(unembedding, ridge),
                  ("embedding", "causal"): causal_transform(unembedding, ridge, dual=True)}
    orthogonality = {(s, ip): cosine_matrix(directions[s], directions[s],
                                            {"euclidean": None, "random": random}.get(ip)
                                            if ip != "causal" else transforms[(s, ip)])
                     for s in SPACES for ip in INNER_PRODUCTS}
    alignment = None if tied else cosine_matrix(directions["embedding"], directions["unembedding"])
    counts = np.bincount(index, minlength=k)
    # With tied matrices every pair aligns trivially: no baseline either.
    random_pairs = (np.empty(0) if tied else random_pair_alignment(
        embedding, unembedding, candidates, counts, random_pair_draws, seed_rng))
    return AlignmentResult(concepts, directions, alignment, orthogonality, random_pairs)


def _mean(x) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()) if x.size else None


def _median(x) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    return float(np.median(x)) if x.size else None


def alignment_table(result: AlignmentResult):
    """Long table (concept_embedding, concept_unembedding, cos); empty when tied."""
    import pandas as pd

    cols = ["concept_embedding", "concept_unembedding", "cos"]
    if result.alignment is None:
        return pd.DataFrame(columns=cols)
    k = len(result.concepts)
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    names = np.asarray(result.concepts, dtype=object)
    return pd.DataFrame({cols[0]: names[i.ravel()], cols[1]: names[j.ravel()],
                         cols[2]: result.alignment.ravel()})


def orthogonality_table(result: AlignmentResult):
    """Long table (space, inner_product, concept_i, concept_j, abs_cos) over i < j."""
    import pandas as pd

    names = np.asarray(result.concepts, dtype=object)
    frames = []
    for (space, ip), cos in result.orthogonality.items():
        i, j, v = upper_pairs(cos)
        frames.append(pd.DataFrame({"space": space, "inner_product": ip, "concept_i": names[i],
                                    "concept_j": names[j], "abs_cos": np.abs(v)}))
    return pd.concat(frames, ignore_index=True)


TIED_NOTE = ("tied input/output embeddings: the embedding-vs-unembedding alignment is "
             "trivially perfect and not reported")


def summarise(result: AlignmentResult, pairs, tied: bool, **extra) -> dict:
    """summary.json: pair counts, diag/off-diagonal alignment, orthogonality per space and
    inner product (mean and median |cos| over i < j), random-pair baseline."""
    kept = pairs[pairs["kept"]]
    all_concepts = list(dict.fromkeys(pairs["concept"]))
    out = {
        "n_pairs_total": int(len(pairs)),
        "n_pairs_kept": int(len(kept)),
        "n_concepts": len(all_concepts),
        "n_concepts_used": len(result.concepts),
        "concepts_without_pairs": [c for c in all_concepts if c not in result.concepts],
        "pairs_kept_per_concept": {c: int(n) for c, n in kept["concept"].value_counts(sort=False).items()},
        "drop_reasons": {r: int(n) for r, n in pairs.loc[~pairs["kept"], "reason"].value_counts().items()},
        "tied": bool(tied),
        "diag_mean": None, "offdiag_mean_abs": None, "diag_min": None,
        "random_pairs_mean_abs": _mean(np.abs(result.random_pairs)),
        "orth_mean_abs": {s: {} for s in SPACES},
        "orth_median_abs": {s: {} for s in SPACES},
        "note": TIED_NOTE if tied else "",
    }
    if result.alignment is not None:
        out["diag_mean"] = _mean(np.diag(result.alignment))
        out["diag_min"] = float(np.diag(result.alignment).min()) if len(result.concepts) else None
        out["offdiag_mean_abs"] = _mean(np.abs(offdiag(result.alignment)))
    for (space, ip), cos in result.orthogonality.items():
        v = np.abs(upper_pairs(cos)[2])
        out["orth_mean_abs"][space][ip] = _mean(v)
        out["orth_median_abs"][space][ip] = _median(v)
    out.update(extra)
    return out


def summary_rows(model: str, summary: dict) -> list[dict]:
    """Headline rows for results/summary/alignment.tsv (stage, quantity, setting, model, value)."""
    rows = [dict(quantity=q, setting="", value=summary[q]) for q in
            ("n_pairs_kept", "tied", "diag_mean", "offdiag_mean_abs", "random_pairs_mean_abs")]
    rows[1]["value"] = int(bool(summary["tied"]))
    for stat in ("orth_mean_abs", "orth_median_abs"):
        for space in SPACES:
            for ip in INNER_PRODUCTS:
                rows.append(dict(quantity=stat, setting=f"space={space},inner_product={ip}",
                                 value=summary[stat][space].get(ip)))
    for key in ("toy_kl_to_exact", "toy_final_loss"):
        if summary.get(key) is not None:
            rows.append(dict(quantity=key, setting="", value=summary[key]))
    return [dict(stage="alignment", quantity=r["quantity"], setting=r["setting"], model=model,
                 value=(np.nan if r["value"] is None else float(r["value"]))) for r in rows]
