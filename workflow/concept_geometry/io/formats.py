"""File formats: ``.npz`` (with scipy sparse matrices as ``<name>__csr_*`` groups), ``.npy``,
``.tsv`` and ``.json``, each written atomically and verified once per open before it is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import CorruptArtifactError
from .checksums import verify
from .commit import atomic_path
from .pending import resolve
from .sparse import stream_sparse_rows


def write_npz(
    path: str | Path,
    producer: str | None = None,
    compressed: bool = True,
    identity: dict | None = None,
    **arrays: Any,
) -> None:
    """Write arrays (and scipy.sparse matrices, stored as CSR parts) to ``path`` atomically."""
    import scipy.sparse as sp

    flat: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if sp.issparse(value):
            csr = sp.csr_matrix(value)
            flat[f"{name}__csr_data"] = csr.data
            flat[f"{name}__csr_indices"] = csr.indices
            flat[f"{name}__csr_indptr"] = csr.indptr
            flat[f"{name}__csr_shape"] = np.asarray(csr.shape, dtype=np.int64)
        else:
            flat[name] = np.asarray(value)
    with atomic_path(path, producer, identity) as tmp:
        (np.savez_compressed if compressed else np.savez)(tmp, **flat)


class VerifiedNpz:
    """An npz written by ``write_npz`` or ``SparseRowsWriter``, verified once when opened
    (checksum, and identity against ``expect``), then read as often as needed: some arrays
    (``read``) and the sparse rows streamed (``iter_sparse_rows``) cost one checksum pass over
    the file, not one per read (a firings.npz can be large)."""

    def __init__(self, path: str | Path, expect: dict | None = None):
        verify(path, expect)
        self.path = resolve(path)

    def read(self, keys: Sequence[str] | None = None) -> dict[str, Any]:
        """The arrays; sparse groups come back as CSR. keys: load only these arrays (dense
        ones, or single parts of a sparse group such as ``<name>__csr_shape``); the rest of the
        file is never decompressed."""
        import scipy.sparse as sp

        path = self.path
        out: dict[str, Any] = {}
        with np.load(path, allow_pickle=False) as data:
            if keys is not None:
                missing = [k for k in keys if k not in data.files]
                if missing:
                    raise CorruptArtifactError(
                        f"Cached artifact {path} lacks the arrays {missing}; "
                        f"delete it and re-run snakemake to rebuild it."
                    )
                return {k: data[k] for k in keys}
            keys = list(data.keys())
            for key in keys:
                if "__csr_" in key:
                    continue
                out[key] = data[key]
            for key in keys:
                if key.endswith("__csr_shape"):
                    name = key[: -len("__csr_shape")]
                    out[name] = sp.csr_matrix(
                        (
                            data[f"{name}__csr_data"],
                            data[f"{name}__csr_indices"],
                            data[f"{name}__csr_indptr"],
                        ),
                        shape=tuple(data[key]),
                    )
        return out

    def iter_sparse_rows(
        self, name: str, rows: np.ndarray | None = None, block_rows: int = 4096
    ) -> Iterator[tuple[np.ndarray, Any]]:
        """Stream the sparse matrix ``name`` in blocks of ``block_rows`` rows, in order: yields
        (row numbers, CSR block of those rows). rows: optional (n_rows,) bool mask; only those
        rows are yielded (blocks may then be smaller or skipped). Memory is one block."""
        return stream_sparse_rows(self.path, name, rows, block_rows)


def open_npz(path: str | Path, expect: dict | None = None) -> VerifiedNpz:
    """Verify the npz at ``path`` once (see ``verify``) and return it for reading."""
    return VerifiedNpz(path, expect)


def read_npz(
    path: str | Path, keys: Sequence[str] | None = None, expect: dict | None = None
) -> dict[str, Any]:
    """Verify and load an npz written by ``write_npz``; sparse groups come back as CSR.

    keys: load only these arrays (dense ones, or single parts of a sparse group such as
    ``<name>__csr_shape``); the rest of the file is never decompressed.
    """
    return VerifiedNpz(path, expect).read(keys)


def iter_sparse_rows(
    path: str | Path, name: str, rows: np.ndarray | None = None, block_rows: int = 4096
) -> Iterator[tuple[np.ndarray, Any]]:
    """Verify ``path`` and stream its sparse matrix ``name`` (``VerifiedNpz.iter_sparse_rows``);
    to read arrays of the same file too, ``open_npz`` it once and use both of its methods."""
    yield from VerifiedNpz(path).iter_sparse_rows(name, rows, block_rows)


def write_npy(
    path: str | Path, array: np.ndarray, producer: str | None = None, identity: dict | None = None
) -> None:
    with atomic_path(path, producer, identity) as tmp:
        np.save(tmp, np.asarray(array))


def read_npy(path: str | Path, mmap: bool = False, expect: dict | None = None) -> np.ndarray:
    verify(path, expect)
    return np.load(resolve(path), allow_pickle=False, mmap_mode="r" if mmap else None)


# --- tables and json ---------------------------------------------------------------------


def write_tsv(
    path: str | Path, frame, producer: str | None = None, identity: dict | None = None
) -> None:
    """Write a pandas DataFrame as TSV (no index; floats in repr precision) atomically."""
    with atomic_path(path, producer, identity) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)


def read_tsv(path: str | Path, expect: dict | None = None):
    import pandas as pd

    verify(path, expect)
    return pd.read_csv(resolve(path), sep="\t")


def concat_tsv(
    paths: Sequence[str | Path],
    columns: Sequence[str] | None = None,
    sort_by: str | Sequence[str] | None = None,
):
    """The rows of the TSV tables ``paths``, in that order, as one DataFrame (the gather step of
    per-layer or per-job tables); ``columns``: keep these, in this order; ``sort_by``: then sort
    the rows by these columns."""
    import pandas as pd

    frame = pd.concat([read_tsv(p) for p in paths], ignore_index=True)
    if columns is not None:
        frame = frame[list(columns)]
    if sort_by is not None:
        frame = frame.sort_values(sort_by)
    return frame


def write_json(
    path: str | Path, obj: Any, producer: str | None = None, identity: dict | None = None
) -> None:
    with atomic_path(path, producer, identity) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path, expect: dict | None = None) -> Any:
    verify(path, expect)
    return json.loads(resolve(path).read_text())


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")
