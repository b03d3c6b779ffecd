"""Headline rows of the simulation study: results/summary/simulation.tsv."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io, report  # noqa: E402
from concept_geometry.simulation.summary import headline_rows  # noqa: E402


def main(smk, log):
    log.info("phase: headline rows")
    rows = headline_rows(io.read_tsv(smk.input.summary), io.read_tsv(smk.input.orthogonality),
                         io.read_tsv(smk.input.mechanism))
    report.check_headline_numbers(rows, smk.output.headline)
    io.write_tsv(smk.output.headline, rows)


run(main, snakemake)  # noqa: F821
