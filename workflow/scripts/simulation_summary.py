"""Headline rows of the simulation study: results/summary/simulation.tsv."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io, report
from concept_geometry.runner import run
from concept_geometry.simulation.summary import headline_rows


def main(smk, log):
    log.info("phase: headline rows")
    rows = headline_rows(io.read_tsv(smk.input.summary), io.read_tsv(smk.input.orthogonality),
                         io.read_tsv(smk.input.mechanism))
    report.check_headline_numbers(rows, smk.output.headline)
    io.write_tsv(smk.output.headline, rows)


run(main, snakemake)  # noqa: F821
