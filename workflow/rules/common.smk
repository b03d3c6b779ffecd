# Shared helpers: config validation (before any job), stage switches, target lists.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from concept_geometry.config import ConfigError, validate_config

try:
    validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
except ConfigError as err:
    # One clear paragraph, no traceback, before any job is scheduled.
    raise WorkflowError(str(err)) from None

# A killed run leaves its lock behind; outputs are only ever renamed into place at the end
# of a job (concept_geometry.io), so resuming is safe: drop locks no live process holds.
from concept_geometry.resume import clear_stale_locks

if clear_stale_locks(Path.cwd()):
    logger.warning("Removed a stale lock left by a killed Snakemake run in this directory.")


wildcard_constraints:
    layer=r"[A-Za-z0-9_]+",
    model=r"[A-Za-z0-9_.\-]+",
    corpus=r"[A-Za-z0-9_.\-]+",
    seed=r"\d+",


def stage_enabled(stage):
    """True when `stage` is listed in config['stages']."""
    return stage in config["stages"]


def all_targets():
    """Every final output of the enabled stages (rule all's input)."""
    targets = []
    for stage, fn in [
        ("simulation", simulation_targets),
        ("alignment", alignment_targets),
        ("features", features_targets),
        ("crystals", crystals_targets),
        ("lobes", lobes_targets),
        ("galaxy", galaxy_targets),
        ("report", report_targets),
    ]:
        if stage_enabled(stage):
            targets.extend(fn())
    return targets


def repo_path(path):
    """A config path: absolute as given, else relative to the repository root."""
    p = Path(str(path))
    return str(p if p.is_absolute() else Path(workflow.basedir) / p)


def log_path(stage, name):
    """logs/<stage>/<name>.log"""
    return f"logs/{stage}/{name}.log"


def bench_path(stage, name):
    """results/benchmarks/<stage>/<name>.tsv (Snakemake's benchmark: files)."""
    return f"results/benchmarks/{stage}/{name}.tsv"
