"""results/summary/<stage>.tsv of any stage, from the registry of headline quantities
(concept_geometry/registry.py; the stage is the output file's name)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io, registry  # noqa: E402


def main(smk, log):
    path = smk.output[0]
    stage = Path(path).stem
    log.info("phase: %s headline rows from %d input groups", stage, len(smk.input.keys()))
    summary = registry.build_stage_summary(stage, dict(smk.input.items()),
                                           dict(smk.params.items()), path)
    log.info("phase: %d rows", len(summary))
    io.write_tsv(path, summary)


run(main, snakemake)  # noqa: F821
