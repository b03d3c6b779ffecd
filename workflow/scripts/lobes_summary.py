"""Headline rows of the lobes stage for the report -> results/summary/lobes.tsv."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

import pandas as pd

from concept_geometry import io, report
from concept_geometry.lobes import pipeline
from concept_geometry.runner import run


def main(smk, log):
    frames = []
    for layer, tests, code in zip(smk.params.layers, smk.input.tests, smk.input.code_lobe):
        frames.append(pipeline.summary_rows(io.read_tsv(tests), io.read_json(code), layer,
                                            smk.params.model))
    summary = pd.concat(frames, ignore_index=True)
    log.info("phase: %d summary rows", len(summary))
    report.check_headline_numbers(summary, smk.output.summary)
    io.write_tsv(smk.output.summary, summary)


run(main, snakemake)  # noqa: F821
