"""Resuming after a killed run (SIGKILL, power loss) with a plain ``snakemake``, safely on a
shared filesystem.

A killed Snakemake leaves behind its lock (the next run refuses to start until
``snakemake --unlock``), "incomplete" markers on outputs it had not yet confirmed (the next
run demands ``--rerun-incomplete``), the temp files of jobs killed mid-write, and — for a job
killed between the renames of its outputs — a commit journal. Outputs here are renamed into
place, checksummed, only at the very end of a job (``concept_geometry.io``), so resuming is
safe: ``recover_killed_run`` drops the lock, finishes the renames a journal records (the job
had finished computing), keeps marked outputs whose checksums verify, removes the rest and
the orphaned temps.

That is destructive, so it runs only when the run that left the state is *proven* dead:

- Only the main process of a real run does it (``install``: never while parsing, never in a
  dry run, ``--lint``, ``--report``, ``--unlock`` or a cluster job step), just before
  Snakemake checks its own locks.
- Each such run keeps a run record, ``.snakemake/concept-geometry-runs/<host>.<pid>.json``,
  (host name, boot id, PID namespace, PID, and the process's start time, which guards
  against PID reuse), written atomically before Snakemake takes its locks and removed when
  the process exits. Snakemake's own lock files record none of these.
- A record is stale only when it was written on this host and either the host has rebooted
  since (boot id) or, in the same PID namespace, its process is gone or is another process
  (start time). A record from another host or PID namespace, or one whose process cannot be
  inspected, cannot be proven stale: then nothing is touched, and the user gets one paragraph
  saying what to check and run (``blocked_message``).
"""

from __future__ import annotations

import atexit
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .recovery import Recovery, describe, leftovers, recover_killed_run

RUNS_DIR = Path(".snakemake") / "concept-geometry-runs"
__all__ = [
    "Recovery",
    "describe",
    "leftovers",
    "recover_killed_run",
    "RUNS_DIR",
    "this_host",
    "this_run",
    "record_state",
    "blocked_message",
    "RunStart",
    "start_run",
    "end_run",
    "install",
]


# --- run records --------------------------------------------------------------------------


def _start_ticks(pid: int) -> int:
    """A process's start time (clock ticks after boot, /proc/<pid>/stat field 22).

    Raises FileNotFoundError when the process is gone, PermissionError when it is hidden.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[19])


def this_host() -> dict[str, str]:
    """What identifies the machine and PID namespace a process runs in."""
    return {
        "host": socket.gethostname(),
        "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        "pid_ns": os.readlink("/proc/self/ns/pid"),
    }


def this_run() -> dict[str, Any]:
    """The run record of this process."""
    pid = os.getpid()
    return {**this_host(), "pid": pid, "start_ticks": _start_ticks(pid), "uid": os.getuid()}


def record_state(record: Any) -> tuple[str, str]:
    """("live" | "stale" | "unknown", why) for a run record, checked from this process.

    Stale only when proven: same host and either another boot, or (same PID namespace) the
    PID is gone or now belongs to a process that started at another time.
    """
    try:
        host, boot, ns = (str(record[k]) for k in ("host", "boot_id", "pid_ns"))
        pid, start = int(record["pid"]), int(record["start_ticks"])
    except (TypeError, KeyError, ValueError):
        return "unknown", "the record cannot be read"
    here = this_host()
    who = f"PID {pid} on host {host}"
    if host != here["host"]:
        return "unknown", f"{who}, another host than this one ({here['host']})"
    if boot != here["boot_id"]:
        return "stale", f"{who}, before this host last booted"
    if ns != here["pid_ns"]:
        return "unknown", f"{who}, in another PID namespace (a container or a virtual node)"
    if pid <= 0:
        return "unknown", "the record cannot be read"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "stale", f"{who}, which has ended"
    except PermissionError:
        pass  # alive, another user's
    try:
        now = _start_ticks(pid)
    except FileNotFoundError:
        return "stale", f"{who}, which has ended"
    except OSError:
        return "unknown", f"{who}, which exists but cannot be inspected from this account"
    if now != start:
        return "stale", f"{who}, which has ended (the PID now belongs to another process)"
    return "live", f"{who}, which is running"


def _read_record(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def blocked_message(workdir: Path, left: tuple, states: dict[Path, tuple[str, str]]) -> str:
    """One paragraph: what was left, why it was not touched, and what the user can run."""
    locks, markers, journals, temps = left
    if states:
        why = "; ".join(
            f"record {p.relative_to(workdir)} names {reason}"
            for p, (_state, reason) in states.items()
        )
        hosts = sorted({str((_read_record(p) or {}).get("host", "?")) for p in states})
        rerun = (
            f"either rerun on {' or '.join(hosts)}, where the record can be checked and "
            f"the run resumes by itself, or"
        )
        records = f"delete {', '.join(str(p.relative_to(workdir)) for p in states)}, "
    else:
        why = "no run record names the run that left it"
        rerun, records = "", ""
    return (
        f"A run left state behind in {workdir}: {len(locks)} Snakemake lock file(s), "
        f"{len(markers)} incomplete marker(s), {len(journals)} commit journal(s) and "
        f"{len(temps)} temp file(s). None of it was touched, because this process cannot "
        f"prove that run has ended ({why}). If it is still running (on any host sharing this "
        f"folder), let it finish and do nothing. Otherwise {rerun} once you have checked that "
        f"no Snakemake process works in this folder on any host, {records}run "
        f"`snakemake --unlock` and rerun with `--rerun-incomplete`."
    )


def _write_record(path: Path, record: dict) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class RunStart:
    """What ``start_run`` did: this run's record, the recovery made, or why none was."""

    record: Path
    recovery: Recovery
    blocked: str | None = None


def start_run(workdir: str | Path, temp_folders=("results",)) -> RunStart:
    """Main process of a real run, before Snakemake takes its locks: recover what proven-dead
    runs left in ``workdir``, then write this run's record (remove it with ``end_run``)."""
    workdir = Path(workdir).resolve()
    runs = workdir / RUNS_DIR
    records = sorted(runs.glob("*.json")) if runs.exists() else []
    states = {p: record_state(_read_record(p)) for p in records}
    left = leftovers(workdir, temp_folders)
    stale = [p for p, (state, _why) in states.items() if state == "stale"]
    unproven = {p: s for p, s in states.items() if s[0] == "unknown"}
    live = [p for p, (state, _why) in states.items() if state == "live"]
    recovery, blocked = Recovery(), None
    if any(left):
        if unproven or (not stale and not live):
            blocked = blocked_message(workdir, left, unproven)
        elif not live:  # every run that could have left it is proven dead
            recovery = recover_killed_run(workdir, temp_folders)
    if not blocked and not live:
        for path in stale:
            path.unlink(missing_ok=True)
    record = this_run()
    path = runs / f"{record['host']}.{record['pid']}.json"
    _write_record(path, record)
    return RunStart(path, recovery, blocked)


def end_run(record: Path, pid: int | None = None) -> None:
    """Remove this run's record (at exit; idempotent); ``pid``: only from that process (not
    from a forked child that inherited the exit handler)."""
    if pid is None or pid == os.getpid():
        Path(record).unlink(missing_ok=True)


def install(workflow: Any, logger: Any) -> None:
    """Run ``start_run`` in the main process of a real run only, just before Snakemake
    checks its locks and incomplete markers; parsing itself does nothing.

    Snakemake (pinned 9.27.1) parses the Snakefile before it knows whether this is a dry run,
    so the check wraps ``workflow.execute``, which receives the executor: dry runs and
    ``--touch`` use pseudo-executors, job steps run in another exec mode, and ``--lint``,
    ``--report``, ``--unlock`` never call ``execute``. (An ``onstart:`` handler would be too
    late: it runs after Snakemake has refused a stale lock or an incomplete output.)
    """
    from snakemake_interface_executor_plugins.settings import ExecMode

    execute = workflow.execute

    def execute_after_resume(executor_plugin, *args, **kwargs):
        common = executor_plugin.common_settings
        if workflow.exec_mode == ExecMode.DEFAULT and not (common.dryrun_exec or common.touch_exec):
            start = start_run(Path.cwd())
            atexit.register(end_run, start.record, os.getpid())
            if start.recovery:
                logger.warning(describe(start.recovery))
            if start.blocked:
                logger.warning(start.blocked)
        return execute(executor_plugin, *args, **kwargs)

    workflow.execute = execute_after_resume
