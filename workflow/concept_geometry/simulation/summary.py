"""Helpers of the simulation study's headline numbers (stage=simulation; the quantities
themselves are declared in :mod:`.quantities`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MODEL = "latent-concept-model"
COLUMNS = ["stage", "quantity", "setting", "model", "value"]
COSINES = ["steering_cos", "embedding_cos", "alignment_cos"]
MIN_COVERAGE = 0.5  # a mean over fewer than this fraction of the concept cells is flagged

__all__ = ["MODEL", "COLUMNS", "COSINES", "MIN_COVERAGE", "coverage"]


def coverage(group: pd.DataFrame, metric: str) -> tuple[int, int]:
    """(measured, total) concept × seed cells of one setting for ``metric``: a concept left
    with fewer than 2 vectors (e.g. its steering pairs dropped from Ĉ) has a NaN cosine and
    is not in the mean."""
    return int(np.isfinite(group[metric].to_numpy(dtype=float)).sum()), len(group)
