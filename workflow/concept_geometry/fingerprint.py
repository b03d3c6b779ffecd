"""Fingerprints of the local files and folders a config names (a corpus file, a model or SAE
folder, relation and concept files), so that replacing one in place reruns what used it.

Rules pass ``fingerprint(path)`` as a ``params`` entry: Snakemake reruns a job whose params
changed, just as it reruns one whose inputs changed. A file under 100 MB is hashed whole
(its mtime does not matter: a copy or checkout of the same bytes is the same input); a
larger one (model weights) by size, mtime and the SHA-256 of its first and last MiB, which
keeps parsing fast. Reading only: nothing is written.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

FULL_HASH_BELOW = 100 * 2**20
EDGE = 2**20


def _files(root: Path) -> list[Path]:
    """The files a fingerprint covers: ``root`` itself, or every file under it except hidden
    ones (caches such as ``.cache/huggingface``, ``.git``)."""
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def fingerprint(path: str | Path | None) -> str | None:
    """A short hex fingerprint of the local file or folder ``path``; None when ``path`` is not
    an absolute path that exists (a hub id, a ``package:`` model, an unset key)."""
    if not path:
        return None
    root = Path(str(path))
    if not root.is_absolute() or not root.exists():
        return None
    stats = []
    for f in _files(root):
        st = f.stat()
        stats.append(
            (
                str(f.relative_to(root)) if f != root else ".",
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
            )
        )
    return _digest(str(root), tuple(stats))


@lru_cache(maxsize=None)
def _digest(root: str, stats: tuple) -> str:
    """Hash of the files ``stats`` lists (cached per process on their size, mtime, ctime and
    inode, which any write changes: rules of many jobs fingerprint the same model folder)."""
    from .io import sha256_file

    h = hashlib.sha256()
    for rel, size, mtime, _ctime, _ino in stats:
        f = Path(root) / rel if rel != "." else Path(root)
        h.update(f"{rel}\0{size}\0".encode())
        if size < FULL_HASH_BELOW:
            h.update(sha256_file(f).encode())
        else:
            h.update(f"{mtime}\0".encode())
            with open(f, "rb") as fh:
                h.update(fh.read(EDGE))
                fh.seek(-EDGE, 2)
                h.update(fh.read(EDGE))
    return h.hexdigest()[:16]


def settings_hash(settings) -> str:
    """A short hash of JSON-able settings (an artifact identity's ``config``)."""
    import json

    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
