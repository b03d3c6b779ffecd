"""Resuming after a killed run (SIGKILL, power loss): clear Snakemake's stale locks.

Snakemake locks a working directory while it runs and removes the lock when it ends; a
killed Snakemake leaves the lock behind and the next run refuses to start until
``snakemake --unlock``. Outputs here are written atomically at the very end of each job
(``concept_geometry.io``), so a killed job leaves nothing complete-looking and resuming is
safe; only the lock stands in the way. A lock is stale when no Snakemake process on this
host works in the same directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def _other_snakemake_here(workdir: Path) -> bool:
    import psutil

    me = os.getpid()
    parents = {p.pid for p in psutil.Process(me).parents()}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.info["pid"] == me or proc.info["pid"] in parents:
                continue
            cmd = " ".join(proc.info["cmdline"] or [])
            if "snakemake" not in cmd or "--nolock" in cmd:
                continue
            if Path(proc.cwd()).resolve() == workdir or str(workdir) in cmd:
                return True
        except (psutil.Error, OSError):
            continue
    return False


def clear_stale_locks(workdir: str | Path) -> list[Path]:
    """Remove ``.snakemake/locks/*`` when no other Snakemake runs in ``workdir``.

    Returns the removed lock files (empty when there were none or another run is live).
    """
    workdir = Path(workdir).resolve()
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks or _other_snakemake_here(workdir):
        return []
    for lock in locks:
        lock.unlink(missing_ok=True)
    return locks


def _marker_target(marker: Path, root: Path) -> str:
    """The output path an incomplete marker names (Snakemake's urlsafe base64 ids, long ones
    split into '@'-prefixed folder levels)."""
    from base64 import urlsafe_b64decode

    parts = marker.relative_to(root).parts
    b64 = "".join(p[1:] if p.startswith("@") else p for p in parts)
    return urlsafe_b64decode(b64.encode()).decode()


def settle_incomplete(workdir: str | Path) -> tuple[list[str], list[str]]:
    """Resolve Snakemake's "incomplete" markers left by a killed run, without --rerun-incomplete.

    A marker whose output passes its checksum (``io.verify``: the sidecar/manifest is only
    written once the job has finished computing) names a complete output — Snakemake was
    merely killed before it could unmark it: the marker is dropped and the work kept. Any
    other marked output (no or failing checksum) is deleted, so Snakemake simply rebuilds it.
    Only runs when no other Snakemake works in ``workdir``. Returns (kept, removed) paths.
    """
    import shutil

    from .errors import CorruptArtifactError
    from .io import sidecar, verify

    workdir = Path(workdir).resolve()
    root = workdir / ".snakemake" / "incomplete"
    markers = [m for m in root.rglob("*") if m.is_file() and m.name != "migration_underway"] \
        if root.exists() else []
    if not markers or _other_snakemake_here(workdir):
        return [], []
    kept, removed = [], []
    for marker in markers:
        try:
            rel = _marker_target(marker, root)
        except (ValueError, UnicodeDecodeError):
            continue
        target = Path(rel) if Path(rel).is_absolute() else workdir / rel
        if target.exists():
            try:
                verify(target)
                kept.append(rel)
            except CorruptArtifactError:
                shutil.rmtree(target) if target.is_dir() else target.unlink()
                sidecar(target).unlink(missing_ok=True)
                removed.append(rel)
        marker.unlink()
    return kept, removed


def remove_orphan_temps(workdir: str | Path, folders=("results",)) -> list[Path]:
    """Delete temp files/folders (``.<name>.tmp-*``) that a killed job could not clean up.

    Only when no other Snakemake works in ``workdir`` (a live job's temps are in use).
    """
    import shutil

    workdir = Path(workdir).resolve()
    temps = [p for folder in folders for p in (workdir / folder).rglob(".*.tmp-*")
             if (workdir / folder).exists()]
    if not temps or _other_snakemake_here(workdir):
        return []
    for path in temps:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return temps
