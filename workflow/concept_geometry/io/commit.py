"""Atomic commit: temp file + checksum + rename, deferred to the end of the job
(``transaction``), with a journal that lets the next run finish a job killed mid-commit."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from .checksums import MANIFEST, _identity, sha256_file, sidecar
from .pending import _PENDING, resolve

RULE_ENV = "CONCEPT_GEOMETRY_RULE"


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
    entries = [
        {"tmp": str(Path(tmp).resolve()), "final": str(Path(final).resolve()), "meta": meta}
        for tmp, final, meta in pending
    ]
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
    from ..errors import ConceptGeometryError

    for folder in map(Path, folders):
        if folder.exists() and not os.access(folder, os.W_OK):
            raise ConceptGeometryError(
                f"The output folder {folder.resolve()} is not writable (read-only filesystem or "
                f"no write permission), so no job could save its outputs; nothing was run. Make "
                f"it writable (e.g. remount it read-write) or run the workflow in another folder "
                f"with `--directory`."
            )


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree (a temp that is no longer wanted); missing is fine."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(
    path: str | Path, producer: str | None = None, identity: dict | None = None
) -> Iterator[Path]:
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
        meta = {
            "sha256": sha256_file(tmp),
            "size": tmp.stat().st_size,
            "producer": _producer(producer),
            **_identity(identity),
        }
        _finish(tmp, path, meta)
    finally:
        if tmp.exists() and resolve(path) != tmp:
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(
    path: str | Path, producer: str | None = None, identity: dict | None = None
) -> Iterator[Path]:
    """Yield a temp folder; on success write a manifest of checksums and rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield tmp
        files = {
            str(p.relative_to(tmp)): {"sha256": sha256_file(p), "size": p.stat().st_size}
            for p in sorted(tmp.rglob("*"))
            if p.is_file() and p.name != MANIFEST
        }
        (tmp / MANIFEST).write_text(
            json.dumps({"producer": _producer(producer), "files": files, **_identity(identity)})
        )
        _finish(tmp, path, None)
    finally:
        if tmp.exists() and resolve(path) != tmp:
            shutil.rmtree(tmp)
