# Config validation and settings (before any job), run hooks, wildcard constraints, helpers.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from concept_geometry.config import ConfigError, validate_config
from concept_geometry.fingerprint import fingerprint, settings_hash
from concept_geometry.settings import build_settings, resolve_path

try:
    validate_config(
        config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
except ConfigError as err:
    # One clear paragraph, no traceback, before any job is scheduled.
    raise WorkflowError(str(err)) from None

SETTINGS = build_settings(config, workflow.basedir)  # every cross-section fallback


onstart:
    # Main process only, not in a dry run, before any job: a read-only results/ (or logs/)
    # stops the run with one paragraph instead of Snakemake's error on the first mkdir.
    from concept_geometry.errors import ConceptGeometryError
    from concept_geometry.io import check_writable

    try:
        check_writable(["results", "logs"])
    except ConceptGeometryError as err:
        logger.error(str(err))
        sys.exit(1)


onsuccess:
    # Main process, after a real run that finished: say where the results are and how to
    # build the report (concept_geometry.report.next_steps_message).
    from concept_geometry.report import next_steps_message

    logger.info(next_steps_message(SETTINGS.enabled("report")))


# A killed run leaves its lock, "incomplete" markers and temps behind. Parsing touches none of
# it: only the main process of a real run clears them, when a run record proves the run that
# left them dead (concept_geometry.resume).
from concept_geometry import resume

resume.install(workflow, logger)


wildcard_constraints:
    layer=r"[A-Za-z0-9_]+",
    model=r"[A-Za-z0-9_.\-]+",
    corpus=r"[A-Za-z0-9_.\-]+",
    seed=r"\d+",


def all_targets():
    """The default target's input: `<stage>_targets()` (each stage's <stage>_io.smk) of every
    enabled stage, in the stage order of concept_geometry.settings.STAGES."""
    return [t for stage in SETTINGS.stages for t in globals()[f"{stage}_targets"]()]


def scaled(value):
    """A rule's memory (MB) or runtime (min) for attempt 1 (a number, or a function of the
    wildcards), doubled and tripled when the job is retried (the SLURM profile retries).
    Resources live in the rules only; `gpu=1` marks the model rules."""
    if callable(value):
        return lambda wildcards, attempt: value(wildcards) * attempt
    return lambda wildcards, attempt: value * attempt


def repo_path(path):
    """A config path: absolute as given, else relative to the repository root."""
    return resolve_path(path, workflow.basedir)


def depth_subcategory(layers):
    """Report sub-folder of a per-layer figure, ordered by depth ("1. layer embed",
    "2. layer 1", ...): the report sorts sub-folders by name, so the depth rank leads.
    """

    def depth(layer):
        return -1 if str(layer) == "embed" else int(layer)

    order = sorted({str(layer) for layer in layers}, key=depth)
    width = len(str(len(order)))

    def name(wildcards):
        rank = order.index(str(wildcards.layer)) + 1
        return f"{rank:0{width}d}. layer {wildcards.layer}"

    return name


def figure_labels(figure, *keys):
    """Report labels of a figure: its name and the wildcards that tell its copies apart."""
    return lambda wc: {"figure": figure, **{key: str(wc[key]) for key in keys}}
