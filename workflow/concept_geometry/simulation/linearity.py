"""What one trained setting is scored on: how linear its concepts are (steering cosines and the
spread of concept log-odds over contexts), from the fitted embeddings and unembeddings."""

from __future__ import annotations

import numpy as np

from . import dag as dagmod
from .metrics import (
    cosine,
    embedding_differences,
    mean_pairwise_cosine,
    steering_vectors,
)
from .model import (
    concept_log_odds,
)

REL_SD_FLOOR = 0.1  # sd / max(|mean|, floor): log-odds near 0 do not blow the ratio up


def linearity_metrics(
    f: np.ndarray,
    g: np.ndarray,
    contexts: np.ndarray,
    m: int,
    kept_outputs: np.ndarray | None = None,
) -> dict:
    """All metrics of one trained model.

    f: (n_ctx, d) for ``contexts`` (n_ctx, m); g: (2**m, d) by output token; kept_outputs:
    (2**m,) bool (Ĉ). Returns per-concept arrays (m,) ``steering_cos``, ``embedding_cos``,
    ``alignment_cos``, counts ``n_steering``, ``n_embedding``, and the mean directions
    ``unembedding_dirs``/``embedding_dirs`` (m, d).
    """
    d = g.shape[1]
    out = {k: np.full(m, np.nan) for k in ("steering_cos", "embedding_cos", "alignment_cos")}
    out["n_steering"] = np.zeros(m, dtype=np.int64)
    out["n_embedding"] = np.zeros(m, dtype=np.int64)
    out["unembedding_dirs"] = np.full((m, d), np.nan)
    out["embedding_dirs"] = np.full((m, d), np.nan)
    for i in range(m):
        sv = steering_vectors(g, m, i, kept_outputs)
        ed = embedding_differences(f, contexts, i)
        out["n_steering"][i], out["n_embedding"][i] = len(sv), len(ed)
        out["steering_cos"][i] = mean_pairwise_cosine(sv)
        out["embedding_cos"][i] = mean_pairwise_cosine(ed)
        if len(sv):
            out["unembedding_dirs"][i] = sv.mean(axis=0)
        if len(ed):
            out["embedding_dirs"][i] = ed.mean(axis=0)
        out["alignment_cos"][i] = cosine(out["embedding_dirs"][i], out["unembedding_dirs"][i])
    return out


def log_odds_spread(
    f: np.ndarray, g_kept: np.ndarray, out_idx: np.ndarray, contexts: np.ndarray, m: int
) -> dict:
    """Spread of the model's log-odds of each concept across the contexts where it is unknown.

    f: (n_ctx, d) for ``contexts`` (n_ctx, m); g_kept: (len(out_idx), d) for the output tokens
    ``out_idx`` the softmax runs over. Per concept i (arrays (m,)): ``logodds_mean``,
    ``logodds_var`` (population variance) and ``logodds_rel_sd`` = sd / max(|mean|,
    REL_SD_FLOOR) of log P̂(C_i=1|x) − log P̂(C_i=0|x) over the contexts x with C_i unknown
    (where C_i is known the target log-odds is ±∞), plus ``n_logodds_contexts``. NaN where
    no such context remains or the outputs lack one value of C_i. Jiang et al. §3: constant
    log-odds (zero spread) makes the steering vectors of i parallel.
    """
    cv = dagmod.concept_vectors(m)[out_idx]
    out = {k: np.full(m, np.nan) for k in ("logodds_mean", "logodds_var", "logodds_rel_sd")}
    out["n_logodds_contexts"] = np.zeros(m, dtype=np.int64)
    for i in range(m):
        unknown = contexts[:, i] == dagmod.UNKNOWN
        bits = cv[:, i]
        out["n_logodds_contexts"][i] = int(unknown.sum())
        if not unknown.any() or bits.all() or not bits.any():
            continue
        lo = concept_log_odds(f[unknown], g_kept, bits)
        mean, var = float(lo.mean()), float(lo.var())
        out["logodds_mean"][i], out["logodds_var"][i] = mean, var
        out["logodds_rel_sd"][i] = np.sqrt(var) / max(abs(mean), REL_SD_FLOOR)
    return out


def _nanmean(values) -> float:
    """Mean over the measured entries; NaN (without a warning) when none is measured."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("nan")
