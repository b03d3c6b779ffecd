"""Concatenate the per-measure test tables of one layer -> tests.tsv."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    tests = io.concat_tsv(smk.input.tests)
    log.info("phase: %d test rows from %d measures", len(tests), len(smk.input.tests))
    io.write_tsv(smk.output.tests, tests)


run(main, snakemake)  # noqa: F821
