"""Atomic, integrity-checked artifacts: every file that crosses a rule boundary.

Writers put the data in a temp file in the same folder, write a checksum sidecar
(``<file>.sha256``: JSON with sha256, size, the producing rule and the artifact's identity),
then rename the temp file into place. A job killed mid-write therefore never leaves a file
that looks complete, and readers refuse a truncated or altered file with a message naming
the file and the rule that makes it.

Identity (provenance): a writer given ``identity=`` (model, corpus, layer, SAE, a hash of
the settings that made it; rules build it, ``common.smk``) records it in the sidecar, and a
reader given ``expect=`` refuses an artifact whose identity differs in any expected key — a
file intact but copied from another layer, model or run — with one paragraph naming both.
A file that records no identity (placed by hand, e.g. a planted test input) is read with a
logged warning.

Formats: ``.npz`` (numpy arrays, scipy sparse matrices as ``<name>__csr_*`` groups),
``.npy``, ``.tsv`` (pandas, tab-separated), ``.json``, and directories (e.g. an SAE saved
by SAELens) with a ``MANIFEST.sha256.json`` covering every file in them.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import CorruptArtifactError

SIDECAR_SUFFIX = ".sha256"
MANIFEST = "MANIFEST.sha256.json"
RULE_ENV = "CONCEPT_GEOMETRY_RULE"


# Renames deferred to the end of the current job (see `transaction`): [(tmp, final, meta)].
_PENDING: contextvars.ContextVar[list | None] = contextvars.ContextVar("cg_pending", default=None)


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Defer the final rename of every artifact written inside the block to its end.

    ``concept_geometry.runner.run`` wraps each job in one, so a job's outputs appear together
    after its last computation: a job killed at any point before leaves none of them, and
    Snakemake never sees a complete-looking output of an unfinished job. On an exception
    (or exit) every temp file is removed.
    """
    pending: list = []
    token = _PENDING.set(pending)
    try:
        yield
    except BaseException:
        for tmp, _final, _meta in pending:
            remove_path(tmp)
        raise
    finally:
        _PENDING.reset(token)
    if not pending:
        return
    # A job's renames are several system calls: a kill between them would leave some outputs
    # of a finished job in place and others not. The journal, written first, lets the next
    # run finish the renames (`roll_forward`) instead of recomputing a job that had finished.
    journal = _write_journal(pending)
    for tmp, final, meta in pending:
        _commit(tmp, final, meta)
    journal.unlink()


JOURNAL_MARK = ".commit-journal-"


def _write_journal(pending: list) -> Path:
    first = Path(pending[0][1])
    entries = [{"tmp": str(Path(tmp).resolve()), "final": str(Path(final).resolve()), "meta": meta}
               for tmp, final, meta in pending]
    journal = first.parent / f".{first.name}{JOURNAL_MARK}{os.getpid()}.json"
    _write_text_atomic(journal, json.dumps(entries))
    return journal


def roll_forward(journal: str | Path) -> list[Path]:
    """Finish the renames of a job killed while committing its outputs (its journal exists,
    so its computation had finished and every temp was complete). Returns the outputs it
    renamed into place; an unreadable journal (cannot happen: it is written atomically) is
    dropped, and the job's leftovers are then handled as orphans."""
    journal = Path(journal)
    try:
        entries = json.loads(journal.read_text())
    except (OSError, ValueError):
        journal.unlink(missing_ok=True)
        return []
    done = []
    for entry in entries:
        tmp, final = Path(entry["tmp"]), Path(entry["final"])
        if tmp.exists():  # not yet renamed when the job was killed
            _commit(tmp, final, entry["meta"])
            done.append(final)
    journal.unlink()
    return done


def check_writable(folders: Sequence[str | Path]) -> None:
    """Refuse to start when an existing output folder cannot be written (e.g. a read-only
    mount: write permission bits do not stop root, a read-only filesystem does), naming it."""
    from .errors import ConceptGeometryError

    for folder in map(Path, folders):
        if folder.exists() and not os.access(folder, os.W_OK):
            raise ConceptGeometryError(
                f"The output folder {folder.resolve()} is not writable (read-only filesystem or "
                f"no write permission), so no job could save its outputs; nothing was run. Make "
                f"it writable (e.g. remount it read-write) or run the workflow in another folder "
                f"with `--directory`."
            )


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree (a temp that is no longer wanted); missing is fine, a
    failure to remove raises (as for a file)."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def resolve(path: str | Path) -> Path:
    """Where ``path``'s content is now: its temp file while a transaction defers it."""
    path = Path(path)
    for tmp, final, _meta in _PENDING.get() or []:
        if final == path:
            return tmp
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _commit(tmp: Path, final: Path, meta: dict | None) -> None:
    # mkstemp/mkdtemp create 0600/0700; give results the mode a plain open() would.
    os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~_umask())
    if meta is not None:
        _write_text_atomic(sidecar(final), json.dumps(meta))
    if tmp.is_dir() and final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _finish(tmp: Path, final: Path, meta: dict | None) -> None:
    """Rename now, or at the end of the enclosing transaction."""
    pending = _PENDING.get()
    if pending is None:
        _commit(tmp, final, meta)
    else:
        for old_tmp, old_final, _meta in pending:
            if old_final == final and old_tmp != tmp:  # written twice: keep the last one
                remove_path(old_tmp)
        pending[:] = [p for p in pending if p[1] != final]
        pending.append((tmp, final, meta))


def _producer(producer: str | None) -> str:
    return producer or os.environ.get(RULE_ENV, "unknown")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read into one reused 1 MiB buffer (constant memory)."""
    h = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def sidecar(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | Path, producer: str | None = None,
                identity: dict | None = None) -> Iterator[Path]:
    """Yield a temp path (same folder, same suffix); on success checksum and rename it.

    On any exception the temp file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        meta = {"sha256": sha256_file(tmp), "size": tmp.stat().st_size,
                "producer": _producer(producer), **_identity(identity)}
        _finish(tmp, path, meta)
    finally:
        if tmp.exists() and resolve(path) != tmp:
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path, producer: str | None = None,
               identity: dict | None = None) -> Iterator[Path]:
    """Yield a temp folder; on success write a manifest of checksums and rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield tmp
        files = {str(p.relative_to(tmp)): {"sha256": sha256_file(p), "size": p.stat().st_size}
                 for p in sorted(tmp.rglob("*")) if p.is_file() and p.name != MANIFEST}
        (tmp / MANIFEST).write_text(json.dumps({"producer": _producer(producer), "files": files,
                                                     **_identity(identity)}))
        _finish(tmp, path, None)
    finally:
        if tmp.exists() and resolve(path) != tmp:
            shutil.rmtree(tmp)


def _corrupt(path: Path, why: str, producer: str) -> CorruptArtifactError:
    return CorruptArtifactError(
        f"Cached artifact {path} is {why}; it is made by rule `{producer}`. It was not used. "
        f"Delete it and re-run, e.g. `snakemake --cores all --forcerun {producer}` "
        f"(or simply `rm {path}` then `snakemake --cores all`)."
    )


def _identity(identity: dict | None) -> dict:
    return {} if identity is None else {"identity": {k: str(v) for k, v in identity.items()}}


def _check_identity(path: Path, meta: dict, expect: dict | None) -> None:
    if expect is None:
        return
    got = meta.get("identity")
    if got is None:  # placed by hand (no workflow rule wrote it): nothing to compare
        import logging

        logging.getLogger(__name__).warning(
            "%s records no identity (not written by a rule of this workflow); its provenance "
            "is not checked", path)
        return
    want = {k: str(v) for k, v in expect.items()}
    wrong = [k for k in want if got.get(k) != want[k]]
    if wrong:
        show = lambda d: ", ".join(f"{k}={d.get(k, '(none)')}" for k in want)  # noqa: E731
        raise CorruptArtifactError(
            f"Cached artifact {path} is intact but is not the one this job needs: it records "
            f"{show(got)}, and this job expects {show(want)} (differs in {', '.join(wrong)}). It "
            f"was probably copied or moved from another layer, model or run, and was not used. "
            f"Delete it and its {SIDECAR_SUFFIX} file and re-run, e.g. "
            f"`snakemake --cores all --forcerun {meta.get('producer', 'unknown')}` (or `rm {path}` "
            f"then `snakemake --cores all`)."
        )


def verify(path: str | Path, expect: dict | None = None) -> None:
    """Check ``path`` against its checksum sidecar (or manifest, for a folder), and its
    recorded identity against ``expect`` (every key of ``expect`` must match).

    Raises CorruptArtifactError naming the file and its producing rule (and, for a wrong
    identity, both identities).
    """
    final = Path(path)
    path = resolve(final)
    if path != final:  # written by this very job, not yet renamed: nothing to verify
        return
    if path.is_dir():
        man = path / MANIFEST
        if not man.exists():
            raise _corrupt(path, f"missing its checksum manifest {MANIFEST}", "unknown")
        meta = json.loads(man.read_text())
        for rel, info in meta["files"].items():
            f = path / rel
            if not f.exists():
                raise _corrupt(f, "missing", meta["producer"])
            if f.stat().st_size != info["size"]:
                raise _corrupt(f, "truncated or resized", meta["producer"])
            if sha256_file(f) != info["sha256"]:
                raise _corrupt(f, "altered (checksum mismatch)", meta["producer"])
        _check_identity(path, meta, expect)
        return
    if not path.exists():
        raise CorruptArtifactError(f"Expected artifact {path} does not exist. Re-run snakemake to rebuild it.")
    side = sidecar(path)
    if not side.exists():
        raise _corrupt(path, f"missing its checksum file {side.name}", "unknown")
    try:
        meta = json.loads(side.read_text())
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or not {"size", "sha256", "producer"} <= meta.keys():
        # Empty or garbled (e.g. written as a disk filled up): the artifact cannot be verified.
        raise _corrupt(path, f"unverifiable: its checksum file {side.name} is empty or corrupt",
                       "unknown")
    if path.stat().st_size != meta["size"]:
        raise _corrupt(path, "truncated or resized", meta["producer"])
    if sha256_file(path) != meta["sha256"]:
        raise _corrupt(path, "altered (checksum mismatch)", meta["producer"])
    _check_identity(path, meta, expect)


# --- numpy -------------------------------------------------------------------------------

def write_npz(path: str | Path, producer: str | None = None, compressed: bool = True,
              identity: dict | None = None, **arrays: Any) -> None:
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


def read_npz(path: str | Path, keys: Sequence[str] | None = None,
             expect: dict | None = None) -> dict[str, Any]:
    """Verify and load an npz written by ``write_npz``; sparse groups come back as CSR.

    keys: load only these arrays (dense ones, or single parts of a sparse group such as
    ``<name>__csr_shape``); the rest of the file is never decompressed.
    """
    import scipy.sparse as sp

    verify(path, expect)
    path = resolve(path)
    out: dict[str, Any] = {}
    with np.load(path, allow_pickle=False) as data:
        if keys is not None:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise CorruptArtifactError(f"Cached artifact {path} lacks the arrays {missing}; "
                                           f"delete it and re-run snakemake to rebuild it.")
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
                    (data[f"{name}__csr_data"], data[f"{name}__csr_indices"],
                     data[f"{name}__csr_indptr"]), shape=tuple(data[key]))
    return out


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

    def close(self, producer: str | None = None, identity: dict | None = None,
              **arrays: Any) -> None:
        """Write the npz (the matrix plus ``arrays``) and remove the temp files."""
        import zipfile

        try:
            self._data.close()
            self._indices.close()
            nnz = np.concatenate(self._row_nnz) if self._row_nnz else np.zeros(0, np.int64)
            indptr = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
            small = {f"{self.name}__csr_indptr": indptr,
                     f"{self.name}__csr_shape": np.asarray([self.n_rows, self.n_cols], np.int64),
                     **{k: np.asarray(v) for k, v in arrays.items()}}
            raw = {f"{self.name}__csr_data": (self._dir / "data.bin", self.dtype),
                   f"{self.name}__csr_indices": (self._dir / "indices.bin", np.dtype(np.int32))}
            with atomic_path(self.path, producer, identity) as tmp:
                with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED,
                                     allowZip64=True) as zf:
                    for key, (file, dtype) in raw.items():
                        n = file.stat().st_size // dtype.itemsize
                        with zf.open(f"{key}.npy", "w", force_zip64=True) as fh, open(file, "rb") as src:
                            np.lib.format.write_array_header_2_0(
                                fh, {"descr": np.lib.format.dtype_to_descr(dtype),
                                     "fortran_order": False, "shape": (n,)})
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
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    shape, _fortran, dtype = read_header(fh)
    return fh, shape, dtype


def iter_sparse_rows(path: str | Path, name: str, rows: np.ndarray | None = None,
                     block_rows: int = 4096, verified: bool = False
                     ) -> Iterator[tuple[np.ndarray, Any]]:
    """Stream the sparse matrix ``name`` of an npz (``write_npz``/``SparseRowsWriter``) in
    blocks of ``block_rows`` rows, in order: yields (row numbers, CSR block of those rows).

    rows: optional (n_rows,) bool mask; only those rows are yielded (blocks may then be
    smaller or skipped). Memory is one block, whatever the matrix's size. verified: the
    caller has just checked ``path`` (e.g. ``read_npz(path, keys=...)`` for the per-row
    arrays), so its checksum pass over the whole file is not done a second time.
    """
    import zipfile

    import scipy.sparse as sp

    if not verified:
        verify(path)
    path = resolve(path)
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
                block = sp.csr_matrix((data, idx, indptr[r0:r1 + 1] - indptr[r0]),
                                      shape=(r1 - r0, n_cols))
                numbers = np.arange(r0, r1)
                if rows is not None:
                    keep = np.asarray(rows[r0:r1], dtype=bool)
                    if not keep.any():
                        continue
                    block, numbers = block[keep], numbers[keep]
                yield numbers, block


def write_npy(path: str | Path, array: np.ndarray, producer: str | None = None,
              identity: dict | None = None) -> None:
    with atomic_path(path, producer, identity) as tmp:
        np.save(tmp, np.asarray(array))


def read_npy(path: str | Path, mmap: bool = False, expect: dict | None = None) -> np.ndarray:
    verify(path, expect)
    return np.load(resolve(path), allow_pickle=False, mmap_mode="r" if mmap else None)


# --- tables and json ---------------------------------------------------------------------

def write_tsv(path: str | Path, frame, producer: str | None = None,
              identity: dict | None = None) -> None:
    """Write a pandas DataFrame as TSV (no index; floats in repr precision) atomically."""
    with atomic_path(path, producer, identity) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)


def read_tsv(path: str | Path, expect: dict | None = None):
    import pandas as pd

    verify(path, expect)
    return pd.read_csv(resolve(path), sep="\t")


def write_json(path: str | Path, obj: Any, producer: str | None = None,
               identity: dict | None = None) -> None:
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

