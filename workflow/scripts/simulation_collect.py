"""Concatenate the per-job tables into the stage's output contract + headline summary."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
from concept_geometry.runner import run  # noqa: E402
from concept_geometry import io  # noqa: E402


def main(smk, log):
    import pandas as pd

    log.info("phase: concatenate %d jobs", len(smk.input.concepts))
    outputs = {"concepts": smk.output.summary, "orthogonality": smk.output.orthogonality,
               "curves": smk.output.curves}
    for name, out in outputs.items():
        frame = pd.concat([io.read_tsv(p) for p in smk.input[name]], ignore_index=True)
        io.write_tsv(out, frame)


run(main, snakemake)  # noqa: F821
