"""Headline rows of the lobes stage for the report -> results/summary/lobes.tsv."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io, report  # noqa: E402
import pandas as pd  # noqa: E402

from concept_geometry.lobes import pipeline  # noqa: E402


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
