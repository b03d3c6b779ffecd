"""Concatenate the per-measure test tables of one layer -> tests.tsv (the contract table)."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import pandas as pd

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    tests = pd.concat([io.read_tsv(p) for p in smk.input.tests], ignore_index=True)
    log.info("phase: %d test rows from %d measures", len(tests), len(smk.input.tests))
    io.write_tsv(smk.output.tests, tests)


run(main, snakemake)  # noqa: F821
