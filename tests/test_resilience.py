"""Issue 9: a killed run resumes cleanly (determinism of every stage: tests/test_all_stages.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import result_tables as tables
from conftest import run_snakemake, snakemake_cmd

from concept_geometry import io
from concept_geometry.errors import CorruptArtifactError
from concept_geometry.runner import FAULT_PAUSE_ENV

pytestmark = pytest.mark.workflow

# The real default model (MiniLM) on a small corpus: SAE training and extraction are the
# heavy jobs killed below.
TINY = """
stages: [simulation, features]
simulation:
  m: 3
  d: 3
  steps: 200
  log_every: 50
  seeds: [0]
  experiments: [full]
features:
  corpus: {name: stdlib, source: stdlib, n_documents: 24, max_chars: 4000, min_chars: 200}
  layers: [1, 3]
  sae: {source: train, width: 192, steps: 60, batch_size: 128, n_train_tokens: 2000}
  max_length: 66
  chunk_size: 32
"""


def write_config(tmp: Path) -> Path:
    cfg = tmp / "tiny.yaml"
    cfg.write_text(TINY)
    return cfg


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("clean")
    run_snakemake(work, write_config(work))
    return work


def _wait_for_log(
    work: Path, proc: subprocess.Popen, pattern: str, needle: str, timeout: float = 300
) -> Path:
    """Wait until a log matching ``pattern`` contains ``needle``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for log in (work / "logs").glob(pattern) if (work / "logs").exists() else []:
            if needle in log.read_text(errors="replace"):
                return log
        if proc.poll() is not None:
            raise AssertionError(f"snakemake ended before {pattern} logged {needle!r}")
        time.sleep(0.05)
    raise AssertionError(f"no log {pattern} with {needle!r} within {timeout}s")


@pytest.mark.parametrize(
    "job, rule",
    [
        ("sae_materialise", "sae_materialise"),
        ("extract", "features_extract"),
        ("cooccurrence", "features_cooccurrence"),
    ],
)
@pytest.mark.parametrize("moment", ["computing", "before_commit"])
def test_sigkill_mid_job_then_plain_rerun_resumes(clean_run, tmp_path, job, rule, moment):
    """SIGKILL the whole run inside a heavy job (SAE training, model forward pass,
    co-occurrence accumulation): while it computes, and — the worst moment — when it has
    computed everything but not yet renamed its outputs into place (held there by the
    runner's fault-injection switch)."""
    cfg = write_config(tmp_path)
    cmd = snakemake_cmd(tmp_path, cfg)
    env = dict(os.environ)
    if moment == "before_commit":
        env[FAULT_PAUSE_ENV] = rule
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env
    )
    try:
        needle = "paused before commit" if moment == "before_commit" else "phase"
        killed_log = _wait_for_log(tmp_path, proc, f"features/{job}_*.log", needle)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_log.exists()

    # Nothing under results/ looks complete unless it is: every artifact passes its check.
    survivors = [
        p
        for p in (tmp_path / "results").rglob("*")
        if p.is_file()
        and not p.name.endswith(io.SIDECAR_SUFFIX)
        and "benchmarks" not in p.parts
        and p.parent.name != p.name
        and not any(part.startswith(".") for part in p.relative_to(tmp_path).parts)
    ]
    for path in survivors:
        if (path.parent / io.MANIFEST).exists() or path.name == io.MANIFEST:
            continue
        try:
            io.verify(path)
        except CorruptArtifactError as err:  # pragma: no cover - the failure we test against
            pytest.fail(f"half-written output after SIGKILL: {err}")
    before = {str(p): p.stat().st_mtime_ns for p in survivors}

    # A plain `snakemake` (no --rerun-incomplete, no --unlock) finishes the run...
    run_snakemake(tmp_path, cfg)
    # ...without redoing what was complete...
    for path, mtime in before.items():
        assert Path(path).stat().st_mtime_ns == mtime, f"{path} was recomputed"
    # ...and ends with the same tables as an uninterrupted run.
    resumed, clean = tables(tmp_path), tables(clean_run)
    assert resumed.keys() == clean.keys()
    assert [k for k in clean if clean[k] != resumed[k]] == []
