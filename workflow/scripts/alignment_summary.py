"""Headline numbers of every alignment model: results/summary/alignment.tsv."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 (so conda envs need no install)
import pandas as pd  # noqa: E402

from concept_geometry import io  # noqa: E402
from concept_geometry.alignment import geometry  # noqa: E402
from concept_geometry.runner import run  # noqa: E402


def main(smk, log):
    rows = []
    for name, path in zip(smk.params.names, smk.input.summaries):
        rows += geometry.summary_rows(name, io.read_json(path))
    log.info("phase: %d rows for %d models", len(rows), len(smk.params.names))
    io.write_tsv(smk.output.table, pd.DataFrame(rows, columns=["stage", "quantity", "setting",
                                                               "model", "value"]))


run(main, snakemake)  # noqa: F821
