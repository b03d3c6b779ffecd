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
import hashlib
import io as _io
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
        _write_text_atomic(sidecar(path), json.dumps(meta))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
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
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
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
    path = Path(path)
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

    path = Path(path)
    verify(path)
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
    return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)


# --- tables and json ---------------------------------------------------------------------

def write_tsv(path: str | Path, frame, producer: str | None = None) -> None:
    """Write a pandas DataFrame as TSV (no index; floats in repr precision) atomically."""
    with atomic_path(path, producer) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)


def read_tsv(path: str | Path):
    import pandas as pd

    verify(path)
    return pd.read_csv(path, sep="\t")


def write_json(path: str | Path, obj: Any, producer: str | None = None) -> None:
    with atomic_path(path, producer) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    verify(path)
    return json.loads(Path(path).read_text())


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")

