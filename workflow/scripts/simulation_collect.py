"""Concatenate the per-job tables into the stage's output contract + headline summary."""

import _workflow_path  # first: puts workflow/ (the package) on sys.path

from concept_geometry import io
from concept_geometry.runner import run


def main(smk, log):
    import pandas as pd

    log.info("phase: concatenate %d jobs", len(smk.input.concepts))
    outputs = {"concepts": smk.output.summary, "orthogonality": smk.output.orthogonality,
               "curves": smk.output.curves}
    for name, out in outputs.items():
        frame = pd.concat([io.read_tsv(p) for p in smk.input[name]], ignore_index=True)
        io.write_tsv(out, frame)


run(main, snakemake)  # noqa: F821
