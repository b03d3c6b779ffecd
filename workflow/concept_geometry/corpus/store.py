"""On-disk corpus: one parquet file (doc_id, category, split, text), atomic and checksummed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import io


def write_documents(path: str | Path, frame: pd.DataFrame) -> None:
    with io.atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_documents(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The corpus (all columns, or only ``columns``, e.g. without the text)."""
    io.verify(path)
    return pd.read_parquet(path, columns=columns)
