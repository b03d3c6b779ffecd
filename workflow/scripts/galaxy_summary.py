import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry import io, report  # noqa: E402
from concept_geometry.galaxy import summary_rows  # noqa: E402
from concept_geometry.runner import run  # noqa: E402


def main(smk, log):
    log.info("phase: headline rows from %s", smk.input.galaxy)
    summary = summary_rows(io.read_tsv(smk.input.galaxy), smk.params.model)
    report.check_headline_numbers(summary, smk.output.summary)
    io.write_tsv(smk.output.summary, summary)


run(main, snakemake)  # noqa: F821
