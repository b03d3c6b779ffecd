"""Resuming after a killed run (SIGKILL, power loss) with a plain ``snakemake``.

A killed Snakemake leaves three things behind: its lock (the next run refuses to start until
``snakemake --unlock``), "incomplete" markers on outputs it had not yet confirmed (the next
run demands ``--rerun-incomplete``), the temp files of jobs killed mid-write, and — for a job
killed between the renames of its outputs — a commit journal. Outputs here are renamed into
place, checksummed, only at the very end of a job (``concept_geometry.io``), so resuming is
safe: ``recover_killed_run`` drops the lock, finishes the renames a journal records (the
job had finished computing), keeps marked outputs whose checksums verify, removes the rest
and the orphaned temps — but only when no other Snakemake process on this host works in the
same directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Recovery:
    """What ``recover_killed_run`` did (paths relative to the working directory for outputs)."""

    locks: list[Path] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    temps: list[Path] = field(default_factory=list)
    rolled_forward: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.locks or self.kept or self.removed or self.temps or self.rolled_forward)


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


def _marker_target(marker: Path, root: Path) -> str:
    """The output path an incomplete marker names (Snakemake's urlsafe base64 ids, long ones
    split into '@'-prefixed folder levels)."""
    from base64 import urlsafe_b64decode

    parts = marker.relative_to(root).parts
    b64 = "".join(p[1:] if p.startswith("@") else p for p in parts)
    return urlsafe_b64decode(b64.encode()).decode()


def _settle(workdir: Path, markers: list[Path], root: Path, recovery: Recovery) -> None:
    """A marked output that passes ``io.verify`` is complete (Snakemake was killed before it
    could unmark it): keep it. Any other marked output is deleted so that it is rebuilt."""
    from .errors import CorruptArtifactError
    from .io import remove_path, sidecar, verify

    for marker in markers:
        try:
            rel = _marker_target(marker, root)
        except (ValueError, UnicodeDecodeError):
            continue
        target = Path(rel) if Path(rel).is_absolute() else workdir / rel
        if target.exists():
            try:
                verify(target)
                recovery.kept.append(rel)
            except CorruptArtifactError:
                remove_path(target)
                sidecar(target).unlink(missing_ok=True)
                recovery.removed.append(rel)
        marker.unlink()


def recover_killed_run(workdir: str | Path, temp_folders=("results",)) -> Recovery:
    """Clear what a killed run left in ``workdir`` (see the module docstring).

    Does nothing (and does not look for other processes) when nothing was left behind, and
    nothing when another Snakemake works in ``workdir``.
    """
    from .io import JOURNAL_MARK, remove_path, roll_forward

    workdir = Path(workdir).resolve()
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    root = workdir / ".snakemake" / "incomplete"
    markers = [m for m in root.rglob("*") if m.is_file() and m.name != "migration_underway"] \
        if root.exists() else []
    folders = [workdir / folder for folder in temp_folders if (workdir / folder).exists()]
    journals = [p for folder in folders for p in folder.rglob(f".*{JOURNAL_MARK}*.json")]
    temps = [p for folder in folders for p in folder.rglob(".*.tmp-*")]
    recovery = Recovery()
    if not (locks or markers or temps or journals) or _other_snakemake_here(workdir):
        return recovery
    for lock in locks:
        lock.unlink(missing_ok=True)
    recovery.locks = locks
    # First finish the jobs killed while renaming their outputs (all computed), so that
    # their outputs verify below; only then is any remaining temp an orphan.
    for journal in journals:
        recovery.rolled_forward += roll_forward(journal)
    _settle(workdir, markers, root, recovery)
    temps = [p for p in temps if p.exists()]
    for path in temps:
        remove_path(path)
    recovery.temps = temps
    return recovery
