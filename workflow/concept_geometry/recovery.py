"""Recovery of what a killed run left in a working directory: its Snakemake locks, incomplete
markers, commit journals and orphaned temps. Destructive: ``concept_geometry.resume`` calls it
only once the run that left the state is proven dead (see that module's docstring)."""

from __future__ import annotations

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


def leftovers(workdir: Path, temp_folders) -> tuple[list[Path], list[Path], list[Path], list[Path]]:
    """(Snakemake locks, incomplete markers, commit journals, temps) found in ``workdir``."""
    from .io import JOURNAL_MARK

    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    root = workdir / ".snakemake" / "incomplete"
    markers = (
        [m for m in root.rglob("*") if m.is_file() and m.name != "migration_underway"]
        if root.exists()
        else []
    )
    folders = [workdir / folder for folder in temp_folders if (workdir / folder).exists()]
    journals = [p for folder in folders for p in folder.rglob(f".*{JOURNAL_MARK}*.json")]
    temps = [p for folder in folders for p in folder.rglob(".*.tmp-*")]
    return locks, markers, journals, temps


def recover_killed_run(workdir: str | Path, temp_folders=("results",)) -> Recovery:
    """Clear what a killed run left in ``workdir`` (see ``concept_geometry.resume``).

    Destructive and unconditional: call it only when the run that left the state is proven
    dead (``start_run`` does).
    """
    from .io import remove_path, roll_forward

    workdir = Path(workdir).resolve()
    locks, markers, journals, temps = leftovers(workdir, temp_folders)
    root = workdir / ".snakemake" / "incomplete"
    recovery = Recovery()
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


def describe(recovery: Recovery) -> str:
    return (
        f"A killed run left a stale lock ({len(recovery.locks)}), {len(recovery.kept)} "
        f"finished output(s) (checksums verified, kept) and {len(recovery.removed)} unfinished "
        f"one(s) plus {len(recovery.temps)} temp file(s) (removed; rebuilt as needed); "
        f"{len(recovery.rolled_forward)} output(s) of jobs killed while renaming them into "
        f"place were renamed from their journal."
    )
