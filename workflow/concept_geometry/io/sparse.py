"""The streamed sparse-rows codec: a sparse matrix written to an npz block of rows by block
of rows (``SparseRowsWriter``) and read back the same way (``VerifiedNpz.iter_sparse_rows``),
in the ``<name>__csr_*`` layout of ``write_npz``. Memory is one block either way."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .commit import atomic_path


class SparseRowsWriter:
    """Write a sparse (rows × n_cols) matrix into an npz, block of rows by block of rows.

    Memory stays at one block: the blocks' ``data``/``indices`` go to temp files beside
    ``path`` as they come, and ``close`` streams them into the npz (the format of
    ``write_npz``: ``<name>__csr_*`` members, so ``read_npz`` and ``iter_sparse_rows`` read it),
    together with small dense arrays (e.g. one value per row). Atomic like every writer here.
    """

    def __init__(self, path: str | Path, name: str, n_cols: int, dtype=np.uint8):
        self.path, self.name, self.n_cols = Path(path), name, int(n_cols)
        self.dtype = np.dtype(dtype)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.tmp-"))
        self._data = open(self._dir / "data.bin", "wb")
        self._indices = open(self._dir / "indices.bin", "wb")
        self._row_nnz: list[np.ndarray] = []
        self.n_rows = 0
        self.nnz = 0

    def append(self, block) -> None:
        import scipy.sparse as sp

        block = sp.csr_matrix(block)
        if block.shape[1] != self.n_cols:
            raise ValueError(f"block has {block.shape[1]} columns, expected {self.n_cols}")
        block.sort_indices()
        self._data.write(np.ascontiguousarray(block.data, dtype=self.dtype).tobytes())
        self._indices.write(np.ascontiguousarray(block.indices, dtype=np.int32).tobytes())
        self._row_nnz.append(np.diff(block.indptr).astype(np.int64))
        self.n_rows += block.shape[0]
        self.nnz += int(block.nnz)

    def abort(self) -> None:
        """Drop everything written so far (idempotent); ``path`` is left untouched."""
        self._data.close()
        self._indices.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "SparseRowsWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.abort()  # after close() there is nothing left to drop

    def close(
        self, producer: str | None = None, identity: dict | None = None, **arrays: Any
    ) -> None:
        """Write the npz (the matrix plus ``arrays``) and remove the temp files."""
        import zipfile

        try:
            self._data.close()
            self._indices.close()
            nnz = np.concatenate(self._row_nnz) if self._row_nnz else np.zeros(0, np.int64)
            indptr = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
            small = {
                f"{self.name}__csr_indptr": indptr,
                f"{self.name}__csr_shape": np.asarray([self.n_rows, self.n_cols], np.int64),
                **{k: np.asarray(v) for k, v in arrays.items()},
            }
            raw = {
                f"{self.name}__csr_data": (self._dir / "data.bin", self.dtype),
                f"{self.name}__csr_indices": (self._dir / "indices.bin", np.dtype(np.int32)),
            }
            with atomic_path(self.path, producer, identity) as tmp:
                with zipfile.ZipFile(
                    tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
                ) as zf:
                    for key, (file, dtype) in raw.items():
                        n = file.stat().st_size // dtype.itemsize
                        with (
                            zf.open(f"{key}.npy", "w", force_zip64=True) as fh,
                            open(file, "rb") as src,
                        ):
                            np.lib.format.write_array_header_2_0(
                                fh,
                                {
                                    "descr": np.lib.format.dtype_to_descr(dtype),
                                    "fortran_order": False,
                                    "shape": (n,),
                                },
                            )
                            shutil.copyfileobj(src, fh, 1 << 20)  # 1 MiB at a time
                    for key, value in small.items():
                        with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                            np.lib.format.write_array(fh, value, allow_pickle=False)
        finally:
            self.abort()


def _read_exact(fh, n: int) -> bytes:
    out = fh.read(n)
    if len(out) != n:
        raise EOFError(f"expected {n} bytes, got {len(out)}")
    return out


def _open_npy_member(zf, key: str):
    fh = zf.open(f"{key}.npy")
    version = np.lib.format.read_magic(fh)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, _fortran, dtype = read_header(fh)
    return fh, shape, dtype


def stream_sparse_rows(
    path: str | Path, name: str, rows: np.ndarray | None = None, block_rows: int = 4096
) -> Iterator[tuple[np.ndarray, Any]]:
    """Stream the sparse matrix ``name`` of the npz at ``path`` (already verified: callers go
    through ``VerifiedNpz.iter_sparse_rows``) in blocks of ``block_rows`` rows, in order:
    yields (row numbers, CSR block of those rows).

    rows: optional (n_rows,) bool mask; only those rows are yielded (blocks may then be
    smaller or skipped). Memory is one block, whatever the matrix's size.
    """
    import zipfile

    import scipy.sparse as sp

    with zipfile.ZipFile(path) as zf:
        with zf.open(f"{name}__csr_shape.npy") as fh:
            n_rows, n_cols = (int(v) for v in np.lib.format.read_array(fh))
        with zf.open(f"{name}__csr_indptr.npy") as fh:
            indptr = np.lib.format.read_array(fh)
        if rows is not None and len(rows) != n_rows:
            raise ValueError(f"row mask of length {len(rows)} for {n_rows} rows")
        fdata, _, ddata = _open_npy_member(zf, f"{name}__csr_data")
        findices, _, dindices = _open_npy_member(zf, f"{name}__csr_indices")
        with fdata, findices:
            for r0 in range(0, n_rows, block_rows):
                r1 = min(n_rows, r0 + block_rows)
                nnz = int(indptr[r1] - indptr[r0])
                data = np.frombuffer(_read_exact(fdata, nnz * ddata.itemsize), dtype=ddata)
                idx = np.frombuffer(_read_exact(findices, nnz * dindices.itemsize), dtype=dindices)
                block = sp.csr_matrix(
                    (data, idx, indptr[r0 : r1 + 1] - indptr[r0]), shape=(r1 - r0, n_cols)
                )
                numbers = np.arange(r0, r1)
                if rows is not None:
                    keep = np.asarray(rows[r0:r1], dtype=bool)
                    if not keep.any():
                        continue
                    block, numbers = block[keep], numbers[keep]
                yield numbers, block
