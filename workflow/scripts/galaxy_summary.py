
import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io, report
from concept_geometry.galaxy import summary_rows
from concept_geometry.runner import run


def main(smk, log):
    log.info("phase: headline rows from %s", smk.input.galaxy)
    summary = summary_rows(io.read_tsv(smk.input.galaxy), smk.params.model)
    report.check_headline_numbers(summary, smk.output.summary)
    io.write_tsv(smk.output.summary, summary)


run(main, snakemake)  # noqa: F821
