"""Issue 13 item 1: resuming a killed run never touches the state of a run that may be alive
(another host, another PID namespace, a dry run, a job step); it acts on proven-stale state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_snakemake, snakemake_cmd

from concept_geometry import resume
from concept_geometry.runner import FAULT_PAUSE_ENV


def _leave_state(work: Path) -> list[Path]:
    """What a killed (or running) run leaves: a lock, an incomplete marker, a temp."""
    from base64 import urlsafe_b64encode

    lock = work / ".snakemake/locks/0.output.lock"
    marker = work / ".snakemake/incomplete" / urlsafe_b64encode(b"results/x/a.tsv").decode()
    temp = work / "results/x/.a.tmp-ab12.tsv"
    for path in (lock, marker, temp):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    return [lock, marker, temp]


def _record(work: Path, **fields) -> Path:
    path = work / resume.RUNS_DIR / f"{fields.get('host', 'h')}.{fields.get('pid', 1)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fields))
    return path


def _not_signalled(proc: subprocess.Popen) -> bool:
    """``proc`` (a `sleep 30`) is still running 0.1 s later: nothing sent it a signal."""
    try:
        proc.wait(timeout=0.1)
    except subprocess.TimeoutExpired:
        return True
    return False


def _ended_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_foreign_host_record_is_left_untouched_with_one_paragraph(tmp_path):
    state = _leave_state(tmp_path)
    rec = _record(tmp_path, **{**resume.this_run(), "host": "node-2", "pid": 4242})
    start = resume.start_run(tmp_path)
    assert all(p.exists() for p in state) and rec.exists()
    assert not start.recovery
    msg = start.blocked
    assert "\n" not in msg and "node-2" in msg and "PID 4242" in msg
    assert str(rec.relative_to(tmp_path)) in msg
    assert "snakemake --unlock" in msg and "--rerun-incomplete" in msg
    assert json.loads(start.record.read_text())["pid"] == os.getpid()
    resume.end_run(start.record)
    assert not start.record.exists() and rec.exists()


def test_record_of_another_pid_namespace_cannot_be_proven_stale(tmp_path):
    state = _leave_state(tmp_path)
    _record(tmp_path, **{**resume.this_run(), "pid_ns": "pid:[1]", "pid": _ended_pid()})
    start = resume.start_run(tmp_path)
    assert all(p.exists() for p in state)
    assert "another PID namespace" in start.blocked


def test_no_record_means_nothing_is_proven(tmp_path):
    state = _leave_state(tmp_path)
    start = resume.start_run(tmp_path)
    assert all(p.exists() for p in state)
    assert "prove that run has ended (no run record names the run that left it)" in start.blocked


@pytest.mark.parametrize("change", ["pid_gone", "pid_reused", "rebooted"])
def test_same_host_stale_record_is_recovered(tmp_path, change):
    lock, marker, temp = _leave_state(tmp_path)
    fields = resume.this_run()
    # A live PID of our own (never the parent process: checking a record must not reach
    # processes the test did not start, e.g. a mutation-testing runner).
    live = subprocess.Popen(["sleep", "30"])
    try:
        if change == "pid_gone":
            fields["pid"] = _ended_pid()
        elif change == "pid_reused":  # a live PID, but a process that started at another time
            fields["pid"], fields["start_ticks"] = live.pid, resume._start_ticks(live.pid) - 1
        else:
            fields["boot_id"], fields["pid"] = "another-boot", 4242
        stale = _record(tmp_path, **fields)
        start = resume.start_run(tmp_path)
        assert _not_signalled(live)  # checked, not signalled
    finally:
        live.kill()
        live.wait()
    assert start.blocked is None
    assert start.recovery.locks == [lock] and start.recovery.temps == [temp]
    assert not (lock.exists() or marker.exists() or temp.exists() or stale.exists())


def test_live_same_host_run_is_left_alone(tmp_path):
    state = _leave_state(tmp_path)
    live = subprocess.Popen(["sleep", "30"])
    try:
        rec = _record(
            tmp_path,
            **{**resume.this_run(), "pid": live.pid, "start_ticks": resume._start_ticks(live.pid)},
        )
        assert resume.record_state(json.loads(rec.read_text()))[0] == "live"
        start = resume.start_run(tmp_path)
        assert _not_signalled(live)  # checked (signal 0), not signalled
    finally:
        live.kill()
        live.wait()
    assert all(p.exists() for p in state) and rec.exists()
    assert not start.recovery and start.blocked is None


# --- the whole workflow: a live run seen from a process that cannot see it ------------------

TINY = """
stages: [simulation]
simulation: {m: 3, d: 3, steps: 100, log_every: 50, seeds: [0], experiments: [full]}
"""


def _snapshot(work: Path) -> dict[str, tuple[int, int]]:
    """Every file of the run's state (locks, markers, records, results and their temps)."""
    out = {}
    for folder in (".snakemake/locks", ".snakemake/incomplete", str(resume.RUNS_DIR), "results"):
        for path in (work / folder).rglob("*"):
            if path.is_file():
                out[str(path.relative_to(work))] = (path.stat().st_size, path.stat().st_mtime_ns)
    return out


@pytest.mark.workflow
@pytest.mark.skipif(
    subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True
    ).returncode
    != 0,
    reason="needs unshare (root) for a PID namespace",
)
def test_live_run_is_untouched_by_dry_and_real_runs_that_cannot_see_it(tmp_path):
    """A live run paused in its job (lock, incomplete marker and temps present); from a PID
    namespace (another node on a shared filesystem) a `snakemake -n` and a real `snakemake`
    delete nothing; after the live run is killed, a plain rerun on its host resumes it."""
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    cmd = snakemake_cmd(tmp_path, cfg, cores=1)
    live = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, FAULT_PAUSE_ENV: "simulate"},
    )
    try:
        deadline = time.time() + 120
        while not any(
            "paused before commit" in log.read_text(errors="replace")
            for log in (tmp_path / "logs").rglob("*.log")
        ):
            assert live.poll() is None and time.time() < deadline, "the live run never paused"
            time.sleep(0.1)
        before = _snapshot(tmp_path)
        assert any(".tmp-" in p for p in before) and any("locks" in p for p in before)
        assert any("incomplete" in p for p in before)
        elsewhere = ["unshare", "--pid", "--fork", "--mount-proc"] + cmd
        dry = subprocess.run(elsewhere + ["-n"], capture_output=True, text=True, timeout=120)
        assert _snapshot(tmp_path) == before, dry.stderr[-3000:]
        real = subprocess.run(elsewhere, capture_output=True, text=True, timeout=120)
        assert real.returncode != 0
        assert _snapshot(tmp_path) == before, real.stderr[-3000:]
        assert "None of it was touched" in real.stderr and "PID namespace" in real.stderr
    finally:
        os.killpg(live.pid, signal.SIGKILL)
        live.wait()
    rerun = run_snakemake(tmp_path, cfg)
    assert "A killed run left a stale lock (2)" in rerun.stderr
    assert (tmp_path / "results/summary/simulation.tsv").exists()
    assert list((tmp_path / resume.RUNS_DIR).iterdir()) == []


def test_blocked_message_names_every_host_and_unknown_ones(monkeypatch):
    """Records that cannot be proven stale: the message offers each recorded host ('?' for a
    record without one), sorted, joined by 'or'."""
    work = Path("/w")
    a, b = work / resume.RUNS_DIR / "a.json", work / resume.RUNS_DIR / "b.json"
    monkeypatch.setattr(resume, "_read_record", {a: {"host": "node-2"}, b: {}}.get)
    msg = resume.blocked_message(
        work, ([], [], [], []), {a: ("x", "host node-2"), b: ("x", "no host")}
    )
    assert "either rerun on ? or node-2, where the record can be checked" in msg


def test_end_run_is_idempotent(tmp_path):
    record = tmp_path / "r.json"
    record.write_text("{}")
    resume.end_run(record)
    resume.end_run(record)  # already gone: no error
    assert not record.exists()


def test_install_recovers_before_a_real_run_only(tmp_path, monkeypatch):
    """The wrapped ``workflow.execute`` recovers proven-stale state of the working folder in
    a real run's main process (and registers the record's removal at exit); dry runs,
    ``--touch`` and job steps pass straight through, touching nothing."""
    from types import SimpleNamespace

    from snakemake_interface_executor_plugins.settings import ExecMode

    monkeypatch.chdir(tmp_path)  # start_run acts on the current folder
    state = _leave_state(tmp_path)
    stale = _record(tmp_path, **{**resume.this_run(), "pid": _ended_pid()})
    registered, warnings, calls = [], [], []
    monkeypatch.setattr(resume.atexit, "register", lambda *args: registered.append(args))
    workflow = SimpleNamespace(
        exec_mode=ExecMode.DEFAULT,
        execute=lambda plugin, *a, **k: calls.append((plugin, a, k)) or "ran",
    )
    resume.install(workflow, SimpleNamespace(warning=warnings.append))

    def plugin(dry=False, touch=False):
        return SimpleNamespace(common_settings=SimpleNamespace(dryrun_exec=dry, touch_exec=touch))

    for mode, executor in [
        (ExecMode.DEFAULT, plugin(dry=True)),
        (ExecMode.DEFAULT, plugin(touch=True)),
        (ExecMode.SUBPROCESS, plugin()),
        (ExecMode.REMOTE, plugin()),
    ]:
        workflow.exec_mode = mode
        assert workflow.execute(executor, 1, k=2) == "ran"
        assert calls[-1] == (executor, (1,), {"k": 2})
        assert all(p.exists() for p in state) and stale.exists()
        assert not warnings and not registered

    workflow.exec_mode = ExecMode.DEFAULT
    real = plugin()
    assert workflow.execute(real) == "ran" and calls[-1] == (real, (), {})
    assert not any(p.exists() for p in state) and not stale.exists()
    assert len(warnings) == 1
    assert "stale lock (1)" in warnings[0] and "plus 1 temp file(s)" in warnings[0]
    record = tmp_path / resume.RUNS_DIR / f"{resume.this_host()['host']}.{os.getpid()}.json"
    assert registered == [(resume.end_run, record, os.getpid())]
    written = json.loads(record.read_text())
    assert (written["pid"], written["uid"]) == (os.getpid(), os.getuid())


def test_start_ticks_are_the_process_start_after_boot():
    """A process started now started ``now − boot time`` after boot: /proc/stat's btime plus
    its start ticks / CLK_TCK is the current time (to the 1 s btime resolution, plus slack)."""
    btime = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    child = subprocess.Popen(["sleep", "30"])
    try:
        started = btime + resume._start_ticks(child.pid) / os.sysconf("SC_CLK_TCK")
        assert abs(started - time.time()) < 5
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("case", ["none", "list", "no_pid", "pid_text", "pid_zero", "pid_negative"])
def test_an_unreadable_record_or_a_pid_below_one_is_unknown(case):
    """Never 'stale' (which would clear the folder) for a record that names no process;
    PID 0 in particular must not reach os.kill (it would address the process group)."""
    here = resume.this_run()
    record = {
        "none": None,
        "list": [],
        "no_pid": {k: v for k, v in here.items() if k != "pid"},
        "pid_text": {**here, "pid": "x"},
        "pid_zero": {**here, "pid": 0},
        "pid_negative": {**here, "pid": -5},
    }[case]
    assert resume.record_state(record) == ("unknown", "the record cannot be read")


@pytest.mark.parametrize(
    "error, state", [(FileNotFoundError, "stale"), (PermissionError, "unknown")]
)
def test_a_process_gone_between_probe_and_read_is_stale(monkeypatch, error, state):
    """os.kill(pid, 0) finds the process, then its /proc entry is gone (it ended in between):
    stale. An entry that exists but cannot be read proves nothing: unknown."""
    live = subprocess.Popen(["sleep", "30"])
    try:
        record = {**resume.this_run(), "pid": live.pid, "start_ticks": 1}

        def gone(pid):
            raise error(pid)

        monkeypatch.setattr(resume, "_start_ticks", gone)
        got = resume.record_state(record)
    finally:
        live.kill()
        live.wait()
    assert got[0] == state
    assert got[1].startswith(f"PID {live.pid} on host {record['host']}, which ")


def test_the_first_run_in_a_bare_folder_writes_its_record(tmp_path):
    start = resume.start_run(tmp_path)  # no .snakemake yet
    assert start.record.parent == tmp_path / resume.RUNS_DIR and start.record.exists()
    assert not start.recovery and start.blocked is None


@pytest.mark.parametrize("field", ["locks", "kept", "removed", "temps", "rolled_forward"])
def test_a_recovery_that_did_any_one_thing_is_reported(field):
    assert bool(resume.Recovery(**{field: ["x"]})) and not resume.Recovery()


def test_snakemakes_migration_flag_is_not_an_incomplete_marker(tmp_path):
    """Snakemake's own flag in .snakemake/incomplete is no state a killed run left: with
    nothing else there, a run without records is not blocked."""
    flag = tmp_path / ".snakemake/incomplete/migration_underway"
    flag.parent.mkdir(parents=True)
    flag.write_text("")
    start = resume.start_run(tmp_path)
    assert start.blocked is None and not start.recovery and flag.exists()


def test_a_lock_removed_meanwhile_does_not_stop_the_recovery(tmp_path, monkeypatch):
    """Two runs starting at once may both recover the same dead run: a lock the other one
    removed between listing and unlinking is no error, and the rest is still recovered."""
    from concept_geometry import recovery

    lock, marker, temp = _leave_state(tmp_path)
    listed = recovery.leftovers

    def race(workdir, temp_folders):
        found = listed(workdir, temp_folders)
        lock.unlink()  # the other run got there first
        return found

    monkeypatch.setattr(recovery, "leftovers", race)
    rec = recovery.recover_killed_run(tmp_path)
    assert rec.locks == [lock] and rec.temps == [temp]
    assert not (marker.exists() or temp.exists())


def test_recovery_looks_for_temps_in_the_folders_the_run_names(tmp_path):
    """start_run(temp_folders=("out",)) after a dead run: the orphan temp under out/ is
    removed; a temp-like file under results/ (not named) is left alone."""
    lock = tmp_path / ".snakemake/locks/0.output.lock"
    temp = tmp_path / "out/x/.a.tmp-ab12.tsv"
    other = tmp_path / "results/x/.b.tmp-cd34.tsv"
    for path in (lock, temp, other):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    _record(tmp_path, **{**resume.this_run(), "pid": _ended_pid()})
    start = resume.start_run(tmp_path, temp_folders=("out",))
    assert start.blocked is None
    assert start.recovery.locks == [lock] and start.recovery.temps == [temp]
    assert not temp.exists() and other.exists()
    resume.end_run(start.record)


def test_pid_one_is_probed_like_any_other_process():
    """PID 1 is a real process (this namespace's init), recorded with its own start time: live.
    Only PIDs below 1 are unreadable records."""
    record = {**resume.this_run(), "pid": 1, "start_ticks": resume._start_ticks(1)}
    assert resume.record_state(record)[0] == "live"


def test_a_stale_record_removed_meanwhile_does_not_stop_the_start(tmp_path, monkeypatch):
    """Two runs starting at once may both find the same dead run's record and both remove it:
    the second removal finds nothing and the run still starts."""
    runs = tmp_path / resume.RUNS_DIR
    runs.mkdir(parents=True)
    dead = runs / "gone.json"
    dead.write_text(json.dumps({**resume.this_run(), "pid": 99999999, "start_ticks": 1}))

    def stale_and_removed_by_the_other_run(record):
        dead.unlink(missing_ok=True)
        return "stale", "removed meanwhile"

    monkeypatch.setattr(resume, "record_state", stale_and_removed_by_the_other_run)
    start = resume.start_run(tmp_path)
    assert start.blocked is None and start.record.exists()
