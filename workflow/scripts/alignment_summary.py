"""Headline numbers of every alignment model: results/summary/alignment.tsv."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import pandas as pd

from concept_geometry import io
from concept_geometry.alignment import geometry
from concept_geometry.runner import run


def main(smk, log):
    rows = []
    for name, path in zip(smk.params.names, smk.input.summaries):
        rows += geometry.summary_rows(name, io.read_json(path))
    log.info("phase: %d rows for %d models", len(rows), len(smk.params.names))
    io.write_tsv(smk.output.table, pd.DataFrame(rows, columns=["stage", "quantity", "setting",
                                                               "model", "value"]))


run(main, snakemake)  # noqa: F821
