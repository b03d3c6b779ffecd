"""Shared fixtures: repository paths, tiny-config workflow runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

# Tests never touch a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def snakemake_cmd(workdir, configfiles, *args: str, cores: int = 2) -> list[str]:
    """The command line that runs the workflow in ``workdir`` (results/ and logs/ land there)
    with ``configfiles`` (one path, or several merged left to right)."""
    if isinstance(configfiles, (str, Path)):
        configfiles = [configfiles]
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configfiles),
        "--cores",
        str(cores),
        *args,
    ]


def run_snakemake(
    workdir: Path, configfile: Path, *args: str, timeout: int = 900, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the workflow with ``configfile`` in ``workdir`` (results/ and logs/ land there)."""
    cmd = snakemake_cmd(workdir, configfile, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def result_tables(workdir: Path) -> dict[str, bytes]:
    """Every table/array artifact under results/ (benchmarks hold timings, so not those)."""
    out = {}
    for path in sorted((workdir / "results").rglob("*")):
        rel = path.relative_to(workdir / "results")
        if (
            rel.parts[0] != "benchmarks"
            and path.is_file()
            and path.suffix in {".tsv", ".npy", ".npz"}
        ):
            out[str(rel)] = path.read_bytes()
    return out


@pytest.fixture
def snakemake_runner():
    return run_snakemake
