"""Atomic, integrity-checked artifacts: every file that crosses a rule boundary.

Writers put the data in a temp file in the same folder, write a checksum sidecar
(``<file>.sha256``: JSON with sha256, size and the producing rule), then rename the temp
file into place. A job killed mid-write therefore never leaves a file that looks complete,
and readers refuse a truncated or altered file with a message naming the file and the rule
that makes it.

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
from typing import Any, Iterator

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


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree (a temp that is no longer wanted); missing is fine."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
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
    """Hex SHA-256 of a file, read in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 23), b""):
            h.update(block)
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
def atomic_path(path: str | Path, producer: str | None = None) -> Iterator[Path]:
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
                "producer": _producer(producer)}
        _finish(tmp, path, meta)
    finally:
        if tmp.exists() and resolve(path) != tmp:
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | Path, producer: str | None = None) -> Iterator[Path]:
    """Yield a temp folder; on success write a manifest of checksums and rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield tmp
        files = {str(p.relative_to(tmp)): {"sha256": sha256_file(p), "size": p.stat().st_size}
                 for p in sorted(tmp.rglob("*")) if p.is_file() and p.name != MANIFEST}
        (tmp / MANIFEST).write_text(json.dumps({"producer": _producer(producer), "files": files}))
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


def verify(path: str | Path) -> None:
    """Check ``path`` against its checksum sidecar (or manifest, for a folder).

    Raises CorruptArtifactError naming the file and its producing rule.
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
        return
    if not path.exists():
        raise CorruptArtifactError(f"Expected artifact {path} does not exist. Re-run snakemake to rebuild it.")
    side = sidecar(path)
    if not side.exists():
        raise _corrupt(path, f"missing its checksum file {side.name}", "unknown")
    meta = json.loads(side.read_text())
    if path.stat().st_size != meta["size"]:
        raise _corrupt(path, "truncated or resized", meta["producer"])
    if sha256_file(path) != meta["sha256"]:
        raise _corrupt(path, "altered (checksum mismatch)", meta["producer"])


# --- numpy -------------------------------------------------------------------------------

def write_npz(path: str | Path, producer: str | None = None, compressed: bool = True,
              **arrays: Any) -> None:
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
    with atomic_path(path, producer) as tmp:
        (np.savez_compressed if compressed else np.savez)(tmp, **flat)


def read_npz(path: str | Path) -> dict[str, Any]:
    """Verify and load an npz written by ``write_npz``; sparse groups come back as CSR."""
    import scipy.sparse as sp

    verify(path)
    path = resolve(path)
    out: dict[str, Any] = {}
    with np.load(path, allow_pickle=False) as data:
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


def write_npy(path: str | Path, array: np.ndarray, producer: str | None = None) -> None:
    with atomic_path(path, producer) as tmp:
        np.save(tmp, np.asarray(array))


def read_npy(path: str | Path, mmap: bool = False) -> np.ndarray:
    verify(path)
    return np.load(resolve(path), allow_pickle=False, mmap_mode="r" if mmap else None)


# --- tables and json ---------------------------------------------------------------------

def write_tsv(path: str | Path, frame, producer: str | None = None) -> None:
    """Write a pandas DataFrame as TSV (no index; floats in repr precision) atomically."""
    with atomic_path(path, producer) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)


def read_tsv(path: str | Path):
    import pandas as pd

    verify(path)
    return pd.read_csv(resolve(path), sep="\t")


def write_json(path: str | Path, obj: Any, producer: str | None = None) -> None:
    with atomic_path(path, producer) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    verify(path)
    return json.loads(resolve(path).read_text())


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")

