"""Concatenate the per-measure test tables of one layer -> tests.tsv (the contract table)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402
import pandas as pd  # noqa: E402


def main(smk, log):
    tests = pd.concat([io.read_tsv(p) for p in smk.input.tests], ignore_index=True)
    log.info("phase: %d test rows from %d measures", len(tests), len(smk.input.tests))
    io.write_tsv(smk.output.tests, tests)


run(main, snakemake)  # noqa: F821
