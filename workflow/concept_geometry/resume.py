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
