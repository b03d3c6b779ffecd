"""The mechanism table: results/simulation/mechanism.tsv (log-odds spread, GD vs Adam)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run
from concept_geometry.simulation.mechanism import mechanism_table


def main(smk, log):
    log.info("phase: mechanism table")
    io.write_tsv(smk.output.mechanism, mechanism_table(io.read_tsv(smk.input.summary)))


run(main, snakemake)  # noqa: F821
