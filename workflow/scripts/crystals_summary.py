"""Crystals: headline numbers of every layer -> results/summary/crystals.tsv."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io, report
from concept_geometry.runner import run


def main(smk, log):
    import pandas as pd

    from concept_geometry.crystals.config import layer_label
    from concept_geometry.crystals.summary import summary_rows

    frames = []
    for i, layer in enumerate(smk.params.layers):
        tables = {k: io.read_tsv(smk.input[k][i]) for k in
                  ("clusters", "silhouette", "quality", "distractors", "pairs")}
        label = layer_label(layer if layer == "embed" else int(layer), smk.params.layer_convention)
        frames.append(summary_rows(smk.params.model, label, **tables))
        log.info("layer %s: %d rows", layer, len(frames[-1]))
    summary = pd.concat(frames, ignore_index=True)
    report.check_headline_numbers(summary, smk.output.summary)
    io.write_tsv(smk.output.summary, summary)


run(main, snakemake)  # noqa: F821
