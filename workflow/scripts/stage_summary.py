"""results/summary/<stage>.tsv of any stage, from the registry of headline quantities
(concept_geometry/registry.py; the stage is the output file's name)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from pathlib import Path

from concept_geometry import io, registry
from concept_geometry.runner import run


def main(smk, log):
    path = smk.output[0]
    stage = Path(path).stem
    log.info("phase: %s headline rows from %d input groups", stage, len(smk.input.keys()))
    summary = registry.build_stage_summary(
        stage, dict(smk.input.items()), dict(smk.params.items()), path
    )
    log.info("phase: %d rows", len(summary))
    io.write_tsv(path, summary)


run(main, snakemake)  # noqa: F821
