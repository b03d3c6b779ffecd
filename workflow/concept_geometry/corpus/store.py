"""The corpus frame (``COLUMNS``, built by ``_frame``) and the on-disk corpus: one parquet file
(doc_id, category, split, text), atomic and checksummed."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .. import io


def write_documents(path: str | Path, frame: pd.DataFrame) -> None:
    with io.atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_documents(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The corpus (all columns, or only ``columns``, e.g. without the text)."""
    io.verify(path)
    return pd.read_parquet(path, columns=columns)


COLUMNS = ["doc_id", "category", "text"]


def _frame(records: Iterable[tuple[str, str]]) -> pd.DataFrame:
    rows = list(records)
    frame = pd.DataFrame(rows, columns=["category", "text"])
    frame.insert(0, "doc_id", np.arange(len(frame), dtype=np.int64))
    return frame.astype({"category": str, "text": str})
