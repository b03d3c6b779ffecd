"""Lobe specialisation (Li et al. 2024, Sec. 4, Figs. 4-5).

For every document chunk, each lobe's score is the fraction of its features that fired
anywhere in the chunk; the lobe with the highest score wins the chunk (ties: lowest lobe
index). Per document category, the fraction of its chunks won by each lobe.

``faithful`` follows the official loop (feature-geometry
``brain/notebooks/clusters4 (lobe functions).ipynb``, cell 16): the chunks of the first
10,000 documents (``lobes.specialization.max_documents``) of the histogram documents -- the
same documents whose co-occurrences made the lobes: in-sample --, every feature counted in
its lobe's size, and a chunk where no feature fired won by lobe 0 (Python's ``max`` over a
dict of equal scores returns its first key). ``corrected`` scores the lobes on documents
they were not fitted on (all held-out documents) and leaves chunks where no analysed
feature fired out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

SPLIT_OF_VARIANT = {"faithful": "histogram", "corrected": "heldout"}


def chunk_winners(
    firings: sp.spmatrix, lobes: np.ndarray, k: int, unscored: int = -1
) -> np.ndarray:
    """Winning lobe of each chunk.

    firings: (n_chunks, F) binary; lobes: (F,) labels in [0, k), or -1 for features not
    analysed (ignored). Returns (n_chunks,) int; ``unscored`` where no analysed feature fired
    (-1: left out; the faithful variant passes 0, the official loop's winner).
    """
    lobes = np.asarray(lobes)
    keep = lobes >= 0
    onehot = sp.csr_matrix(
        (np.ones(keep.sum()), (np.flatnonzero(keep), lobes[keep])), shape=(lobes.shape[0], k)
    )
    fired = (sp.csr_matrix(firings, dtype=np.float64) @ onehot).toarray()  # (n_chunks, k)
    sizes = np.bincount(lobes[keep], minlength=k).astype(np.float64)
    frac = fired / np.maximum(sizes, 1.0)  # an empty lobe: nothing fired in it, 0 / 1 = 0
    winners = frac.argmax(axis=1)
    winners[fired.sum(axis=1) == 0] = unscored
    return winners


def first_documents(doc_ids: np.ndarray, max_documents: int | None) -> np.ndarray:
    """The first ``max_documents`` of ``doc_ids`` in corpus order (ascending id); all if None."""
    ids = np.unique(np.asarray(doc_ids))
    return ids if max_documents is None else ids[: int(max_documents)]


def category_histogram(winners: np.ndarray, category: np.ndarray, k: int) -> pd.DataFrame:
    """Fraction of each category's (scored) chunks won by each lobe.

    Returns columns category, lobe, fraction, n_chunks (one row per category and lobe).
    """
    rows = []
    winners = np.asarray(winners)
    category = np.asarray(category).astype(str)
    for cat in sorted(np.unique(category)):
        w = winners[(category == cat) & (winners >= 0)]
        counts = np.bincount(w, minlength=k).astype(np.float64)
        total = counts.sum()
        for lobe in range(k):
            rows.append((cat, lobe, counts[lobe] / total if total else np.nan, int(total)))
    return pd.DataFrame(rows, columns=["category", "lobe", "fraction", "n_chunks"])


@dataclass
class CodeLobe:
    """Which lobe wins code chunks vs the other chunks."""

    code_lobe: int  # lobe winning most chunks of the code categories
    other_lobe: int  # lobe winning most chunks of the other categories
    code_share: float  # fraction of code chunks won by code_lobe
    other_share_in_code_lobe: float  # fraction of other chunks won by code_lobe
    found: bool  # code_lobe != other_lobe


def find_code_lobe(
    winners: np.ndarray,
    category: np.ndarray,
    code_categories: list[str],
    other_categories: list[str] | None,
    k: int,
) -> CodeLobe | None:
    """A code lobe exists when the lobe winning most code chunks differs from the lobe
    winning most chunks of the other categories (all non-code ones when None).

    Returns None when either group has no scored chunk (cannot be decided).
    """
    category = np.asarray(category).astype(str)
    is_code = np.isin(category, list(code_categories))
    is_other = (
        np.isin(category, list(other_categories)) if other_categories is not None else ~is_code
    )
    wc = winners[is_code & (winners >= 0)]
    wo = winners[is_other & (winners >= 0)]
    if wc.size == 0 or wo.size == 0:
        return None
    hc = np.bincount(wc, minlength=k) / wc.size
    ho = np.bincount(wo, minlength=k) / wo.size
    code_lobe, other_lobe = int(hc.argmax()), int(ho.argmax())
    return CodeLobe(
        code_lobe, other_lobe, float(hc[code_lobe]), float(ho[code_lobe]), code_lobe != other_lobe
    )
